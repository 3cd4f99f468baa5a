// SPDX-License-Identifier: MIT
#pragma once

// What the forward's kernels read: the caller's arguments and what the launcher derived from
// them, shared by the scan kernel and the time split's combine.

#include <cstdint>

#include "../args.hpp"
#include "layout.hpp"

namespace s6scan::detail {

/// @brief Everything the kernel reads: the caller's arguments and what the host derived from them.
template <class InT, class OutT>
struct forward_params {
  forward_args<InT, OutT> a;
  forward_smem_layout smem;
  int64_t dim_per_group;
  int64_t num_chunks;   ///< checkpoint chunks, when `checkpoints` is set
  int chunk_steps;      ///< steps per checkpoint chunk: checkpoint_steps(dstate), 16 or 64
  bool ckpt_vec;        ///< the checkpoints' rows may be written in 16-byte pieces
  float* checkpoints;   ///< (batch, dim, num_chunks, dstate) states, or null
  int64_t blocks_per_segment;  ///< batch x groups x blocks_per_group: one grid per segment
  int blocks_per_group;
  int num_tiles;
  int segment_tiles;    ///< tiles per time segment (num_tiles when time is not split)
  int segment_chunks;   ///< checkpoint chunks per time segment
  int num_segments;     ///< 1 when time is not split
  unsigned vec;         ///< kVec* bits: 16-byte pieces
  unsigned vec_small;   ///< kVec* bits: loads in small_piece_bytes pieces
};

}  // namespace s6scan::detail
