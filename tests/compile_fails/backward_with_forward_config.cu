// expect: Config must be a backward_config (a forward_config goes to s6scan::forward)
#include <s6scan/backward.cuh>
int main() {
  auto g = s6scan::backward_args<float>::of(s6scan::forward_args<float>::contiguous(1, 32, 16, 16));
  return s6scan::backward<s6scan::forward_config<16, 32>>(g, {}).ok();
}
