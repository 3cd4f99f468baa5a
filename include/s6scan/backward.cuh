// SPDX-License-Identifier: MIT
#pragma once

// The backward selective scan of one configuration: check, size the workspace, run.
//
//   s6scan::backward_args<__nv_bfloat16> g = ...;       // g.fwd: the forward's arguments, unchanged
//   using cfg = s6scan::backward_config<16, 32>;        // MaxDState 16, 32 channels per block
//   size_t ws_bytes = s6scan::backward_workspace_size<cfg>(g);
//   s6scan::status s = s6scan::backward<cfg>(g, states, states_bytes, ws, ws_bytes, stream);
//
// What the caller keeps between forward and backward: the forward's inputs (u, delta, A, B, C, D,
// delta_bias, z, initial_state) and the states the forward saved in its workspace
// (forward_workspace_size bytes). Nothing else: out is not needed, and the backward recomputes
// every state from the saved ones.
//
// The result is deterministic: the same call on the same GPU gives the same bits (every sum has a
// fixed order; no atomics). The backward's own workspace holds per-batch and per-block partial sums
// (see backward_workspace_layout); it needs no initialisation and may be reused between calls.

#include <cuda_runtime.h>

#include <initializer_list>

#include "args.hpp"
#include "checks.hpp"
#include "config.hpp"
#include "detail/backward_kernel.cuh"
#include "detail/device.cuh"
#include "forward.cuh"
#include "status.hpp"

namespace s6scan {

/// @brief Bytes of workspace the backward with configuration `Config` needs for these arguments.
template <class Config, class InT, class OutT>
[[nodiscard]] size_t backward_workspace_size(const backward_args<InT, OutT>& a) noexcept {
  return backward_workspace_size(a, shape_of<Config>());
}

/// @brief Checks a backward call against this configuration and the current device.
template <class Config, class InT, class OutT>
[[nodiscard]] status backward_can_implement(const backward_args<InT, OutT>& a) noexcept {
  device_limits limits;
  int device = 0;
  status s = detail::current_device_limits(&limits, &device);
  return s ? check_backward(a, shape_of<Config>(), limits) : s;
}

/// @brief Runs the backward selective scan with configuration `Config`.
///
/// Writes every gradient `a` points at. Runs one launch of the scan kernel per window of chunks
/// (one window unless time-varying dB/dC partials exceed kBackwardPartialBudget), then the
/// reduction kernels, all on `stream`.
///
/// @param a               the forward's arguments, dout, the optional last-state gradient, and
///                        the gradients to write (see backward_args)
/// @param states          the forward's workspace, filled by that forward call
/// @param states_bytes    its size (at least forward_workspace_size(a.fwd))
/// @param workspace       device memory of backward_workspace_size<Config>(a) bytes
/// @param workspace_bytes its size
/// @param stream          the stream to run on
/// @return success, or why the call was refused (nothing was launched then)
template <class Config, class InT, class OutT>
[[nodiscard]] status backward(const backward_args<InT, OutT>& a, const void* states,
                              size_t states_bytes, void* workspace, size_t workspace_bytes,
                              cudaStream_t stream = nullptr) noexcept {
  device_limits limits;
  int device = 0;
  const kernel_shape k = shape_of<Config>();
  status s = detail::current_device_limits(&limits, &device);
  if (s) s = check_backward(a, k, limits);
  if (s) s = check_backward_workspaces(a, k, states, states_bytes, workspace, workspace_bytes);
  if (!s) return s;

  const auto& f = a.fwd;
  detail::backward_params<InT, OutT> p{};
  p.a = a;
  p.smem = detail::make_backward_smem_layout(Config::kRows, Config::kTimeTile, Config::kStatesPerThread,
                                     Config::kThreads, f.dstate, int(sizeof(InT)),
                                     int(sizeof(OutT)), f.z.data != nullptr, f.B.data != nullptr,
                                     f.C.data != nullptr);
  p.w = detail::make_backward_workspace_layout(a, Config::kRows);
  p.states = static_cast<const float*>(states);
  p.ws = static_cast<float*>(workspace);
  p.dim_per_group = f.dim / f.groups;
  p.blocks_per_group = int(p.w.blocks_per_group);
  // The forward's vector bits, plus dout's.
  forward_args<InT, OutT> probe = f;
  probe.out = {};
  const auto fp = detail::make_forward_params<Config>(probe, nullptr);
  p.vec = fp.vec;
  p.vec8 = fp.vec8;
  const std::initializer_list<int64_t> dout_strides = {a.dout.batch_stride, a.dout.dim_stride};
  if (detail::rows_aligned<16>(a.dout.data, dout_strides)) p.vec |= detail::kVecDout;
  if (detail::rows_aligned<8>(a.dout.data, dout_strides)) p.vec8 |= detail::kVecDout;

  const auto kernel = detail::backward_kernel<Config, InT, OutT>;
  const int64_t smem = p.smem.total;
  if (smem > 48 * 1024) {
    s = detail::opt_in_shared_memory<detail::tag<Config, InT, OutT, backward_args<InT, OutT>>>(
        kernel, device, limits);
    if (!s) return s;
  }
  const int64_t blocks = detail::forward_grid_blocks(f.batch, f.dim, f.groups, Config::kRows);
  const unsigned sum_blocks = unsigned(limits.multiprocessor_count * 8);
  const bool var_bc = f.B.data || f.C.data;
  for (int64_t end = p.w.num_chunks; end > 0; end -= p.w.window_chunks) {
    p.chunk_end = end;
    p.chunk_begin = end > p.w.window_chunks ? end - p.w.window_chunks : 0;
    kernel<<<unsigned(blocks), Config::kThreads, size_t(smem), stream>>>(p);
    if (var_bc) detail::backward_sum_bc_kernel<InT, OutT><<<sum_blocks, 256, 0, stream>>>(p);
  }
  detail::backward_sum_batches_kernel<InT, OutT><<<sum_blocks, 256, 0, stream>>>(p);
  return detail::cuda_status(cudaGetLastError(), "backward kernel launch");
}

}  // namespace s6scan
