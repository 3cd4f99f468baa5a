// expect: forward_time_config's carried states (NRows x MaxDState floats of shared memory) must fit 48 KB
#include <s6scan/config.hpp>
int main() { return s6scan::forward_time_config<1024, 16>::kRows; }
