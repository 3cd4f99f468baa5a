// SPDX-License-Identifier: MIT
// The benchmark: measures this GPU's copy bandwidth and ex2 rate, then times the forward (default
// set, workspace saved as in training) and the forward followed by the backward on the anchor
// shapes and the VMamba-T stages (shapes.hpp), and prints each time with its floor and the
// ratio. The forward+backward floor counts both passes' bytes and two exponentials per element
// (the forward's and the backward's own), the least any recompute-from-checkpoints backward does. Writes one JSON record per
// (shape, dtype, pass); bench/report.py compares it with reference timings and draws the plot.
//
//   s6scan_bench [--json FILE] [--commit SHA] [--dtypes bfloat16,float16,float32] [--shapes a,b]
//                [--reps 20] [--nrows-study 1] [--backward-study 1] [--split-study 1]
//                [--profile 1] [--sweep 1]
//
// --sweep 1 times the sweep's shapes (kSweep) instead of the anchors': few channels, odd lengths,
// prefill, other dstate and groups, VMamba v2's real call with float32 output. Every row has
// fwd_ms (saving states), fwd_infer_ms (none saved: the inference call) and fwdbwd_ms.
//
// --profile 1 times nothing: for each listed shape and dtype it makes one warm call of the
// forward and of the backward, then one more of each between cudaProfilerStart and
// cudaProfilerStop, so that `ncu --profile-from-start off` profiles the kernels of exactly one
// forward call and one backward call (bench/limits.sh, which bench/limits.py summarises).
//
// --nrows-study 1 times, instead, the forward of the listed shapes with explicit configurations of
// several NRows (see study_dstate_*): in bfloat16, and at dstate 16, 64 and 256 also in float32
// when --dtypes names it. --backward-study 1 times the
// bfloat16 forward (default set) then backward with explicit backward configurations (see
// backward_study_*; at dstate 1 also float32 when --dtypes names it). --split-study 1 times the
// bfloat16 forward of the listed dstate-16 shapes with the dstate-16 configurations of the default
// set and explicit time-segment counts, then their default backward with explicit segment counts
// (see split_study, backward_split_study); with --sweep 1, on the listed sweep shapes, the
// backward's segment counts and at dstate 17-128 the forward's (sweep_split_study).

#include <cuda_profiler_api.h>
#include <s6scan/s6scan.cuh>
#include <s6scan_default_instances.hpp>  // the default sets, compiled with the tests' (CMake)

#include "shapes.hpp"

// The studies instantiate about twenty configurations beyond the default set, which is most of
// this file's compile time; CMake builds them only with -DS6SCAN_BENCH_STUDIES=ON.
#ifndef S6SCAN_BENCH_STUDIES
#define S6SCAN_BENCH_STUDIES 1
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace {

#define BENCH_CUDA(x)                                                                        \
  do {                                                                                       \
    const cudaError_t e_ = (x);                                                              \
    if (e_ != cudaSuccess) {                                                                 \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)

using s6scan_bench::case_shape;
using s6scan_bench::kShapes;
using s6scan_bench::kSweep;

__device__ inline float hash_normal(uint64_t seed, uint64_t i) {
  auto mix = [](uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  const uint64_t r = mix(seed + i * 0x9E3779B97F4A7C15ull);
  const float u1 = (float(r >> 40) + 1.f) * (1.f / 16777217.f), u2 = float(r & 0xFFFFFF) * (1.f / 16777216.f);
  return sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);  // Box-Muller
}

// x = mean + scale * N(0,1), or -exp(N(0,1)) when `neg_exp`.
template <class T>
__global__ void fill_normal(T* p, uint64_t n, uint64_t seed, float mean, float scale, bool neg_exp) {
  for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x) {
    const float v = hash_normal(seed, i);
    p[i] = s6scan::from_float<T>(neg_exp ? -expf(v) : mean + scale * v);
  }
}

template <class T>
T* alloc_fill(uint64_t n, uint64_t seed, float mean, float scale, bool neg_exp = false) {
  T* p = nullptr;
  BENCH_CUDA(cudaMalloc(&p, n * sizeof(T)));
  fill_normal<<<2048, 256>>>(p, n, seed, mean, scale, neg_exp);
  BENCH_CUDA(cudaGetLastError());
  return p;
}

// Independent ex2 chains per thread: the special-function unit's rate.
__global__ void ex2_rate_kernel(float* out, int iters) {
  float x[8];
  for (int j = 0; j < 8; ++j) x[j] = -0.001f * float(threadIdx.x + j);
  for (int i = 0; i < iters; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) x[j] = s6scan::detail::ex2(x[j]) - 1.0f;
  float s = 0;
  for (int j = 0; j < 8; ++j) s += x[j];
  if (s == 12345.f) out[0] = s;  // keeps the chains alive
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// --profile 1 (see the file comment).
bool g_profile = false;

// The profile mode's stand-in for time_ms: before(0), launch(0) as a warm call (one-time setup
// such as kernel attributes stays out of the profile), then before(1) unprofiled and launch(1)
// between cudaProfilerStart and cudaProfilerStop. Returns 0.
template <class Before, class Launch>
float profile_once(Before&& before, Launch&& launch) {
  before(0);
  launch(0);
  before(1);
  BENCH_CUDA(cudaDeviceSynchronize());
  BENCH_CUDA(cudaProfilerStart());
  launch(1);
  BENCH_CUDA(cudaDeviceSynchronize());
  BENCH_CUDA(cudaProfilerStop());
  return 0.f;
}

template <class F>
float time_ms(F&& launch, int warmup, int reps) {
  cudaEvent_t a, b;
  BENCH_CUDA(cudaEventCreate(&a));
  BENCH_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < warmup; ++i) launch(i);
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    BENCH_CUDA(cudaEventRecord(a));
    launch(i);
    BENCH_CUDA(cudaEventRecord(b));
    BENCH_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    BENCH_CUDA(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  BENCH_CUDA(cudaEventDestroy(a));
  BENCH_CUDA(cudaEventDestroy(b));
  return median(t);
}

struct ceilings {
  double copy_GBps;  // device-to-device copy, bytes read + written
  double ex2_per_s;
};

ceilings measure_ceilings(int reps) {
  ceilings c{};
  const size_t bytes = size_t(2) << 30;
  void *src = nullptr, *dst = nullptr;
  BENCH_CUDA(cudaMalloc(&src, bytes));
  BENCH_CUDA(cudaMalloc(&dst, bytes));
  BENCH_CUDA(cudaMemset(src, 1, bytes));
  const float ms = time_ms([&](int) { BENCH_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice)); }, 3, reps);
  c.copy_GBps = 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
  BENCH_CUDA(cudaFree(src));
  BENCH_CUDA(cudaFree(dst));
  int sms = 0;
  BENCH_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  float* out = nullptr;
  BENCH_CUDA(cudaMalloc(&out, 4));
  const int blocks = sms * 8, threads = 256, iters = 4096;
  const float ems = time_ms([&](int) { ex2_rate_kernel<<<blocks, threads>>>(out, iters); }, 3, reps);
  c.ex2_per_s = double(blocks) * threads * iters * 8 / (ems * 1e-3);
  BENCH_CUDA(cudaFree(out));
  return c;
}

struct record {
  std::string shape, dtype;
  case_shape s;
  double fwd_ms, floor_ms, GBps, ratio;
  double fwd_infer_ms = 0;  // the forward without saved states (inference), with its scratch
  double fwd_time_ms = 0;   // the time-parallel forward (default_time_config), saving states
  double fwdbwd_ms = 0, fwdbwd_floor_ms = 0;
  int64_t bytes;
};

// The backward with configuration Config, or of the default set when Config is void, split into
// `segments` time segments per launch (0: as the launcher decides).
template <class Config = void>
struct backward_call {
  int segments = 0;
  template <class T, class O>
  s6scan::status operator()(const s6scan::backward_args<T, O>& g, void* ws, size_t ws_bytes) const {
    const auto run = [&](auto cfg) {
      return s6scan::detail::backward_segmented<decltype(cfg)>(g, {ws, ws_bytes}, nullptr, segments);
    };
    if constexpr (std::is_void_v<Config>)
      return s6scan::detail::with_default_backward_config(g, run);
    else return run(Config{});
  }
  template <class T, class O>
  size_t workspace(const s6scan::backward_args<T, O>& g) const {
    size_t bytes = 0;
    s6scan::status st;
    if constexpr (std::is_void_v<Config>) st = s6scan::backward_workspace_size(g, &bytes);
    else st = s6scan::backward_workspace_size<Config>(g, &bytes);
    if (!st.ok()) {
      std::fprintf(stderr, "backward_workspace_size: %s\n", st.message);
      std::exit(1);
    }
    return bytes;
  }
};

// Times one shape: the forward (`forward(args, workspace, bytes)`), and, when `with_backward`,
// the default set's forward without saved states (with its scratch workspace), then the forward
// of the default set followed by `backward`.
template <class T, class OutT = T, class Forward, class Backward = backward_call<>>
record bench_shape(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes,
                   Forward&& forward, bool with_backward, Backward backward = {}) {
  const uint64_t nseq = uint64_t(s.batch * s.dim * s.seqlen), nbc = uint64_t(s.batch * s.groups * s.dstate * s.seqlen);
  auto a = s6scan::forward_args<T, OutT>::contiguous(s.batch, s.dim, s.seqlen, s.dstate, s.groups);
  a.delta_softplus = true;
  size_t ws_bytes = 0;
  if (!s6scan::saved_states_size(a, &ws_bytes).ok()) std::exit(1);
  const int64_t set_bytes = int64_t((2 + s.z) * nseq + 2 * nbc) * int64_t(sizeof(T)) +
                            int64_t(nseq * sizeof(OutT)) + int64_t(ws_bytes);
  // Enough input sets, rotated, that the L2 cannot serve one launch from the last.
  const int sets = int(std::min<int64_t>(8, std::max<int64_t>(1, (4 * l2_bytes + set_bytes - 1) / set_bytes)));
  std::vector<s6scan::forward_args<T, OutT>> args(sets, a);
  std::vector<void*> owned;
  uint64_t seed = 1234;
  for (auto& x : args) {
    x.u.data = alloc_fill<T>(nseq, seed++, 0, 1);
    x.delta.data = alloc_fill<T>(nseq, seed++, -1, 0.5f);
    if (s.z) x.z.data = alloc_fill<T>(nseq, seed++, 0, 1);
    x.B.data = alloc_fill<T>(nbc, seed++, 0, 1);
    x.C.data = alloc_fill<T>(nbc, seed++, 0, 1);
    x.A.data = alloc_fill<float>(uint64_t(s.dim * s.dstate), seed++, 0, 1, true);
    x.D.data = alloc_fill<float>(uint64_t(s.dim), seed++, 0, 1);
    x.delta_bias.data = alloc_fill<float>(uint64_t(s.dim), seed++, 0, 0.1f);
    OutT* out = nullptr;
    BENCH_CUDA(cudaMalloc(&out, nseq * sizeof(OutT)));
    x.out.data = out;
    for (const void* p : {(const void*)x.u.data, (const void*)x.delta.data, (const void*)x.z.data,
                          (const void*)x.B.data, (const void*)x.C.data, (const void*)x.A.data,
                          (const void*)x.D.data, (const void*)x.delta_bias.data, (const void*)out})
      if (p) owned.push_back(const_cast<void*>(p));
  }
  std::vector<void*> ws(sets);
  for (auto& w : ws) BENCH_CUDA(cudaMalloc(&w, ws_bytes));
  BENCH_CUDA(cudaDeviceSynchronize());
  auto check = [&](const s6scan::status& st) {
    if (!st.ok()) {
      std::fprintf(stderr, "%s %s: %s\n", s.name, s6scan::type_name<T>(), st.message);
      std::exit(1);
    }
  };
  const auto fwd_call = [&](int i) { check(forward(args[i % sets], ws[i % sets], ws_bytes)); };
  const float ms = g_profile ? profile_once([](int) {}, fwd_call) : time_ms(fwd_call, 3, reps);
  record r;
  r.shape = s.name;
  r.dtype = s6scan::type_name<T>();
  r.s = s;
  r.bytes = set_bytes;
  r.fwd_ms = ms;
  const double mem_ms = double(set_bytes) / (c.copy_GBps * 1e9) * 1e3;
  const double exp_ms = double(s.batch * s.dim * s.seqlen * s.dstate) / c.ex2_per_s * 1e3;
  r.floor_ms = std::max(mem_ms, exp_ms);
  r.GBps = double(set_bytes) / (ms * 1e-3) / 1e9;
  r.ratio = ms / r.floor_ms;
  const auto release = [&] {
    for (void* p : owned) BENCH_CUDA(cudaFree(p));
    for (void* w : ws) BENCH_CUDA(cudaFree(w));
  };
  if (!with_backward) {
    release();
    return r;
  }

  // Inference: no saved states; the scratch the default set asks for, if any, in their place.
  size_t scratch_bytes = 0;
  check(s6scan::forward_workspace_size(args[0], &scratch_bytes));
  void* scratch = nullptr;
  if (scratch_bytes) BENCH_CUDA(cudaMalloc(&scratch, scratch_bytes));
  const auto infer_call = [&](int i) { check(s6scan::forward(args[i % sets], {scratch, scratch_bytes})); };
  r.fwd_infer_ms = g_profile ? 0.f : time_ms(infer_call, 3, reps);
  if (scratch) BENCH_CUDA(cudaFree(scratch));

  // The training step: dout and every gradient per input set, and the backward's workspace.
  std::vector<s6scan::backward_args<T, OutT>> grads(sets);
  size_t bws_bytes = 0;
  for (int k = 0; k < sets; ++k) {
    auto& g = grads[k];
    auto f = args[k];
    f.saved_states = {ws[k], ws_bytes};
    g = s6scan::backward_args<T, OutT>::of(f);
    g.dout.data = alloc_fill<OutT>(nseq, seed++, 0, 1);
    auto make = [&](auto*& p, uint64_t n) {
      using E = std::remove_pointer_t<std::remove_reference_t<decltype(p)>>;
      E* q = nullptr;
      BENCH_CUDA(cudaMalloc(&q, n * sizeof(E)));
      p = q;
      owned.push_back(q);
    };
    owned.push_back(const_cast<OutT*>(g.dout.data));
    make(g.du.data, nseq);
    make(g.ddelta.data, nseq);
    if (s.z) make(g.dz.data, nseq);
    make(g.dB.data, nbc);
    make(g.dC.data, nbc);
    make(g.dA.data, uint64_t(s.dim * s.dstate));
    make(g.dD.data, uint64_t(s.dim));
    make(g.ddelta_bias.data, uint64_t(s.dim));
    bws_bytes = backward.workspace(g);
  }
  void* bws = nullptr;
  BENCH_CUDA(cudaMalloc(&bws, bws_bytes));
  BENCH_CUDA(cudaDeviceSynchronize());
  const auto fwd_of = [&](int i) { check(s6scan::forward(grads[i % sets].fwd)); };
  const auto bwd_of = [&](int i) { check(backward(grads[i % sets], bws, bws_bytes)); };
  const float fb_ms = g_profile ? profile_once(fwd_of, bwd_of)
                                : time_ms([&](int i) { fwd_of(i); bwd_of(i); }, 2, std::max(10, reps / 2));
  release();
  BENCH_CUDA(cudaFree(bws));

  // The backward reads u, delta, [z], dout, B, C and the saved states, and writes du, ddelta,
  // [dz], dB, dC.
  const int64_t bwd_bytes = int64_t((4 + 2 * s.z) * nseq + 4 * nbc) * int64_t(sizeof(T)) +
                            int64_t(nseq * sizeof(OutT)) + int64_t(ws_bytes);
  r.fwdbwd_ms = fb_ms;
  r.fwdbwd_floor_ms = std::max(double(set_bytes + bwd_bytes) / (c.copy_GBps * 1e9) * 1e3, 2 * exp_ms);
  return r;
}

// The forward of the default set, as bench_shape's `forward`.
const auto fwd_default = [](auto a, void* ws, size_t bytes) {
  a.saved_states = {ws, bytes};
  return s6scan::forward(a);
};

// The time-parallel forward, whatever the default set would pick, saving states.
const auto fwd_time = [](auto a, void* ws, size_t bytes) {
  a.saved_states = {ws, bytes};
  return s6scan::forward<s6scan::default_time_config>(a);
};

// bench_shape with the default sets, forward and backward, and the time-parallel forward.
template <class T, class OutT = T>
record bench_both(const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes) {
  record r = bench_shape<T, OutT>(s, c, reps, l2_bytes, fwd_default, true);
  r.fwd_time_ms = bench_shape<T, OutT>(s, c, reps, l2_bytes, fwd_time, false).fwd_ms;
  return r;
}

// bench_both for the dtype named `dt`.
record bench_default(const char* dt, const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes) {
  if (!std::strcmp(dt, "bfloat16")) return bench_both<__nv_bfloat16>(s, c, reps, l2_bytes);
  if (!std::strcmp(dt, "float16")) return bench_both<__half>(s, c, reps, l2_bytes);
  return bench_both<float>(s, c, reps, l2_bytes);
}

// bench_default for a sweep shape, whose output may be float32 from 16-bit inputs.
record bench_sweep(const char* dt, const case_shape& s, const ceilings& c, int reps, int64_t l2_bytes) {
  if (!s.out_float || !std::strcmp(dt, "float32")) return bench_default(dt, s, c, reps, l2_bytes);
  if (!std::strcmp(dt, "bfloat16")) return bench_both<__nv_bfloat16, float>(s, c, reps, l2_bytes);
  return bench_both<__half, float>(s, c, reps, l2_bytes);
}

bool listed(const std::string& list, const std::string& item) {
  if (list.empty()) return true;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t end = list.find(',', pos);
    if (list.substr(pos, end == std::string::npos ? std::string::npos : end - pos) == item) return true;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return false;
}

}  // namespace

#include "studies.cuh"  // the configuration studies, in the same anonymous namespace

int main(int argc, char** argv) {
  std::string json, commit = "unknown", dtypes = "bfloat16,float16,float32", shapes;
  int reps = 20;
  bool nrows_study = false, bwd_study = false, seg_study = false, sweep = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--json") json = v;
    else if (k == "--commit") commit = v;
    else if (k == "--dtypes") dtypes = v;
    else if (k == "--shapes") shapes = v;
    else if (k == "--reps") reps = std::max(1, std::atoi(v.c_str()));
    else if (k == "--nrows-study") nrows_study = v == "1";
    else if (k == "--backward-study") bwd_study = v == "1";
    else if (k == "--split-study") seg_study = v == "1";
    else if (k == "--profile") g_profile = v == "1";
    else if (k == "--sweep") sweep = v == "1";
    else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
  }
#if !S6SCAN_BENCH_STUDIES
  if (nrows_study || (seg_study && !sweep) || bwd_study) {
    std::fprintf(stderr, "s6scan_bench was built without the studies; configure with "
                         "-DS6SCAN_BENCH_STUDIES=ON\n");
    return 2;
  }
#endif
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device: nothing to measure\n");
    return 77;
  }
  cudaDeviceProp prop{};
  BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
  if (g_profile) {
    const ceilings none{1.0, 1.0};  // nothing is timed, so no floor is needed
    for (const auto& s : kShapes) {
      if (!listed(shapes, s.name)) continue;
      for (const char* dt : {"bfloat16", "float16", "float32"}) {
        if (!listed(dtypes, dt)) continue;
        bench_default(dt, s, none, 1, prop.l2CacheSize);
        std::printf("profiled %s %s: one forward call, then one backward call\n", s.name, dt);
      }
    }
    return 0;
  }
  const ceilings c = measure_ceilings(reps);
  std::printf("%s: copy %.0f GB/s (read + write), ex2 %.3g /s\n", prop.name, c.copy_GBps, c.ex2_per_s);
  if (seg_study && sweep) {  // segment counts on the sweep's shapes (sweep_split_study)
    for (const auto& s : kSweep)
      if (listed(shapes, s.name)) sweep_split_study(s, c, reps, prop.l2CacheSize);
    return 0;
  }
#if S6SCAN_BENCH_STUDIES
  if (nrows_study) {
    for (const auto& s : kShapes) {
      if (!listed(shapes, s.name)) continue;
      if (s.dstate == 1) {
        study(s, c, reps, prop.l2CacheSize, study_dstate_1{});
        if (listed(dtypes, "float32")) study<float>(s, c, reps, prop.l2CacheSize, study_dstate_1_f32{});
      }
      else if (s.dstate == 16) {
        if (listed(dtypes, "bfloat16")) study(s, c, reps, prop.l2CacheSize, study_dstate_16{});
        if (listed(dtypes, "float32"))
          study<float>(s, c, reps, prop.l2CacheSize, study_dstate_16_f32{});
      }
      else if (s.dstate == 64) {
        study(s, c, reps, prop.l2CacheSize, study_dstate_64{});
        if (listed(dtypes, "float32")) study<float>(s, c, reps, prop.l2CacheSize, study_dstate_64{});
      }
      else if (s.dstate == 128) study(s, c, reps, prop.l2CacheSize, study_dstate_128{});
      else if (s.dstate == 256) {
        study(s, c, reps, prop.l2CacheSize, study_dstate_256{});
        if (listed(dtypes, "float32")) study<float>(s, c, reps, prop.l2CacheSize, study_dstate_256{});
      }
    }
    return 0;
  }
  if (seg_study) {
    for (const auto& s : kShapes)
      if (listed(shapes, s.name) && s.dstate == 16) {
        split_study(s, c, reps, prop.l2CacheSize, split_study_16{});
        backward_split_study(s, c, reps, prop.l2CacheSize);
      }
    return 0;
  }
  if (bwd_study) {
    for (const auto& s : kShapes) {
      if (!listed(shapes, s.name)) continue;
      const int64_t l2 = prop.l2CacheSize;
      if (s.dstate == 1) {
        backward_study(s, c, reps, l2, backward_study_1{});
        if (listed(dtypes, "float32")) backward_study<float>(s, c, reps, l2, backward_study_1_f32{});
      }
      else if (s.dstate == 16) {
        backward_study(s, c, reps, l2, backward_study_16{});
        if (listed(dtypes, "float32")) backward_study<float>(s, c, reps, l2, backward_study_16_f32{});
      }
      else if (s.dstate == 64) backward_study(s, c, reps, l2, backward_study_64{});
      else backward_study(s, c, reps, l2, backward_study_256{});
    }
    return 0;
  }
#endif
  std::printf("%-30s %-9s %10s %10s %10s %10s %8s %7s %10s %10s %7s\n", "shape", "dtype", "fwd_ms",
              "infer_ms", "time_ms", "floor_ms", "GB/s", "xfloor", "fwdbwd_ms", "fb_floor", "xfloor");
  std::vector<record> rs;
  const auto run = [&](const case_shape& s) {
    if (!listed(shapes, s.name)) return;
    for (const char* dt : {"bfloat16", "float16", "float32"}) {
      if (!listed(dtypes, dt) || (sweep && !s.all_dtypes && std::strcmp(dt, "bfloat16"))) continue;
      record r = sweep ? bench_sweep(dt, s, c, reps, prop.l2CacheSize)
                       : bench_default(dt, s, c, reps, prop.l2CacheSize);
      std::printf("%-30s %-9s %10.4f %10.4f %10.4f %10.4f %8.0f %7.2f %10.4f %10.4f %7.2f\n",
                  r.shape.c_str(), r.dtype.c_str(), r.fwd_ms, r.fwd_infer_ms, r.fwd_time_ms, r.floor_ms, r.GBps,
                  r.ratio, r.fwdbwd_ms, r.fwdbwd_floor_ms, r.fwdbwd_ms / r.fwdbwd_floor_ms);
      std::fflush(stdout);
      rs.push_back(r);
    }
  };
  if (sweep)
    for (const auto& s : kSweep) run(s);
  else
    for (const auto& s : kShapes) run(s);
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (!f) { std::perror(json.c_str()); return 1; }
    std::fprintf(f, "{\n \"gpu\": \"%s\",\n \"commit\": \"%s\",\n \"copy_GBps\": %.1f,\n \"ex2_per_s\": %.4g,\n"
                 " \"method\": \"median of %d CUDA-event timings after 3 warm-ups, input sets rotated past 4x L2; "
                 "inputs as anchors-h200.json; softplus, D, delta_bias on; fwd saves states, fwd_infer saves none (scratch "
                 "workspace as forward_workspace_size asks), fwd_time is the time-parallel kernel saving states; fwd+bwd: median of max(10, reps/2), "
                 "forward then backward (all gradients), floor = both passes' bytes or 2 ex2 per element\",\n"
                 " \"records\": [\n", prop.name, commit.c_str(), c.copy_GBps, c.ex2_per_s, reps);
    for (size_t i = 0; i < rs.size(); ++i) {
      const auto& r = rs[i];
      std::fprintf(f, "  {\"shape\": \"%s\", \"dtype\": \"%s\", \"pass\": \"fwd\", \"batch\": %lld, \"dim\": %lld, "
                   "\"seqlen\": %lld, \"dstate\": %lld, \"groups\": %lld, \"z\": %s, \"out_float\": %s, "
                   "\"fwd_ms\": %.5f, \"fwd_infer_ms\": %.5f, \"fwd_time_ms\": %.5f, "
                   "\"fwdbwd_ms\": %.5f, \"floor_ms\": %.5f, \"ratio\": %.3f, \"fwdbwd_floor_ms\": %.5f, \"fwdbwd_ratio\": %.3f, \"bytes\": %lld, \"GBps\": %.1f, "
                   "\"copy_GBps\": %.1f, \"ex2_per_s\": %.4g, \"gpu\": \"%s\", \"commit\": \"%s\"}%s\n",
                   r.shape.c_str(), r.dtype.c_str(), (long long)r.s.batch, (long long)r.s.dim,
                   (long long)r.s.seqlen, (long long)r.s.dstate, (long long)r.s.groups, r.s.z ? "true" : "false",
                   r.s.out_float ? "true" : "false", r.fwd_ms, r.fwd_infer_ms, r.fwd_time_ms, r.fwdbwd_ms, r.floor_ms, r.ratio, r.fwdbwd_floor_ms, r.fwdbwd_ms / r.fwdbwd_floor_ms,
                   (long long)r.bytes, r.GBps, c.copy_GBps, c.ex2_per_s,
                   prop.name, commit.c_str(), i + 1 < rs.size() ? "," : "");
    }
    std::fprintf(f, " ]\n}\n");
    std::fclose(f);
  }
  return 0;
}
