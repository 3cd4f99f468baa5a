// SPDX-License-Identifier: MIT
#pragma once

// The CPU reference of the selective scan: plain host C++, double accumulation. It is the tests'
// oracle and a fallback for callers without a GPU. All pointers in the arguments are host pointers.

#include <cmath>
#include <cstdint>
#include <vector>

#include "args.hpp"
#include "checks.hpp"
#include "numeric.hpp"
#include "status.hpp"

namespace s6scan {

namespace detail {

inline double softplus(double x) { return x <= 20.0 ? std::log1p(std::exp(x)) : x; }

/// @brief The reference's "configuration" for the launcher's argument checks: any dstate; no
///        shared-memory or grid limit applies on the CPU.
inline constexpr kernel_shape kHostShape{1 << 30, 1, 8, 1, 32};

}  // namespace detail

/// @brief Forward scan of one (batch, channel) pair in double precision.
///
/// @param a          the call's arguments (host pointers); `out` and `last_state` are not written
/// @param b          batch index
/// @param d          channel index
/// @param y          (seqlen) receives the output of this channel, gating included
/// @param last_state (dstate) receives the state after the last step; may be null
template <class InT, class OutT>
void reference_forward_channel(const forward_args<InT, OutT>& a, int64_t b, int64_t d, double* y,
                               double* last_state) {
  const int64_t g = d / (a.dim / a.groups);
  std::vector<double> h(static_cast<size_t>(a.dstate), 0.0);
  if (a.initial_state.data)
    for (int64_t n = 0; n < a.dstate; ++n)
      h[n] = a.initial_state.data[b * a.initial_state.batch_stride + d * a.initial_state.dim_stride + n];
  const double bias = a.delta_bias.data ? a.delta_bias.data[d * a.delta_bias.stride] : 0.0;
  const double Dd = a.D.data ? a.D.data[d * a.D.stride] : 0.0;
  const InT* u = a.u.data + b * a.u.batch_stride + d * a.u.dim_stride;
  const InT* dl = a.delta.data + b * a.delta.batch_stride + d * a.delta.dim_stride;
  const InT* z = a.z.data ? a.z.data + b * a.z.batch_stride + d * a.z.dim_stride : nullptr;
  for (int64_t t = 0; t < a.seqlen; ++t) {
    double dt = double(to_float(dl[t])) + bias;
    if (a.delta_softplus) dt = detail::softplus(dt);
    const double ut = to_float(u[t]);
    double acc = 0.0;
    for (int64_t n = 0; n < a.dstate; ++n) {
      const double An = a.A.data[d * a.A.dim_stride + n];
      const double Bn = a.B.data ? double(to_float(a.B.data[b * a.B.batch_stride + g * a.B.group_stride +
                                                            n * a.B.state_stride + t]))
                                 : double(a.B_const.data[d * a.B_const.dim_stride + n]);
      const double Cn = a.C.data ? double(to_float(a.C.data[b * a.C.batch_stride + g * a.C.group_stride +
                                                            n * a.C.state_stride + t]))
                                 : double(a.C_const.data[d * a.C_const.dim_stride + n]);
      h[n] = std::exp(dt * An) * h[n] + dt * Bn * ut;
      acc += Cn * h[n];
    }
    acc += Dd * ut;
    if (z) {
      const double zt = to_float(z[t]);
      acc *= zt / (1.0 + std::exp(-zt));
    }
    y[t] = acc;
  }
  if (last_state)
    for (int64_t n = 0; n < a.dstate; ++n) last_state[n] = h[n];
}

/// @brief Forward scan on the CPU: writes `out` (rounded to OutT) and, if given, `last_state`.
///
/// Checks the arguments as the GPU launcher does (without the device limits) and returns the
/// same status codes.
template <class InT, class OutT>
[[nodiscard]] status reference_forward(const forward_args<InT, OutT>& a) {
  status s = detail::check_forward_args(a, detail::kHostShape);
  if (!s) return s;
  std::vector<double> y(static_cast<size_t>(a.seqlen)), last(static_cast<size_t>(a.dstate));
  for (int64_t b = 0; b < a.batch; ++b)
    for (int64_t d = 0; d < a.dim; ++d) {
      reference_forward_channel(a, b, d, y.data(), last.data());
      OutT* o = a.out.data + b * a.out.batch_stride + d * a.out.dim_stride;
      for (int64_t t = 0; t < a.seqlen; ++t) o[t] = from_float<OutT>(float(y[t]));
      if (a.last_state.data)
        for (int64_t n = 0; n < a.dstate; ++n)
          a.last_state.data[b * a.last_state.batch_stride + d * a.last_state.dim_stride + n] = float(last[n]);
    }
  return s;
}

}  // namespace s6scan
