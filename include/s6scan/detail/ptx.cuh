// SPDX-License-Identifier: MIT
#pragma once

// The few instructions the kernels spell out: asynchronous copies and the base-2 exponential.

#include <cstdint>

namespace s6scan::detail {

/// @brief 2^x through the special-function unit, one instruction; subnormal results flush to 0
///        (a decay factor that small contributes nothing in float).
__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// @brief Copies `src_bytes` (0 to 16) from global to shared memory and zero-fills the rest of the
///        16 bytes; asynchronous on sm_80 and later, a plain copy before.
__device__ __forceinline__ void copy16_zfill(void* smem_dst, const void* gmem_src, int src_bytes) {
#if __CUDA_ARCH__ >= 800
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem_src),
               "r"(src_bytes));
#else
  uint4 v = make_uint4(0, 0, 0, 0);
  if (src_bytes == 16) {
    v = *static_cast<const uint4*>(gmem_src);
  } else {
    auto* b = reinterpret_cast<unsigned char*>(&v);
    for (int i = 0; i < src_bytes; ++i) b[i] = static_cast<const unsigned char*>(gmem_src)[i];
  }
  *static_cast<uint4*>(smem_dst) = v;
#endif
}

__device__ __forceinline__ void copy_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

/// @brief Waits until at most `Pending` committed copy groups are still in flight.
template <int Pending>
__device__ __forceinline__ void copy_wait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
#endif
}

}  // namespace s6scan::detail
