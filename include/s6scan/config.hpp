// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

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
/// rerun the scan over all tiles of the interval but its last. So this trades workspace (one float
/// per state per interval) against that rerun. With 16 steps up to dstate 16 and 64 above, the
/// saved states take at most 4 bytes per (channel, step) up to dstate 64 (twice a bfloat16 u).
/// Measured on the H200 (bench/NOTES.md, 0cd6237 against c4f233d): forward + backward on the lm
/// shape 4.46 -> 3.91 ms in bfloat16, VMamba stage 1 10.11 -> 9.00 ms at dstate 16 and 2.44 ->
/// 2.33 at dstate 1. A 16-step interval at dstate 64 and above would take 16 to 64 bytes per
/// (channel, step).
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
  static constexpr int kMinBlocksPerSM = MinBlocksPerSM;
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
/// them, so TimeTile x StatesPerThread bounds the register use (the default 64 take 168 registers
/// per thread at sm_90).
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

namespace detail {

S6SCAN_HOST_DEVICE constexpr int64_t align16(int64_t x) { return (x + 15) / 16 * 16; }

/// @brief Floats of padding the forward's B/C float tiles put after each lane's run of
///        `states_per_thread` states, so that the lanes of a channel, reading one step's B or C
///        16 bytes at a time, hit different banks: 4 where a run is an even number of 16-byte
///        vectors and several lanes share a channel, else 0. (Runs of 16 states, 64 bytes apart,
///        made dstate 128's shared loads 4-way bank conflicts: 16 wavefronts per request.)
S6SCAN_HOST_DEVICE constexpr int forward_run_pad(int states_per_thread, int lanes_per_row) {
  return lanes_per_row > 1 && states_per_thread % 8 == 0 ? 4 : 0;
}

/// @brief Byte offsets of the forward kernel's dynamic shared memory, from the runtime dstate.
///
/// Two stages of raw input tiles (double buffering), then float tiles the scan reads.
struct forward_smem_layout {
  // Within each of the two stages (stage s starts at s * stage_bytes):
  int64_t raw_u = 0, raw_delta = 0, raw_z = 0, raw_B = 0, raw_C = 0, stage_bytes = 0;
  int64_t out = 0;       ///< one lane per channel: the output tile, (rows, out_pitch) of OutT
  int seq_pitch = 0;     ///< elements between rows of a raw u/delta/z tile
  int out_pitch = 0;
  int raw_bc_pitch = 0;  ///< elements between rows of a raw B/C tile
  // After both stages. dt, du and y exist only with several lanes per channel; there y aliases dt:
  // each row's y is written only after every lane of that row has read its dt.
  int64_t dt = 0, du = 0, Bf = 0, Cf = 0, y = 0, zero = 0, bias = 0, D = 0, total = 0;
  int tile_pitch = 0;    ///< floats between rows of dt, du, y
  int npad = 0;          ///< dstate rounded up to StatesPerThread: the states of Bf/Cf
  int Bf_pitch = 0;      ///< floats between rows of Bf (time rows if varying, channel rows if constant)
  int Cf_pitch = 0;
  /// A tile at least as long as the checkpoint interval (checkpoint_steps), with 4 states or more
  /// per thread, saves `ckpt_chunks` states per channel, its intervals' ends, to this tile of
  /// (rows, ckpt_pitch) floats (interval c's states from column c * dstate), and the block copies
  /// them out together; 0 and no tile otherwise.
  int64_t ckpt = 0;
  int ckpt_pitch = 0, ckpt_chunks = 0;
};

///
/// With one or two lanes per channel (`lanes_per_row` <= 2) each thread reads its own channel's
/// raw rows and the channel's outputs go to an output tile in the stage; with more, the steps and
/// y go through the float tiles dt, du and y shared by the lanes.
S6SCAN_HOST_DEVICE inline forward_smem_layout make_forward_smem_layout(
    int rows, int time_tile, int states_per_thread, int lanes_per_row, int64_t dstate,
    int in_bytes, int out_bytes, bool has_z, bool var_B, bool var_C) {
  forward_smem_layout l;
  const bool own_rows = lanes_per_row <= 2;  // forward_agent::kOwnRows
  const int64_t npad = (dstate + states_per_thread - 1) / states_per_thread * states_per_thread;
  l.npad = static_cast<int>(npad);
  // State n is column n + n / states_per_thread * run_pad of Bf/Cf.
  const int run_pad = forward_run_pad(states_per_thread, lanes_per_row);
  const int cols = l.npad + l.npad / states_per_thread * run_pad;
  // One 16-byte pad per row: the rows' 16-byte pieces read by consecutive channels (or the
  // transposing reads of B/C) fall in different banks.
  l.raw_bc_pitch = time_tile + 16 / in_bytes;
  l.seq_pitch = time_tile + 16 / in_bytes;
  l.out_pitch = time_tile + 16 / out_bytes;
  int64_t o = 0;
  const int64_t seq_tile = align16(int64_t(rows) * l.seq_pitch * in_bytes);
  const int64_t bc_tile = align16(dstate * l.raw_bc_pitch * in_bytes);
  l.raw_u = o; o += seq_tile;
  l.raw_delta = o; o += seq_tile;
  l.raw_z = o; o += has_z ? seq_tile : 0;
  l.raw_B = o; o += var_B ? bc_tile : 0;
  l.raw_C = o; o += var_C ? bc_tile : 0;
  l.out = o; o += own_rows ? align16(int64_t(rows) * l.out_pitch * out_bytes) : 0;
  l.stage_bytes = o;
  o = 2 * l.stage_bytes;
  l.tile_pitch = time_tile + 4;  // 16-byte pad: rows read as float4 by different channels
  const int64_t f_tile = own_rows ? 0 : align16(int64_t(rows) * l.tile_pitch * 4);
  l.dt = o; o += f_tile;
  l.du = o; o += f_tile;
  l.Bf_pitch = var_B ? cols : cols + 4;
  l.Cf_pitch = var_C ? cols : cols + 4;
  l.Bf = o; o += align16(int64_t(var_B ? time_tile : rows) * l.Bf_pitch * 4);
  l.Cf = o; o += align16(int64_t(var_C ? time_tile : rows) * l.Cf_pitch * 4);
  l.y = l.dt;
  l.zero = o; o += align16(int64_t(states_per_thread < 4 ? 4 : states_per_thread) * 4);
  l.bias = o; o += align16(int64_t(rows) * 4);
  l.D = o; o += align16(int64_t(rows) * 4);
  // Rows 16-byte aligned, 4 floats more than the states: different rows start in different banks.
  // Only where every tile ends an interval and a thread holds 4 states or more (forward_agent::
  // kStagedSaves); one or two states per thread go straight to the workspace.
  const int K = checkpoint_steps(dstate);
  l.ckpt_chunks = states_per_thread >= 4 && time_tile >= K ? time_tile / K : 0;
  l.ckpt_pitch = l.ckpt_chunks > 0 ? static_cast<int>((l.ckpt_chunks * dstate + 3) / 4 * 4 + 4) : 0;
  l.ckpt = o; o += align16(int64_t(rows) * l.ckpt_pitch * 4);
  l.total = o;
  return l;
}

/// @brief Parts the backward splits a thread's states into for a tile's adjoint: states_per_thread
///        / 4 where a channel has a warp to itself (32 lanes) and a lane holds 8 states or more,
///        else 1 (the whole run at once).
///
/// In parts, a lane recomputes and runs the adjoint of 4 states at a time, so the states before
/// each step of the tile take TimeTile x 4 registers rather than TimeTile x states_per_thread,
/// each tile's first state is kept in the thread's local memory rather than in shared memory, and
/// a constant B's or C's gradient sums in shared memory rather than in registers.
/// That lets two blocks of backward_config<256, 8, 8, 8> share a multiprocessor (128 registers and
/// about 104 KiB in bfloat16, against 255 registers and 168 KiB with whole runs).
S6SCAN_HOST_DEVICE constexpr int backward_state_parts(int states_per_thread, int lanes_per_row) {
  return lanes_per_row == 32 && states_per_thread >= 8 &&
                 (states_per_thread & (states_per_thread - 1)) == 0
             ? states_per_thread / 4
             : 1;
}

/// @brief In parts, the kinds of dB/dC terms the red buffer holds at once: both (a part's dC and
///        dB terms, summed together) for 16-bit inputs; one (dC's, summed, then dB's) for float32,
///        whose stages are twice the bytes, so that the buffer is half the size and two blocks of
///        backward_config<256, 8, 8, 8> still fit a multiprocessor.
S6SCAN_HOST_DEVICE constexpr int backward_part_kinds(int in_bytes) { return in_bytes >= 4 ? 1 : 2; }

/// @brief In parts, the floats between the red buffer's rows: 32 lanes' 4 states of each kind it
///        holds at once, and a 4-float pad that puts 8 rows' vectors in distinct banks. A constant,
///        the same for every dstate the kernel takes, so that the kernel's red buffer offsets are
///        immediates (a runtime pitch cost an address computation per store).
S6SCAN_HOST_DEVICE constexpr int backward_part_red_pitch(int in_bytes) {
  return 32 * 4 * backward_part_kinds(in_bytes) + 4;
}

/// @brief Several channels per warp: the floats between the red buffer's rows of one (kind, state),
///        time_tile steps and one more, odd, so that one step's terms of consecutive states hit
///        distinct banks. A constant, so that the kernel's stores of a step's sums have immediate
///        offsets from one address per lane.
S6SCAN_HOST_DEVICE constexpr int backward_step_red_pitch(int time_tile) { return time_tile + 1; }

/// @brief In parts, the vector of 4 states that a lane of `vecs` such vectors keeps in place of
///        its vector q is q ^ part_swizzle(lane, vecs): the eight lanes of a quarter-warp, reading
///        one vector each, then hit eight different 16-byte bank groups (runs of 8 states 32
///        bytes apart made every such read of B, C and the red buffer a 2-way bank conflict).
S6SCAN_HOST_DEVICE constexpr int part_swizzle(int lane, int vecs) {
  return (lane / (vecs >= 8 ? 1 : 8 / vecs)) % vecs;
}

/// @brief In parts, the column of state n in the B/C float tiles (lanes of `states_per_thread`).
S6SCAN_HOST_DEVICE constexpr int part_state_col(int n, int states_per_thread) {
  const int lane = n / states_per_thread, q = n % states_per_thread / 4;
  return lane * states_per_thread + (q ^ part_swizzle(lane, states_per_thread / 4)) * 4 + n % 4;
}

/// @brief Byte offsets of the backward kernel's dynamic shared memory, from the runtime dstate.
struct backward_smem_layout {
  // Within each of the two stages (stage s starts at s * stage_bytes):
  int64_t raw_u = 0, raw_delta = 0, raw_z = 0, raw_dout = 0, raw_B = 0, raw_C = 0, stage_bytes = 0;
  /// Where a chunk is one tile (chunk_steps == time_tile): the state the tile starts from, copied
  /// with the tile's inputs, (states per thread, threads) floats; 0 bytes otherwise.
  int64_t raw_h0 = 0;
  int raw_bc_pitch = 0;
  // After both stages: float tiles of (rows, tile_pitch): step, step * u, dy (the gradient reaching
  // y), the softplus' derivative, and each step's sums over the lanes of a channel: the u gradient
  // before its last terms, the step's gradient, and y (with z only). With one lane per channel
  // (`own_rows`) there are none: each thread works from its raw rows.
  int64_t dt = 0, du = 0, dy = 0, sg = 0, gu = 0, gd = 0, y = 0;
  int64_t Bf = 0, Cf = 0, zero = 0, bias = 0, D = 0;
  /// (tiles per chunk, states per thread, threads): each tile's first state. In parts
  /// (backward_state_parts), which keep those in local memory: a constant B's gradient sums, then
  /// a constant C's, (states per thread, threads) each, those of them that are constant.
  int64_t starts = 0;
  /// Each warp's dB/dC terms of one tile, summed over its channels. Several channels per warp:
  /// (warps, 2, npad, red_pitch), dC (0) and dB (1) at once. One channel per warp (`by_kind`):
  /// (warps, time_tile, red_pitch), one kind at a time: dC's, then dB's; or, in parts, one part at
  /// a time: a lane's 8 columns hold the part's 4 dC and 4 dB terms (backward_part_kinds 2,
  /// swizzled by part_swizzle), or its 4 columns one kind's (1).
  int64_t red = 0;
  int64_t total = 0;
  int tile_pitch = 0, npad = 0, Bf_pitch = 0, Cf_pitch = 0, red_pitch = 0;
  bool by_kind = false;
  bool own_rows = false;  ///< one lane per channel (threads == rows)
};

S6SCAN_HOST_DEVICE inline backward_smem_layout make_backward_smem_layout(
    int rows, int time_tile, int chunk_steps, int states_per_thread, int threads, int64_t dstate,
    int in_bytes, int out_bytes, bool has_z, bool var_B, bool var_C) {
  backward_smem_layout l;
  const int64_t npad = (dstate + states_per_thread - 1) / states_per_thread * states_per_thread;
  l.npad = static_cast<int>(npad);
  // No pad: each thread converts whole 16-byte pieces of one state's row (reads in a row).
  l.raw_bc_pitch = time_tile;
  int64_t o = 0;
  const int64_t seq_tile = align16(int64_t(rows) * time_tile * in_bytes);
  const int64_t bc_tile = align16(dstate * l.raw_bc_pitch * in_bytes);
  l.raw_u = o; o += seq_tile;
  l.raw_delta = o; o += seq_tile;
  l.raw_z = o; o += has_z ? seq_tile : 0;
  l.raw_dout = o; o += align16(int64_t(rows) * time_tile * out_bytes);
  l.raw_B = o; o += var_B ? bc_tile : 0;
  l.raw_C = o; o += var_C ? bc_tile : 0;
  l.raw_h0 = o; o += chunk_steps == time_tile ? int64_t(states_per_thread) * threads * 4 : 0;
  l.stage_bytes = o;
  o = 2 * l.stage_bytes;
  l.tile_pitch = time_tile + 4;
  // One lane per channel: no float tiles, and a time-varying B/C is read from its raw tile.
  l.own_rows = threads == rows;
  const int64_t f_tile = l.own_rows ? 0 : align16(int64_t(rows) * l.tile_pitch * 4);
  l.dt = o; o += f_tile;
  l.du = o; o += f_tile;
  l.dy = o; o += f_tile;
  l.sg = o; o += f_tile;
  l.gu = o; o += f_tile;
  l.gd = o; o += f_tile;
  l.y = o; o += has_z ? f_tile : 0;
  l.Bf_pitch = var_B ? l.npad : l.npad + 4;
  l.Cf_pitch = var_C ? l.npad : l.npad + 4;
  const auto bc_rows = [&](bool var) -> int64_t {
    return var ? (l.own_rows ? 0 : time_tile) : rows;
  };
  l.Bf = o; o += align16(bc_rows(var_B) * l.Bf_pitch * 4);
  l.Cf = o; o += align16(bc_rows(var_C) * l.Cf_pitch * 4);
  l.zero = o; o += align16(int64_t(states_per_thread < 4 ? 4 : states_per_thread) * 4);
  l.bias = o; o += align16(int64_t(rows) * 4);
  l.D = o; o += align16(int64_t(rows) * 4);
  const int64_t warps = threads / 32;
  const bool parts = backward_state_parts(states_per_thread, int(threads / rows)) > 1;
  l.starts = o;
  if (parts)
    o += int64_t(states_per_thread) * threads * 4 * (!var_B + !var_C);
  else
    o += align16(int64_t(chunk_steps / time_tile) * states_per_thread * threads * 4);
  l.by_kind = threads / rows == 32;
  if (l.by_kind) {
    // A lane stores its states' terms of a step as vectors; the reduction reads (step, state)
    // with the step fastest. The 4-float pad puts 8 steps of 4 states in distinct banks. In
    // parts, backward_part_red_pitch.
    l.red_pitch = parts ? backward_part_red_pitch(in_bytes) : static_cast<int>(npad) + 4;
    l.red = o; o += var_B || var_C ? align16(warps * time_tile * l.red_pitch * 4) : 0;
  } else {
    l.red_pitch = backward_step_red_pitch(time_tile);
    l.red = o; o += var_B || var_C ? align16(warps * 2 * npad * l.red_pitch * 4) : 0;
  }
  l.total = o;
  return l;
}

}  // namespace detail
}  // namespace s6scan
