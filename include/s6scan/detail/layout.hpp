// SPDX-License-Identifier: MIT
#pragma once

// Where the kernels keep things: the byte offsets of the forward's and the backward's dynamic
// shared memory, computed from the runtime dstate and the configuration, and the parts of the
// backward's workspace. Shared by the launchers (sizes), the checks (fit) and the kernels
// (offsets).

#include <cstdint>

#include "../args.hpp"
#include "../config.hpp"
#include "../tuning.hpp"

namespace s6scan::detail {

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

/// @brief a * b, false where it overflows 64 bits (r is then unspecified).
[[nodiscard]] inline bool mul_fits(int64_t a, int64_t b, int64_t* r) noexcept {
  return !__builtin_mul_overflow(a, b, r);
}

/// @brief A product of sizes that remembers whether it overflowed; every step is checked.
struct checked_size {
  int64_t v = 0;
  bool overflow = false;
  [[nodiscard]] checked_size operator*(int64_t b) const noexcept {
    checked_size r = *this;
    r.overflow = overflow || __builtin_mul_overflow(v, b, &r.v);
    return r;
  }
  [[nodiscard]] checked_size operator+(checked_size b) const noexcept {
    checked_size r;
    r.overflow = overflow || b.overflow || __builtin_add_overflow(v, b.v, &r.v);
    return r;
  }
};
[[nodiscard]] inline checked_size checked(int64_t v) noexcept { return {v, false}; }

/// @brief Where each part of the backward's workspace lies, in floats from its start.
///
/// A backward split in time (backward_time_segments) keeps its per-channel sums per segment and
/// the segments' end adjoints; `segments` is how many it has room for (backward_segment_room: 1
/// where its blocks have threads enough that no device splits it). BDN is batch x dim x dstate.
struct backward_workspace_layout {
  int64_t carry = 0;      ///< (batch, dim, dstate) the adjoint between windows
  int64_t seg_dh = 0;     ///< (segments, BDN) each segment's end adjoint (a split launch)
  int64_t seg_decay = 0;  ///< (segments - 1, BDN) each segment's decay, from the carry pass
  int64_t acc_A = 0;      ///< (segments, batch, dim, dstate) dA per segment and batch
  int64_t acc_B = 0;      ///< the same for a constant B's gradient
  int64_t acc_C = 0;      ///< the same for a constant C's gradient
  int64_t acc_D = 0;      ///< (segments, batch, dim) dD per segment and batch
  int64_t acc_bias = 0;   ///< (segments, batch, dim) ddelta_bias per segment and batch
  int64_t part_B = 0;     ///< (batch, groups, blocks per group, dstate, window steps), varying B
  int64_t part_C = 0;     ///< the same for a varying C
  int64_t floats = 0;     ///< total size
  int64_t blocks_per_group = 0;
  int64_t chunk_steps = 0;      ///< steps per chunk: the configuration's (kChunkSteps)
  int64_t num_chunks = 0;       ///< chunks of chunk_steps
  int64_t saved_chunks = 0;     ///< the forward's saved states per channel: checkpoint_chunks
  int64_t saved_per_chunk = 0;  ///< chunk_steps / checkpoint_steps(dstate): 4 where a
                                ///< MaxDState above 16 runs a dstate up to 16, else 1
  int64_t window_chunks = 0;  ///< chunks per launch
  int64_t segments = 1;       ///< the most time segments a launch may use
  /// The sizes overflow 64 bits: nothing above is meaningful. Last, so that the kernels' view of
  /// the fields above keeps its layout.
  bool overflow = false;
};

/// @brief The backward's workspace layout for arguments whose sizes are positive and whose groups
///        divide dim (check_forward_args has passed); `overflow` is set where it exceeds 64 bits.
template <class InT, class OutT>
backward_workspace_layout make_backward_workspace_layout(const backward_args<InT, OutT>& a,
                                                         const kernel_shape& shape) noexcept {
  const int rows = shape.rows;
  const auto& f = a.fwd;
  backward_workspace_layout w;
  const bool var_B = f.B.data != nullptr, var_C = f.C.data != nullptr;
  w.blocks_per_group = (f.dim / f.groups + rows - 1) / rows;
  w.chunk_steps = checkpoint_steps(shape.max_dstate);
  w.num_chunks = (f.seqlen + w.chunk_steps - 1) / w.chunk_steps;
  w.saved_chunks = checkpoint_chunks(f.seqlen, f.dstate);
  w.saved_per_chunk = w.chunk_steps / checkpoint_steps(f.dstate);
  // Floats of dB/dC block partials per chunk, 4 bytes each.
  const checked_size bgn = checked(f.batch) * f.groups * w.blocks_per_group * f.dstate;
  const checked_size per_chunk = bgn * w.chunk_steps * (var_B + var_C) * 4;
  w.overflow = per_chunk.overflow;
  w.window_chunks = w.num_chunks;
  if (!w.overflow && per_chunk.v > 0 && w.num_chunks > a.partial_budget / per_chunk.v) {
    const int64_t fit = a.partial_budget / per_chunk.v;
    w.window_chunks = fit < 1 ? 1 : fit;
  }
  if (!w.overflow)
    w.segments = backward_segment_room(f.batch * f.groups * w.blocks_per_group, shape.threads,
                                       w.window_chunks);
  checked_size total = checked(0);
  auto take = [&](checked_size n) {
    const int64_t at = total.v;
    total = total + n + checked(3);  // then rounded down: 16-byte aligned parts
    if (!total.overflow) total.v = total.v / 4 * 4;
    return at;
  };
  const checked_size bdn = checked(f.batch) * f.dim * f.dstate, bd = checked(f.batch) * f.dim;
  const checked_size part = bgn * w.window_chunks * w.chunk_steps;
  const int64_t k = w.segments;
  const checked_size none = checked(0);
  w.carry = take(bdn);
  w.seg_dh = take(k > 1 ? bdn * k : none);
  w.seg_decay = take(k > 1 ? bdn * (k - 1) : none);
  w.acc_A = take(bdn * k);
  w.acc_B = take(var_B ? none : bdn * k);
  w.acc_C = take(var_C ? none : bdn * k);
  w.acc_D = take(bd * k);
  w.acc_bias = take(bd * k);
  w.part_B = take(var_B ? part : none);
  w.part_C = take(var_C ? part : none);
  // Bytes, too, must fit.
  const checked_size bytes = total * 4;
  w.overflow = w.overflow || bytes.overflow;
  w.floats = total.v;
  return w;
}

}  // namespace s6scan::detail
