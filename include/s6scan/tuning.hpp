// SPDX-License-Identifier: MIT
#pragma once

// The forward's tuning table: which configuration of the default set runs a call, from dstate,
// seqlen, the channels per group, batch x groups and the device's multiprocessor count. Host-only
// and constexpr, so a test (or a caller) can ask which row a shape takes without a GPU.
//
// Every row names the measurement that chose it: `s6scan_bench --nrows-study 1` on the H200,
// bfloat16 forward, milliseconds (bench/NOTES.md, "NRows", and bench/results/h200_nrows.txt).

#include <cstdint>

#include "config.hpp"

namespace s6scan {

/// @brief The rows of the forward's tuning table, one per configuration of the default set
///        (the configurations themselves are in dispatch.cuh).
enum class forward_row {
  dstate1,             ///< forward_config<1, 64, 32, 1>
  dstate16,            ///< forward_config<16, 32, 32, 4>: 32 channels of 4 lanes
  dstate16_rows128,    ///< forward_config<16, 128, 32, 16>: 128 channels, one lane each
  dstate16_rows192,    ///< forward_config<16, 192, 32, 16>
  dstate16_rows256,    ///< forward_config<16, 256, 32, 16>
  dstate64,            ///< forward_config<64, 64, 32, 16>: 64 channels of 4 lanes
  dstate128,           ///< forward_config<128, 32, 16, 16>: 32 channels of 8 lanes
  dstate256,           ///< forward_config<256, 16, 16, 16>: 16 channels of 16 lanes
  unsupported,         ///< dstate above 256 (or not positive)
};

namespace detail {

/// @brief a * b * c >= n for positive a, b, c without overflow, for n below 2^21.
[[nodiscard]] constexpr bool product_at_least(int64_t a, int64_t b, int64_t c, int64_t n) noexcept {
  if (a <= 0 || b <= 0 || c <= 0) return false;
  if (a >= n || b >= n || c >= n || a * b >= n) return true;
  return a * b * c >= n;  // each factor and a * b are below n here
}

}  // namespace detail

/// @brief Threads per multiprocessor a time-split forward aims for (see forward_time_segments).
///
/// `s6scan_bench --split-study 1`, long32k (16 blocks of 128 rows unsplit), bfloat16 forward ms
/// by segments: 1: 8.74, 8: 1.88, 16: 1.22, 32: 1.23, 64: 1.13 (1024 threads per SM), 128: 1.18.
inline constexpr int kSplitThreadsPerSM = 1024;

namespace detail {

/// @brief Segments of whole chunks (at least `min_chunks` each) for about `threads_per_sm`
///        threads per SM, from `blocks` blocks of `threads` threads over `chunks` chunks; at most
///        `most`. 1 when the blocks fill half the SMs or the sequence has fewer than 4 chunks.
[[nodiscard]] constexpr int split_segments(int64_t blocks, int threads, int64_t chunks,
                                           int multiprocessors, int threads_per_sm,
                                           int64_t min_chunks, int64_t most) noexcept {
  if (blocks <= 0 || threads <= 0 || chunks < 4 || 2 * blocks > multiprocessors) return 1;
  const int64_t target = (int64_t(threads_per_sm) * multiprocessors + threads - 1) / threads;
  int64_t k = (target + blocks - 1) / blocks;
  if (k > chunks / min_chunks) k = chunks / min_chunks;
  if (k > most) k = most;
  if (k < 2) return 1;
  const int64_t per = (chunks + k - 1) / k;
  return int((chunks + per - 1) / per);
}

}  // namespace detail

/// @brief Time segments for a forward of `blocks` blocks of `threads` threads (its channels'
///        blocks) on a device with `multiprocessors` SMs: 1 (no split) when the blocks fill half
///        the SMs or more, or the sequence has fewer than 4 checkpoint chunks; else enough
///        segments of whole chunks (at least 2 each) for about kSplitThreadsPerSM threads per SM.
///        The last segment may be shorter.
///
/// Splitting costs a carry pass over all segments but the last (no C, no outputs) and a combine
/// of (batch, channel, state) x segments: about 1.7-2x the work of one pass, in exchange for
/// `segments` times the blocks. Needs the forward's workspace (it keeps the segments' results in
/// the checkpoint slots).
[[nodiscard]] constexpr int forward_time_segments(int64_t blocks, int threads, int64_t seqlen,
                                                  int multiprocessors) noexcept {
  if (seqlen <= 0) return 1;
  const int64_t chunks = (seqlen + kCheckpointSteps - 1) / kCheckpointSteps;
  return detail::split_segments(blocks, threads, chunks, multiprocessors, kSplitThreadsPerSM, 2,
                                chunks);
}

/// @brief The most time segments a backward splits into; its workspace holds per-segment sums
///        (backward_workspace_layout) for this many when the call may split.
inline constexpr int kBackwardMaxSegments = 32;

/// @brief Backward calls of more blocks than this never split in time, on any device (it is half
///        of a 256-SM device), so their workspace holds no per-segment parts.
inline constexpr int64_t kBackwardSplitMaxBlocks = 128;

/// @brief Threads per multiprocessor a time-split backward aims for (see backward_time_segments).
///
/// `s6scan_bench --split-study 1`, long32k (64 blocks of backward_config<16, 32, 16, 4>, two
/// launches of 256 chunks), bfloat16 backward ms by segments per launch: 1: 21.58, 2: 12.98, 4:
/// 7.04, 8: 6.97, 16: 5.64 (1024 threads per SM), 24: 5.49, 32: 5.65.
inline constexpr int kBackwardSplitThreadsPerSM = 1024;

/// @brief Time segments for one launch of the backward over `chunks` chunks, from `blocks` blocks
///        of `threads` threads on a device with `multiprocessors` SMs: 1 when the blocks fill
///        half the SMs or more, or the window has fewer than 4 chunks; else segments of at least 2
///        chunks for about kBackwardSplitThreadsPerSM threads per SM, at most
///        kBackwardMaxSegments.
///
/// A split backward runs a carry pass over every segment but the first (the adjoint from zero at
/// the segment's end, with C, dout and the steps only) and a combine, then the full backward of
/// every segment from its true end adjoint.
[[nodiscard]] constexpr int backward_time_segments(int64_t blocks, int threads, int64_t chunks,
                                                   int multiprocessors) noexcept {
  if (blocks > kBackwardSplitMaxBlocks) return 1;
  return detail::split_segments(blocks, threads, chunks, multiprocessors,
                                kBackwardSplitThreadsPerSM, 2, kBackwardMaxSegments);
}

/// @brief The row of the forward's tuning table for a call of these sizes on a device with
///        `multiprocessors` SMs.
///
/// At dstate <= 16 a one-lane-per-channel block of R rows (each thread owns a channel and does its
/// softplus, scan and gate itself) beats 32 rows of 4 lanes when
///   - R divides the channels per group (a partly empty last block per group costs its whole
///     time: VMamba stage 1, 192 channels per group, takes 2.45 ms at R = 128 and 1.43 at 192);
///   - the blocks cover at least 7/8 of the SMs (long32k, 2048 channels: 10.1 ms at R = 128,
///     16 blocks, against 5.42 ms for 64 blocks of 32 x 4); and
///   - the sequence is long enough to amortise a block's setup and its partial tiles (VMamba
///     stage 3, seqlen 196: 0.752 ms at R = 128 against 0.676 for 32 x 4).
///
/// `can_split`: the call may split time (forward_time_segments; it has a workspace). Where no
/// one-lane row has blocks enough without it, 128 rows split do.
[[nodiscard]] constexpr forward_row forward_tuning_row(int64_t batch, int64_t dim, int64_t groups,
                                                       int64_t seqlen, int64_t dstate,
                                                       int multiprocessors,
                                                       bool can_split = false) noexcept {
  if (dstate < 1 || dstate > 256) return forward_row::unsupported;
  // 64 rows: VMamba stage 1 N1 0.504 ms (128 rows: 0.859, 32: 0.509); stage 3 0.456 (128:
  // 0.466); stage 4 0.214 (32: 0.234, 128: 0.233).
  if (dstate <= 1) return forward_row::dstate1;
  if (dstate <= 16) {
    const int64_t per_group = groups > 0 ? dim / groups : 0;
    const int64_t enough_blocks = (7 * int64_t(multiprocessors) + 7) / 8;
    const auto one_lane = [&](int64_t rows, int64_t min_seqlen) {
      return seqlen >= min_seqlen && per_group % rows == 0 &&
             detail::product_at_least(batch, groups, per_group / rows, enough_blocks);
    };
    // lm (4096 channels per group, seqlen 2048): 0.707 ms at 256 rows, 0.790 at 128, 0.933 at
    // 32 x 4.
    if (one_lane(256, 1024)) return forward_row::dstate16_rows256;
    // VMamba stage 1 (192 per group, seqlen 3136): 1.434 ms at 192 rows, 1.831 at 32 x 4.
    if (one_lane(192, 1024)) return forward_row::dstate16_rows192;
    // VMamba stage 2 (384 per group, seqlen 784): 0.776 ms at 128 rows, 0.911 at 32 x 4.
    if (one_lane(128, 512)) return forward_row::dstate16_rows128;
    // Too few blocks for any: split in time, 128 rows. long32k (16 blocks of 128 rows) 1.130 ms
    // in 64 segments; 256 rows 1.209 at best (16 segments); 32 x 4 1.406 (64), unsplit 4.96.
    if (can_split && seqlen >= 512 && per_group % 128 == 0 && batch > 0 && groups > 0) {
      const int64_t blocks = batch * groups * (per_group / 128);  // below 7/8 of the SMs here
      if (blocks * forward_time_segments(blocks, 128, seqlen, multiprocessors) >= enough_blocks)
        return forward_row::dstate16_rows128;
    }
    // Otherwise 32 x 4: VMamba stage 3 (seqlen 196) 0.676 ms (128 rows: 0.752); stage 4 0.410
    // (128 rows: 0.409); long32k 5.42 ms (32 x 1: 9.16; 16 x 4: 5.78).
    return forward_row::dstate16;
  }
  // N64: 0.951 ms at 64 x 4, 1.043 at 32 x 4, 1.118 at 16 x 4.
  if (dstate <= 64) return forward_row::dstate64;
  // N128: 2.596 ms at 32 x 8 lanes, 2.669 at 16 x 8, 3.425 on the dstate-256 row (16 x 16, half
  // of its lanes idle).
  if (dstate <= 128) return forward_row::dstate128;
  return forward_row::dstate256;
}

}  // namespace s6scan
