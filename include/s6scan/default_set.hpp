// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief The default set: the configurations s6scan::forward(args) and s6scan::backward(args)
///        choose from, the choice itself (select_forward, select_backward: pure functions of the
///        arguments and a device_limits), and the checks of a call against the default set on any
///        device, with or without a GPU. Plain C++; dispatch.cuh turns a choice into a launch.
///
/// The tuning rows behind the choice are in tuning.hpp; bench/results/ holds the measurements.

#include <cstddef>
#include <cstdint>

#include "args.hpp"
#include "checks.hpp"
#include "config.hpp"
#include "device_limits.hpp"
#include "status.hpp"
#include "tuning.hpp"

namespace s6scan {

/// @brief TimeTile of the default rows whose threads read their own channels' raw rows: 32 steps
///        for 16-bit inputs, 16 for float32, whose block is then about a 16-bit block's size.
///
/// Those rows keep two stages of raw tiles of u, delta, z and the output in shared memory; at 32
/// steps a float32 block of 128 rows fits one block per multiprocessor, which then stalls at
/// every barrier and load.
template <class InT>
inline constexpr int kOwnRowsTimeTile = sizeof(InT) >= 4 ? 16 : 32;

/// @brief The default forward configurations, one per row of the tuning table (forward_row),
///        smallest MaxDState first.
///
/// Each thread keeps 16 states (one state when dstate is 1; 4 in the general dstate-16 row, 8 in
/// its two-lane rows and at dstate 64); larger dstate spreads a channel's states over 8 or 16
/// lanes. The rows whose threads read their own channels' raw rows (64, 96 and 128 channels of 2
/// lanes) depend on the input type through their TimeTile (kOwnRowsTimeTile), and the dstate-256
/// row through its channels per block.
using default_config_1 = forward_config<1, 64, 32, 1>;
using default_config_16 = forward_config<16, 32, 32, 4>;
/// The 64-row block of 2 lanes leaves the registers to the compiler, which fits 4 blocks per SM.
template <class InT>
using default_config_16_rows64x2 = forward_config<16, 64, kOwnRowsTimeTile<InT>, 8>;
/// The 96-row block asks for 3 blocks per SM, the most its shared memory allows without z: left
/// to itself the compiler aimed at 4 and spilled.
template <class InT>
using default_config_16_rows96x2 = forward_config<16, 96, kOwnRowsTimeTile<InT>, 8, 3>;
/// The 128-row block asks for 2, what its shared memory allows: left to itself the compiler gave
/// its time split's carry pass registers enough for one block per SM.
template <class InT>
using default_config_16_rows128x2 = forward_config<16, 128, kOwnRowsTimeTile<InT>, 8, 2>;
using default_config_64 = forward_config<64, 32, 32, 8>;
using default_config_128 = forward_config<128, 32, 16, 16>;
/// 32 channels a block for float32 inputs, 16 for 16-bit ones: a float32 block's raw B/C tiles,
/// shared by its channels, leave room for one block per SM, so it needs twice the channels for
/// as many warps.
template <class InT>
using default_config_256 = forward_config<256, sizeof(InT) >= 4 ? 32 : 16, 16, 16>;

/// The time-parallel forward for calls with few channels: 4 channels a block, 8 steps a lane. It
/// keeps one state at a time in registers, so one instantiation serves every dstate of the set.
using default_time_config = forward_time_config<256, 4, 8>;

/// @brief The default backward configurations. Each thread keeps 4 states (8 at dstate 256, 4 at a
///        time) and the states before each of TimeTile steps in registers. The dstate-128 and 256
///        rows have `_small` stand-ins for devices whose blocks hold less shared memory.
using default_backward_config_1 = backward_config<1, 64, 16, 1>;
using default_backward_config_16 = backward_config<16, 32, 16, 4>;
using default_backward_config_64 = backward_config<64, 16, 8, 4>;
using default_backward_config_128 = backward_config<128, 16, 8, 4>;
using default_backward_config_128_small = backward_config<128, 8, 8, 4>;
/// A register cap of 2 blocks per SM: without it one block fits.
using default_backward_config_256 = backward_config<256, 8, 8, 8, 2>;
using default_backward_config_256_small = backward_config<256, 4, 8, 8>;

/// @brief The largest dstate the default set accepts.
inline constexpr int kDefaultMaxDState = default_config_256<float>::kMaxDState;

/// @brief The default set's configurations as X-macros: `X(InT, OutT, Config)` for each forward
///        and each backward configuration the dispatchers may pick for that type pair.
///
/// instances.cuh declares and defines the launchers from these lists, so that a project can
/// compile the default set once (S6SCAN_INSTANTIATE_DEFAULT_FORWARD). dispatch.cuh refuses at
/// compile time to pick a configuration missing here.
#define S6SCAN_DEFAULT_FORWARD_CONFIGS(X, InT, OutT)                                           \
  X(InT, OutT, ::s6scan::default_config_1)                                                     \
  X(InT, OutT, ::s6scan::default_config_16)                                                    \
  X(InT, OutT, ::s6scan::default_config_16_rows64x2<InT>)                                      \
  X(InT, OutT, ::s6scan::default_config_16_rows96x2<InT>)                                      \
  X(InT, OutT, ::s6scan::default_config_16_rows128x2<InT>)                                     \
  X(InT, OutT, ::s6scan::default_config_64)                                                    \
  X(InT, OutT, ::s6scan::default_config_128)                                                   \
  X(InT, OutT, ::s6scan::default_config_256<InT>)                                             \
  X(InT, OutT, ::s6scan::default_time_config)
#define S6SCAN_DEFAULT_BACKWARD_CONFIGS(X, InT, OutT)                                          \
  X(InT, OutT, ::s6scan::default_backward_config_1)                                            \
  X(InT, OutT, ::s6scan::default_backward_config_16)                                           \
  X(InT, OutT, ::s6scan::default_backward_config_64)                                           \
  X(InT, OutT, ::s6scan::default_backward_config_128)                                          \
  X(InT, OutT, ::s6scan::default_backward_config_128_small)                                    \
  X(InT, OutT, ::s6scan::default_backward_config_256)                                          \
  X(InT, OutT, ::s6scan::default_backward_config_256_small)

/// @brief The forward configuration the default set picks, one per entry of
///        S6SCAN_DEFAULT_FORWARD_CONFIGS (`none`: dstate outside 1..kDefaultMaxDState).
enum class forward_choice {
  config_1,
  config_16,
  config_16_rows64x2,
  config_16_rows96x2,
  config_16_rows128x2,
  config_64,
  config_128,
  config_256,
  config_time,  ///< default_time_config, the time-parallel kernel
  none,
};

/// @brief The backward configuration the default set picks (S6SCAN_DEFAULT_BACKWARD_CONFIGS).
enum class backward_choice {
  config_1,
  config_16,
  config_64,
  config_128,
  config_128_small,
  config_256,
  config_256_small,
  none,
};

/// @return the run-time description of a forward choice for input type InT.
template <class InT>
[[nodiscard]] constexpr kernel_shape shape_of(forward_choice c) noexcept {
  switch (c) {
    case forward_choice::config_1: return shape_of<default_config_1>();
    case forward_choice::config_16: return shape_of<default_config_16>();
    case forward_choice::config_16_rows64x2: return shape_of<default_config_16_rows64x2<InT>>();
    case forward_choice::config_16_rows96x2: return shape_of<default_config_16_rows96x2<InT>>();
    case forward_choice::config_16_rows128x2: return shape_of<default_config_16_rows128x2<InT>>();
    case forward_choice::config_64: return shape_of<default_config_64>();
    case forward_choice::config_128: return shape_of<default_config_128>();
    case forward_choice::config_time: return shape_of<default_time_config>();
    case forward_choice::config_256:
    case forward_choice::none: break;
  }
  return shape_of<default_config_256<InT>>();
}

/// @return the run-time description of a backward choice.
[[nodiscard]] constexpr kernel_shape shape_of(backward_choice c) noexcept {
  switch (c) {
    case backward_choice::config_1: return shape_of<default_backward_config_1>();
    case backward_choice::config_16: return shape_of<default_backward_config_16>();
    case backward_choice::config_64: return shape_of<default_backward_config_64>();
    case backward_choice::config_128: return shape_of<default_backward_config_128>();
    case backward_choice::config_128_small: return shape_of<default_backward_config_128_small>();
    case backward_choice::config_256: return shape_of<default_backward_config_256>();
    case backward_choice::config_256_small:
    case backward_choice::none: break;
  }
  return shape_of<default_backward_config_256_small>();
}

/// @brief The forward configuration the default set runs `a` with on a device of `limits`.
///
/// The tuning table's row (forward_tuning_row), then what fits: a dstate-16 row of two lanes whose
/// threads read their own rows falls back to the general dstate-16 row where two of its blocks do
/// not share a multiprocessor (which also covers a block over the device's limit); the 128-row
/// row runs 64 rows of 2 lanes where four such blocks fit a multiprocessor (as many warps, and
/// blocks that finish in smaller steps). The rows of dstate 17-256 run the time-parallel kernel
/// where one of their blocks does not fit.
/// A call may split time when it saves states or has a scratch `workspace` (forward's).
template <class InT, class OutT>
[[nodiscard]] forward_choice select_forward(const forward_args<InT, OutT>& a,
                                            const device_limits& limits,
                                            const device_buffer& workspace = {}) noexcept {
  using c = forward_choice;
  const auto fit = [&](c choice, int k) {
    const int64_t bytes = detail::forward_smem_bytes(a, shape_of<InT>(choice));
    return bytes <= limits.max_shared_memory_per_block_optin && blocks_fit(k, bytes, limits);
  };
  const auto own_rows = [&](c choice) { return fit(choice, 2) ? choice : c::config_16; };
  // A block that does not fit the device (float32's 32 rows at dstate 129-256 where a block may
  // take 99 KiB) runs the time-parallel kernel instead: it keeps only dstate floats per warp.
  const auto or_time = [&](c choice) { return fit(choice, 1) ? choice : c::config_time; };
  switch (forward_tuning_row(a.batch, a.dim, a.groups, a.seqlen, a.dstate,
                             limits.multiprocessor_count,
                             a.saved_states.data != nullptr || workspace.data != nullptr,
                             int(sizeof(InT)))) {
    case forward_row::dstate1: return c::config_1;
    case forward_row::dstate16: return c::config_16;
    case forward_row::dstate16_rows64x2: return own_rows(c::config_16_rows64x2);
    case forward_row::dstate16_rows96x2: return own_rows(c::config_16_rows96x2);
    case forward_row::dstate16_rows128x2:
      return fit(c::config_16_rows64x2, 4) ? c::config_16_rows64x2 : own_rows(c::config_16_rows128x2);
    case forward_row::dstate64: return or_time(c::config_64);
    case forward_row::dstate128: return or_time(c::config_128);
    case forward_row::dstate256: return or_time(c::config_256);
    case forward_row::time_parallel: return c::config_time;
    case forward_row::unsupported: break;
  }
  return c::none;
}

/// @brief The backward configuration the default set runs `a` with on a device whose blocks may
///        take `limits.max_shared_memory_per_block_optin` bytes: by dstate, and at dstate 128
///        and 256 by what fits.
template <class InT, class OutT>
[[nodiscard]] backward_choice select_backward(const backward_args<InT, OutT>& a,
                                              const device_limits& limits) noexcept {
  using c = backward_choice;
  const auto fitting = [&](c choice, c smaller) {
    const int64_t bytes = detail::backward_smem_bytes(a, shape_of(choice));
    return bytes <= limits.max_shared_memory_per_block_optin ? choice : smaller;
  };
  const int64_t dstate = a.fwd.dstate;
  if (dstate < 1 || dstate > kDefaultMaxDState) return c::none;
  if (dstate <= 1) return c::config_1;
  if (dstate <= 16) return c::config_16;
  if (dstate <= 64) return c::config_64;
  if (dstate <= 128) return fitting(c::config_128, c::config_128_small);
  return fitting(c::config_256, c::config_256_small);
}

namespace detail {

inline status default_set_refusal(int64_t dstate, const char* pass) noexcept {
  return status::make(status_code::unsupported_dstate,
                      "dstate %lld exceeds %d, the largest MaxDState of the default set; "
                      "instantiate s6scan::%s<s6scan::%s_config<MaxDState, NRows>> with "
                      "MaxDState >= %lld",
                      (long long)dstate, kDefaultMaxDState, pass, pass, (long long)dstate);
}

/// @brief The default set's checks of a forward call that need no device: the arguments against
///        the largest configuration, then dstate against the set.
template <class InT, class OutT>
[[nodiscard]] status check_default_forward_args(const forward_args<InT, OutT>& a) noexcept {
  status s = check_forward_args(a, shape_of<InT>(forward_choice::config_256));
  if (s.code == status_code::unsupported_dstate) return default_set_refusal(a.dstate, "forward");
  if (s) s = check_saved_states(a);
  return s;
}

template <class InT, class OutT>
[[nodiscard]] status check_default_backward_args(const backward_args<InT, OutT>& a) noexcept {
  const status s = check_backward_args(a, shape_of(backward_choice::config_256));
  if (s.code == status_code::unsupported_dstate) return default_set_refusal(a.fwd.dstate, "backward");
  return s;
}

}  // namespace detail

/// @brief Bytes of scratch workspace that let a forward without saved states split time across
///        blocks on a device of `limits`, as one with saved states does: the saved states' size
///        where the default set would split this call, else 0 (and 0 when `a` saves states,
///        whose memory the split uses instead).
///
/// Without saved states or this workspace a call whose channels leave most SMs idle runs
/// unsplit: one thread walks each channel's whole sequence.
/// @param bytes receives the size, or 0 when the status is not success
template <class InT, class OutT>
[[nodiscard]] status forward_workspace_size(const forward_args<InT, OutT>& a,
                                            const device_limits& limits, size_t* bytes) noexcept {
  *bytes = 0;
  status s = detail::check_sizes(a);
  if (!s || a.saved_states.data) return s;
  int probe = 0;  // any non-null pointer: the choice asks only whether a workspace exists
  const forward_choice c = select_forward(a, limits, device_buffer{&probe, 0});
  if (c == forward_choice::none) return detail::default_set_refusal(a.dstate, "forward");
  if (c == forward_choice::config_time) return s;  // parallel in time without a workspace
  const kernel_shape k = shape_of<InT>(c);
  const int64_t blocks = detail::forward_grid_blocks(a.batch, a.dim, a.groups, k.rows);
  if (forward_time_segments(blocks, k.threads, a.seqlen, limits.multiprocessor_count) <= 1)
    return s;
  return saved_states_size(a, bytes);
}

/// @brief Checks the forward call the default set would make for `a` (with `workspace`) on a
///        device of `limits`, without a GPU: the arguments, then the chosen configuration's
///        resources.
template <class InT, class OutT>
[[nodiscard]] status check_forward(const forward_args<InT, OutT>& a, const device_limits& limits,
                                   const device_buffer& workspace = {}) noexcept {
  status s = detail::check_default_forward_args(a);
  if (s) s = detail::check_forward_workspace(a, workspace);
  if (!s) return s;
  return check_forward(a, shape_of<InT>(select_forward(a, limits, workspace)), limits);
}

/// @brief Checks the backward call the default set would make for `a` on a device of `limits`,
///        without a GPU.
template <class InT, class OutT>
[[nodiscard]] status check_backward(const backward_args<InT, OutT>& a,
                                    const device_limits& limits) noexcept {
  const status s = detail::check_default_backward_args(a);
  if (!s) return s;
  return check_backward(a, shape_of(select_backward(a, limits)), limits);
}

/// @brief Bytes of scratch workspace the default set's backward needs for `a` on a device of
///        `limits` (the choice at dstate 128 and 256 depends on its shared memory).
template <class InT, class OutT>
[[nodiscard]] status backward_workspace_size(const backward_args<InT, OutT>& a,
                                             const device_limits& limits, size_t* bytes) noexcept {
  *bytes = 0;
  const status s = detail::check_sizes(a.fwd);
  if (!s) return s;
  const backward_choice c = select_backward(a, limits);
  if (c == backward_choice::none) return detail::default_set_refusal(a.fwd.dstate, "backward");
  return backward_workspace_size(a, shape_of(c), bytes);
}

}  // namespace s6scan
