// SPDX-License-Identifier: MIT
#pragma once

// The forward selective scan of one configuration: check, size the workspace, run.
//
//   s6scan::forward_args<__nv_bfloat16> a = ...;            // sizes, device pointers, strides
//   using cfg = s6scan::forward_config<16, 64>;            // MaxDState 16, 64 channels per block
//   size_t ws_bytes = s6scan::forward_workspace_size(a);   // states saved for a backward
//   s6scan::status s = s6scan::forward<cfg>(a, ws, ws_bytes, stream);
//
// Workspace contract: when `workspace` is not null the forward writes, for every (batch, channel),
// the state after steps kCheckpointSteps-1, 2*kCheckpointSteps-1, ... and after the last step, as
// floats laid out (batch, dim, chunks, dstate), chunks = ceil(seqlen / kCheckpointSteps). A
// backward reads them instead of rerunning the scan from the start; keep the workspace and the
// forward's inputs unchanged between the two. Pass null when no backward follows.

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "args.hpp"
#include "checks.hpp"
#include "config.hpp"
#include "detail/device.cuh"
#include "detail/forward_kernel.cuh"
#include "status.hpp"

namespace s6scan {

namespace detail {

template <class...>
struct tag {};

template <class T>
bool vec16(const T* p, std::initializer_list<int64_t> strides) {
  constexpr int64_t n = 16 / sizeof(T);
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  for (int64_t s : strides)
    if (s % n != 0) return false;
  return true;
}

template <class Config, class InT, class OutT>
forward_params<InT, OutT> make_forward_params(const forward_args<InT, OutT>& a, void* workspace) {
  forward_params<InT, OutT> p{};
  p.a = a;
  p.smem = make_forward_smem_layout(Config::kRows, Config::kTimeTile, Config::kStatesPerThread,
                                    Config::kLanesPerRow, a.dstate, int(sizeof(InT)),
                                    int(sizeof(OutT)), a.z.data != nullptr, a.B.data != nullptr,
                                    a.C.data != nullptr);
  p.dim_per_group = a.dim / a.groups;
  p.blocks_per_group = int((p.dim_per_group + Config::kRows - 1) / Config::kRows);
  p.num_tiles = int((a.seqlen + Config::kTimeTile - 1) / Config::kTimeTile);
  p.num_chunks = (a.seqlen + kCheckpointSteps - 1) / kCheckpointSteps;
  p.checkpoints = static_cast<float*>(workspace);
  unsigned v = 0;
  if (vec16(a.u.data, {a.u.batch_stride, a.u.dim_stride})) v |= kVecU;
  if (vec16(a.delta.data, {a.delta.batch_stride, a.delta.dim_stride})) v |= kVecDelta;
  if (a.z.data && vec16(a.z.data, {a.z.batch_stride, a.z.dim_stride})) v |= kVecZ;
  if (a.B.data && vec16(a.B.data, {a.B.batch_stride, a.B.group_stride, a.B.state_stride})) v |= kVecB;
  if (a.C.data && vec16(a.C.data, {a.C.batch_stride, a.C.group_stride, a.C.state_stride})) v |= kVecC;
  if (vec16(a.out.data, {a.out.batch_stride, a.out.dim_stride})) v |= kVecOut;
  p.vec = v;
  return p;
}

}  // namespace detail

/// @brief Checks a forward call against this configuration and the current device.
///
/// Reads the device's limits (cached after the first call per device); launches nothing.
template <class Config, class InT, class OutT>
[[nodiscard]] status forward_can_implement(const forward_args<InT, OutT>& a) noexcept {
  device_limits limits;
  int device = 0;
  status s = detail::current_device_limits(&limits, &device);
  return s ? check_forward(a, shape_of<Config>(), limits) : s;
}

/// @brief Runs the forward selective scan with configuration `Config`.
///
/// @tparam Config    a forward_config; its MaxDState must be at least a.dstate
/// @param a          sizes, device pointers and strides (see forward_args)
/// @param workspace  device memory of forward_workspace_size(a) bytes for the saved states, or null
/// @param workspace_bytes its size
/// @param stream     the stream to run on
/// @return success, or why the call was refused (nothing was launched then)
template <class Config, class InT, class OutT>
[[nodiscard]] status forward(const forward_args<InT, OutT>& a, void* workspace,
                             size_t workspace_bytes, cudaStream_t stream = nullptr) noexcept {
  device_limits limits;
  int device = 0;
  status s = detail::current_device_limits(&limits, &device);
  if (s) s = check_forward(a, shape_of<Config>(), limits);
  if (s) s = check_workspace(a, workspace, workspace_bytes);
  if (!s) return s;
  const auto p = detail::make_forward_params<Config>(a, workspace);
  const auto kernel = detail::forward_kernel<Config, InT, OutT>;
  const int64_t smem = p.smem.total;
  if (smem > 48 * 1024) {
    s = detail::opt_in_shared_memory<detail::tag<Config, InT, OutT>>(kernel, device, limits);
    if (!s) return s;
  }
  const int64_t blocks = detail::forward_grid_blocks(a.batch, a.dim, a.groups, Config::kRows);
  kernel<<<unsigned(blocks), Config::kThreads, size_t(smem), stream>>>(p);
  return detail::cuda_status(cudaGetLastError(), "forward kernel launch");
}

}  // namespace s6scan
