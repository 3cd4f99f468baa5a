// SPDX-License-Identifier: MIT
#pragma once

// Random forward problems for the tests: host tensors with optional padding between rows (so
// strides are not those of a contiguous tensor), the arguments that point at them, and error
// measures against the float64 reference.

#include <s6scan/args.hpp>
#include <s6scan/numeric.hpp>
#include <s6scan/reference.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <random>
#include <string>
#include <vector>

namespace s6test {

/// @brief A seed from the environment (S6SCAN_SEED, to replay a failure) or fresh from the device.
inline uint64_t test_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("S6SCAN_SEED")) return uint64_t(std::strtoull(s, nullptr, 10));
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  return seed;
}

/// @brief Whether this process runs test case number `k`. S6SCAN_TEST_SHARD="i/n" splits the
///        cases of a binary over n processes (sanitizers are slow; shards run side by side).
inline bool in_shard(long k) {
  static const std::pair<long, long> shard = [] {
    long i = 0, n = 1;
    if (const char* s = std::getenv("S6SCAN_TEST_SHARD")) std::sscanf(s, "%ld/%ld", &i, &n);
    return std::pair<long, long>{i, n < 1 ? 1 : n};
  }();
  return k % shard.second == shard.first;
}

/// @brief Whether S6SCAN_FEWER_BLOCKS=1 is set: racecheck runs (it instruments every shared-memory
///        access, so a case's time grows with its work) ask the tests' biggest cases to shrink
///        while keeping their code paths.
inline bool fewer_blocks() {
  static const bool on = [] {
    const char* s = std::getenv("S6SCAN_FEWER_BLOCKS");
    return s && std::strcmp(s, "1") == 0;
  }();
  return on;
}

/// @brief The channels of the edge grids' one-channel-per-group cases: 200, or 40 with
///        fewer_blocks(). Those cases launch one block per channel and batch (400 blocks of up to
///        ten chunks), which racecheck takes minutes over; 40 keeps their code paths (one valid row
///        per block, several chunks) at a fifth of the blocks.
inline int64_t one_channel_groups() { return fewer_blocks() ? 40 : 200; }

/// @brief Seconds since `start` on the steady clock. The GPU tests print, per case, the seconds
///        of its device part and of its float64 reference (device_s, reference_s), so that a
///        sanitizer run's logs show which cases its time goes to.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// @brief Counts calls; each call is the next case number for in_shard.
inline bool next_case_in_shard() {
  static long counter = 0;
  return in_shard(counter++);
}

struct options {
  bool z = false, D = false, bias = false, softplus = false, h0 = false, last = false;
  bool B_const = false, C_const = false;
  int64_t pad = 0;  ///< extra elements after every row (and batch) of every tensor

  std::string str() const {
    std::string s;
    auto add = [&](bool on, const char* n) { if (on) s += std::string(s.empty() ? "" : ",") + n; };
    add(z, "z"); add(D, "D"); add(bias, "bias"); add(softplus, "softplus"); add(h0, "h0");
    add(last, "last"); add(B_const, "B_const"); add(C_const, "C_const"); add(pad > 0, "padded");
    return s.empty() ? "none" : s;
  }
};

/// @brief One forward problem on the host.
template <class InT, class OutT>
struct problem {
  int64_t batch, dim, seqlen, dstate, groups;
  options opt;
  std::vector<InT> u, delta, z, B, C;
  std::vector<float> A, B_const, C_const, D, bias, h0;
  std::vector<OutT> out;
  std::vector<float> last;
  s6scan::forward_args<InT, OutT> args;  // host pointers

  problem(int64_t batch_, int64_t dim_, int64_t seqlen_, int64_t dstate_, int64_t groups_,
          options o, std::mt19937_64& rng)
      : batch(batch_), dim(dim_), seqlen(seqlen_), dstate(dstate_), groups(groups_), opt(o) {
    std::normal_distribution<float> N(0.f, 1.f);
    std::uniform_real_distribution<float> U(0.f, 1.f);
    auto& a = args;
    a.batch = batch; a.dim = dim; a.seqlen = seqlen; a.dstate = dstate; a.groups = groups;
    a.delta_softplus = o.softplus;
    const int64_t p = o.pad;
    auto seq = [&](std::vector<InT>& v, auto& t, auto draw) {
      t.seq_stride = 1;
      t.dim_stride = seqlen + p;
      t.batch_stride = dim * (seqlen + p) + p;
      v.resize(size_t(batch * t.batch_stride));
      for (auto& x : v) x = s6scan::from_float<InT>(draw());
      t.data = v.data();
    };
    seq(u, a.u, [&] { return N(rng); });
    // As the anchors draw it: N(-1, 0.5) through softplus; without softplus a positive step.
    seq(delta, a.delta, [&] { return o.softplus ? -1.f + 0.5f * N(rng) : 0.05f + 0.5f * U(rng); });
    if (o.z) seq(z, a.z, [&] { return N(rng); });
    auto mat = [&](std::vector<float>& v, auto& t, auto draw) {
      t.state_stride = 1;
      t.dim_stride = dstate + p;
      v.resize(size_t(dim * t.dim_stride));
      for (auto& x : v) x = draw();
      t.data = v.data();
    };
    mat(A, a.A, [&] { return -std::exp(N(rng)); });
    auto bc = [&](std::vector<InT>& v, auto& t) {
      t.seq_stride = 1;
      t.state_stride = seqlen + p;
      t.group_stride = dstate * (seqlen + p) + p;
      t.batch_stride = groups * t.group_stride + p;
      v.resize(size_t(batch * t.batch_stride));
      for (auto& x : v) x = s6scan::from_float<InT>(N(rng));
      t.data = v.data();
    };
    if (o.B_const) mat(B_const, a.B_const, [&] { return N(rng); }); else bc(B, a.B);
    if (o.C_const) mat(C_const, a.C_const, [&] { return N(rng); }); else bc(C, a.C);
    auto vec = [&](std::vector<float>& v, auto& t, auto draw) {
      v.resize(size_t(dim));
      for (auto& x : v) x = draw();
      t.data = v.data();
      t.stride = 1;
    };
    if (o.D) vec(D, a.D, [&] { return N(rng); });
    // Without softplus the bias stays positive, so delta + bias stays a decaying step.
    if (o.bias) vec(bias, a.delta_bias, [&] { return o.softplus ? 0.1f * N(rng) : 0.1f * U(rng); });
    auto state = [&](std::vector<float>& v, auto& t) {
      t.state_stride = 1;
      t.dim_stride = dstate + p;
      t.batch_stride = dim * (dstate + p) + p;
      v.resize(size_t(batch * t.batch_stride));
      t.data = v.data();
    };
    if (o.h0) {
      state(h0, a.initial_state);
      for (auto& x : h0) x = N(rng);
    }
    if (o.last) state(last, a.last_state);
    a.out.seq_stride = 1;
    a.out.dim_stride = seqlen + p;
    a.out.batch_stride = dim * (seqlen + p) + p;
    out.resize(size_t(batch * a.out.batch_stride));
    a.out.data = out.data();
  }
};

/// @brief ||x - ref|| / ||ref||, with NaN if any x is not finite.
inline double rel_l2(const std::vector<double>& x, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) return NAN;
    num += (x[i] - ref[i]) * (x[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

/// @brief The reference's outputs and states, and the error measures of a computed result.
struct forward_errors {
  double y = 0;        ///< relative L2 error of out
  double y_bound = 0;  ///< what out may reach: 1e-5 in float, 1.5x the reference's own rounding
  double state = 0;    ///< relative L2 error of last_state (0 when absent)
};

/// @brief Compares `out` (and last_state if present) of `got` with the float64 reference.
/// @param channels  the (batch, channel) pairs to check, all of them when empty
template <class InT, class OutT>
forward_errors compare_forward(const s6scan::forward_args<InT, OutT>& a, const OutT* out,
                               const float* last,
                               const std::vector<std::pair<int64_t, int64_t>>& channels = {}) {
  std::vector<double> got, ref, ref_rounded, got_state, ref_state;
  std::vector<double> y(size_t(a.seqlen)), h(size_t(a.dstate));
  auto one = [&](int64_t b, int64_t d) {
    s6scan::reference_forward_channel(a, b, d, y.data(), h.data());
    const OutT* o = out + b * a.out.batch_stride + d * a.out.dim_stride;
    for (int64_t t = 0; t < a.seqlen; ++t) {
      got.push_back(s6scan::to_float(o[t]));
      ref.push_back(y[t]);
      ref_rounded.push_back(s6scan::to_float(s6scan::from_float<OutT>(float(y[t]))));
    }
    if (last)
      for (int64_t n = 0; n < a.dstate; ++n) {
        got_state.push_back(last[b * a.last_state.batch_stride + d * a.last_state.dim_stride + n]);
        ref_state.push_back(h[n]);
      }
  };
  if (channels.empty()) {
    for (int64_t b = 0; b < a.batch; ++b)
      for (int64_t d = 0; d < a.dim; ++d) one(b, d);
  } else {
    for (auto [b, d] : channels) one(b, d);
  }
  forward_errors e;
  e.y = rel_l2(got, ref);
  e.y_bound = sizeof(OutT) == 4 ? 1e-5 : 1.5 * rel_l2(ref_rounded, ref);
  e.state = last ? rel_l2(got_state, ref_state) : 0.0;
  return e;
}

}  // namespace s6test
