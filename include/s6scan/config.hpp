// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define S6SCAN_HOST_DEVICE __host__ __device__
#else
#define S6SCAN_HOST_DEVICE
#endif

namespace s6scan {

/// @brief The shortest and the longest checkpoint_steps: a backward tile divides the shortest, a
///        forward tile the longest (a forward tile longer than the interval saves states inside it).
inline constexpr int kMinCheckpointSteps = 16;
inline constexpr int kMaxCheckpointSteps = 64;
/// @brief The largest dstate whose states are saved every kMinCheckpointSteps steps.
inline constexpr int kShortCheckpointDState = 16;

/// @brief Time steps between the states the forward saves in its workspace (see forward.cuh), by
///        the call's dstate: 16 up to dstate 16, 64 above.
///
/// The backward recomputes each interval's states from the one saved before it: an interval of one
/// backward tile (16 steps at dstate <= 16) needs no pass ahead of the adjoint, and longer ones
/// rerun the scan over all tiles of the interval but its last. So this trades saved states (one
/// float per state per interval: at most 4 bytes per channel and step up to dstate 64, twice a
/// bfloat16 u) against that rerun; a 16-step interval above dstate 16 would take 16-64 bytes.
S6SCAN_HOST_DEVICE constexpr int checkpoint_steps(int64_t dstate) {
  return dstate <= kShortCheckpointDState ? kMinCheckpointSteps : kMaxCheckpointSteps;
}

/// @brief Checkpoint chunks of a sequence: ceil(seqlen / checkpoint_steps(dstate)).
S6SCAN_HOST_DEVICE constexpr int64_t checkpoint_chunks(int64_t seqlen, int64_t dstate) {
  return (seqlen + checkpoint_steps(dstate) - 1) / checkpoint_steps(dstate);
}

/// @brief Spans of kMaxCheckpointSteps steps in a sequence, the last one possibly short: whole
///        checkpoint chunks and whole tiles at every dstate, the unit a forward's time split cuts.
constexpr int64_t checkpoint_spans(int64_t seqlen) {
  return (seqlen + kMaxCheckpointSteps - 1) / kMaxCheckpointSteps;
}

namespace detail {

/// @brief What forward_config and backward_config share: the lanes of a channel, the threads of a
///        block, and the checks on them.
template <int MaxDState, int NRows, int TimeTile, int StatesPerThread>
struct scan_shape {
  static constexpr int kMaxDState = MaxDState;
  static constexpr int kRows = NRows;
  static constexpr int kTimeTile = TimeTile;
  static constexpr int kStatesPerThread = StatesPerThread;
  static constexpr int kLanesPerRow = MaxDState / StatesPerThread;
  static constexpr int kThreads = NRows * kLanesPerRow;

  static_assert(MaxDState >= 1, "MaxDState must be positive");
  static_assert(StatesPerThread >= 1 && MaxDState % StatesPerThread == 0,
                "StatesPerThread must divide MaxDState");
  static_assert(kLanesPerRow <= 32 && (kLanesPerRow & (kLanesPerRow - 1)) == 0,
                "MaxDState / StatesPerThread must be a power of two of at most 32");
  static_assert(StatesPerThread <= 2 || StatesPerThread % 4 == 0,
                "StatesPerThread must be 1, 2 or a multiple of 4 (vector loads)");
  static_assert(NRows >= 1 && kThreads % 32 == 0 && kThreads <= 1024,
                "NRows * lanes per channel must be a multiple of 32 and at most 1024");
  static_assert(TimeTile % 8 == 0 && kMaxCheckpointSteps % TimeTile == 0,
                "TimeTile must be a multiple of 8 that divides kMaxCheckpointSteps (64)");
};

}  // namespace detail

/// @brief Compile-time configuration of the forward scan kernel.
///
/// One block scans `NRows` channels of one (batch, group) pair. Each channel is walked in time by
/// `MaxDState / StatesPerThread` threads (its "lanes"), each holding `StatesPerThread` states in
/// registers; time advances in tiles of `TimeTile` steps staged in shared memory, with the next
/// tile's loads in flight while the current one is scanned.
///
/// @tparam MaxDState       largest dstate this instantiation accepts (runtime dstate may be smaller)
/// @tparam NRows           channels per block; they share every B/C load of the block
/// @tparam TimeTile        time steps per shared-memory tile; divides kMaxCheckpointSteps
/// @tparam StatesPerThread states one thread keeps in registers; MaxDState / StatesPerThread lanes
///                         (a power of two, at most 32) share a channel and sum y across them
/// @tparam MinBlocksPerSM  blocks the compiler must fit on one multiprocessor (the second
///                         argument of __launch_bounds__), which caps the registers per thread;
///                         0 leaves the choice to the compiler
template <int MaxDState, int NRows, int TimeTile = 32,
          int StatesPerThread = (MaxDState < 16 ? MaxDState : 16), int MinBlocksPerSM = 0>
struct forward_config : detail::scan_shape<MaxDState, NRows, TimeTile, StatesPerThread> {
  static constexpr bool kIsForwardConfig = true;
  static constexpr int kMinBlocksPerSM = MinBlocksPerSM;
};

/// @brief Compile-time configuration of the time-parallel forward kernel, for calls whose
///        channels are too few to fill the device with forward_config's threads.
///
/// One warp scans one channel: its 32 lanes own consecutive runs of `StepsPerLane` steps, scan
/// them from zero and combine the runs with a warp scan (detail/forward_time_kernel.cuh). A block
/// holds `NRows` warps on consecutive channels of one (batch, group). It takes the states one at
/// a time and carries each from pass to pass in shared memory (dstate floats per warp), so one
/// instantiation serves every dstate up to MaxDState.
///
/// @tparam MaxDState     largest dstate this instantiation accepts
/// @tparam NRows         channels (warps) per block
/// @tparam StepsPerLane  steps of a lane's run: 8 or 16 (whole 16-byte loads, whole checkpoint
///                       chunks)
template <int MaxDState, int NRows = 4, int StepsPerLane = 8>
struct forward_time_config {
  static_assert(MaxDState >= 1, "MaxDState must be positive");
  static_assert(NRows >= 1 && NRows <= 32, "NRows warps make a block: 1 to 32");
  static_assert(StepsPerLane == 8 || StepsPerLane == 16, "StepsPerLane must be 8 or 16");
  // The launch asks for no more than the 48 KB every device gives without opting in.
  static_assert(int64_t(NRows) * MaxDState * 4 <= 48 * 1024,
                "forward_time_config's carried states (NRows x MaxDState floats of shared "
                "memory) must fit 48 KB: use a smaller NRows");
  static constexpr bool kIsForwardConfig = true;
  static constexpr int kMaxDState = MaxDState;
  static constexpr int kRows = NRows;
  static constexpr int kStepsPerLane = StepsPerLane;
  static constexpr int kTimeTile = 32 * StepsPerLane;  ///< steps a warp scans per pass
  static constexpr int kStatesPerThread = 1;
  static constexpr int kLanesPerRow = 32;
  static constexpr int kThreads = 32 * NRows;
  /// Registers capped for 16 warps per SM: each warp's scan is a chain of dependent shuffles,
  /// so the SM needs warps more than each warp needs registers.
  static constexpr int kMinBlocksPerSM = (16 + NRows - 1) / NRows;
};

/// @brief Bytes the backward may spend on per-block partial sums of a time-varying dB and dC.
///
/// The backward sums dB/dC over the channels of a group in two fixed-order steps (inside a block,
/// then across the group's blocks) so that its result is the same on every run. The second step
/// needs (blocks per group x dstate) floats per (batch, group, step); when that does not fit this
/// budget for the whole sequence, the backward runs in windows of whole chunks, one launch each.
inline constexpr int64_t kBackwardPartialBudget = int64_t(128) << 20;

/// @brief Compile-time configuration of the backward scan kernel.
///
/// The same shape as forward_config: one block owns `NRows` channels of one (batch, group) pair and
/// each channel is split over `MaxDState / StatesPerThread` lanes. The backward walks time
/// backwards, one tile of `TimeTile` steps at a time; it recomputes a tile's states forward into
/// registers (TimeTile x StatesPerThread of them per thread) and then runs the adjoint through
/// them, so TimeTile x StatesPerThread bounds the register use.
///
/// @tparam MaxDState       largest dstate this instantiation accepts
/// @tparam NRows           channels per block; dB and dC are summed over them, by shuffles within
///                         each warp, then across the warps in shared memory
/// @tparam TimeTile        time steps per tile; divides checkpoint_steps(MaxDState) (8 or 16 up
///                         to MaxDState 16, up to 64 above)
/// @tparam StatesPerThread states per thread (1, 2 or a multiple of 4)
/// @tparam MinBlocksPerSM  blocks the compiler must fit on one multiprocessor (the second
///                         argument of __launch_bounds__), which caps the registers per thread;
///                         0 leaves the choice to the compiler
template <int MaxDState, int NRows, int TimeTile = 16,
          int StatesPerThread = (MaxDState < 4 ? MaxDState : 4), int MinBlocksPerSM = 0>
struct backward_config : detail::scan_shape<MaxDState, NRows, TimeTile, StatesPerThread> {
  static constexpr bool kIsBackwardConfig = true;
  /// Steps of the chunks the backward walks: checkpoint_steps(MaxDState), a multiple of the
  /// forward's interval at every dstate this instantiation accepts (it reads every
  /// kChunkSteps / checkpoint_steps(dstate)-th saved state).
  static constexpr int kChunkSteps = checkpoint_steps(MaxDState);
  static constexpr int kTilesPerChunk = kChunkSteps / TimeTile;
  static constexpr int kMinBlocksPerSM = MinBlocksPerSM;

  static_assert(kChunkSteps % TimeTile == 0,
                "a backward TimeTile must divide checkpoint_steps(MaxDState): 16 up to MaxDState 16");
  static_assert(TimeTile * StatesPerThread <= 128,
                "TimeTile x StatesPerThread states per thread are kept in registers");
  static_assert(MinBlocksPerSM >= 0, "MinBlocksPerSM is a count of blocks, or 0");
};

/// @brief A configuration described at run time, for checks and messages.
struct kernel_shape {
  int max_dstate;
  int rows;
  int time_tile;
  int states_per_thread;
  int threads;
  const char* kind = "forward";  ///< "forward" or "backward": the config template to name
  int steps_per_lane = 0;  ///< forward_time_config's StepsPerLane; 0 for the other configs
};

/// @brief Whether Config is a forward_config or a forward_time_config (is_backward_config_v: a
///        backward_config).
template <class Config, class = void>
inline constexpr bool is_forward_config_v = false;
template <class Config>
inline constexpr bool is_forward_config_v<Config, std::void_t<decltype(Config::kIsForwardConfig)>> =
    Config::kIsForwardConfig;
template <class Config, class = void>
inline constexpr bool is_backward_config_v = false;
template <class Config>
inline constexpr bool is_backward_config_v<Config, std::void_t<decltype(Config::kIsBackwardConfig)>> =
    Config::kIsBackwardConfig;

/// @brief forward_time_config's StepsPerLane; 0 for any other configuration.
template <class Config, class = void>
inline constexpr int steps_per_lane_v = 0;
template <class Config>
inline constexpr int steps_per_lane_v<Config, std::void_t<decltype(Config::kStepsPerLane)>> =
    Config::kStepsPerLane;

/// @return the run-time description of a forward_config, forward_time_config or backward_config.
template <class Config>
[[nodiscard]] constexpr kernel_shape shape_of() noexcept {
  static_assert(is_forward_config_v<Config> || is_backward_config_v<Config>,
                "s6scan::shape_of<Config>: Config must be a forward_config or a backward_config");
  return {Config::kMaxDState,
          Config::kRows,
          Config::kTimeTile,
          Config::kStatesPerThread,
          Config::kThreads,
          is_forward_config_v<Config> ? "forward" : "backward",
          steps_per_lane_v<Config>};
}

}  // namespace s6scan
