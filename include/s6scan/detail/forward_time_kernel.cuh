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
//   4. the state after the pass (lane 31's) is carried to the next pass in shared memory, dstate
//      floats per warp.
// A, B and C of the next state are loaded while the current one is scanned. In a whole pass (all
// its steps inside the sequence, B and C time-varying) B and C stay raw pieces until used, state
// 0's loads and z's are issued before the steps are converted, and the next whole pass's u and
// delta are loaded during this one, so that no load is waited for right after it is issued.
// Where every row is 16-byte aligned the pieces are a run's own 16-byte pieces; otherwise (an
// odd seqlen, padded rows) a run is read as the aligned pieces that cover it, one more than its
// bytes, and shifted into place in registers: whole loads instead of one per element. Reading
// from the aligned piece below a row's start stays inside the row's allocation, which starts
// 256-byte aligned; the pass that would read past the sequence's end is a general one. y starts
// as D * u; then the z gate, and the stores. Steps past seqlen have step 0, so they leave the
// state unchanged. Saved states: the lane whose run ends a checkpoint chunk (or the sequence)
// writes that step's state. There is no block barrier: the warps of a block take consecutive
// channels of one (batch, group), so their B and C loads meet in L1, and otherwise run apart.

#include <cstdint>
#include <type_traits>

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
  static constexpr int kPieces = K * int(sizeof(InT)) / 16;          // 16-byte pieces of a run
  static constexpr unsigned kAll = 0xffffffffu;
  static_assert(kMinCheckpointSteps % K == 0,
                "a lane's run never straddles a checkpoint chunk's end (see slot_of)");

  // One state's B or C over a lane's run as loaded: raw 16-byte pieces, converted where used so
  // that a load a state ahead is not waited for at once (whole passes)...
  struct raw_run {
    union {
      uint4 v[kPieces];
      InT e[K];
    } r;
    __device__ void load(const InT* from) {
      const uint4* q = reinterpret_cast<const uint4*>(from);
#pragma unroll
      for (int i = 0; i < kPieces; ++i) r.v[i] = __ldg(q + i);
    }
    __device__ void settle() {}
    __device__ float get(int k) const { return to_float(r.e[k]); }
  };
  // ...or, from a row whose runs are not 16-byte aligned, the kG-byte pieces that cover the run
  // (one piece more than its bytes) and the run's byte offset into the first, moved to the front
  // by `settle` once the loads have landed: a few selects and funnel shifts by that offset, the
  // same for every lane of a u, delta or z row and of one state's B or C row. Pieces of 8 bytes
  // in 16-bit types keep the registers of the B and C buffers at those of float_run's.
  struct shifted_run {
    static constexpr int kG = sizeof(InT) == 2 ? 8 : 16;
    static constexpr int kRunWords = K * int(sizeof(InT)) / 4;
    static constexpr int kWords = kRunWords + kG / 4;
    using piece = std::conditional_t<kG == 8, uint2, uint4>;
    union {
      piece p[kWords * 4 / kG];
      uint32_t w[kWords];
      InT e[K];
    } r;
    int shift;
    __device__ void load(const InT* from) {
      const auto at = reinterpret_cast<uintptr_t>(from);
      shift = int(at % kG);
      const piece* q = reinterpret_cast<const piece*>(at - uintptr_t(shift));
#pragma unroll
      for (int i = 0; i < kWords * 4 / kG; ++i) r.p[i] = __ldg(q + i);
    }
    __device__ void settle() {
      if (kG == 16) {
        const bool two = shift & 8;
#pragma unroll
        for (int i = 0; i + 2 < kWords; ++i) r.w[i] = two ? r.w[i + 2] : r.w[i];
      }
      const bool one = shift & 4;
#pragma unroll
      for (int i = 0; i + 1 < kWords; ++i) r.w[i] = one ? r.w[i + 1] : r.w[i];
      if (sizeof(InT) == 2) {
        const unsigned bits = unsigned(shift & 2) * 8;
#pragma unroll
        for (int i = 0; i < kRunWords; ++i) r.w[i] = __funnelshift_r(r.w[i], r.w[i + 1], bits);
      }
    }
    __device__ float get(int k) const { return to_float(r.e[k]); }
  };
  // ...or floats (the general pass: the sequence's end, constant B or C).
  struct float_run {
    float f[K];
    __device__ void settle() {}
    __device__ float get(int k) const { return f[k]; }
  };

  const forward_time_params<InT, OutT>& p_;
  const forward_args<InT, OutT>& a_;
  const int lane_ = int(threadIdx.x % 32);
  int64_t b_ = 0, g_ = 0, d_ = 0;  // batch, group, channel
  float bias_ = 0.f, D_ = 0.f;
  float* carry_ = nullptr;         // this warp's states at the end of the last pass (shared)

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

  // Whether every pass but a last partial one can take the whole-pass path: every row in
  // 16-byte pieces and B, C time-varying.
  __device__ bool whole_rows() const {
    const unsigned need = kVecU | kVecDelta | kVecB | kVecC | kVecOut | (a_.z.data ? kVecZ : 0u);
    return (p_.vec & need) == need && a_.B.data && a_.C.data;
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

  // State n over one pass: steps 1-4 of the file comment.
  template <class Run>
  __device__ void scan_state(int n, float a2, const Run& B, const Run& C, const float (&dt)[K],
                             const float (&du)[K], float run_steps, float (&y)[K],
                             float* slot) const {
    // 1. this lane's run from zero, and its decay in one exponential of the summed steps
    float e[K], Bu[K], h = 0.f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      e[k] = ex2(a2 * dt[k]);
      Bu[k] = B.get(k) * du[k];
      h = fmaf(e[k], h, Bu[k]);
    }
    float prod = ex2(a2 * run_steps);
    // 2. the warp's runs in order, the carried state folded into lane 0's
    const float h_in = carry_[n];
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
    // 3. the run again from its true start, into y. Steps past seqlen leave the state as it was,
    //    so the run's last state is also the sequence's last.
#pragma unroll
    for (int k = 0; k < K; ++k) {
      hk = fmaf(e[k], hk, Bu[k]);
      y[k] = fmaf(C.get(k), hk, y[k]);
    }
    if (slot) slot[n] = hk;
    // 4. the state after the pass, carried (every lane has read the old one)
    const float end = __shfl_sync(kAll, h, 31);
    __syncwarp();
    if (lane_ == 0) carry_[n] = end;
  }

  // Every state of one pass, each state's A, B and C loaded (`load(n, B, C, a2)`) while the
  // state before it is scanned, and settled just before their own; two buffers in turn, so no
  // copy between them. State 0's are in B0, C0 and a0 on entry.
  template <class Run, class Load>
  __device__ void scan_states(const Load& load, Run& B0, Run& C0, float a0, const float (&dt)[K],
                              const float (&du)[K], float run_steps, float (&y)[K], float* slot) {
    const int ds = int(a_.dstate);
    Run B1, C1;
    float a1;
    // The last state loads itself again (in bounds) as its "next".
    int n = 0;
    for (; n + 2 <= ds; n += 2) {
      load(n + 1, B1, C1, a1);
      B0.settle();
      C0.settle();
      scan_state(n, a0, B0, C0, dt, du, run_steps, y, slot);
      load(min(n + 2, ds - 1), B0, C0, a0);
      B1.settle();
      C1.settle();
      scan_state(n + 1, a1, B1, C1, dt, du, run_steps, y, slot);
    }
    if (n < ds) {
      B0.settle();
      C0.settle();
      scan_state(n, a0, B0, C0, dt, du, run_steps, y, slot);
    }
  }

  // The steps of this lane's run from the raw deltas (0 past seqlen, unless `whole`), delta * u
  // in place of u, D * u into y, and the run's summed steps.
  __device__ float prepare_steps(int64_t t, bool whole, float (&dt)[K], float (&du)[K],
                                 float (&y)[K]) const {
    float run_steps = 0.f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      y[k] = D_ * du[k];  // D u first: u is not kept through the states
      dt[k] = whole || t + k < a_.seqlen ? step_of(dt[k]) : 0.f;
      du[k] *= dt[k];
      run_steps += dt[k];
    }
    return run_steps;
  }

  // The z gate (z's K steps from t in `z`, when there is z) and the store of y.
  __device__ void finish(int64_t t, bool vec_out, const float (&z)[K], float (&y)[K]) const {
    if (a_.z.data) {
#pragma unroll
      for (int k = 0; k < K; ++k) y[k] *= silu(z[k]);
    }
    OutT* out = a_.out.data + b_ * a_.out.batch_stride + d_ * a_.out.dim_stride;
    store_steps<K>(out, t, a_.seqlen, vec_out, y);
  }

  // One whole pass of K x 32 steps from t0: every lane's run inside the sequence (and, for a
  // shifted_run, the piece past it too), B and C time-varying, so no bound is tested. Run is
  // raw_run where every row is in 16-byte pieces (whole_rows), else shifted_run. `u` and `dl`
  // hold this pass's raw u and delta on entry and, when `next` (the next pass is whole too), the
  // next pass's on return: their loads, like state 0's B and C and z's, are issued early so that
  // their latency passes under the work before their first use.
  template <class Run>
  __device__ void whole_pass(int64_t t0, Run& u, Run& dl, bool next) {
    const int64_t t = t0 + int64_t(lane_) * K;
    const float* A = a_.A.data + d_ * a_.A.dim_stride;
    const InT* const Brow = bc_row(a_.B) + t;
    const InT* const Crow = bc_row(a_.C) + t;
    const int64_t Bs = a_.B.state_stride, Cs = a_.C.state_stride;
    const auto load = [&](int n, Run& B, Run& C, float& a2) {
      a2 = __ldg(A + n) * kLog2e;
      B.load(Brow + n * Bs);
      C.load(Crow + n * Cs);
    };
    Run B0, C0, zr;
    float a0;
    load(0, B0, C0, a0);
    if (a_.z.data) zr.load(seq_row(a_.z) + t);
    float dt[K], du[K], y[K], z[K];
    u.settle();
    dl.settle();
#pragma unroll
    for (int k = 0; k < K; ++k) {
      du[k] = u.get(k);
      dt[k] = dl.get(k);
    }
    if (next) {
      u.load(seq_row(a_.u) + t + kPass);
      dl.load(seq_row(a_.delta) + t + kPass);
    }
    const float run_steps = prepare_steps(t, true, dt, du, y);
    scan_states<Run>(load, B0, C0, a0, dt, du, run_steps, y, slot_of(t));
    if (a_.z.data) zr.settle();
#pragma unroll
    for (int k = 0; k < K; ++k) z[k] = a_.z.data ? zr.get(k) : 0.f;
    finish(t, p_.vec & kVecOut, z, y);
  }

  // The whole passes before `end`, a multiple of the pass from 0; returns `end`.
  template <class Run>
  __device__ int64_t whole_passes(int64_t end) {
    if (end <= 0) return 0;
    Run u, dl;
    u.load(seq_row(a_.u) + int64_t(lane_) * K);
    dl.load(seq_row(a_.delta) + int64_t(lane_) * K);
    // A pass reads the carried states its previous pass (or the setup) wrote: __syncwarp first.
    for (int64_t t0 = 0; t0 < end; t0 += kPass) {
      __syncwarp();
      whole_pass<Run>(t0, u, dl, t0 + kPass < end);
    }
    return end;
  }

  // One pass of K x 32 steps from t0 with every bound tested: the sequence's end, constant B or
  // C.
  __device__ void general_pass(int64_t t0) {
    const int64_t L = a_.seqlen;
    const int64_t t = t0 + int64_t(lane_) * K;
    float dt[K], du[K], y[K], z[K];
    load_steps<K>(seq_row(a_.u), t, L, p_.vec & kVecU, du);
    load_steps<K>(seq_row(a_.delta), t, L, p_.vec & kVecDelta, dt);
    const float run_steps = prepare_steps(t, false, dt, du, y);
    const float* A = a_.A.data + d_ * a_.A.dim_stride;
    const InT* const Brow = bc_row(a_.B);
    const InT* const Crow = bc_row(a_.C);
    const int64_t Bs = a_.B.state_stride, Cs = a_.C.state_stride;
    const float* const Bc = Brow ? nullptr : a_.B_const.data + d_ * a_.B_const.dim_stride;
    const float* const Cc = Crow ? nullptr : a_.C_const.data + d_ * a_.C_const.dim_stride;
    const bool Bvec = p_.vec & kVecB, Cvec = p_.vec & kVecC;
    // A time-varying row, or the channel's constant for every step.
    const auto one = [&](const InT* row, int64_t stride, const float* c, bool vec, int n,
                         float_run& v) {
      if (row) {
        load_steps<K>(row + n * stride, t, L, vec, v.f);
      } else {
        const float x = __ldg(c + n);
#pragma unroll
        for (int k = 0; k < K; ++k) v.f[k] = x;
      }
    };
    const auto load = [&](int n, float_run& B, float_run& C, float& a2) {
      a2 = __ldg(A + n) * kLog2e;
      one(Brow, Bs, Bc, Bvec, n, B);
      one(Crow, Cs, Cc, Cvec, n, C);
    };
    float_run B0, C0;
    float a0;
    load(0, B0, C0, a0);
    scan_states<float_run>(load, B0, C0, a0, dt, du, run_steps, y, slot_of(t));
    if (a_.z.data) load_steps<K>(seq_row(a_.z), t, L, p_.vec & kVecZ, z);
    finish(t, p_.vec & kVecOut, z, y);
  }

 public:
  __device__ forward_time_agent(const forward_time_params<InT, OutT>& p, float* smem)
      : p_(p), a_(p.a), carry_(smem + (threadIdx.x / 32) * p.a.dstate) {}

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
    for (int n = lane_; n < a_.dstate; n += 32) carry_[n] = h0 ? h0[n] : 0.f;
    const int64_t L = a_.seqlen;
    // Whole passes in 16-byte pieces where every row allows, else in shifted pieces up to the
    // last pass whose final piece stays inside the sequence; the general pass for the rest.
    int64_t t0 = 0;
    if (whole_rows()) {
      t0 = whole_passes<raw_run>(L / kPass * kPass);
    } else if (a_.B.data && a_.C.data) {
      constexpr int64_t kOver = shifted_run::kG / int64_t(sizeof(InT));  // steps read past a run
      t0 = whole_passes<shifted_run>(L >= kOver ? (L - kOver) / kPass * kPass : 0);
    }
    for (; t0 < L; t0 += kPass) {
      __syncwarp();
      general_pass(t0);
    }
    __syncwarp();
    if (a_.last_state.data) {
      float* dst = a_.last_state.data + b_ * a_.last_state.batch_stride +
                   d_ * a_.last_state.dim_stride;
      for (int n = lane_; n < a_.dstate; n += 32) dst[n] = carry_[n];
    }
  }
};

/// @brief Blocks of Config::kRows warps, ceil(dim_per_group / kRows) per (batch, group).
template <class Config, class InT, class OutT>
__global__ void __launch_bounds__(Config::kThreads, Config::kMinBlocksPerSM)
    forward_time_kernel(const __grid_constant__ forward_time_params<InT, OutT> p) {
  extern __shared__ float carried[];  // dstate floats per warp
  forward_time_agent<Config, InT, OutT>(p, carried).run();
}

}  // namespace s6scan::detail
