// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief The backward selective scan of one configuration: size the workspace, check, run.
///
///   auto g = s6scan::backward_args<__nv_bfloat16>::of(a);  // a: the forward's arguments
///   g.dout.data = dout; g.du.data = du; ...                 // device pointers
///   using cfg = s6scan::backward_config<16, 32>;           // MaxDState 16, 32 channels per block
///   size_t bytes = 0;
///   s6scan::backward_workspace_size<cfg>(g, &bytes);
///   s6scan::status s = s6scan::backward<cfg>(g, {ws, bytes}, stream);
///
/// What the caller keeps between forward and backward: the forward's inputs (u, delta, A, B, C, D,
/// delta_bias, z, initial_state) and the states the forward saved (`fwd.saved_states`). Nothing
/// else: out is not needed, and the backward recomputes every state from the saved ones.
///
/// The result is deterministic: the same call on the same GPU gives the same bits (every sum has a
/// fixed order; no atomics). The backward's own workspace holds per-batch and per-block partial sums
/// (see backward_workspace_layout); it needs no initialisation and may be reused between calls.

#include <cuda_runtime.h>

#include <algorithm>
#include <initializer_list>
#include <type_traits>

#include "args.hpp"
#include "checks.hpp"
#include "config.hpp"
#include "detail/backward_kernel.cuh"
#include "detail/backward_reduce.cuh"
#include "detail/device.cuh"
#include "forward.cuh"
#include "status.hpp"

namespace s6scan {

/// @brief Bytes of workspace the backward with configuration `Config` needs for these arguments.
/// @param bytes receives the size, or 0 when the status is not success
template <class Config, class InT, class OutT>
[[nodiscard]] status backward_workspace_size(const backward_args<InT, OutT>& a,
                                             size_t* bytes) noexcept {
  static_assert(is_backward_config_v<Config>,
                "s6scan::backward_workspace_size<Config>: Config must be a backward_config");
  return backward_workspace_size(a, shape_of<Config>(), bytes);
}

/// @brief Checks a backward call against this configuration and the current device: the
///        arguments first, then the device (queried once per device).
template <class Config, class InT, class OutT>
[[nodiscard]] status backward_can_implement(const backward_args<InT, OutT>& a) noexcept {
  static_assert(is_backward_config_v<Config>,
                "s6scan::backward_can_implement<Config>: Config must be a backward_config");
  status s = detail::check_backward_args(a, shape_of<Config>());
  if (!s) return s;
  device_limits limits;
  s = query_device_limits(&limits);
  return s ? check_backward(a, shape_of<Config>(), limits) : s;
}

namespace detail {

/// @brief backward<Config> with `segments` time segments per launch (0: backward_time_segments
///        decides; more than the workspace has room for, or than a launch has chunks, are
///        reduced to that).
template <class Config, class InT, class OutT>
[[nodiscard]] status backward_segmented(const backward_args<InT, OutT>& a,
                                        const device_buffer& workspace_buffer,
                                        cudaStream_t stream, int segments) noexcept {
  static_assert(is_backward_config_v<Config>,
                "s6scan::backward<Config>: Config must be a backward_config (a forward_config "
                "goes to s6scan::forward)");
  const kernel_shape k = shape_of<Config>();
  // The arguments first, then the device: a bad call is named as such on any machine.
  status s = check_backward_args(a, k);
  if (s) s = check_backward_workspace(a, k, workspace_buffer);
  if (!s) return s;
  device_limits limits;
  int device = 0;
  s = current_device_limits(&limits, &device);
  if (s) s = check_backward(a, k, limits);
  if (!s) return s;
  const void* const states = a.fwd.saved_states.data;
  void* const workspace = workspace_buffer.data;

  const auto& f = a.fwd;
  backward_params<InT, OutT> p{};
  p.a = a;
  p.smem = make_backward_smem_layout(Config::kRows, Config::kTimeTile, Config::kChunkSteps,
                                     Config::kStatesPerThread, Config::kThreads, f.dstate,
                                     int(sizeof(InT)), int(sizeof(OutT)), f.z.data != nullptr,
                                     f.B.data != nullptr, f.C.data != nullptr);
  p.w = make_backward_workspace_layout(a, k);
  p.states = static_cast<const float*>(states);
  p.ws = static_cast<float*>(workspace);
  p.dim_per_group = f.dim / f.groups;
  p.blocks_per_group = int(p.w.blocks_per_group);
  // The forward's inputs' vector bits, plus dout's and the gradients'.
  set_input_piece_bits(p, f);
  set_piece_bits(p, a.dout.data, {a.dout.batch_stride, a.dout.dim_stride}, kVecDout);
  // The gradients one lane per channel stores in 16-byte or small pieces.
  set_piece_bits(p, a.du.data, {a.du.batch_stride, a.du.dim_stride}, kVecGradU);
  set_piece_bits(p, a.ddelta.data, {a.ddelta.batch_stride, a.ddelta.dim_stride}, kVecGradDelta);
  set_piece_bits(p, a.dz.data, {a.dz.batch_stride, a.dz.dim_stride}, kVecGradZ);

  // Segments of whole chunks; every launch (window) uses the same length, so the first, which is
  // the longest, has the most, and its per-segment sums cover every later one's.
  const int64_t blocks = forward_grid_blocks(f.batch, f.dim, f.groups, Config::kRows);
  if (segments <= 0)
    segments = backward_time_segments(blocks, Config::kThreads, p.w.window_chunks,
                                      limits.multiprocessor_count);
  const int64_t most = std::min<int64_t>(p.w.segments, limits.max_grid_x / blocks);
  if (segments > most) segments = int(most);
  if (segments < 1) segments = 1;
  p.blocks_per_segment = blocks;
  p.segment_chunks = (p.w.window_chunks + segments - 1) / segments;
  p.sum_segments = int((p.w.window_chunks + p.segment_chunks - 1) / p.segment_chunks);

  const int64_t smem = p.smem.total;
  const auto full = backward_kernel<Config, InT, OutT, false>;
  const auto carry = backward_kernel<Config, InT, OutT, true>;
  if (smem > 48 * 1024) {
    using targs = backward_args<InT, OutT>;
    s = opt_in_shared_memory<tag<Config, InT, OutT, targs>>(full, device, limits);
    if (s && p.sum_segments > 1)
      s = opt_in_shared_memory<tag<Config, InT, OutT, targs, std::true_type>>(carry, device, limits);
    if (!s) return s;
  }
  const unsigned sum_blocks = unsigned(limits.multiprocessor_count * 8);
  const bool var_bc = f.B.data || f.C.data;
  constexpr int kCombineThreads = 256;
  const int64_t bdn = f.batch * f.dim * f.dstate;
  for (int64_t end = p.w.num_chunks; end > 0; end -= p.w.window_chunks) {
    p.chunk_end = end;
    p.chunk_begin = end > p.w.window_chunks ? end - p.w.window_chunks : 0;
    p.num_segments = int((end - p.chunk_begin + p.segment_chunks - 1) / p.segment_chunks);
    if (p.num_segments > 1) {
      carry<<<unsigned(blocks * (p.num_segments - 1)), Config::kThreads, size_t(smem), stream>>>(p);
      backward_combine_kernel<InT, OutT><<<unsigned((bdn + kCombineThreads - 1) / kCombineThreads),
                                           kCombineThreads, 0, stream>>>(p);
    }
    full<<<unsigned(blocks * p.num_segments), Config::kThreads, size_t(smem), stream>>>(p);
    if (var_bc) backward_sum_bc_kernel<InT, OutT><<<sum_blocks, 256, 0, stream>>>(p);
  }
  backward_sum_batches_kernel<InT, OutT><<<sum_blocks, 256, 0, stream>>>(p);
  return cuda_status(cudaGetLastError(), "backward kernel launch");
}

}  // namespace detail

/// @brief Runs the backward selective scan with configuration `Config`.
///
/// Writes every gradient `a` points at. Runs one launch of the scan kernel per window of chunks
/// (one window unless time-varying dB/dC partials exceed kBackwardPartialBudget), then the
/// reduction kernels, all on `stream`. When the channels give few blocks (backward_time_segments)
/// each window is split in time: a carry pass and a combine run before its scan. Asynchronous,
/// as the forward: the status covers the checks and the launches.
///
/// @param a          the forward's arguments (with its saved states), dout, the optional
///                   last-state gradient, and the gradients to write (see backward_args)
/// @param workspace  device memory of backward_workspace_size<Config>(a) bytes
/// @param stream     the stream to run on
/// @return success, or why the call was refused (nothing was launched then)
template <class Config, class InT, class OutT>
[[nodiscard]] status backward(const backward_args<InT, OutT>& a, const device_buffer& workspace,
                              cudaStream_t stream = nullptr) noexcept {
  return detail::backward_segmented<Config>(a, workspace, stream, 0);
}

}  // namespace s6scan
