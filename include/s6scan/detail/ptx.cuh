// SPDX-License-Identifier: MIT
#pragma once

// The few instructions the kernels spell out (asynchronous copies, the base-2 exponential) and the
// branch-free softplus, silu and sigmoid built on it.

#include <cstdint>

// The kernels stage their tiles with cp.async, which sm_80 introduced; an older target is refused
// here rather than given a slower path no one tests.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "s6scan's kernels need sm_80 or newer: build for CUDA architectures 80 and above (CMake: set CMAKE_CUDA_ARCHITECTURES or s6scan_add_default_instances(... ARCHITECTURES 80 90); nvcc: -arch=sm_80 or newer). Without a setting nvcc builds for its oldest supported architecture."
#endif

namespace s6scan::detail {

inline constexpr float kLog2e = 1.4426950408889634f;

/// @brief 2^x through the special-function unit, one instruction; subnormal results flush to 0
///        (a decay factor that small contributes nothing in float).
__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// @brief softplus(x) = log(1 + e^x) without branches: max(x, 0) + log1p(t) with t = e^-|x| in
///        [0, 1], and log1p(t) = t * P(t) for a degree-8 polynomial P fitted to log1p(t) / t on
///        [0, 1] (weighted least squares; in float arithmetic the largest relative error over 2e6
///        points is 2.1e-7 against a double log1p). One MUFU op and nine FMAs. Above x = 20 the
///        correction is below half an ulp of x, so the result is x, as torch's threshold gives.
__device__ __forceinline__ float softplus(float x) {
  const float t = ex2(-fabsf(x) * kLog2e);
  float p = 0.005383989308029413f;
  p = fmaf(p, t, -0.03011067770421505f);
  p = fmaf(p, t, 0.07921028137207031f);
  p = fmaf(p, t, -0.13746583461761475f);
  p = fmaf(p, t, 0.19145098328590393f);
  p = fmaf(p, t, -0.24852941930294037f);
  p = fmaf(p, t, 0.33320343494415283f);
  p = fmaf(p, t, -0.49999552965164185f);
  p = fmaf(p, t, 1.f);
  return fmaxf(x, 0.f) + t * p;
}

/// @brief x * sigmoid(x) without branches; 0 (not NaN) where e^-x overflows.
__device__ __forceinline__ float silu(float x) { return __fdividef(x, 1.f + ex2(-x * kLog2e)); }

/// @brief 1 / (1 + e^-x) without branches; 0 where e^-x overflows.
__device__ __forceinline__ float sigmoid(float x) {
  return __fdividef(1.f, 1.f + ex2(-x * kLog2e));
}

/// @brief Copies `src_bytes` (0 to Bytes) from global to shared memory and zero-fills the rest of
///        the Bytes (16, 8 or 4; both addresses aligned to it), asynchronously.
template <int Bytes>
__device__ __forceinline__ void copy_zfill(void* smem_dst, const void* gmem_src, int src_bytes) {
  static_assert(Bytes == 16 || Bytes == 8 || Bytes == 4, "cp.async moves 16, 8 or 4 bytes");
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem_dst));
  if constexpr (Bytes == 16)  // .cg (L2 only) exists for 16-byte copies alone
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem_src),
                 "r"(src_bytes));
  else if constexpr (Bytes == 8)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(dst), "l"(gmem_src),
                 "r"(src_bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(gmem_src),
                 "r"(src_bytes));
}

__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;\n" ::); }

/// @brief Waits until at most `Pending` committed copy groups are still in flight.
template <int Pending>
__device__ __forceinline__ void copy_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
}

}  // namespace s6scan::detail
