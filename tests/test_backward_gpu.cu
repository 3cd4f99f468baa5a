// SPDX-License-Identifier: MIT
// The backward kernels against the float64 reference backward: the default set over the edge grid
// (dtypes, dstate, seqlen across chunk boundaries, groups, options, layouts), each option alone,
// windows of chunks, the time split, explicit configurations, bitwise repeatability, refusals, dim above 65535 and
// more than 2^32 elements. Every gradient (and the padding around it) and the backward's workspace
// are poisoned with NaN before each launch; inputs, dout and the last-state gradient are fresh random draws (S6SCAN_SEED replays).

#include <s6scan/s6scan.cuh>
#include <s6scan_default_instances.hpp>  // the default sets, compiled once for both test binaries

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "gpu_problem.cuh"
#include "problem.hpp"

using s6scan::backward_args;
using s6scan::backward_config;
using s6scan::forward_args;
using s6test::all_ones;
using s6test::device_alloc;
using s6test::device_problem;
using s6test::device_ptr;
using s6test::options;
using s6test::problem;
using bf16 = __nv_bfloat16;

namespace {

// One gradient buffer: host mirror and device copy of the same (padded) size.
template <class T>
struct buffer {
  std::vector<T> host;
  device_ptr dev;
  T* get() const { return static_cast<T*>(dev.get()); }
};

// dout, the last-state gradient and every gradient of a problem, laid out like the tensors they
// belong to (padding included), plus the backward_args that point at them.
template <class InT, class OutT>
struct gradients {
  buffer<OutT> dout;
  buffer<float> dlast;
  buffer<InT> du, ddelta, dz, dB, dC;
  buffer<float> dA, dB_const, dC_const, dD, dbias, dh0;
  backward_args<InT, OutT> g;

  template <class T>
  void alloc(buffer<T>& b, size_t n) {
    b.host.assign(n, T{});
    b.dev = device_alloc(n * sizeof(T));
  }

  gradients(const problem<InT, OutT>& p, const forward_args<InT, OutT>& device_fwd,
            std::mt19937_64& rng) {
    const auto& a = p.args;
    g.fwd = device_fwd;
    std::normal_distribution<float> N(0.f, 1.f);
    alloc(dout, p.out.size());
    for (auto& x : dout.host) x = s6scan::from_float<OutT>(N(rng));
    CUDA_REQUIRE(cudaMemcpy(dout.get(), dout.host.data(), dout.host.size() * sizeof(OutT),
                            cudaMemcpyHostToDevice));
    g.dout = {dout.get(), a.out.batch_stride, a.out.dim_stride, 1};
    if (p.opt.last) {
      alloc(dlast, p.last.size());
      for (auto& x : dlast.host) x = N(rng);
      CUDA_REQUIRE(cudaMemcpy(dlast.get(), dlast.host.data(), dlast.host.size() * sizeof(float),
                              cudaMemcpyHostToDevice));
      g.dlast_state = {dlast.get(), a.last_state.batch_stride, a.last_state.dim_stride, 1};
    }
    auto seq = [&](buffer<InT>& b, s6scan::seq_tensor<InT>& t) {
      alloc(b, p.u.size());
      t = {b.get(), a.u.batch_stride, a.u.dim_stride, 1};
    };
    seq(du, g.du);
    seq(ddelta, g.ddelta);
    if (a.z.data) seq(dz, g.dz);
    auto bc = [&](buffer<InT>& b, s6scan::bc_tensor<InT>& t, const s6scan::bc_tensor<const InT>& like,
                  size_t n) {
      alloc(b, n);
      t = {b.get(), like.batch_stride, like.group_stride, like.state_stride, 1};
    };
    auto mat = [&](buffer<float>& b, s6scan::matrix_tensor<float>& t,
                   const s6scan::matrix_tensor<const float>& like, size_t n) {
      alloc(b, n);
      t = {b.get(), like.dim_stride, 1};
    };
    mat(dA, g.dA, a.A, p.A.size());
    if (a.B.data) bc(dB, g.dB, a.B, p.B.size()); else mat(dB_const, g.dB_const, a.B_const, p.B_const.size());
    if (a.C.data) bc(dC, g.dC, a.C, p.C.size()); else mat(dC_const, g.dC_const, a.C_const, p.C_const.size());
    if (a.D.data) {
      alloc(dD, p.D.size());
      g.dD = {dD.get(), 1};
    }
    if (a.delta_bias.data) {
      alloc(dbias, p.bias.size());
      g.ddelta_bias = {dbias.get(), 1};
    }
    if (a.initial_state.data) {
      alloc(dh0, p.h0.size());
      g.dinitial_state = {dh0.get(), a.initial_state.batch_stride, a.initial_state.dim_stride, 1};
    }
  }

  template <class F>
  void each(F&& f) {
    f(du); f(ddelta); f(dz); f(dB); f(dC);
    f(dA); f(dB_const); f(dC_const); f(dD); f(dbias); f(dh0);
  }
  void poison(int byte = 0xFF) {
    each([&](auto& b) {
      if (b.dev) CUDA_REQUIRE(cudaMemset(b.dev.get(), byte, b.host.size() * sizeof(b.host[0])));
    });
  }
  void download() {
    each([&](auto& b) {
      if (b.dev)
        CUDA_REQUIRE(cudaMemcpy(b.host.data(), b.dev.get(), b.host.size() * sizeof(b.host[0]),
                                cudaMemcpyDeviceToHost));
    });
  }
};

// The error of one gradient against the reference, and what it may reach: relative L2 1e-5 for
// per-element float gradients, 1e-4 for reduced ones, and 1.5x the reference's own rounding to a
// 16-bit type.
struct grad_error {
  const char* name;
  double err = 0, bound = 0;
};

template <class T, class Index>
grad_error compare(const char* name, const std::vector<T>& got, const std::vector<double>& ref,
                   Index index, bool reduced) {
  std::vector<double> g(ref.size()), rounded(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    g[i] = s6scan::to_float(got[index(i)]);
    rounded[i] = s6scan::to_float(s6scan::from_float<T>(float(ref[i])));
  }
  grad_error e{name};
  e.err = s6test::rel_l2(g, ref);
  e.bound = sizeof(T) == 4 ? (reduced ? 1e-4 : 1e-5) : 1.5 * s6test::rel_l2(rounded, ref);
  return e;
}

template <class InT, class OutT>
std::vector<grad_error> compare_all(const problem<InT, OutT>& p, gradients<InT, OutT>& gr) {
  const auto& a = p.args;
  s6scan::reference_gradients ref;
  const s6scan::seq_tensor<const OutT> dout{gr.dout.host.data(), a.out.batch_stride,
                                            a.out.dim_stride, 1};
  const s6scan::state_tensor<const float> dlast{
      p.opt.last ? gr.dlast.host.data() : nullptr, a.last_state.batch_stride,
      a.last_state.dim_stride, 1};
  const auto s = s6scan::reference_backward(a, dout, dlast, ref);
  INFO(s.message);
  REQUIRE(s.ok());
  const int64_t Bn = p.batch, D = p.dim, L = p.seqlen, N = p.dstate, G = p.groups;
  auto seq = [&](const auto& t) {
    return [&, t](size_t i) {
      const int64_t x = int64_t(i);
      return size_t((x / (D * L)) * t.batch_stride + (x / L % D) * t.dim_stride + x % L);
    };
  };
  auto bc = [&](const auto& t) {
    return [&, t](size_t i) {
      const int64_t x = int64_t(i);
      return size_t(x / (G * N * L) * t.batch_stride + x / (N * L) % G * t.group_stride +
                    x / L % N * t.state_stride + x % L);
    };
  };
  auto mat = [&](const auto& t) {
    return [&, t](size_t i) { return size_t(int64_t(i) / N * t.dim_stride + int64_t(i) % N); };
  };
  auto vec = [](size_t i) { return i; };
  auto state = [&](const auto& t) {
    return [&, t](size_t i) {
      const int64_t x = int64_t(i);
      return size_t(x / (D * N) * t.batch_stride + x / N % D * t.dim_stride + x % N);
    };
  };
  (void)Bn;
  const auto& g = gr.g;
  std::vector<grad_error> e;
  e.push_back(compare("du", gr.du.host, ref.du, seq(g.du), false));
  e.push_back(compare("ddelta", gr.ddelta.host, ref.ddelta, seq(g.ddelta), false));
  if (a.z.data) e.push_back(compare("dz", gr.dz.host, ref.dz, seq(g.dz), false));
  e.push_back(compare("dA", gr.dA.host, ref.dA, mat(g.dA), true));
  if (a.B.data) e.push_back(compare("dB", gr.dB.host, ref.dB, bc(g.dB), true));
  else e.push_back(compare("dB_const", gr.dB_const.host, ref.dB, mat(g.dB_const), true));
  if (a.C.data) e.push_back(compare("dC", gr.dC.host, ref.dC, bc(g.dC), true));
  else e.push_back(compare("dC_const", gr.dC_const.host, ref.dC, mat(g.dC_const), true));
  if (a.D.data) e.push_back(compare("dD", gr.dD.host, ref.dD, vec, true));
  if (a.delta_bias.data) e.push_back(compare("ddelta_bias", gr.dbias.host, ref.ddelta_bias, vec, true));
  if (a.initial_state.data)
    e.push_back(compare("dh0", gr.dh0.host, ref.dh0, state(g.dinitial_state), true));
  return e;
}

// Forward (saving states) with `fwd`, then backward with `bwd`, then every gradient checked.
template <class InT, class OutT, class Fwd, class Bwd>
void run_case(problem<InT, OutT>& p, Fwd fwd, Bwd bwd, int64_t partial_budget = 0) {
  if (!s6test::next_case_in_shard()) return;
  const auto start = std::chrono::steady_clock::now();
  const std::string name = s6test::case_name(p);
  INFO(name << " seed=" << s6test::test_seed());
  std::mt19937_64 rng(s6test::test_seed() ^ std::hash<std::string>{}(name));
  device_problem<InT, OutT> d(p);
  const size_t states_bytes = s6test::saved_states_bytes(p.args);
  device_ptr states = device_alloc(states_bytes);
  {
    const s6scan::status s = fwd(d.args, states.get(), states_bytes);
    INFO("forward: " << s.message);
    REQUIRE(s.ok());
  }
  gradients<InT, OutT> gr(p, s6test::with_saved_states(d.args, states.get(), states_bytes), rng);
  if (partial_budget > 0) gr.g.partial_budget = partial_budget;
  gr.poison();
  const size_t ws_bytes = bwd.workspace_size(gr.g);
  device_ptr ws = device_alloc(ws_bytes);
  CUDA_REQUIRE(cudaMemset(ws.get(), 0xFF, ws_bytes));
  const s6scan::status s = bwd(gr.g, ws.get(), ws_bytes);
  INFO("backward: " << s.message);
  REQUIRE(s.ok());
  CUDA_REQUIRE(cudaDeviceSynchronize());
  gr.download();
  const double device_s = s6test::seconds_since(start);

  const auto checked = std::chrono::steady_clock::now();
  const auto errs = compare_all(p, gr);
  std::string line = "error bwd " + name;
  for (const auto& e : errs) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), " %s=%.3e/%.3e", e.name, e.err, e.bound);
    line += buf;
  }
  std::printf("%s device_s=%.2f reference_s=%.2f\n", line.c_str(), device_s,
              s6test::seconds_since(checked));
  for (const auto& e : errs) {
    CAPTURE(e.name, e.err, e.bound);
    REQUIRE(e.err <= e.bound);
  }
  if (p.opt.pad) {
    const auto& u = p.args.u;
    REQUIRE(s6test::touched_padding(gr.du.host, u.batch_stride, u.dim_stride, p.dim, p.seqlen) == 0);
    REQUIRE(s6test::touched_padding(gr.ddelta.host, u.batch_stride, u.dim_stride, p.dim, p.seqlen) == 0);
  }
}

// The default set, or one configuration, as the launcher run_case calls.
// A size query that must succeed.
size_t required(const s6scan::status& s, size_t bytes) {
  INFO(s.message);
  REQUIRE(s.ok());
  return bytes;
}

struct default_backward {
  template <class G>
  size_t workspace_size(const G& g) const {
    size_t b = 0;
    const s6scan::status s = s6scan::backward_workspace_size(g, &b);  // before b is read
    return required(s, b);
  }
  template <class G>
  s6scan::status operator()(const G& g, void* ws, size_t wsb) const {
    return s6scan::backward(g, {ws, wsb});
  }
};
template <class Config>
struct config_backward {
  template <class G>
  size_t workspace_size(const G& g) const {
    size_t b = 0;
    const s6scan::status s = s6scan::backward_workspace_size<Config>(g, &b);
    return required(s, b);
  }
  template <class G>
  s6scan::status operator()(const G& g, void* ws, size_t wsb) const {
    return s6scan::backward<Config>(g, {ws, wsb});
  }
};
// The default set's configuration with `segments` time segments per launch.
struct segmented_backward {
  int segments;
  template <class G>
  size_t workspace_size(const G& g) const { return default_backward{}.workspace_size(g); }
  template <class G>
  s6scan::status operator()(const G& g, void* ws, size_t wsb) const {
    return s6scan::detail::with_default_backward_config(g, [&](auto cfg) {
      return s6scan::detail::backward_segmented<decltype(cfg)>(g, {ws, wsb}, nullptr, segments);
    });
  }
};
template <class InT, class OutT>
s6scan::status default_forward(const forward_args<InT, OutT>& a, void* ws, size_t bytes) {
  return s6scan::forward(s6test::with_saved_states(a, ws, bytes));
}

}  // namespace

#define S6SCAN_TYPE_PAIRS                                                                       \
  (std::pair<float, float>), (std::pair<__half, __half>), (std::pair<bf16, bf16>),             \
      (std::pair<__half, float>), (std::pair<bf16, float>)

TEMPLATE_TEST_CASE("backward: default set over the edge grid", "[gpu][backward]", S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() ^ sizeof(InT) ^ (sizeof(OutT) << 8));
  int k = 0;
  for (int64_t dstate : {1, 2, 15, 16, 17, 64, 65, 128, 129, 255, 256})
    for (int64_t seqlen : {1, 2, 15, 16, 17, 63, 64, 65, 129, 300}) {
      // Groups 1, 2, 4 and one channel per group, in turn; every third case has more channels
      // than a block holds, so blocks split groups (and dB/dC are summed over blocks).
      const int64_t big = dstate > 64 ? 40 : k % 4 == 3 ? s6test::one_channel_groups() : 200;
      const int64_t dim = k % 3 == 2 ? big : 24;
      const int64_t groups = std::array<int64_t, 4>{1, 2, 4, dim}[k % 4];
      problem<InT, OutT> p(2, dim, seqlen, dstate, groups, s6test::random_options(rng), rng);
      run_case(p, default_forward<InT, OutT>, default_backward{});
      ++k;
    }
}

TEMPLATE_TEST_CASE("backward: each option on its own and all together", "[gpu][backward]",
                   S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 1);
  std::vector<options> sets(11);
  sets[1].z = true; sets[2].D = true; sets[3].bias = true; sets[4].softplus = true;
  sets[5].h0 = true; sets[6].last = true; sets[7].B_const = true; sets[8].C_const = true;
  sets[9].B_const = sets[9].C_const = true;
  options& all = sets[10];
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  // dstate 256 runs its adjoint in parts of 4 states (backward_state_parts).
  for (int64_t dstate : {1, 16, 64, 256})
    for (const auto& o : sets) {
      problem<InT, OutT> p(2, 24, 257, dstate, 2, o, rng);
      run_case(p, default_forward<InT, OutT>, default_backward{});
    }
}

// Rows that are not 16-byte aligned load in small pieces (small_piece_bytes): 8 bytes in 16-bit
// types (seqlen 12, 196), 4 bytes in float32 (262, 98, 49: VMamba stage 4); element by element in
// 16-bit types at 98 and 49. The default forward splits these in time (two blocks).
TEMPLATE_TEST_CASE("backward: rows aligned to 8 or 4 bytes but not 16", "[gpu][backward]",
                   S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 9);
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (const options& o : {all, options{}})
    for (int64_t seqlen : {12, 196, 262, 98, 49})
      for (int64_t dstate : {1, 16, 64}) {
        problem<InT, OutT> p(2, 40, seqlen, dstate, 2, o, rng);
        run_case(p, default_forward<InT, OutT>, default_backward{});
      }
}

TEST_CASE("backward: one chunk per launch when the partial budget is small", "[gpu][backward]") {
  std::mt19937_64 rng(s6test::test_seed() + 2);
  options o;
  o.z = o.D = o.bias = o.softplus = o.h0 = o.last = true;
  for (int64_t dstate : {1, 16}) {
    problem<bf16, float> p(2, 80, 300, dstate, 2, o, rng);  // 5 chunks, 5 launches
    run_case(p, default_forward<bf16, float>, default_backward{}, 1);
  }
  o.B_const = true;  // only C's partials
  problem<float, float> p(2, 80, 200, 16, 2, o, rng);
  run_case(p, default_forward<float, float>, default_backward{}, 1);
}

// Time split across blocks: 2 to 32 segments (32 is cut to the chunks there are), segments of
// one chunk and uneven ones, with every option, constant B and C, and in windows of chunks, at
// dstate 1 to 256.
TEMPLATE_TEST_CASE("backward: time split across blocks", "[gpu][backward]",
                   (std::pair<float, float>), (std::pair<bf16, float>)) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 10);
  options all, consts;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  consts = all;
  consts.B_const = consts.C_const = true;
  // dstate 129 and 256 run the carry kernel in parts of 4 states (backward_state_parts), with the
  // swizzled B/C columns; one constant B (its sums in shared memory) beside one that varies.
  options b_only = all;
  b_only.B_const = true;
  // Under S6SCAN_FEWER_BLOCKS (racecheck), those two take batch 1 and 16 channels (one block of
  // 8 per group, a fifth of the work): at batch 2 and 40 channels, racecheck processes did not
  // get through them in 290 s. They also take only 10 chunks in 3 uneven segments and in
  // segments of one chunk: with all eight splits, 16 racecheck shards were still inside this
  // test at 540 s. Several blocks per group and the other splits stay covered by the plain runs.
  for (const options& o : {all, consts, b_only})
    for (int64_t dstate : {1, 16, 64, 129, 256}) {
      if (o.B_const && !o.C_const && dstate < 129) continue;
      const bool small = dstate >= 129 && s6test::fewer_blocks();
      for (int64_t seqlen : {64 * 9 + 17, 1000})  // 10 and 16 chunks
        for (int segments : {2, 3, 7, 32}) {
          if (small && (seqlen == 1000 || segments == 2 || segments == 7)) continue;
          problem<InT, OutT> p(small ? 1 : 2, small ? 16 : 40, seqlen, dstate, 2, o, rng);
          run_case(p, default_forward<InT, OutT>, segmented_backward{segments});
        }
    }
  // Windows of 6 chunks (16 chunks: 6, 6 and 4) of 3 segments of 2 chunks, the last window 2
  // segments. dstate 16 takes 32 rows: one block per group, 2 x 2 x 16 x 64 steps x 2 (dB, dC)
  // floats of partials per chunk.
  for (const options& o : {all, options{}}) {
    problem<InT, OutT> p(2, 40, 1000, 16, 2, o, rng);
    run_case(p, default_forward<InT, OutT>, segmented_backward{3}, int64_t(6) * 2 * 2 * 16 * 64 * 2 * 4);
  }
}

TEMPLATE_TEST_CASE("backward: explicit configurations outside the default set", "[gpu][backward]",
                   (std::pair<float, float>), (std::pair<bf16, bf16>)) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 3);
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (int64_t seqlen : {7, 64, 300}) {
    {  // eight lanes of one state; eight-step tiles
      problem<InT, OutT> p(2, 40, seqlen, 7, 4, all, rng);
      run_case(p, default_forward<InT, OutT>, config_backward<backward_config<8, 32, 8, 1>>{});
    }
    {  // sixteen lanes of two states
      problem<InT, OutT> p(2, 40, seqlen, 29, 2, all, rng);
      run_case(p, default_forward<InT, OutT>, config_backward<backward_config<32, 8, 16, 2>>{});
    }
    {  // the same at dstate 12: 64-step chunks over states saved every 16 steps
      problem<InT, OutT> p(2, 40, seqlen, 12, 4, all, rng);
      run_case(p, default_forward<InT, OutT>, config_backward<backward_config<32, 8, 16, 2>>{});
    }
  }
  // One channel per warp (dB/dC terms stored one kind at a time) with 2-float and 1-float stores,
  // varying B and C, and one of them constant.
  options const_B = all, const_C = all;
  const_B.B_const = const_C.C_const = true;
  for (const options& o : {all, const_B, const_C}) {
    {  // thirty-two lanes of two states, the last 7 past dstate 50
      problem<InT, OutT> p(2, 12, 300, 50, 2, o, rng);
      run_case(p, default_forward<InT, OutT>, config_backward<backward_config<64, 4, 16, 2>>{});
    }
    {  // thirty-two lanes of one state
      problem<InT, OutT> p(2, 12, 300, 32, 3, o, rng);
      run_case(p, default_forward<InT, OutT>, config_backward<backward_config<32, 2, 8, 1>>{});
    }
  }
  // One lane of four states (the last past dstate 3), eight-step tiles: each thread works from its
  // channel's raw rows (no float tiles). 10 channels of a 32-row block; 300 steps over 8 blocks
  // are split in time, so the carry pass runs too.
  for (const options& o : {all, const_B, const_C})
    for (int64_t seqlen : {7, 300}) {
      problem<InT, OutT> p(2, 40, seqlen, 3, 4, o, rng);
      run_case(p, default_forward<InT, OutT>, config_backward<backward_config<4, 32, 8, 4>>{});
    }
  // The dstate-256 fallback, 4 channels per block, in parts of 4 states like the default: at dstate
  // 129 lane 16 has one state in its first part and none in its second, and later lanes none.
  for (const options& o : {all, const_B, const_C})
    for (int64_t dstate : {129, 256}) {
      problem<InT, OutT> p(2, 12, 300, dstate, 2, o, rng);
      run_case(p, default_forward<InT, OutT>,
               config_backward<s6scan::default_backward_config_256_small>{});
    }
  if constexpr (sizeof(InT) == 2) {
    // dstate above 256: 32 lanes of 16 states, with the forward of the same reach.
    auto fwd = [](const forward_args<InT, OutT>& a, void* ws, size_t bytes) {
      return s6scan::forward<s6scan::forward_config<512, 16, 16>>(
          s6test::with_saved_states(a, ws, bytes));
    };
    for (int64_t dstate : {300, 512}) {
      problem<InT, OutT> p(1, 6, 130, dstate, 1, all, rng);
      run_case(p, fwd, config_backward<backward_config<512, 2, 8, 16>>{});
    }
  }
}

TEST_CASE("backward: the same call twice gives the same bits", "[gpu][backward]") {
  if (!s6test::in_shard(0)) return;
  std::mt19937_64 rng(s6test::test_seed() + 4);
  options o;
  o.z = o.D = o.bias = o.softplus = o.h0 = o.last = true;
  for (int64_t dstate : {1, 16, 64}) {
    CAPTURE(dstate);
    problem<bf16, bf16> p(3, 256, 1000, dstate, 4, o, rng);
    device_problem<bf16, bf16> d(p);
    const size_t states_bytes = s6test::saved_states_bytes(p.args);
    device_ptr states = device_alloc(states_bytes);
    const auto fwd = s6test::with_saved_states(d.args, states.get(), states_bytes);
    REQUIRE(s6scan::forward(fwd).ok());
    gradients<bf16, bf16> gr(p, fwd, rng);
    const size_t ws_bytes = default_backward{}.workspace_size(gr.g);
    device_ptr ws = device_alloc(ws_bytes);
    std::vector<std::vector<unsigned char>> runs;
    for (int byte : {0xFF, 0x00}) {  // different poison and workspace contents each time
      gr.poison(byte);
      CUDA_REQUIRE(cudaMemset(ws.get(), byte, ws_bytes));
      REQUIRE(s6scan::backward(gr.g, {ws.get(), ws_bytes}).ok());
      CUDA_REQUIRE(cudaDeviceSynchronize());
      gr.download();
      std::vector<unsigned char> bits;
      gr.each([&](auto& b) {
        const auto* c = reinterpret_cast<const unsigned char*>(b.host.data());
        bits.insert(bits.end(), c, c + b.host.size() * sizeof(b.host[0]));
      });
      runs.push_back(std::move(bits));
    }
    REQUIRE(runs[0].size() > 0);
    REQUIRE(runs[0] == runs[1]);
  }
}

TEST_CASE("backward: refusals launch nothing", "[gpu][backward]") {
  if (!s6test::in_shard(0)) return;
  std::mt19937_64 rng(s6test::test_seed() + 5);
  options o;
  o.z = true;
  problem<float, float> p(1, 8, 40, 16, 1, o, rng);
  device_problem<float, float> d(p);
  const size_t states_bytes = s6test::saved_states_bytes(p.args);
  device_ptr states = device_alloc(states_bytes);
  const auto fwd = s6test::with_saved_states(d.args, states.get(), states_bytes);
  REQUIRE(s6scan::forward(fwd).ok());
  gradients<float, float> gr(p, fwd, rng);
  gr.poison();
  const size_t ws_bytes = default_backward{}.workspace_size(gr.g);
  device_ptr ws = device_alloc(ws_bytes);
  auto run = [&](const backward_args<float>& g) { return s6scan::backward(g, {ws.get(), ws_bytes}); };
  auto expect = [](const s6scan::status& s, s6scan::status_code c, const char* text) {
    CAPTURE(s.message, text);
    REQUIRE(s.code == c);
    REQUIRE(std::strstr(s.message, text));
  };
  {
    auto g = gr.g;
    g.dz = {};
    expect(run(g), s6scan::status_code::invalid_argument, "dz is null but the forward had z");
  }
  {
    auto g = gr.g;
    g.dB_const = {gr.dA.get(), 16, 1};
    expect(run(g), s6scan::status_code::invalid_argument, "dB_const is set but the forward had no B_const");
  }
  {
    auto g = gr.g;
    g.dD = {gr.dA.get(), 1};
    expect(run(g), s6scan::status_code::invalid_argument, "dD is set but the forward had no D");
  }
  {
    auto g = gr.g;
    g.fwd.saved_states = {};
    expect(run(g), s6scan::status_code::invalid_argument, "fwd.saved_states is null");
  }
  expect(s6scan::backward(gr.g, {ws.get(), ws_bytes - 4}),
         s6scan::status_code::workspace_too_small, "(backward_workspace_size)");
  {
    // Tensors laid out for dstate 300, so that only dstate is wrong: the layout checks come
    // first. Nothing is launched, so the buffers' sizes do not matter.
    auto g = gr.g;
    g.fwd.dstate = 300;
    g.fwd.set_contiguous_strides();
    g.set_contiguous_gradient_strides();
    expect(s6scan::backward_can_implement(g), s6scan::status_code::unsupported_dstate,
           "dstate 300 exceeds 256");
    expect(s6scan::backward_can_implement<backward_config<16, 32>>(g),
           s6scan::status_code::unsupported_dstate, "dstate 300 exceeds MaxDState 16");
  }
  CUDA_REQUIRE(cudaDeviceSynchronize());
  gr.download();
  for (float x : gr.du.host) REQUIRE(all_ones(x));
  for (float x : gr.dA.host) REQUIRE(all_ones(x));
  REQUIRE(s6scan::backward_can_implement(gr.g).ok());
}

TEST_CASE("backward: the default set takes fewer rows where shared memory is short",
          "[gpu][backward]") {
  // dstate 128 and 256 take the row of more channels per block when its shared memory fits the
  // device, else the _small row. Nothing is launched.
  auto g = s6scan::backward_args<float>::of(s6scan::forward_args<float>::contiguous(2, 64, 100, 1));
  const auto stand_in = reinterpret_cast<float*>(uintptr_t(256));
  g.fwd.u.data = g.fwd.delta.data = g.fwd.B.data = g.fwd.C.data = g.fwd.A.data = stand_in;
  g.fwd.z.data = stand_in;
  auto rows_for = [&](int64_t dstate, int64_t optin) {
    g.fwd.dstate = dstate;
    return s6scan::shape_of(
               s6scan::select_backward(g, s6scan::device_limits::with_shared_memory(optin)))
        .rows;
  };
  using s6scan::detail::backward_smem_bytes;
  using s6scan::shape_of;
  for (int64_t dstate : {100, 128}) {
    g.fwd.dstate = dstate;
    const int64_t big = backward_smem_bytes(g, shape_of<s6scan::default_backward_config_128>());
    REQUIRE(rows_for(dstate, big) == s6scan::default_backward_config_128::kRows);
    REQUIRE(rows_for(dstate, big - 1) == s6scan::default_backward_config_128_small::kRows);
  }
  for (int64_t dstate : {200, 256}) {
    g.fwd.dstate = dstate;
    const int64_t big = backward_smem_bytes(g, shape_of<s6scan::default_backward_config_256>());
    REQUIRE(rows_for(dstate, big) == s6scan::default_backward_config_256::kRows);
    REQUIRE(rows_for(dstate, big - 1) == s6scan::default_backward_config_256_small::kRows);
  }
  REQUIRE(rows_for(64, 0) == s6scan::default_backward_config_64::kRows);  // no device needed
}

TEST_CASE("backward: dim above 65535", "[gpu][backward]") {
  std::mt19937_64 rng(s6test::test_seed() + 6);
  options o;
  o.D = o.softplus = o.bias = o.last = true;
  problem<bf16, bf16> p(1, 70000, 40, 16, 2, o, rng);
  run_case(p, default_forward<bf16, bf16>, default_backward{});
}

// ---- more than 2^32 elements: inputs made on the device from a hash; the per-channel gradients
// (du, ddelta, dA, dD) checked on channels whose offsets lie past 2^32. dB and dC sum over all
// 2^17 channels, so the reference would need every one of them; they are checked for finiteness.
// dA of one channel is a float sum over 32769 steps whose terms mostly cancel: over 200 channels
// of 40 seeds (the five below), |dA| was 1.5% of the sum of the terms' magnitudes at the median
// and 8e-6 at the least. So its error is measured against that sum (the reference's dA_scale),
// within 2e-5 (one 64-step chunk's terms make up about 2e-3 of it). A bound relative to |dA|
// failed now and then: seed 18006941089458157896 gave 6.1e-4 of |dA| at channel 131069, where
// 3e-4 was allowed; |dA| is 8.1e-3 of the magnitudes there, so that error is 4.9e-6 of them.

TEST_CASE("backward: more than 2^32 elements", "[gpu][backward][large]") {
  if (!s6test::in_shard(0)) return;
  const int64_t dim = int64_t(1) << 17, L = 32769, n = dim * L;
  REQUIRE(n > (int64_t(1) << 32));
  const uint64_t seed = s6test::test_seed();
  INFO("seed " << seed);
  s6test::large_problem lp(dim, L, seed);
  auto dout = device_alloc(n * sizeof(bf16)), du = device_alloc(n * sizeof(bf16));
  auto dd = device_alloc(n * sizeof(bf16));
  s6test::fill_hash<<<4096, 256>>>(static_cast<bf16*>(dout.get()), n, seed + 2, -1.f, 1.f);
  for (void* p : {du.get(), dd.get()}) CUDA_REQUIRE(cudaMemset(p, 0xFF, n * sizeof(bf16)));
  auto gB = device_alloc(L * sizeof(bf16)), gC = device_alloc(L * sizeof(bf16));
  auto gA = device_alloc(dim * sizeof(float)), gD = device_alloc(dim * sizeof(float));

  const size_t states_bytes = s6test::saved_states_bytes(lp.args);
  auto states = device_alloc(states_bytes);
  auto g = backward_args<bf16>::of(s6test::with_saved_states(lp.args, states.get(), states_bytes));
  g.dout.data = static_cast<bf16*>(dout.get());
  g.du.data = static_cast<bf16*>(du.get()); g.ddelta.data = static_cast<bf16*>(dd.get());
  g.dB.data = static_cast<bf16*>(gB.get()); g.dC.data = static_cast<bf16*>(gC.get());
  g.dA.data = static_cast<float*>(gA.get()); g.dD.data = static_cast<float*>(gD.get());
  const size_t ws_bytes = default_backward{}.workspace_size(g);
  auto ws = device_alloc(ws_bytes);
  auto s = s6scan::forward(g.fwd);
  INFO(s.message);
  REQUIRE(s.ok());
  s = s6scan::backward(g, {ws.get(), ws_bytes});
  INFO(s.message);
  REQUIRE(s.ok());
  CUDA_REQUIRE(cudaDeviceSynchronize());

  std::vector<bf16> hB(L), hC(L);
  CUDA_REQUIRE(cudaMemcpy(hB.data(), g.dB.data, L * sizeof(bf16), cudaMemcpyDeviceToHost));
  CUDA_REQUIRE(cudaMemcpy(hC.data(), g.dC.data, L * sizeof(bf16), cudaMemcpyDeviceToHost));
  for (int64_t t = 0; t < L; ++t) {
    REQUIRE(std::isfinite(__bfloat162float(hB[t])));
    REQUIRE(std::isfinite(__bfloat162float(hC[t])));
  }
  for (int64_t d : {int64_t(0), dim / 2, dim - 3, dim - 2, dim - 1}) {
    CAPTURE(d, d * L);
    std::vector<bf16> hdo(L), gu(L), gd(L);
    for (int64_t t = 0; t < L; ++t)
      hdo[t] = __float2bfloat16_rn(-1.f + 2.f * s6test::hash_unit(seed + 2, uint64_t(d * L + t)));
    CUDA_REQUIRE(cudaMemcpy(gu.data(), g.du.data + d * L, L * sizeof(bf16), cudaMemcpyDeviceToHost));
    CUDA_REQUIRE(cudaMemcpy(gd.data(), g.ddelta.data + d * L, L * sizeof(bf16), cudaMemcpyDeviceToHost));
    float gotA = 0, gotD = 0;
    CUDA_REQUIRE(cudaMemcpy(&gotA, g.dA.data + d, sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_REQUIRE(cudaMemcpy(&gotD, g.dD.data + d, sizeof(float), cudaMemcpyDeviceToHost));
    const auto c = lp.host_channel(d, hdo.data());
    s6scan::reference_gradients ref;
    REQUIRE(s6scan::reference_backward(c.args, {hdo.data(), L, L, 1}, {}, ref).ok());
    auto seq_error = [&](const std::vector<bf16>& got, const std::vector<double>& want) {
      std::vector<double> x(want.size()), r(want.size());
      for (size_t t = 0; t < want.size(); ++t) {
        x[t] = __bfloat162float(got[t]);
        r[t] = __bfloat162float(__float2bfloat16_rn(float(want[t])));
      }
      return std::pair<double, double>(s6test::rel_l2(x, want), 1.5 * s6test::rel_l2(r, want));
    };
    const auto [eu, bu] = seq_error(gu, ref.du);
    const auto [ed, bd] = seq_error(gd, ref.ddelta);
    const double scaleA = ref.dA_scale[0];
    const double errA = std::abs(gotA - ref.dA[0]), eA = errA / scaleA;
    const double eD = std::abs(gotD - ref.dD[0]) / std::abs(ref.dD[0]);
    std::printf("error bwd bfloat16->bfloat16 >2^32 elements channel=%lld du=%.3e/%.3e "
                "ddelta=%.3e/%.3e dA=%.3e/2e-5 (of the terms' magnitudes; %.3e of |dA|) "
                "dD=%.3e/1e-4\n",
                (long long)d, eu, bu, ed, bd, eA, errA / std::abs(ref.dA[0]), eD);
    CAPTURE(eu, bu, ed, bd, eA, eD);
    REQUIRE(eu <= bu);
    REQUIRE(ed <= bd);
    REQUIRE(eA <= 2e-5);
    REQUIRE(eD <= 1e-4);
  }
}
