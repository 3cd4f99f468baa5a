// SPDX-License-Identifier: MIT
// The launchers on any machine, GPU or not: a bad call is refused for what it is before the
// device is asked anything, and a good one on a machine without a usable device says so. Nothing
// is launched: the pointers are stand-ins.

#include <s6scan_default_instances.hpp>

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "catch.hpp"

namespace {

using bf16 = __nv_bfloat16;

// Contiguous arguments whose pointers are never dereferenced.
s6scan::forward_args<bf16> stand_in(int64_t dstate) {
  auto a = s6scan::forward_args<bf16>::contiguous(2, 64, 100, dstate);
  const auto p = reinterpret_cast<bf16*>(uintptr_t(256));
  a.u.data = a.delta.data = a.B.data = a.C.data = a.out.data = p;
  a.A.data = reinterpret_cast<const float*>(p);
  return a;
}

bool has(const s6scan::status& s, const char* text) { return std::strstr(s.message, text); }

bool usable_device() {
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  (void)cudaGetLastError();
  return ok;
}

}  // namespace

TEST_CASE("launchers: bad arguments are named before the device is queried", "[launch]") {
  auto a = stand_in(300);
  auto s = s6scan::forward(a);
  CAPTURE(s.message);
  REQUIRE(s.code == s6scan::status_code::unsupported_dstate);
  REQUIRE(has(s, "dstate 300 exceeds 256"));
  s = s6scan::forward<s6scan::forward_config<16, 64>>(a);
  REQUIRE(s.code == s6scan::status_code::unsupported_dstate);
  a = stand_in(16);
  a.u.data = nullptr;
  s = s6scan::forward(a);
  REQUIRE(s.code == s6scan::status_code::invalid_argument);
  REQUIRE(has(s, "u is null"));
  a = stand_in(16);
  a.out.dim_stride = 0;
  s = s6scan::forward_can_implement(a);
  REQUIRE(s.code == s6scan::status_code::invalid_argument);
  REQUIRE(has(s, "out is an output"));
  auto g = s6scan::backward_args<bf16>::of(stand_in(16));
  size_t bytes = 0;
  REQUIRE(s6scan::backward_workspace_size(g, &bytes).ok());
  REQUIRE(bytes > 0);
  s = s6scan::backward(g, {});  // no dout, no gradients, no saved states
  REQUIRE(s.code == s6scan::status_code::invalid_argument);
  REQUIRE(has(s, "dout is null"));
  s = s6scan::backward<s6scan::backward_config<16, 32>>(g, {});
  REQUIRE(s.code == s6scan::status_code::invalid_argument);
}

TEST_CASE("launchers: without a usable device a valid call says so", "[launch]") {
  if (usable_device()) {
    SUCCEED("a device is present: this machine's GPU tests launch the same calls");
    return;
  }
  const auto a = stand_in(16);
  for (const auto& s : {s6scan::forward(a), s6scan::forward<s6scan::forward_config<16, 64>>(a),
                        s6scan::forward_can_implement(a)}) {
    CAPTURE(s.message);
    REQUIRE(s.code == s6scan::status_code::cuda_error);
    REQUIRE(has(s, "no usable CUDA device: "));
  }
  // The host-only check needs no device.
  REQUIRE(s6scan::check_forward(a, s6scan::device_limits::h100()).ok());
}
