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
#include "backward_own_rows.cuh"
#include "backward_params.cuh"
#include "layout.hpp"
#include "ptx.cuh"
#include "tile_io.cuh"

namespace s6scan::detail {

template <class Config, class InT, class OutT, bool Carry>
class backward_agent : backward_own_rows<Config, InT, OutT, Carry> {
  using own = backward_own_rows<Config, InT, OutT, Carry>;
  using base = typename own::base;
  using typename base::item;
  using typename base::rows;
  using typename base::svec;
  using base::Bp_, base::Bstep_, base::Cp_, base::Cstep_, base::a2_, base::a_, base::accA_,
      base::accB_, base::accBias_, base::accC_, base::accD_, base::acc_slot, base::advance_tile,
      base::b_, base::bc_at, base::begin_chunk, base::carry_tile, base::cb_, base::channel_rows,
      base::chunk_start, base::d0_, base::dh_, base::f_, base::first_state_, base::first_step,
      base::g_, base::h_, base::kByKind, base::kChunk, base::kLaneBits, base::kOwnRows,
      base::kPartKinds, base::kPartRedPitch, base::kParts, base::kRedPitch, base::kRows,
      base::kStartInStage, base::kStateVec, base::kStates, base::kThreads, base::kTiles,
      base::kTime, base::kVecReduce, base::l_, base::lane_, base::lane_sum, base::load_stage,
      base::next, base::p_, base::part_red_vec, base::prologue, base::reduce_step_terms,
      base::row_, base::rows_valid_, base::seg_, base::segment_begin, base::span_, base::starts_,
      base::step_terms_slot, base::store_part_terms, base::store_terms, base::swz_, base::tid_,
      base::tile_start, base::tiles_in_chunk, base::vq;
  using own::own_adjoint, own::own_advance, own::own_carry, own::own_store;

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
    float* yr = this->template at<float>(l_.y) + row_ * P;
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
    this->template scatter_sum<0, kLaneBits, W>(v);
    const int first = base::template scatter_first<0, kLaneBits, W, V>(tid_ % 32);
    if (first < 0) return;
    const int P = l_.tile_pitch;
#pragma unroll
    for (int k = 0; k < base::template held_units<kLaneBits, W, V>(); ++k) {
      constexpr float kLn2 = 0.6931471805599453f;
      const int j = first + k, e = row_ * P + j;
      const float gu = v[k * W], u = to_float(r.u[j]);
      const float g_delta = fmaf(u, gu, kLn2 * v[k * W + 1]) * r.sg[j];
      this->template at<float>(l_.gu)[e] = gu;
      this->template at<float>(l_.gd)[e] = g_delta;
      if constexpr (W == 3) this->template at<float>(l_.y)[e] = v[k * W + 2];
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
    const float* red = this->template at<const float>(l_.red);
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
    const float* dt = this->template at<const float>(l_.dt);
    const float* dy = this->template at<const float>(l_.dy);
    const float* gu = this->template at<const float>(l_.gu);
    const float* gd = this->template at<const float>(l_.gd);
    const float* y = this->template at<const float>(l_.y);
    const float* D = this->template at<const float>(l_.D);
    const InT* ru = this->template stage<const InT>(s, l_.raw_u);
    const InT* rz = this->template stage<const InT>(s, l_.raw_z);
    const OutT* ro = this->template stage<const OutT>(s, l_.raw_dout);
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

    float* bias = this->template at<float>(l_.bias);
    float* Dv = this->template at<float>(l_.D);
    for (int r = tid_; r < kRows; r += kThreads) {
      const bool ok = r < rows_valid_;
      const int64_t d = d0_ + r;
      bias[r] = ok && f_.delta_bias.data ? f_.delta_bias.data[d * f_.delta_bias.stride] : 0.f;
      Dv[r] = ok && f_.D.data ? f_.D.data[d * f_.D.stride] : 0.f;
    }
    float* zero = this->template at<float>(l_.zero);
    for (int i = tid_; i < (kStates < 4 ? 4 : kStates); i += kThreads) zero[i] = 0.f;
    const int npad = l_.npad;
    auto load_const = [&](const matrix_tensor<const float>& m, int64_t off, int pitch) {
      float* dst = this->template at<float>(off);
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
      Bp_ = Cp_ = this->template at<const float>(l_.zero);
      Bstep_ = Cstep_ = 0;
    } else {
      Bp_ = this->template at<const float>(l_.Bf) + (f_.B.data ? 0 : row_ * l_.Bf_pitch) + first_state_;
      Cp_ = this->template at<const float>(l_.Cf) + (f_.C.data ? 0 : row_ * l_.Cf_pitch) + first_state_;
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
  __device__ backward_agent(const backward_params<InT, OutT>& p, char* smem) : own(p, smem) {}

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
