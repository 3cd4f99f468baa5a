// SPDX-License-Identifier: MIT
#pragma once

// Host-only argument checks. They read sizes, pointers and strides and never touch the device, so a
// caller (or a test on a machine without a GPU) can ask "would this call run there?" first.

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "args.hpp"
#include "config.hpp"
#include "status.hpp"
#include "tuning.hpp"

namespace s6scan {

/// @brief What the checks need to know of a device. `query_device_limits()` reads the current one.
struct device_limits {
  int64_t max_shared_memory_per_block_optin = 48 * 1024;  ///< cudaDevAttrMaxSharedMemoryPerBlockOptin
  int64_t max_grid_x = 2147483647;                         ///< cudaDevAttrMaxGridDimX
  int multiprocessor_count = 1;
  /// cudaDevAttrMaxSharedMemoryPerMultiprocessor (0: unknown) and
  /// cudaDevAttrReservedSharedMemoryPerBlock; read by the default set's choice of rows and by
  /// the forward launcher's blocks per SM (forward_blocks_per_sm).
  int64_t max_shared_memory_per_multiprocessor = 0;
  int64_t reserved_shared_memory_per_block = 0;

  /// @brief A device whose blocks may use at most `bytes` of shared memory.
  [[nodiscard]] static constexpr device_limits with_shared_memory(int64_t bytes) noexcept {
    device_limits d;
    d.max_shared_memory_per_block_optin = bytes;
    return d;
  }
  [[nodiscard]] static constexpr device_limits a100() noexcept {
    device_limits d = with_shared_memory(166912);  // 163 KiB
    d.multiprocessor_count = 108;
    d.max_shared_memory_per_multiprocessor = 167936;
    d.reserved_shared_memory_per_block = 1024;
    return d;
  }
  [[nodiscard]] static constexpr device_limits h100() noexcept {
    device_limits d = with_shared_memory(232448);  // 227 KiB; the H200 is the same
    d.multiprocessor_count = 132;
    d.max_shared_memory_per_multiprocessor = 233472;
    d.reserved_shared_memory_per_block = 1024;
    return d;
  }
};

/// @brief Whether `blocks` (two_blocks_fit: two) blocks of `block_bytes` of dynamic shared memory
///        fit on one multiprocessor of `d` (true where `d` does not say how much one holds).
///
/// The default set takes a dstate-16 row whose threads read their own channels' rows only where
/// two of its blocks fit: one block per multiprocessor stalls it at every barrier and load.
/// float32 at 128 rows of 2 lanes and TimeTile 32 (a block of 127,008 bytes) on the H200: lm
/// 0.909 ms against 0.766 at TimeTile 16 (two blocks) and 0.921 for 32 x 4 lanes
/// (`--nrows-study 1 --dtypes float32` at 883fd46; bench/results/h200_nrows.txt).
[[nodiscard]] constexpr bool blocks_fit(int blocks, int64_t block_bytes,
                                        const device_limits& d) noexcept {
  if (d.max_shared_memory_per_multiprocessor <= 0) return true;
  return blocks * (block_bytes + d.reserved_shared_memory_per_block) <=
         d.max_shared_memory_per_multiprocessor;
}
[[nodiscard]] constexpr bool two_blocks_fit(int64_t block_bytes, const device_limits& d) noexcept {
  return blocks_fit(2, block_bytes, d);
}

/// @brief Dynamic shared memory for a block of `block_bytes` that holds a launch to `k` blocks per
///        multiprocessor of `d`: enough that a (k+1)-th does not fit. `block_bytes` itself where
///        that is already so, where `d` does not say how much a multiprocessor holds, or where the
///        padded size is over the opt-in limit (the launch then runs as many blocks as fit).
///
/// The forward launcher pads its two-lane launches to forward_blocks_per_sm's count this way
/// (the kernel does not touch the padding). The H100/H200 at 2 blocks: 233,472 / 3 - 1,024 + 128
/// = 76,928 bytes: with its 1,024 reserved, three such blocks need 233,856 bytes.
[[nodiscard]] constexpr int64_t shared_memory_holding(int k, int64_t block_bytes,
                                                      const device_limits& d) noexcept {
  if (k <= 0 || d.max_shared_memory_per_multiprocessor <= 0) return block_bytes;
  const int64_t held =
      d.max_shared_memory_per_multiprocessor / (k + 1) - d.reserved_shared_memory_per_block + 128;
  return held > block_bytes && held <= d.max_shared_memory_per_block_optin ? held : block_bytes;
}

/// @brief A configuration described at run time, for checks and messages.
struct kernel_shape {
  int max_dstate;
  int rows;
  int time_tile;
  int states_per_thread;
  int threads;
};

/// @return the run-time description of a forward_config.
template <class Config>
[[nodiscard]] constexpr kernel_shape shape_of() noexcept {
  return {Config::kMaxDState, Config::kRows, Config::kTimeTile, Config::kStatesPerThread,
          Config::kThreads};
}

/// @brief Bytes of workspace the forward needs to save states for a backward: one float per
///        (batch, channel, state) every checkpoint_steps(dstate) steps, the last chunk's end
///        included.
template <class InT, class OutT>
[[nodiscard]] constexpr size_t forward_workspace_size(const forward_args<InT, OutT>& a) noexcept {
  if (a.batch <= 0 || a.dim <= 0 || a.seqlen <= 0 || a.dstate <= 0) return 0;
  const int64_t chunks = checkpoint_chunks(a.seqlen, a.dstate);
  return static_cast<size_t>(a.batch * a.dim * chunks * a.dstate) * sizeof(float);
}

namespace detail {

inline bool mul_overflows(int64_t a, int64_t b, int64_t* r) noexcept {
  return __builtin_mul_overflow(a, b, r);
}

template <class T>
inline bool misaligned(const T* p) noexcept {
  return reinterpret_cast<uintptr_t>(p) % alignof(T) != 0;
}

/// @return the number of blocks a forward launch uses.
inline int64_t forward_grid_blocks(int64_t batch, int64_t dim, int64_t groups, int rows) noexcept {
  const int64_t per_group = dim / groups;
  return batch * groups * ((per_group + rows - 1) / rows);
}

/// @return dynamic shared memory, in bytes, of a forward launch with these arguments.
template <class InT, class OutT>
inline int64_t forward_smem_bytes(const forward_args<InT, OutT>& a, const kernel_shape& k) noexcept {
  return make_forward_smem_layout(k.rows, k.time_tile, k.states_per_thread,
                                  k.max_dstate / k.states_per_thread, a.dstate, int(sizeof(InT)),
                                  int(sizeof(OutT)), a.z.data != nullptr, a.B.data != nullptr,
                                  a.C.data != nullptr)
      .total;
}

}  // namespace detail

namespace detail {

/// @brief Refuses a present tensor whose last dimension is not unit-stride or whose pointer is not
///        aligned to its element; an absent one (null) passes.
inline status check_layout(const char* name, const void* data, int64_t last_stride,
                           bool misaligned) noexcept {
  if (!data) return {};
  if (last_stride != 1)
    return status::make(status_code::invalid_argument,
                        "%s has last-dimension stride %lld; it must be 1 (unit stride)", name,
                        (long long)last_stride);
  if (misaligned)
    return status::make(status_code::invalid_argument,
                        "%s at %p is not aligned to its element size", name, data);
  return {};
}

/// @brief The checks of a forward call that do not depend on the kernel's resources: sizes,
///        pointers, strides, alignment, and dstate against the configuration's MaxDState.
template <class InT, class OutT>
[[nodiscard]] status check_forward_args(const forward_args<InT, OutT>& a,
                                        const kernel_shape& k) noexcept {
  using sc = status_code;
  const struct {
    const char* name;
    int64_t v;
  } sizes[] = {{"batch", a.batch}, {"dim", a.dim}, {"seqlen", a.seqlen}, {"dstate", a.dstate},
               {"groups", a.groups}};
  for (const auto& s : sizes)
    if (s.v <= 0) return status::make(sc::invalid_argument, "%s must be positive, got %lld", s.name, (long long)s.v);
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
  int64_t n = 0;
  if (detail::mul_overflows(a.batch, a.dim, &n) || detail::mul_overflows(n, a.seqlen, &n) ||
      detail::mul_overflows(a.batch * a.dim, a.dstate, &n))
    return status::make(sc::invalid_argument,
                        "batch %lld x dim %lld x seqlen %lld (or x dstate %lld) overflows 64 bits",
                        (long long)a.batch, (long long)a.dim, (long long)a.seqlen, (long long)a.dstate);

  // Required tensors, and exactly one form of B and of C.
  if (!a.u.data) return status::make(sc::invalid_argument, "u is null");
  if (!a.delta.data) return status::make(sc::invalid_argument, "delta is null");
  if (!a.A.data) return status::make(sc::invalid_argument, "A is null");
  if (!a.out.data) return status::make(sc::invalid_argument, "out is null");
  if ((a.B.data != nullptr) == (a.B_const.data != nullptr))
    return status::make(sc::invalid_argument, a.B.data ? "both B and B_const are set; pass one"
                                                        : "B is null (pass B or B_const)");
  if ((a.C.data != nullptr) == (a.C_const.data != nullptr))
    return status::make(sc::invalid_argument, a.C.data ? "both C and C_const are set; pass one"
                                                       : "C is null (pass C or C_const)");

  // Unit last strides and element alignment, tensor by tensor.
  struct unit_check {
    const char* name;
    const void* data;
    int64_t last_stride;
    bool misaligned;
  } const units[] = {
      {"u", a.u.data, a.u.seq_stride, detail::misaligned(a.u.data)},
      {"delta", a.delta.data, a.delta.seq_stride, detail::misaligned(a.delta.data)},
      {"z", a.z.data, a.z.seq_stride, detail::misaligned(a.z.data)},
      {"out", a.out.data, a.out.seq_stride, detail::misaligned(a.out.data)},
      {"B", a.B.data, a.B.seq_stride, detail::misaligned(a.B.data)},
      {"C", a.C.data, a.C.seq_stride, detail::misaligned(a.C.data)},
      {"A", a.A.data, a.A.state_stride, detail::misaligned(a.A.data)},
      {"B_const", a.B_const.data, a.B_const.state_stride, detail::misaligned(a.B_const.data)},
      {"C_const", a.C_const.data, a.C_const.state_stride, detail::misaligned(a.C_const.data)},
      {"initial_state", a.initial_state.data, a.initial_state.state_stride,
       detail::misaligned(a.initial_state.data)},
      {"last_state", a.last_state.data, a.last_state.state_stride,
       detail::misaligned(a.last_state.data)},
      {"D", a.D.data, a.D.stride, detail::misaligned(a.D.data)},
      {"delta_bias", a.delta_bias.data, a.delta_bias.stride,
       detail::misaligned(a.delta_bias.data)},
  };
  for (const auto& t : units) {
    const status s = check_layout(t.name, t.data, t.last_stride, t.misaligned);
    if (!s) return s;
  }

  if (a.dstate > k.max_dstate)
    return status::make(sc::unsupported_dstate,
                        "dstate %lld exceeds MaxDState %d of this instantiation; instantiate "
                        "s6scan::forward_config<MaxDState, ...> with MaxDState >= %lld",
                        (long long)a.dstate, k.max_dstate, (long long)a.dstate);
  return {};
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

}  // namespace detail

/// @brief Checks a forward call against one configuration and one device, without touching it.
///
/// @param a       the call's arguments
/// @param k       the configuration (`shape_of<Config>()`)
/// @param limits  the device (`query_device_limits()`, or a simulated one)
/// @return success, or the first problem found, with the values in its message
template <class InT, class OutT>
[[nodiscard]] status check_forward(const forward_args<InT, OutT>& a, const kernel_shape& k,
                                   const device_limits& limits) noexcept {
  status s = detail::check_forward_args(a, k);
  if (!s) return s;
  return detail::check_launch("forward", detail::forward_smem_bytes(a, k),
                              detail::forward_grid_blocks(a.batch, a.dim, a.groups, k.rows),
                              a.dstate, a.batch, a.groups, k, limits);
}

/// @brief Checks the caller's workspace: null (no states saved) or at least forward_workspace_size.
template <class InT, class OutT>
[[nodiscard]] status check_workspace(const forward_args<InT, OutT>& a, const void* workspace,
                                     size_t workspace_bytes) noexcept {
  if (!workspace) return {};
  const size_t need = forward_workspace_size(a);
  if (workspace_bytes < need)
    return status::make(status_code::workspace_too_small,
                        "workspace holds %zu bytes but this call saves %zu (batch %lld x dim %lld x "
                        "%lld chunks x dstate %lld floats); pass null to save no states",
                        workspace_bytes, need, (long long)a.batch, (long long)a.dim,
                        (long long)checkpoint_chunks(a.seqlen, a.dstate),
                        (long long)a.dstate);
  if (reinterpret_cast<uintptr_t>(workspace) % alignof(float) != 0)
    return status::make(status_code::invalid_argument, "workspace at %p is not 4-byte aligned",
                        workspace);
  return {};
}

// ---------------------------------------------------------------------------------------------
// The backward

namespace detail {

/// @brief Where each part of the backward's workspace lies, in floats from its start.
///
/// A backward split in time (backward_time_segments) keeps its per-channel sums per segment and
/// the segments' end adjoints; `segments` is how many it has room for (1 when the call has more
/// than kBackwardSplitMaxBlocks blocks, so that no device splits it). BDN is batch x dim x dstate.
struct backward_workspace_layout {
  int64_t carry = 0;      ///< (batch, dim, dstate) the adjoint between windows
  int64_t seg_dh = 0;     ///< (segments, BDN) each segment's end adjoint (a split launch)
  int64_t seg_decay = 0;  ///< (segments - 1, BDN) each segment's decay, from the carry pass
  int64_t acc_A = 0;      ///< (segments, batch, dim, dstate) dA per segment and batch
  int64_t acc_B = 0;      ///< the same for a constant B's gradient
  int64_t acc_C = 0;      ///< the same for a constant C's gradient
  int64_t acc_D = 0;      ///< (segments, batch, dim) dD per segment and batch
  int64_t acc_bias = 0;   ///< (segments, batch, dim) ddelta_bias per segment and batch
  int64_t part_B = 0;     ///< (batch, groups, blocks per group, dstate, window steps), varying B
  int64_t part_C = 0;     ///< the same for a varying C
  int64_t floats = 0;     ///< total size
  int64_t blocks_per_group = 0;
  int64_t chunk_steps = 0;      ///< steps per chunk: the configuration's (kChunkSteps)
  int64_t num_chunks = 0;       ///< chunks of chunk_steps
  int64_t saved_chunks = 0;     ///< the forward's saved states per channel: checkpoint_chunks
  int64_t saved_per_chunk = 0;  ///< chunk_steps / checkpoint_steps(dstate): 4 where a
                                ///< MaxDState above 16 runs a dstate up to 16, else 1
  int64_t window_chunks = 0;  ///< chunks per launch
  int64_t segments = 1;       ///< the most time segments a launch may use
};

template <class InT, class OutT>
backward_workspace_layout make_backward_workspace_layout(const backward_args<InT, OutT>& a,
                                                         const kernel_shape& shape) noexcept {
  const int rows = shape.rows;
  const auto& f = a.fwd;
  backward_workspace_layout w;
  const bool var_B = f.B.data != nullptr, var_C = f.C.data != nullptr;
  w.blocks_per_group = (f.dim / f.groups + rows - 1) / rows;
  w.chunk_steps = checkpoint_steps(shape.max_dstate);
  w.num_chunks = (f.seqlen + w.chunk_steps - 1) / w.chunk_steps;
  w.saved_chunks = checkpoint_chunks(f.seqlen, f.dstate);
  w.saved_per_chunk = w.chunk_steps / checkpoint_steps(f.dstate);
  const int64_t per_chunk =
      f.batch * f.groups * w.blocks_per_group * f.dstate * w.chunk_steps * (var_B + var_C) * 4;
  w.window_chunks = w.num_chunks;
  if (per_chunk > 0 && per_chunk * w.num_chunks > a.partial_budget) {
    const int64_t fit = a.partial_budget / per_chunk;
    w.window_chunks = fit < 1 ? 1 : fit;
  }
  if (f.batch * f.groups * w.blocks_per_group <= kBackwardSplitMaxBlocks)
    w.segments = w.window_chunks < kBackwardMaxSegments ? w.window_chunks : kBackwardMaxSegments;
  auto take = [&](int64_t n) {
    const int64_t at = w.floats;
    w.floats += (n + 3) / 4 * 4;  // 16-byte aligned parts
    return at;
  };
  const int64_t bdn = f.batch * f.dim * f.dstate, bd = f.batch * f.dim;
  const int64_t part = f.batch * f.groups * w.blocks_per_group * f.dstate *
                       w.window_chunks * w.chunk_steps;
  const int64_t k = w.segments;
  w.carry = take(bdn);
  w.seg_dh = take(k > 1 ? k * bdn : 0);
  w.seg_decay = take(k > 1 ? (k - 1) * bdn : 0);
  w.acc_A = take(k * bdn);
  w.acc_B = take(var_B ? 0 : k * bdn);
  w.acc_C = take(var_C ? 0 : k * bdn);
  w.acc_D = take(k * bd);
  w.acc_bias = take(k * bd);
  w.part_B = take(var_B ? part : 0);
  w.part_C = take(var_C ? part : 0);
  return w;
}

template <class InT, class OutT>
inline int64_t backward_smem_bytes(const backward_args<InT, OutT>& a, const kernel_shape& k) noexcept {
  return make_backward_smem_layout(k.rows, k.time_tile, checkpoint_steps(k.max_dstate),
                                   k.states_per_thread, k.threads, a.fwd.dstate, int(sizeof(InT)),
                                   int(sizeof(OutT)), a.fwd.z.data != nullptr,
                                   a.fwd.B.data != nullptr, a.fwd.C.data != nullptr)
      .total;
}

}  // namespace detail

/// @brief Bytes of scratch workspace a backward call with configuration `k` needs.
template <class InT, class OutT>
[[nodiscard]] size_t backward_workspace_size(const backward_args<InT, OutT>& a,
                                             const kernel_shape& k) noexcept {
  const auto& f = a.fwd;
  if (f.batch <= 0 || f.dim <= 0 || f.seqlen <= 0 || f.dstate <= 0 || f.groups <= 0 ||
      f.dim % f.groups != 0)
    return 0;
  return size_t(detail::make_backward_workspace_layout(a, k).floats) * sizeof(float);
}

/// @brief Checks a backward call against one configuration and one device, without touching it.
///
/// Checks the forward's arguments as check_forward does, then every gradient (present exactly when
/// required, unit last stride, aligned), then the backward's shared memory and grid.
template <class InT, class OutT>
[[nodiscard]] status check_backward(const backward_args<InT, OutT>& a, const kernel_shape& k,
                                    const device_limits& limits) noexcept {
  using sc = status_code;
  const auto& f = a.fwd;
  if (!a.dout.data) return status::make(sc::invalid_argument, "dout is null");
  auto checked = f;  // out is not read by the backward: check dout in its place
  checked.out.data = const_cast<OutT*>(a.dout.data);
  checked.out.seq_stride = a.dout.seq_stride;
  checked.last_state = {};
  status s = detail::check_forward_args(checked, k);
  if (!s) return s;

  struct grad {
    const char* name;
    const void* data;
    bool wanted;    ///< required (or allowed, for optional ones) by the forward's arguments
    bool optional;  ///< may be null even when allowed
    const char* why;
    int64_t last_stride;
    bool misaligned;
  } const grads[] = {
      {"du", a.du.data, true, false, "", a.du.seq_stride, detail::misaligned(a.du.data)},
      {"ddelta", a.ddelta.data, true, false, "", a.ddelta.seq_stride,
       detail::misaligned(a.ddelta.data)},
      {"dz", a.dz.data, f.z.data != nullptr, false, "z", a.dz.seq_stride,
       detail::misaligned(a.dz.data)},
      {"dA", a.dA.data, true, false, "", a.dA.state_stride, detail::misaligned(a.dA.data)},
      {"dB", a.dB.data, f.B.data != nullptr, false, "a time-varying B", a.dB.seq_stride,
       detail::misaligned(a.dB.data)},
      {"dC", a.dC.data, f.C.data != nullptr, false, "a time-varying C", a.dC.seq_stride,
       detail::misaligned(a.dC.data)},
      {"dB_const", a.dB_const.data, f.B_const.data != nullptr, false, "B_const",
       a.dB_const.state_stride, detail::misaligned(a.dB_const.data)},
      {"dC_const", a.dC_const.data, f.C_const.data != nullptr, false, "C_const",
       a.dC_const.state_stride, detail::misaligned(a.dC_const.data)},
      {"dD", a.dD.data, f.D.data != nullptr, true, "D", a.dD.stride,
       detail::misaligned(a.dD.data)},
      {"ddelta_bias", a.ddelta_bias.data, f.delta_bias.data != nullptr, true, "delta_bias",
       a.ddelta_bias.stride, detail::misaligned(a.ddelta_bias.data)},
      {"dinitial_state", a.dinitial_state.data, f.initial_state.data != nullptr, true,
       "initial_state", a.dinitial_state.state_stride, detail::misaligned(a.dinitial_state.data)},
      {"dlast_state", a.dlast_state.data, true, true, "", a.dlast_state.state_stride,
       detail::misaligned(a.dlast_state.data)},
  };
  for (const auto& g : grads) {
    if (!g.data && g.wanted && !g.optional)
      return *g.why ? status::make(sc::invalid_argument, "%s is null but the forward had %s",
                                   g.name, g.why)
                    : status::make(sc::invalid_argument, "%s is null (it is always required)",
                                   g.name);
    if (g.data && !g.wanted)
      return status::make(sc::invalid_argument, "%s is set but the forward had no %s", g.name,
                          g.why);
    s = detail::check_layout(g.name, g.data, g.last_stride, g.misaligned);
    if (!s) return s;
  }
  return detail::check_launch("backward", detail::backward_smem_bytes(a, k),
                              detail::forward_grid_blocks(f.batch, f.dim, f.groups, k.rows),
                              f.dstate, f.batch, f.groups, k, limits);
}

/// @brief Checks the two workspaces of a backward call: the forward's saved states (required) and
///        the backward's own scratch space of backward_workspace_size bytes.
template <class InT, class OutT>
[[nodiscard]] status check_backward_workspaces(const backward_args<InT, OutT>& a,
                                               const kernel_shape& k, const void* states,
                                               size_t states_bytes, const void* workspace,
                                               size_t workspace_bytes) noexcept {
  using sc = status_code;
  if (!states)
    return status::make(sc::invalid_argument,
                        "the forward's saved states are null; run the forward with a workspace of "
                        "forward_workspace_size bytes and pass it to the backward");
  const size_t need_states = forward_workspace_size(a.fwd);
  if (states_bytes < need_states)
    return status::make(sc::workspace_too_small,
                        "the forward's saved states hold %zu bytes but this call needs %zu",
                        states_bytes, need_states);
  const size_t need = backward_workspace_size(a, k);
  if (!workspace || workspace_bytes < need)
    return status::make(sc::workspace_too_small,
                        "the backward's workspace holds %zu bytes but this call needs %zu "
                        "(backward_workspace_size)",
                        workspace ? workspace_bytes : size_t(0), need);
  for (const void* p : {states, workspace})
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0)
      return status::make(sc::invalid_argument, "workspace at %p is not 4-byte aligned", p);
  return {};
}

}  // namespace s6scan
