// SPDX-License-Identifier: MIT
#pragma once

// The backward agent's base (backward_kernel.cuh describes the kernel): its configuration, state
// and shared-memory views, the walk over chunks and tiles, the staging of a tile's inputs and
// their conversion into float tiles, the recompute and carry passes through a tile, and the sums
// of the dB/dC terms over a warp's channels.

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
class backward_agent_base {
 protected:
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

  __device__ backward_agent_base(const backward_params<InT, OutT>& p, char* smem)
      : p_(p), a_(p.a), f_(p.a.fwd), l_(p.smem), smem_(smem) {}
};

}  // namespace s6scan::detail
