// SPDX-License-Identifier: MIT
#pragma once

// The default set: a few configurations covering dstate 1 to 256, chosen at run time by the
// tuning table (tuning.hpp: dstate, seqlen, channels per group, and the device's SM count for the
// forward; dstate for the backward). Including this header and calling s6scan::forward(args, ...)
// instantiates all of them for the argument types used (see the README for what that costs in
// compile time); a caller who needs one shape instantiates s6scan::forward<Config> directly, and a
// project that calls them from several files can compile them in one (instances.cuh).

#include <tuple>
#include <type_traits>

#include "backward.cuh"
#include "detail/device.cuh"
#include "forward.cuh"
#include "tuning.hpp"

namespace s6scan {

/// @brief TimeTile of the default rows whose threads read their own channels' raw rows: 32 steps
///        for 16-bit inputs, 16 for float32, whose block is then about a 16-bit block's size.
///
/// Those rows keep raw tiles of u, delta, z and the output, two stages of each, in shared memory.
/// At TimeTile 32 a float32 block of 128 rows takes 127,008 bytes, so one block runs per
/// multiprocessor and stalls at every barrier and load; at 16, 70,688. float32 forward ms on the
/// H200, TimeTile 16 against 32 (`s6scan_bench --nrows-study 1 --dtypes float32` at 883fd46;
/// bench/results/h200_nrows.txt): lm, 128 x 2, 0.766 against 0.909 (and 0.921 for 32 x 4 lanes,
/// the row float32 took before); lm with z 0.857 against 1.056 (32 x 4: 1.014); long32k, split,
/// 1.275 against 1.544 (32 x 4: 1.516); VMamba stages 1-4, 96 x 2 (55,072 bytes against 99,104:
/// four blocks fit instead of two), 1.523 / 0.750 / 0.408 / 0.329 against 1.605 / 0.823 / 0.478 /
/// 0.371. bfloat16 keeps 32 (`--nrows-study 1` with 67dc92e's kernels, 16 against 32): lm 0.735
/// against 0.618, stage 2 0.713 against 0.689; stages 3 and 4 gain 4-5% at 16 (0.442 against
/// 0.461, 0.320 against 0.338), which would take a second instantiation.
template <class InT>
inline constexpr int kOwnRowsTimeTile = sizeof(InT) >= 4 ? 16 : 32;

/// @brief The default forward configurations, one per row of the tuning table (forward_row, whose
///        comments give the measurements that chose them), smallest MaxDState first.
///
/// Each thread keeps 16 states (one state when dstate is 1; 4 in the general dstate-16 row, 8 in
/// its two-lane rows and at dstate 64); larger dstate spreads a channel's states over 8 or 16
/// lanes. The rows whose threads read their own channels' raw rows (64, 96 and 128 channels of 2
/// lanes) depend on the input type through their TimeTile (kOwnRowsTimeTile), and the dstate-256
/// row through its channels per block.
using default_config_1 = forward_config<1, 64, 32, 1>;
using default_config_16 = forward_config<16, 32, 32, 4>;
/// The 64-row block of 2 lanes (128 threads) leaves the registers to the compiler: 122 in
/// bfloat16 and 128 in float32 for the scan, so 4 blocks fit an SM by registers, and by shared
/// memory (51,744 bytes in 16-bit types at TimeTile 32, 44,576 in float32 at 16) where there is
/// no z; with z, 16-bit inputs fit 3 (61,984 bytes), as many warps as the 96-row block's 2.
template <class InT>
using default_config_16_rows64x2 = forward_config<16, 64, kOwnRowsTimeTile<InT>, 8>;
/// The 96-row block asks the compiler to fit 3 blocks per SM (at most 112 registers), the most its
/// shared memory allows on the H200 without z: left to itself ptxas aimed at 4 and gave it 80
/// registers with spills.
template <class InT>
using default_config_16_rows96x2 = forward_config<16, 96, kOwnRowsTimeTile<InT>, 8, 3>;
/// The 128-row block asks for 2 (at most 128 registers), what its shared memory allows: left to
/// itself ptxas gave its time split's carry pass 172 registers in 16-bit types, one block per SM.
template <class InT>
using default_config_16_rows128x2 = forward_config<16, 128, kOwnRowsTimeTile<InT>, 8, 2>;
using default_config_64 = forward_config<64, 32, 32, 8>;
using default_config_128 = forward_config<128, 32, 16, 16>;
/// The dstate-256 row takes 32 channels a block for float32 inputs, 16 for 16-bit ones: a
/// float32 block's raw B/C tiles (shared by its channels) leave room for one block per SM, so
/// 16 channels left half the warps 16-bit inputs get (`--nrows-study 1`, N256 forward: float32
/// 3.252 ms at 16 rows, 2.479 at 32; bfloat16 2.376 at 16, 2.466 at 32).
template <class InT>
using default_config_256 = forward_config<256, sizeof(InT) >= 4 ? 32 : 16, 16, 16>;

/// @brief The default backward configurations. Each thread keeps 4 states (8 at dstate 256, 4 at a
///        time) and the states before each of TimeTile steps in registers; 128 threads per block
///        (64 at dstate 1, 256 at dstate 64 and 256, 512 at dstate 128).
///
/// Chosen by `s6scan_bench --backward-study 1` on the H200 (backward ms, bench/NOTES.md):
/// lm `<16, 32, 16, 4>` 5.00 (TimeTile 8: 5.11; 64 rows: 5.37; 8 lanes: 5.39); N64
/// `<64, 16, 8, 4>` 5.12 (`<64, 8, 16, 4>`: 5.92); VMamba stages 1-4 at dstate 1 (one lane per
/// channel, working from its raw rows; bench/results/h200_backward_study_N1.txt), `<1, 64, 16, 1>`
/// against `<1, 128, 16, 1>`: bfloat16 2.35 / 3.91, 1.17 / 1.13, 0.842 / 0.819, 0.692 / 0.688;
/// float32 2.72 / 4.53, 1.37 / 1.31, 0.819 / 0.791, 0.800 / 0.814. 128 rows lose stage 1 by
/// half a block per group (192 channels), and gain at most 5% elsewhere; 32 rows, TimeTile 8 or
/// 32, and a register cap for 8 blocks per SM (`MinBlocksPerSM` 8: 0.614 at stage 4, but 1.32 at
/// stage 2) were slower or mixed. N128 `<128, 16, 8, 4>` 9.76 (8 rows: 10.49; 4 rows: 13.50), one
/// channel per warp (bench/results/h200_backward_study_N256.txt, 748d134). N256, in parts of 4
/// states (backward_state_parts), `<256, 8, 8, 8, 2>` 17.27 (no register cap, so one block per SM:
/// 24.98; 4 rows: 24.60; same file, f1972a7). Those two need 152 and 100 KiB of shared memory in
/// bfloat16 (N256: without z); where the device allows less, the default set takes the `_small`
/// rows (84 and 66 KiB).
using default_backward_config_1 = backward_config<1, 64, 16, 1>;
using default_backward_config_16 = backward_config<16, 32, 16, 4>;
using default_backward_config_64 = backward_config<64, 16, 8, 4>;
using default_backward_config_128 = backward_config<128, 16, 8, 4>;
using default_backward_config_128_small = backward_config<128, 8, 8, 4>;
using default_backward_config_256 = backward_config<256, 8, 8, 8, 2>;
using default_backward_config_256_small = backward_config<256, 4, 8, 8>;

/// @brief The largest dstate the default set accepts.
inline constexpr int kDefaultMaxDState = default_config_256<float>::kMaxDState;

/// @brief The default set's configurations as X-macros: `X(InT, OutT, Config)` for each forward
///        and each backward configuration the dispatchers below may pick for that type pair.
///
/// instances.cuh declares and defines the launchers from these lists, so that a project can
/// compile the default set once (S6SCAN_INSTANTIATE_DEFAULT_FORWARD). The dispatchers refuse at
/// compile time to pick a configuration missing here (listed_default).
#define S6SCAN_DEFAULT_FORWARD_CONFIGS(X, InT, OutT)                                           \
  X(InT, OutT, ::s6scan::default_config_1)                                                     \
  X(InT, OutT, ::s6scan::default_config_16)                                                    \
  X(InT, OutT, ::s6scan::default_config_16_rows64x2<InT>)                                      \
  X(InT, OutT, ::s6scan::default_config_16_rows96x2<InT>)                                      \
  X(InT, OutT, ::s6scan::default_config_16_rows128x2<InT>)                                     \
  X(InT, OutT, ::s6scan::default_config_64)                                                    \
  X(InT, OutT, ::s6scan::default_config_128)                                                   \
  X(InT, OutT, ::s6scan::default_config_256<InT>)
#define S6SCAN_DEFAULT_BACKWARD_CONFIGS(X, InT, OutT)                                          \
  X(InT, OutT, ::s6scan::default_backward_config_1)                                            \
  X(InT, OutT, ::s6scan::default_backward_config_16)                                           \
  X(InT, OutT, ::s6scan::default_backward_config_64)                                           \
  X(InT, OutT, ::s6scan::default_backward_config_128)                                          \
  X(InT, OutT, ::s6scan::default_backward_config_128_small)                                    \
  X(InT, OutT, ::s6scan::default_backward_config_256)                                          \
  X(InT, OutT, ::s6scan::default_backward_config_256_small)

namespace detail {

// The lists above as types: std::tuple<void, Config...> (the void takes the leading comma).
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

inline status default_set_refusal(int64_t dstate, const char* pass) noexcept {
  return status::make(status_code::unsupported_dstate,
                      "dstate %lld exceeds %d, the largest MaxDState of the default set; "
                      "instantiate s6scan::%s<s6scan::%s_config<MaxDState, NRows>> with "
                      "MaxDState >= %lld",
                      (long long)dstate, kDefaultMaxDState, pass, pass, (long long)dstate);
}

/// @brief Calls `f(Config{})` with the configuration the tuning table picks for `a` on the current
///        device, or returns why none applies.
///
/// A dstate-16 row of one or two lanes falls back to the general dstate-16 row where two of its
/// blocks do not fit on a multiprocessor (two_blocks_fit), which also covers a block over the
/// device's limit. On the H200 every such row fits twice in every type (float32 at TimeTile 16)
/// but one: 128 rows with z and a float32 output from 16-bit inputs take 129,056 bytes (18,432 of
/// them the tile of the states saved every 16 steps, forward_smem_layout::ckpt), so that call
/// runs the 32 x 4 row. The 128-row row runs 64 rows of 2 lanes where four such blocks fit a
/// multiprocessor: on the H200 every call but 16-bit inputs with z.
/// `can_split`: the call has a workspace, so it may split time (forward_time_segments).
template <class InT, class OutT, class F>
[[nodiscard]] status with_default_config(const forward_args<InT, OutT>& a, bool can_split,
                                         F&& f) noexcept {
  device_limits limits;
  int device = 0;
  const status s = current_device_limits(&limits, &device);
  if (!s) return s;
  const auto use = [&](auto cfg) {
    static_assert(listed_default<decltype(cfg), default_forward_configs<InT>>::value,
                  "every configuration picked here is in S6SCAN_DEFAULT_FORWARD_CONFIGS");
    return f(cfg);
  };
  // Whether k blocks of cfg fit one multiprocessor's shared memory (and one fits a block's).
  const auto fit = [&](auto cfg, int k) {
    const int64_t bytes = forward_smem_bytes(a, shape_of<decltype(cfg)>());
    return bytes <= limits.max_shared_memory_per_block_optin && blocks_fit(k, bytes, limits);
  };
  const auto own_rows = [&](auto cfg) {
    return fit(cfg, 2) ? use(cfg) : use(default_config_16{});
  };
  switch (forward_tuning_row(a.batch, a.dim, a.groups, a.seqlen, a.dstate,
                             limits.multiprocessor_count, can_split)) {
    case forward_row::dstate1: return use(default_config_1{});
    case forward_row::dstate16: return use(default_config_16{});
    case forward_row::dstate16_rows64x2: return own_rows(default_config_16_rows64x2<InT>{});
    case forward_row::dstate16_rows96x2: return own_rows(default_config_16_rows96x2<InT>{});
    case forward_row::dstate16_rows128x2: {
      // 64 x 2 in its place where four of its blocks fit an SM (16 warps, as two 128-row blocks
      // give; 128 divides the group, so 64 does). H200, forward ms, bfloat16 / float32 (study of
      // 2026-12-03, bench/results/h200_nrows.txt): lm 0.520 / 0.617 against 0.541 / 0.636; the
      // long sequence, split, 0.920 / 1.066 against 1.015 / 1.096; lm with z in float32 0.669
      // against 0.686. With z a 16-bit block needs 61,984 bytes, so 3 fit, and lm with z took
      // 0.661 against 0.587: that call keeps 128 x 2.
      if (fit(default_config_16_rows64x2<InT>{}, 4)) return use(default_config_16_rows64x2<InT>{});
      return own_rows(default_config_16_rows128x2<InT>{});
    }
    case forward_row::dstate64: return use(default_config_64{});
    case forward_row::dstate128: return use(default_config_128{});
    case forward_row::dstate256: return use(default_config_256<InT>{});
    case forward_row::unsupported: break;
  }
  // dstate 0 or negative reaches the checks of the smallest configuration, which name it.
  if (a.dstate < 1) return use(default_config_1{});
  return default_set_refusal(a.dstate, "forward");
}

/// @brief Calls `f(Config{})` with the default backward configuration for `a` on a device that
///        allows `smem_optin` bytes of shared memory per block, or returns why none applies. By
///        dstate; at dstate 128 and 256 also by what fits.
template <class InT, class OutT, class F>
[[nodiscard]] status pick_backward_config(const backward_args<InT, OutT>& a, int64_t smem_optin,
                                          F&& f) noexcept {
  const auto use = [&](auto cfg) {
    static_assert(listed_default<decltype(cfg), default_backward_configs>::value,
                  "every configuration picked here is in S6SCAN_DEFAULT_BACKWARD_CONFIGS");
    return f(cfg);
  };
  const auto fitting = [&](auto cfg, auto smaller) {
    if (backward_smem_bytes(a, shape_of<decltype(cfg)>()) <= smem_optin) return use(cfg);
    return use(smaller);
  };
  const int64_t dstate = a.fwd.dstate;
  if (dstate <= 1) return use(default_backward_config_1{});
  if (dstate <= 16) return use(default_backward_config_16{});
  if (dstate <= 64) return use(default_backward_config_64{});
  if (dstate <= 128)
    return fitting(default_backward_config_128{}, default_backward_config_128_small{});
  if (dstate <= 256)
    return fitting(default_backward_config_256{}, default_backward_config_256_small{});
  return default_set_refusal(dstate, "backward");
}

/// @brief The backward's counterpart of with_default_config: pick_backward_config on the current
///        device (queried only for dstate above 64).
template <class InT, class OutT, class F>
[[nodiscard]] status with_default_backward_config(const backward_args<InT, OutT>& a,
                                                  F&& f) noexcept {
  device_limits limits;
  if (a.fwd.dstate > 64 && a.fwd.dstate <= 256) {
    int device = 0;
    const status s = current_device_limits(&limits, &device);
    if (!s) return s;
  }
  return pick_backward_config(a, limits.max_shared_memory_per_block_optin, f);
}

}  // namespace detail

/// @brief Checks the forward call forward(a, workspace, workspace_bytes) would make: the
///        configuration the default set picks for it and the workspace. Launches nothing.
template <class InT, class OutT>
[[nodiscard]] status forward_can_implement(const forward_args<InT, OutT>& a,
                                           const void* workspace = nullptr,
                                           size_t workspace_bytes = 0) noexcept {
  return detail::with_default_config(a, workspace != nullptr, [&](auto cfg) {
    const status s = forward_can_implement<decltype(cfg)>(a);
    return s ? check_workspace(a, workspace, workspace_bytes) : s;
  });
}

/// @brief Runs the forward scan with the default configuration for a.dstate.
/// @see forward<Config>
template <class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a, void* workspace,
                             size_t workspace_bytes, cudaStream_t stream = nullptr) noexcept {
  return detail::with_default_config(a, workspace != nullptr, [&](auto cfg) {
    return forward<decltype(cfg)>(a, workspace, workspace_bytes, stream);
  });
}

/// @brief Bytes of workspace the default backward configuration for a.fwd.dstate needs
///        (0 when dstate is outside the default set).
template <class InT, class OutT>
[[nodiscard]] size_t backward_workspace_size(const backward_args<InT, OutT>& a) noexcept {
  size_t bytes = 0;
  (void)detail::with_default_backward_config(a, [&](auto cfg) {
    bytes = backward_workspace_size<decltype(cfg)>(a);
    return status{};
  });
  return bytes;
}

/// @brief Checks a backward call against the configuration the default set would pick.
template <class InT, class OutT>
[[nodiscard]] status backward_can_implement(const backward_args<InT, OutT>& a) noexcept {
  return detail::with_default_backward_config(a, [&](auto cfg) {
    return backward_can_implement<decltype(cfg)>(a);
  });
}

/// @brief Runs the backward scan with the default configuration for a.fwd.dstate.
/// @see backward<Config>
template <class InT, class OutT>
[[nodiscard]] status backward(const backward_args<InT, OutT>& a, const void* states,
                              size_t states_bytes, void* workspace, size_t workspace_bytes,
                              cudaStream_t stream = nullptr) noexcept {
  return detail::with_default_backward_config(a, [&](auto cfg) {
    return backward<decltype(cfg)>(a, states, states_bytes, workspace, workspace_bytes, stream);
  });
}

}  // namespace s6scan
