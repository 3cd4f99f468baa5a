// SPDX-License-Identifier: MIT
#pragma once

// The backward with one lane per channel (kOwnRows): the thread that owns a channel works from
// its raw rows in the stage, reads a time-varying B/C straight from its raw tile, and writes du,
// ddelta and dz over the u, delta and z it has read; the block then stores them coalesced.

#include "backward_agent_base.cuh"

namespace s6scan::detail {

template <class Config, class InT, class OutT, bool Carry>
class backward_own_rows : protected backward_agent_base<Config, InT, OutT, Carry> {
 protected:
  using base = backward_agent_base<Config, InT, OutT, Carry>;
  using typename base::item;
  using base::Bp_, base::Cp_, base::a2_, base::a_, base::accA_, base::accB_, base::accBias_,
      base::accC_, base::accD_, base::b_, base::d0_, base::dh_, base::f_, base::first_step,
      base::h_, base::kRun, base::kStates, base::kThreads, base::kTiles, base::kTime, base::l_,
      base::p_, base::reduce_tile_terms, base::row_, base::rows_valid_, base::save_start,
      base::span_, base::tile_start;

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
    const InT* ru = this->template stage<const InT>(s, l_.raw_u) + row_ * kTime;
    const InT* rd = this->template stage<const InT>(s, l_.raw_delta) + row_ * kTime;
    const InT* rB = f_.B.data ? this->template stage<const InT>(s, l_.raw_B) : nullptr;
    const float bias = this->template at<const float>(l_.bias)[row_];
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
    const InT* rd = this->template stage<const InT>(s, l_.raw_delta) + row_ * kTime;
    const InT* rz = this->template stage<const InT>(s, l_.raw_z) + row_ * kTime;
    const OutT* ro = this->template stage<const OutT>(s, l_.raw_dout) + row_ * kTime;
    const InT* rC = f_.C.data ? this->template stage<const InT>(s, l_.raw_C) : nullptr;
    const float bias = this->template at<const float>(l_.bias)[row_];
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
    InT* ru = this->template stage<InT>(s, l_.raw_u) + row_ * kTime;
    InT* rd = this->template stage<InT>(s, l_.raw_delta) + row_ * kTime;
    InT* rz = this->template stage<InT>(s, l_.raw_z) + row_ * kTime;
    const OutT* ro = this->template stage<const OutT>(s, l_.raw_dout) + row_ * kTime;
    const InT* rB = f_.B.data ? this->template stage<const InT>(s, l_.raw_B) : nullptr;
    const InT* rC = f_.C.data ? this->template stage<const InT>(s, l_.raw_C) : nullptr;
    const float bias = this->template at<const float>(l_.bias)[row_], Dr = this->template at<const float>(l_.D)[row_];
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
                                  x.dim_stride, this->template stage<const InT>(s, off), rows_valid_, left,
                                  piece_for<InT>(p_, bit));
    };
    put(a_.du, l_.raw_u, kVecGradU);
    put(a_.ddelta, l_.raw_delta, kVecGradDelta);
    if (a_.dz.data) put(a_.dz, l_.raw_z, kVecGradZ);
  }

  using base::base;
};

}  // namespace s6scan::detail
