// SPDX-License-Identifier: MIT
#pragma once

// What the GPU tests share: device copies of a host problem, NaN poisoning and the checks on it,
// random options, a readable name for a case, and inputs made on the device from a hash.

#include <cuda_runtime.h>

#include <s6scan/checks.hpp>
#include <s6scan/numeric.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "problem.hpp"

#define CUDA_REQUIRE(x)                                        \
  do {                                                         \
    const cudaError_t e_ = (x);                                \
    INFO(#x << ": " << cudaGetErrorString(e_));                \
    REQUIRE(e_ == cudaSuccess);                                \
  } while (0)

namespace s6test {

using s6scan::forward_args;

struct device_deleter {
  void operator()(void* p) const { cudaFree(p); }
};
using device_ptr = std::unique_ptr<void, device_deleter>;

/// @brief The current device's multiprocessor count.
inline int multiprocessors() {
  int device = 0, sms = 0;
  CUDA_REQUIRE(cudaGetDevice(&device));
  CUDA_REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

inline device_ptr device_alloc(size_t bytes) {
  void* p = nullptr;
  CUDA_REQUIRE(cudaMalloc(&p, bytes));
  return device_ptr(p);
}

// Device copies of a host problem, same layout, and the arguments that point at them.
template <class InT, class OutT>
struct device_problem {
  std::vector<device_ptr> owned;
  forward_args<InT, OutT> args;
  size_t out_bytes = 0, last_bytes = 0;

  template <class T, class P>
  void upload(const std::vector<T>& v, P*& ptr) {
    if (!ptr) return;
    owned.push_back(device_alloc(v.size() * sizeof(T)));
    CUDA_REQUIRE(cudaMemcpy(owned.back().get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    ptr = static_cast<P*>(owned.back().get());
  }

  explicit device_problem(problem<InT, OutT>& p) : args(p.args) {
    upload(p.u, args.u.data); upload(p.delta, args.delta.data); upload(p.z, args.z.data);
    upload(p.B, args.B.data); upload(p.C, args.C.data); upload(p.A, args.A.data);
    upload(p.B_const, args.B_const.data); upload(p.C_const, args.C_const.data);
    upload(p.D, args.D.data); upload(p.bias, args.delta_bias.data); upload(p.h0, args.initial_state.data);
    upload(p.out, args.out.data); upload(p.last, args.last_state.data);
    out_bytes = p.out.size() * sizeof(OutT);
    last_bytes = p.last.size() * sizeof(float);
  }

  // NaN everywhere, padding included (all-ones bits are NaN in float, half and bfloat16).
  void poison() {
    CUDA_REQUIRE(cudaMemset(args.out.data, 0xFF, out_bytes));
    if (args.last_state.data) CUDA_REQUIRE(cudaMemset(args.last_state.data, 0xFF, last_bytes));
  }

  void download(problem<InT, OutT>& p) {
    CUDA_REQUIRE(cudaMemcpy(p.out.data(), args.out.data, out_bytes, cudaMemcpyDeviceToHost));
    if (args.last_state.data)
      CUDA_REQUIRE(cudaMemcpy(p.last.data(), args.last_state.data, last_bytes, cudaMemcpyDeviceToHost));
  }
};

// saved_states_size of `a`, which must succeed.
template <class InT, class OutT>
size_t saved_states_bytes(const forward_args<InT, OutT>& a) {
  size_t bytes = 0;
  const s6scan::status s = s6scan::saved_states_size(a, &bytes);
  INFO(s.message);
  REQUIRE(s.ok());
  return bytes;
}

// `a` saving its states to `ws` (null: none).
template <class InT, class OutT>
forward_args<InT, OutT> with_saved_states(forward_args<InT, OutT> a, void* ws, size_t bytes) {
  a.saved_states = {ws, bytes};
  return a;
}

template <class T>
inline bool all_ones(const T& x) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &x, sizeof(T));
  for (unsigned char c : b)
    if (c != 0xFF) return false;
  return true;
}

// Elements of a padded tensor that lie outside the logical shape must keep their poison.
template <class T>
inline size_t touched_padding(const std::vector<T>& v, int64_t batch_stride, int64_t row_stride, int64_t rows,
                       int64_t len) {
  size_t bad = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t rem = int64_t(i) % batch_stride;
    const bool inside = rem / row_stride < rows && rem % row_stride < len;
    if (!inside && !all_ones(v[i])) ++bad;
  }
  return bad;
}

template <class InT, class OutT>
inline std::string case_name(const problem<InT, OutT>& p) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s->%s batch=%lld dim=%lld seqlen=%lld dstate=%lld groups=%lld opts=%s",
                s6scan::type_name<InT>(), s6scan::type_name<OutT>(), (long long)p.batch,
                (long long)p.dim, (long long)p.seqlen, (long long)p.dstate, (long long)p.groups,
                p.opt.str().c_str());
  return buf;
}

inline options random_options(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> bit(0, 1), pad(0, 2);
  options o;
  o.z = bit(rng); o.D = bit(rng); o.bias = bit(rng); o.softplus = bit(rng); o.h0 = bit(rng);
  o.last = bit(rng); o.B_const = bit(rng) && bit(rng); o.C_const = bit(rng) && bit(rng);
  o.pad = std::array<int64_t, 3>{0, 3, 8}[pad(rng)];  // 3: unaligned rows; 8: aligned, not contiguous
  return o;
}

inline __host__ __device__ float hash_unit(uint64_t seed, uint64_t i) {
  uint64_t x = seed + i * 0x9E3779B97F4A7C15ull;  // splitmix64
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return float(x >> 40) * (1.0f / 16777216.0f);  // [0, 1)
}

/// @brief p[i] = lo + (hi - lo) * hash_unit(seed, i), for inputs too large to make on the host.
template <class T>
__global__ void fill_hash(T* p, uint64_t n, uint64_t seed, float lo, float hi) {
  for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
    p[i] = s6scan::from_float<T>(lo + (hi - lo) * hash_unit(seed, i));
}

/// @brief A bfloat16 problem with one group and dstate 1, too large to build on the host: u and
///        delta are made on the device from hash_unit (seeds `seed` and `seed + 1`); B, C, A and D
///        are drawn on the host and kept, so any channel can be rebuilt there for the reference.
struct large_problem {
  using bf16 = __nv_bfloat16;
  int64_t dim, seqlen;
  uint64_t seed;
  std::vector<bf16> B, C;
  std::vector<float> A, D;
  device_ptr u, delta, out, dev_B, dev_C, dev_A, dev_D;
  forward_args<bf16> args;  // device pointers

  /// @brief Channel d's inputs on the host, and one-channel arguments that point at them.
  struct channel {
    std::vector<bf16> u, delta;
    forward_args<bf16> args;
  };

  large_problem(int64_t dim_, int64_t seqlen_, uint64_t seed_)
      : dim(dim_), seqlen(seqlen_), seed(seed_), B(size_t(seqlen_)), C(size_t(seqlen_)),
        A(size_t(dim_)), D(size_t(dim_)) {
    const int64_t n = dim * seqlen;
    u = device_alloc(n * sizeof(bf16));
    delta = device_alloc(n * sizeof(bf16));
    out = device_alloc(n * sizeof(bf16));
    fill_hash<<<4096, 256>>>(static_cast<bf16*>(u.get()), n, seed, -1.f, 1.f);
    fill_hash<<<4096, 256>>>(static_cast<bf16*>(delta.get()), n, seed + 1, 0.01f, 0.2f);
    CUDA_REQUIRE(cudaMemset(out.get(), 0xFF, n * sizeof(bf16)));
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> N(0.f, 1.f);
    for (auto& x : B) x = __float2bfloat16_rn(N(rng));
    for (auto& x : C) x = __float2bfloat16_rn(N(rng));
    for (auto& x : A) x = -std::exp(N(rng));
    for (auto& x : D) x = N(rng);
    auto upload = [](const auto& v) {
      device_ptr p = device_alloc(v.size() * sizeof(v[0]));
      CUDA_REQUIRE(cudaMemcpy(p.get(), v.data(), v.size() * sizeof(v[0]), cudaMemcpyHostToDevice));
      return p;
    };
    dev_B = upload(B);
    dev_C = upload(C);
    dev_A = upload(A);
    dev_D = upload(D);
    args.batch = 1; args.dim = dim; args.seqlen = seqlen; args.dstate = 1; args.groups = 1;
    args.set_contiguous_strides();
    args.u.data = static_cast<bf16*>(u.get()); args.delta.data = static_cast<bf16*>(delta.get());
    args.B.data = static_cast<bf16*>(dev_B.get()); args.C.data = static_cast<bf16*>(dev_C.get());
    args.A.data = static_cast<float*>(dev_A.get()); args.D.data = static_cast<float*>(dev_D.get());
    args.out.data = static_cast<bf16*>(out.get());
  }

  channel host_channel(int64_t d, bf16* out_host) const {
    channel c{std::vector<bf16>(size_t(seqlen)), std::vector<bf16>(size_t(seqlen)), args};
    for (int64_t t = 0; t < seqlen; ++t) {
      const uint64_t i = uint64_t(d * seqlen + t);
      c.u[t] = __float2bfloat16_rn(-1.f + 2.f * hash_unit(seed, i));
      c.delta[t] = __float2bfloat16_rn(0.01f + 0.19f * hash_unit(seed + 1, i));
    }
    auto& h = c.args;
    h.dim = 1;
    h.set_contiguous_strides();
    h.u.data = c.u.data(); h.delta.data = c.delta.data(); h.B.data = B.data(); h.C.data = C.data();
    h.A.data = &A[d]; h.D.data = &D[d]; h.out.data = out_host;
    return c;
  }
};

}  // namespace s6test
