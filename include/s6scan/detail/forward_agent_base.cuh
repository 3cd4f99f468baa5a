// SPDX-License-Identifier: MIT
#pragma once

// What a forward block keeps and does around its mainloop (forward_kernel.cuh): where its channels
// and tiles lie, the states and per-channel constants its threads carry, the per-block setup, and
// the saved states (checkpoints) it writes, staged through shared memory or stored directly.

#include <cstdint>

#include "../args.hpp"
#include "../config.hpp"
#include "../numeric.hpp"
#include "forward_params.cuh"
#include "layout.hpp"
#include "ptx.cuh"
#include "tile_io.cuh"

namespace s6scan::detail {

/// @brief The forward agent's state and its pieces outside the mainloop; forward_agent derives
///        from it.
template <class Config, class InT, class OutT, bool Carry>
class forward_agent_base {
 protected:
  static constexpr int kRows = Config::kRows;
  static constexpr int kTime = Config::kTimeTile;
  static constexpr int kStates = Config::kStatesPerThread;
  static constexpr int kLanes = Config::kLanesPerRow;
  static constexpr int kThreads = Config::kThreads;
  static constexpr int kInVec = 16 / int(sizeof(InT));    // elements in 16 bytes
  static constexpr int kOutVec = 16 / int(sizeof(OutT));
  static constexpr int kStateVec = kStates >= 4 ? 4 : kStates;  // floats per shared-memory load
  static constexpr int kRunPad = forward_run_pad(kStates, kLanes);  // floats after a lane's run
  static constexpr bool kOwnRows = kLanes <= 2;  // see forward_kernel.cuh's file comment
  using svec = float_vec<kStateVec>;

  const forward_params<InT, OutT>& p_;
  const forward_args<InT, OutT>& a_;
  const forward_smem_layout& l_;
  char* smem_;
  const int tid_ = threadIdx.x;
  const int row_ = threadIdx.x / kLanes;   // channel within the block
  const int lane_ = threadIdx.x % kLanes;  // which StatesPerThread states of it
  int64_t b_ = 0, g_ = 0, d0_ = 0;         // batch, group, first channel of the block
  int rows_valid_ = 0;                     // channels of the block inside the group
  int first_state_ = 0;                    // lane_ * StatesPerThread
  int ckpt_states_ = 0;                    // of them save_inside stages (0 without staged saves)
  int segment_ = 0;                        // time segment of this block
  int tile_begin_ = 0, tile_end_ = 0;      // its tiles
  float span_ = 0.f;                       // carry pass: this channel's steps summed

  float h_[kStates];
  float a2_[kStates];  // A * log2(e), 0 for padded states
  float bias_ = 0.f, D_ = 0.f;  // this thread's channel's (kOwnRows only)
  const float* Bp_ = nullptr;  // this lane's B values at step 0; step t is at Bp_ + t * Bstep_
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

  __device__ int piece_bytes(unsigned bit) const { return piece_for<InT>(p_, bit); }

  // Steps between saved states: checkpoint_steps(dstate), a constant up to MaxDState 16.
  __device__ int chunk_steps() const {
    return checkpoint_steps(Config::kMaxDState) == kMinCheckpointSteps ? kMinCheckpointSteps
                                                                        : p_.chunk_steps;
  }

  // A tile at least as long as the checkpoint interval (16 steps at dstate <= 16) ends one or more
  // intervals. With 4 states or more per thread their states go to the ckpt tile (save_inside)
  // and the block copies the tile's intervals out together after it (flush_inside), each
  // channel's a contiguous run, rather than each thread storing 4 bytes at a time to rows
  // num_chunks x dstate floats apart (uncoalesced). With one or two (dstate 1) they go straight
  // there: the tile would cost more registers than its few stores.
  static constexpr bool kStagedSaves = kStates >= 4;
  __device__ bool staged_saves() const {
    return kStagedSaves && !Carry && kTime >= kMinCheckpointSteps && p_.checkpoints &&
           l_.ckpt_chunks > 0;
  }
  // After the tile's first `steps` steps (a multiple of 4; at the tile's end only if staged): the
  // states, if an interval ends there; in 16-byte pieces if `Vector` and they are aligned, else 4
  // bytes at a time. Staged saves test ckpt_states_ (0 without them), not p_.checkpoints. Both
  // choices keep registers down: inside scan_own_row's loop, the 16-byte stores or a test of
  // p_.checkpoints raise the two-lane kernels' register count, and with it fewer blocks fit.
  template <bool Vector>
  __device__ void save_inside(int64_t t0, int steps) const {
    if constexpr (Carry || kTime < kMinCheckpointSteps) return;
    const int K = chunk_steps();
    if (K > kTime || (steps & (K - 1)) != 0) return;
    if constexpr (!kStagedSaves) {
      const int64_t chunk = (t0 + steps) / K - 1;
      if (p_.checkpoints && chunk < p_.num_chunks) store_checkpoint(h_, chunk);
    } else {
      const int ds = int(a_.dstate);
      float* dst = at<float>(l_.ckpt) + row_ * l_.ckpt_pitch + (steps / K - 1) * ds + first_state_;
      if (Vector && ckpt_states_ == kStates && (ds & 3) == 0) {  // 16-byte aligned (ckpt_pitch)
#pragma unroll
        for (int q = 0; q < kStates / 4; ++q)
          reinterpret_cast<float4*>(dst)[q] =
              make_float4(h_[4 * q], h_[4 * q + 1], h_[4 * q + 2], h_[4 * q + 3]);
        return;
      }
#pragma unroll
      for (int n = 0; n < kStates; ++n)
        if (n < ckpt_states_) dst[n] = h_[n];
    }
  }
  // After the tile's barrier: its intervals in the sequence, but a segment's last (the combine's,
  // see the file comment) unless `last_too`, to the workspace.
  __device__ void flush_inside(int64_t t0, bool last_too) const {
    if (!staged_saves()) return;
    const int K = chunk_steps();
    const int64_t c0 = t0 / K;
    const int64_t left = p_.num_chunks - c0;
    int chunks = left < l_.ckpt_chunks ? int(left) : l_.ckpt_chunks;
    if (!last_too && chunks == l_.ckpt_chunks) --chunks;
    const int ds = int(a_.dstate), n = chunks * ds;  // floats per row
    const float* src = at<const float>(l_.ckpt);
    float* dst = p_.checkpoints + ((b_ * a_.dim + d0_) * p_.num_chunks + c0) * ds;
    const int64_t row_stride = p_.num_chunks * ds;
    // With a constant interval a row has at most kPer pieces (0: not constant): walking kPer per
    // row divides by a constant, not by a runtime count once per tile and thread.
    constexpr int kPer = checkpoint_steps(Config::kMaxDState) == kMinCheckpointSteps
                             ? kTime / kMinCheckpointSteps * Config::kMaxDState / 4
                             : 0;
    if (p_.ckpt_vec) {
      const int per = n / 4;  // 16-byte pieces per row
      const int walk = kPer > 0 ? kPer : per;
      for (int i = tid_; i < rows_valid_ * walk; i += kThreads) {
        const int r = i / walk, j = i % walk;
        if (j < per)
          reinterpret_cast<float4*>(dst + r * row_stride)[j] =
              reinterpret_cast<const float4*>(src + r * l_.ckpt_pitch)[j];
      }
    } else {
      for (int i = tid_; i < rows_valid_ * n; i += kThreads) {
        const int r = i / n, j = i % n;
        dst[r * row_stride + j] = src[r * l_.ckpt_pitch + j];
      }
    }
  }

  // Writes v (this thread's states, or values of the same shape) for this thread's channel at
  // `base` + batch * batch_stride + channel * dim_stride.
  __device__ void store_states(const float (&v)[kStates], float* base, int64_t batch_stride,
                               int64_t dim_stride) const {
    if (row_ >= rows_valid_) return;
    float* dst = base + b_ * batch_stride + (d0_ + row_) * dim_stride;
#pragma unroll
    for (int n = 0; n < kStates; ++n)
      if (first_state_ + n < a_.dstate) dst[first_state_ + n] = v[n];
  }

  __device__ void store_checkpoint(const float (&v)[kStates], int64_t chunk) const {
    store_states(v, p_.checkpoints + chunk * a_.dstate, a_.dim * p_.num_chunks * a_.dstate,
                 p_.num_chunks * a_.dstate);
  }

  // The checkpoint slot of chunk `chunk` for this thread's channel.
  __device__ float* slot(int64_t chunk) const {
    return p_.checkpoints + (b_ * a_.dim + d0_ + row_) * p_.num_chunks * a_.dstate +
           chunk * a_.dstate;
  }

  // Per-block constants: bias and D per row, a zero row for idle lanes, constant B/C, and this
  // thread's A and initial state.
  __device__ void setup() {
    const int64_t bpg = p_.blocks_per_group;
    const int64_t blk = blockIdx.x % p_.blocks_per_segment;
    segment_ = int(blockIdx.x / p_.blocks_per_segment);
    tile_begin_ = segment_ * p_.segment_tiles;
    tile_end_ = min(tile_begin_ + p_.segment_tiles, p_.num_tiles);
    const int64_t cb = blk % bpg;
    g_ = (blk / bpg) % a_.groups;
    b_ = blk / bpg / a_.groups;
    d0_ = g_ * p_.dim_per_group + cb * kRows;
    const int64_t left = p_.dim_per_group - cb * kRows;
    rows_valid_ = left < kRows ? int(left) : kRows;
    first_state_ = lane_ * kStates;
    if (staged_saves())
      ckpt_states_ = int(min(int64_t(kStates), max(a_.dstate - first_state_, int64_t(0))));

    float* bias = at<float>(l_.bias);
    float* Dv = at<float>(l_.D);
    for (int r = tid_; r < kRows; r += kThreads) {
      const bool ok = r < rows_valid_;
      const int64_t d = d0_ + r;
      bias[r] = ok && a_.delta_bias.data ? a_.delta_bias.data[d * a_.delta_bias.stride] : 0.f;
      Dv[r] = ok && a_.D.data ? a_.D.data[d * a_.D.stride] : 0.f;
    }
    float* zero = at<float>(l_.zero);
    for (int i = tid_; i < (kStates < 4 ? 4 : kStates); i += kThreads) zero[i] = 0.f;
    const int npad = l_.npad;
    auto load_const = [&](const matrix_tensor<const float>& m, int64_t off, int pitch) {
      float* dst = at<float>(off);
      for (int i = tid_; i < kRows * npad; i += kThreads) {
        const int r = i / npad, n = i % npad;
        dst[r * pitch + n + n / kStates * kRunPad] =
            r < rows_valid_ && n < a_.dstate ? m.data[(d0_ + r) * m.dim_stride + n] : 0.f;
      }
    };
    if (a_.B_const.data) load_const(a_.B_const, l_.Bf, l_.Bf_pitch);
    if (a_.C_const.data) load_const(a_.C_const, l_.Cf, l_.Cf_pitch);
    if constexpr (kOwnRows) {
      // The padded states of a time-varying B/C tile, which transpose_own_bc leaves alone.
      const int ds = int(a_.dstate), pad = npad - ds;
      auto zero_padded = [&](int64_t off, int pitch) {
        float* dst = at<float>(off);
        for (int i = tid_; i < kTime * pad; i += kThreads) {
          const int t = i / pad, n = ds + i % pad;
          dst[t * pitch + n + n / kStates * kRunPad] = 0.f;
        }
      };
      if (a_.B.data) zero_padded(l_.Bf, l_.Bf_pitch);
      if (!Carry && a_.C.data) zero_padded(l_.Cf, l_.Cf_pitch);
    }

    const bool row_ok = row_ < rows_valid_;
    const int64_t d = d0_ + row_;
    if (kOwnRows && row_ok) {
      if (a_.delta_bias.data) bias_ = a_.delta_bias.data[d * a_.delta_bias.stride];
      if (a_.D.data) D_ = a_.D.data[d * a_.D.stride];
    }
    // The carry pass starts from zero; the full pass from h0, or in a later segment from the end
    // state the combine wrote for the one before.
    const float* h0 = nullptr;
    if (!Carry && segment_ > 0) {
      h0 = slot(int64_t(segment_) * p_.segment_chunks - 1) + first_state_;
    } else if (!Carry && a_.initial_state.data) {
      h0 = a_.initial_state.data + b_ * a_.initial_state.batch_stride +
           d * a_.initial_state.dim_stride + first_state_;
    }
#pragma unroll
    for (int n = 0; n < kStates; ++n) {
      const bool on = row_ok && first_state_ + n < a_.dstate;
      a2_[n] = on ? a_.A.data[d * a_.A.dim_stride + first_state_ + n] * kLog2e : 0.f;
      h_[n] = on && h0 ? h0[n] : 0.f;
    }
    // Where this lane finds its B and C: a row per step if they vary in time, a row per channel
    // if constant, the zero row if all its states are padding.
    if (first_state_ >= a_.dstate) {
      Bp_ = Cp_ = at<const float>(l_.zero);
      Bstep_ = Cstep_ = 0;
    } else {
      const int col = lane_ * (kStates + kRunPad);
      Bp_ = at<const float>(l_.Bf) + (a_.B.data ? 0 : row_ * l_.Bf_pitch) + col;
      Cp_ = at<const float>(l_.Cf) + (a_.C.data ? 0 : row_ * l_.Cf_pitch) + col;
      Bstep_ = a_.B.data ? l_.Bf_pitch : 0;
      Cstep_ = a_.C.data ? l_.Cf_pitch : 0;
    }
  }

  __device__ forward_agent_base(const forward_params<InT, OutT>& p, char* smem)
      : p_(p), a_(p.a), l_(p.smem), smem_(smem) {}
};

}  // namespace s6scan::detail
