// SPDX-License-Identifier: MIT
#pragma once

// The time-parallel forward kernel: one warp per channel, its 32 lanes owning consecutive runs of
// StepsPerLane steps, so that a call with few channels still has 32 threads per channel at work.
// A warp walks its channel's sequence in passes of 32 x StepsPerLane steps. Per pass each lane
// loads its steps' u, delta (and later z) in 16-byte pieces and computes the steps and delta * u
// once; then, one state at a time:
//   1. local scan: each lane scans its run from a zero state, keeping its steps' decays; the
//      run's whole decay is one more exponential, of the run's summed steps;
//   2. combine: the lanes' (decay, end state) pairs go through a warp-wide inclusive scan of
//      shuffles, lane 0's pair first folded with the state carried in from the previous pass, so
//      lane l ends with the true state after its run and lane l - 1's is where l starts;
//   3. finish: each lane runs its steps again from that true start with the kept decays (FMAs,
//      no second exponential per step), and y += C * state;
//   4. the state after the pass (lane 31's) is carried to the next pass in a register of the lane
//      whose index is the state's modulo 32.
// A, B and C of the next state are loaded while the current one is scanned. y starts as D * u;
// then the z gate, and 16-byte stores. Steps past seqlen have step 0, so they leave the state
// unchanged. Saved states: the lane whose run ends a checkpoint chunk (or the sequence) writes
// that step's state. The kernel uses no shared memory and no block barrier: the warps of a block
// take consecutive channels of one (batch, group), so their B and C loads meet in L1.

#include <cstdint>

#include "../args.hpp"
#include "../config.hpp"
#include "../numeric.hpp"
#include "ptx.cuh"
#include "tile_io.cuh"

namespace s6scan::detail {

/// @brief What the time-parallel kernel reads: the caller's arguments and what the host derived.
template <class InT, class OutT>
struct forward_time_params {
  forward_args<InT, OutT> a;
  int64_t dim_per_group;
  int64_t blocks_per_group;  ///< ceil(dim_per_group / channels per block)
  int64_t num_chunks;        ///< checkpoint chunks, when `checkpoints` is set
  int chunk_steps;           ///< checkpoint_steps(dstate)
  float* checkpoints;        ///< (batch, dim, num_chunks, dstate) states, or null
  unsigned vec;              ///< kVec* bits: rows that move in 16-byte pieces
  unsigned vec_small;        ///< kVec* bits of smaller pieces (set_piece_bits); unused here
};

/// @brief K steps of a row, [t0, t0 + K), as floats; 0 past `len`. In 16-byte loads when `vec`
///        (the row starts 16-byte aligned; t0 is a multiple of K) and the K steps are all inside.
template <int K, class T>
__device__ __forceinline__ void load_steps(const T* row, int64_t t0, int64_t len, bool vec,
                                           float (&v)[K]) {
  constexpr int kPer = 16 / int(sizeof(T));
  static_assert(K % kPer == 0, "a lane's steps are whole 16-byte pieces");
  if (vec && t0 + K <= len) {
#pragma unroll
    for (int i = 0; i < K / kPer; ++i) {
      union {
        uint4 u;
        T e[kPer];
      } pack;
      pack.u = __ldg(reinterpret_cast<const uint4*>(row + t0) + i);
#pragma unroll
      for (int e = 0; e < kPer; ++e) v[i * kPer + e] = to_float(pack.e[e]);
    }
  } else {
#pragma unroll
    for (int k = 0; k < K; ++k) v[k] = t0 + k < len ? to_float(row[t0 + k]) : 0.f;
  }
}

/// @brief Stores K steps [t0, t0 + K) of a row, those before `len`; in 16-byte stores as
///        load_steps loads.
template <int K, class T>
__device__ __forceinline__ void store_steps(T* row, int64_t t0, int64_t len, bool vec,
                                            const float (&v)[K]) {
  constexpr int kPer = 16 / int(sizeof(T));
  if (vec && t0 + K <= len) {
#pragma unroll
    for (int i = 0; i < K / kPer; ++i) {
      union {
        uint4 u;
        T e[kPer];
      } pack;
#pragma unroll
      for (int e = 0; e < kPer; ++e) pack.e[e] = from_float<T>(v[i * kPer + e]);
      reinterpret_cast<uint4*>(row + t0)[i] = pack.u;
    }
  } else {
#pragma unroll
    for (int k = 0; k < K; ++k)
      if (t0 + k < len) row[t0 + k] = from_float<T>(v[k]);
  }
}

template <class Config, class InT, class OutT>
class forward_time_agent {
  static constexpr int K = Config::kStepsPerLane;
  static constexpr int kPass = 32 * K;                               // steps per pass of a warp
  static constexpr int kCarryRegs = (Config::kMaxDState + 31) / 32;  // carried states per lane
  static constexpr unsigned kAll = 0xffffffffu;
  static_assert(kMinCheckpointSteps % K == 0,
                "a lane's run never straddles a checkpoint chunk's end (see slot_of)");

  const forward_time_params<InT, OutT>& p_;
  const forward_args<InT, OutT>& a_;
  const int lane_ = int(threadIdx.x % 32);
  int64_t b_ = 0, g_ = 0, d_ = 0;  // batch, group, channel
  float bias_ = 0.f, D_ = 0.f;
  float carry_[kCarryRegs];        // state 32 i + lane_ at the end of the last pass

  // The step of one (channel, time step) from its raw delta, as the channel-parallel kernel's.
  __device__ float step_of(float raw_delta) const {
    const float x = raw_delta + bias_;
    return a_.delta_softplus ? softplus(x) : x;
  }

  template <class T>
  __device__ const T* seq_row(const seq_tensor<const T>& x) const {
    return x.data + b_ * x.batch_stride + d_ * x.dim_stride;
  }

  template <class T>
  __device__ const T* bc_row(const bc_tensor<const T>& x) const {
    return x.data ? x.data + b_ * x.batch_stride + g_ * x.group_stride : nullptr;
  }

  // B or C of state n for this lane's K steps from t: `row` (state 0's row of a time-varying
  // tensor) plus n state strides, or the channel's constant (`row` null).
  __device__ void load_bc(const InT* row, int64_t state_stride, const float* constant, bool vec,
                          int n, int64_t t, float (&v)[K]) const {
    if (row) {
      load_steps<K>(row + n * state_stride, t, a_.seqlen, vec, v);
    } else {
      const float c = __ldg(constant + n);
#pragma unroll
      for (int k = 0; k < K; ++k) v[k] = c;
    }
  }

  // The saved-state slot of this lane's run [t, t + K) if the run ends a checkpoint chunk, or
  // holds the sequence's last step; else null. A chunk's end is always a run's last step
  // (chunks are whole runs).
  __device__ float* slot_of(int64_t t) const {
    const int64_t L = a_.seqlen;
    if (!p_.checkpoints || t >= L || (t + K < L && (t + K) % p_.chunk_steps != 0)) return nullptr;
    const int64_t chunk = (min(t + K, L) - 1) / p_.chunk_steps;
    return p_.checkpoints + ((b_ * a_.dim + d_) * p_.num_chunks + chunk) * a_.dstate;
  }

  // One pass of K x 32 steps from t0.
  __device__ void pass(int64_t t0) {
    const int64_t L = a_.seqlen;
    const int64_t t = t0 + int64_t(lane_) * K;
    float dt[K], du[K], y[K], run_steps = 0.f;
    load_steps<K>(seq_row(a_.u), t, L, p_.vec & kVecU, du);
    load_steps<K>(seq_row(a_.delta), t, L, p_.vec & kVecDelta, dt);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      y[k] = D_ * du[k];  // D u first: u is not kept through the states
      dt[k] = t + k < L ? step_of(dt[k]) : 0.f;
      du[k] *= dt[k];
      run_steps += dt[k];
    }
    float* const slot = slot_of(t);
    const int ds = int(a_.dstate);
    const float* A = a_.A.data + d_ * a_.A.dim_stride;
    const InT* const Brow = bc_row(a_.B);
    const InT* const Crow = bc_row(a_.C);
    const float* const Bc = Brow ? nullptr : a_.B_const.data + d_ * a_.B_const.dim_stride;
    const float* const Cc = Crow ? nullptr : a_.C_const.data + d_ * a_.C_const.dim_stride;
    const int64_t Bs = a_.B.state_stride, Cs = a_.C.state_stride;
    const bool Bvec = p_.vec & kVecB, Cvec = p_.vec & kVecC;
    // The next state's A, B and C are loaded a state ahead, so that their latency passes under
    // this state's scan.
    float a2_next = __ldg(A) * kLog2e, B_next[K], C_next[K];
    load_bc(Brow, Bs, Bc, Bvec, 0, t, B_next);
    load_bc(Crow, Cs, Cc, Cvec, 0, t, C_next);
#pragma unroll
    for (int i = 0; i < kCarryRegs; ++i) {
      if (32 * i >= ds) break;
      const int states = min(32, ds - 32 * i);
      for (int j = 0; j < states; ++j) {
        const int n = 32 * i + j;
        const float a2 = a2_next;
        float Bu[K], Cv[K], e[K];
#pragma unroll
        for (int k = 0; k < K; ++k) {
          Bu[k] = B_next[k] * du[k];
          Cv[k] = C_next[k];
        }
        const int next = min(n + 1, ds - 1);  // the last state loads itself again: in bounds
        a2_next = __ldg(A + next) * kLog2e;
        load_bc(Brow, Bs, Bc, Bvec, next, t, B_next);
        load_bc(Crow, Cs, Cc, Cvec, next, t, C_next);
        // 1. this lane's run from zero, and its decay in one exponential of the summed steps
        float h = 0.f;
#pragma unroll
        for (int k = 0; k < K; ++k) {
          e[k] = ex2(a2 * dt[k]);
          h = fmaf(e[k], h, Bu[k]);
        }
        float prod = ex2(a2 * run_steps);
        // 2. the warp's runs in order, the carried state folded into lane 0's
        const float h_in = __shfl_sync(kAll, carry_[i], j);
        if (lane_ == 0) h = fmaf(prod, h_in, h);
#pragma unroll
        for (int off = 1; off < 32; off *= 2) {
          const float pp = __shfl_up_sync(kAll, prod, off);
          const float ph = __shfl_up_sync(kAll, h, off);
          if (lane_ >= off) {
            h = fmaf(prod, ph, h);
            prod *= pp;
          }
        }
        float hk = __shfl_up_sync(kAll, h, 1);
        if (lane_ == 0) hk = h_in;
        // 3. the run again from its true start, into y. Steps past seqlen leave the state as it
        //    was, so the run's last state is also the sequence's last.
#pragma unroll
        for (int k = 0; k < K; ++k) {
          hk = fmaf(e[k], hk, Bu[k]);
          y[k] = fmaf(Cv[k], hk, y[k]);
        }
        if (slot) slot[n] = hk;
        // 4. the state after the pass, carried
        const float end = __shfl_sync(kAll, h, 31);
        if (lane_ == j) carry_[i] = end;
      }
    }
    if (a_.z.data) {
      float z[K];
      load_steps<K>(seq_row(a_.z), t, L, p_.vec & kVecZ, z);
#pragma unroll
      for (int k = 0; k < K; ++k) y[k] *= silu(z[k]);
    }
    OutT* out = a_.out.data + b_ * a_.out.batch_stride + d_ * a_.out.dim_stride;
    store_steps<K>(out, t, L, p_.vec & kVecOut, y);
  }

 public:
  __device__ explicit forward_time_agent(const forward_time_params<InT, OutT>& p)
      : p_(p), a_(p.a) {}

  __device__ void run() {
    const int64_t blk = blockIdx.x;
    const int64_t cb = blk % p_.blocks_per_group;
    g_ = (blk / p_.blocks_per_group) % a_.groups;
    b_ = blk / p_.blocks_per_group / a_.groups;
    const int64_t j = cb * Config::kRows + threadIdx.x / 32;  // channel within the group
    if (j >= p_.dim_per_group) return;  // a whole warp: no barrier or shuffle waits for it
    d_ = g_ * p_.dim_per_group + j;
    if (a_.delta_bias.data) bias_ = __ldg(a_.delta_bias.data + d_ * a_.delta_bias.stride);
    if (a_.D.data) D_ = __ldg(a_.D.data + d_ * a_.D.stride);
    const float* h0 = a_.initial_state.data
                          ? a_.initial_state.data + b_ * a_.initial_state.batch_stride +
                                d_ * a_.initial_state.dim_stride
                          : nullptr;
#pragma unroll
    for (int i = 0; i < kCarryRegs; ++i) {
      const int n = 32 * i + lane_;
      carry_[i] = h0 && n < a_.dstate ? h0[n] : 0.f;
    }
    for (int64_t t0 = 0; t0 < a_.seqlen; t0 += kPass) pass(t0);
    if (a_.last_state.data) {
      float* dst = a_.last_state.data + b_ * a_.last_state.batch_stride +
                   d_ * a_.last_state.dim_stride;
#pragma unroll
      for (int i = 0; i < kCarryRegs; ++i) {
        const int n = 32 * i + lane_;
        if (n < a_.dstate) dst[n] = carry_[i];
      }
    }
  }
};

/// @brief Blocks of Config::kRows warps, ceil(dim_per_group / kRows) per (batch, group).
template <class Config, class InT, class OutT>
__global__ void __launch_bounds__(Config::kThreads, Config::kMinBlocksPerSM)
    forward_time_kernel(const __grid_constant__ forward_time_params<InT, OutT> p) {
  forward_time_agent<Config, InT, OutT>(p).run();
}

}  // namespace s6scan::detail
