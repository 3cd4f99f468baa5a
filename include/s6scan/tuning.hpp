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
  dstate16_rows64x2,   ///< forward_config<16, 64, T, 8>: 64 channels of 2 lanes
  dstate16_rows96x2,   ///< forward_config<16, 96, T, 8>: 96 channels of 2 lanes
  dstate16_rows128x2,  ///< forward_config<16, 128, T, 8>: 128 channels of 2 lanes, or 64 where
                       ///< four 64-row blocks fit an SM (with_default_config)
                       ///< (T: TimeTile 32, or 16 for float32 inputs; kOwnRowsTimeTile)
  dstate64,            ///< forward_config<64, 32, 32, 8>: 32 channels of 8 lanes
  dstate128,           ///< forward_config<128, 32, 16, 16>: 32 channels of 8 lanes
  dstate256,           ///< forward_config<256, R, 16, 16>: R = 16 channels of 16 lanes (32 for float32)
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

/// @brief Blocks per SM for a grid of `blocks` blocks of which `fit` can share an SM: the fewest
///        that still run the grid in as many waves (ceil(blocks / (SMs x k))) as `fit` would.
///
/// forward_segmented holds the two-lane dstate-16 rows to that many (by asking for more shared
/// memory than the kernel uses). `S6SCAN_STUDY_BLOCKS` study build (27d1f66, bench/NOTES.md),
/// forward ms of forward_config<16, 96, T, 8>, 3 blocks fit: VMamba stage 1 (512 blocks, 1.29
/// waves at 3, 1.94 at 2) float32 2.148 -> 1.920 at 2, bfloat16 1.588 -> 1.563, float16 1.594 ->
/// 1.557; stages 2-4 (1024-4096 blocks, more waves at 2) 10-24% slower at 2, so they keep 3.
[[nodiscard]] constexpr int forward_blocks_per_sm(int64_t blocks, int fit,
                                                  int multiprocessors) noexcept {
  if (blocks <= 0 || fit <= 1 || multiprocessors <= 0) return fit;
  const auto waves = [&](int k) {
    const int64_t per_wave = int64_t(k) * multiprocessors;
    return (blocks + per_wave - 1) / per_wave;
  };
  int k = fit;
  while (k > 1 && waves(k - 1) == waves(fit)) --k;
  return k;
}

/// @brief Time segments for a forward of `blocks` blocks of `threads` threads (its channels'
///        blocks) on a device with `multiprocessors` SMs: 1 (no split) when the blocks fill half
///        the SMs or more, or the sequence has fewer than 4 spans of kMaxCheckpointSteps steps;
///        else enough segments of whole spans (at least 2 each) for about kSplitThreadsPerSM
///        threads per SM. The last segment may be shorter. (A span is whole checkpoint chunks and
///        whole tiles of every forward configuration.)
///
/// Splitting costs a carry pass over all segments but the last (no C, no outputs) and a combine
/// of (batch, channel, state) x segments: about 1.7-2x the work of one pass, in exchange for
/// `segments` times the blocks. Needs the forward's workspace (it keeps the segments' results in
/// the checkpoint slots).
[[nodiscard]] constexpr int forward_time_segments(int64_t blocks, int threads, int64_t seqlen,
                                                  int multiprocessors) noexcept {
  if (seqlen <= 0) return 1;
  const int64_t spans = checkpoint_spans(seqlen);
  return detail::split_segments(blocks, threads, spans, multiprocessors, kSplitThreadsPerSM, 2,
                                spans);
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
/// At dstate <= 16 a block of R rows whose threads read their channels' raw rows themselves (one
/// or two lanes per channel, each doing the softplus, its part of the scan, and the gate) beats 32
/// rows of 4 lanes when
///   - R divides the channels per group (a partly empty last block per group costs its whole
///     time: VMamba stage 1, 192 channels per group, takes 2.45 ms at 128 x 1 and 1.43 at 192);
///   - the blocks cover at least 7/8 of the SMs (long32k, 2048 channels: 10.1 ms at 128 x 1,
///     16 blocks, against 5.42 ms for 64 blocks of 32 x 4).
/// Two lanes of 8 states give twice the warps of one lane of 16 for two shuffles per pair of
/// steps (each lane computes the softplus and the gate of one step of the pair); since 67dc92e
/// they win everywhere, VMamba stage 1 included, where 192 x 1 had fitted its groups better.
///
/// `can_split`: the call may split time (forward_time_segments; it has a workspace). Where no
/// such row has blocks enough without it, 128 rows of 2 lanes split do.
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
    const auto rows_fit = [&](int64_t rows, int64_t min_seqlen) {
      return seqlen >= min_seqlen && per_group % rows == 0 &&
             detail::product_at_least(batch, groups, per_group / rows, enough_blocks);
    };
    // Rows x lanes, bfloat16 forward ms at c730bf2 (`--nrows-study 1`; the study's table is in
    // bench/NOTES.md). lm (4096 channels per group, seqlen 2048): 0.681 at 128 x 2, 0.690 at
    // 64 x 2, 0.756 at 256 x 1, 0.778 at 128 x 1, 0.918 at 32 x 4; with z 0.771 against 0.841 at
    // 256 x 1.
    if (rows_fit(128, 1024)) return forward_row::dstate16_rows128x2;
    // 64 x 2 where it divides the group, before 96 x 2 (2026-12-03, bench/results/
    // h200_nrows.txt: 8869b52's kernels, three rounds, medians; bfloat16 T32 / float32 T16):
    // VMamba stage 1 1.232 / 1.527 ms against 1.338 / 1.428 at 96 x 2 in the study and 1.313 /
    // 1.690 for the default's 96 x 2 (which asks for 3 blocks per SM: 96 registers and a stack
    // in float32); stage 2 0.598 / 0.691 against 0.636 / 0.723 (default 0.638 / 0.746); stage
    // 3 0.468 / 0.386 against 0.465 / 0.416 (0.469 / 0.416); stage 4 0.355 / 0.376 against
    // 0.350 / 0.421 (0.354 / 0.378). Not before 128 x 2 here: lm 0.520 against 0.541 in
    // bfloat16, but with z 0.661 against 0.587 (3 blocks of 64 rows fit an SM, 12 warps, against
    // 2 of 128, 16 warps); with_default_config runs it in 128 x 2's place where four fit.
    if (rows_fit(64, 1)) return forward_row::dstate16_rows64x2;
    // 96 x 2 for groups of 96 x an odd count (VMamba v2's stage 1 at ssm_ratio 1: 96).
    // VMamba stages 2, 3, 4 (384, 768, 1536 per group; seqlen 784, 196, 49): 96 x 2 0.747,
    // 0.492, 0.354; 128 x 1 0.773, 0.534, 0.378; 128 x 2 0.792, 0.508, 0.359; 32 x 4 0.940,
    // 0.579, 0.418. Short sequences no longer favour 4 lanes, as they did 1 lane.
    // VMamba stage 1 (192 per group, seqlen 3136), with 67dc92e's kernels (bench/results/
    // h200_nrows.txt): bfloat16 96 x 2 1.467 against 1.473 at 192 x 1 (c730bf2, before the
    // pairs: 1.650 against 1.446); float32 at TimeTile 16 1.523 against 1.718 (192 x 1 fits only
    // two blocks of 192 threads per SM); 32 x 4 1.889 (bfloat16), 2.070 (float32).
    if (rows_fit(96, 1)) return forward_row::dstate16_rows96x2;
    // Too few blocks for any: split in time, 128 x 2. long32k (16 blocks) 1.168 ms in the
    // launcher's segments; 128 x 1 1.188, 64 x 2 1.182, 32 x 4 1.463.
    if (can_split && seqlen >= 512 && per_group % 128 == 0 && batch > 0 && groups > 0) {
      const int64_t blocks = batch * groups * (per_group / 128);  // below 7/8 of the SMs here
      if (blocks * forward_time_segments(blocks, 256, seqlen, multiprocessors) >= enough_blocks)
        return forward_row::dstate16_rows128x2;
    }
    // Otherwise 32 x 4 (long32k unsplit 5.42 ms; 32 x 1: 9.16; 16 x 4: 5.78).
    return forward_row::dstate16;
  }
  // N64 (study at 84ac585, bench/results/h200_nrows.txt): 0.589 ms at 32 x 8 lanes of 8 states
  // (float32 0.633), 0.630 at 64 x 8, 0.704 at 32 x 8 with TimeTile 16, 0.702 at 64 x 4 lanes of
  // 16 (float32 0.713), 0.632 at 32 x 4, 0.877 at 8 x 16 lanes of 4. With 4 lanes N64's 8,192
  // channels are 1,024 warps, 2 per scheduler (ncu, bench/results/h200_limits.md); 8 lanes give
  // twice the warps for one more shuffle per step.
  if (dstate <= 64) return forward_row::dstate64;
  // N128 (c730bf2): 1.123 ms at 32 x 8 lanes, 1.112 at 16 x 8, 1.505 at 8 x 8, 1.944 on the
  // dstate-256 row (16 x 16, half of its lanes idle).
  if (dstate <= 128) return forward_row::dstate128;
  // N256 (same study): bfloat16 2.376 ms at 16 x 16 lanes, 2.466 at 32 x 16, 3.156 at 8 x 16;
  // float32 3.252 at 16 x 16 (one block per SM: its raw B/C tiles), 2.479 at 32 x 16, so the
  // default set takes 32 rows for float32 inputs (dispatch.cuh).
  return forward_row::dstate256;
}

}  // namespace s6scan
