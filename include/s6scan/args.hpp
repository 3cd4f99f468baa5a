// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

namespace s6scan {

/// @brief A (batch, dim, seqlen) tensor: u, delta, z, out. Strides are in elements.
template <class T>
struct seq_tensor {
  T* data = nullptr;
  int64_t batch_stride = 0;
  int64_t dim_stride = 0;
  int64_t seq_stride = 1;  ///< must be 1
};

/// @brief A (batch, groups, dstate, seqlen) tensor: B or C varying in time.
template <class T>
struct bc_tensor {
  T* data = nullptr;
  int64_t batch_stride = 0;
  int64_t group_stride = 0;
  int64_t state_stride = 0;
  int64_t seq_stride = 1;  ///< must be 1
};

/// @brief A (dim, dstate) matrix: A, or B/C constant in time.
template <class T>
struct matrix_tensor {
  T* data = nullptr;
  int64_t dim_stride = 0;
  int64_t state_stride = 1;  ///< must be 1
};

/// @brief A (batch, dim, dstate) tensor: the initial state or the last state.
template <class T>
struct state_tensor {
  T* data = nullptr;
  int64_t batch_stride = 0;
  int64_t dim_stride = 0;
  int64_t state_stride = 1;  ///< must be 1
};

/// @brief A (dim) vector: D, delta_bias.
template <class T>
struct vector_tensor {
  T* data = nullptr;
  int64_t stride = 1;
};

/// @brief Everything one forward selective scan reads and writes.
///
/// Optional tensors are absent when their `data` is null. B is either `B` (varying in time, input
/// type) or `B_const` (constant, float), never both; the same for C.
///
/// @tparam InT  type of u, delta, z and a time-varying B/C: float, __half or __nv_bfloat16
/// @tparam OutT type of out: InT, or float
template <class InT, class OutT = InT>
struct forward_args {
  using input_type = InT;
  using output_type = OutT;

  int64_t batch = 0;
  int64_t dim = 0;
  int64_t seqlen = 0;
  int64_t dstate = 0;
  int64_t groups = 1;  ///< B/C groups; dim % groups == 0

  seq_tensor<const InT> u;                   // (batch, dim, seqlen)
  seq_tensor<const InT> delta;               // (batch, dim, seqlen)
  matrix_tensor<const float> A;              // (dim, dstate)
  bc_tensor<const InT> B;                    // (batch, groups, dstate, seqlen)
  bc_tensor<const InT> C;                    // (batch, groups, dstate, seqlen)
  matrix_tensor<const float> B_const;        // (dim, dstate), instead of B
  matrix_tensor<const float> C_const;        // (dim, dstate), instead of C
  vector_tensor<const float> D;              // (dim), optional
  vector_tensor<const float> delta_bias;     // (dim), optional
  seq_tensor<const InT> z;                   // (batch, dim, seqlen), optional gate
  state_tensor<const float> initial_state;   // (batch, dim, dstate), optional h0
  bool delta_softplus = false;

  seq_tensor<OutT> out;                      // (batch, dim, seqlen)
  state_tensor<float> last_state;            // (batch, dim, dstate), optional output

  /// @brief Sets every stride to that of a contiguous tensor of the current sizes.
  void set_contiguous_strides() noexcept {
    auto seq = [&](auto& t) {
      t.seq_stride = 1;
      t.dim_stride = seqlen;
      t.batch_stride = dim * seqlen;
    };
    seq(u);
    seq(delta);
    seq(z);
    seq(out);
    for (auto* t : {&B, &C}) {
      t->seq_stride = 1;
      t->state_stride = seqlen;
      t->group_stride = dstate * seqlen;
      t->batch_stride = groups * dstate * seqlen;
    }
    for (auto* t : {&A, &B_const, &C_const}) {
      t->state_stride = 1;
      t->dim_stride = dstate;
    }
    D.stride = 1;
    delta_bias.stride = 1;
    initial_state.state_stride = 1;
    initial_state.dim_stride = dstate;
    initial_state.batch_stride = dim * dstate;
    last_state.state_stride = 1;
    last_state.dim_stride = dstate;
    last_state.batch_stride = dim * dstate;
  }
};

}  // namespace s6scan
