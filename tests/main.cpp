// SPDX-License-Identifier: MIT
// The tests' main. Built with S6SCAN_TEST_NEEDS_GPU, it returns 77 (CTest's "skipped") when no CUDA
// device is present, so CPU-only CI reports GPU tests as skipped rather than passed.
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"

#include <cstdio>

#ifdef S6SCAN_TEST_NEEDS_GPU
#include <cuda_runtime.h>
#endif

int main(int argc, char** argv) {
#ifdef S6SCAN_TEST_NEEDS_GPU
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    std::printf("no CUDA device (%s): GPU tests skipped\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
#endif
  return Catch::Session().run(argc, argv);
}
