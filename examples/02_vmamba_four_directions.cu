// SPDX-License-Identifier: MIT
// VMamba's four-direction scan of an image: the feature map (batch, channels, H, W) is read as four
// sequences of H*W pixels (row by row, column by column, and both reversed), scanned as one call
// with dim = 4 * channels and groups = 4 (each direction has its own B and C), and the four outputs
// are summed back onto the pixels. bfloat16 in, float out; dstate 1 (VMamba v2) and 16.

#include <s6scan/s6scan.cuh>

#include <cstdio>
#include <random>
#include <vector>

#include "common.hpp"

using bf16 = __nv_bfloat16;

namespace {

// Pixel index of step t of direction k: 0 row-major, 1 column-major, 2 and 3 the same reversed.
int64_t pixel(int k, int64_t t, int64_t H, int64_t W) {
  const int64_t L = H * W, s = k >= 2 ? L - 1 - t : t;
  return k % 2 == 0 ? s : (s % H) * W + s / H;
}

template <class Config>
bool run(int64_t dstate, bool gpu) {
  const int64_t batch = 4, channels = 96, H = 28, W = 28, L = H * W, K = 4, dim = K * channels;
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> N(0.f, 1.f);
  // Image-shaped inputs, as VMamba's projections produce them.
  std::vector<float> x(batch * channels * L), dt(batch * channels * L);
  for (auto& v : x) v = N(rng);
  for (auto& v : dt) v = -1.f + 0.5f * N(rng);
  // Cross-scan: (batch, channels, H, W) -> (batch, 4 * channels, L).
  std::vector<bf16> u(batch * dim * L), delta(batch * dim * L), B(batch * K * dstate * L), C(B.size());
  for (int64_t b = 0; b < batch; ++b)
    for (int k = 0; k < K; ++k)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t t = 0; t < L; ++t) {
          const int64_t src = (b * channels + c) * L + pixel(k, t, H, W);
          const int64_t dst = (b * dim + k * channels + c) * L + t;
          u[dst] = __float2bfloat16_rn(x[src]);
          delta[dst] = __float2bfloat16_rn(dt[src]);
        }
  for (auto& v : B) v = __float2bfloat16_rn(N(rng));
  for (auto& v : C) v = __float2bfloat16_rn(N(rng));
  std::vector<float> A(dim * dstate), D(dim), bias(dim), out(batch * dim * L);
  for (auto& v : A) v = -std::exp(N(rng));
  for (auto& v : D) v = N(rng);
  for (auto& v : bias) v = 0.1f * N(rng);

  // bfloat16 in, float out; one group of B and C per direction.
  auto a = s6scan::forward_args<bf16, float>::contiguous(batch, dim, L, dstate, /*groups=*/K);
  a.delta_softplus = true;
  a.u.data = u.data(); a.delta.data = delta.data(); a.A.data = A.data(); a.B.data = B.data();
  a.C.data = C.data(); a.D.data = D.data(); a.delta_bias.data = bias.data(); a.out.data = out.data();

  // Cross-merge: the four directions' outputs summed onto the pixels.
  auto merge = [&](auto value) {
    std::vector<double> img(batch * channels * L, 0.0);
    for (int64_t b = 0; b < batch; ++b)
      for (int k = 0; k < K; ++k)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t t = 0; t < L; ++t)
            img[(b * channels + c) * L + pixel(k, t, H, W)] += value((b * dim + k * channels + c) * L + t);
    return img;
  };
  std::vector<double> ref(batch * dim * L), y(L);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < dim; ++d) {
      s6scan::reference_forward_channel(a, b, d, y.data(), nullptr);
      std::copy(y.begin(), y.end(), ref.begin() + (b * dim + d) * L);
    }
  const auto want = merge([&](int64_t i) { return ref[i]; });

  s6scan::status s;
  if (gpu) {
    a.u.data = to_device(u); a.delta.data = to_device(delta); a.A.data = to_device(A);
    a.B.data = to_device(B); a.C.data = to_device(C); a.D.data = to_device(D);
    a.delta_bias.data = to_device(bias); a.out.data = to_device(out);
    s = s6scan::forward<Config>(a);
    if (s.ok()) EXAMPLE_CUDA(cudaMemcpy(out.data(), a.out.data, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
  } else {
    s = s6scan::reference_forward(a);
  }
  if (!s.ok()) {
    std::printf("dstate %lld: refused: %s\n", (long long)dstate, s.message);
    return false;
  }
  const double err = rel_l2(merge([&](int64_t i) { return double(out[i]); }), want);
  const bool ok = err <= 1e-5;
  std::printf("dstate %2lld, %lldx%lld image, 4 directions, %s: relative L2 error of the merged "
              "output %.2e (limit 1e-5) %s\n",
              (long long)dstate, (long long)H, (long long)W, gpu ? "GPU" : "CPU reference", err,
              ok ? "OK" : "MISMATCH");
  return ok;
}

}  // namespace

int main() {
  const bool gpu = have_gpu();
  if (!gpu) std::printf("No CUDA device found: running the CPU reference instead of the GPU kernel.\n");
  const bool ok1 = run<s6scan::forward_config<1, 128>>(1, gpu);
  const bool ok16 = run<s6scan::forward_config<16, 64>>(16, gpu);
  return ok1 && ok16 ? 0 : 1;
}
