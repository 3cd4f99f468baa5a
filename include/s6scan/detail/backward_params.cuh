// SPDX-License-Identifier: MIT
#pragma once

// What the backward's kernels read: the caller's arguments and what the launcher derived from
// them, shared by the scan kernel and the reduction kernels.

#include <cstdint>

#include "../args.hpp"
#include "layout.hpp"

namespace s6scan::detail {

/// @brief forward_params::vec bits, plus dout's and (one lane per channel, which stores them in
///        16-byte pieces where these are set) du's, ddelta's and dz's.
enum : unsigned { kVecDout = 64, kVecGradU = 128, kVecGradDelta = 256, kVecGradZ = 512 };

template <class InT, class OutT>
struct backward_params {
  backward_args<InT, OutT> a;
  backward_smem_layout smem;
  backward_workspace_layout w;
  const float* states;  ///< the forward's saved states, (batch, dim, num_chunks, dstate)
  float* ws;            ///< the backward's workspace, laid out as `w` says
  int64_t dim_per_group;
  int64_t chunk_begin;  ///< this launch's chunks: [chunk_begin, chunk_end), walked backwards
  int64_t chunk_end;
  int64_t blocks_per_segment;  ///< batch x groups x blocks_per_group: one grid per segment
  int64_t segment_chunks;      ///< chunks per time segment (the window's when not split)
  int num_segments;            ///< this launch's time segments (1: not split)
  int sum_segments;            ///< segments whose sums backward_sum_batches_kernel adds
  int blocks_per_group;
  unsigned vec;   ///< forward_params::vec bits, and kVecDout: 16-byte pieces
  unsigned vec_small;  ///< the same for pieces of small_piece_bytes
};

}  // namespace s6scan::detail
