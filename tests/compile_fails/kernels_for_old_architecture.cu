// expect: s6scan's kernels need sm_80 or newer
// (compiled for sm_75: the CMake list gives files named *_old_architecture that target)
#include <s6scan/forward.cuh>
int main() {
  auto a = s6scan::forward_args<float>::contiguous(1, 32, 16, 16);
  return s6scan::forward<s6scan::forward_config<16, 32>>(a).ok();
}
