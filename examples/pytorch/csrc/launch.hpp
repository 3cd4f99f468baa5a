// SPDX-License-Identifier: MIT
#pragma once

// The bridge between the operators (extension.cpp, compiled by the host compiler with torch's
// headers) and the kernels (the types_*.cu files, compiled by nvcc without them). Each types_*.cu
// file instantiates these for one (input, output) type pair, so the five pairs compile in parallel
// and no kernel translation unit pays for torch's headers.

#include <cuda_runtime_api.h>

#include <cstddef>

#include <s6scan/args.hpp>
#include <s6scan/status.hpp>

namespace s6scan_torch {

/// @brief s6scan::forward_workspace_size with the default set: the scratch a call without saved
///        states needs to split time on the current device (0: none).
template <class InT, class OutT>
s6scan::status forward_workspace_bytes(const s6scan::forward_args<InT, OutT>& a, size_t* bytes);

/// @brief s6scan::forward with the default set; `a.saved_states` may be empty (nothing saved),
///        `workspace` too.
template <class InT, class OutT>
s6scan::status run_forward(const s6scan::forward_args<InT, OutT>& a,
                           const s6scan::device_buffer& workspace, cudaStream_t stream);

/// @brief s6scan::backward_workspace_size with the default set.
template <class InT, class OutT>
s6scan::status backward_workspace_bytes(const s6scan::backward_args<InT, OutT>& g, size_t* bytes);

/// @brief s6scan::backward with the default set; the saved states are `g.fwd.saved_states`.
template <class InT, class OutT>
s6scan::status run_backward(const s6scan::backward_args<InT, OutT>& g,
                            const s6scan::device_buffer& workspace, cudaStream_t stream);

}  // namespace s6scan_torch
