// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief The arguments of a forward and a backward call: sizes, device pointers and strides.
///
/// Every stride but a tensor's last starts as kUnsetStride, which the checks refuse ("u's
/// batch_stride was never set"): a forgotten stride is an error, never a silent broadcast. Set
/// them one by one, or take a contiguous layout from the sizes with forward_args::contiguous (or
/// set_contiguous_strides() once the sizes are set).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "config.hpp"

namespace s6scan {

/// @brief The value every stride but a tensor's last starts with: "not set", refused by the
///        checks. (0 is a valid, broadcasting, stride of an input, so it cannot mean "not set".)
inline constexpr int64_t kUnsetStride = INT64_MIN;

/// @brief A block of device memory and its size in bytes.
struct device_buffer {
  void* data = nullptr;
  size_t bytes = 0;
};

/// @brief Whether T is an input type of the kernels: float, __half or __nv_bfloat16.
template <class T>
inline constexpr bool is_input_type_v =
    std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

/// @brief A (batch, dim, seqlen) tensor: u, delta, z, out. Strides are in elements.
template <class T>
struct seq_tensor {
  T* data = nullptr;
  int64_t batch_stride = kUnsetStride;
  int64_t dim_stride = kUnsetStride;
  int64_t seq_stride = 1;  ///< must be 1
};

/// @brief A (batch, groups, dstate, seqlen) tensor: B or C varying in time.
template <class T>
struct bc_tensor {
  T* data = nullptr;
  int64_t batch_stride = kUnsetStride;
  int64_t group_stride = kUnsetStride;
  int64_t state_stride = kUnsetStride;
  int64_t seq_stride = 1;  ///< must be 1
};

/// @brief A (dim, dstate) matrix: A, or B/C constant in time.
template <class T>
struct matrix_tensor {
  T* data = nullptr;
  int64_t dim_stride = kUnsetStride;
  int64_t state_stride = 1;  ///< must be 1
};

/// @brief A (batch, dim, dstate) tensor: the initial state or the last state.
template <class T>
struct state_tensor {
  T* data = nullptr;
  int64_t batch_stride = kUnsetStride;
  int64_t dim_stride = kUnsetStride;
  int64_t state_stride = 1;  ///< must be 1
};

/// @brief A (dim) vector: D, delta_bias.
template <class T>
struct vector_tensor {
  T* data = nullptr;
  int64_t stride = 1;  ///< must be 1
};

namespace detail {

/// Strides of contiguous tensors of these sizes, or kUnsetStride where a size is not positive
/// (strides computed before the sizes are set are then refused, not silently zero).
struct contiguous_strides {
  int64_t batch, dim, seqlen, dstate, groups;
  [[nodiscard]] bool sized() const noexcept {
    return batch > 0 && dim > 0 && seqlen > 0 && dstate > 0 && groups > 0;
  }
  template <class T>
  void seq(seq_tensor<T>& t) const noexcept {
    t.seq_stride = 1;
    t.dim_stride = sized() ? seqlen : kUnsetStride;
    t.batch_stride = sized() ? dim * seqlen : kUnsetStride;
  }
  template <class T>
  void bc(bc_tensor<T>& t) const noexcept {
    t.seq_stride = 1;
    t.state_stride = sized() ? seqlen : kUnsetStride;
    t.group_stride = sized() ? dstate * seqlen : kUnsetStride;
    t.batch_stride = sized() ? groups * dstate * seqlen : kUnsetStride;
  }
  template <class T>
  void matrix(matrix_tensor<T>& t) const noexcept {
    t.state_stride = 1;
    t.dim_stride = sized() ? dstate : kUnsetStride;
  }
  template <class T>
  void state(state_tensor<T>& t) const noexcept {
    t.state_stride = 1;
    t.dim_stride = sized() ? dstate : kUnsetStride;
    t.batch_stride = sized() ? dim * dstate : kUnsetStride;
  }
  template <class T>
  void vector(vector_tensor<T>& t) const noexcept {
    t.stride = 1;
  }
};

}  // namespace detail

/// @brief Everything one forward selective scan reads and writes.
///
/// Optional tensors are absent when their `data` is null. B is either `B` (varying in time, input
/// type) or `B_const` (constant, float), never both; the same for C.
///
/// @tparam InT  type of u, delta, z and a time-varying B/C: float, __half or __nv_bfloat16
/// @tparam OutT type of out: InT, or float
template <class InT, class OutT = InT>
struct forward_args {
  static_assert(is_input_type_v<InT>,
                "s6scan::forward_args<InT, OutT>: InT must be float, __half or __nv_bfloat16");
  static_assert(std::is_same_v<OutT, InT> || std::is_same_v<OutT, float>,
                "s6scan::forward_args<InT, OutT>: OutT must be InT or float");

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

  /// The states a backward of this call needs, written by the forward: device memory of
  /// saved_states_size bytes, or null to save none (inference). It is also where a forward with
  /// few channel blocks keeps the results of its time split, so a call without it does not split
  /// time across blocks (see forward.cuh). Keep it, and the inputs, unchanged until the backward.
  device_buffer saved_states;

  /// @brief Arguments of these sizes with every stride that of a contiguous tensor; the pointers
  ///        are left null for the caller to set.
  [[nodiscard]] static forward_args contiguous(int64_t batch, int64_t dim, int64_t seqlen,
                                               int64_t dstate, int64_t groups = 1) noexcept {
    forward_args a;
    a.batch = batch;
    a.dim = dim;
    a.seqlen = seqlen;
    a.dstate = dstate;
    a.groups = groups;
    a.set_contiguous_strides();
    return a;
  }

  /// @brief Sets every stride to that of a contiguous tensor of the current sizes. Call it after
  ///        the sizes: while a size is not positive it leaves the strides unset (the checks refuse
  ///        them), and a size changed later is not followed.
  void set_contiguous_strides() noexcept {
    const detail::contiguous_strides c{batch, dim, seqlen, dstate, groups};
    c.seq(u);
    c.seq(delta);
    c.seq(z);
    c.seq(out);
    c.bc(B);
    c.bc(C);
    c.matrix(A);
    c.matrix(B_const);
    c.matrix(C_const);
    c.vector(D);
    c.vector(delta_bias);
    c.state(initial_state);
    c.state(last_state);
  }
};

/// @brief Everything one backward selective scan reads and writes.
///
/// `fwd` holds the forward call's arguments, unchanged since the forward ran, its saved_states
/// included (its `out` and `last_state` are not read). Required gradients: du, ddelta, dA, and
/// dB/dC in the form the forward used (`dB` for a time-varying B, `dB_const` for a constant one;
/// the same for C); dz when the forward had z. Optional gradients are written when their pointer
/// is set and must be null when the forward lacked their tensor: dD, ddelta_bias, dinitial_state.
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

  /// @brief A backward of the forward call `f` (copied as it is, strides and saved states
  ///        included) with contiguous strides for dout, dlast_state and every gradient.
  [[nodiscard]] static backward_args of(const forward_args<InT, OutT>& f) noexcept {
    backward_args g;
    g.fwd = f;
    g.set_contiguous_gradient_strides();
    return g;
  }

  /// @brief Sets the strides of dout, dlast_state and every gradient to those of contiguous
  ///        tensors of fwd's sizes; fwd's own strides are left as they are.
  void set_contiguous_gradient_strides() noexcept {
    const detail::contiguous_strides c{fwd.batch, fwd.dim, fwd.seqlen, fwd.dstate, fwd.groups};
    c.seq(dout);
    c.seq(du);
    c.seq(ddelta);
    c.seq(dz);
    c.bc(dB);
    c.bc(dC);
    c.matrix(dA);
    c.matrix(dB_const);
    c.matrix(dC_const);
    c.vector(dD);
    c.vector(ddelta_bias);
    c.state(dlast_state);
    c.state(dinitial_state);
  }

  /// Removed: it also reset fwd's strides, silently undoing a strided forward's. Use
  /// set_contiguous_gradient_strides(), and set fwd's strides on the forward's arguments.
  template <class Removed = void>
  void set_contiguous_strides() noexcept {
    static_assert(!std::is_void_v<Removed> && std::is_void_v<Removed>,
                  "backward_args::set_contiguous_strides() was removed because it overwrote "
                  "fwd's strides: call set_contiguous_gradient_strides() (gradients only), or "
                  "build the arguments with backward_args::of(forward_args)");
  }
};

}  // namespace s6scan
