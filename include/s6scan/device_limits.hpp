// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief What the checks and the tuning need to know of a device, presets of common GPUs, and the
///        arithmetic of blocks that fit a multiprocessor. Plain C++: usable without a GPU.

#include <cstdint>

namespace s6scan {

/// @brief The limits of one device. `s6scan::query_device_limits` reads the current one;
///        the presets describe common GPUs for checks on a machine without them.
struct device_limits {
  int64_t max_shared_memory_per_block_optin = 48 * 1024;  ///< cudaDevAttrMaxSharedMemoryPerBlockOptin
  int64_t max_grid_x = 2147483647;                         ///< cudaDevAttrMaxGridDimX
  int multiprocessor_count = 1;
  /// cudaDevAttrMaxSharedMemoryPerMultiprocessor (0: unknown) and
  /// cudaDevAttrReservedSharedMemoryPerBlock; they decide how many blocks share a multiprocessor,
  /// which the default set's choice of rows and the forward's blocks per SM follow.
  int64_t max_shared_memory_per_multiprocessor = 0;
  int64_t reserved_shared_memory_per_block = 0;

  /// @brief A device whose blocks may use at most `bytes` of shared memory.
  [[nodiscard]] static constexpr device_limits with_shared_memory(int64_t bytes) noexcept {
    device_limits d;
    d.max_shared_memory_per_block_optin = bytes;
    return d;
  }
  /// @brief A device of `sms` multiprocessors holding `per_sm` bytes of shared memory each, of
  ///        which one block may take `per_block` (1 KiB reserved per block from sm_80 on).
  [[nodiscard]] static constexpr device_limits with(int sms, int64_t per_block,
                                                    int64_t per_sm) noexcept {
    device_limits d = with_shared_memory(per_block);
    d.multiprocessor_count = sms;
    d.max_shared_memory_per_multiprocessor = per_sm;
    d.reserved_shared_memory_per_block = 1024;
    return d;
  }
  // Presets: an SM holds 164 KiB of shared memory on sm_80, 100 KiB on sm_86, sm_89 and sm_120,
  // 228 KiB on sm_90 and sm_100; a block may take all but the 1 KiB reserved for it.
  /// @brief A100 (sm_80): 108 SMs, 163 KiB a block, 164 KiB an SM.
  [[nodiscard]] static constexpr device_limits a100() noexcept {
    return with(108, 166912, 167936);
  }
  /// @brief RTX 3090 (sm_86): 82 SMs, 99 KiB a block, 100 KiB an SM. The A6000 has 84.
  [[nodiscard]] static constexpr device_limits rtx3090() noexcept {
    return with(82, 101376, 102400);
  }
  /// @brief L40S (sm_89): 142 SMs, 99 KiB a block, 100 KiB an SM.
  [[nodiscard]] static constexpr device_limits l40s() noexcept { return with(142, 101376, 102400); }
  /// @brief RTX 4090 (sm_89): 128 SMs, 99 KiB a block, 100 KiB an SM.
  [[nodiscard]] static constexpr device_limits rtx4090() noexcept {
    return with(128, 101376, 102400);
  }
  /// @brief H100 SXM (sm_90): 132 SMs, 227 KiB a block, 228 KiB an SM. The H200 is the same.
  [[nodiscard]] static constexpr device_limits h100() noexcept {
    return with(132, 232448, 233472);
  }
  /// @brief B200 (sm_100): 148 SMs, 227 KiB a block, 228 KiB an SM.
  [[nodiscard]] static constexpr device_limits b200() noexcept {
    return with(148, 232448, 233472);
  }
  /// @brief RTX 5090 (sm_120): 170 SMs, 99 KiB a block, 100 KiB an SM.
  [[nodiscard]] static constexpr device_limits rtx5090() noexcept {
    return with(170, 101376, 102400);
  }
};

/// @brief Whether `blocks` blocks of `block_bytes` of dynamic shared memory fit on one
///        multiprocessor of `d` (true where `d` does not say how much one holds).
///
/// The default set takes a dstate-16 row whose threads read their own channels' rows only where
/// two of its blocks fit: with one block per multiprocessor every barrier and load stalls it.
[[nodiscard]] constexpr bool blocks_fit(int blocks, int64_t block_bytes,
                                        const device_limits& d) noexcept {
  if (d.max_shared_memory_per_multiprocessor <= 0) return true;
  return blocks * (block_bytes + d.reserved_shared_memory_per_block) <=
         d.max_shared_memory_per_multiprocessor;
}
[[nodiscard]] constexpr bool two_blocks_fit(int64_t block_bytes, const device_limits& d) noexcept {
  return blocks_fit(2, block_bytes, d);
}

/// @brief Dynamic shared memory for a block of `block_bytes` that holds a launch to `k` blocks per
///        multiprocessor of `d`: enough that a (k+1)-th does not fit. `block_bytes` itself where
///        that is already so, where `d` does not say how much a multiprocessor holds, or where the
///        padded size is over the opt-in limit (the launch then runs as many blocks as fit).
///
/// The forward launcher pads its two-lane launches to forward_blocks_per_sm's count this way
/// (the kernel does not touch the padding).
[[nodiscard]] constexpr int64_t shared_memory_holding(int k, int64_t block_bytes,
                                                      const device_limits& d) noexcept {
  if (k <= 0 || d.max_shared_memory_per_multiprocessor <= 0) return block_bytes;
  const int64_t held =
      d.max_shared_memory_per_multiprocessor / (k + 1) - d.reserved_shared_memory_per_block + 128;
  return held > block_bytes && held <= d.max_shared_memory_per_block_optin ? held : block_bytes;
}

}  // namespace s6scan
