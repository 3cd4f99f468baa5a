// SPDX-License-Identifier: MIT
// The GPU test binaries' gate (main.cpp): exit code 77, "skipped" for CTest, without a CUDA device.
#include <cuda_runtime.h>

#include <cstdio>

namespace s6test {
int gate() {
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    std::printf("no CUDA device (%s): GPU tests skipped\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  return 0;
}
}  // namespace s6test
