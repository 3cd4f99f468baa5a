// expect: OutT must be InT or float
#include <s6scan/args.hpp>
int main() { s6scan::forward_args<__half, __nv_bfloat16> a; (void)a; }
