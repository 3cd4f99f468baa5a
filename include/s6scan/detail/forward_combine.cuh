// SPDX-License-Identifier: MIT
#pragma once

// The forward's time split between its two passes: the combine that chains the carry pass's
// per-segment results (end state from zero, decay) into each segment's true start state.

#include <cstdint>

#include "forward_params.cuh"

namespace s6scan::detail {

/// @brief Chains the carry pass's segment results into true end states: for each (batch, channel,
///        state), in segment order, h = decay * h + end state from zero, starting from h0 or 0,
///        written over each segment's last slot. One thread per (batch, channel, state).
template <class InT, class OutT>
__global__ void forward_combine_kernel(const __grid_constant__ forward_params<InT, OutT> p) {
  const auto& a = p.a;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.batch * a.dim * a.dstate) return;
  const int64_t n = i % a.dstate, d = i / a.dstate % a.dim, b = i / a.dstate / a.dim;
  float h = 0.f;
  if (a.initial_state.data)
    h = a.initial_state.data[b * a.initial_state.batch_stride + d * a.initial_state.dim_stride + n];
  float* row = p.checkpoints + (b * a.dim + d) * p.num_chunks * a.dstate + n;
  const int64_t chunks = p.segment_chunks;
  for (int k = 0; k + 1 < p.num_segments; ++k) {
    float* end = row + ((k + 1) * chunks - 1) * a.dstate;
    h = fmaf(row[k * chunks * a.dstate], h, *end);
    *end = h;
  }
}

}  // namespace s6scan::detail
