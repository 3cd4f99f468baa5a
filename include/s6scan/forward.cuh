// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief The forward selective scan of one configuration: check, then run.
///
///   auto a = s6scan::forward_args<__nv_bfloat16>::contiguous(8, 4096, 2048, 16);
///   a.u.data = u; ...                                     // device pointers
///   size_t bytes = 0;
///   s6scan::saved_states_size(a, &bytes);                 // for a backward; skip for inference
///   a.saved_states = {states, bytes};
///   using cfg = s6scan::forward_config<16, 64>;           // MaxDState 16, 64 channels per block
///   s6scan::status s = s6scan::forward<cfg>(a, stream);
///
/// Saved states: when `a.saved_states` is set the forward writes, for every (batch, channel), the
/// state after steps K-1, 2K-1, ... and after the last step, K = checkpoint_steps(dstate), as
/// floats laid out (batch, dim, chunks, dstate), chunks = checkpoint_chunks(seqlen, dstate). A
/// backward reads them instead of rerunning the scan from the start; keep them and the forward's
/// inputs unchanged between the two. The same memory holds a time split's segment results
/// (forward_time_segments); a call without saved states splits time only when given a scratch
/// workspace of forward_workspace_size bytes in their place.

#include <cuda_runtime.h>

#include <cstdint>
#include <algorithm>
#include <initializer_list>
#include <type_traits>

#include "args.hpp"
#include "checks.hpp"
#include "config.hpp"
#include "detail/device.cuh"
#include "detail/forward_combine.cuh"
#include "detail/forward_kernel.cuh"
#include "detail/forward_time_kernel.cuh"
#include "status.hpp"
#include "tuning.hpp"

namespace s6scan {

namespace detail {

template <class...>
struct tag {};

/// @brief Whether rows of T at `p` with these strides (in elements) move in Bytes-byte pieces.
template <int Bytes, class T>
bool rows_aligned(const T* p, std::initializer_list<int64_t> strides) {
  constexpr int64_t n = Bytes / sizeof(T);
  static_assert(n >= 1, "a piece holds at least one element");
  if (reinterpret_cast<uintptr_t>(p) % Bytes != 0) return false;
  for (int64_t s : strides)
    if (s % n != 0) return false;
  return true;
}

/// @brief Sets `bit` in the params' (forward_params or backward_params) `vec` where rows of T at
///        `ptr` with these strides move in 16-byte pieces, and in `vec_small` where they move in
///        small_piece_bytes<T> pieces (piece_for reads them). A null tensor sets neither.
template <class T, class Params>
void set_piece_bits(Params& p, const T* ptr, std::initializer_list<int64_t> strides, unsigned bit) {
  if (ptr == nullptr) return;
  if (rows_aligned<16>(ptr, strides)) p.vec |= bit;
  if (rows_aligned<small_piece_bytes<T>()>(ptr, strides)) p.vec_small |= bit;
}

/// @brief The bits of the forward's inputs u, delta, z, B and C (forward and backward params).
template <class Params, class InT, class OutT>
void set_input_piece_bits(Params& p, const forward_args<InT, OutT>& a) {
  set_piece_bits(p, a.u.data, {a.u.batch_stride, a.u.dim_stride}, kVecU);
  set_piece_bits(p, a.delta.data, {a.delta.batch_stride, a.delta.dim_stride}, kVecDelta);
  set_piece_bits(p, a.z.data, {a.z.batch_stride, a.z.dim_stride}, kVecZ);
  set_piece_bits(p, a.B.data, {a.B.batch_stride, a.B.group_stride, a.B.state_stride}, kVecB);
  set_piece_bits(p, a.C.data, {a.C.batch_stride, a.C.group_stride, a.C.state_stride}, kVecC);
}

/// @brief What both forward kernels' params (forward_params, forward_time_params) hold alike:
///        the arguments, the group size, the saved states' chunks and where they go, and which
///        rows move in which pieces.
template <class Params, class InT, class OutT>
void set_forward_common(Params& p, const forward_args<InT, OutT>& a, void* checkpoints) {
  p.a = a;
  p.dim_per_group = a.dim / a.groups;
  p.chunk_steps = checkpoint_steps(a.dstate);
  p.num_chunks = checkpoint_chunks(a.seqlen, a.dstate);
  p.checkpoints = static_cast<float*>(checkpoints);
  set_input_piece_bits(p, a);
  set_piece_bits(p, a.out.data, {a.out.batch_stride, a.out.dim_stride}, kVecOut);
}

template <class Config, class InT, class OutT>
forward_params<InT, OutT> make_forward_params(const forward_args<InT, OutT>& a, void* workspace) {
  forward_params<InT, OutT> p{};
  set_forward_common(p, a, workspace);
  p.smem = make_forward_smem_layout(Config::kRows, Config::kTimeTile, Config::kStatesPerThread,
                                    Config::kLanesPerRow, a.dstate, int(sizeof(InT)),
                                    int(sizeof(OutT)), a.z.data != nullptr, a.B.data != nullptr,
                                    a.C.data != nullptr);
  p.blocks_per_group = int((p.dim_per_group + Config::kRows - 1) / Config::kRows);
  p.num_tiles = int((a.seqlen + Config::kTimeTile - 1) / Config::kTimeTile);
  p.ckpt_vec = a.dstate % 4 == 0 && reinterpret_cast<uintptr_t>(workspace) % 16 == 0;
  p.blocks_per_segment = forward_grid_blocks(a.batch, a.dim, a.groups, Config::kRows);
  p.segment_tiles = p.num_tiles;
  p.segment_chunks = int(p.num_chunks);
  p.num_segments = 1;
  return p;
}

}  // namespace detail

/// @brief Checks a forward call against this configuration and the current device.
///
/// The arguments are checked before the device is queried (cached after the first call per
/// device); launches nothing.
template <class Config, class InT, class OutT>
[[nodiscard]] status forward_can_implement(const forward_args<InT, OutT>& a) noexcept {
  static_assert(is_forward_config_v<Config>,
                "s6scan::forward_can_implement<Config>: Config must be a forward_config");
  status s = detail::check_forward_args(a, shape_of<Config>());
  if (s) s = check_saved_states(a);
  if (!s) return s;
  device_limits limits;
  s = query_device_limits(&limits);
  return s ? check_forward(a, shape_of<Config>(), limits) : s;
}

namespace detail {

/// @brief Launches the time-parallel kernel of a forward_time_config on checked arguments.
template <class Config, class InT, class OutT>
[[nodiscard]] status launch_forward_time(const forward_args<InT, OutT>& a,
                                         cudaStream_t stream) noexcept {
  forward_time_params<InT, OutT> p{};
  set_forward_common(p, a, a.saved_states.data);
  p.blocks_per_group = (p.dim_per_group + Config::kRows - 1) / Config::kRows;
  const int64_t blocks = forward_grid_blocks(a.batch, a.dim, a.groups, Config::kRows);
  const size_t smem = size_t(Config::kRows) * size_t(a.dstate) * sizeof(float);
  forward_time_kernel<Config, InT, OutT><<<unsigned(blocks), Config::kThreads, smem, stream>>>(p);
  return cuda_status(cudaGetLastError(), "forward kernel launch");
}

/// @brief Launches a forward_config's kernels on checked arguments: the time split's carry pass
///        and combine when it splits (`segments`, 0: forward_time_segments decides), then the scan.
template <class Config, class InT, class OutT>
[[nodiscard]] status launch_forward_channels(const forward_args<InT, OutT>& a,
                                             const device_buffer& scratch, cudaStream_t stream,
                                             int segments, const device_limits& limits,
                                             int device) noexcept {
  status s;
  // The saved states, or the scratch in their place: the time split keeps its segments' results
  // in checkpoint slots.
  void* const workspace = a.saved_states.data ? a.saved_states.data : scratch.data;
  auto p = make_forward_params<Config>(a, workspace);
  const int64_t blocks = p.blocks_per_segment;
  if (segments <= 0)
    segments = forward_time_segments(blocks, Config::kThreads, a.seqlen, limits.multiprocessor_count);
  // Segments of whole spans of kMaxCheckpointSteps steps (whole chunks and whole tiles), at
  // least 2 of them (forward_kernel.cuh keeps two results in a segment's chunks).
  const int64_t spans = checkpoint_spans(a.seqlen);
  const int64_t most = std::min<int64_t>(spans / 2, limits.max_grid_x / blocks);
  if (segments > most) segments = int(most);
  if (workspace && segments > 1) {
    const int64_t segment_spans = (spans + segments - 1) / segments;
    p.segment_chunks = int(segment_spans * (kMaxCheckpointSteps / p.chunk_steps));
    p.num_segments = int((spans + segment_spans - 1) / segment_spans);
    p.segment_tiles = int(segment_spans * (kMaxCheckpointSteps / Config::kTimeTile));
  }
  const int64_t smem = p.smem.total;
  const auto full = forward_kernel<Config, InT, OutT, false>;
  const auto carry = forward_kernel<Config, InT, OutT, true>;
  // Two lanes per channel: as many blocks per SM as forward_blocks_per_sm says, by asking for
  // the shared memory that keeps one more out (the padding is not touched).
  constexpr bool kHoldBlocks = Config::kLanesPerRow == 2;
  if (smem > 48 * 1024 || kHoldBlocks) {
    s = opt_in_shared_memory<tag<Config, InT, OutT>>(full, device, limits);
    if (s && p.num_segments > 1)
      s = opt_in_shared_memory<tag<Config, InT, OutT, std::true_type>>(carry, device, limits);
    if (!s) return s;
  }
  int64_t full_smem = smem;
  if (kHoldBlocks && limits.max_shared_memory_per_multiprocessor > 0) {
    int fit = 0;
    s = blocks_that_fit<tag<Config, InT, OutT>>(full, Config::kThreads, smem, device, &fit);
    if (!s) return s;
    const int k = forward_blocks_per_sm(blocks * p.num_segments, fit, limits.multiprocessor_count);
    if (k < fit) full_smem = shared_memory_holding(k, smem, limits);
  }
  if (p.num_segments > 1) {
    carry<<<unsigned(blocks * (p.num_segments - 1)), Config::kThreads, size_t(smem), stream>>>(p);
    s = cuda_status(cudaGetLastError(), "forward carry-pass launch");
    if (!s) return s;
    constexpr int kCombineThreads = 256;
    const int64_t n = a.batch * a.dim * a.dstate;
    forward_combine_kernel<<<unsigned((n + kCombineThreads - 1) / kCombineThreads),
                             kCombineThreads, 0, stream>>>(p);
    s = cuda_status(cudaGetLastError(), "forward combine launch");
    if (!s) return s;
  }
  full<<<unsigned(blocks * p.num_segments), Config::kThreads, size_t(full_smem), stream>>>(p);
  return cuda_status(cudaGetLastError(), "forward kernel launch");
}

/// @brief forward<Config> with `segments` time segments (0: forward_time_segments decides; more
///        than the sequence allows are reduced to that). Without saved states or a scratch
///        workspace time is not split.
template <class Config, class InT, class OutT>
[[nodiscard]] status forward_segmented(const forward_args<InT, OutT>& a,
                                       const device_buffer& scratch, cudaStream_t stream,
                                       int segments) noexcept {
  static_assert(is_forward_config_v<Config>,
                "s6scan::forward<Config>: Config must be a forward_config (a backward_config "
                "goes to s6scan::backward)");
  // The arguments first, then the device: a bad call is named as such on any machine.
  status s = check_forward_args(a, shape_of<Config>());
  if (s) s = check_saved_states(a);
  if (s) s = check_forward_workspace(a, scratch);
  if (!s) return s;
  device_limits limits;
  int device = 0;
  s = current_device_limits(&limits, &device);
  if (s) s = check_forward(a, shape_of<Config>(), limits);
  if (!s) return s;
  // Warps scan time in parallel: no split across blocks, and no use for a scratch workspace.
  if constexpr (steps_per_lane_v<Config> > 0)
    return launch_forward_time<Config>(a, stream);
  else
    return launch_forward_channels<Config>(a, scratch, stream, segments, limits, device);
}

}  // namespace detail

/// @brief Runs the forward selective scan with configuration `Config`.
///
/// When the channels give fewer blocks than the device has SMs and the call saves states (or has
/// a scratch `workspace` of forward_workspace_size bytes), time is split across blocks
/// (forward_time_segments): two more launches, a carry pass and a combine, run before the scan.
///
/// The call is asynchronous: the returned status covers the checks and the launches, not the
/// kernels' execution, whose errors the stream reports as any CUDA kernel's.
///
/// A forward_time_config runs one kernel, parallel in time within each channel, and never
/// splits or uses the workspace.
///
/// @tparam Config    a forward_config or forward_time_config; its MaxDState must be at least
///                   a.dstate
/// @param a          sizes, device pointers, strides and the optional saved states (forward_args)
/// @param workspace  scratch for a call without saved states: empty, or at least
///                   saved_states_size(a) bytes; unused when `a` saves states
/// @param stream     the stream to run on
/// @return success, or why the call was refused (nothing was launched then)
template <class Config, class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a, const device_buffer& workspace,
                             cudaStream_t stream = nullptr) noexcept {
  return detail::forward_segmented<Config>(a, workspace, stream, 0);
}

/// @brief forward<Config>(a, {}, stream): no scratch workspace.
template <class Config, class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a,
                             cudaStream_t stream = nullptr) noexcept {
  return detail::forward_segmented<Config>(a, device_buffer{}, stream, 0);
}

}  // namespace s6scan
