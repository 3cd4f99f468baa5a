// SPDX-License-Identifier: MIT
#pragma once

// The backward scan kernel. One block owns NRows channels of one (batch, group) pair, like the
// forward, and walks the sequence backwards one chunk (backward_config::kChunkSteps steps:
// checkpoint_steps(MaxDState), a multiple of the forward's checkpoint interval at any dstate up to
// MaxDState) at a time. For each chunk it
//   1. starts from the state the forward saved at the chunk's start (or h0, or zero),
//   2. recomputes the states forward through all tiles but the last, keeping each tile's first
//      state in shared memory (nothing to do where a chunk is one tile: 16 steps at MaxDState 16),
//   3. then, tile by tile from the last: recomputes the tile's states into registers (the state
//      before every step), and runs the adjoint dh backwards through them, producing du, ddelta
//      and dz per step, dA (and a constant B/C's gradient) per thread, and the time-varying dB/dC
//      terms per (channel, state, step). Each warp sums those over its channels with shuffles (a
//      reduce-scatter: every lane ends with the sum of one (term, state)); the block then adds up
//      its warps' sums in shared memory. With one channel per warp (32 lanes) there is nothing to
//      shuffle: the dC terms are stored while the states are recomputed and summed, then the dB
//      terms through the same buffer, so that it holds one kind at a time.
// Each tile's raw inputs are copied with cp.async into one of two stages while the previous tile
// is being worked on; tiles are visited in the order above, so the next one is always known.
// With one lane per channel (kOwnRows) there are no float tiles: the thread that owns a channel
// works from its raw rows in the stage (as the forward's one-lane path does), reads a time-varying
// B/C straight from its raw tile, and writes du, ddelta and dz over the u, delta and z it has
// read; the block then stores them coalesced.
//
// Time split (backward_time_segments: few channel blocks, a long window): each launch's chunks are
// cut into segments of whole chunks, one grid of blocks per segment. The adjoint is linear in
// its end value, so over a segment dh_start = decay * dh_end + local, where decay is
// exp2(A log2(e) * sum of the segment's steps) and local is dh_start from dh_end = 0. A carry
// pass (Carry = true: reads only the steps, C, z and dout) runs every segment but the first from
// zero and leaves local and decay in the workspace; backward_combine_kernel chains them from the
// launch's own end adjoint (the last-state gradient, or the previous launch's result) into every
// segment's true end adjoint; the full pass then runs each segment from it. dA, dD, ddelta_bias
// and a constant B/C's gradient are kept per segment and added in segment order at the end.
//
// Every sum runs in a fixed order (lanes and the channels of a warp by shuffles, the warps of a
// block in index order, blocks of a group and batches in index order in the reduction kernels), so
// the gradients are the same bits on every run. Padded steps (past seqlen) have step 0 and zero
// inputs; they change nothing.

#include <cstdint>
#include <type_traits>

#include "../args.hpp"
#include "../config.hpp"
#include "../numeric.hpp"
#include "backward_params.cuh"
#include "layout.hpp"
#include "ptx.cuh"
#include "tile_io.cuh"

namespace s6scan::detail {

template <class Config, class InT, class OutT, bool Carry>
class backward_agent {
  static constexpr int kRows = Config::kRows;
  static constexpr int kTime = Config::kTimeTile;
  static constexpr int kStates = Config::kStatesPerThread;
  static constexpr int kLanes = Config::kLanesPerRow;
  static constexpr int kThreads = Config::kThreads;
  static constexpr int kChunk = Config::kChunkSteps;  // steps per chunk
  static constexpr int kTiles = Config::kTilesPerChunk;
  static constexpr int kStateVec = kStates >= 4 ? 4 : kStates;
  // One channel per warp: the warp's dB/dC terms have nothing to add up among its lanes, so each
  // lane stores them as vectors, one kind at a time (dC's while the states are recomputed, dB's
  // with the adjoint), through a buffer half the size (backward_smem_layout::by_kind).
  static constexpr bool kByKind = kLanes == 32;
  // One lane per channel: the thread that owns a channel reads its raw rows of the stage, and
  // writes its du, ddelta and dz over the u, delta and z it has read; no float tiles, no prologue.
  static constexpr bool kOwnRows = kLanes == 1;
  // The adjoint in parts of 4 states (backward_state_parts), with the tile starts in starts_.
  static constexpr int kParts = backward_state_parts(kStates, kLanes);
  static constexpr int kPartKinds = backward_part_kinds(int(sizeof(InT)));
  static constexpr int kPartRedPitch = backward_part_red_pitch(int(sizeof(InT)));
  // One channel per warp with whole 4-state vectors: reduce_bc_terms reads float4s (the rows are
  // npad + 4 floats, or kPartRedPitch, apart) and a thread keeps one step.
  static constexpr bool kVecReduce = kByKind && kStates % 4 == 0 && kThreads % kTime == 0;
  static constexpr int kRedPitch = backward_step_red_pitch(kTime);  // several channels per warp
  // The lane index's bits: a channel's lanes (low), the warp's channels (high).
  static constexpr int kLaneBits = ilog2(kLanes), kRowBits = ilog2(32 / kLanes);
  static constexpr int kRun = 16 / int(sizeof(InT)) < kTime ? 16 / int(sizeof(InT)) : kTime;
  // A chunk of one tile (dstate <= 16): every item starts a chunk, so the saved state it starts
  // from is copied into the stage with the item's inputs (backward_smem_layout::raw_h0): loaded
  // when the item began, it would stall every tile on a global load and the barrier after it.
  static constexpr bool kStartInStage = kTiles == 1 && !Carry;
  using svec = float_vec<kStateVec>;

  // One tile of the walk: pass 1 (forward, keeps tile starts) or pass 2 (recompute + adjoint).
  struct item {
    int64_t chunk;
    int tile;
    bool forward;
    bool valid;
  };

  const backward_params<InT, OutT>& p_;
  const backward_args<InT, OutT>& a_;
  const forward_args<InT, OutT>& f_;
  const backward_smem_layout& l_;
  char* smem_;
  const int tid_ = threadIdx.x;
  const int row_ = threadIdx.x / kLanes;
  const int lane_ = threadIdx.x % kLanes;
  int64_t b_ = 0, g_ = 0, cb_ = 0, d0_ = 0;
  int seg_ = 0;  // this block's time segment
  int rows_valid_ = 0;
  int first_state_ = 0;
  int swz_ = 0;  // in parts: this lane's part_swizzle of its B/C vectors

  float h_[kStates];
  float dh_[kStates];
  float a2_[kStates];  // A * log2(e)
  float accA_[kStates];
  float accB_[kStates];  // constant B's gradient; unused for a varying B, and in parts (acc_slot)
  float accC_[kStates];
  float accD_ = 0.f, accBias_ = 0.f;  // per lane; finish adds up a channel's lanes
  // In parts (kParts > 1), each tile's first state: (tiles, states) in run()'s local array. (An
  // array member indexed by tile put the whole agent in local memory.)
  float* starts_ = nullptr;
  float span_ = 0.f;                  // the carry pass: the sum of the segment's steps
  const float* Bp_ = nullptr;
  const float* Cp_ = nullptr;
  int Bstep_ = 0, Cstep_ = 0;

  template <class T>
  __device__ T* at(int64_t offset) const {
    return reinterpret_cast<T*>(smem_ + offset);
  }
  template <class T>
  __device__ T* stage(int s, int64_t offset) const {
    return reinterpret_cast<T*>(smem_ + s * l_.stage_bytes + offset);
  }

  // The first chunk of this block's segment (the carry pass skips segment 0). Recomputed when
  // needed: a member kept for it across the walk costs registers in every loop of the walk.
  __device__ int64_t segment_begin() const {
    const unsigned seg = blockIdx.x / unsigned(p_.blocks_per_segment) + (Carry ? 1 : 0);
    return p_.chunk_begin + int64_t(seg) * p_.segment_chunks;
  }
  __device__ int tiles_in_chunk(int64_t c) const {
    const int64_t left = f_.seqlen - c * kChunk;
    return left >= kChunk ? kTiles : int((left + kTime - 1) / kTime);
  }
  __device__ item chunk_start(int64_t c) const {
    if (c < segment_begin()) return {c, 0, false, false};
    if (Carry) return {c, tiles_in_chunk(c) - 1, false, true};  // no recompute pass
    return {c, 0, tiles_in_chunk(c) >= 2, true};
  }
  __device__ item next(const item& it) const {
    const int m = tiles_in_chunk(it.chunk);
    if (it.forward) {
      if (it.tile + 1 <= m - 2) return {it.chunk, it.tile + 1, true, true};
      return {it.chunk, m - 1, false, true};
    }
    if (it.tile > 0) return {it.chunk, it.tile - 1, false, true};
    return chunk_start(it.chunk - 1);
  }
  __device__ int64_t first_step(const item& it) const {
    return it.chunk * kChunk + int64_t(it.tile) * kTime;
  }

  __device__ void load_stage(int s, const item& it) const {
    const int64_t t0 = first_step(it), L = f_.seqlen;
    auto seq = [&](int64_t off, const auto& x, unsigned bit) {
      using T = typename std::remove_const<typename std::remove_pointer<decltype(x.data)>::type>::type;
      T* dst = stage<T>(s, off);
      load_rows<kTime, kThreads>(dst, kTime, x.data + b_ * x.batch_stride + d0_ * x.dim_stride,
                                 x.dim_stride, rows_valid_, t0, L, piece_for<T>(p_, bit));
      for (int i = rows_valid_ * kTime + tid_; i < kRows * kTime; i += kThreads)
        dst[i] = from_float<T>(0.f);
    };
    if (!Carry) seq(l_.raw_u, f_.u, kVecU);
    seq(l_.raw_delta, f_.delta, kVecDelta);
    if (!it.forward) {
      if (f_.z.data) seq(l_.raw_z, f_.z, kVecZ);
      seq(l_.raw_dout, a_.dout, kVecDout);
    }
    const int ds = int(f_.dstate);
    if (f_.B.data && !Carry)
      load_rows<kTime, kThreads>(stage<InT>(s, l_.raw_B), l_.raw_bc_pitch,
                                 f_.B.data + b_ * f_.B.batch_stride + g_ * f_.B.group_stride,
                                 f_.B.state_stride, ds, t0, L, piece_for<InT>(p_, kVecB));
    if (f_.C.data && !it.forward)  // the recompute pass needs no C
      load_rows<kTime, kThreads>(stage<InT>(s, l_.raw_C), l_.raw_bc_pitch,
                                 f_.C.data + b_ * f_.C.batch_stride + g_ * f_.C.group_stride,
                                 f_.C.state_stride, ds, t0, L, piece_for<InT>(p_, kVecC));
    if constexpr (kStartInStage) {
      const float* src = row_ < rows_valid_ ? chunk_start_state(it.chunk) : nullptr;
      float* dst = stage<float>(s, l_.raw_h0) + tid_;
#pragma unroll
      for (int n = 0; n < kStates; ++n) {
        const bool on = src && first_state_ + n < f_.dstate;
        // Nothing is read where `on` is false (zero-filled); the address only has to be valid.
        const void* from = on ? static_cast<const void*>(src + first_state_ + n)
                              : static_cast<const void*>(f_.delta.data);
        copy_zfill<4>(dst + n * kThreads, from, on ? 4 : 0);
      }
    }
    copy_commit();
  }

  // Steps (after bias and softplus, as the forward computes them) and step * u for every (row,
  // step); in pass 2 also dy, the gradient reaching y, and the softplus' derivative (zero past
  // seqlen, so that padded steps add nothing to ddelta_bias). B/C tiles become float
  // [step][state]. The carry pass needs the steps, dy and C only.
  __device__ void prologue(int s, const item& it) const {
    const InT* ru = stage<const InT>(s, l_.raw_u);
    const InT* rd = stage<const InT>(s, l_.raw_delta);
    const InT* rz = stage<const InT>(s, l_.raw_z);
    const OutT* ro = stage<const OutT>(s, l_.raw_dout);
    float* dt = at<float>(l_.dt);
    float* du = at<float>(l_.du);
    float* dy = at<float>(l_.dy);
    float* sg = at<float>(l_.sg);
    const float* bias = at<const float>(l_.bias);
    const int P = l_.tile_pitch;
    const int64_t t0 = first_step(it), L = f_.seqlen;
    const bool has_z = f_.z.data != nullptr;
    for (int i = tid_; i < kRows * kTime; i += kThreads) {
      const int r = i / kTime, j = i % kTime;
      const bool in = t0 + j < L;
      const float x = to_float(rd[i]) + bias[r];
      const float sp = softplus(x);
      const float delta = in ? (f_.delta_softplus ? sp : x) : 0.f;
      dt[r * P + j] = delta;
      if (!Carry) du[r * P + j] = delta * to_float(ru[i]);
      if (!it.forward) {
        const float go = to_float(ro[i]);  // zero past seqlen and past the group's rows
        dy[r * P + j] = has_z ? go * silu(to_float(rz[i])) : go;
        if (!Carry) sg[r * P + j] = in ? (f_.delta_softplus ? sigmoid(x) : 1.f) : 0.f;
      }
    }
    if (f_.B.data && !Carry) transpose_bc(stage<const InT>(s, l_.raw_B), at<float>(l_.Bf));
    if (f_.C.data && !it.forward) transpose_bc(stage<const InT>(s, l_.raw_C), at<float>(l_.Cf));
  }

  // Raw [state][step] tile -> float [step][state], zero in the padded states.
  __device__ void transpose_bc(const InT* raw, float* dst) const {
    if constexpr (kParts > 1)
      transpose_states<kTime, kThreads, true, kStates, 0, true>(raw, l_.raw_bc_pitch,
                                                                int(f_.dstate), l_.npad, dst);
    else
      transpose_states<kTime, kThreads, true>(raw, l_.raw_bc_pitch, int(f_.dstate), l_.npad, dst);
  }

  // Where this lane's vector q of B/C states is (swizzled in parts).
  __device__ int vq(int q) const {
    if constexpr (kParts > 1) return q ^ swz_;
    return q;
  }

  // State n at the start of tile `tile` of the chunk: kept, and read back.
  __device__ void save_start(int tile, int n, float v) {
    if constexpr (kParts > 1)
      starts_[tile * kStates + n] = v;
    else
      at<float>(l_.starts)[(tile * kStates + n) * kThreads + tid_] = v;
  }
  __device__ float tile_start(int tile, int n) const {
    if constexpr (kParts > 1) return starts_[tile * kStates + n];
    return at<const float>(l_.starts)[(tile * kStates + n) * kThreads + tid_];
  }

  // This thread's channel's state at the start of chunk c (its state 0), or null where that is
  // zero (no initial state). The caller checks the row.
  __device__ const float* chunk_start_state(int64_t c) const {
    const int64_t d = d0_ + row_;
    if (c > 0)  // the state after step c * kChunk - 1
      return p_.states +
             ((b_ * f_.dim + d) * p_.w.saved_chunks + (c * p_.w.saved_per_chunk - 1)) * f_.dstate;
    if (f_.initial_state.data)
      return f_.initial_state.data + b_ * f_.initial_state.batch_stride +
             d * f_.initial_state.dim_stride;
    return nullptr;
  }

  // Loads the state at the start of chunk c into h_ and records it as tile 0's start: from stage
  // s, where load_stage copied it (kStartInStage, after this thread's copy_wait), else from
  // global memory.
  __device__ void begin_chunk(int s, int64_t c) {
    if constexpr (kStartInStage) {
#pragma unroll
      for (int n = 0; n < kStates; ++n) {
        h_[n] = stage<const float>(s, l_.raw_h0)[n * kThreads + tid_];
        save_start(0, n, h_[n]);
      }
    } else {
      const bool row_ok = row_ < rows_valid_;
      const float* src = chunk_start_state(c);
#pragma unroll
      for (int n = 0; n < kStates; ++n) {
        const bool on = row_ok && src && first_state_ + n < f_.dstate;
        h_[n] = on ? src[first_state_ + n] : 0.f;
        save_start(0, n, h_[n]);
      }
    }
  }

  __device__ void bc_at(int j, const typename svec::type*& bp,
                        const typename svec::type*& cp) const {
    bp = reinterpret_cast<const typename svec::type*>(Bp_ + j * Bstep_);
    cp = reinterpret_cast<const typename svec::type*>(Cp_ + j * Cstep_);
  }

  // Pass 1: advances h_ through one tile and records the next tile's start.
  __device__ void advance_tile(int tile) {
    const int P = l_.tile_pitch;
    const float* dtr = at<const float>(l_.dt) + row_ * P;
    const float* dur = at<const float>(l_.du) + row_ * P;
#pragma unroll 4
    for (int j = 0; j < kTime; ++j) {
      const float dt = dtr[j], du = dur[j];
      const typename svec::type *bp, *cp;
      bc_at(j, bp, cp);
#pragma unroll
      for (int q = 0; q < kStates / kStateVec; ++q) {
        const auto bv = bp[vq(q)];
#pragma unroll
        for (int e = 0; e < kStateVec; ++e) {
          const int n = q * kStateVec + e;
          h_[n] = fmaf(ex2(dt * a2_[n]), h_[n], du * svec::get(bv, e));
        }
      }
    }
    if (tile + 1 < kTiles)
#pragma unroll
      for (int n = 0; n < kStates; ++n) save_start(tile + 1, n, h_[n]);
  }

  // The carry pass through one tile: the adjoint backwards, and the sum of the steps.
  __device__ void carry_tile() {
    const int P = l_.tile_pitch;
    const float* dtr = at<const float>(l_.dt) + row_ * P;
    const float* dyr = at<const float>(l_.dy) + row_ * P;
#pragma unroll 4
    for (int j = kTime - 1; j >= 0; --j) {
      const float dt = dtr[j], dy = dyr[j];
      const typename svec::type *bp, *cp;
      bc_at(j, bp, cp);
#pragma unroll
      for (int q = 0; q < kStates / kStateVec; ++q) {
        const auto cv = cp[vq(q)];
#pragma unroll
        for (int e = 0; e < kStateVec; ++e) {
          const int n = q * kStateVec + e;
          dh_[n] = fmaf(svec::get(cv, e), dy, dh_[n]) * ex2(dt * a2_[n]);
        }
      }
      span_ += dt;
    }
  }

  template <class T>
  __device__ static T lane_sum(T v) {
#pragma unroll
    for (int off = kLanes / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
  }

  // Sums v over the lanes that differ only in lane bits [Shift, Shift + Bits), a reduce-scatter
  // over units of W consecutive values: each round pairs the lanes of two halves of those lanes
  // (the top bit first); each keeps the half of its units that its bit selects and adds its
  // partner's copy of that half. Once a lane keeps one unit, the remaining bits are summed
  // outright. Afterwards v[0, W * held_units) holds the sums of the units from
  // scatter_first(lane) on; a lane whose remaining bits are not all zero holds copies.
  template <int Shift, int Bits, int W, int V>
  __device__ void scatter_sum(float (&v)[V]) const {
    constexpr int kUnits = V / W;
    constexpr int kScatter = Bits < ilog2(kUnits) ? Bits : ilog2(kUnits);
    const int lane = tid_ % 32;
#pragma unroll
    for (int round = 0; round < kScatter; ++round) {
      const int bit = Shift + Bits - 1 - round;
      const int half = (kUnits >> (round + 1)) * W;
      const bool upper = (lane >> bit) & 1;
      // A constant trip count: with `k < half` the loop was unrolled only 4 times at V = 32, so v
      // was indexed at run time and went to local memory.
#pragma unroll
      for (int k = 0; k < V / 2; ++k) {
        if (k >= half) break;
        const float keep = upper ? v[k + half] : v[k];
        const float send = upper ? v[k] : v[k + half];
        v[k] = keep + __shfl_xor_sync(0xffffffffu, send, 1 << bit);
      }
    }
#pragma unroll
    for (int bit = Shift + Bits - 1 - kScatter; bit >= Shift; --bit)
#pragma unroll
      for (int w = 0; w < W; ++w) v[w] += __shfl_xor_sync(0xffffffffu, v[w], 1 << bit);
  }
  // The units a lane holds after scatter_sum<Shift, Bits, W>: V / W halved Bits times, at least 1.
  template <int Bits, int W, int V>
  __host__ __device__ static constexpr int held_units() {
    return (V / W) >> Bits > 0 ? (V / W) >> Bits : 1;
  }
  // The first unit `lane` holds after scatter_sum<Shift, Bits, W> of V values (the scattered,
  // top, bits of its field times held_units), or -1 where a lower lane holds the same sums.
  template <int Shift, int Bits, int W, int V>
  __device__ static int scatter_first(int lane) {
    constexpr int kScatter = Bits < ilog2(V / W) ? Bits : ilog2(V / W);
    const int field = (lane >> Shift) & ((1 << Bits) - 1);
    if (field & ((1 << (Bits - kScatter)) - 1)) return -1;
    return (field >> (Bits - kScatter)) * held_units<Bits, W, V>();
  }

  // Sums V values over the channels of this warp (scatter_sum over the channel bits of the lane
  // index), and the lowest channel of each set calls put(index, sum) for each of its values
  // (index: the value's place in v).
  template <int V, class Put>
  __device__ void reduce_scatter(float (&v)[V], Put&& put) const {
    scatter_sum<kLaneBits, kRowBits, 1>(v);
    const int first = scatter_first<kLaneBits, kRowBits, 1, V>(tid_ % 32);
    if (first < 0) return;
#pragma unroll
    for (int k = 0; k < held_units<kRowBits, 1, V>(); ++k) put(first + k, v[k]);
  }

  // This warp's slice of the `red` buffer: [kind][state][step], rows red_pitch floats apart.
  __device__ float* warp_red() const {
    return at<float>(l_.red) + (tid_ / 32) * 2 * l_.npad * l_.red_pitch;
  }

  // Several channels per warp: where this lane leaves its sums of a step's dC and dB terms in
  // the warp's slice of the `red` buffer (reduce_step_terms; step j at slot + j), or null where it
  // leaves none. Its sums are held_units consecutive values of one kind, dC's (v[0, kStates))
  // or dB's (v[kStates, 2 kStates)), of this lane's states.
  __device__ float* step_terms_slot() const {
    const int first = scatter_first<kLaneBits, kRowBits, 1, 2 * kStates>(tid_ % 32);
    if (first < 0 || first_state_ >= l_.npad) return nullptr;
    const int kind = first / kStates, n = first_state_ + first % kStates;
    return warp_red() + (kind * l_.npad + n) * kRedPitch;
  }

  // Sums one step's dC (v[0, kStates)) and dB (v[kStates, 2 kStates)) terms over the channels of
  // this warp and stores them at `slot` (step_terms_slot) + j, a value's state kRedPitch apart.
  __device__ void reduce_step_terms(float (&v)[2 * kStates], float* slot, int j) const {
    scatter_sum<kLaneBits, kRowBits, 1>(v);
    if (slot == nullptr) return;
#pragma unroll
    for (int k = 0; k < held_units<kRowBits, 1, 2 * kStates>(); ++k) slot[k * kRedPitch + j] = v[k];
  }

  // One lane per channel: sums a whole tile's dC and dB terms (v[(kind * kStates + n) * kTime + j])
  // over the warp's channels in one reduce-scatter and stores them in the warp's slice of `red`.
  // At dstate 1 (32 values, 32 channels) that is 31 shuffles per tile where a reduction per step
  // took 5 per step, and every lane stores one sum.
  __device__ void reduce_tile_terms(float (&v)[2 * kStates * kTime]) const {
    float* red = warp_red();
    reduce_scatter(v, [&](int idx, float x) {
      const int c = idx / (kStates * kTime), n = first_state_ + idx / kTime % kStates;
      if (n < l_.npad) red[(c * l_.npad + n) * l_.red_pitch + idx % kTime] = x;
    });
  }

  // One channel per warp (kByKind): stores one kind of this lane's terms of step j.
  __device__ void store_terms(const float (&v)[kStates], int j) const {
    if (first_state_ >= l_.npad) return;
    auto* dst = reinterpret_cast<typename svec::type*>(
        at<float>(l_.red) + ((tid_ / 32) * kTime + j) * l_.red_pitch + first_state_);
#pragma unroll
    for (int q = 0; q < kStates / kStateVec; ++q) dst[q] = svec::make(v + q * kStateVec);
  }

  // In parts: this thread's sum for state n of a constant B's (kind 1) or C's (0) gradient, in
  // the room the tile starts take otherwise (B's first, where B is constant).
  __device__ float* acc_slot(int kind, int n) const {
    const bool after_B = kind == 0 && f_.B.data == nullptr;
    return at<float>(l_.starts) + ((after_B ? kStates : 0) + n) * kThreads + tid_;
  }

  // In parts, the red buffer's float4 column that holds a lane's 4 terms of one kind (0: dC, 1: dB):
  // two per lane, swizzled, for kPartKinds 2.
  __device__ static int part_red_vec(int lane, int kind) {
    if constexpr (kPartKinds == 1) return lane;
    return lane * 2 + (kind ^ part_swizzle(lane, 2));
  }

  // In parts: stores this lane's 4 terms of one kind of step j. (Indexed as float4s: an offset in
  // floats, not known to be a multiple of 4, made the compiler split the store into 4.)
  __device__ void store_part_terms(const float (&v)[4], int kind, int j) const {
    if (first_state_ >= l_.npad) return;
    auto* dst = reinterpret_cast<float4*>(at<float>(l_.red)) +
                ((tid_ / 32) * kTime + j) * (kPartRedPitch / 4) + part_red_vec(lane_, kind);
    *dst = make_float4(v[0], v[1], v[2], v[3]);
  }

  // This thread's channel's rows: stage s's raw u, and the float tiles of the step, step x u, the
  // gated dout and the softplus' slope.
  struct rows {
    const InT* u;
    const float *dt, *du, *dy, *sg;
  };
  __device__ rows channel_rows(int s) const {
    const int P = l_.tile_pitch;
    return {stage<const InT>(s, l_.raw_u) + row_ * kTime, at<const float>(l_.dt) + row_ * P,
            at<const float>(l_.du) + row_ * P, at<const float>(l_.dy) + row_ * P,
            at<const float>(l_.sg) + row_ * P};
  }

  // Pass 2 of one tile in parts (kParts > 1, one channel per warp): each part of 4 of this lane's
  // states is recomputed through the tile and its adjoint run backwards, as adjoint_tile does for
  // all of them, so that only 4 states' history is live. A part's dC and dB terms go through the
  // red buffer and are summed over the block's channels before the next terms take it: both kinds
  // at once (kPartKinds 2; the last part's after this returns), or dC's after the recompute and
  // dB's after the adjoint (1). The per-step sums over states (the u and step gradients, y with z)
  // gather over the parts before the lanes add them up.
  __device__ void adjoint_parts(int s, const item& it) {
    const int P = l_.tile_pitch;
    const rows r = channel_rows(s);
    const float *dtr = r.dt, *dur = r.du, *dyr = r.dy;
    float* yr = at<float>(l_.y) + row_ * P;
    const bool has_z = f_.z.data != nullptr;
    const bool var_B = f_.B.data != nullptr, var_C = f_.C.data != nullptr;
    static_assert(kStateVec == 4, "parts are one 4-state vector of B and C");

    // This lane's per-step sums over the parts so far (finish_steps): the u gradient's, and
    // sum_n dh a2 decay h.
    float sums[2 * kTime];
#pragma unroll
    for (int j = 0; j < 2 * kTime; ++j) sums[j] = 0.f;
#pragma unroll
    for (int p = 0; p < kParts; ++p) {
      // The previous part's terms, summed before this part's take the buffer.
      if (p > 0 && (kPartKinds == 2 || var_B)) {
        __syncthreads();
        reduce_bc_terms(it, kPartKinds == 2, true, p - 1);
        __syncthreads();
      }
      float h[4], hist[kTime][4];  // this part's states, and their values before each step
      float accB[4], accC[4];      // a constant B's and C's gradient sums, this part's states
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        accB[e] = var_B ? 0.f : *acc_slot(1, p * 4 + e);
        accC[e] = var_C ? 0.f : *acc_slot(0, p * 4 + e);
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) h[e] = tile_start(it.tile, p * 4 + e);
#pragma unroll
      for (int j = 0; j < kTime; ++j) {
        const float dt = dtr[j], du = dur[j];
        const typename svec::type *bp, *cp;
        bc_at(j, bp, cp);
        const auto bv = bp[vq(p)];
        const auto cv = cp[vq(p)];
        float y = 0.f, terms[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          hist[j][e] = h[e];
          h[e] = fmaf(ex2(dt * a2_[p * 4 + e]), h[e], du * svec::get(bv, e));
          y = fmaf(svec::get(cv, e), h[e], y);
          terms[e] = dyr[j] * h[e];
        }
        if (has_z) {  // dz needs the whole y of this step
          y = lane_sum(y);
          if (lane_ == 0) yr[j] = p == 0 ? y : yr[j] + y;
        }
        if (var_C) store_part_terms(terms, 0, j);
      }
      if (kPartKinds == 1 && var_C) {  // dC's terms summed before dB's take the buffer
        __syncthreads();
        reduce_bc_terms(it, true, false, p);
        __syncthreads();
      }
#pragma unroll
      for (int j = kTime - 1; j >= 0; --j) {
        const float dt = dtr[j], du = dur[j], dy = dyr[j];
        const typename svec::type *bp, *cp;
        bc_at(j, bp, cp);
        const auto bv = bp[vq(p)];
        const auto cv = cp[vq(p)];
        float terms[4];  // dB terms
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int n = p * 4 + e;
          const float b = svec::get(bv, e), c = svec::get(cv, e);
          const float h_after = j == kTime - 1 ? h[e] : hist[j + 1][e];
          if (!var_C) accC[e] = fmaf(dy, h_after, accC[e]);
          dh_[n] = fmaf(c, dy, dh_[n]);
          terms[e] = dh_[n] * du;
          if (!var_B) accB[e] = fmaf(dh_[n], du, accB[e]);
          sums[2 * j] = fmaf(dh_[n], b, sums[2 * j]);
          dh_[n] *= ex2(dt * a2_[n]);
          const float x = dh_[n] * hist[j][e];  // dh decay h (dh has this step's decay now)
          sums[2 * j + 1] = fmaf(x, a2_[n], sums[2 * j + 1]);
          accA_[n] = fmaf(x, dt, accA_[n]);
        }
        if (var_B) store_part_terms(terms, kPartKinds - 1, j);
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        if (!var_B) *acc_slot(1, p * 4 + e) = accB[e];
        if (!var_C) *acc_slot(0, p * 4 + e) = accC[e];
      }
    }
    finish_steps<2>(sums, r);
  }

  // Sums the lanes' per-step sums of a tile over the lanes of each channel (one scatter_sum) and
  // finishes each step on the lane that holds it: v[j * W + w] is step j's u-gradient sum
  // (w = 0), sum_n dh a2 decay h (1) and, for W = 3, y (2). The step's gradient goes to the gd
  // tile and into the ddelta_bias sum (finish adds the lanes' sums), the u gradient before its
  // last terms to the gu tile, y to the y tile; store_tile finishes them. The step's gradient is
  // sum_n dh (B u + A decay h) = u * (the u gradient's sum) + ln 2 * sum_n dh a2 decay h, which
  // saves two operations per state.
  template <int W, int V>
  __device__ void finish_steps(float (&v)[V], const rows& r) {
    scatter_sum<0, kLaneBits, W>(v);
    const int first = scatter_first<0, kLaneBits, W, V>(tid_ % 32);
    if (first < 0) return;
    const int P = l_.tile_pitch;
#pragma unroll
    for (int k = 0; k < held_units<kLaneBits, W, V>(); ++k) {
      constexpr float kLn2 = 0.6931471805599453f;
      const int j = first + k, e = row_ * P + j;
      const float gu = v[k * W], u = to_float(r.u[j]);
      const float g_delta = fmaf(u, gu, kLn2 * v[k * W + 1]) * r.sg[j];
      at<float>(l_.gu)[e] = gu;
      at<float>(l_.gd)[e] = g_delta;
      if constexpr (W == 3) at<float>(l_.y)[e] = v[k * W + 2];
      accBias_ += g_delta;
      accD_ = fmaf(r.dy[j], u, accD_);
    }
  }

  // Pass 2 of one tile: recompute its states, then run the adjoint backwards through them. The
  // lanes' per-step sums (the u gradient's, the step gradient's part and y with z) are kept for
  // the whole tile and summed after it by finish_steps: for 16 lanes per channel that is 16
  // shuffles per tile where a sum per step took 8 per step (12 with z).
  __device__ void adjoint_tile(int s, const item& it) {
    const rows r = channel_rows(s);
    const bool has_z = f_.z.data != nullptr;
    const bool var_B = f_.B.data != nullptr, var_C = f_.C.data != nullptr;

#pragma unroll
    for (int n = 0; n < kStates; ++n) h_[n] = tile_start(it.tile, n);

    float hist[kTime][kStates];  // the state before each step of the tile
#pragma unroll
    for (int j = 0; j < kTime; ++j) {
      const float dt = r.dt[j], du = r.du[j];
      const typename svec::type *bp, *cp;
      bc_at(j, bp, cp);
#pragma unroll
      for (int q = 0; q < kStates / kStateVec; ++q) {
        const auto bv = bp[q];
#pragma unroll
        for (int e = 0; e < kStateVec; ++e) {
          const int n = q * kStateVec + e;
          hist[j][n] = h_[n];
          h_[n] = fmaf(ex2(dt * a2_[n]), h_[n], du * svec::get(bv, e));
        }
      }
      if (kByKind && var_C) {
        const float dy = r.dy[j];
        float terms[kStates];
#pragma unroll
        for (int n = 0; n < kStates; ++n) terms[n] = dy * h_[n];
        store_terms(terms, j);
      }
    }
    if (kByKind && var_C) {  // dC's terms summed before dB's take the buffer
      __syncthreads();
      reduce_bc_terms(it, true, false);
      __syncthreads();
    }

    float sums[3 * kTime];  // per step: the u gradient's sum, sum_n dh a2 decay h, y
    float* const slot = !kByKind && (var_B || var_C) ? step_terms_slot() : nullptr;
#pragma unroll
    for (int j = kTime - 1; j >= 0; --j) {
      const float dt = r.dt[j], du = r.du[j], dy = r.dy[j];
      const typename svec::type *bp, *cp;
      bc_at(j, bp, cp);
      float gu = 0.f, ga = 0.f, y = 0.f;
      float terms[2 * kStates];  // dC terms, then dB terms
#pragma unroll
      for (int q = 0; q < kStates / kStateVec; ++q) {
        const auto bv = bp[q];
        const auto cv = cp[q];
#pragma unroll
        for (int e = 0; e < kStateVec; ++e) {
          const int n = q * kStateVec + e;
          const float b = svec::get(bv, e), c = svec::get(cv, e);
          const float h_after = j == kTime - 1 ? h_[n] : hist[j + 1][n];
          terms[n] = dy * h_after;
          if (has_z) y = fmaf(c, h_after, y);
          if (!var_C) accC_[n] = fmaf(dy, h_after, accC_[n]);
          dh_[n] = fmaf(c, dy, dh_[n]);
          terms[kStates + n] = dh_[n] * du;
          if (!var_B) accB_[n] = fmaf(dh_[n], du, accB_[n]);
          gu = fmaf(dh_[n], b, gu);
          dh_[n] *= ex2(dt * a2_[n]);
          const float x = dh_[n] * hist[j][n];  // dh decay h (dh has this step's decay now)
          ga = fmaf(x, a2_[n], ga);
          accA_[n] = fmaf(x, dt, accA_[n]);
        }
      }
      if (kByKind) {
        if (var_B) {
          float bterms[kStates];
#pragma unroll
          for (int n = 0; n < kStates; ++n) bterms[n] = terms[kStates + n];
          store_terms(bterms, j);
        }
      } else if (var_B || var_C) {
        reduce_step_terms(terms, slot, j);
      }
      sums[3 * j] = gu;
      sums[3 * j + 1] = ga;
      sums[3 * j + 2] = y;
    }
    if (has_z) {
      finish_steps<3>(sums, r);
    } else {
      float v[2 * kTime];
#pragma unroll
      for (int j = 0; j < kTime; ++j) v[2 * j] = sums[3 * j], v[2 * j + 1] = sums[3 * j + 1];
      finish_steps<2>(v, r);
    }
  }

  // Adds up the warps' dB/dC sums of the tile and writes them as this block's partials: dC's
  // (with_C) and dB's (with_B), those of them the buffer holds; in parts, those of part `part`.
  __device__ void reduce_bc_terms(const item& it, bool with_C, bool with_B, int part = 0) const {
    const bool var_B = with_B && f_.B.data, var_C = with_C && f_.C.data;
    if (!var_B && !var_C) return;
    constexpr int kWarps = kThreads / 32;
    const int64_t t0 = first_step(it), L = f_.seqlen;
    const int64_t N = f_.dstate;
    const int64_t window_steps = p_.w.window_chunks * kChunk;
    const int64_t window_t0 = p_.chunk_begin * kChunk;
    const int64_t base =
        ((b_ * f_.groups + g_) * p_.w.blocks_per_group + cb_) * N * window_steps + t0 - window_t0;
    const float* red = at<const float>(l_.red);
    const int RP = kParts > 1 ? kPartRedPitch : kByKind ? l_.red_pitch : kRedPitch;
    const int warp_stride = kByKind ? kTime * RP : 2 * l_.npad * RP;
    if constexpr (kVecReduce) {
      // A thread sums one step of 4 states, a float4 of each warp's row: in parts, one lane's 4
      // states of the part; else states 4v..4v+3. The indices are unsigned and divided by
      // constants. (One scalar per state and step, with the general loop's index arithmetic, took
      // about a fifth of the dstate-256 kernel's instructions.)
      const unsigned j = unsigned(tid_) % kTime;
      if (t0 + j >= L) return;
      const float4* row = reinterpret_cast<const float4*>(red + j * RP);
      const int vec_stride = warp_stride / 4;
      const unsigned vecs = unsigned(kParts > 1 ? l_.npad / kStates : l_.npad / 4);
      for (unsigned v = unsigned(tid_) / kTime; v < vecs; v += kThreads / kTime) {
        const int64_t n0 = kParts > 1 ? v * kStates + part * 4 : v * 4;
        if (n0 >= N) break;  // n0 grows with v
        auto put = [&](int kind, int64_t at) {
          const float4* src = row + (kParts > 1 ? part_red_vec(int(v), kind) : int(v));
          float4 t = src[0];
#pragma unroll
          for (int w = 1; w < kWarps; ++w) {
            const float4 x = src[w * vec_stride];
            t.x += x.x, t.y += x.y, t.z += x.z, t.w += x.w;
          }
          const float sums[4] = {t.x, t.y, t.z, t.w};
          at += base + n0 * window_steps + j;
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (n0 + e < N) p_.ws[at + e * window_steps] = sums[e];
        };
        if (var_C) put(0, p_.w.part_C);
        if (var_B) put(1, p_.w.part_B);
      }
    } else {
      auto sum = [&](const float* src) {
        float v = 0.f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) v += src[w * warp_stride];
        return v;
      };
      for (int i = tid_; i < N * kTime; i += kThreads) {
        const int n = i / kTime, j = i % kTime;
        if (t0 + j >= L) continue;
        const int64_t dst = base + n * window_steps + j;
        const float* src = red + (kByKind ? j * RP + n : n * RP + j);
        if (var_C) p_.ws[p_.w.part_C + dst] = sum(src);
        if (var_B) p_.ws[p_.w.part_B + dst] = sum(src + (kByKind ? 0 : l_.npad * RP));
      }
    }
  }

  // Finishes the tile's du, ddelta and dz from the lanes' sums and stores them.
  __device__ void store_tile(int s, const item& it) const {
    const int P = l_.tile_pitch;
    const int64_t t0 = first_step(it), L = f_.seqlen;
    const float* dt = at<const float>(l_.dt);
    const float* dy = at<const float>(l_.dy);
    const float* gu = at<const float>(l_.gu);
    const float* gd = at<const float>(l_.gd);
    const float* y = at<const float>(l_.y);
    const float* D = at<const float>(l_.D);
    const InT* ru = stage<const InT>(s, l_.raw_u);
    const InT* rz = stage<const InT>(s, l_.raw_z);
    const OutT* ro = stage<const OutT>(s, l_.raw_dout);
    for (int i = tid_; i < kRows * kTime; i += kThreads) {
      const int r = i / kTime, j = i % kTime;
      const int64_t t = t0 + j;
      if (r >= rows_valid_ || t >= L) continue;
      const int64_t d = d0_ + r;
      const int e = r * P + j;
      a_.du.data[b_ * a_.du.batch_stride + d * a_.du.dim_stride + t] =
          from_float<InT>(fmaf(dt[e], gu[e], D[r] * dy[e]));
      a_.ddelta.data[b_ * a_.ddelta.batch_stride + d * a_.ddelta.dim_stride + t] =
          from_float<InT>(gd[e]);
      if (a_.dz.data) {
        const float z = to_float(rz[i]), sig = sigmoid(z);
        // dout * silu'(z) times the ungated output
        a_.dz.data[b_ * a_.dz.batch_stride + d * a_.dz.dim_stride + t] = from_float<InT>(
            to_float(ro[i]) * sig * fmaf(z, 1.f - sig, 1.f) * fmaf(D[r], to_float(ru[i]), y[e]));
      }
    }
  }

  // ---- One lane per channel (kOwnRows) ----

  // The step of one (channel, step) from its raw delta, as the forward computes it; 0 past seqlen.
  __device__ float own_step(float x, bool in) const {
    const float sp = softplus(x);
    return in ? (f_.delta_softplus ? sp : x) : 0.f;
  }

  // B or C of step j for this thread's states: from the raw [state][step] tile of a time-varying
  // one (every thread of the block reads the same address), else this channel's constant row.
  __device__ void own_bc(const InT* raw, const float* row, int j, float (&v)[kStates]) const {
#pragma unroll
    for (int n = 0; n < kStates; ++n) {
      if (raw == nullptr)
        v[n] = row[n];
      else  // rows from dstate on are not loaded
        v[n] = kStates == 1 || n < f_.dstate ? to_float(raw[n * l_.raw_bc_pitch + j]) : 0.f;
    }
  }

  template <class T>
  __device__ static run_of<T, kRun> own_run(const T* row, int c) {
    return *reinterpret_cast<const run_of<T, kRun>*>(row + c);
  }

  // Advances h_ through the tile of stage s from this channel's raw rows; `before(j, dt)` runs
  // before step j with its step.
  template <class Before>
  __device__ void own_recompute(int s, const item& it, Before&& before) {
    const InT* ru = stage<const InT>(s, l_.raw_u) + row_ * kTime;
    const InT* rd = stage<const InT>(s, l_.raw_delta) + row_ * kTime;
    const InT* rB = f_.B.data ? stage<const InT>(s, l_.raw_B) : nullptr;
    const float bias = at<const float>(l_.bias)[row_];
    const int64_t left = f_.seqlen - first_step(it);
#pragma unroll
    for (int c = 0; c < kTime; c += kRun) {
      const auto u = own_run(ru, c), d = own_run(rd, c);
#pragma unroll
      for (int k = 0; k < kRun; ++k) {
        const int j = c + k;
        const float dt = own_step(to_float(d.e[k]) + bias, j < left);
        const float du = dt * to_float(u.e[k]);
        before(j, dt);
        float b[kStates];
        own_bc(rB, Bp_, j, b);
#pragma unroll
        for (int n = 0; n < kStates; ++n) h_[n] = fmaf(ex2(dt * a2_[n]), h_[n], du * b[n]);
      }
    }
  }

  // Pass 1 of one tile: advances h_ and records the next tile's start.
  __device__ void own_advance(int s, const item& it) {
    own_recompute(s, it, [](int, float) {});
    if (it.tile + 1 < kTiles)
#pragma unroll
      for (int n = 0; n < kStates; ++n) save_start(it.tile + 1, n, h_[n]);
  }

  // The carry pass through one tile from the raw rows: the adjoint backwards, and the steps' sum.
  __device__ void own_carry(int s, const item& it) {
    const InT* rd = stage<const InT>(s, l_.raw_delta) + row_ * kTime;
    const InT* rz = stage<const InT>(s, l_.raw_z) + row_ * kTime;
    const OutT* ro = stage<const OutT>(s, l_.raw_dout) + row_ * kTime;
    const InT* rC = f_.C.data ? stage<const InT>(s, l_.raw_C) : nullptr;
    const float bias = at<const float>(l_.bias)[row_];
    const bool has_z = f_.z.data != nullptr;
    const int64_t left = f_.seqlen - first_step(it);
#pragma unroll
    for (int c = kTime - kRun; c >= 0; c -= kRun) {
      const auto d = own_run(rd, c);
      const auto o = own_run(ro, c);
      run_of<InT, kRun> z{};
      if (has_z) z = own_run(rz, c);
#pragma unroll
      for (int k = kRun - 1; k >= 0; --k) {
        const int j = c + k;
        const float dt = own_step(to_float(d.e[k]) + bias, j < left);
        const float go = to_float(o.e[k]);
        const float dy = has_z ? go * silu(to_float(z.e[k])) : go;
        float cv[kStates];
        own_bc(rC, Cp_, j, cv);
#pragma unroll
        for (int n = 0; n < kStates; ++n) dh_[n] = fmaf(cv[n], dy, dh_[n]) * ex2(dt * a2_[n]);
        span_ += dt;
      }
    }
  }

  // Pass 2 of one tile: recomputes its states, then runs the adjoint backwards through them,
  // finishing du, ddelta and dz per step (written over u, delta and z in the stage, for
  // own_store) and summing the dB/dC terms over the block's channels (reduce_tile_terms).
  __device__ void own_adjoint(int s, const item& it) {
    InT* ru = stage<InT>(s, l_.raw_u) + row_ * kTime;
    InT* rd = stage<InT>(s, l_.raw_delta) + row_ * kTime;
    InT* rz = stage<InT>(s, l_.raw_z) + row_ * kTime;
    const OutT* ro = stage<const OutT>(s, l_.raw_dout) + row_ * kTime;
    const InT* rB = f_.B.data ? stage<const InT>(s, l_.raw_B) : nullptr;
    const InT* rC = f_.C.data ? stage<const InT>(s, l_.raw_C) : nullptr;
    const float bias = at<const float>(l_.bias)[row_], Dr = at<const float>(l_.D)[row_];
    const bool has_z = f_.z.data != nullptr, want_dz = a_.dz.data != nullptr;
    const bool var_B = rB != nullptr, var_C = rC != nullptr;
    const int64_t left = f_.seqlen - first_step(it);

#pragma unroll
    for (int n = 0; n < kStates; ++n) h_[n] = tile_start(it.tile, n);
    float hist[kTime][kStates];  // the state before each step of the tile
    float steps[kTime];
    float terms[2 * kStates * kTime];  // the tile's dC terms, then its dB terms (reduce_tile_terms)
    own_recompute(s, it, [&](int j, float dt) {
      steps[j] = dt;
#pragma unroll
      for (int n = 0; n < kStates; ++n) hist[j][n] = h_[n];
    });

#pragma unroll
    for (int c = kTime - kRun; c >= 0; c -= kRun) {
      const auto u = own_run(ru, c), d = own_run(rd, c);
      const auto o = own_run(ro, c);
      run_of<InT, kRun> z{}, gu_out, gd_out, gz_out{};
      if (has_z) z = own_run(rz, c);
#pragma unroll
      for (int k = kRun - 1; k >= 0; --k) {
        const int j = c + k;
        const bool in = j < left;
        const float dt = steps[j];
        const float uf = to_float(u.e[k]), du = dt * uf;
        const float sg = in ? (f_.delta_softplus ? sigmoid(to_float(d.e[k]) + bias) : 1.f) : 0.f;
        const float go = to_float(o.e[k]);  // zero past seqlen and past the group's rows
        const float zf = has_z ? to_float(z.e[k]) : 0.f;
        const float sz = sigmoid(zf);
        const float dy = has_z ? go * zf * sz : go;
        float b[kStates], cv[kStates];
        own_bc(rB, Bp_, j, b);
        own_bc(rC, Cp_, j, cv);
        float gu = 0.f, ga = 0.f, y = 0.f;
#pragma unroll
        for (int n = 0; n < kStates; ++n) {
          const float h_after = j == kTime - 1 ? h_[n] : hist[j + 1][n];
          y = fmaf(cv[n], h_after, y);
          terms[n * kTime + j] = dy * h_after;
          if (!var_C) accC_[n] = fmaf(dy, h_after, accC_[n]);
          dh_[n] = fmaf(cv[n], dy, dh_[n]);
          const float decay = ex2(dt * a2_[n]);
          terms[(kStates + n) * kTime + j] = dh_[n] * du;
          if (!var_B) accB_[n] = fmaf(dh_[n], du, accB_[n]);
          gu = fmaf(dh_[n], b[n], gu);
          const float x = dh_[n] * (decay * hist[j][n]);
          ga = fmaf(x, a2_[n], ga);
          accA_[n] = fmaf(x, dt, accA_[n]);
          dh_[n] *= decay;
        }
        constexpr float kLn2 = 0.6931471805599453f;
        const float g_delta = fmaf(uf, gu, kLn2 * ga) * sg;
        accBias_ += g_delta;
        accD_ = fmaf(dy, uf, accD_);
        gu_out.e[k] = from_float<InT>(fmaf(dt, gu, Dr * dy));
        gd_out.e[k] = from_float<InT>(g_delta);
        // dout * silu'(z) times the ungated output
        if (want_dz)
          gz_out.e[k] = from_float<InT>(go * sz * fmaf(zf, 1.f - sz, 1.f) * fmaf(Dr, uf, y));
      }
      *reinterpret_cast<run_of<InT, kRun>*>(ru + c) = gu_out;
      *reinterpret_cast<run_of<InT, kRun>*>(rd + c) = gd_out;
      if (want_dz) *reinterpret_cast<run_of<InT, kRun>*>(rz + c) = gz_out;
    }
    if (var_B || var_C) reduce_tile_terms(terms);
  }

  // The tile's du, ddelta and dz (own_adjoint left them in the stage) to global memory.
  __device__ void own_store(int s, const item& it) const {
    const int64_t t0 = first_step(it), left = f_.seqlen - t0;
    auto put = [&](const seq_tensor<InT>& x, int64_t off, unsigned bit) {
      store_rows<kTime, kThreads>(x.data + b_ * x.batch_stride + d0_ * x.dim_stride + t0,
                                  x.dim_stride, stage<const InT>(s, off), rows_valid_, left,
                                  piece_for<InT>(p_, bit));
    };
    put(a_.du, l_.raw_u, kVecGradU);
    put(a_.ddelta, l_.raw_delta, kVecGradDelta);
    if (a_.dz.data) put(a_.dz, l_.raw_z, kVecGradZ);
  }

  __device__ void setup() {
    const int64_t bpg = p_.blocks_per_group;
    const int64_t blk = blockIdx.x % p_.blocks_per_segment;
    seg_ = int(blockIdx.x / p_.blocks_per_segment) + (Carry ? 1 : 0);
    cb_ = blk % bpg;
    g_ = (blk / bpg) % f_.groups;
    b_ = blk / bpg / f_.groups;
    d0_ = g_ * p_.dim_per_group + cb_ * kRows;
    const int64_t left = p_.dim_per_group - cb_ * kRows;
    rows_valid_ = left < kRows ? int(left) : kRows;
    first_state_ = lane_ * kStates;
    if constexpr (kParts > 1) swz_ = part_swizzle(lane_, kStates / 4);

    float* bias = at<float>(l_.bias);
    float* Dv = at<float>(l_.D);
    for (int r = tid_; r < kRows; r += kThreads) {
      const bool ok = r < rows_valid_;
      const int64_t d = d0_ + r;
      bias[r] = ok && f_.delta_bias.data ? f_.delta_bias.data[d * f_.delta_bias.stride] : 0.f;
      Dv[r] = ok && f_.D.data ? f_.D.data[d * f_.D.stride] : 0.f;
    }
    float* zero = at<float>(l_.zero);
    for (int i = tid_; i < (kStates < 4 ? 4 : kStates); i += kThreads) zero[i] = 0.f;
    const int npad = l_.npad;
    auto load_const = [&](const matrix_tensor<const float>& m, int64_t off, int pitch) {
      float* dst = at<float>(off);
      for (int i = tid_; i < kRows * npad; i += kThreads) {
        const int r = i / npad, n = i % npad;
        dst[r * pitch + (kParts > 1 ? part_state_col(n, kStates) : n)] =
            r < rows_valid_ && n < f_.dstate ? m.data[(d0_ + r) * m.dim_stride + n] : 0.f;
      }
    };
    if (f_.B_const.data && !Carry) load_const(f_.B_const, l_.Bf, l_.Bf_pitch);
    if (f_.C_const.data) load_const(f_.C_const, l_.Cf, l_.Cf_pitch);

    const bool row_ok = row_ < rows_valid_;
    const int64_t d = d0_ + row_;
    const bool first_launch = p_.chunk_end == p_.w.num_chunks;
    const int64_t bdn = f_.batch * f_.dim * f_.dstate;
    constexpr float kLog2e = 1.4426950408889634f;
#pragma unroll
    for (int n = 0; n < kStates; ++n) {
      const bool on = row_ok && first_state_ + n < f_.dstate;
      a2_[n] = on ? f_.A.data[d * f_.A.dim_stride + first_state_ + n] * kLog2e : 0.f;
      // The adjoint at the end of this block's chunks: zero in the carry pass; in a split launch
      // the combine's; else the last-state gradient, or the previous launch's.
      const int64_t at = (b_ * f_.dim + d) * f_.dstate + first_state_ + n;
      float g = 0.f;
      if (!on || Carry)
        g = 0.f;
      else if (p_.num_segments > 1)
        g = p_.ws[p_.w.seg_dh + seg_ * bdn + at];
      else if (first_launch && a_.dlast_state.data)
        g = a_.dlast_state.data[b_ * a_.dlast_state.batch_stride + d * a_.dlast_state.dim_stride +
                                first_state_ + n];
      else if (!first_launch)
        g = p_.ws[p_.w.carry + at];
      dh_[n] = g;
      accA_[n] = accB_[n] = accC_[n] = 0.f;
      if constexpr (kParts > 1) {
        if (!f_.B.data && !Carry) *acc_slot(1, n) = 0.f;
        if (!f_.C.data && !Carry) *acc_slot(0, n) = 0.f;
      }
    }
    if (first_state_ >= f_.dstate) {
      Bp_ = Cp_ = at<const float>(l_.zero);
      Bstep_ = Cstep_ = 0;
    } else {
      Bp_ = at<const float>(l_.Bf) + (f_.B.data ? 0 : row_ * l_.Bf_pitch) + first_state_;
      Cp_ = at<const float>(l_.Cf) + (f_.C.data ? 0 : row_ * l_.Cf_pitch) + first_state_;
      Bstep_ = f_.B.data ? l_.Bf_pitch : 0;
      Cstep_ = f_.C.data ? l_.Cf_pitch : 0;
    }
  }

  // The carry pass: this segment's adjoint from zero and its decay, for the combine (slot seg_ - 1
  // of each). The full pass: the adjoint at the start of the launch's chunks (segment 0) to the
  // next launch or out as dinitial_state, and this segment's sums.
  __device__ void finish() const {
    // The lanes' parts of the D and delta_bias gradients (the lanes that finished steps).
    const float accD = lane_sum(accD_), accBias = lane_sum(accBias_);
    if (row_ >= rows_valid_) return;
    const int64_t d = d0_ + row_;
    const bool first_launch = p_.chunk_end == p_.w.num_chunks;
    const bool last_launch = p_.chunk_begin == 0;
    const int64_t bd = b_ * f_.dim + d;
    const int64_t bdn = f_.batch * f_.dim * f_.dstate, seg_bd = int64_t(seg_) * f_.batch * f_.dim;
    float* ws = p_.ws;
    if constexpr (Carry) {
      const int64_t slot = (seg_ - 1) * bdn + bd * f_.dstate + first_state_;
#pragma unroll
      for (int n = 0; n < kStates; ++n) {
        if (first_state_ + n >= f_.dstate) continue;
        ws[p_.w.seg_dh + slot + n] = dh_[n];
        ws[p_.w.seg_decay + slot + n] = ex2(a2_[n] * span_);
      }
      return;
    }
    auto put = [&](int64_t at, float v) { ws[at] = first_launch ? v : ws[at] + v; };
#pragma unroll
    for (int n = 0; n < kStates; ++n) {
      const int64_t s = first_state_ + n;
      if (s >= f_.dstate) continue;
      if (seg_ == 0 && !last_launch)
        ws[p_.w.carry + bd * f_.dstate + s] = dh_[n];
      else if (seg_ == 0 && a_.dinitial_state.data)
        a_.dinitial_state.data[b_ * a_.dinitial_state.batch_stride +
                               d * a_.dinitial_state.dim_stride + s] = dh_[n];
      const int64_t at = seg_ * bdn + bd * f_.dstate + s;
      put(p_.w.acc_A + at, accA_[n]);
      if (!f_.B.data) put(p_.w.acc_B + at, kParts > 1 ? *acc_slot(1, n) : accB_[n]);
      if (!f_.C.data) put(p_.w.acc_C + at, kParts > 1 ? *acc_slot(0, n) : accC_[n]);
    }
    if (lane_ == 0) {
      put(p_.w.acc_D + seg_bd + bd, accD);
      put(p_.w.acc_bias + seg_bd + bd, accBias);
    }
  }

 public:
  __device__ backward_agent(const backward_params<InT, OutT>& p, char* smem)
      : p_(p), a_(p.a), f_(p.a.fwd), l_(p.smem), smem_(smem) {}

  __device__ void run() {
    float starts[kParts > 1 ? kTiles * kStates : 1];
    starts_ = starts;
    setup();
    item it = chunk_start(min(segment_begin() + p_.segment_chunks, p_.chunk_end) - 1);
    load_stage(0, it);
    for (int s = 0; it.valid; s ^= 1) {
      const item nx = next(it);
      // Stage s^1 was last read by the previous item, which ended at a barrier.
      if (nx.valid)
        load_stage(s ^ 1, nx);
      else
        copy_commit();
      if (!Carry && !kStartInStage &&
          ((it.forward && it.tile == 0) || (!it.forward && tiles_in_chunk(it.chunk) == 1)))
        begin_chunk(s, it.chunk);
      copy_wait<1>();
      if constexpr (kStartInStage) begin_chunk(s, it.chunk);  // every item starts a chunk
      __syncthreads();
      if constexpr (kOwnRows) {
        if (Carry) {
          own_carry(s, it);
        } else if (it.forward) {
          own_advance(s, it);
        } else {
          own_adjoint(s, it);
          __syncthreads();
          reduce_bc_terms(it, true, true);
          own_store(s, it);
        }
      } else {
        prologue(s, it);
        __syncthreads();
        if (Carry) {
          carry_tile();
        } else if (it.forward) {
          advance_tile(it.tile);
        } else {
          if constexpr (kParts > 1) {
            adjoint_parts(s, it);
            __syncthreads();
            reduce_bc_terms(it, kPartKinds == 2, true, kParts - 1);
          } else {
            adjoint_tile(s, it);
            __syncthreads();
            reduce_bc_terms(it, !kByKind, true);
          }
          store_tile(s, it);
        }
      }
      __syncthreads();
      it = nx;
    }
    finish();
  }
};

/// @brief One grid of blocks per time segment (blocks_per_segment x segments; the carry pass
///        leaves out the first segment).
template <class Config, class InT, class OutT, bool Carry>
__global__ void __launch_bounds__(Config::kThreads, Config::kMinBlocksPerSM)
    backward_kernel(const __grid_constant__ backward_params<InT, OutT> p) {
  extern __shared__ __align__(16) char smem[];
  backward_agent<Config, InT, OutT, Carry>(p, smem).run();
}

}  // namespace s6scan::detail
