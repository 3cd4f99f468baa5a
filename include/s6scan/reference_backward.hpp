// SPDX-License-Identifier: MIT
#pragma once

// The CPU reference of the selective scan's backward: plain host C++, double precision, the oracle
// for the GPU backward. It recomputes the forward of each (batch, channel) and runs the adjoint
// recurrence backwards in time:
//   g_t = C_t dy_t + a_{t+1} g_{t+1}  (plus the last state's gradient at t = L-1)
//   dC_t += dy_t h_t   dB_t += g_t D_t u_t   du_t = D dy_t + sum_n g_t B_t D_t
//   dDelta_t = sum_n g_t (B_t u_t + A a_t h_{t-1})   dA += g_t D_t a_t h_{t-1}   dh0 = a_0 g_0
// where D_t is the step (delta after bias and softplus) and a_t = exp(D_t A).

#include <cmath>
#include <cstdint>
#include <vector>

#include "args.hpp"
#include "reference.hpp"

namespace s6scan {

/// @brief Gradients of a forward call, in double, each in the contiguous layout of its tensor.
///
/// Tensors the call did not have (z, D, delta_bias, initial_state) have empty gradients. dB and dC
/// have the shape of the B/C form the call used: (batch, groups, dstate, seqlen) for a time-varying
/// one, (dim, dstate) for a constant one.
struct reference_gradients {
  std::vector<double> du, ddelta, dz;  // (batch, dim, seqlen)
  std::vector<double> dA;              // (dim, dstate)
  /// (dim, dstate): the sum of the magnitudes of dA's terms (one per batch and step). dA is a sum
  /// whose terms can mostly cancel, so its rounding error is measured against this, not |dA|.
  std::vector<double> dA_scale;
  std::vector<double> dB, dC;
  std::vector<double> dD, ddelta_bias;  // (dim)
  std::vector<double> dh0;              // (batch, dim, dstate)
};

/// @brief Backward of the forward described by `a` (host pointers; `out` and `last_state` unused).
///
/// @param dout  (batch, dim, seqlen) gradient of out
/// @param dlast (batch, dim, dstate) gradient of the last state; its data may be null
/// @param g     receives every gradient (resized here)
/// @return the forward's argument checks' status; g is filled only on success
template <class InT, class OutT>
[[nodiscard]] status reference_backward(const forward_args<InT, OutT>& a,
                                        const seq_tensor<const OutT>& dout,
                                        const state_tensor<const float>& dlast,
                                        reference_gradients& g) {
  status s = detail::check_forward_inputs(a);
  if (!s) return s;
  if (!dout.data) return status::make(status_code::invalid_argument, "dout is null");
  if (!(s = detail::check_tensor(detail::view("dout", dout, a.batch, a.dim, a.seqlen), false)))
    return s;
  if (!(s = detail::check_tensor(detail::view("dlast_state", dlast, a.batch, a.dim, a.dstate),
                                 false)))
    return s;

  const int64_t Bn = a.batch, Dm = a.dim, L = a.seqlen, N = a.dstate, G = a.groups;
  const int64_t per_group = Dm / G;
  const size_t seq = size_t(Bn * Dm * L);
  g = reference_gradients{};
  g.du.assign(seq, 0.0);
  g.ddelta.assign(seq, 0.0);
  if (a.z.data) g.dz.assign(seq, 0.0);
  g.dA.assign(size_t(Dm * N), 0.0);
  g.dA_scale.assign(size_t(Dm * N), 0.0);
  g.dB.assign(a.B.data ? size_t(Bn * G * N * L) : size_t(Dm * N), 0.0);
  g.dC.assign(a.C.data ? size_t(Bn * G * N * L) : size_t(Dm * N), 0.0);
  if (a.D.data) g.dD.assign(size_t(Dm), 0.0);
  if (a.delta_bias.data) g.ddelta_bias.assign(size_t(Dm), 0.0);
  if (a.initial_state.data) g.dh0.assign(size_t(Bn * Dm * N), 0.0);

  const auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  std::vector<double> step(sz(L)), raw(sz(L)), ut(sz(L)), y(sz(L)), dy(sz(L));
  std::vector<double> decay(sz(L * N)), h(sz((L + 1) * N)), Bv(sz(L * N)), Cv(sz(L * N));
  std::vector<double> adj(sz(N));
  for (int64_t b = 0; b < Bn; ++b)
    for (int64_t d = 0; d < Dm; ++d) {
      const int64_t grp = d / per_group;
      const double bias = a.delta_bias.data ? a.delta_bias.data[d * a.delta_bias.stride] : 0.0;
      const double Dd = a.D.data ? a.D.data[d * a.D.stride] : 0.0;
      auto seq_at = [&](const auto& x, int64_t t) {
        return double(to_float(x.data[b * x.batch_stride + d * x.dim_stride + t]));
      };
      auto bc_at = [&](const bc_tensor<const InT>& x, const matrix_tensor<const float>& c, int64_t n,
                       int64_t t) {
        return x.data ? double(to_float(x.data[b * x.batch_stride + grp * x.group_stride +
                                               n * x.state_stride + t]))
                      : double(c.data[d * c.dim_stride + n]);
      };
      // Forward, keeping every state: h row 0 is the initial state, row t + 1 the state after t.
      for (int64_t n = 0; n < N; ++n)
        h[n] = a.initial_state.data ? a.initial_state.data[b * a.initial_state.batch_stride +
                                                           d * a.initial_state.dim_stride + n]
                                    : 0.0;
      for (int64_t t = 0; t < L; ++t) {
        raw[t] = seq_at(a.delta, t) + bias;
        step[t] = a.delta_softplus ? detail::softplus(raw[t]) : raw[t];
        ut[t] = seq_at(a.u, t);
        double acc = Dd * ut[t];
        for (int64_t n = 0; n < N; ++n) {
          const double An = a.A.data[d * a.A.dim_stride + n];
          Bv[t * N + n] = bc_at(a.B, a.B_const, n, t);
          Cv[t * N + n] = bc_at(a.C, a.C_const, n, t);
          decay[t * N + n] = std::exp(step[t] * An);
          h[(t + 1) * N + n] = decay[t * N + n] * h[t * N + n] + step[t] * Bv[t * N + n] * ut[t];
          acc += Cv[t * N + n] * h[(t + 1) * N + n];
        }
        y[t] = acc;
      }
      // The gate, then the adjoint recurrence backwards in time.
      const int64_t row = (b * Dm + d) * L;
      for (int64_t t = 0; t < L; ++t) {
        const double go = double(to_float(dout.data[b * dout.batch_stride + d * dout.dim_stride + t]));
        if (a.z.data) {
          const double z = seq_at(a.z, t), sig = 1.0 / (1.0 + std::exp(-z));
          dy[t] = go * z * sig;
          g.dz[row + t] = go * y[t] * sig * (1.0 + z * (1.0 - sig));
        } else {
          dy[t] = go;
        }
      }
      for (int64_t n = 0; n < N; ++n)
        adj[n] = dlast.data ? dlast.data[b * dlast.batch_stride + d * dlast.dim_stride + n] : 0.0;
      for (int64_t t = L - 1; t >= 0; --t) {
        double dstep = 0.0, du = Dd * dy[t];
        for (int64_t n = 0; n < N; ++n) {
          const double An = a.A.data[d * a.A.dim_stride + n];
          const double an = decay[t * N + n], hprev = h[t * N + n], hn = h[(t + 1) * N + n];
          adj[n] += Cv[t * N + n] * dy[t];
          const double dc = dy[t] * hn, db = adj[n] * step[t] * ut[t];
          if (a.C.data) g.dC[((b * G + grp) * N + n) * L + t] += dc; else g.dC[d * N + n] += dc;
          if (a.B.data) g.dB[((b * G + grp) * N + n) * L + t] += db; else g.dB[d * N + n] += db;
          du += adj[n] * step[t] * Bv[t * N + n];
          dstep += adj[n] * (Bv[t * N + n] * ut[t] + An * an * hprev);
          const double dA_term = adj[n] * step[t] * an * hprev;
          g.dA[d * N + n] += dA_term;
          g.dA_scale[d * N + n] += std::abs(dA_term);
          adj[n] *= an;  // carried to the state before step t
        }
        // softplus'(x) = sigmoid(x); above the threshold the step is x itself.
        const double draw = a.delta_softplus && raw[t] <= 20.0 ? dstep / (1.0 + std::exp(-raw[t])) : dstep;
        g.du[row + t] = du;
        g.ddelta[row + t] = draw;
        if (a.delta_bias.data) g.ddelta_bias[d] += draw;
        if (a.D.data) g.dD[d] += dy[t] * ut[t];
      }
      if (a.initial_state.data)
        for (int64_t n = 0; n < N; ++n) g.dh0[(b * Dm + d) * N + n] = adj[n];
    }
  return s;
}

}  // namespace s6scan
