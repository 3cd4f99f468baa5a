// SPDX-License-Identifier: MIT
// A minimal forward selective scan in bfloat16: Mamba's shape of call (delta through softplus with
// a bias, D, a z gate), one explicit configuration, checked against the float64 CPU reference.
// Without a GPU it runs the CPU reference alone and says so.

#include <s6scan/s6scan.cuh>

#include <cstdio>
#include <random>
#include <vector>

#include "common.hpp"

using bf16 = __nv_bfloat16;

int main() {
  const int64_t batch = 2, dim = 512, seqlen = 1000, dstate = 16;
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> N(0.f, 1.f);
  auto draw = [&](size_t n, float mean, float scale) {
    std::vector<bf16> v(n);
    for (auto& x : v) x = __float2bfloat16_rn(mean + scale * N(rng));
    return v;
  };
  const size_t seq = size_t(batch * dim * seqlen), bc = size_t(batch * dstate * seqlen);
  std::vector<bf16> u = draw(seq, 0, 1), delta = draw(seq, -1, 0.5f), z = draw(seq, 0, 1);
  std::vector<bf16> B = draw(bc, 0, 1), C = draw(bc, 0, 1), out(seq);
  std::vector<float> A(dim * dstate), D(dim), bias(dim);
  for (auto& x : A) x = -std::exp(N(rng));
  for (auto& x : D) x = N(rng);
  for (auto& x : bias) x = 0.1f * N(rng);

  // The arguments: sizes, pointers, strides (contiguous here), options.
  auto a = s6scan::forward_args<bf16>::contiguous(batch, dim, seqlen, dstate, /*groups=*/1);
  a.delta_softplus = true;
  auto point = [&](const auto& host) {
    a.u.data = host.u; a.delta.data = host.delta; a.z.data = host.z; a.A.data = host.A;
    a.B.data = host.B; a.C.data = host.C; a.D.data = host.D; a.delta_bias.data = host.bias;
    a.out.data = host.out;
  };
  struct ptrs { const bf16 *u, *delta, *z, *B, *C; const float *A, *D, *bias; bf16* out; };
  point(ptrs{u.data(), delta.data(), z.data(), B.data(), C.data(), A.data(), D.data(), bias.data(), out.data()});

  // The float64 reference, channel by channel.
  std::vector<double> want, y(seqlen);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < dim; ++d) {
      s6scan::reference_forward_channel(a, b, d, y.data(), nullptr);
      want.insert(want.end(), y.begin(), y.end());
    }

  if (!have_gpu()) {
    std::printf("No CUDA device found: running the CPU reference instead of the GPU kernel.\n");
    const s6scan::status s = s6scan::reference_forward(a);
    std::vector<double> got(out.begin(), out.end());
    for (size_t i = 0; i < out.size(); ++i) got[i] = __bfloat162float(out[i]);
    const double err = rel_l2(got, want);
    std::printf("CPU reference: %s, relative L2 error after rounding to bfloat16 %.2e\n", s.message[0] ? s.message : "ok", err);
    return s.ok() && err < 1e-2 ? 0 : 1;
  }

  ptrs dev{to_device(u), to_device(delta), to_device(z), to_device(B), to_device(C),
           to_device(A), to_device(D), to_device(bias), to_device(out)};
  point(dev);
  using config = s6scan::forward_config<16, 64>;  // MaxDState 16, 64 channels per block
  const s6scan::status s = s6scan::forward<config>(a);  // no saved states: inference
  if (!s.ok()) {
    std::printf("forward refused: %s (%s)\n", s.message, s6scan::to_string(s.code));
    return 1;
  }
  EXAMPLE_CUDA(cudaMemcpy(out.data(), dev.out, seq * sizeof(bf16), cudaMemcpyDeviceToHost));
  std::vector<double> got(seq), rounded(seq);
  for (size_t i = 0; i < seq; ++i) {
    got[i] = __bfloat162float(out[i]);
    rounded[i] = __bfloat162float(__float2bfloat16_rn(float(want[i])));
  }
  const double err = rel_l2(got, want), floor = rel_l2(rounded, want);
  std::printf("GPU forward (batch %lld, dim %lld, seqlen %lld, dstate %lld, bfloat16): relative L2 "
              "error %.2e; rounding the reference to bfloat16 alone gives %.2e\n",
              (long long)batch, (long long)dim, (long long)seqlen, (long long)dstate, err, floor);
  const bool ok = err <= 1.5 * floor;
  std::printf("%s\n", ok ? "OK" : "MISMATCH");
  return ok ? 0 : 1;
}
