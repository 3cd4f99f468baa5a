// SPDX-License-Identifier: MIT
// The forward kernels against the float64 reference: the default set over the edge grid (dtypes,
// dstate, seqlen, groups, options, layouts), explicit configurations, the saved states, 64-bit
// sizes, and refusals. Outputs, saved states and the padding around them are poisoned with NaN
// before every launch; inputs are fresh random draws (S6SCAN_SEED replays a run).

#include <s6scan/s6scan.cuh>
#include <s6scan_default_instances.hpp>  // the default sets, compiled once for both test binaries

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "gpu_problem.cuh"
#include "problem.hpp"

using s6scan::forward_args;
using s6scan::forward_config;
using s6test::all_ones;
using s6test::case_name;
using s6test::device_alloc;
using s6test::device_problem;
using s6test::device_ptr;
using s6test::options;
using s6test::problem;
using s6test::random_options;
using s6test::touched_padding;
using bf16 = __nv_bfloat16;

namespace {

// Checks the saved states of the workspace against the reference at every chunk's end.
template <class InT, class OutT>
double checkpoint_error(const problem<InT, OutT>& p, const std::vector<float>& ws) {
  const int64_t K = s6scan::checkpoint_steps(p.dstate);
  const int64_t chunks = s6scan::checkpoint_chunks(p.seqlen, p.dstate);
  std::vector<double> got, want, y(size_t(p.seqlen)), h(size_t(p.dstate));
  for (int64_t c = 0; c < chunks; ++c) {
    auto a = p.args;
    a.seqlen = std::min<int64_t>((c + 1) * K, p.seqlen);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t d = 0; d < p.dim; ++d) {
        s6scan::reference_forward_channel(a, b, d, y.data(), h.data());
        for (int64_t n = 0; n < p.dstate; ++n) {
          got.push_back(ws[size_t(((b * p.dim + d) * chunks + c) * p.dstate + n)]);
          want.push_back(h[n]);
        }
      }
  }
  return s6test::rel_l2(got, want);
}

// Runs one problem through `launch(args, workspace, bytes)` and checks everything it wrote.
template <class InT, class OutT, class Launch>
void run_case(problem<InT, OutT>& p, Launch launch, bool with_workspace) {
  if (!s6test::next_case_in_shard()) return;
  const auto start = std::chrono::steady_clock::now();
  const std::string name = case_name(p);
  INFO(name << " workspace=" << with_workspace << " seed=" << s6test::test_seed());
  device_problem<InT, OutT> d(p);
  d.poison();
  const size_t ws_bytes = with_workspace ? s6test::saved_states_bytes(p.args) : 0;
  device_ptr ws = with_workspace ? device_alloc(ws_bytes) : nullptr;
  if (ws) CUDA_REQUIRE(cudaMemset(ws.get(), 0xFF, ws_bytes));

  const s6scan::status s = launch(d.args, ws.get(), ws_bytes);
  INFO("status: " << s.message);
  REQUIRE(s.ok());
  CUDA_REQUIRE(cudaDeviceSynchronize());
  d.download(p);
  const double device_s = s6test::seconds_since(start);

  const auto checked = std::chrono::steady_clock::now();
  const auto e = s6test::compare_forward(p.args, p.out.data(), p.opt.last ? p.last.data() : nullptr);
  double ws_err = 0;
  if (ws) {
    std::vector<float> host(ws_bytes / sizeof(float));
    CUDA_REQUIRE(cudaMemcpy(host.data(), ws.get(), ws_bytes, cudaMemcpyDeviceToHost));
    ws_err = checkpoint_error(p, host);
  }
  std::printf("error %s y=%.3e bound=%.3e state=%.3e saved=%.3e device_s=%.2f reference_s=%.2f\n",
              name.c_str(), e.y, e.y_bound, e.state, ws_err, device_s, s6test::seconds_since(checked));
  CAPTURE(e.y, e.y_bound, e.state, ws_err);
  REQUIRE(e.y <= e.y_bound);
  REQUIRE(e.state <= 1e-5);
  REQUIRE(ws_err <= 1e-5);
  if (p.opt.pad) {
    REQUIRE(touched_padding(p.out, p.args.out.batch_stride, p.args.out.dim_stride, p.dim, p.seqlen) == 0);
    if (p.opt.last)
      REQUIRE(touched_padding(p.last, p.args.last_state.batch_stride, p.args.last_state.dim_stride, p.dim,
                              p.dstate) == 0);
  }
}

template <class InT, class OutT>
s6scan::status default_launch(const forward_args<InT, OutT>& a, void* ws, size_t bytes) {
  return s6scan::forward(s6test::with_saved_states(a, ws, bytes));
}


}  // namespace

#define S6SCAN_TYPE_PAIRS                                                                       \
  (std::pair<float, float>), (std::pair<__half, __half>), (std::pair<bf16, bf16>),             \
      (std::pair<__half, float>), (std::pair<bf16, float>)

TEMPLATE_TEST_CASE("forward: default set over the edge grid", "[gpu][forward]", S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() ^ sizeof(InT) ^ (sizeof(OutT) << 8));
  int k = 0;
  for (int64_t dstate : {1, 2, 15, 16, 17, 64, 255, 256})
    for (int64_t seqlen : {1, 2, 15, 16, 17, 31, 32, 33, 255, 256, 257, 600}) {
      // groups 1, 2, 4 and one channel per group, in turn; every third case has more channels
      // than a block holds, so blocks split groups and the last one is partial.
      const int64_t dim = k % 3 == 2 ? (k % 4 == 3 ? s6test::one_channel_groups() : 200) : 24;
      const int64_t groups = std::array<int64_t, 4>{1, 2, 4, dim}[k % 4];
      problem<InT, OutT> p(2, dim, seqlen, dstate, groups, random_options(rng), rng);
      run_case(p, default_launch<InT, OutT>, k % 2 == 0);
      ++k;
    }
}

TEMPLATE_TEST_CASE("forward: each option on its own and all together", "[gpu][forward]", S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 1);
  std::vector<options> sets(11);
  sets[1].z = true; sets[2].D = true; sets[3].bias = true; sets[4].softplus = true;
  sets[5].h0 = true; sets[6].last = true; sets[7].B_const = true; sets[8].C_const = true;
  sets[9].B_const = sets[9].C_const = true;
  options& all = sets[10];
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (int64_t dstate : {1, 16, 64})
    for (const auto& o : sets) {
      problem<InT, OutT> p(2, 24, 257, dstate, 2, o, rng);
      run_case(p, default_launch<InT, OutT>, true);
    }
}

template <class Config, class InT, class OutT>
s6scan::status config_launch(const forward_args<InT, OutT>& a, void* ws, size_t bytes) {
  return s6scan::forward<Config>(s6test::with_saved_states(a, ws, bytes));
}

TEMPLATE_TEST_CASE("forward: explicit configurations outside the default set", "[gpu][forward]",
                   (std::pair<float, float>), (std::pair<bf16, bf16>)) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 2);
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (int64_t seqlen : {7, 64, 300}) {
    {  // four lanes of two states; eight-step tiles
      problem<InT, OutT> p(2, 40, seqlen, 7, 4, all, rng);
      run_case(p, config_launch<forward_config<8, 32, 8, 2>, InT, OutT>, true);
    }
    {  // four lanes of eight states
      problem<InT, OutT> p(2, 40, seqlen, 29, 2, all, rng);
      run_case(p, config_launch<forward_config<32, 32, 16, 8>, InT, OutT>, true);
    }
    {  // a MaxDState above 16 at dstate 12: states saved every 16 steps, inside 32-step tiles
      problem<InT, OutT> p(2, 40, seqlen, 12, 4, all, rng);
      run_case(p, config_launch<s6scan::default_config_64, InT, OutT>, true);
    }
    // Two lanes of eight states, each reading its channel's raw rows (a row of the default set):
    // the second lane's states partly padding (13), all padding (5), and with constant B and C.
    using two_lanes = s6scan::default_config_16_rows96x2<InT>;
    for (int64_t dstate : {13, 5}) {
      problem<InT, OutT> p(2, 2 * 70, seqlen, dstate, 2, all, rng);
      run_case(p, config_launch<two_lanes, InT, OutT>, true);
    }
    {
      options bc = all;
      bc.B_const = bc.C_const = true;
      problem<InT, OutT> p(2, 70, seqlen, 16, 1, bc, rng);
      run_case(p, config_launch<two_lanes, InT, OutT>, true);
    }
    {  // dstate above 256, bounded by shared memory only: 32 lanes of 16 states. float tiles
       // are twice as large, so float takes shorter ones to fit the H200's 227 KiB.
      using big = std::conditional_t<sizeof(InT) == 4, forward_config<512, 8, 8>, forward_config<512, 16, 16>>;
      for (int64_t dstate : {300, 512}) {
        problem<InT, OutT> p(1, 20, seqlen, dstate, 1, all, rng);
        run_case(p, config_launch<big, InT, OutT>, seqlen == 300);
      }
    }
  }
}

// Whether Config's shared memory for p fits this device. Where it does not (float32 at 192 rows
// and TimeTile 32 with z: 236,096 bytes, over the H200's 232,448), the launcher refuses it.
template <class Config, class InT, class OutT>
bool fits_device(const problem<InT, OutT>& p) {
  int device = 0, optin = 0;
  CUDA_REQUIRE(cudaGetDevice(&device));
  CUDA_REQUIRE(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return s6scan::detail::forward_smem_bytes(p.args, s6scan::shape_of<Config>()) <= optin;
}

// Every configuration of the tuning table (tuning.hpp), launched explicitly: the default-set tests
// above reach only the rows their small shapes select. Channel counts leave a group's last block
// partly empty; dstate below MaxDState leaves padded states. Two batches of two groups each: B and
// C are shared by a group, so with a single group one badly cancelling dot product C.B at
// seqlen 1 would set the relative error of every channel.
TEMPLATE_TEST_CASE("forward: every configuration of the tuning table", "[gpu][forward]",
                   S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 6);
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (int64_t seqlen : {1, 33, 64, 300}) {
    for (const options& o : {all, options{}}) {
      for (int64_t dstate : {5, 16}) {
        problem<InT, OutT> p(2, 2 * 40, seqlen, dstate, 2, o, rng);
        run_case(p, config_launch<s6scan::default_config_16, InT, OutT>, true);
      }
      {
        problem<InT, OutT> p(2, 4 * 100, seqlen, 1, 4, o, rng);
        run_case(p, config_launch<s6scan::default_config_1, InT, OutT>, true);
      }
      // Threads reading their channels' raw rows at dstate <= 16: 64, 96 and 128 rows of 2 lanes,
      // 40 channels past a block; dstate 7 leaves the second lanes all padding. At dstate 16
      // (seqlen 33, 300) a block's whole tiles take load_whole and its last tile load_rows.
      const int64_t d16 = seqlen == 1 || seqlen == 64 ? 7 : 16;
      {
        problem<InT, OutT> p(2, 2 * (64 + 40), seqlen, d16, 2, o, rng);
        run_case(p, config_launch<s6scan::default_config_16_rows64x2<InT>, InT, OutT>, true);
      }
      {
        problem<InT, OutT> p(2, 2 * (96 + 40), seqlen, d16, 2, o, rng);
        run_case(p, config_launch<s6scan::default_config_16_rows96x2<InT>, InT, OutT>, true);
      }
      {
        problem<InT, OutT> p(2, 2 * (128 + 40), seqlen, d16, 2, o, rng);
        run_case(p, config_launch<s6scan::default_config_16_rows128x2<InT>, InT, OutT>, true);
      }
      for (int64_t dstate : {17, 64}) {
        problem<InT, OutT> p(2, 100, seqlen, dstate, 1, o, rng);
        run_case(p, config_launch<s6scan::default_config_64, InT, OutT>, true);
      }
      for (int64_t dstate : {100, 128}) {
        problem<InT, OutT> p(2, 2 * 40, seqlen, dstate, 2, o, rng);
        run_case(p, config_launch<s6scan::default_config_128, InT, OutT>, true);
      }
    }
  }
}

// The time-parallel kernel (forward_time_config): lanes' runs of 8 or 16 steps and passes of
// 32 runs cut at every seqlen around them, the sequence ending inside a run, a chunk and a pass;
// dstate odd and even (the state loop takes two states a turn), on both sides of the checkpoint
// interval's change (16, 17) and up to 256; channels that leave a block's last warps idle (dim
// per group not a multiple of 4); every option, constant B/C, with and without saved states.
// Rows not 16-byte aligned (odd seqlen, pad) take the shifted whole passes up to 4 steps before
// the end (260: one such pass that reads up to the last step), the general pass after.
TEMPLATE_TEST_CASE("forward: time-parallel warps over runs, passes and states",
                   "[gpu][forward][time-parallel]", S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  using eight = s6scan::default_time_config;
  using sixteen = s6scan::forward_time_config<64, 2, 16>;
  std::mt19937_64 rng(s6test::test_seed() + 13);
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  int k = 0;
  for (int64_t seqlen : {1, 7, 8, 9, 255, 256, 257, 260, 511, 513, 1000}) {
    for (int64_t dstate : {1, 5, 16, 17, 33, 64}) {
      options o = k % 3 == 0 ? all : random_options(rng);
      if (k % 5 == 1) o.B_const = true;
      if (k % 7 == 2) o.C_const = true;
      if (k % 4 == 3) o.pad = 1 + k % 3;
      const int64_t groups = std::array<int64_t, 3>{1, 2, 3}[k % 3];
      problem<InT, OutT> p(2, groups * (k % 2 ? 7 : 9), seqlen, dstate, groups, o, rng);
      if (k % 2)
        run_case(p, config_launch<eight, InT, OutT>, k % 4 != 1);
      else
        run_case(p, config_launch<sixteen, InT, OutT>, k % 4 != 0);
      ++k;
    }
  }
  for (int64_t dstate : {100, 256}) {  // the default set's largest dstate
    problem<InT, OutT> p(1, 6, 300, dstate, 2, all, rng);
    run_case(p, config_launch<eight, InT, OutT>, true);
  }
}

template <class Config, int Segments, class InT, class OutT>
s6scan::status segmented_launch(const forward_args<InT, OutT>& a, void* ws, size_t bytes) {
  return s6scan::detail::forward_segmented<Config>(s6test::with_saved_states(a, ws, bytes), {},
                                                   nullptr, Segments);
}

// Time split across blocks (forward_time_segments): one batch of few channels, so the default
// set splits on its own; then explicit segment counts on both scan paths (one lane per channel,
// and several), including a short last segment and more segments than the sequence allows.
// run_case checks every saved state, h0 through the segments, and the last state.
TEMPLATE_TEST_CASE("forward: time split across blocks", "[gpu][forward]", S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 7);
  const int sms = s6test::multiprocessors();
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (const options& o : {all, options{}}) {
    for (int64_t seqlen : {256, 600, 64 * 13 + 5}) {
      for (int64_t dstate : {40, 64}) {  // above the time-parallel kernel's dstate
        problem<InT, OutT> p(1, 24, seqlen, dstate, 2, o, rng);
        REQUIRE(s6scan::forward_time_segments(2, 128, seqlen, sms) > 1);  // at most 2 blocks: split
        run_case(p, default_launch<InT, OutT>, true);
      }
      {  // one lane per channel (dstate 1 this narrow takes the time-parallel kernel by default)
        problem<InT, OutT> p(1, 24, seqlen, 1, 2, o, rng);
        run_case(p, segmented_launch<s6scan::default_config_1, 3, InT, OutT>, true);
      }
      {
        problem<InT, OutT> p(1, 128 + 40, seqlen, 13, 1, o, rng);
        run_case(p, segmented_launch<s6scan::default_config_16_rows128x2<InT>, 3, InT, OutT>, true);
      }
      {  // the 128-row row's 64-row stand-in, split as the long sequence is
        problem<InT, OutT> p(1, 64 + 40, seqlen, 16, 1, o, rng);
        run_case(p, segmented_launch<s6scan::default_config_16_rows64x2<InT>, 3, InT, OutT>, true);
      }
      {
        problem<InT, OutT> p(2, 40, seqlen, 7, 4, o, rng);
        run_case(p, segmented_launch<forward_config<8, 32, 8, 2>, 2, InT, OutT>, true);
      }
      {
        problem<InT, OutT> p(1, 70, seqlen, 60, 1, o, rng);
        run_case(p, segmented_launch<s6scan::default_config_64, 100, InT, OutT>, true);
      }
    }
  }
}

// Without saved states a scratch workspace of forward_workspace_size bytes lets the default set
// split time as it does with them; too small a scratch is refused, and a call that does not
// split needs none.
TEMPLATE_TEST_CASE("forward: a scratch workspace splits time without saved states", "[gpu][forward]",
                   S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 11);
  for (int64_t seqlen : {600, 64 * 13 + 5}) {
    for (int64_t dstate : {40, 64}) {  // above the time-parallel kernel's dstate
      problem<InT, OutT> p(1, 24, seqlen, dstate, 2, random_options(rng), rng);
      size_t bytes = 0;
      const auto q = s6scan::forward_workspace_size(p.args, &bytes);
      INFO(q.message);
      REQUIRE(q.ok());
      REQUIRE(bytes == s6test::saved_states_bytes(p.args));
      device_ptr scratch = device_alloc(bytes);
      CUDA_REQUIRE(cudaMemset(scratch.get(), 0xFF, bytes));
      const auto with_scratch = [&](const forward_args<InT, OutT>& a, void*, size_t) {
        return s6scan::forward(a, {scratch.get(), bytes});
      };
      run_case(p, with_scratch, false);
      if (!s6test::in_shard(0)) continue;
      device_problem<InT, OutT> d(p);
      const auto s = s6scan::forward(d.args, {scratch.get(), bytes - 4});
      REQUIRE(s.code == s6scan::status_code::workspace_too_small);
    }
  }
  problem<InT, OutT> wide(4, 1024, 64, 16, 1, options{}, rng);  // many channels, short: no split
  size_t bytes = 1;
  REQUIRE(s6scan::forward_workspace_size(wide.args, &bytes).ok());
  REQUIRE(bytes == 0);
  problem<InT, OutT> narrow(1, 24, 600, 4, 2, options{}, rng);  // parallel in time: no scratch
  bytes = 1;
  REQUIRE(s6scan::forward_workspace_size(narrow.args, &bytes).ok());
  REQUIRE(bytes == 0);
}

// The default set on both sides of every bound of the time-parallel row (forward_time_parallel):
// channels (batch x dim) per SM, seqlen from one pass to the longest, dstate, and float32's
// shortest sequence above dstate 8; each side checked against the reference, with saved states
// and without.
TEMPLATE_TEST_CASE("forward: the default set on both sides of the time-parallel bounds",
                   "[gpu][forward][time-parallel]", S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 17);
  const int sms = s6test::multiprocessors();
  const int64_t few = s6scan::kTimeParallelChannelsPerSM * sms;
  const bool wide = sizeof(InT) >= 4;  // float32 inputs above dstate 8 need longer sequences
  struct side {
    int64_t batch, dim, seqlen, dstate;
    bool time_parallel;
  };
  const side sides[] = {
      {1, few - 1, 256, 8, true},       {1, few, 256, 8, false},
      {2, 24, s6scan::kTimeParallelMinSeqlen, 5, true},
      {2, 24, s6scan::kTimeParallelMinSeqlen - 1, 5, false},
      {2, 24, s6scan::kTimeParallelMaxSeqlen, 1, true},
      {2, 24, s6scan::kTimeParallelMaxSeqlen + 1, 1, false},
      {2, 24, 300, s6scan::kTimeParallelMaxDState, !wide},
      {2, 24, 300, s6scan::kTimeParallelMaxDState + 1, false},
      {2, 24, 300, s6scan::kTimeParallelWideDState, true},
      {2, 24, s6scan::kTimeParallelWideMinSeqlen, s6scan::kTimeParallelMaxDState, true},
      {2, 24, s6scan::kTimeParallelWideMinSeqlen - 1, s6scan::kTimeParallelWideDState + 1, !wide},
  };
  int k = 0;
  for (const side& c : sides) {
    REQUIRE(s6scan::forward_time_parallel(c.batch, c.dim, c.seqlen, c.dstate, sms,
                                          int(sizeof(InT))) == c.time_parallel);
    problem<InT, OutT> p(c.batch, c.dim, c.seqlen, c.dstate, c.dim % 2 ? 1 : 2, random_options(rng), rng);
    run_case(p, default_launch<InT, OutT>, k++ % 2 == 0);
  }
}

// Rows that are not 16-byte aligned load in small pieces (small_piece_bytes; the output is stored
// element by element): 8 bytes in 16-bit types (seqlen 12, 196), 4 bytes in float32 (262, 98, 49:
// VMamba stage 4); element by element in 16-bit types at 98 and 49.
// Both scan paths: threads reading their channels' raw rows (dstate 1; 128 rows of 2 lanes and,
// outside the default set, 192 of one at dstate 16) and four lanes or more.
TEMPLATE_TEST_CASE("forward: rows aligned to 8 or 4 bytes but not 16", "[gpu][forward]",
                   S6SCAN_TYPE_PAIRS) {
  using InT = typename TestType::first_type;
  using OutT = typename TestType::second_type;
  std::mt19937_64 rng(s6test::test_seed() + 8);
  options all;
  all.z = all.D = all.bias = all.softplus = all.h0 = all.last = true;
  for (const options& o : {all, options{}})
    for (int64_t seqlen : {12, 196, 262, 98, 49}) {
      for (int64_t dstate : {1, 16, 64}) {
        problem<InT, OutT> p(2, 40, seqlen, dstate, 2, o, rng);
        run_case(p, default_launch<InT, OutT>, true);
      }
      problem<InT, OutT> p(1, 128 + 40, seqlen, 16, 1, o, rng);
      run_case(p, config_launch<s6scan::default_config_16_rows128x2<InT>, InT, OutT>, false);
      problem<InT, OutT> q(1, 192 + 40, seqlen, 16, 1, o, rng);
      using one_lane = forward_config<16, 192, 32, 16>;
      if (fits_device<one_lane>(q)) run_case(q, config_launch<one_lane, InT, OutT>, false);
    }
}

// The configuration the default set picks for `a` on this device: {rows, TimeTile}.
template <class InT>
std::array<int, 2> default_pick(const s6scan::forward_args<InT>& a) {
  std::array<int, 2> picked{0, 0};
  const s6scan::status s = s6scan::detail::with_default_config(a, {}, [&](auto cfg) {
    picked = {decltype(cfg)::kRows, decltype(cfg)::kTimeTile};
    return s6scan::forward_can_implement<decltype(cfg)>(a);
  });
  INFO(s.message);
  REQUIRE(s.ok());
  return picked;
}

template <class InT>
s6scan::forward_args<InT> stand_in_args(int64_t batch, int64_t dim, int64_t seqlen,
                                        int64_t groups, bool z) {
  s6scan::forward_args<InT> a;
  a.batch = batch; a.dim = dim; a.seqlen = seqlen; a.dstate = 16; a.groups = groups;
  a.set_contiguous_strides();
  const auto stand_in = reinterpret_cast<InT*>(uintptr_t(256));
  a.u.data = a.delta.data = a.B.data = a.C.data = a.out.data = stand_in;
  a.A.data = reinterpret_cast<const float*>(stand_in);
  if (z) a.z.data = stand_in;
  return a;
}

TEST_CASE("forward: the default set's dstate-16 rows by input type", "[gpu][forward]") {
  // The rows that read their own channels' raw rows take TimeTile 16 in float32 and 32 in 16-bit
  // types (kOwnRowsTimeTile), and run only where two blocks fit a multiprocessor, else 32 x 4.
  // lm (4096 channels, seqlen 2048) takes the 128-row row, which runs 64 rows of 2 lanes where
  // four of those blocks fit a multiprocessor (on the H200 all but 16-bit inputs with z: 61,984
  // bytes) and 128 rows otherwise; VMamba stage 1 (192 channels per group) 64, and 96 where a
  // group has 96 x an odd count of channels. The float32 blocks with z fit twice on the H200
  // (91,168 and 70,432 bytes; at TimeTile 32 they took 163,872 and 126,752). Nothing is launched.
  int device = 0;
  CUDA_REQUIRE(cudaGetDevice(&device));
  s6scan::device_limits limits;
  REQUIRE(s6scan::detail::current_device_limits(&limits, &device).ok());
  const auto expect = [&](auto a, int rows) {
    using InT = std::remove_cv_t<std::remove_pointer_t<decltype(a.u.data)>>;
    const int tile = sizeof(InT) >= 4 ? 16 : 32;
    const auto k = rows == 128  ? s6scan::shape_of<s6scan::default_config_16_rows128x2<InT>>()
                   : rows == 96 ? s6scan::shape_of<s6scan::default_config_16_rows96x2<InT>>()
                                : s6scan::shape_of<s6scan::default_config_16_rows64x2<InT>>();
    const int64_t bytes = s6scan::detail::forward_smem_bytes(a, k);
    const bool twice = bytes <= limits.max_shared_memory_per_block_optin &&
                       s6scan::two_blocks_fit(bytes, limits);
    if (limits.max_shared_memory_per_multiprocessor >= 233472) CHECK(twice);  // the H200's
    const std::array<int, 2> want = twice ? std::array<int, 2>{rows, tile}
                                          : std::array<int, 2>{32, 32};
    CHECK(default_pick(a) == want);
  };
  // The 128-row row: 64 rows where four 64-row blocks fit, and on the H200 exactly where the
  // input is float32 or there is no z.
  const auto expect_wide = [&](auto a, bool four_on_h200) {
    using InT = std::remove_cv_t<std::remove_pointer_t<decltype(a.u.data)>>;
    const int64_t narrow = s6scan::detail::forward_smem_bytes(
        a, s6scan::shape_of<s6scan::default_config_16_rows64x2<InT>>());
    const bool four = narrow <= limits.max_shared_memory_per_block_optin &&
                      s6scan::blocks_fit(4, narrow, limits);
    if (limits.max_shared_memory_per_multiprocessor == 233472) CHECK(four == four_on_h200);
    if (four)
      CHECK(default_pick(a) == std::array<int, 2>{64, sizeof(InT) >= 4 ? 16 : 32});
    else
      expect(a, 128);
  };
  for (bool z : {false, true}) {
    expect_wide(stand_in_args<float>(8, 4096, 2048, 1, z), true);
    expect_wide(stand_in_args<__nv_bfloat16>(8, 4096, 2048, 1, z), !z);
    expect(stand_in_args<float>(64, 768, 3136, 4, z), 64);
    expect(stand_in_args<__nv_bfloat16>(64, 768, 3136, 4, z), 64);
    expect(stand_in_args<float>(64, 4 * 96 * 3, 3136, 4, z), 96);
    expect(stand_in_args<__nv_bfloat16>(64, 4 * 96 * 3, 3136, 4, z), 96);
  }
}

TEST_CASE("forward: dim above 65535", "[gpu][forward]") {
  std::mt19937_64 rng(s6test::test_seed() + 3);
  options o;
  o.D = o.softplus = o.bias = o.last = true;
  problem<bf16, bf16> p(1, 70000, 40, 16, 2, o, rng);
  run_case(p, default_launch<bf16, bf16>, false);
}

TEST_CASE("forward: the same call twice gives the same bits", "[gpu][forward]") {
  if (!s6test::in_shard(0)) return;
  std::mt19937_64 rng(s6test::test_seed() + 4);
  options o;
  o.z = o.D = o.softplus = o.last = true;
  problem<bf16, float> p(2, 64, 700, 16, 4, o, rng);
  device_problem<bf16, float> d(p);
  std::vector<float> first(p.out.size()), second(p.out.size());
  for (auto* dst : {&first, &second}) {
    d.poison();
    REQUIRE(s6scan::forward(d.args).ok());
    CUDA_REQUIRE(cudaMemcpy(dst->data(), d.args.out.data, d.out_bytes, cudaMemcpyDeviceToHost));
  }
  REQUIRE(std::memcmp(first.data(), second.data(), d.out_bytes) == 0);
}

TEST_CASE("forward: refusals launch nothing", "[gpu][forward]") {
  if (!s6test::in_shard(0)) return;
  std::mt19937_64 rng(s6test::test_seed() + 5);
  problem<float, float> p(1, 8, 16, 300, 1, {}, rng);
  device_problem<float, float> d(p);
  d.poison();
  auto s = s6scan::forward(d.args);
  REQUIRE(s.code == s6scan::status_code::unsupported_dstate);
  REQUIRE(std::strstr(s.message, "dstate 300 exceeds 256"));
  s = s6scan::forward<forward_config<16, 64>>(d.args);
  REQUIRE(s.code == s6scan::status_code::unsupported_dstate);
  REQUIRE(std::strstr(s.message, "dstate 300 exceeds MaxDState 16"));
  auto small = device_alloc(16);
  s = s6scan::forward<forward_config<512, 16, 16>>(s6test::with_saved_states(d.args, small.get(), 16));
  REQUIRE(s.code == s6scan::status_code::workspace_too_small);
  CUDA_REQUIRE(cudaDeviceSynchronize());
  d.download(p);
  for (float x : p.out) REQUIRE(all_ones(x));
  // can_implement agrees with the launcher and reads the real device.
  REQUIRE(s6scan::forward_can_implement<forward_config<512, 16, 16>>(d.args).ok());
  REQUIRE(!s6scan::forward_can_implement(d.args).ok());
}

// ---- more than 2^32 elements: inputs made on the device from a hash, checked on a few channels

TEST_CASE("forward: more than 2^32 elements", "[gpu][forward][large]") {
  if (!s6test::in_shard(0)) return;
  const int64_t dim = int64_t(1) << 17, L = 32769;
  REQUIRE(dim * L > (int64_t(1) << 32));
  const uint64_t seed = s6test::test_seed();
  INFO("seed " << seed);
  s6test::large_problem lp(dim, L, seed);
  const auto s = s6scan::forward(lp.args);
  INFO(s.message);
  REQUIRE(s.ok());
  CUDA_REQUIRE(cudaDeviceSynchronize());

  // The first channel, the middle, and the last three, whose offsets lie past 2^32.
  for (int64_t d : {int64_t(0), dim / 2, dim - 3, dim - 2, dim - 1}) {
    CAPTURE(d, d * L);
    std::vector<bf16> hout(L);
    CUDA_REQUIRE(cudaMemcpy(hout.data(), lp.args.out.data + d * L, L * sizeof(bf16), cudaMemcpyDeviceToHost));
    const auto c = lp.host_channel(d, hout.data());
    const auto e = s6test::compare_forward(c.args, hout.data(), nullptr);
    std::printf("error bfloat16 >2^32 elements channel=%lld y=%.3e bound=%.3e\n", (long long)d, e.y, e.y_bound);
    REQUIRE(e.y <= e.y_bound);
  }
}
