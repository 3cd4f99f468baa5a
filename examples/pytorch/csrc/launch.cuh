// SPDX-License-Identifier: MIT
#pragma once

// Definitions of launch.hpp's functions; included only by the types_*.cu files.

#include <s6scan/dispatch.cuh>

#include "launch.hpp"

namespace s6scan_torch {

template <class InT, class OutT>
s6scan::status forward_workspace_bytes(const s6scan::forward_args<InT, OutT>& a, size_t* bytes) {
  return s6scan::forward_workspace_size(a, bytes);
}

template <class InT, class OutT>
s6scan::status run_forward(const s6scan::forward_args<InT, OutT>& a,
                           const s6scan::device_buffer& workspace, cudaStream_t stream) {
  return s6scan::forward(a, workspace, stream);
}

template <class InT, class OutT>
s6scan::status backward_workspace_bytes(const s6scan::backward_args<InT, OutT>& g, size_t* bytes) {
  return s6scan::backward_workspace_size(g, bytes);
}

template <class InT, class OutT>
s6scan::status run_backward(const s6scan::backward_args<InT, OutT>& g,
                            const s6scan::device_buffer& workspace, cudaStream_t stream) {
  return s6scan::backward(g, workspace, stream);
}

}  // namespace s6scan_torch

/// Instantiates the four functions for one (input, output) type pair.
#define S6SCAN_TORCH_INSTANTIATE(InT, OutT)                                                    \
  template s6scan::status s6scan_torch::forward_workspace_bytes<InT, OutT>(                    \
      const s6scan::forward_args<InT, OutT>&, size_t*);                                        \
  template s6scan::status s6scan_torch::run_forward<InT, OutT>(                                \
      const s6scan::forward_args<InT, OutT>&, const s6scan::device_buffer&, cudaStream_t);     \
  template s6scan::status s6scan_torch::backward_workspace_bytes<InT, OutT>(                   \
      const s6scan::backward_args<InT, OutT>&, size_t*);                                       \
  template s6scan::status s6scan_torch::run_backward<InT, OutT>(                               \
      const s6scan::backward_args<InT, OutT>&, const s6scan::device_buffer&, cudaStream_t);
