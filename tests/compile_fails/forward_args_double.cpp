// expect: InT must be float, __half or __nv_bfloat16
#include <s6scan/args.hpp>
int main() { s6scan::forward_args<double> a; (void)a; }
