// SPDX-License-Identifier: MIT
#pragma once

// What the launcher asks of the CUDA runtime: the current device's limits (queried once per device
// and cached), the shared-memory opt-in (once per kernel and device) and the blocks of a kernel
// that fit on a multiprocessor (remembered per kernel and device for the last size asked).

#include <cuda_runtime.h>

#include <atomic>

#include "../device_limits.hpp"
#include "../status.hpp"

namespace s6scan::detail {

inline constexpr int kMaxCachedDevices = 64;

/// @brief A failed CUDA call as a status; clears the (non-sticky) error so the caller's next call
///        does not see it.
[[nodiscard]] inline status cuda_status(cudaError_t e, const char* what) noexcept {
  if (e == cudaSuccess) return {};
  (void)cudaGetLastError();
  return status::make(status_code::cuda_error, "%s failed: %s (%s)", what, cudaGetErrorName(e),
                      cudaGetErrorString(e));
}

/// @brief A failed query of the device as a status: "no usable CUDA device: " and CUDA's reason
///        (no device, no driver that can run it, a device in use elsewhere, ...).
[[nodiscard]] inline status device_query_status(cudaError_t e, const char* what) noexcept {
  if (e == cudaSuccess) return {};
  (void)cudaGetLastError();
  return status::make(status_code::cuda_error, "no usable CUDA device: %s failed: %s (%s)", what,
                      cudaGetErrorName(e), cudaGetErrorString(e));
}

[[nodiscard]] inline status read_device_limits(int device, device_limits* out) noexcept {
  int smem = 0, grid = 0, sms = 0, per_sm = 0, reserved = 0;
  const struct {
    int* value;
    cudaDeviceAttr attr;
    const char* name;
  } queries[] = {
      {&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin,
       "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)"},
      {&grid, cudaDevAttrMaxGridDimX, "cudaDeviceGetAttribute(MaxGridDimX)"},
      {&sms, cudaDevAttrMultiProcessorCount, "cudaDeviceGetAttribute(MultiProcessorCount)"},
      {&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor,
       "cudaDeviceGetAttribute(MaxSharedMemoryPerMultiprocessor)"},
      {&reserved, cudaDevAttrReservedSharedMemoryPerBlock,
       "cudaDeviceGetAttribute(ReservedSharedMemoryPerBlock)"},
  };
  for (const auto& q : queries) {
    const status s = device_query_status(cudaDeviceGetAttribute(q.value, q.attr, device), q.name);
    if (!s) return s;
  }
  out->max_shared_memory_per_multiprocessor = per_sm;
  out->reserved_shared_memory_per_block = reserved;
  out->max_shared_memory_per_block_optin = smem;
  out->max_grid_x = grid;
  out->multiprocessor_count = sms;
  return {};
}

/// @brief The limits of the current device, read once per device and then served from a cache.
/// @param device receives the current device's index
[[nodiscard]] inline status current_device_limits(device_limits* out, int* device) noexcept {
  static device_limits cache[kMaxCachedDevices];
  static std::atomic<int> state[kMaxCachedDevices];  // 0 empty, 1 being filled, 2 ready
  status s = device_query_status(cudaGetDevice(device), "cudaGetDevice");
  if (!s) return s;
  const int dev = *device;
  if (dev < 0 || dev >= kMaxCachedDevices) return read_device_limits(dev, out);
  if (state[dev].load(std::memory_order_acquire) == 2) {
    *out = cache[dev];
    return s;
  }
  s = read_device_limits(dev, out);
  int expected = 0;
  if (s && state[dev].compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    cache[dev] = *out;
    state[dev].store(2, std::memory_order_release);
  }
  return s;
}

/// @brief Raises `kernel`'s dynamic shared-memory limit to the device's opt-in maximum, once per
///        device for each distinct `Tag` (one tag per kernel instantiation).
template <class Tag, class Kernel>
[[nodiscard]] status opt_in_shared_memory(Kernel kernel, int device,
                                          const device_limits& limits) noexcept {
  static std::atomic<bool> done[kMaxCachedDevices];
  const bool cached = device >= 0 && device < kMaxCachedDevices;
  if (cached && done[device].load(std::memory_order_acquire)) return {};
  status s = cuda_status(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           int(limits.max_shared_memory_per_block_optin)),
      "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  if (s && cached) done[device].store(true, std::memory_order_release);
  return s;
}

/// @brief How many blocks of `threads` threads and `smem` bytes of dynamic shared memory of
///        `kernel` fit on one multiprocessor (cudaOccupancyMaxActiveBlocksPerMultiprocessor),
///        remembered per device for each distinct `Tag` and the last `smem` asked about: calls of
///        one shape then ask the runtime once.
template <class Tag, class Kernel>
[[nodiscard]] status blocks_that_fit(Kernel kernel, int threads, int64_t smem, int device,
                                     int* fit) noexcept {
  // smem * 256 + blocks, 0 when empty: one word, so a reader never sees half of an update.
  static std::atomic<int64_t> memo[kMaxCachedDevices];
  const bool cached = device >= 0 && device < kMaxCachedDevices && smem >= 0;
  if (cached) {
    const int64_t m = memo[device].load(std::memory_order_relaxed);
    if (m != 0 && m / 256 == smem) {
      *fit = int(m % 256);
      return {};
    }
  }
  status s = cuda_status(cudaOccupancyMaxActiveBlocksPerMultiprocessor(fit, kernel, threads,
                                                                        size_t(smem)),
                         "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  if (s && cached && *fit > 0 && *fit < 256)
    memo[device].store(smem * 256 + *fit, std::memory_order_relaxed);
  return s;
}

}  // namespace s6scan::detail

namespace s6scan {

/// @brief Reads the limits of the current CUDA device (cached after the first call per device),
///        for check_forward / check_backward without a launch.
/// @return success, or "no usable CUDA device: ..." with CUDA's reason
[[nodiscard]] inline status query_device_limits(device_limits* out) noexcept {
  int device = 0;
  return detail::current_device_limits(out, &device);
}

}  // namespace s6scan
