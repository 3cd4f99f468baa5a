// SPDX-License-Identifier: MIT
// The CPU reference backward against central finite differences of the reference forward, every
// gradient, every option. Inputs are multiples of 2^-8, so x +- 2^-10 and x +- 2^-11 are exact
// in float; the two central differences combined by Richardson extrapolation leave an error of
// order step^4, far below the 1e-6 tolerance.

#include <s6scan/reference_backward.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "catch.hpp"
#include "problem.hpp"

namespace {

using prob = s6test::problem<float, float>;

void quantize(std::vector<float>& v) {
  for (auto& x : v) x = std::round(x * 256.f) / 256.f;
}

// loss = sum w * out + sum wl * last_state, from the float64 reference forward.
double loss(const prob& p, const std::vector<float>& w, const std::vector<float>& wl) {
  std::vector<double> y(size_t(p.seqlen)), h(size_t(p.dstate));
  double s = 0;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t d = 0; d < p.dim; ++d) {
      s6scan::reference_forward_channel(p.args, b, d, y.data(), h.data());
      for (int64_t t = 0; t < p.seqlen; ++t) s += w[size_t((b * p.dim + d) * p.seqlen + t)] * y[t];
      for (int64_t n = 0; n < p.dstate; ++n) s += wl[size_t((b * p.dim + d) * p.dstate + n)] * h[n];
    }
  return s;
}

// d loss / d v[i] for every element, by Richardson-extrapolated central differences.
std::vector<double> numeric_gradient(prob& p, std::vector<float>& v, const std::vector<float>& w,
                                     const std::vector<float>& wl) {
  std::vector<double> grad(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const float x = v[i];
    auto central = [&](float eps) {
      v[i] = x + eps;
      const double up = loss(p, w, wl);
      v[i] = x - eps;
      const double down = loss(p, w, wl);
      v[i] = x;
      return (up - down) / (2.0 * double(eps));
    };
    const double coarse = central(1.f / 1024), fine = central(1.f / 2048);
    grad[i] = (4.0 * fine - coarse) / 3.0;
  }
  return grad;
}

void check_gradients(int64_t groups, const s6test::options& o, bool with_dlast) {
  std::mt19937_64 rng(s6test::test_seed());
  prob p(2, 4, 7, 3, groups, o, rng);
  for (auto* v : {&p.u, &p.delta, &p.z, &p.B, &p.C})
    for (auto& x : *v) x = std::round(x * 256.f) / 256.f;
  for (auto* v : {&p.A, &p.B_const, &p.C_const, &p.D, &p.bias, &p.h0}) quantize(*v);
  std::normal_distribution<float> N(0.f, 1.f);
  std::vector<float> w(size_t(p.batch * p.dim * p.seqlen)), wl(size_t(p.batch * p.dim * p.dstate), 0.f);
  for (auto& x : w) x = N(rng);
  if (with_dlast)
    for (auto& x : wl) x = N(rng);

  s6scan::seq_tensor<const float> dout{w.data(), p.dim * p.seqlen, p.seqlen, 1};
  s6scan::state_tensor<const float> dlast{with_dlast ? wl.data() : nullptr, p.dim * p.dstate, p.dstate, 1};
  s6scan::reference_gradients g;
  REQUIRE(s6scan::reference_backward(p.args, dout, dlast, g).ok());

  struct item {
    const char* name;
    std::vector<float>* input;
    const std::vector<double>* grad;
  } const items[] = {
      {"du", &p.u, &g.du}, {"ddelta", &p.delta, &g.ddelta}, {"dz", &p.z, &g.dz}, {"dA", &p.A, &g.dA},
      {"dB", o.B_const ? &p.B_const : &p.B, &g.dB}, {"dC", o.C_const ? &p.C_const : &p.C, &g.dC},
      {"dD", &p.D, &g.dD}, {"ddelta_bias", &p.bias, &g.ddelta_bias}, {"dh0", &p.h0, &g.dh0},
  };
  for (const auto& it : items) {
    CAPTURE(it.name, groups, o.str(), with_dlast, s6test::test_seed());
    REQUIRE(it.grad->size() == it.input->size());  // absent tensors have empty gradients
    if (it.input->empty()) continue;
    const auto want = numeric_gradient(p, *it.input, w, wl);
    const double err = s6test::rel_l2(*it.grad, want);
    CAPTURE(err);
    REQUIRE(err <= 1e-6);
  }
}

}  // namespace

TEST_CASE("reference backward: every gradient against finite differences", "[reference][backward]") {
  const int64_t groups = GENERATE(1, 2, 4);
  const int set = GENERATE(range(0, 7));
  s6test::options o;
  switch (set) {
    case 0: break;
    case 1: o.z = o.D = true; break;
    case 2: o.softplus = o.bias = true; break;
    case 3: o.h0 = true; break;
    case 4: o.B_const = true; o.D = true; break;
    case 5: o.C_const = true; o.z = true; break;
    default: o.z = o.D = o.bias = o.softplus = o.h0 = true; break;
  }
  check_gradients(groups, o, set >= 3);
}

TEST_CASE("reference backward: constant B and C together, with every option", "[reference][backward]") {
  s6test::options o;
  o.z = o.D = o.bias = o.softplus = o.h0 = o.B_const = o.C_const = true;
  check_gradients(1, o, true);
}

// dA_scale sums |term| where dA sums the terms: never below |dA|, equal to it where every term has
// one sign (steps, B, u, C and dout of one sign, no initial state: states and adjoints keep theirs),
// and above it where the signs mix.
TEST_CASE("reference backward: dA_scale is the sum of dA's terms' magnitudes", "[reference][backward]") {
  std::mt19937_64 rng(s6test::test_seed() + 3);
  prob p(2, 4, 9, 3, 2, {}, rng);
  std::normal_distribution<float> N(0.f, 1.f);
  std::vector<float> w(size_t(p.batch * p.dim * p.seqlen));
  for (auto& x : w) x = N(rng);
  const s6scan::seq_tensor<const float> dout{w.data(), p.dim * p.seqlen, p.seqlen, 1};
  s6scan::reference_gradients g;
  REQUIRE(s6scan::reference_backward(p.args, dout, {}, g).ok());
  REQUIRE(g.dA_scale.size() == g.dA.size());
  int mixed = 0;
  for (size_t i = 0; i < g.dA.size(); ++i) {
    CAPTURE(i, g.dA[i], g.dA_scale[i]);
    REQUIRE(g.dA_scale[i] >= std::abs(g.dA[i]) * (1 - 1e-12));
    mixed += g.dA_scale[i] > std::abs(g.dA[i]) * (1 + 1e-6);
  }
  REQUIRE(mixed > 0);

  for (auto* v : {&p.u, &p.delta, &p.B, &p.C})
    for (auto& x : *v) x = std::abs(x);
  for (const float sign : {1.f, -1.f}) {
    for (auto& x : w) x = sign * std::abs(x);
    REQUIRE(s6scan::reference_backward(p.args, dout, {}, g).ok());
    for (size_t i = 0; i < g.dA.size(); ++i) {
      CAPTURE(sign, i, g.dA[i], g.dA_scale[i]);
      REQUIRE(g.dA_scale[i] > 0);
      REQUIRE(std::abs(g.dA_scale[i] - sign * g.dA[i]) <= 1e-12 * g.dA_scale[i]);
    }
  }
}

TEST_CASE("reference backward: refuses bad arguments", "[reference][backward]") {
  std::mt19937_64 rng(s6test::test_seed());
  prob p(1, 2, 4, 2, 1, {}, rng);
  std::vector<float> w(8, 1.f);
  s6scan::reference_gradients g;
  s6scan::seq_tensor<const float> dout{w.data(), 8, 4, 1};
  auto s = s6scan::reference_backward(p.args, s6scan::seq_tensor<const float>{}, {}, g);
  REQUIRE(s.code == s6scan::status_code::invalid_argument);
  REQUIRE(std::strstr(s.message, "dout is null"));
  auto a = p.args;
  a.A.data = nullptr;
  s = s6scan::reference_backward(a, dout, {}, g);
  REQUIRE(std::strstr(s.message, "A is null"));
  dout.seq_stride = 2;
  s = s6scan::reference_backward(p.args, dout, {}, g);
  REQUIRE(std::strstr(s.message, "dout has last-dimension stride 2; it must be 1"));
  dout.seq_stride = 1;
  dout.dim_stride = s6scan::kUnsetStride;
  s = s6scan::reference_backward(p.args, dout, {}, g);
  REQUIRE(std::strstr(s.message, "dout's dim_stride was never set"));
}
