// SPDX-License-Identifier: MIT
#pragma once

// The backward's small kernels around the scan: the combine of a time-split launch's segments,
// and the fixed-order sums of the blocks of a group (dB/dC) and of the batches (dA, dD,
// ddelta_bias, constant dB/dC) that make the result the same bits on every run.

#include <cstdint>

#include "../config.hpp"
#include "../numeric.hpp"
#include "backward_params.cuh"
#include "ptx.cuh"

namespace s6scan::detail {

/// @brief Chains a split launch's segments, from the last: the last segment ends at the launch's
///        end adjoint (the last-state gradient or zero in the first launch, else the previous
///        launch's), and each earlier one at dh_end(k - 1) = decay(k) * dh_end(k) + local(k), the
///        carry pass's results. Writes dh_end(k) to segment k's slot. One thread per (batch,
///        channel, state).
template <class InT, class OutT>
__global__ void backward_combine_kernel(const __grid_constant__ backward_params<InT, OutT> p) {
  const auto& f = p.a.fwd;
  const int64_t bdn = f.batch * f.dim * f.dstate;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= bdn) return;
  const int64_t n = i % f.dstate, d = i / f.dstate % f.dim, b = i / f.dstate / f.dim;
  float dh = 0.f;
  if (p.chunk_end != p.w.num_chunks)
    dh = p.ws[p.w.carry + i];
  else if (p.a.dlast_state.data)
    dh = p.a.dlast_state.data[b * p.a.dlast_state.batch_stride + d * p.a.dlast_state.dim_stride + n];
  float* slot = p.ws + p.w.seg_dh + i;
  const float* decay = p.ws + p.w.seg_decay + i;
  slot[(p.num_segments - 1) * bdn] = dh;
  for (int k = p.num_segments - 1; k > 0; --k) {
    dh = fmaf(decay[(k - 1) * bdn], dh, slot[(k - 1) * bdn]);
    slot[(k - 1) * bdn] = dh;
  }
}

/// @brief dB and dC of a window, for a time-varying B/C: the group's block partials summed in
///        block order and converted to the input type.
template <class InT, class OutT>
__global__ void backward_sum_bc_kernel(const __grid_constant__ backward_params<InT, OutT> p) {
  const auto& f = p.a.fwd;
  const int64_t K = p.w.chunk_steps;
  const int64_t t_begin = p.chunk_begin * K;
  const int64_t t_end = p.chunk_end * K < f.seqlen ? p.chunk_end * K : f.seqlen;
  const int64_t len = t_end - t_begin, N = f.dstate, P = p.w.blocks_per_group;
  const int64_t window_steps = p.w.window_chunks * K;
  const int64_t total = f.batch * f.groups * N * len;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i % len, n = (i / len) % N, bg = i / len / N;
    const int64_t b = bg / f.groups, g = bg % f.groups;
    const int64_t src = bg * P * N * window_steps + n * window_steps + t;
    auto sum = [&](int64_t part) {
      float s = 0.f;
      for (int64_t k = 0; k < P; ++k) s += p.ws[part + src + k * N * window_steps];
      return s;
    };
    if (f.B.data)
      p.a.dB.data[b * p.a.dB.batch_stride + g * p.a.dB.group_stride + n * p.a.dB.state_stride +
                  t_begin + t] = from_float<InT>(sum(p.w.part_B));
    if (f.C.data)
      p.a.dC.data[b * p.a.dC.batch_stride + g * p.a.dC.group_stride + n * p.a.dC.state_stride +
                  t_begin + t] = from_float<InT>(sum(p.w.part_C));
  }
}

/// @brief dA, constant dB/dC, dD and ddelta_bias: the per-(batch, segment) sums added in batch
///        order, and within a batch in segment order.
template <class InT, class OutT>
__global__ void backward_sum_batches_kernel(const __grid_constant__ backward_params<InT, OutT> p) {
  const auto& f = p.a.fwd;
  const auto& a = p.a;
  const int64_t N = f.dstate, DN = f.dim * N;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < DN;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i / N, n = i % N;
    auto sum = [&](int64_t part, int64_t stride, int64_t at) {
      float s = 0.f;
      for (int64_t b = 0; b < f.batch; ++b)
        for (int k = 0; k < p.sum_segments; ++k) s += p.ws[part + (k * f.batch + b) * stride + at];
      return s;
    };
    a.dA.data[d * a.dA.dim_stride + n] = sum(p.w.acc_A, DN, i);
    if (a.dB_const.data) a.dB_const.data[d * a.dB_const.dim_stride + n] = sum(p.w.acc_B, DN, i);
    if (a.dC_const.data) a.dC_const.data[d * a.dC_const.dim_stride + n] = sum(p.w.acc_C, DN, i);
    if (n == 0) {
      if (a.dD.data) a.dD.data[d * a.dD.stride] = sum(p.w.acc_D, f.dim, d);
      if (a.ddelta_bias.data) a.ddelta_bias.data[d * a.ddelta_bias.stride] = sum(p.w.acc_bias, f.dim, d);
    }
  }
}

}  // namespace s6scan::detail
