// SPDX-License-Identifier: MIT
// The launcher's checks against simulated devices: each refusal, its code and the numbers in its
// message. Host-only: the checks never touch a device.

#include <s6scan/checks.hpp>
#include <s6scan/default_set.hpp>
#include <s6scan/numeric.hpp>
#include <s6scan/tuning.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "catch.hpp"

using s6scan::device_limits;
using s6scan::forward_config;
using s6scan::kernel_shape;
using s6scan::shape_of;
using s6scan::status_code;

namespace {

// Arguments with plausible (never dereferenced) device pointers.
struct fake_args {
  alignas(16) static inline char arena[1 << 12];
  s6scan::forward_args<__nv_bfloat16> a;

  fake_args(int64_t batch, int64_t dim, int64_t seqlen, int64_t dstate, int64_t groups = 1) {
    a.batch = batch; a.dim = dim; a.seqlen = seqlen; a.dstate = dstate; a.groups = groups;
    a.set_contiguous_strides();
    auto bf = reinterpret_cast<const __nv_bfloat16*>(arena);
    auto f = reinterpret_cast<const float*>(arena);
    a.u.data = bf; a.delta.data = bf; a.B.data = bf; a.C.data = bf; a.A.data = f;
    a.out.data = reinterpret_cast<__nv_bfloat16*>(arena);
  }
};

bool has(const s6scan::status& s, const std::string& text) {
  return std::string(s.message).find(text) != std::string::npos;
}

const device_limits k48 = device_limits::with_shared_memory(48 * 1024);
const device_limits kA100 = device_limits::a100();
const device_limits kH100 = device_limits::h100();

}  // namespace

TEST_CASE("checks: a valid call passes on every simulated device", "[checks]") {
  fake_args f(8, 4096, 2048, 16);
  for (const auto& d : {k48, kA100, kH100})
    REQUIRE(s6scan::check_forward(f.a, shape_of<forward_config<16, 32>>(), d).ok());
  // 64 channels of 16 states at TimeTile 32 take 49,728 bytes with the tile of the states saved
  // every 16 steps (9,216 of them): more than 48 KiB.
  REQUIRE(s6scan::check_forward(f.a, shape_of<forward_config<16, 64>>(), kA100).ok());
  REQUIRE(s6scan::check_forward(f.a, shape_of<forward_config<16, 64>>(), k48).code ==
          status_code::insufficient_shared_memory);
}

TEST_CASE("checks: dstate above MaxDState names both numbers and the way out", "[checks]") {
  fake_args f(1, 64, 128, 300);
  const auto s = s6scan::check_forward(f.a, shape_of<forward_config<256, 16, 16>>(), kH100);
  REQUIRE(s.code == status_code::unsupported_dstate);
  CAPTURE(s.message);
  REQUIRE(has(s, "dstate 300 exceeds MaxDState 256"));
  REQUIRE(has(s, "forward_config"));
  REQUIRE(has(s, ">= 300"));
}

TEST_CASE("checks: shared memory follows the runtime dstate and the device's limit", "[checks]") {
  using big = forward_config<512, 16, 16>;
  const auto k = shape_of<big>();
  fake_args small(1, 64, 128, 16), large(1, 64, 128, 512);
  const int64_t need_small = s6scan::detail::forward_smem_bytes(small.a, k);
  const int64_t need_large = s6scan::detail::forward_smem_bytes(large.a, k);
  CAPTURE(need_small, need_large);
  // The same instantiation asks for less at a small dstate: the size is not MaxDState's.
  REQUIRE(need_small < 48 * 1024);
  REQUIRE(need_large > 166912);
  REQUIRE(need_large <= 232448);
  REQUIRE(s6scan::check_forward(small.a, k, k48).ok());
  REQUIRE(s6scan::check_forward(large.a, k, kH100).ok());
  for (const auto& d : {k48, kA100}) {
    const auto s = s6scan::check_forward(large.a, k, d);
    REQUIRE(s.code == status_code::insufficient_shared_memory);
    CAPTURE(s.message);
    REQUIRE(has(s, "needs " + std::to_string(need_large) + " bytes"));
    REQUIRE(has(s, "allows " + std::to_string(d.max_shared_memory_per_block_optin)));
  }
}

TEST_CASE("checks: sizes", "[checks]") {
  const auto k = shape_of<forward_config<16, 64>>();
  struct bad { int64_t b, d, l, n, g; const char* text; };
  for (const auto& c : {bad{0, 8, 8, 4, 1, "batch must be positive, got 0"},
                        bad{1, -8, 8, 4, 1, "dim must be positive, got -8"},
                        bad{1, 8, 0, 4, 1, "seqlen must be positive, got 0"},
                        bad{1, 8, 8, 0, 1, "dstate must be positive, got 0"},
                        bad{1, 8, 8, 4, 0, "groups must be positive, got 0"},
                        bad{1, 10, 8, 4, 4, "dim 10 is not divisible by groups 4"},
                        bad{int64_t(1) << 40, int64_t(1) << 20, int64_t(1) << 10, 4, 1, "overflows 64 bits"}}) {
    fake_args f(c.b, c.d, c.l, c.n, c.g);
    const auto s = s6scan::check_forward(f.a, k, kH100);
    CAPTURE(c.text, s.message);
    REQUIRE(s.code == status_code::invalid_argument);
    REQUIRE(has(s, c.text));
  }
}

TEST_CASE("checks: pointers, strides and alignment", "[checks]") {
  const auto k = shape_of<forward_config<16, 64>>();
  fake_args f(2, 64, 100, 16);
  auto expect = [&](const s6scan::forward_args<__nv_bfloat16>& a, const char* text) {
    const auto s = s6scan::check_forward(a, k, kH100);
    CAPTURE(text, s.message);
    REQUIRE(s.code == status_code::invalid_argument);
    REQUIRE(has(s, text));
  };
  auto a = f.a; a.u.data = nullptr; expect(a, "u is null");
  a = f.a; a.delta.data = nullptr; expect(a, "delta is null");
  a = f.a; a.A.data = nullptr; expect(a, "A is null");
  a = f.a; a.out.data = nullptr; expect(a, "out is null");
  a = f.a; a.B.data = nullptr; expect(a, "B is null (pass B or B_const)");
  a = f.a; a.C_const.data = a.A.data; expect(a, "both C and C_const are set");
  a = f.a; a.delta.seq_stride = 2; expect(a, "delta has last-dimension stride 2");
  a = f.a; a.A.state_stride = 0; expect(a, "A has last-dimension stride 0");
  a = f.a; a.D.data = a.A.data; a.D.stride = 3; expect(a, "D has last-dimension stride 3");
  a = f.a; a.u.data = reinterpret_cast<const __nv_bfloat16*>(fake_args::arena + 1); expect(a, "u at");
  a = f.a; a.last_state.data = reinterpret_cast<float*>(fake_args::arena + 2); expect(a, "last_state at");
  // Free strides are free: huge and broadcast (zero) ones pass for inputs.
  a = f.a; a.B.batch_stride = 0; a.delta.dim_stride = int64_t(1) << 40;
  REQUIRE(s6scan::check_forward(a, k, kH100).ok());
  a = f.a; a.u.batch_stride = -5; expect(a, "u's batch_stride is -5; strides must be 0 or positive");
}

TEST_CASE("checks: 64-bit sizes pass; only the grid limits them", "[checks]") {
  const auto k = shape_of<forward_config<16, 64>>();
  SECTION("dim above 65535") {
    fake_args f(1, 70000, 40, 16, 2);
    REQUIRE(s6scan::check_forward(f.a, k, kH100).ok());
  }
  SECTION("more than 2^32 elements") {
    fake_args f(1, 1 << 17, 32769, 1);
    REQUIRE(f.a.batch * f.a.dim * f.a.seqlen > (int64_t(1) << 32));
    REQUIRE(s6scan::check_forward(f.a, shape_of<forward_config<1, 128>>(), kH100).ok());
  }
  SECTION("a grid over the device's limit") {
    auto d = kH100;
    d.max_grid_x = 1000;
    fake_args f(64, 4096, 16, 16);  // 64 * 4096 / 64 = 4096 blocks
    const auto s = s6scan::check_forward(f.a, k, d);
    REQUIRE(s.code == status_code::grid_too_large);
    CAPTURE(s.message);
    REQUIRE(has(s, "needs 4096 blocks"));
    REQUIRE(has(s, "holds 1000"));
  }
}

TEST_CASE("checks: seqlen beyond the kernels' 32-bit step counters", "[checks]") {
  const auto k = shape_of<forward_config<16, 64>>();
  fake_args ok(1, 1, (int64_t(1) << 31) - 1024, 16), too_long(1, 1, int64_t(1) << 31, 16);
  REQUIRE(s6scan::check_forward(ok.a, k, kH100).ok());
  const auto s = s6scan::check_forward(too_long.a, k, kH100);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "seqlen 2147483648 exceeds 2147482624"));
}

TEST_CASE("checks: workspace", "[checks]") {
  // A state every 16 steps up to dstate 16, every 64 above.
  static_assert(s6scan::checkpoint_steps(1) == 16 && s6scan::checkpoint_steps(16) == 16 &&
                s6scan::checkpoint_steps(17) == 64 && s6scan::checkpoint_steps(256) == 64);
  // A time split's spans: 64 steps, whole chunks at every dstate.
  static_assert(s6scan::checkpoint_spans(1) == 1 && s6scan::checkpoint_spans(64) == 1 &&
                s6scan::checkpoint_spans(65) == 2 && s6scan::checkpoint_spans(600) == 10);
  static_assert(s6scan::kMaxCheckpointSteps % s6scan::checkpoint_steps(1) == 0 &&
                s6scan::kMaxCheckpointSteps % s6scan::checkpoint_steps(256) == 0);
  const auto size = [](const fake_args& f) {
    size_t bytes = 1;
    REQUIRE(s6scan::saved_states_size(f.a, &bytes).ok());
    return bytes;
  };
  fake_args f(2, 3, 600, 17);  // 10 chunks of 64 steps, the last one partial
  REQUIRE(size(f) == size_t(2 * 3 * 10 * 17 * sizeof(float)));
  fake_args small(2, 3, 600, 16);  // 38 chunks of 16 steps
  REQUIRE(size(small) == size_t(2 * 3 * 38 * 16 * sizeof(float)));
  fake_args one(1, 1, 16, 1), two(1, 1, 17, 1);
  REQUIRE(size(one) == sizeof(float));
  REQUIRE(size(two) == 2 * sizeof(float));
  REQUIRE(s6scan::check_saved_states(f.a).ok());  // none
  std::vector<float> ws(1020);
  f.a.saved_states = {ws.data(), 4080};
  REQUIRE(s6scan::check_saved_states(f.a).ok());
  f.a.saved_states = {ws.data(), 4076};
  auto s = s6scan::check_saved_states(f.a);
  REQUIRE(s.code == status_code::workspace_too_small);
  CAPTURE(s.message);
  REQUIRE(has(s, "saved_states holds 4076 bytes but this call needs 4080 (saved_states_size)"));
  REQUIRE(s6scan::check_forward(f.a, shape_of<forward_config<64, 32>>(), kH100).code ==
          status_code::workspace_too_small);
  f.a.saved_states = {nullptr, 4080};
  s = s6scan::check_saved_states(f.a);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "saved_states is null but says it holds 4080 bytes"));
  f.a.saved_states = {reinterpret_cast<char*>(ws.data()) + 2, 4080};
  REQUIRE(has(s6scan::check_saved_states(f.a), "not 4-byte aligned"));
  // A failed query says so, and reports no size.
  fake_args bad(0, 3, 600, 16);
  size_t bytes = 7;
  REQUIRE(s6scan::saved_states_size(bad.a, &bytes).code == status_code::invalid_argument);
  REQUIRE(bytes == 0);
}

namespace {

// A backward call over fake_args with every required gradient set.
struct fake_backward {
  fake_args f;
  s6scan::backward_args<__nv_bfloat16> g;

  fake_backward(int64_t batch, int64_t dim, int64_t seqlen, int64_t dstate, int64_t groups = 1)
      : f(batch, dim, seqlen, dstate, groups) {
    size_t bytes = 0;
    REQUIRE(s6scan::saved_states_size(f.a, &bytes).ok());
    f.a.saved_states = {fake_args::arena, bytes};
    g = s6scan::backward_args<__nv_bfloat16>::of(f.a);
    auto bf = reinterpret_cast<__nv_bfloat16*>(fake_args::arena);
    auto fl = reinterpret_cast<float*>(fake_args::arena);
    g.dout.data = bf;
    g.du.data = bf; g.ddelta.data = bf; g.dB.data = bf; g.dC.data = bf; g.dA.data = fl;
  }
};

}  // namespace

TEST_CASE("checks: backward gradients present exactly when the forward had their tensor",
          "[checks]") {
  using s6scan::backward_config;
  const auto k = shape_of<backward_config<16, 32>>();
  fake_backward b(2, 64, 100, 16);
  REQUIRE(s6scan::check_backward(b.g, k, kH100).ok());
  auto expect = [&](const s6scan::backward_args<__nv_bfloat16>& g, const char* text) {
    const auto s = s6scan::check_backward(g, k, kH100);
    CAPTURE(s.message);
    REQUIRE(s.code == status_code::invalid_argument);
    REQUIRE(has(s, text));
  };
  auto g = b.g;
  g.du.data = nullptr;
  expect(g, "du is null");
  g = b.g;
  g.dout.data = nullptr;
  expect(g, "dout is null");
  g = b.g;
  g.fwd.z.data = b.f.a.u.data;
  expect(g, "dz is null but the forward had z");
  g = b.g;
  g.dB_const.data = g.dA.data;
  expect(g, "dB_const is set but the forward had no B_const");
  g = b.g;
  g.dinitial_state.data = g.dA.data;
  expect(g, "dinitial_state is set but the forward had no initial_state");
  g = b.g;
  g.ddelta.seq_stride = 2;
  expect(g, "ddelta has last-dimension stride 2");
  g = b.g;
  g.fwd.D.data = g.fwd.A.data;  // dD stays optional
  REQUIRE(s6scan::check_backward(g, k, kH100).ok());
}

TEST_CASE("checks: backward shared memory from the runtime dstate", "[checks]") {
  using s6scan::backward_config;
  const auto k = shape_of<backward_config<256, 4, 8, 8>>();
  fake_backward small(2, 64, 100, 16), large(2, 64, 100, 256);
  REQUIRE(s6scan::check_backward(small.g, k, k48).ok());
  REQUIRE(s6scan::check_backward(large.g, k, kH100).ok());
  const auto s = s6scan::check_backward(large.g, k, k48);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::insufficient_shared_memory);
  REQUIRE(has(s, "the backward needs"));
  REQUIRE(has(s, "dstate 256, NRows 4, TimeTile 8) but the device allows 49152"));
  // dstate above MaxDState is refused before any resource check.
  fake_backward too_big(2, 64, 100, 300);
  const auto refused = s6scan::check_backward(too_big.g, k, kH100);
  CAPTURE(refused.message);
  REQUIRE(refused.code == status_code::unsupported_dstate);
}

TEST_CASE("checks: backward workspace", "[checks]") {
  using s6scan::backward_config;
  const auto k = shape_of<backward_config<16, 8, 8, 4>>();  // 8 rows: one block per group here
  const auto ws_size = [](const auto& g, const kernel_shape& shape) {
    size_t bytes = 1;
    const auto st = s6scan::backward_workspace_size(g, shape, &bytes);
    CAPTURE(st.message);
    REQUIRE(st.ok());
    return bytes;
  };
  fake_backward b(2, 8, 600, 5, 2);  // 38 chunks of 16 steps (checkpoint_steps(5))
  // 4 blocks, so room for kBackwardMaxSegments = 32 time segments: the carry (2*8*5 = 80 floats),
  // the segments' end adjoints (32 x 80) and decays (31 x 80), dA (32 x 80), dD and ddelta_bias
  // (32 x 16 each), and the dB and dC block partials for the whole sequence: 2 batches x 2 groups
  // x 1 block x 5 states x 608 steps.
  REQUIRE(ws_size(b.g, k) ==
          size_t(80 + 2560 + 2480 + 2560 + 512 + 512 + 2 * 12160) * 4);
  // Blocks of kBackwardSplitBelowThreadsPerSM x kBackwardSplitMaxSMs threads or more (2048 of
  // 32) never split: no per-segment parts.
  fake_backward wide(2, 8 * 1024, 600, 5, 2);
  const int64_t bdn = 2 * 8192 * 5, bd = 2 * 8192, parts = 2 * 2 * 512 * 5 * 608;
  REQUIRE(ws_size(wide.g, k) == size_t(bdn + bdn + bd + bd + 2 * parts) * 4);
  // Half that many: room for the segments a 256-SM device would take (backward_segment_room):
  // 1024 threads per SM there, 8 segments, and one more for the rounding of the segment count.
  fake_backward mid(2, 8 * 512, 600, 5, 2);
  REQUIRE(s6scan::backward_segment_room(1024, 32, 38) == 9);
  const int64_t bdn2 = bdn / 2, bd2 = bd / 2;
  REQUIRE(ws_size(mid.g, k) ==
          size_t(bdn2 * (1 + 9 + 8 + 9) + bd2 * 18 + 2 * (parts / 2)) * 4);
  // Constant B and C: no partials, and their per-segment sums (32 x 80 each) instead.
  fake_backward consts(2, 8, 600, 5, 2);
  consts.g.fwd.B.data = consts.g.fwd.C.data = nullptr;
  consts.g.fwd.B_const.data = consts.g.fwd.C_const.data = consts.g.fwd.A.data;
  REQUIRE(ws_size(consts.g, k) ==
          size_t(80 + 2560 + 2480 + 3 * 2560 + 512 + 512) * 4);
  // A MaxDState above 16 walks 64-step chunks, at any dstate: 10 of them, so room for 10
  // segments.
  const auto k64 = shape_of<backward_config<64, 8, 8, 4>>();
  fake_backward b64(2, 8, 600, 17, 2);
  REQUIRE(ws_size(b64.g, k64) ==
          size_t(272 + 2720 + 2448 + 2720 + 160 + 160 + 2 * 43520) * 4);
  REQUIRE(ws_size(b.g, k64) ==
          size_t(80 + 800 + 720 + 800 + 160 + 160 + 2 * 12800) * 4);
  b.g.partial_budget = 1;  // one chunk per launch: 16 steps of partials, one segment
  REQUIRE(ws_size(b.g, k) == size_t(80 + 80 + 16 + 16 + 2 * 320) * 4);
  std::vector<float> ws(4096);
  const size_t need = ws_size(b.g, k);
  REQUIRE(s6scan::check_backward_workspace(b.g, k, {ws.data(), need}).ok());
  auto s = s6scan::check_backward_workspace(b.g, k, {ws.data(), need - 4});
  REQUIRE(s.code == status_code::workspace_too_small);
  CAPTURE(s.message);
  REQUIRE(has(s, "needs " + std::to_string(need)));
  s = s6scan::check_backward_workspace(b.g, k, {});
  REQUIRE(s.code == status_code::workspace_too_small);
  // The saved states: required, and as large as saved_states_size says.
  REQUIRE(s6scan::check_backward(b.g, k, kH100).ok());
  auto g = b.g;
  g.fwd.saved_states = {};
  s = s6scan::check_backward(g, k, kH100);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "fwd.saved_states is null"));
  g.fwd.saved_states = {fake_args::arena, b.g.fwd.saved_states.bytes - 4};
  REQUIRE(s6scan::check_backward(g, k, kH100).code == status_code::workspace_too_small);
}

TEST_CASE("checks: statuses print their names", "[checks]") {
  REQUIRE(std::strcmp(s6scan::to_string(status_code::insufficient_shared_memory),
                      "insufficient_shared_memory") == 0);
  const s6scan::status ok;
  REQUIRE(ok.ok());
  REQUIRE(static_cast<bool>(ok));
}

TEST_CASE("tuning table: the anchor shapes take the rows their measurements chose", "[tuning]") {
  using s6scan::forward_row;
  using s6scan::forward_tuning_row;
  constexpr int kSMs = 132;  // the H200 the table was measured on
  // (batch, dim, groups, seqlen, dstate)
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 16, kSMs) == forward_row::dstate16_rows128x2);
  REQUIRE(forward_tuning_row(64, 768, 4, 3136, 16, kSMs) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(64, 1536, 4, 784, 16, kSMs) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(64, 3072, 4, 196, 16, kSMs) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(64, 6144, 4, 49, 16, kSMs) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(1, 2048, 1, 32768, 16, kSMs) == forward_row::dstate16);
  for (int64_t dim : {768, 1536, 3072, 6144})
    REQUIRE(forward_tuning_row(64, dim, 4, 3136, 1, kSMs) == forward_row::dstate1);
  REQUIRE(forward_tuning_row(8, 1024, 1, 2048, 64, kSMs) == forward_row::dstate64);
  REQUIRE(forward_tuning_row(8, 1024, 1, 2048, 128, kSMs) == forward_row::dstate128);
  REQUIRE(forward_tuning_row(8, 1024, 1, 2048, 256, kSMs) == forward_row::dstate256);
}

TEST_CASE("tuning table: rows that read their own channels need two blocks per SM", "[tuning]") {
  using s6scan::two_blocks_fit;
  // The H100/H200: 233,472 bytes per SM, 1,024 reserved per block.
  REQUIRE(two_blocks_fit(115712, kH100));
  REQUIRE_FALSE(two_blocks_fit(115713, kH100));
  REQUIRE(two_blocks_fit(99104, kH100));       // float32, 96 rows of 2 lanes
  REQUIRE_FALSE(two_blocks_fit(127008, kH100));  // float32, 128 rows of 2 lanes
  REQUIRE(two_blocks_fit(112672, kH100));      // bfloat16, 128 rows of 2 lanes, with z
  REQUIRE_FALSE(two_blocks_fit(99104, kA100));  // 167,936 per SM
  // Four blocks of 64 rows of 2 lanes (the 128-row row's stand-in): 16-bit without z, float32
  // at TimeTile 16 with z; not 16-bit with z.
  using s6scan::blocks_fit;
  REQUIRE(blocks_fit(4, 51744, kH100));
  REQUIRE(blocks_fit(4, 54816, kH100));
  REQUIRE_FALSE(blocks_fit(4, 61984, kH100));
  REQUIRE(blocks_fit(4, 57344, kH100));  // (57,344 + 1,024) x 4 = 233,472
  REQUIRE_FALSE(blocks_fit(4, 57345, kH100));
  REQUIRE(blocks_fit(2, 115712, kH100) == two_blocks_fit(115712, kH100));
  // A device that does not say: no constraint.
  REQUIRE(two_blocks_fit(1 << 30, k48));
}

TEST_CASE("tuning table: blocks per SM of the two-lane rows", "[tuning]") {
  struct row {
    int64_t blocks;
    int fit, sms, want;
  };
  const row rows[] = {
      // VMamba stage 1 at 96 rows: 512 blocks take 2 waves at 3 per SM and at 2, so 2; stages
      // 2-4 (1024, 2048, 4096 blocks) would take more waves at 2.
      {512, 3, 132, 2}, {1024, 3, 132, 3}, {2048, 3, 132, 3}, {4096, 3, 132, 3},
      // lm at 128 rows (256 blocks, 2 fit): one wave at 2, two at 1.
      {256, 2, 132, 2},
      // One block per SM or fewer: 1; one more block: a second wave at 1, so 2.
      {132, 3, 132, 1}, {133, 3, 132, 2}, {264, 2, 132, 2},
      // Nothing to choose: no blocks, one or none fits, no SMs.
      {0, 3, 132, 3}, {512, 1, 132, 1}, {512, 0, 132, 0}, {512, 3, 0, 3},
  };
  for (const row& r : rows) {
    CAPTURE(r.blocks, r.fit, r.sms);
    REQUIRE(s6scan::forward_blocks_per_sm(r.blocks, r.fit, r.sms) == r.want);
  }
}

TEST_CASE("tuning table: shared memory that holds a launch to k blocks per SM", "[tuning]") {
  using s6scan::shared_memory_holding;
  // The H100/H200: 233,472 bytes per SM, 1,024 reserved per block. VMamba stage 1's float32
  // block (forward_config<16, 96, 16, 8>, 62.75 KB) held to 2: three of the result do not fit.
  constexpr int64_t kStage1 = 64256;
  constexpr int64_t held = shared_memory_holding(2, kStage1, s6scan::device_limits::h100());
  STATIC_REQUIRE(held == 76928);
  STATIC_REQUIRE(3 * (held + 1024) > 233472);
  STATIC_REQUIRE(2 * (held + 1024) <= 233472);
  // At 1: more than half the SM, still within the 227 KiB opt-in.
  REQUIRE(shared_memory_holding(1, kStage1, kH100) == 233472 / 2 - 1024 + 128);
  // A block already too large for k + 1 per SM keeps its size; so does one on a device that does
  // not say what an SM holds, and a count of 0.
  REQUIRE(shared_memory_holding(2, 80000, kH100) == 80000);
  REQUIRE(shared_memory_holding(2, kStage1, k48) == kStage1);
  REQUIRE(shared_memory_holding(0, kStage1, kH100) == kStage1);
  // Padding past the opt-in limit is not asked for: the launch runs as many blocks as fit.
  s6scan::device_limits small = kH100;
  small.max_shared_memory_per_block_optin = 100000;
  REQUIRE(shared_memory_holding(1, kStage1, small) == kStage1);
  REQUIRE(shared_memory_holding(2, kStage1, small) == 76928);
}

TEST_CASE("tuning table: time segments", "[tuning]") {
  using s6scan::forward_time_segments;
  // (blocks, threads per block, seqlen, SMs). long32k at 128 rows: 16 blocks, 512 chunks -> 66
  // segments wanted for 1024 threads per SM, so 8 chunks each and 64 segments.
  REQUIRE(forward_time_segments(16, 128, 32768, 132) == 64);
  REQUIRE(forward_time_segments(8, 256, 32768, 132) == 64);
  REQUIRE(forward_time_segments(64, 128, 32768, 132) == 17);
  // lm at 256 rows (128 blocks) and anything filling half the SMs stay whole.
  REQUIRE(forward_time_segments(128, 256, 2048, 132) == 1);
  REQUIRE(forward_time_segments(67, 128, 32768, 132) == 1);
  REQUIRE(forward_time_segments(66, 128, 32768, 132) == 16);
  // At least 2 chunks per segment: 4 chunks split in 2, 3 do not; the last segment may be short.
  REQUIRE(forward_time_segments(1, 128, 200, 132) == 2);
  REQUIRE(forward_time_segments(1, 128, 192, 132) == 1);
  REQUIRE(forward_time_segments(1, 128, 64 * 13 + 5, 132) == 7);
  REQUIRE(forward_time_segments(0, 128, 32768, 132) == 1);
  REQUIRE(forward_time_segments(1, 0, 32768, 132) == 1);
  // With a workspace the long32k shape takes 128 rows of 2 lanes split in time; without, 32 x 4
  // lanes. Shapes with blocks enough keep their rows either way.
  using s6scan::forward_row;
  using s6scan::forward_tuning_row;
  REQUIRE(forward_tuning_row(1, 2048, 1, 32768, 16, 132, true) == forward_row::dstate16_rows128x2);
  REQUIRE(forward_tuning_row(1, 2048, 1, 32768, 16, 132, false) == forward_row::dstate16);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 16, 132, true) == forward_row::dstate16_rows128x2);
  REQUIRE(forward_tuning_row(64, 3072, 4, 196, 16, 132, true) == forward_row::dstate16_rows64x2);
  // Too short to split (fewer than 4 chunks), or no whole 128-row (nor 64- or 96-row) blocks:
  // 32 x 4.
  REQUIRE(forward_tuning_row(1, 2048, 1, 192, 16, 132, true) == forward_row::dstate16);
  REQUIRE(forward_tuning_row(1, 2000, 1, 32768, 16, 132, true) == forward_row::dstate16);
}

TEST_CASE("tuning table: the time-parallel forward's boundaries", "[tuning]") {
  using s6scan::forward_row;
  using s6scan::forward_time_parallel;
  using s6scan::forward_tuning_row;
  const int64_t few = s6scan::kTimeParallelChannelsPerSM * 132;  // the first count that is not few
  // (batch, dim, seqlen, dstate, SMs): channels on both sides of the bound, as batch or dim.
  REQUIRE(forward_time_parallel(1, few - 1, 2048, 1, 132));
  REQUIRE_FALSE(forward_time_parallel(1, few, 2048, 1, 132));
  REQUIRE(forward_time_parallel(few - 1, 1, 2048, 8, 132));
  REQUIRE_FALSE(forward_time_parallel(few / 4, 4, 2048, 8, 132));
  REQUIRE(forward_time_parallel(4, 1536, 2048, 8, 132));  // the sweep's dstate rows
  // seqlen from one pass to the longest the time split does not serve better; dstate up to 32.
  REQUIRE(forward_time_parallel(4, 1536, 256, 4, 132));
  REQUIRE_FALSE(forward_time_parallel(4, 1536, 255, 4, 132));
  REQUIRE(forward_time_parallel(4, 1536, 4096, 4, 132));
  REQUIRE_FALSE(forward_time_parallel(4, 1536, 4097, 4, 132));
  REQUIRE(forward_time_parallel(4, 1536, 2048, 16, 132));
  REQUIRE(forward_time_parallel(4, 1536, 2048, 32, 132));
  REQUIRE_FALSE(forward_time_parallel(4, 1536, 2048, 33, 132));
  REQUIRE_FALSE(forward_time_parallel(8, 1024, 2048, 64, 132));  // the N64 anchor row
  // float32 inputs: above dstate 8 from 2048 steps only.
  REQUIRE(forward_time_parallel(4, 1536, 1023, 8, 132, 4));
  REQUIRE_FALSE(forward_time_parallel(4, 1536, 1023, 9, 132, 4));
  REQUIRE_FALSE(forward_time_parallel(4, 1536, 2047, 16, 132, 4));
  REQUIRE(forward_time_parallel(4, 1536, 2048, 32, 132, 4));
  REQUIRE(forward_time_parallel(4, 1536, 1023, 16, 132, 2));
  // Sizes the checks refuse, and no SMs: never, without overflow.
  const int64_t huge = int64_t(1) << 62;
  REQUIRE_FALSE(forward_time_parallel(huge, huge, 2048, 1, 132));
  REQUIRE_FALSE(forward_time_parallel(0, 1536, 2048, 1, 132));
  REQUIRE_FALSE(forward_time_parallel(4, 1536, 2048, 1, 0));
  REQUIRE(forward_time_parallel(1, 1, 2048, 1, 2147483647));
  // The tuning table takes it before any channel row; the default set names its configuration.
  REQUIRE(forward_tuning_row(4, 1536, 1, 2048, 1, 132) == forward_row::time_parallel);
  REQUIRE(forward_tuning_row(4, 1536, 2, 2048, 8, 132) == forward_row::time_parallel);
  REQUIRE(forward_tuning_row(4, 1536, 1, 2048, 16, 132) == forward_row::time_parallel);
  REQUIRE(forward_tuning_row(4, 1536, 1, 2048, 48, 132) == forward_row::dstate64);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 16, 132) != forward_row::time_parallel);
  REQUIRE(forward_tuning_row(64, 768, 4, 3136, 1, 132) == forward_row::dstate1);
}

TEST_CASE("tuning table: backward time segments", "[tuning]") {
  using s6scan::backward_time_segments;
  // (blocks, threads per block, chunks per launch, SMs). long32k at 32 rows: 64 blocks of 128
  // threads, two launches of 256 chunks: 17 segments wanted for 1024 threads per SM, 16 chunks
  // each, so 16 segments.
  REQUIRE(backward_time_segments(64, 128, 256, 132) == 16);
  // A few blocks: at most kBackwardMaxSegments, of at least 2 chunks.
  REQUIRE(backward_time_segments(4, 128, 512, 132) == s6scan::kBackwardMaxSegments);
  REQUIRE(backward_time_segments(4, 128, 10, 132) == 5);
  REQUIRE(backward_time_segments(4, 128, 3, 132) == 1);
  // Blocks over half the SMs that still leave them few threads: (4, 1536) at dstate 1 (96 blocks
  // of 64) and at dstate 2-16 (192 of 128), 128 chunks.
  REQUIRE(backward_time_segments(96, 64, 128, 132) == 22);
  REQUIRE(backward_time_segments(192, 128, 128, 132) == 6);
  // The threshold: kBackwardSplitBelowThreadsPerSM threads per SM or more stay whole.
  const int per_sm = s6scan::kBackwardSplitBelowThreadsPerSM;
  REQUIRE(backward_time_segments(per_sm * 132 / 128 - 1, 128, 512, 132) == 5);
  REQUIRE(backward_time_segments(per_sm * 132 / 128, 128, 512, 132) == 1);
  REQUIRE(backward_time_segments(1024, 128, 512, 132) == 1);  // lm1.4b
  // Room in the workspace for every device of up to kBackwardSplitMaxSMs SMs.
  for (int sms : {1, 16, 80, 132, 170, 256})
    for (int64_t blocks : {1, 4, 96, 192, 500, 1000})
      for (int threads : {64, 128, 256, 512}) {
        CAPTURE(sms, blocks, threads);
        REQUIRE(backward_time_segments(blocks, threads, 128, sms) <=
                s6scan::backward_segment_room(blocks, threads, 128));
      }
}

TEST_CASE("tuning table: boundaries, small grids and sizes that would overflow", "[tuning]") {
  using s6scan::forward_row;
  using s6scan::forward_tuning_row;
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 0, 132) == forward_row::unsupported);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 257, 132) == forward_row::unsupported);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 2, 132) == forward_row::dstate16_rows128x2);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 17, 132) == forward_row::dstate64);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 65, 132) == forward_row::dstate128);
  REQUIRE(forward_tuning_row(8, 4096, 1, 2048, 129, 132) == forward_row::dstate256);
  // 116 blocks of 128 rows are 7/8 of 132 SMs; 115 are not, but make 230 blocks of 64 rows.
  // 116 x 64 channels are enough 64-row blocks, 115 x 64 not (and no whole 96-row blocks).
  // 115 x 96 channels make 115 blocks of 96 rows, not enough, and no whole 64-row blocks;
  // 117 x 96 make enough 96-row blocks and no whole 64-row ones; 116 x 96 make 174 of 64.
  // (8192 steps: past the time-parallel kernel's sequences, which would take the fewer channels.)
  REQUIRE(forward_tuning_row(1, 116 * 128, 1, 8192, 16, 132) == forward_row::dstate16_rows128x2);
  REQUIRE(forward_tuning_row(1, 115 * 128, 1, 8192, 16, 132) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(1, 116 * 64, 1, 8192, 16, 132) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(1, 115 * 64, 1, 8192, 16, 132) == forward_row::dstate16);
  REQUIRE(forward_tuning_row(1, 115 * 96, 1, 8192, 16, 132) == forward_row::dstate16);
  REQUIRE(forward_tuning_row(1, 117 * 96, 1, 8192, 16, 132) == forward_row::dstate16_rows96x2);
  REQUIRE(forward_tuning_row(1, 116 * 96, 1, 8192, 16, 132) == forward_row::dstate16_rows64x2);
  // Too short for the 128-row row (64 rows then), and a channel count no row divides.
  REQUIRE(forward_tuning_row(8, 4096, 1, 1023, 16, 132) == forward_row::dstate16_rows64x2);
  REQUIRE(forward_tuning_row(8, 4000, 1, 2048, 16, 132) == forward_row::dstate16);
  // Sizes the checks refuse later must still pick a row without overflowing.
  const int64_t huge = int64_t(1) << 62;
  REQUIRE(forward_tuning_row(huge, huge, 1, 2048, 16, 132) == forward_row::dstate16_rows128x2);
  REQUIRE(forward_tuning_row(0, 4096, 1, 2048, 16, 132) == forward_row::dstate16);
  REQUIRE(forward_tuning_row(8, 4096, 0, 2048, 16, 132) == forward_row::dstate16);
}

// ---- Wrong use made hard: strides never set, outputs that overlap, queries at the limits.

TEST_CASE("checks: strides that were never set are refused by name", "[checks][api]") {
  const auto k = shape_of<forward_config<16, 64>>();
  const auto expect = [&](const s6scan::forward_args<__nv_bfloat16>& a, const char* text) {
    const auto s = s6scan::check_forward(a, k, kH100);
    CAPTURE(s.message);
    REQUIRE(s.code == status_code::invalid_argument);
    REQUIRE(has(s, text));
  };
  // Forgotten: sizes and pointers, no strides.
  fake_args f(2, 64, 100, 16);
  auto a = f.a;
  a.u = {a.u.data};
  expect(a, "u's batch_stride was never set; set it, or call set_contiguous_strides() after the sizes");
  a = f.a;
  a.B.state_stride = s6scan::kUnsetStride;
  expect(a, "B's state_stride was never set");
  a = f.a;
  a.last_state = {reinterpret_cast<float*>(fake_args::arena)};
  expect(a, "last_state's batch_stride was never set");
  // Set before the sizes: nothing is guessed from sizes of 0.
  s6scan::forward_args<__nv_bfloat16> early;
  early.set_contiguous_strides();
  early.batch = 2; early.dim = 64; early.seqlen = 100; early.dstate = 16;
  early.u.data = early.delta.data = early.B.data = early.C.data = f.a.u.data;
  early.A.data = f.a.A.data;
  early.out.data = f.a.out.data;
  expect(early, "u's batch_stride was never set");
  // The factory and set_contiguous_strides() after the sizes agree.
  auto made = s6scan::forward_args<__nv_bfloat16>::contiguous(2, 64, 100, 16);
  REQUIRE(made.u.batch_stride == 6400);
  REQUIRE(made.B.group_stride == 1600);
  REQUIRE(made.A.dim_stride == 16);
  REQUIRE(made.last_state.batch_stride == 1024);
}

TEST_CASE("checks: the backward's gradient strides leave the forward's alone", "[checks][api]") {
  fake_args f(2, 64, 100, 16);
  f.a.u.dim_stride = 128;  // a strided forward
  f.a.u.batch_stride = 64 * 128;
  auto g = s6scan::backward_args<__nv_bfloat16>::of(f.a);
  REQUIRE(g.fwd.u.dim_stride == 128);
  REQUIRE(g.du.dim_stride == 100);
  g.fwd = f.a;
  g.set_contiguous_gradient_strides();
  REQUIRE(g.fwd.u.dim_stride == 128);
  REQUIRE(g.fwd.u.batch_stride == 64 * 128);
  // Gradients left unset are refused, as the forward's tensors are.
  s6scan::backward_args<__nv_bfloat16> bare;
  bare.fwd = f.a;
  bare.dout.data = bare.du.data = bare.ddelta.data = bare.dB.data = bare.dC.data =
      reinterpret_cast<__nv_bfloat16*>(fake_args::arena);
  bare.dA.data = reinterpret_cast<float*>(fake_args::arena);
  size_t bytes = 0;
  REQUIRE(s6scan::saved_states_size(f.a, &bytes).ok());
  bare.fwd.saved_states = {fake_args::arena, bytes};
  const auto s = s6scan::check_backward(bare, shape_of<s6scan::backward_config<16, 32>>(), kH100);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "dout's batch_stride was never set"));
}

TEST_CASE("checks: outputs whose elements would share an address", "[checks][api]") {
  const auto k = shape_of<forward_config<16, 64>>();
  fake_args f(2, 64, 100, 16);
  const auto refused = [&](const s6scan::forward_args<__nv_bfloat16>& a, const char* text) {
    const auto s = s6scan::check_forward(a, k, kH100);
    CAPTURE(s.message);
    REQUIRE(s.code == status_code::invalid_argument);
    REQUIRE(has(s, text));
  };
  auto a = f.a;
  a.out.dim_stride = 0;
  refused(a, "out is an output, but its strides give two of its elements one address");
  a = f.a;
  a.out.dim_stride = 99;  // rows one step shorter than seqlen
  refused(a, "dim_stride 99 (size 64)");
  a = f.a;
  a.out.batch_stride = 64 * 100 - 1;
  refused(a, "out is an output");
  a = f.a;
  a.last_state = {reinterpret_cast<float*>(fake_args::arena), 16, 8, 1};  // batch overlaps dim
  refused(a, "last_state is an output");
  // Inputs may broadcast; outputs may be padded, transposed in their leading dimensions, or take
  // any stride in a dimension of size 1.
  a = f.a;
  a.u.dim_stride = 0;
  a.u.batch_stride = 0;
  a.out.dim_stride = 2 * 100 * 2;
  a.out.batch_stride = 100;  // batches interleaved between channels: distinct addresses
  REQUIRE(s6scan::check_forward(a, k, kH100).ok());
  fake_args one(1, 64, 100, 16);
  one.a.out.batch_stride = 0;
  REQUIRE(s6scan::check_forward(one.a, k, kH100).ok());
  // A gradient likewise.
  fake_backward b(2, 64, 100, 16);
  auto g = b.g;
  g.du.dim_stride = 50;
  const auto s = s6scan::check_backward(g, shape_of<s6scan::backward_config<16, 32>>(), kH100);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "du is an output"));
  g = b.g;
  g.dout.dim_stride = 0;  // dout is an input: broadcasting is fine
  REQUIRE(s6scan::check_backward(g, shape_of<s6scan::backward_config<16, 32>>(), kH100).ok());
}

TEST_CASE("checks: strides that reach past the address space", "[checks][api]") {
  const auto k = shape_of<forward_config<16, 64>>();
  fake_args f(2, 64, 100, 16);
  auto a = f.a;
  a.delta.batch_stride = int64_t(1) << 62;  // (2 - 1) x 2^62 elements of 2 bytes: 2^63 bytes
  auto s = s6scan::check_forward(a, k, kH100);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "delta's strides reach beyond the address space"));
  a = f.a;
  a.A.data = reinterpret_cast<const float*>(UINTPTR_MAX - 63);  // its 64 x 16 floats wrap
  s = s6scan::check_forward(a, k, kH100);
  REQUIRE(has(s, "A's strides reach beyond the address space"));
}

TEST_CASE("checks: size queries report failure apart from a size, without overflow",
          "[checks][api]") {
  size_t bytes = 123;
  // Sizes the checks refuse: no size, a status that says why.
  fake_args zero(2, 0, 100, 16);
  REQUIRE(s6scan::saved_states_size(zero.a, &bytes).code == status_code::invalid_argument);
  REQUIRE(bytes == 0);
  fake_args huge(int64_t(1) << 40, int64_t(1) << 20, 1 << 10, 4);
  bytes = 123;
  const auto s = s6scan::saved_states_size(huge.a, &bytes);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::invalid_argument);
  REQUIRE(has(s, "overflows 64 bits"));
  REQUIRE(bytes == 0);
  // At the limit: 2^40 x 2^17 channels x 1 chunk x 16 states x 4 bytes = 2^63 does not fit a
  // signed 64-bit size; half of it does.
  fake_args over(int64_t(1) << 40, int64_t(1) << 17, 16, 16);
  fake_args under(int64_t(1) << 40, int64_t(1) << 16, 16, 16);
  REQUIRE(!s6scan::saved_states_size(over.a, &bytes).ok());
  REQUIRE(s6scan::saved_states_size(under.a, &bytes).ok());
  REQUIRE(bytes == size_t(1) << 62);
  // The backward's workspace of 2^52 channels of 256 states: each of its parts fits, their sum in
  // bytes does not.
  fake_backward wide(1, int64_t(1) << 52, 1, 256);
  const auto k = shape_of<s6scan::backward_config<256, 8, 8, 8>>();
  bytes = 123;
  const auto w = s6scan::backward_workspace_size(wide.g, k, &bytes);
  CAPTURE(w.message);
  REQUIRE(w.code == status_code::invalid_argument);
  REQUIRE(has(w, "overflows 64 bits"));
  REQUIRE(bytes == 0);
  // An unsupported dstate is a failure, not a size of 0.
  fake_backward big(1, 64, 100, 300);
  REQUIRE(s6scan::backward_workspace_size(big.g, kH100, &bytes).code ==
          status_code::unsupported_dstate);
  REQUIRE(bytes == 0);
}

TEST_CASE("checks: the default set on a simulated device, without a GPU", "[checks][api]") {
  fake_args lm(8, 4096, 2048, 16);
  for (const auto& d : {kA100, kH100}) REQUIRE(s6scan::check_forward(lm.a, d).ok());
  // Which configuration: the one select_forward names.
  const auto c = s6scan::select_forward(lm.a, kH100);
  REQUIRE(c == s6scan::forward_choice::config_16_rows64x2);
  fake_args big(1, 64, 100, 300);
  auto s = s6scan::check_forward(big.a, kH100);
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::unsupported_dstate);
  REQUIRE(has(s, "dstate 300 exceeds 256, the largest MaxDState of the default set"));
  // The backward: the saved states are required, then the device's shared memory decides.
  fake_backward b(2, 64, 100, 128);
  REQUIRE(s6scan::check_backward(b.g, kH100).ok());
  REQUIRE(s6scan::select_backward(b.g, kH100) == s6scan::backward_choice::config_128);
  REQUIRE(s6scan::select_backward(b.g, k48) == s6scan::backward_choice::config_128_small);
  auto g = b.g;
  g.fwd.saved_states = {};
  s = s6scan::check_backward(g, kH100);
  REQUIRE(has(s, "fwd.saved_states is null"));
  // A backward configuration's refusal names backward_config.
  fake_backward wide(1, 64, 100, 300);
  s = s6scan::check_backward(wide.g, shape_of<s6scan::backward_config<256, 8, 8, 8>>(), kH100);
  REQUIRE(has(s, "instantiate s6scan::backward_config<MaxDState, ...> with MaxDState >= 300"));
}

TEST_CASE("checks: the forward's scratch workspace for a time split without saved states",
          "[checks][api]") {
  size_t bytes = 1;
  // Few channels, a long sequence: the default set splits time, given somewhere to keep it.
  fake_args few(2, 1024, 65536, 16);
  REQUIRE(s6scan::forward_workspace_size(few.a, kH100, &bytes).ok());
  size_t states = 0;
  REQUIRE(s6scan::saved_states_size(few.a, &states).ok());
  REQUIRE(bytes == states);
  REQUIRE(s6scan::select_forward(few.a, kH100, {fake_args::arena, bytes}) ==
          s6scan::forward_choice::config_16_rows64x2);
  REQUIRE(s6scan::select_forward(few.a, kH100) == s6scan::forward_choice::config_16);
  REQUIRE(s6scan::check_forward(few.a, kH100, {fake_args::arena, bytes}).ok());
  const auto s = s6scan::check_forward(few.a, kH100, {fake_args::arena, bytes - 4});
  CAPTURE(s.message);
  REQUIRE(s.code == status_code::workspace_too_small);
  REQUIRE(has(s, "the forward's workspace holds"));
  // With saved states the split uses them: no scratch.
  few.a.saved_states = {fake_args::arena, states};
  REQUIRE(s6scan::forward_workspace_size(few.a, kH100, &bytes).ok());
  REQUIRE(bytes == 0);
  // Channels enough to fill the device: no split, no scratch.
  fake_args lm(8, 4096, 2048, 16);
  REQUIRE(s6scan::forward_workspace_size(lm.a, kH100, &bytes).ok());
  REQUIRE(bytes == 0);
  // Few channels at dstate 4: parallel in time within each channel, with no workspace at all.
  fake_args narrow(4, 1536, 2048, 4);
  REQUIRE(s6scan::select_forward(narrow.a, kH100) == s6scan::forward_choice::config_time);
  REQUIRE(s6scan::forward_workspace_size(narrow.a, kH100, &bytes).ok());
  REQUIRE(bytes == 0);
  REQUIRE(s6scan::check_forward(narrow.a, kH100).ok());
  fake_args bad(2, 1024, 65536, 300);
  REQUIRE(s6scan::forward_workspace_size(bad.a, kH100, &bytes).code ==
          status_code::unsupported_dstate);
}
