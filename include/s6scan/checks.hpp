// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// @brief Host-only argument checks. They read sizes, pointers and strides and never touch the
///        device, so a caller (or a test on a machine without a GPU) can ask "would this call run
///        there?" first. Every size and offset is computed in checked 64-bit arithmetic.

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "args.hpp"
#include "config.hpp"
#include "detail/layout.hpp"
#include "device_limits.hpp"
#include "status.hpp"
#include "tuning.hpp"

namespace s6scan {

namespace detail {

template <class T>
inline bool misaligned(const T* p) noexcept {
  return reinterpret_cast<uintptr_t>(p) % alignof(T) != 0;
}

/// @brief One dimension of a tensor: its size, its stride and the stride's name.
struct dim_view {
  int64_t size;
  int64_t stride;
  const char* stride_name;
};

/// @brief A tensor as the checks see it: up to four dimensions, the last one unit-stride.
struct tensor_view {
  const char* name;
  const void* data;
  int64_t elem_bytes;
  bool misaligned;
  int rank;
  dim_view dims[4];
};

template <class T>
tensor_view view(const char* name, const seq_tensor<T>& t, int64_t batch, int64_t dim,
                 int64_t seqlen) noexcept {
  return {name, t.data, int64_t(sizeof(T)), misaligned(t.data), 3,
          {{batch, t.batch_stride, "batch_stride"},
           {dim, t.dim_stride, "dim_stride"},
           {seqlen, t.seq_stride, "seq_stride"}}};
}
template <class T>
tensor_view view(const char* name, const bc_tensor<T>& t, int64_t batch, int64_t groups,
                 int64_t dstate, int64_t seqlen) noexcept {
  return {name, t.data, int64_t(sizeof(T)), misaligned(t.data), 4,
          {{batch, t.batch_stride, "batch_stride"},
           {groups, t.group_stride, "group_stride"},
           {dstate, t.state_stride, "state_stride"},
           {seqlen, t.seq_stride, "seq_stride"}}};
}
template <class T>
tensor_view view(const char* name, const matrix_tensor<T>& t, int64_t dim,
                 int64_t dstate) noexcept {
  return {name, t.data, int64_t(sizeof(T)), misaligned(t.data), 2,
          {{dim, t.dim_stride, "dim_stride"}, {dstate, t.state_stride, "state_stride"}}};
}
template <class T>
tensor_view view(const char* name, const state_tensor<T>& t, int64_t batch, int64_t dim,
                 int64_t dstate) noexcept {
  return {name, t.data, int64_t(sizeof(T)), misaligned(t.data), 3,
          {{batch, t.batch_stride, "batch_stride"},
           {dim, t.dim_stride, "dim_stride"},
           {dstate, t.state_stride, "state_stride"}}};
}
template <class T>
tensor_view view(const char* name, const vector_tensor<T>& t, int64_t dim) noexcept {
  return {name, t.data, int64_t(sizeof(T)), misaligned(t.data), 1, {{dim, t.stride, "stride"}}};
}

/// @brief The offset, in elements, of a tensor's last element: the sum of stride x (size - 1);
///        false where it overflows 64 bits. Strides must be non-negative and sizes positive.
[[nodiscard]] inline bool furthest_element(const tensor_view& t, int64_t* reach) noexcept {
  checked_size r = checked(0);
  for (int i = 0; i < t.rank; ++i) r = r + checked(t.dims[i].size - 1) * t.dims[i].stride;
  *reach = r.v;
  return !r.overflow;
}

/// @brief Whether no two elements of a tensor share an address, by a sufficient test: with the
///        dimensions of more than one element sorted by stride, each stride passes the furthest
///        element of the dimensions below it. (Interleaved layouts that also give distinct
///        addresses fail it; no output of this operator has one.)
[[nodiscard]] inline bool distinct_addresses(const tensor_view& t) noexcept {
  dim_view d[4];
  int n = 0;
  for (int i = 0; i < t.rank; ++i)
    if (t.dims[i].size > 1) d[n++] = t.dims[i];
  for (int i = 1; i < n; ++i)  // insertion sort by stride
    for (int j = i; j > 0 && d[j].stride < d[j - 1].stride; --j) {
      const dim_view x = d[j];
      d[j] = d[j - 1];
      d[j - 1] = x;
    }
  checked_size below = checked(0);  // the furthest element of the dimensions sorted so far
  for (int i = 0; i < n; ++i) {
    if (d[i].stride <= 0 || below.overflow || d[i].stride <= below.v) return false;
    below = below + checked(d[i].size - 1) * d[i].stride;
  }
  return !below.overflow;
}

/// @brief Refuses a present tensor whose last dimension is not unit-stride, whose other strides
///        were never set or are negative, that is not aligned to its element, whose strides reach
///        past 2^63 elements or the end of the address space, or (an output) whose strides give
///        two elements one address. An absent one (null) passes.
[[nodiscard]] inline status check_tensor(const tensor_view& t, bool output) noexcept {
  using sc = status_code;
  if (!t.data) return {};
  const int64_t last = t.dims[t.rank - 1].stride;
  if (last != 1)
    return status::make(sc::invalid_argument,
                        "%s has last-dimension stride %lld; it must be 1 (unit stride)", t.name,
                        (long long)last);
  for (int i = 0; i + 1 < t.rank; ++i) {
    const dim_view& d = t.dims[i];
    if (d.stride == kUnsetStride)
      return status::make(sc::invalid_argument,
                          "%s's %s was never set; set it, or call set_contiguous_strides() after "
                          "the sizes (or build the arguments with contiguous())",
                          t.name, d.stride_name);
    if (d.stride < 0)
      return status::make(sc::invalid_argument, "%s's %s is %lld; strides must be 0 or positive",
                          t.name, d.stride_name, (long long)d.stride);
  }
  if (t.misaligned)
    return status::make(sc::invalid_argument, "%s at %p is not aligned to its element size",
                        t.name, t.data);
  // The bytes from data to the end of the last element: within 64 bits and the address space.
  int64_t reach = 0;
  const bool fits = furthest_element(t, &reach);
  const checked_size span = (checked(reach) + checked(1)) * t.elem_bytes;
  if (!fits || span.overflow ||
      UINTPTR_MAX - reinterpret_cast<uintptr_t>(t.data) < uintptr_t(span.v))
    return status::make(sc::invalid_argument,
                        "%s's strides reach beyond the address space (past 2^63 bytes from %p)",
                        t.name, t.data);
  if (output && !distinct_addresses(t)) {
    // Name the strides in the message: (size, stride) per dimension.
    char dims[160] = {0};
    int at = 0;
    for (int i = 0; i < t.rank && at < int(sizeof(dims)); ++i)
      at += std::snprintf(dims + at, sizeof(dims) - size_t(at), "%s%s %lld (size %lld)",
                          i ? ", " : "", t.dims[i].stride_name, (long long)t.dims[i].stride,
                          (long long)t.dims[i].size);
    return status::make(sc::invalid_argument,
                        "%s is an output, but its strides give two of its elements one address "
                        "(%s); an output needs a zero-free, non-overlapping layout",
                        t.name, dims);
  }
  return {};
}

/// @brief Sizes positive, groups dividing dim, seqlen within the kernels' step counters, and the
///        element counts within 64 bits.
template <class InT, class OutT>
[[nodiscard]] status check_sizes(const forward_args<InT, OutT>& a) noexcept {
  using sc = status_code;
  const struct {
    const char* name;
    int64_t v;
  } sizes[] = {{"batch", a.batch}, {"dim", a.dim}, {"seqlen", a.seqlen}, {"dstate", a.dstate},
               {"groups", a.groups}};
  for (const auto& s : sizes)
    if (s.v <= 0)
      return status::make(sc::invalid_argument, "%s must be positive, got %lld", s.name,
                          (long long)s.v);
  // The kernels count time steps and tiles in 32 bits.
  constexpr int64_t kMaxSeqlen = (int64_t(1) << 31) - 1024;
  if (a.seqlen > kMaxSeqlen)
    return status::make(sc::invalid_argument,
                        "seqlen %lld exceeds %lld, the longest sequence the kernels walk (their "
                        "step counters are 32-bit); split it and chain the calls through "
                        "last_state and initial_state",
                        (long long)a.seqlen, (long long)kMaxSeqlen);
  if (a.dim % a.groups != 0)
    return status::make(sc::invalid_argument, "dim %lld is not divisible by groups %lld",
                        (long long)a.dim, (long long)a.groups);
  const checked_size bd = checked(a.batch) * a.dim;
  if ((bd * a.seqlen * 4).overflow || (bd * a.dstate * 4).overflow)
    return status::make(sc::invalid_argument,
                        "batch %lld x dim %lld x seqlen %lld (or x dstate %lld) overflows 64 bits",
                        (long long)a.batch, (long long)a.dim, (long long)a.seqlen,
                        (long long)a.dstate);
  return {};
}

/// @brief The checks of a forward call's inputs that do not depend on the kernel: sizes, required
///        pointers, and every input tensor's layout. `out` and `last_state` are not looked at.
template <class InT, class OutT>
[[nodiscard]] status check_forward_inputs(const forward_args<InT, OutT>& a) noexcept {
  using sc = status_code;
  status s = check_sizes(a);
  if (!s) return s;
  if (!a.u.data) return status::make(sc::invalid_argument, "u is null");
  if (!a.delta.data) return status::make(sc::invalid_argument, "delta is null");
  if (!a.A.data) return status::make(sc::invalid_argument, "A is null");
  if ((a.B.data != nullptr) == (a.B_const.data != nullptr))
    return status::make(sc::invalid_argument, a.B.data ? "both B and B_const are set; pass one"
                                                        : "B is null (pass B or B_const)");
  if ((a.C.data != nullptr) == (a.C_const.data != nullptr))
    return status::make(sc::invalid_argument, a.C.data ? "both C and C_const are set; pass one"
                                                       : "C is null (pass C or C_const)");
  const int64_t b = a.batch, d = a.dim, l = a.seqlen, n = a.dstate, g = a.groups;
  const tensor_view inputs[] = {
      view("u", a.u, b, d, l),         view("delta", a.delta, b, d, l),
      view("z", a.z, b, d, l),         view("B", a.B, b, g, n, l),
      view("C", a.C, b, g, n, l),      view("A", a.A, d, n),
      view("B_const", a.B_const, d, n), view("C_const", a.C_const, d, n),
      view("initial_state", a.initial_state, b, d, n),
      view("D", a.D, d),               view("delta_bias", a.delta_bias, d),
  };
  for (const auto& t : inputs)
    if (!(s = check_tensor(t, false))) return s;
  return {};
}

/// @brief dstate against the configuration's MaxDState, naming the configuration to instantiate.
[[nodiscard]] inline status check_max_dstate(int64_t dstate, const kernel_shape& k) noexcept {
  if (dstate <= k.max_dstate) return {};
  return status::make(status_code::unsupported_dstate,
                      "dstate %lld exceeds MaxDState %d of this instantiation; instantiate "
                      "s6scan::%s%s_config<MaxDState, ...> with MaxDState >= %lld",
                      (long long)dstate, k.max_dstate, k.kind,
                      k.steps_per_lane > 0 ? "_time" : "", (long long)dstate);
}

/// @brief The checks of a forward call that do not depend on the kernel's resources: sizes,
///        pointers, every tensor's layout (outputs with distinct addresses), and dstate against
///        the configuration's MaxDState.
template <class InT, class OutT>
[[nodiscard]] status check_forward_args(const forward_args<InT, OutT>& a,
                                        const kernel_shape& k) noexcept {
  status s = check_forward_inputs(a);
  if (!s) return s;
  if (!a.out.data) return status::make(status_code::invalid_argument, "out is null");
  if (!(s = check_tensor(view("out", a.out, a.batch, a.dim, a.seqlen), true))) return s;
  if (!(s = check_tensor(view("last_state", a.last_state, a.batch, a.dim, a.dstate), true)))
    return s;
  return check_max_dstate(a.dstate, k);
}

/// @return the number of blocks a forward launch uses.
inline int64_t forward_grid_blocks(int64_t batch, int64_t dim, int64_t groups, int rows) noexcept {
  const int64_t per_group = dim / groups;
  return batch * groups * ((per_group + rows - 1) / rows);
}

/// @return dynamic shared memory, in bytes, of a forward launch with these arguments.
template <class InT, class OutT>
inline int64_t forward_smem_bytes(const forward_args<InT, OutT>& a, const kernel_shape& k) noexcept {
  if (k.steps_per_lane > 0) return int64_t(k.rows) * a.dstate * 4;  // each warp's carried states
  return make_forward_smem_layout(k.rows, k.time_tile, k.states_per_thread,
                                  k.max_dstate / k.states_per_thread, a.dstate, int(sizeof(InT)),
                                  int(sizeof(OutT)), a.z.data != nullptr, a.B.data != nullptr,
                                  a.C.data != nullptr)
      .total;
}

/// @brief Refuses a launch of `blocks` blocks needing `smem` bytes each if the device cannot run it.
inline status check_launch(const char* pass, int64_t smem, int64_t blocks, int64_t dstate,
                           int64_t batch, int64_t groups, const kernel_shape& k,
                           const device_limits& limits) noexcept {
  using sc = status_code;
  if (smem > limits.max_shared_memory_per_block_optin)
    return status::make(sc::insufficient_shared_memory,
                        "the %s needs %lld bytes of shared memory per block (dstate %lld, "
                        "NRows %d, TimeTile %d) but the device allows %lld; use a configuration "
                        "with a smaller NRows or TimeTile",
                        pass, (long long)smem, (long long)dstate, k.rows, k.time_tile,
                        (long long)limits.max_shared_memory_per_block_optin);
  if (blocks > limits.max_grid_x)
    return status::make(sc::grid_too_large,
                        "the %s needs %lld blocks (batch %lld x groups %lld x ceil(dim/groups "
                        "/ NRows %d)) but the device's grid holds %lld; use a larger NRows",
                        pass, (long long)blocks, (long long)batch, (long long)groups, k.rows,
                        (long long)limits.max_grid_x);
  return {};
}

/// @brief A buffer of at least `need` bytes, 4-byte aligned; `what` names it in messages.
[[nodiscard]] inline status check_buffer(const char* what, const device_buffer& b, size_t need,
                                         const char* query) noexcept {
  if (b.bytes < need)
    return status::make(status_code::workspace_too_small,
                        "%s holds %zu bytes but this call needs %zu (%s)", what,
                        b.data ? b.bytes : size_t(0), need, query);
  if (need > 0 && !b.data)
    return status::make(status_code::invalid_argument, "%s is null but says it holds %zu bytes",
                        what, b.bytes);
  if (reinterpret_cast<uintptr_t>(b.data) % alignof(float) != 0)
    return status::make(status_code::invalid_argument, "%s at %p is not 4-byte aligned", what,
                        b.data);
  return {};
}

}  // namespace detail

/// @brief Bytes the forward's saved states take for these sizes: one float per (batch, channel,
///        state) every checkpoint_steps(dstate) steps, the last chunk's end included.
/// @param bytes receives the size, or 0 when the status is not success
/// @return success, or why the sizes are invalid (not positive, or the size overflows 64 bits)
template <class InT, class OutT>
[[nodiscard]] status saved_states_size(const forward_args<InT, OutT>& a, size_t* bytes) noexcept {
  *bytes = 0;
  const status s = detail::check_sizes(a);
  if (!s) return s;
  const auto n = detail::checked(a.batch) * a.dim * checkpoint_chunks(a.seqlen, a.dstate) *
                 a.dstate * int64_t(sizeof(float));
  if (n.overflow)
    return status::make(status_code::invalid_argument,
                        "the saved states of batch %lld x dim %lld x %lld chunks x dstate %lld "
                        "floats overflow 64 bits",
                        (long long)a.batch, (long long)a.dim,
                        (long long)checkpoint_chunks(a.seqlen, a.dstate), (long long)a.dstate);
  *bytes = size_t(n.v);
  return s;
}

/// @brief Checks the forward's saved states: absent (data null, bytes 0: nothing saved), or at
///        least saved_states_size bytes, 4-byte aligned.
template <class InT, class OutT>
[[nodiscard]] status check_saved_states(const forward_args<InT, OutT>& a) noexcept {
  if (!a.saved_states.data && a.saved_states.bytes == 0) return {};
  size_t need = 0;
  const status s = saved_states_size(a, &need);
  if (!s) return s;
  return detail::check_buffer("saved_states", a.saved_states, need, "saved_states_size");
}

namespace detail {

/// @brief A forward's scratch workspace: empty, or at least saved_states_size bytes where the
///        call saves no states (it then holds what the saved states would); ignored otherwise.
template <class InT, class OutT>
[[nodiscard]] status check_forward_workspace(const forward_args<InT, OutT>& a,
                                             const device_buffer& workspace) noexcept {
  if (a.saved_states.data || (!workspace.data && workspace.bytes == 0)) return {};
  size_t need = 0;
  const status s = saved_states_size(a, &need);
  if (!s) return s;
  return check_buffer("the forward's workspace", workspace, need, "forward_workspace_size");
}

}  // namespace detail

/// @brief Checks a forward call against one configuration and one device, without touching it.
///
/// @param a       the call's arguments
/// @param k       the configuration (`shape_of<Config>()`)
/// @param limits  the device (`query_device_limits`, or a preset such as device_limits::h100())
/// @return success, or the first problem found, with the values in its message
template <class InT, class OutT>
[[nodiscard]] status check_forward(const forward_args<InT, OutT>& a, const kernel_shape& k,
                                   const device_limits& limits) noexcept {
  status s = detail::check_forward_args(a, k);
  if (s) s = check_saved_states(a);
  if (!s) return s;
  return detail::check_launch("forward", detail::forward_smem_bytes(a, k),
                              detail::forward_grid_blocks(a.batch, a.dim, a.groups, k.rows),
                              a.dstate, a.batch, a.groups, k, limits);
}

// ---------------------------------------------------------------------------------------------
// The backward

namespace detail {

template <class InT, class OutT>
inline int64_t backward_smem_bytes(const backward_args<InT, OutT>& a, const kernel_shape& k) noexcept {
  return make_backward_smem_layout(k.rows, k.time_tile, checkpoint_steps(k.max_dstate),
                                   k.states_per_thread, k.threads, a.fwd.dstate, int(sizeof(InT)),
                                   int(sizeof(OutT)), a.fwd.z.data != nullptr,
                                   a.fwd.B.data != nullptr, a.fwd.C.data != nullptr)
      .total;
}

/// @brief The checks of a backward call that do not depend on the kernel's resources: the
///        forward's inputs, dout and dlast_state, every gradient (present exactly when required,
///        with a valid layout and distinct addresses), the saved states, and dstate against the
///        configuration's MaxDState.
template <class InT, class OutT>
[[nodiscard]] status check_backward_args(const backward_args<InT, OutT>& a,
                                         const kernel_shape& k) noexcept {
  using sc = status_code;
  const auto& f = a.fwd;
  status s = check_forward_inputs(f);
  if (!s) return s;
  const int64_t b = f.batch, d = f.dim, l = f.seqlen, n = f.dstate, g = f.groups;
  if (!a.dout.data) return status::make(sc::invalid_argument, "dout is null");
  if (!(s = check_tensor(view("dout", a.dout, b, d, l), false))) return s;
  if (!(s = check_tensor(view("dlast_state", a.dlast_state, b, d, n), false))) return s;

  struct grad {
    tensor_view t;
    bool wanted;    ///< required (or allowed, for optional ones) by the forward's arguments
    bool optional;  ///< may be null even when allowed
    const char* why;
  } const grads[] = {
      {view("du", a.du, b, d, l), true, false, ""},
      {view("ddelta", a.ddelta, b, d, l), true, false, ""},
      {view("dz", a.dz, b, d, l), f.z.data != nullptr, false, "z"},
      {view("dA", a.dA, d, n), true, false, ""},
      {view("dB", a.dB, b, g, n, l), f.B.data != nullptr, false, "a time-varying B"},
      {view("dC", a.dC, b, g, n, l), f.C.data != nullptr, false, "a time-varying C"},
      {view("dB_const", a.dB_const, d, n), f.B_const.data != nullptr, false, "B_const"},
      {view("dC_const", a.dC_const, d, n), f.C_const.data != nullptr, false, "C_const"},
      {view("dD", a.dD, d), f.D.data != nullptr, true, "D"},
      {view("ddelta_bias", a.ddelta_bias, d), f.delta_bias.data != nullptr, true, "delta_bias"},
      {view("dinitial_state", a.dinitial_state, b, d, n), f.initial_state.data != nullptr, true,
       "initial_state"},
  };
  for (const auto& gr : grads) {
    if (!gr.t.data && gr.wanted && !gr.optional)
      return *gr.why ? status::make(sc::invalid_argument, "%s is null but the forward had %s",
                                    gr.t.name, gr.why)
                     : status::make(sc::invalid_argument, "%s is null (it is always required)",
                                    gr.t.name);
    if (gr.t.data && !gr.wanted)
      return status::make(sc::invalid_argument, "%s is set but the forward had no %s", gr.t.name,
                          gr.why);
    if (!(s = check_tensor(gr.t, true))) return s;
  }
  if (!(s = check_max_dstate(f.dstate, k))) return s;
  if (!f.saved_states.data)
    return status::make(sc::invalid_argument,
                        "fwd.saved_states is null: the backward reads the states the forward "
                        "saved; run the forward with saved_states of saved_states_size bytes and "
                        "pass the same arguments to the backward");
  return check_saved_states(f);
}

}  // namespace detail

/// @brief Bytes of scratch workspace a backward call with configuration `k` needs.
/// @param bytes receives the size, or 0 when the status is not success
/// @return success, or why the sizes are invalid (or the size overflows 64 bits)
template <class InT, class OutT>
[[nodiscard]] status backward_workspace_size(const backward_args<InT, OutT>& a,
                                             const kernel_shape& k, size_t* bytes) noexcept {
  *bytes = 0;
  status s = detail::check_sizes(a.fwd);
  if (s) s = detail::check_max_dstate(a.fwd.dstate, k);
  if (!s) return s;
  const auto w = detail::make_backward_workspace_layout(a, k);
  if (w.overflow)
    return status::make(status_code::invalid_argument,
                        "the backward's workspace for batch %lld, dim %lld, seqlen %lld, dstate "
                        "%lld overflows 64 bits",
                        (long long)a.fwd.batch, (long long)a.fwd.dim, (long long)a.fwd.seqlen,
                        (long long)a.fwd.dstate);
  *bytes = size_t(w.floats) * sizeof(float);
  return s;
}

/// @brief Checks a backward call against one configuration and one device, without touching it.
///
/// Checks the forward's inputs as check_forward does, then dout, every gradient (present exactly
/// when required, unit last stride, aligned, distinct addresses), the forward's saved states, and
/// the backward's shared memory and grid.
template <class InT, class OutT>
[[nodiscard]] status check_backward(const backward_args<InT, OutT>& a, const kernel_shape& k,
                                    const device_limits& limits) noexcept {
  const status s = detail::check_backward_args(a, k);
  if (!s) return s;
  const auto& f = a.fwd;
  return detail::check_launch("backward", detail::backward_smem_bytes(a, k),
                              detail::forward_grid_blocks(f.batch, f.dim, f.groups, k.rows),
                              f.dstate, f.batch, f.groups, k, limits);
}

/// @brief Checks the backward's scratch workspace: at least backward_workspace_size bytes.
template <class InT, class OutT>
[[nodiscard]] status check_backward_workspace(const backward_args<InT, OutT>& a,
                                              const kernel_shape& k,
                                              const device_buffer& workspace) noexcept {
  size_t need = 0;
  const status s = backward_workspace_size(a, k, &need);
  if (!s) return s;
  return detail::check_buffer("the backward's workspace", workspace, need,
                              "backward_workspace_size");
}

}  // namespace s6scan
