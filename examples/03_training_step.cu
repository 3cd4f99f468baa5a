// SPDX-License-Identifier: MIT
// A training step in float32: forward (saving its states), the loss 0.5 * sum(out^2), backward
// through everything (u, delta, A, B, C, D, delta_bias, z and the initial state), each gradient
// checked against the float64 CPU reference backward, then a gradient step on the weights and a
// second forward to show the loss going down. Without a GPU it runs the CPU reference alone and
// says so.

#include <s6scan/s6scan.cuh>
// In this project's build the default set's kernels come compiled once, for the tests and this
// example alike (s6scan_default_instances; README, "Compiling the kernels once"). Copied into
// another build without that library, this file compiles them itself.
#if __has_include(<s6scan_default_instances.hpp>)
#include <s6scan_default_instances.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "common.hpp"

namespace {

struct host_problem {
  std::vector<float> u, delta, z, B, C, A, D, bias, h0;
};

double loss_of(const std::vector<float>& out) {
  double s = 0;
  for (float x : out) s += 0.5 * double(x) * x;
  return s;
}

// One step of gradient descent on the weights; A stays negative.
template <class G>
void descend(host_problem& h, const G& dA, const G& dD, const G& dbias, float lr) {
  for (size_t i = 0; i < h.D.size(); ++i) h.D[i] -= lr * float(dD[i]);
  for (size_t i = 0; i < h.bias.size(); ++i) h.bias[i] -= lr * float(dbias[i]);
  for (size_t i = 0; i < h.A.size(); ++i) h.A[i] = std::min(-1e-4f, h.A[i] - lr * float(dA[i]));
}

constexpr float kLearningRate = 1e-3f;

}  // namespace

int main() {
  const int64_t batch = 2, dim = 64, seqlen = 300, dstate = 16, groups = 2;
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> N(0.f, 1.f);
  auto draw = [&](size_t n, float mean, float scale) {
    std::vector<float> v(n);
    for (auto& x : v) x = mean + scale * N(rng);
    return v;
  };
  const size_t seq = size_t(batch * dim * seqlen), bc = size_t(batch * groups * dstate * seqlen);
  host_problem h{draw(seq, 0, 1), draw(seq, -1, 0.5f), draw(seq, 0, 1), draw(bc, 0, 1),
                 draw(bc, 0, 1), draw(size_t(dim * dstate), 0, 1), draw(size_t(dim), 0, 1),
                 draw(size_t(dim), 0, 0.1f), draw(size_t(batch * dim * dstate), 0, 1)};
  for (auto& x : h.A) x = -std::exp(x);

  // The forward's arguments (contiguous), then the backward's around them.
  auto g = s6scan::backward_args<float>::of(
      s6scan::forward_args<float>::contiguous(batch, dim, seqlen, dstate, groups));
  auto& a = g.fwd;
  a.delta_softplus = true;
  std::vector<float> out(seq);
  auto point_inputs = [&](const host_problem& p, float* o) {
    a.u.data = p.u.data(); a.delta.data = p.delta.data(); a.z.data = p.z.data();
    a.B.data = p.B.data(); a.C.data = p.C.data(); a.A.data = p.A.data(); a.D.data = p.D.data();
    a.delta_bias.data = p.bias.data(); a.initial_state.data = p.h0.data(); a.out.data = o;
  };
  point_inputs(h, out.data());

  s6scan::reference_gradients ref;
  const s6scan::state_tensor<const float> no_dlast{};
  const s6scan::seq_tensor<const float> dout_host{out.data(), dim * seqlen, seqlen, 1};
  if (!have_gpu()) {
    std::printf("No CUDA device found: running the CPU reference instead of the GPU kernels.\n");
    s6scan::status s = s6scan::reference_forward(a);
    const double loss0 = loss_of(out);
    if (s) s = s6scan::reference_backward(a, dout_host, no_dlast, ref);  // d(loss)/d(out) = out
    if (s) descend(h, ref.dA, ref.dD, ref.ddelta_bias, kLearningRate);
    if (s) s = s6scan::reference_forward(a);
    const double loss1 = loss_of(out);
    std::printf("CPU reference training step: loss %.6g -> %.6g after one step on A, D and "
                "delta_bias (%s)\n", loss0, loss1, s.ok() ? "ok" : s.message);
    return s.ok() && loss1 < loss0 ? 0 : 1;
  }

  // Device copies of the inputs; the output doubles as dout, since d(loss)/d(out) = out.
  auto up = [](const std::vector<float>& v) { return to_device(v); };
  float *dev_u = up(h.u), *dev_delta = up(h.delta), *dev_z = up(h.z), *dev_B = up(h.B), *dev_C = up(h.C);
  float *dev_A = up(h.A), *dev_D = up(h.D), *dev_bias = up(h.bias), *dev_h0 = up(h.h0), *dev_out = up(out);
  auto point_device = [&] {
    a.u.data = dev_u; a.delta.data = dev_delta; a.z.data = dev_z; a.B.data = dev_B; a.C.data = dev_C;
    a.A.data = dev_A; a.D.data = dev_D; a.delta_bias.data = dev_bias; a.initial_state.data = dev_h0;
    a.out.data = dev_out;
  };
  point_device();
  // The states the backward needs, saved by the forward: sized by a query that can fail.
  size_t states_bytes = 0;
  s6scan::status s = s6scan::saved_states_size(a, &states_bytes);
  if (!s.ok()) {
    std::printf("saved_states_size refused: %s\n", s.message);
    return 1;
  }
  a.saved_states = {to_device(std::vector<float>(states_bytes / sizeof(float))), states_bytes};
  s = s6scan::forward(a);
  if (!s.ok()) {
    std::printf("forward refused: %s\n", s.message);
    return 1;
  }
  EXAMPLE_CUDA(cudaMemcpy(out.data(), dev_out, seq * sizeof(float), cudaMemcpyDeviceToHost));
  const double loss0 = loss_of(out);

  // Every gradient the call has, on the device.
  std::vector<float> gu(seq), gdelta(seq), gz(seq), gB(bc), gC(bc), gA(size_t(dim * dstate));
  std::vector<float> gD(static_cast<size_t>(dim)), gbias(static_cast<size_t>(dim)),
      gh0(static_cast<size_t>(batch * dim * dstate));
  g.dout.data = dev_out;
  g.du.data = up(gu); g.ddelta.data = up(gdelta); g.dz.data = up(gz); g.dB.data = up(gB);
  g.dC.data = up(gC); g.dA.data = up(gA); g.dD.data = up(gD); g.ddelta_bias.data = up(gbias);
  g.dinitial_state.data = up(gh0);
  size_t ws_bytes = 0;
  s = s6scan::backward_workspace_size(g, &ws_bytes);
  if (s) s = s6scan::backward(g, {to_device(std::vector<float>(ws_bytes / sizeof(float))), ws_bytes});
  if (!s.ok()) {
    std::printf("backward refused: %s (%s)\n", s.message, s6scan::to_string(s.code));
    return 1;
  }
  auto down = [](std::vector<float>& v, const float* p) {
    EXAMPLE_CUDA(cudaMemcpy(v.data(), p, v.size() * sizeof(float), cudaMemcpyDeviceToHost));
  };
  down(gu, g.du.data); down(gdelta, g.ddelta.data); down(gz, g.dz.data); down(gB, g.dB.data);
  down(gC, g.dC.data); down(gA, g.dA.data); down(gD, g.dD.data); down(gbias, g.ddelta_bias.data);
  down(gh0, g.dinitial_state.data);

  // The float64 reference backward on the host copies, with the GPU's out as dout.
  point_inputs(h, out.data());
  s = s6scan::reference_backward(a, dout_host, no_dlast, ref);
  if (!s.ok()) {
    std::printf("reference refused: %s\n", s.message);
    return 1;
  }
  struct row {
    const char* name;
    const std::vector<float>& got;
    const std::vector<double>& want;
    double bound;  // float32: 1e-5 per element, 1e-4 for sums over batch and time or channels
  } rows[] = {{"du", gu, ref.du, 1e-5},          {"ddelta", gdelta, ref.ddelta, 1e-5},
              {"dz", gz, ref.dz, 1e-5},          {"dA", gA, ref.dA, 1e-4},
              {"dB", gB, ref.dB, 1e-4},          {"dC", gC, ref.dC, 1e-4},
              {"dD", gD, ref.dD, 1e-4},          {"ddelta_bias", gbias, ref.ddelta_bias, 1e-4},
              {"dinitial_state", gh0, ref.dh0, 1e-4}};
  bool ok = true;
  std::printf("GPU training step (batch %lld, dim %lld, seqlen %lld, dstate %lld, groups %lld, "
              "float32), loss %.6g; gradients against the float64 reference:\n",
              (long long)batch, (long long)dim, (long long)seqlen, (long long)dstate,
              (long long)groups, loss0);
  for (const auto& r : rows) {
    const double err = rel_l2(std::vector<double>(r.got.begin(), r.got.end()), r.want);
    std::printf("  %-15s relative L2 error %.2e (bound %.0e)\n", r.name, err, r.bound);
    ok = ok && err <= r.bound;
  }

  // A gradient step on the weights, then the forward again.
  descend(h, gA, gD, gbias, kLearningRate);
  EXAMPLE_CUDA(cudaMemcpy(dev_D, h.D.data(), h.D.size() * 4, cudaMemcpyHostToDevice));
  EXAMPLE_CUDA(cudaMemcpy(dev_bias, h.bias.data(), h.bias.size() * 4, cudaMemcpyHostToDevice));
  EXAMPLE_CUDA(cudaMemcpy(dev_A, h.A.data(), h.A.size() * 4, cudaMemcpyHostToDevice));
  point_device();
  auto infer = a;  // no backward follows: save no states
  infer.saved_states = {};
  s = s6scan::forward(infer);
  EXAMPLE_CUDA(cudaMemcpy(out.data(), dev_out, seq * sizeof(float), cudaMemcpyDeviceToHost));
  const double loss1 = loss_of(out);
  std::printf("after one step of learning rate %g on A, D and delta_bias: loss %.6g -> %.6g\n", kLearningRate,
              loss0, loss1);
  ok = ok && s.ok() && loss1 < loss0;
  std::printf("%s\n", ok ? "OK" : "MISMATCH");
  return ok ? 0 : 1;
}
