// SPDX-License-Identifier: MIT
#pragma once

// The forward scan kernel. One block owns NRows channels of one (batch, group) pair and walks time
// in tiles of TimeTile steps. Per tile:
//   1. copy: the next tile's raw u, delta, z, B, C go to the other shared-memory stage (cp.async)
//   2. prologue: a time-varying B/C tile is converted to float and transposed to [step][state]
//      (with one or two lanes per channel, each thread converts the pieces it copied, before the
//      tile's first barrier);
//      with more than two lanes per channel, delta -> softplus(delta + bias) and delta * u are
//      computed once per (channel, step) into float tiles
//   3. scan: each thread advances its StatesPerThread states through the tile, all in registers;
//      the lanes of one channel add their parts of y with warp shuffles
//   4. epilogue: y + D * u, the z gate, conversion, coalesced stores
// With one or two lanes per channel (MaxDState / StatesPerThread <= 2) the threads that own a
// channel do steps 2-4 for it in one pass over its raw rows (two lanes take the steps in pairs:
// each computes one step's softplus and output, and they swap the steps and their parts of y
// with one shuffle each), writing the outputs to an output tile in the stage: no float tiles,
// and no barriers between the softplus, the scan and the gate.
// Steps past seqlen have delta = 0, so they leave the state unchanged.
//
// Time split (when the channels alone give too few blocks; forward.cuh decides): the sequence is
// cut into segments of whole checkpoint chunks, one grid of blocks per segment. A carry pass
// (Carry = true) scans every segment but the last from a zero state, writing no output: its end
// state and its decay exp2(A log2(e) * sum of steps) go to two of the segment's checkpoint slots.
// forward_combine_kernel then chains those into each segment's true end state, written over the
// segment's last slot, and the full pass (Carry = false) scans every segment again from the
// preceding segment's end state. The full pass does not write a segment's last slot (the combine
// did), so no block writes a slot that another reads.
//
// This file holds the tile loads, the prologue, both scan paths and the stores; the agent's state,
// its setup and the saved states are forward_agent_base's (forward_agent_base.cuh).

#include <cstdint>
#include <type_traits>

#include "../args.hpp"
#include "../config.hpp"
#include "../numeric.hpp"
#include "forward_agent_base.cuh"
#include "forward_params.cuh"
#include "layout.hpp"
#include "ptx.cuh"
#include "tile_io.cuh"

namespace s6scan::detail {

template <class Config, class InT, class OutT, bool Carry>
class forward_agent : forward_agent_base<Config, InT, OutT, Carry> {
  // The base's names, which a dependent base does not bring into scope by itself (its member
  // templates, at<T>, stage<T> and save_inside<V>, are called through this->template).
  using base = forward_agent_base<Config, InT, OutT, Carry>;
  using base::kRows; using base::kTime; using base::kStates; using base::kLanes;
  using base::kThreads; using base::kInVec; using base::kOutVec; using base::kStateVec;
  using base::kRunPad; using base::kOwnRows;
  using base::p_; using base::a_; using base::l_; using base::tid_; using base::row_;
  using base::lane_; using base::b_; using base::g_; using base::d0_; using base::rows_valid_;
  using base::segment_; using base::tile_begin_; using base::tile_end_; using base::span_;
  using base::h_; using base::a2_; using base::bias_; using base::D_; using base::Bp_;
  using base::Cp_; using base::Bstep_; using base::Cstep_;
  using base::piece_bytes; using base::chunk_steps; using base::staged_saves;
  using base::flush_inside; using base::store_states; using base::store_checkpoint;
  using base::slot; using base::setup;
  using svec = typename base::svec;

  // Rows [0, Rows) x steps [t0, t0 + kTime), all inside the tensor, in 16-byte pieces: load_rows
  // with compile-time trip counts and no bounds, where the generic loop's index arithmetic is a
  // large share of a tile's work. Thread tid_ copies the pieces load_rows gives it, which
  // transpose_own_rows relies on.
  template <int Rows>
  __device__ void load_whole(InT* dst, int pitch, const InT* src, int64_t row_stride,
                             int64_t t0) const {
    constexpr int kChunks = kTime / kInVec;  // pieces per row
    constexpr int kPieces = Rows * kChunks;
#pragma unroll
    for (int k = 0; k < (kPieces + kThreads - 1) / kThreads; ++k) {
      const int i = tid_ + k * kThreads;
      if (kPieces % kThreads == 0 || i < kPieces) {
        const int r = i / kChunks, j = i % kChunks * kInVec;
        copy_zfill<16>(dst + r * pitch + j, src + r * row_stride + t0 + j, 16);
      }
    }
  }

  __device__ void load_stage(int s, int64_t t0) const {
    // load_whole only where one or two lanes hold a channel: in the wider configurations it moved
    // ptxas's register counts (dstate 256 grew spills) for little per-tile work saved.
    const bool whole = kOwnRows && t0 + kTime <= a_.seqlen;
    // Rows past the group's end are zero-filled (empty copies), so they scan harmlessly.
    auto seq = [&](int64_t off, const seq_tensor<const InT>& x, unsigned bit) {
      InT* dst = this->template stage<InT>(s, off);
      const InT* src = x.data + b_ * x.batch_stride + d0_ * x.dim_stride;
      const int piece = piece_bytes(bit);
      if (whole && piece == 16 && rows_valid_ == kRows) {
        load_whole<kRows>(dst, l_.seq_pitch, src, x.dim_stride, t0);
        return;
      }
      load_rows<kTime, kThreads>(dst, l_.seq_pitch, src, x.dim_stride, rows_valid_, t0, a_.seqlen,
                                 piece);
      for (int i = rows_valid_ * kTime + tid_; i < kRows * kTime; i += kThreads)
        dst[i / kTime * l_.seq_pitch + i % kTime] = from_float<InT>(0.f);
    };
    seq(l_.raw_u, a_.u, kVecU);
    seq(l_.raw_delta, a_.delta, kVecDelta);
    if (!Carry && a_.z.data) seq(l_.raw_z, a_.z, kVecZ);
    const int ds = int(a_.dstate);
    auto bc = [&](int64_t off, const bc_tensor<const InT>& x, unsigned bit) {
      InT* dst = this->template stage<InT>(s, off);
      const InT* src = x.data + b_ * x.batch_stride + g_ * x.group_stride;
      const int piece = piece_bytes(bit);
      if (whole && piece == 16 && ds == Config::kMaxDState)
        load_whole<Config::kMaxDState>(dst, l_.raw_bc_pitch, src, x.state_stride, t0);
      else
        load_rows<kTime, kThreads>(dst, l_.raw_bc_pitch, src, x.state_stride, ds, t0, a_.seqlen,
                                   piece);
    };
    if (a_.B.data) bc(l_.raw_B, a_.B, kVecB);
    if (!Carry && a_.C.data) bc(l_.raw_C, a_.C, kVecC);
    copy_commit();
  }

  // Raw [state][step] tile -> float [step][state], zero in the padded states.
  __device__ void transpose_bc(const InT* raw, float* dst) const {
    constexpr int kMaxNpad = (Config::kMaxDState + kStates - 1) / kStates * kStates;
    transpose_states<kTime, kThreads, (Config::kMaxDState >= 64), kStates, kRunPad, false,
                     kMaxNpad>(raw, l_.raw_bc_pitch, int(a_.dstate), l_.npad, dst);
  }

  __device__ void transpose_stage_bc(int s) const {
    if (a_.B.data)
      transpose_bc(this->template stage<const InT>(s, l_.raw_B), this->template at<float>(l_.Bf));
    if (!Carry && a_.C.data)
      transpose_bc(this->template stage<const InT>(s, l_.raw_C), this->template at<float>(l_.Cf));
  }

  // kOwnRows: the B/C pieces this thread copied into stage s, to Bf/Cf (see transpose_own_rows);
  // the padded states' columns were zeroed in setup.
  __device__ void transpose_own_bc(int s) const {
    const int ds = int(a_.dstate);
    if (a_.B.data)
      transpose_own_rows<kTime, kThreads, kStates, kRunPad>(
          this->template stage<const InT>(s, l_.raw_B), l_.raw_bc_pitch, ds, piece_bytes(kVecB),
          l_.Bf_pitch, this->template at<float>(l_.Bf));
    if (!Carry && a_.C.data)
      transpose_own_rows<kTime, kThreads, kStates, kRunPad>(
          this->template stage<const InT>(s, l_.raw_C), l_.raw_bc_pitch, ds, piece_bytes(kVecC),
          l_.Cf_pitch, this->template at<float>(l_.Cf));
  }

  // The step of one (channel, time step) from its raw delta and the channel's bias. A select, not
  // a branch, so that the steps of a tile can be scheduled together.
  __device__ float step_of(float raw_delta, float bias) const {
    const float x = raw_delta + bias;
    const float sp = softplus(x);
    return a_.delta_softplus ? sp : x;
  }

  // Several lanes per channel: steps and step * u of the tile into the float tiles dt and du.
  __device__ void prologue(int s, int64_t t0) const {
    const InT* ru = this->template stage<const InT>(s, l_.raw_u);
    const InT* rd = this->template stage<const InT>(s, l_.raw_delta);
    float* dt = this->template at<float>(l_.dt);
    float* du = this->template at<float>(l_.du);
    const float* bias = this->template at<const float>(l_.bias);
    const int P = l_.tile_pitch, SP = l_.seq_pitch;
    const int64_t L = a_.seqlen;
    for (int i = tid_; i < kRows * kTime; i += kThreads) {
      const int r = i / kTime, j = i % kTime;
      float delta = 0.f, delta_u = 0.f;
      if (t0 + j < L) {
        delta = step_of(to_float(rd[r * SP + j]), bias[r]);
        delta_u = delta * to_float(ru[r * SP + j]);
      }
      dt[r * P + j] = delta;
      du[r * P + j] = delta_u;
    }
    transpose_stage_bc(s);
  }

  // Advances this thread's states by step j of the tile (step size dt, input dt * u = du) and
  // returns their part of y; the carry pass reads no C and sums the steps instead.
  __device__ float advance(int j, float dt, float du) {
    const auto* bp = reinterpret_cast<const typename svec::type*>(Bp_ + j * Bstep_);
    const auto* cp = reinterpret_cast<const typename svec::type*>(Cp_ + j * Cstep_);
    float y = 0.f;
#pragma unroll
    for (int q = 0; q < kStates / kStateVec; ++q) {
      const auto bv = bp[q];
#pragma unroll
      for (int e = 0; e < kStateVec; ++e) {
        const int n = q * kStateVec + e;
        h_[n] = fmaf(ex2(dt * a2_[n]), h_[n], du * svec::get(bv, e));
      }
      if constexpr (!Carry) {
        const auto cv = cp[q];
#pragma unroll
        for (int e = 0; e < kStateVec; ++e) y = fmaf(svec::get(cv, e), h_[q * kStateVec + e], y);
      }
    }
    if constexpr (Carry) span_ += dt;
    return y;
  }

  // Advances this thread's states through one tile (starting at step t0) and leaves y (this
  // channel's sum over all its states) in the y tile; the carry pass leaves nothing.
  __device__ void scan_tile(int64_t t0) {
    const int P = l_.tile_pitch;
    const float* dtr = this->template at<const float>(l_.dt) + row_ * P;
    const float* dur = this->template at<const float>(l_.du) + row_ * P;
    float* yr = this->template at<float>(l_.y) + row_ * P;
#pragma unroll 1
    for (int tt = 0; tt < kTime; tt += 4) {
      const float4 dt4 = *reinterpret_cast<const float4*>(dtr + tt);
      const float4 du4 = *reinterpret_cast<const float4*>(dur + tt);
      float y4[4];
#pragma unroll
      for (int j = 0; j < 4; ++j)
        y4[j] = advance(tt + j, float_vec<4>::get(dt4, j), float_vec<4>::get(du4, j));
      if (tt + 4 < kTime) this->template save_inside<true>(t0, tt + 4);
      if constexpr (Carry) continue;
      if constexpr (kLanes > 1) {
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int off = kLanes / 2; off > 0; off /= 2)
            y4[j] += __shfl_xor_sync(0xffffffffu, y4[j], off);
      }
      // y aliases dt: every lane of this row must have read dt4 before lane 0 overwrites it.
      if constexpr (kLanes > 1) __syncwarp();
      if (lane_ == 0) *reinterpret_cast<float4*>(yr + tt) = make_float4(y4[0], y4[1], y4[2], y4[3]);
    }
  }

  // One or two lanes per channel (kOwnRows): this thread's channel through the tile, from its raw
  // rows of stage s to its row of the stage's output tile. Without branches inside a 16-byte
  // piece (HasZ is a template argument, the rest are selects), so that its steps are scheduled
  // together. One lane writes the output tile in 16-byte pieces; two lanes share a channel's
  // per-step work in pairs of steps (own_pair).
  template <bool HasZ>
  __device__ void scan_own_row(int s, int64_t t0) {
    constexpr int kV = kInVec;  // steps per 16-byte piece of a raw row
    const int SP = l_.seq_pitch;
    const InT* ru = this->template stage<const InT>(s, l_.raw_u) + row_ * SP;
    const InT* rd = this->template stage<const InT>(s, l_.raw_delta) + row_ * SP;
    const InT* rz = this->template stage<const InT>(s, l_.raw_z) + row_ * SP;
    OutT* ro = this->template stage<OutT>(s, l_.out) + row_ * l_.out_pitch;
    const int64_t left = a_.seqlen - t0;  // steps of this tile inside the sequence
#pragma unroll 1
    for (int c = 0; c < kTime; c += kV) {
      raw_piece u, d, z;
      u.v = *reinterpret_cast<const uint4*>(ru + c);
      d.v = *reinterpret_cast<const uint4*>(rd + c);
      if constexpr (HasZ && !Carry) z.v = *reinterpret_cast<const uint4*>(rz + c);
      if constexpr (kLanes == 2) {
        if (left >= kTime) {  // no step of the tile is past the sequence: no bounds tests
#pragma unroll
          for (int j = 0; j < kV; j += 2) own_pair<HasZ, true>(u, d, z, c + j, j, kTime, ro);
        } else {
#pragma unroll
          for (int j = 0; j < kV; j += 2) own_pair<HasZ, false>(u, d, z, c + j, j, int(left), ro);
        }
      } else {
        union {
          uint4 v[(kV * sizeof(OutT) + 15) / 16];
          OutT e[kV];
        } o;
#pragma unroll
        for (int j = 0; j < kV; ++j) {
          const float uf = to_float(u.e[j]);
          const float dt = c + j < left ? step_of(to_float(d.e[j]), bias_) : 0.f;
          float y = advance(c + j, dt, dt * uf);
          if constexpr (Carry) continue;
          float v = fmaf(D_, uf, y);
          if constexpr (HasZ) v *= silu(to_float(z.e[j]));
          o.e[j] = from_float<OutT>(v);
        }
        if (!Carry) {
#pragma unroll
          for (int k = 0; k < int(sizeof(o.v) / 16); ++k)
            reinterpret_cast<uint4*>(ro + c)[k] = o.v[k];
        }
      }
      if (c + kV < kTime) this->template save_inside<false>(t0, c + kV);
    }
  }

  union raw_piece {  // a 16-byte piece of a raw row
    uint4 v;
    InT e[kInVec];
  };

  // Two lanes per channel: steps t and t + 1 of the tile (elements j and j + 1 of the pieces).
  // Each lane computes the step (softplus) and the output (D u, the gate, the store) of one of the
  // two, lane 0 the first, and they swap steps with one shuffle, so neither computes both; both
  // advance their states through both steps, and one more shuffle gives each lane the other's
  // part of y for the step it finishes. `left`: the tile's steps inside the sequence.
  template <bool HasZ, bool Whole>
  __device__ void own_pair(const raw_piece& u, const raw_piece& d, const raw_piece& z, int t, int j,
                           int left, OutT* ro) {
    const bool second = lane_ != 0;
    const float u0 = to_float(u.e[j]), u1 = to_float(u.e[j + 1]);
    const float raw = second ? to_float(d.e[j + 1]) : to_float(d.e[j]);
    const float mine = Whole || t + lane_ < left ? step_of(raw, bias_) : 0.f;
    const float other = __shfl_xor_sync(0xffffffffu, mine, 1);
    const float dt0 = second ? other : mine, dt1 = second ? mine : other;
    const float y0 = advance(t, dt0, dt0 * u0);
    const float y1 = advance(t + 1, dt1, dt1 * u1);
    if constexpr (Carry) return;
    const float y = (second ? y1 : y0) + __shfl_xor_sync(0xffffffffu, second ? y0 : y1, 1);
    float v = fmaf(D_, second ? u1 : u0, y);
    if constexpr (HasZ) v *= silu(second ? to_float(z.e[j + 1]) : to_float(z.e[j]));
    ro[t + lane_] = from_float<OutT>(v);
  }

  // kOwnRows: the stage's output tile to global memory, coalesced.
  __device__ void store_out(int s, int64_t t0) const {
    const OutT* ro = this->template stage<const OutT>(s, l_.out);
    const int P = l_.out_pitch;
    const int64_t L = a_.seqlen;
    OutT* out = a_.out.data + b_ * a_.out.batch_stride + d0_ * a_.out.dim_stride;
    const int64_t os = a_.out.dim_stride;
    if (p_.vec & kVecOut) {
      constexpr int kChunks = kTime / kOutVec;
      for (int i = tid_; i < rows_valid_ * kChunks; i += kThreads) {
        const int r = i / kChunks, j0 = (i % kChunks) * kOutVec;
        const int64_t t = t0 + j0;
        if (t >= L) continue;
        const OutT* src = ro + r * P + j0;
        if (t + kOutVec <= L) {
          *reinterpret_cast<uint4*>(out + r * os + t) = *reinterpret_cast<const uint4*>(src);
        } else {
          for (int e = 0; t + e < L; ++e) out[r * os + t + e] = src[e];
        }
      }
    } else {
      for (int i = tid_; i < rows_valid_ * kTime; i += kThreads) {
        const int r = i / kTime, j = i % kTime;
        if (t0 + j < L) out[r * os + t0 + j] = ro[r * P + j];
      }
    }
  }

  __device__ void epilogue(int s, int64_t t0) const {
    const InT* ru = this->template stage<const InT>(s, l_.raw_u);
    const InT* rz = a_.z.data ? this->template stage<const InT>(s, l_.raw_z) : nullptr;
    const float* y = this->template at<const float>(l_.y);
    const float* Dv = this->template at<const float>(l_.D);
    const int P = l_.tile_pitch, SP = l_.seq_pitch;
    const int64_t L = a_.seqlen;
    OutT* out = a_.out.data + b_ * a_.out.batch_stride + d0_ * a_.out.dim_stride;
    const int64_t os = a_.out.dim_stride;
    auto value = [&](int r, int j) {
      float v = fmaf(Dv[r], to_float(ru[r * SP + j]), y[r * P + j]);
      if (rz) v *= silu(to_float(rz[r * SP + j]));
      return from_float<OutT>(v);
    };
    if (p_.vec & kVecOut) {
      constexpr int kChunks = kTime / kOutVec;
      for (int i = tid_; i < kRows * kChunks; i += kThreads) {
        const int r = i / kChunks, j0 = (i % kChunks) * kOutVec;
        const int64_t t = t0 + j0;
        if (r >= rows_valid_ || t >= L) continue;
        union {
          uint4 u;
          OutT e[kOutVec];
        } pack;
#pragma unroll
        for (int e = 0; e < kOutVec; ++e) pack.e[e] = value(r, j0 + e);
        if (t + kOutVec <= L) {
          *reinterpret_cast<uint4*>(out + r * os + t) = pack.u;
        } else {
          for (int e = 0; e < kOutVec && t + e < L; ++e) out[r * os + t + e] = pack.e[e];
        }
      }
    } else {
      for (int i = tid_; i < kRows * kTime; i += kThreads) {
        const int r = i / kTime, j = i % kTime;
        if (r < rows_valid_ && t0 + j < L) out[r * os + t0 + j] = value(r, j);
      }
    }
  }

 public:
  __device__ forward_agent(const forward_params<InT, OutT>& p, char* smem) : base(p, smem) {}

  __device__ void run() {
    setup();
    load_stage(0, int64_t(tile_begin_) * kTime);
    const bool last_segment = segment_ + 1 == p_.num_segments;
    for (int i = tile_begin_; i < tile_end_; ++i) {
      const int s = (i - tile_begin_) & 1;
      const int64_t t0 = int64_t(i) * kTime;
      // Stage s^1 was last read by the previous tile's epilogue, which ended at a barrier.
      if (i + 1 < tile_end_)
        load_stage(s ^ 1, t0 + kTime);
      else
        copy_commit();
      copy_wait<1>();
      // kOwnRows: each thread transposes the B/C pieces it copied, so one barrier serves the
      // transposes and the copies. Bf/Cf were last read by the previous tile's scan, which ended
      // before that tile's last barrier.
      if constexpr (kOwnRows) transpose_own_bc(s);
      __syncthreads();
      if constexpr (kOwnRows) {
        if (!Carry && a_.z.data)
          scan_own_row<true>(s, t0);
        else
          scan_own_row<false>(s, t0);
      } else {
        prologue(s, t0);
        __syncthreads();
        scan_tile(t0);
      }
      // A segment's last slot is the combine's (see the file comment).
      // The tile's last chunk ends with it, or the sequence ends in it (its padded steps leave
      // the states as they were).
      const int K = chunk_steps();
      const bool chunk_end = (i + 1) * kTime % K == 0 || i + 1 == p_.num_tiles;
      const bool last_too = i + 1 < tile_end_ || last_segment;
      if (staged_saves())
        this->template save_inside<true>(t0, kTime);
      else if (!Carry && p_.checkpoints && chunk_end && last_too)
        store_checkpoint(h_, min((t0 + kTime - 1) / K, p_.num_chunks - 1));
      __syncthreads();
      // The ckpt tile is written again in the next tile's scan, after the next barrier.
      flush_inside(t0, last_too);
      if constexpr (Carry) {
        // Nothing to store; the barrier above frees the stage and the float tiles.
      } else if constexpr (kOwnRows) {
        // The output tile of stage s is written again two tiles later, after two barriers; the
        // next load into stage s starts after this tile's last barrier (above).
        store_out(s, t0);
      } else {
        epilogue(s, t0);
        __syncthreads();
      }
    }
    if constexpr (Carry) {
      // This segment's end state from zero, then its decay, to its last and first slots.
      const int64_t chunks = p_.segment_chunks;
      store_checkpoint(h_, (segment_ + 1) * chunks - 1);
      float decay[kStates];
#pragma unroll
      for (int n = 0; n < kStates; ++n) decay[n] = ex2(a2_[n] * span_);
      store_checkpoint(decay, segment_ * chunks);
    } else if (a_.last_state.data && last_segment) {
      store_states(h_, a_.last_state.data, a_.last_state.batch_stride, a_.last_state.dim_stride);
    }
  }
};

/// @brief One grid of blocks per time segment (blocks_per_segment x segments; the carry pass
///        leaves out the last segment).
template <class Config, class InT, class OutT, bool Carry>
__global__ void __launch_bounds__(Config::kThreads, Config::kMinBlocksPerSM)
    forward_kernel(const __grid_constant__ forward_params<InT, OutT> p) {
  extern __shared__ __align__(16) char smem[];
  forward_agent<Config, InT, OutT, Carry>(p, smem).run();
}

}  // namespace s6scan::detail
