// SPDX-License-Identifier: MIT
#pragma once

// Definitions of launch.hpp's functions; included only by the types_*.cu files.

#include <s6scan/dispatch.cuh>

#include "launch.hpp"

namespace s6scan_torch {

template <class InT, class OutT>
s6scan::status run_forward(const s6scan::forward_args<InT, OutT>& a, void* states,
                           size_t states_bytes, cudaStream_t stream) {
  return s6scan::forward(a, states, states_bytes, stream);
}

template <class InT, class OutT>
size_t backward_workspace_bytes(const s6scan::backward_args<InT, OutT>& g) {
  return s6scan::backward_workspace_size(g);
}

template <class InT, class OutT>
s6scan::status run_backward(const s6scan::backward_args<InT, OutT>& g, const void* states,
                            size_t states_bytes, void* workspace, size_t workspace_bytes,
                            cudaStream_t stream) {
  return s6scan::backward(g, states, states_bytes, workspace, workspace_bytes, stream);
}

}  // namespace s6scan_torch

/// Instantiates the three functions for one (input, output) type pair.
#define S6SCAN_TORCH_INSTANTIATE(InT, OutT)                                                    \
  template s6scan::status s6scan_torch::run_forward<InT, OutT>(                                \
      const s6scan::forward_args<InT, OutT>&, void*, size_t, cudaStream_t);                    \
  template size_t s6scan_torch::backward_workspace_bytes<InT, OutT>(                           \
      const s6scan::backward_args<InT, OutT>&);                                                \
  template s6scan::status s6scan_torch::run_backward<InT, OutT>(                               \
      const s6scan::backward_args<InT, OutT>&, const void*, size_t, void*, size_t, cudaStream_t);
