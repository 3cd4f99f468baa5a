// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief The default set's launchers: s6scan::forward(args) and s6scan::backward(args, ...) run
///        the configuration select_forward / select_backward (default_set.hpp) chooses for the
///        call on the current device. Including this header and calling them instantiates every
///        configuration of the set for the argument types used (see the README for what that
///        costs in compile time); a caller who needs one shape instantiates forward<Config>
///        directly, and a project that calls them from several files can compile them in one
///        (instances.cuh).

#include <tuple>
#include <type_traits>

#include "backward.cuh"
#include "default_set.hpp"
#include "detail/device.cuh"
#include "forward.cuh"

namespace s6scan {

namespace detail {

// The lists of default_set.hpp as types: std::tuple<void, Config...> (the void takes the leading
// comma).
#define S6SCAN_DETAIL_LIST_CONFIG(InT, OutT, ...) , __VA_ARGS__
template <class InT>
using default_forward_configs =
    std::tuple<void S6SCAN_DEFAULT_FORWARD_CONFIGS(S6SCAN_DETAIL_LIST_CONFIG, InT, InT)>;
using default_backward_configs =
    std::tuple<void S6SCAN_DEFAULT_BACKWARD_CONFIGS(S6SCAN_DETAIL_LIST_CONFIG, void, void)>;
#undef S6SCAN_DETAIL_LIST_CONFIG

/// @brief Whether Config is one of the configurations in the tuple List.
template <class Config, class List>
struct listed_default;
template <class Config, class... Listed>
struct listed_default<Config, std::tuple<Listed...>>
    : std::bool_constant<(std::is_same_v<Config, Listed> || ...)> {};

/// @brief Calls `f(Config{})` with the configuration the default set picks for `a` (with the
///        scratch `workspace`) on the current device, or returns why none applies. The arguments
///        are checked before the device is queried.
template <class InT, class OutT, class F>
[[nodiscard]] status with_default_config(const forward_args<InT, OutT>& a,
                                         const device_buffer& workspace, F&& f) noexcept {
  status s = check_default_forward_args(a);
  if (s) s = check_forward_workspace(a, workspace);
  if (!s) return s;
  device_limits limits;
  s = query_device_limits(&limits);
  if (!s) return s;
  const auto use = [&](auto cfg) {
    static_assert(listed_default<decltype(cfg), default_forward_configs<InT>>::value,
                  "every configuration picked here is in S6SCAN_DEFAULT_FORWARD_CONFIGS");
    return f(cfg);
  };
  switch (select_forward(a, limits, workspace)) {
    case forward_choice::config_1: return use(default_config_1{});
    case forward_choice::config_16: return use(default_config_16{});
    case forward_choice::config_16_rows64x2: return use(default_config_16_rows64x2<InT>{});
    case forward_choice::config_16_rows96x2: return use(default_config_16_rows96x2<InT>{});
    case forward_choice::config_16_rows128x2: return use(default_config_16_rows128x2<InT>{});
    case forward_choice::config_64: return use(default_config_64{});
    case forward_choice::config_128: return use(default_config_128{});
    case forward_choice::config_256: return use(default_config_256<InT>{});
    case forward_choice::config_time: return use(default_time_config{});
    case forward_choice::none: break;
  }
  return default_set_refusal(a.dstate, "forward");
}

/// @brief The backward's counterpart of with_default_config. The device is queried only where
///        the choice depends on it (dstate above 64).
template <class InT, class OutT, class F>
[[nodiscard]] status with_default_backward_config(const backward_args<InT, OutT>& a,
                                                  F&& f) noexcept {
  device_limits limits;
  if (a.fwd.dstate > 64 && a.fwd.dstate <= kDefaultMaxDState) {
    const status s = query_device_limits(&limits);
    if (!s) return s;
  }
  const auto use = [&](auto cfg) {
    static_assert(listed_default<decltype(cfg), default_backward_configs>::value,
                  "every configuration picked here is in S6SCAN_DEFAULT_BACKWARD_CONFIGS");
    return f(cfg);
  };
  switch (select_backward(a, limits)) {
    case backward_choice::config_1: return use(default_backward_config_1{});
    case backward_choice::config_16: return use(default_backward_config_16{});
    case backward_choice::config_64: return use(default_backward_config_64{});
    case backward_choice::config_128: return use(default_backward_config_128{});
    case backward_choice::config_128_small: return use(default_backward_config_128_small{});
    case backward_choice::config_256: return use(default_backward_config_256{});
    case backward_choice::config_256_small: return use(default_backward_config_256_small{});
    case backward_choice::none: break;
  }
  return default_set_refusal(a.fwd.dstate, "backward");
}

}  // namespace detail

/// @brief Checks the forward call forward(a) would make on the current device: the arguments, then
///        the configuration the default set picks for it. Launches nothing.
template <class InT, class OutT>
[[nodiscard]] status forward_can_implement(const forward_args<InT, OutT>& a) noexcept {
  return detail::with_default_config(
      a, {}, [&](auto cfg) { return forward_can_implement<decltype(cfg)>(a); });
}

/// @brief Bytes of scratch workspace that let forward(a, workspace) split time across blocks on
///        the current device when `a` saves no states (see forward_workspace_size(a, limits)).
/// @param bytes receives the size (0: none needed), or 0 when the status is not success
template <class InT, class OutT>
[[nodiscard]] status forward_workspace_size(const forward_args<InT, OutT>& a,
                                            size_t* bytes) noexcept {
  *bytes = 0;
  status s = detail::check_default_forward_args(a);
  if (!s) return s;
  device_limits limits;
  s = query_device_limits(&limits);
  return s ? forward_workspace_size(a, limits, bytes) : s;
}

/// @brief Runs the forward scan with the configuration the default set picks; a call without
///        saved states uses `workspace` (forward_workspace_size bytes) to split time.
/// @see forward<Config>
template <class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a, const device_buffer& workspace,
                             cudaStream_t stream = nullptr) noexcept {
  return detail::with_default_config(
      a, workspace, [&](auto cfg) { return forward<decltype(cfg)>(a, workspace, stream); });
}

/// @brief forward(a, {}, stream): no scratch workspace.
template <class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a,
                             cudaStream_t stream = nullptr) noexcept {
  return forward(a, device_buffer{}, stream);
}

/// @brief Bytes of scratch workspace the default set's backward needs for `a` on the current
///        device (queried only for dstate above 64, where the choice depends on it).
/// @param bytes receives the size, or 0 when the status is not success
template <class InT, class OutT>
[[nodiscard]] status backward_workspace_size(const backward_args<InT, OutT>& a,
                                             size_t* bytes) noexcept {
  *bytes = 0;
  const status s = detail::check_sizes(a.fwd);
  if (!s) return s;
  return detail::with_default_backward_config(
      a, [&](auto cfg) { return backward_workspace_size<decltype(cfg)>(a, bytes); });
}

/// @brief Checks a backward call against the configuration the default set would pick.
template <class InT, class OutT>
[[nodiscard]] status backward_can_implement(const backward_args<InT, OutT>& a) noexcept {
  const status s = detail::check_default_backward_args(a);
  if (!s) return s;
  return detail::with_default_backward_config(
      a, [&](auto cfg) { return backward_can_implement<decltype(cfg)>(a); });
}

/// @brief Runs the backward scan with the configuration the default set picks.
/// @see backward<Config>
template <class InT, class OutT>
[[nodiscard]] status backward(const backward_args<InT, OutT>& a, const device_buffer& workspace,
                              cudaStream_t stream = nullptr) noexcept {
  const status s = detail::check_default_backward_args(a);
  if (!s) return s;
  return detail::with_default_backward_config(
      a, [&](auto cfg) { return backward<decltype(cfg)>(a, workspace, stream); });
}

}  // namespace s6scan
