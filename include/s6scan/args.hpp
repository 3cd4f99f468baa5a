// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <initializer_list>

#include "config.hpp"

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

/// @brief Everything one backward selective scan reads and writes.
///
/// `fwd` holds the forward call's arguments, unchanged since the forward ran (its `out` and
/// `last_state` are not read). Required gradients: du, ddelta, dA, and dB/dC in the form the
/// forward used (`dB` for a time-varying B, `dB_const` for a constant one; the same for C); dz
/// when the forward had z. Optional gradients are written when their pointer is set and must be
/// null when the forward lacked their tensor: dD, ddelta_bias, dinitial_state.
///
/// @tparam InT  type of u, delta, z, B, C and of their gradients
/// @tparam OutT type of out, and so of dout
template <class InT, class OutT = InT>
struct backward_args {
  using input_type = InT;
  using output_type = OutT;

  forward_args<InT, OutT> fwd;

  seq_tensor<const OutT> dout;                // (batch, dim, seqlen) gradient of out
  state_tensor<const float> dlast_state;      // (batch, dim, dstate), optional gradient of last_state

  seq_tensor<InT> du;                         // (batch, dim, seqlen)
  seq_tensor<InT> ddelta;                     // (batch, dim, seqlen), of delta before bias/softplus
  seq_tensor<InT> dz;                         // (batch, dim, seqlen), when the forward had z
  matrix_tensor<float> dA;                    // (dim, dstate)
  bc_tensor<InT> dB;                          // (batch, groups, dstate, seqlen), for a varying B
  bc_tensor<InT> dC;                          // (batch, groups, dstate, seqlen), for a varying C
  matrix_tensor<float> dB_const;              // (dim, dstate), for a constant B
  matrix_tensor<float> dC_const;              // (dim, dstate), for a constant C
  vector_tensor<float> dD;                    // (dim), optional
  vector_tensor<float> ddelta_bias;           // (dim), optional
  state_tensor<float> dinitial_state;         // (batch, dim, dstate), optional

  /// Workspace bytes the time-varying dB/dC partial sums may take; a smaller budget means more,
  /// shorter launches (see kBackwardPartialBudget). The workspace size follows it.
  int64_t partial_budget = kBackwardPartialBudget;

  /// @brief Sets the strides of fwd and of every gradient to those of contiguous tensors.
  void set_contiguous_strides() noexcept {
    fwd.set_contiguous_strides();
    const int64_t L = fwd.seqlen, N = fwd.dstate;
    auto seq = [&](auto& t) {
      t.seq_stride = 1;
      t.dim_stride = L;
      t.batch_stride = fwd.dim * L;
    };
    seq(dout);
    seq(du);
    seq(ddelta);
    seq(dz);
    for (auto* t : {&dB, &dC}) {
      t->seq_stride = 1;
      t->state_stride = L;
      t->group_stride = N * L;
      t->batch_stride = fwd.groups * N * L;
    }
    for (auto* t : {&dA, &dB_const, &dC_const}) {
      t->state_stride = 1;
      t->dim_stride = N;
    }
    dD.stride = 1;
    ddelta_bias.stride = 1;
    dlast_state.state_stride = 1;
    dlast_state.dim_stride = N;
    dlast_state.batch_stride = fwd.dim * N;
    dinitial_state.state_stride = 1;
    dinitial_state.dim_stride = N;
    dinitial_state.batch_stride = fwd.dim * N;
  }
};

}  // namespace s6scan
