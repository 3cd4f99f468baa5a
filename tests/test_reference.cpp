// SPDX-License-Identifier: MIT
// The CPU reference against closed forms and against an independently written O(L^2) sum.

#include <s6scan/reference.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "catch.hpp"
#include "problem.hpp"

using s6scan::forward_args;

namespace {

double rel(double got, double want) { return std::abs(got - want) / std::max(1e-300, std::abs(want)); }

// dstate states, each with constant delta, B, C and u = 1: h_t[n] = q_n^(t+1) h0 + dt B_n
// (1 - q_n^(t+1)) / (1 - q_n) with q_n = exp(dt A_n), a geometric series.
struct constant_case {
  int64_t seqlen = 40, dstate = 1;
  float delta = 0.3f, bias = 0.f, D = 0.f, z = 0.f;
  bool softplus = false, use_bias = false, use_D = false, use_z = false, use_h0 = false;
};

void check_constant(const constant_case& c) {
  const int64_t L = c.seqlen, N = c.dstate;
  std::vector<float> u(L, 1.f), delta(L, c.delta), z(L, c.z), A(N), Bc(N), Cc(N), h0(N), last(N);
  for (int64_t n = 0; n < N; ++n) {
    A[n] = -0.25f * float(n + 1);
    Bc[n] = 0.5f + 0.125f * float(n);
    Cc[n] = 1.f - 0.25f * float(n);
    h0[n] = 0.75f * float(n) - 0.5f;
  }
  std::vector<float> out(L);
  forward_args<float> a;
  a.batch = 1; a.dim = 1; a.seqlen = L; a.dstate = N;
  a.set_contiguous_strides();
  a.u.data = u.data(); a.delta.data = delta.data(); a.A.data = A.data();
  a.B_const.data = Bc.data(); a.C_const.data = Cc.data(); a.out.data = out.data();
  a.last_state.data = last.data();
  a.delta_softplus = c.softplus;
  if (c.use_bias) a.delta_bias.data = &c.bias;
  if (c.use_D) a.D.data = &c.D;
  if (c.use_z) a.z.data = z.data();
  if (c.use_h0) a.initial_state.data = h0.data();
  std::vector<double> y(L), h(N);
  s6scan::reference_forward_channel(a, 0, 0, y.data(), h.data());

  double dt = double(c.delta) + (c.use_bias ? double(c.bias) : 0.0);
  if (c.softplus) dt = dt <= 20 ? std::log1p(std::exp(dt)) : dt;
  const double gate = c.use_z ? double(c.z) / (1 + std::exp(-double(c.z))) : 1.0;
  for (int64_t t = 0; t < L; ++t) {
    double want = c.use_D ? double(c.D) : 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const double q = std::exp(dt * A[n]);
      const double qt = std::pow(q, double(t + 1));
      const double ht = (c.use_h0 ? qt * h0[n] : 0.0) + dt * Bc[n] * (1 - qt) / (1 - q);
      want += Cc[n] * ht;
      if (t == L - 1) REQUIRE(rel(h[n], ht) < 1e-12);
    }
    want *= gate;
    CAPTURE(t);
    REQUIRE(rel(y[t], want) < 1e-12);
  }
  // The whole-tensor entry point writes the same values, rounded to the output type.
  REQUIRE(s6scan::reference_forward(a).ok());
  for (int64_t t = 0; t < L; ++t) REQUIRE(out[t] == float(y[t]));
  for (int64_t n = 0; n < N; ++n) REQUIRE(last[n] == float(h[n]));
}

// An independent formulation: the state as a sum over past inputs, each decayed by the exponent
// of the summed steps since, O(L^2) per state, with no recurrence.
template <class InT, class OutT>
std::vector<double> unrolled_forward(const forward_args<InT, OutT>& a, int64_t b, int64_t d) {
  using s6scan::to_float;
  const int64_t L = a.seqlen, N = a.dstate, g = d / (a.dim / a.groups);
  auto at = [&](const s6scan::seq_tensor<const InT>& x, int64_t t) {
    return double(to_float(x.data[b * x.batch_stride + d * x.dim_stride + t]));
  };
  auto bc = [&](const s6scan::bc_tensor<const InT>& x, const s6scan::matrix_tensor<const float>& c,
                int64_t n, int64_t t) {
    return x.data ? double(to_float(x.data[b * x.batch_stride + g * x.group_stride + n * x.state_stride + t]))
                  : double(c.data[d * c.dim_stride + n]);
  };
  std::vector<double> dt(L), cum(L + 1, 0.0), y(L, 0.0);
  for (int64_t t = 0; t < L; ++t) {
    double v = at(a.delta, t) + (a.delta_bias.data ? a.delta_bias.data[d] : 0.0);
    if (a.delta_softplus) v = v <= 20 ? std::log(1 + std::exp(v)) : v;
    dt[t] = v;
    cum[t + 1] = cum[t] + v;  // cum[t + 1] = sum of dt[0..t]
  }
  for (int64_t t = 0; t < L; ++t) {
    double acc = 0;
    for (int64_t n = 0; n < N; ++n) {
      const double An = a.A.data[d * a.A.dim_stride + n];
      double h = a.initial_state.data
                     ? std::exp(An * cum[t + 1]) *
                           a.initial_state.data[b * a.initial_state.batch_stride + d * a.initial_state.dim_stride + n]
                     : 0.0;
      for (int64_t s = 0; s <= t; ++s)
        h += std::exp(An * (cum[t + 1] - cum[s + 1])) * dt[s] * bc(a.B, a.B_const, n, s) * at(a.u, s);
      acc += bc(a.C, a.C_const, n, t) * h;
    }
    if (a.D.data) acc += a.D.data[d] * at(a.u, t);
    if (a.z.data) acc *= at(a.z, t) / (1 + std::exp(-at(a.z, t)));
    y[t] = acc;
  }
  return y;
}

}  // namespace

TEST_CASE("reference: one state, constant inputs, is a geometric series", "[reference]") {
  constant_case c;
  SECTION("plain") { check_constant(c); }
  SECTION("initial state") { c.use_h0 = true; check_constant(c); }
  SECTION("D and gate") { c.use_D = true; c.D = 0.7f; c.use_z = true; c.z = -0.4f; check_constant(c); }
  SECTION("softplus with bias") {
    c.softplus = true; c.use_bias = true; c.delta = -1.2f; c.bias = 0.25f;
    check_constant(c);
  }
  SECTION("softplus passes large steps through") {
    c.softplus = true; c.delta = 25.f; c.seqlen = 3;
    check_constant(c);
  }
}

TEST_CASE("reference: several states, constant inputs", "[reference]") {
  constant_case c;
  c.dstate = GENERATE(2, 5, 16);
  c.use_h0 = true; c.use_D = true; c.D = -0.3f;
  CAPTURE(c.dstate);
  check_constant(c);
}

TEST_CASE("reference: recurrence equals the unrolled sum", "[reference]") {
  std::mt19937_64 rng(s6test::test_seed());
  INFO("seed " << s6test::test_seed());
  const int groups = GENERATE(1, 2, 4);
  const int mask = GENERATE(0, 1, 2, 3, 4, 5, 6, 7);
  s6test::options o;
  o.z = mask & 1; o.D = mask & 1; o.softplus = mask & 2; o.bias = mask & 2; o.h0 = mask & 4;
  o.B_const = mask == 5; o.C_const = mask == 6; o.pad = mask & 1 ? 3 : 0;
  CAPTURE(groups, o.str());
  s6test::problem<float, float> p(2, 8, 23, 5, groups, o, rng);
  std::vector<double> y(p.seqlen);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t d = 0; d < p.dim; ++d) {
      s6scan::reference_forward_channel(p.args, b, d, y.data(), nullptr);
      const auto want = unrolled_forward(p.args, b, d);
      CAPTURE(b, d);
      REQUIRE(s6test::rel_l2(y, want) < 1e-10);
    }
}

TEST_CASE("reference: 16-bit inputs are read as the values they hold", "[reference]") {
  std::mt19937_64 rng(s6test::test_seed());
  s6test::options o;
  o.softplus = o.bias = o.D = o.z = true;
  s6test::problem<__nv_bfloat16, float> pb(1, 4, 17, 3, 2, o, rng);
  s6test::problem<__half, __half> ph(1, 4, 17, 3, 2, o, rng);
  std::vector<double> y(17);
  for (int64_t d = 0; d < 4; ++d) {
    s6scan::reference_forward_channel(pb.args, 0, d, y.data(), nullptr);
    REQUIRE(s6test::rel_l2(y, unrolled_forward(pb.args, 0, d)) < 1e-10);
    s6scan::reference_forward_channel(ph.args, 0, d, y.data(), nullptr);
    REQUIRE(s6test::rel_l2(y, unrolled_forward(ph.args, 0, d)) < 1e-10);
  }
}

TEST_CASE("reference: strides change nothing but where values live", "[reference]") {
  std::mt19937_64 rng(s6test::test_seed());
  s6test::options o;
  o.z = o.D = o.bias = o.softplus = o.h0 = o.last = true;
  o.pad = 5;
  s6test::problem<float, float> p(2, 6, 19, 4, 3, o, rng);
  REQUIRE(s6scan::reference_forward(p.args).ok());
  // Same values, contiguous.
  auto a = p.args;
  a.set_contiguous_strides();
  auto pack = [&](const float* src, const auto& strided, int64_t rows_per_batch, int64_t len) {
    std::vector<float> v;
    for (int64_t b = 0; b < a.batch; ++b)
      for (int64_t r = 0; r < rows_per_batch; ++r)
        for (int64_t t = 0; t < len; ++t) v.push_back(src[b * strided.batch_stride + r * strided.dim_stride + t]);
    return v;
  };
  auto u = pack(p.args.u.data, p.args.u, a.dim, a.seqlen);
  auto dl = pack(p.args.delta.data, p.args.delta, a.dim, a.seqlen);
  auto z = pack(p.args.z.data, p.args.z, a.dim, a.seqlen);
  auto h0 = pack(p.args.initial_state.data, p.args.initial_state, a.dim, a.dstate);
  std::vector<float> A, B, C;
  for (int64_t d = 0; d < a.dim; ++d)
    for (int64_t n = 0; n < a.dstate; ++n) A.push_back(p.args.A.data[d * p.args.A.dim_stride + n]);
  for (auto [src, dst] : {std::pair{&p.args.B, &B}, std::pair{&p.args.C, &C}})
    for (int64_t b = 0; b < a.batch; ++b)
      for (int64_t g = 0; g < a.groups; ++g)
        for (int64_t n = 0; n < a.dstate; ++n)
          for (int64_t t = 0; t < a.seqlen; ++t)
            dst->push_back(src->data[b * src->batch_stride + g * src->group_stride + n * src->state_stride + t]);
  std::vector<float> out(a.batch * a.dim * a.seqlen), last(a.batch * a.dim * a.dstate);
  a.u.data = u.data(); a.delta.data = dl.data(); a.z.data = z.data(); a.initial_state.data = h0.data();
  a.A.data = A.data(); a.B.data = B.data(); a.C.data = C.data();
  a.out.data = out.data(); a.last_state.data = last.data();
  REQUIRE(s6scan::reference_forward(a).ok());
  REQUIRE(pack(p.args.out.data, p.args.out, a.dim, a.seqlen) == out);
  REQUIRE(pack(p.args.last_state.data, p.args.last_state, a.dim, a.dstate) == last);
}

TEST_CASE("reference: refuses what the launcher refuses", "[reference]") {
  std::mt19937_64 rng(s6test::test_seed());
  s6test::problem<float, float> p(1, 4, 8, 2, 1, {}, rng);
  auto a = p.args;
  a.u.data = nullptr;
  const auto s = s6scan::reference_forward(a);
  REQUIRE(s.code == s6scan::status_code::invalid_argument);
  REQUIRE(std::strstr(s.message, "u is null"));
  a = p.args;
  a.groups = 3;
  REQUIRE(s6scan::reference_forward(a).code == s6scan::status_code::invalid_argument);
}
