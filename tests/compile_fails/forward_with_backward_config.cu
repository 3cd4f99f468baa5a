// expect: Config must be a forward_config (a backward_config goes to s6scan::backward)
#include <s6scan/forward.cuh>
int main() {
  auto a = s6scan::forward_args<float>::contiguous(1, 32, 16, 16);
  return s6scan::forward<s6scan::backward_config<16, 32>>(a).ok();
}
