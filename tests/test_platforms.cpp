// SPDX-License-Identifier: MIT
// The default set on the presets of common GPUs (sm_80 to sm_120): for the benchmark's shapes and
// every dstate up to 256, in each type pair, the forward and the backward the default set would
// run pass the launcher's checks there (their shared memory fits a block, and a multiprocessor
// holds at least one such block). Host-only: no device is touched.

#include <s6scan/checks.hpp>
#include <s6scan/default_set.hpp>

#include <string>
#include <utility>

#include "catch.hpp"

namespace {

using s6scan::device_limits;

struct preset {
  const char* name;
  device_limits limits;
};
const preset kPresets[] = {
    {"A100", device_limits::a100()},       {"RTX 3090", device_limits::rtx3090()},
    {"L40S", device_limits::l40s()},       {"RTX 4090", device_limits::rtx4090()},
    {"H100", device_limits::h100()},       {"B200", device_limits::b200()},
    {"RTX 5090", device_limits::rtx5090()},
};

// (batch, dim, seqlen, groups): the anchors', a VMamba stage, few channels, a long prompt.
struct sizes {
  int64_t batch, dim, seqlen, groups;
};
const sizes kSizes[] = {{8, 4096, 2048, 1}, {64, 768, 3136, 4}, {64, 6144, 49, 4},
                        {4, 1536, 2048, 1}, {1, 2048, 32768, 1}, {1, 2048, 512, 1}};
const int64_t kDStates[] = {1, 2, 8, 16, 17, 32, 48, 64, 65, 100, 128, 129, 200, 256};

// Plausible, never dereferenced, device pointers.
alignas(16) char g_arena[1 << 12];

template <class InT, class OutT>
s6scan::forward_args<InT, OutT> fake_forward(const sizes& s, int64_t dstate, bool z) {
  auto a = s6scan::forward_args<InT, OutT>::contiguous(s.batch, s.dim, s.seqlen, dstate, s.groups);
  const auto in = reinterpret_cast<const InT*>(g_arena);
  a.u.data = a.delta.data = a.B.data = a.C.data = in;
  if (z) a.z.data = in;
  a.A.data = reinterpret_cast<const float*>(g_arena);
  a.out.data = reinterpret_cast<OutT*>(g_arena);
  size_t bytes = 0;
  REQUIRE(s6scan::saved_states_size(a, &bytes).ok());
  a.saved_states = {g_arena, bytes};
  return a;
}

template <class InT, class OutT>
void check_everywhere() {
  for (const auto& d : kPresets)
    for (const auto& s : kSizes)
      for (int64_t dstate : kDStates)
        for (bool z : {false, true}) {
          CAPTURE(d.name, s.batch, s.dim, s.seqlen, s.groups, dstate, z, sizeof(InT), sizeof(OutT));
          const auto a = fake_forward<InT, OutT>(s, dstate, z);
          const auto f = s6scan::check_forward(a, d.limits);
          CAPTURE(f.message);
          REQUIRE(f.ok());
          const auto fk = s6scan::shape_of<InT>(s6scan::select_forward(a, d.limits));
          REQUIRE(s6scan::blocks_fit(1, s6scan::detail::forward_smem_bytes(a, fk), d.limits));
          auto g = s6scan::backward_args<InT, OutT>::of(a);
          const auto in = reinterpret_cast<InT*>(g_arena);
          g.dout.data = reinterpret_cast<const OutT*>(g_arena);
          g.du.data = g.ddelta.data = g.dB.data = g.dC.data = in;
          if (z) g.dz.data = in;
          g.dA.data = reinterpret_cast<float*>(g_arena);
          const auto b = s6scan::check_backward(g, d.limits);
          CAPTURE(b.message);
          REQUIRE(b.ok());
          const auto bk = s6scan::shape_of(s6scan::select_backward(g, d.limits));
          REQUIRE(s6scan::blocks_fit(1, s6scan::detail::backward_smem_bytes(g, bk), d.limits));
        }
}

}  // namespace

TEST_CASE("platforms: the default set fits every preset", "[platforms]") {
  check_everywhere<__nv_bfloat16, __nv_bfloat16>();
  check_everywhere<__nv_bfloat16, float>();
  check_everywhere<__half, __half>();
  check_everywhere<float, float>();
}
