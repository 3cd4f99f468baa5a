// expect: set_contiguous_strides() was removed because it overwrote fwd's strides
#include <s6scan/args.hpp>
int main() {
  s6scan::backward_args<float> g;
  g.set_contiguous_strides();
}
