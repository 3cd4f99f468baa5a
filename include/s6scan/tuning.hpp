// SPDX-License-Identifier: MIT
#pragma once

// The forward's tuning table: which configuration of the default set runs a call, from dstate,
// seqlen, the channels per group, batch x groups and the device's multiprocessor count. Host-only
// and constexpr, so a test (or a caller) can ask which row a shape takes without a GPU.
//
// Every row was chosen on the H200 (sm_90) by `s6scan_bench --nrows-study 1`, the forward in
// bfloat16 and float32; bench/results/h200.json holds the default set's current figures. The
// time-parallel row's bounds come from the H100 sweep (`--sweep 1`, fwd_time_ms, and its ch*
// rows on both sides of them).

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
  time_parallel,       ///< forward_time_config<256, 4, 8>: a warp per channel, parallel in time
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

/// @brief Threads per multiprocessor a time-split forward aims for (see forward_time_segments):
///        enough warps to hide latency; more segments only add carry work (H200, `s6scan_bench
///        --split-study 1` on the long-sequence shape).
inline constexpr int kSplitThreadsPerSM = 1024;

namespace detail {

/// @brief Segments of whole chunks (at least `min_chunks` each) for about `threads_per_sm`
///        threads per SM, from `blocks` blocks of `threads` threads over `chunks` chunks; at most
///        `most`. 1 when the sequence has fewer than 4 chunks or the blocks already give that.
[[nodiscard]] constexpr int split_segments(int64_t blocks, int threads, int64_t chunks,
                                           int multiprocessors, int threads_per_sm,
                                           int64_t min_chunks, int64_t most) noexcept {
  if (blocks <= 0 || threads <= 0 || chunks < 4) return 1;
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
/// memory than the kernel uses): fewer co-resident blocks share an SM's issue slots and caches
/// among fewer warps, while the same number of waves keeps the tail the same.
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
  if (seqlen <= 0 || 2 * blocks > multiprocessors) return 1;
  const int64_t spans = checkpoint_spans(seqlen);
  return detail::split_segments(blocks, threads, spans, multiprocessors, kSplitThreadsPerSM, 2,
                                spans);
}

/// @brief The most time segments a backward splits into.
inline constexpr int kBackwardMaxSegments = 32;

/// @brief Threads per multiprocessor a time-split backward aims for (see backward_time_segments),
///        as the forward's.
inline constexpr int kBackwardSplitThreadsPerSM = 1024;

/// @brief A backward splits in time only when its blocks give fewer threads per multiprocessor
///        than this. Below it (under 8 warps per SM, 2 per scheduler) each thread's serial walk
///        over its whole sequence sets the time, so the split's carry pass costs far less than
///        the parallelism it adds; between this and kBackwardSplitThreadsPerSM the trade depends
///        on the kernel's issue rate, and `s6scan_bench --split-study 1 --sweep 1` times the
///        sweep's rows on both sides with explicit segment counts.
inline constexpr int kBackwardSplitBelowThreadsPerSM = 256;

/// @brief The most multiprocessors the backward's workspace plans a split for: the per-segment
///        sums it holds room for (backward_segment_room) cover the segments
///        backward_time_segments takes on any device of up to this many.
inline constexpr int kBackwardSplitMaxSMs = 256;

/// @brief Time segments the backward's workspace holds room for, for a launch of `blocks` blocks
///        of `threads` threads over `chunks` chunks: 1 where no device of up to
///        kBackwardSplitMaxSMs multiprocessors splits it, else as many as one of that size would
///        take (at most kBackwardMaxSegments and `chunks`). Device-independent, so that the
///        workspace size is too.
[[nodiscard]] constexpr int64_t backward_segment_room(int64_t blocks, int threads,
                                                      int64_t chunks) noexcept {
  if (blocks <= 0 || threads <= 0 || chunks < 2) return 1;
  constexpr int64_t kMaxThreads = int64_t(kBackwardSplitBelowThreadsPerSM) * kBackwardSplitMaxSMs;
  if (blocks >= (kMaxThreads + threads - 1) / threads) return 1;  // blocks x threads >= max
  constexpr int64_t kAim = int64_t(kBackwardSplitThreadsPerSM) * kBackwardSplitMaxSMs;
  int64_t k = (kAim + blocks * threads - 1) / (blocks * threads) + 1;
  if (k > kBackwardMaxSegments) k = kBackwardMaxSegments;
  return k < chunks ? k : chunks;
}

/// @brief Time segments for one launch of the backward over `chunks` chunks, from `blocks` blocks
///        of `threads` threads on a device with `multiprocessors` SMs: 1 when the blocks give
///        kBackwardSplitBelowThreadsPerSM threads per SM or more, or the window has fewer than 4
///        chunks; else segments of at least 2 chunks for about kBackwardSplitThreadsPerSM threads
///        per SM, at most kBackwardMaxSegments.
///
/// A split backward runs a carry pass over every segment but the first (the adjoint from zero at
/// the segment's end, with C, dout and the steps only) and a combine, then the full backward of
/// every segment from its true end adjoint.
[[nodiscard]] constexpr int backward_time_segments(int64_t blocks, int threads, int64_t chunks,
                                                   int multiprocessors) noexcept {
  if (blocks <= 0 || threads <= 0 || multiprocessors <= 0) return 1;
  if (blocks >= (int64_t(kBackwardSplitBelowThreadsPerSM) * multiprocessors + threads - 1) / threads)
    return 1;  // blocks x threads >= the threshold x SMs
  return detail::split_segments(blocks, threads, chunks, multiprocessors,
                                kBackwardSplitThreadsPerSM, 2, kBackwardMaxSegments);
}

/// @brief Channels (batch x dim) per SM below which the time-parallel forward may run: with
///        fewer, the channel-parallel rows (one to eight lanes per channel) leave most of each
///        SM's warp slots empty, or fill them in a fraction of a wave; with more, their fewer
///        instructions per step win (`s6scan_bench --sweep 1`, the ch* rows).
inline constexpr int64_t kTimeParallelChannelsPerSM = 80;

/// @brief The sequences the time-parallel forward runs: at least a pass (256 steps; a shorter
///        one leaves lanes idle, while the channel-parallel rows finish it in a few tiles), and
///        at most 4096 steps (longer ones the channel-parallel rows split into enough segments
///        to fill the GPU, doing less work per step).
inline constexpr int64_t kTimeParallelMinSeqlen = 256;
inline constexpr int64_t kTimeParallelMaxSeqlen = 4096;

/// @brief The largest dstate the time-parallel forward takes. Its time grows with the states
///        while the channel-parallel rows of dstate 17-64 take one wave of blocks for any count
///        of them, so past this it loses where their blocks fill a wave.
inline constexpr int64_t kTimeParallelMaxDState = 32;

/// @brief Inputs of 4 bytes (float32) above kTimeParallelWideDState states take the
///        time-parallel forward only from kTimeParallelWideMinSeqlen steps: its B and C loads
///        move twice the bytes of 16-bit ones, and on shorter sequences the channel-parallel
///        rows were as fast or faster (the sweep's seqlen511-1025 rows in float32).
inline constexpr int64_t kTimeParallelWideDState = 8;
inline constexpr int64_t kTimeParallelWideMinSeqlen = 2048;

/// @brief Whether a forward of these sizes runs the time-parallel kernel (forward_time_config:
///        a warp per channel, its lanes on consecutive runs of steps) on a device with
///        `multiprocessors` SMs: few channels per SM, a sequence of a pass or more but not one
///        the time split serves, few states. `input_bytes`: sizeof the input type.
[[nodiscard]] constexpr bool forward_time_parallel(int64_t batch, int64_t dim, int64_t seqlen,
                                                   int64_t dstate, int multiprocessors,
                                                   int input_bytes = 2) noexcept {
  if (batch <= 0 || dim <= 0 || multiprocessors <= 0 || dstate > kTimeParallelMaxDState)
    return false;
  if (seqlen < kTimeParallelMinSeqlen || seqlen > kTimeParallelMaxSeqlen) return false;
  if (input_bytes >= 4 && dstate > kTimeParallelWideDState && seqlen < kTimeParallelWideMinSeqlen)
    return false;
  const int64_t most = kTimeParallelChannelsPerSM * multiprocessors - 1;  // batch x dim <= most
  return batch <= most / dim;
}

/// @brief The row of the forward's tuning table for a call of these sizes on a device with
///        `multiprocessors` SMs.
///
/// At dstate <= 16 a block of R rows whose threads read their own channels' raw rows (two lanes
/// per channel, each doing the softplus, its part of the scan and the gate of one step of a pair)
/// beats 32 rows of 4 lanes when
///   - R divides the channels per group: a partly empty last block per group costs its whole
///     time;
///   - the blocks cover at least 7/8 of the SMs: fewer leave SMs idle for the whole call.
///
/// `can_split`: the call may split time (forward_time_segments; it saves states). Where no such
/// row has blocks enough without it, 128 rows of 2 lanes split do. `input_bytes`: sizeof the
/// input type (forward_time_parallel).
[[nodiscard]] constexpr forward_row forward_tuning_row(int64_t batch, int64_t dim, int64_t groups,
                                                       int64_t seqlen, int64_t dstate,
                                                       int multiprocessors,
                                                       bool can_split = false,
                                                       int input_bytes = 2) noexcept {
  if (dstate < 1 || dstate > 256) return forward_row::unsupported;
  if (forward_time_parallel(batch, dim, seqlen, dstate, multiprocessors, input_bytes))
    return forward_row::time_parallel;
  // One lane per channel, 64 channels a block.
  if (dstate <= 1) return forward_row::dstate1;
  if (dstate <= 16) {
    const int64_t per_group = groups > 0 ? dim / groups : 0;
    const int64_t enough_blocks = (7 * int64_t(multiprocessors) + 7) / 8;
    const auto rows_fit = [&](int64_t rows, int64_t min_seqlen) {
      return seqlen >= min_seqlen && per_group % rows == 0 &&
             detail::product_at_least(batch, groups, per_group / rows, enough_blocks);
    };
    // Long sequences amortise a large block's stage; select_forward runs it as 64 rows where
    // four of those blocks fit an SM (as many warps, finer blocks).
    if (rows_fit(128, 1024)) return forward_row::dstate16_rows128x2;
    // 64 rows where they divide the group (VMamba's stages), before 96.
    if (rows_fit(64, 1)) return forward_row::dstate16_rows64x2;
    // 96 rows for groups of 96 x an odd count (VMamba v2's stage 1 at ssm_ratio 1).
    if (rows_fit(96, 1)) return forward_row::dstate16_rows96x2;
    // Too few blocks for any: split in time, 128 x 2.
    if (can_split && seqlen >= 512 && per_group % 128 == 0 && batch > 0 && groups > 0) {
      const int64_t blocks = batch * groups * (per_group / 128);  // below 7/8 of the SMs here
      if (blocks * forward_time_segments(blocks, 256, seqlen, multiprocessors) >= enough_blocks)
        return forward_row::dstate16_rows128x2;
    }
    // Otherwise 32 channels of 4 lanes: 4 lanes make 4 times the warps of one.
    return forward_row::dstate16;
  }
  // dstate 17-64: 32 channels of 8 lanes of 8 states (twice the warps of 4 lanes of 16).
  if (dstate <= 64) return forward_row::dstate64;
  // dstate 65-128: 32 channels of 8 lanes of 16 states.
  if (dstate <= 128) return forward_row::dstate128;
  // dstate 129-256: 16 lanes of 16 states; float32 inputs take 32 channels (default_set.hpp).
  return forward_row::dstate256;
}

}  // namespace s6scan
