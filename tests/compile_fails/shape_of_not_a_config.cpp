// expect: Config must be a forward_config or a backward_config
#include <s6scan/config.hpp>
int main() { return s6scan::shape_of<int>().rows; }
