// SPDX-License-Identifier: MIT
#pragma once

// The default set: a few configurations covering dstate 1 to 256, chosen at run time by dstate.
// Including this header and calling s6scan::forward(args, ...) instantiates all of them for the
// argument types used (see the README for what that costs in compile time); a caller who needs one
// shape instantiates s6scan::forward<Config> directly instead.

#include "backward.cuh"
#include "forward.cuh"

namespace s6scan {

/// @brief The default configurations, smallest MaxDState first.
///
/// Each thread keeps 16 states (one state when dstate is 1); larger dstate spreads a channel's
/// states over 4 or 16 lanes. Row counts keep several blocks per multiprocessor within 227 KiB.
using default_config_1 = forward_config<1, 128, 32>;
using default_config_16 = forward_config<16, 64, 32>;
using default_config_64 = forward_config<64, 32, 32>;
using default_config_256 = forward_config<256, 16, 16>;

/// @brief The default backward configurations. Each thread keeps 4 states (8 at dstate 256) and
///        the states before each of TimeTile steps in registers; 128 threads per block.
using default_backward_config_1 = backward_config<1, 128, 16, 1>;
using default_backward_config_16 = backward_config<16, 32, 16, 4>;
using default_backward_config_64 = backward_config<64, 8, 16, 4>;
using default_backward_config_256 = backward_config<256, 4, 8, 8>;

/// @brief The largest dstate the default set accepts.
inline constexpr int kDefaultMaxDState = default_config_256::kMaxDState;

namespace detail {

/// @brief Calls `f(Config{})` with the smallest default configuration whose MaxDState >= dstate,
///        or returns unsupported_dstate.
inline status default_set_refusal(int64_t dstate, const char* pass) noexcept {
  return status::make(status_code::unsupported_dstate,
                      "dstate %lld exceeds %d, the largest MaxDState of the default set; "
                      "instantiate s6scan::%s<s6scan::%s_config<MaxDState, NRows>> with "
                      "MaxDState >= %lld",
                      (long long)dstate, kDefaultMaxDState, pass, pass, (long long)dstate);
}

template <class F>
[[nodiscard]] status with_default_config(int64_t dstate, F&& f) noexcept {
  if (dstate <= 1) return f(default_config_1{});
  if (dstate <= 16) return f(default_config_16{});
  if (dstate <= 64) return f(default_config_64{});
  if (dstate <= 256) return f(default_config_256{});
  return default_set_refusal(dstate, "forward");
}

/// @brief The backward's counterpart of with_default_config.
template <class F>
[[nodiscard]] status with_default_backward_config(int64_t dstate, F&& f) noexcept {
  if (dstate <= 1) return f(default_backward_config_1{});
  if (dstate <= 16) return f(default_backward_config_16{});
  if (dstate <= 64) return f(default_backward_config_64{});
  if (dstate <= 256) return f(default_backward_config_256{});
  return default_set_refusal(dstate, "backward");
}

}  // namespace detail

/// @brief Checks a forward call against the configuration the default set would pick.
template <class InT, class OutT>
[[nodiscard]] status forward_can_implement(const forward_args<InT, OutT>& a) noexcept {
  return detail::with_default_config(a.dstate, [&](auto cfg) {
    return forward_can_implement<decltype(cfg)>(a);
  });
}

/// @brief Runs the forward scan with the default configuration for a.dstate.
/// @see forward<Config>
template <class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a, void* workspace,
                             size_t workspace_bytes, cudaStream_t stream = nullptr) noexcept {
  return detail::with_default_config(a.dstate, [&](auto cfg) {
    return forward<decltype(cfg)>(a, workspace, workspace_bytes, stream);
  });
}

/// @brief Bytes of workspace the default backward configuration for a.fwd.dstate needs
///        (0 when dstate is outside the default set).
template <class InT, class OutT>
[[nodiscard]] size_t backward_workspace_size(const backward_args<InT, OutT>& a) noexcept {
  size_t bytes = 0;
  (void)detail::with_default_backward_config(a.fwd.dstate, [&](auto cfg) {
    bytes = backward_workspace_size<decltype(cfg)>(a);
    return status{};
  });
  return bytes;
}

/// @brief Checks a backward call against the configuration the default set would pick.
template <class InT, class OutT>
[[nodiscard]] status backward_can_implement(const backward_args<InT, OutT>& a) noexcept {
  return detail::with_default_backward_config(a.fwd.dstate, [&](auto cfg) {
    return backward_can_implement<decltype(cfg)>(a);
  });
}

/// @brief Runs the backward scan with the default configuration for a.fwd.dstate.
/// @see backward<Config>
template <class InT, class OutT>
[[nodiscard]] status backward(const backward_args<InT, OutT>& a, const void* states,
                              size_t states_bytes, void* workspace, size_t workspace_bytes,
                              cudaStream_t stream = nullptr) noexcept {
  return detail::with_default_backward_config(a.fwd.dstate, [&](auto cfg) {
    return backward<decltype(cfg)>(a, states, states_bytes, workspace, workspace_bytes, stream);
  });
}

}  // namespace s6scan
