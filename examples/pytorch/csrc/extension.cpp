// SPDX-License-Identifier: MIT
//
// The operators torch.ops.s6scan.forward and torch.ops.s6scan.backward. On CUDA tensors they run
// the library's default set of kernels; on CPU tensors, the library's float64 reference (slow, but
// the same operator, so a model also runs and trains without a GPU). The Python package
// (s6scan_torch) adds the autograd formula, the fake (meta) functions for torch.compile and
// selective_scan_fn.
//
// Every check that concerns tensors (devices, dtypes, shapes) is made here before anything runs;
// what the library itself refuses (dstate above the default set, shared memory, ...) comes back as
// its status and is raised with its message.

#include <Python.h>

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <optional>
#include <tuple>
#include <vector>

#include <s6scan/checks.hpp>
#include <s6scan/reference_backward.hpp>

#include "launch.hpp"

namespace {

using at::Tensor;
using opt_tensor = std::optional<Tensor>;

/// @brief Raises the library's refusal: ValueError for arguments the operator cannot take,
///        RuntimeError for what the device cannot do.
void raise_if_refused(const char* op, const s6scan::status& s) {
  if (s.ok()) return;
  const bool bad_argument = s.code == s6scan::status_code::invalid_argument ||
                            s.code == s6scan::status_code::unsupported_dstate;
  TORCH_CHECK_VALUE(!bad_argument, op, " refused the call (", s6scan::to_string(s.code), "): ",
                    s.message);
  TORCH_CHECK(false, op, " failed (", s6scan::to_string(s.code), "): ", s.message);
}

/// @brief The forward's tensors after the checks, each with a unit-stride last dimension.
struct scan_inputs {
  Tensor u, delta, A, B, C;
  opt_tensor D, z, delta_bias, h0;
  bool softplus = false;
  int64_t batch = 0, dim = 0, seqlen = 0, dstate = 0, groups = 1;
};

Tensor unit_last_stride(const Tensor& t) {
  return t.size(-1) == 1 || t.stride(-1) == 1 ? t : t.contiguous();
}

void check_tensor(const char* op, const char* name, const Tensor& t, at::IntArrayRef sizes,
                  at::ScalarType dtype, const at::Device& device, const char* why) {
  TORCH_CHECK_VALUE(t.device() == device, op, ": ", name, " is on ", t.device(), " but u is on ",
                    device);
  TORCH_CHECK_VALUE(t.sizes() == sizes, op, ": ", name, " has shape ", t.sizes(), "; expected ",
                    sizes);
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, op, ": ", name, " has dtype ", t.scalar_type(),
                   "; expected ", dtype, " (", why, ")");
}

/// @brief A time-varying B or C is (batch, groups, dstate, seqlen) in u's dtype; a constant one
///        is (dim, dstate) in float32. Returns its groups (1 when constant).
int64_t check_bc(const char* op, const char* name, const Tensor& t, const scan_inputs& s) {
  if (t.dim() == 2) {
    check_tensor(op, name, t, {s.dim, s.dstate}, at::kFloat, s.u.device(),
                 "a constant B or C is a float32 weight");
    return 1;
  }
  TORCH_CHECK_VALUE(t.dim() == 4, op, ": ", name,
                    " must be (batch, groups, dstate, seqlen) or constant (dim, dstate), got shape ",
                    t.sizes(), " (selective_scan_fn also takes (batch, dstate, seqlen))");
  check_tensor(op, name, t, {s.batch, t.size(1), s.dstate, s.seqlen}, s.u.scalar_type(),
               s.u.device(), "a time-varying B or C has u's dtype");
  return t.size(1);
}

scan_inputs check_inputs(const char* op, const Tensor& u, const Tensor& delta, const Tensor& A,
                         const Tensor& B, const Tensor& C, const opt_tensor& D,
                         const opt_tensor& z, const opt_tensor& delta_bias,
                         const opt_tensor& h0, bool softplus) {
  scan_inputs s;
  TORCH_CHECK_VALUE(u.dim() == 3, op, ": u must be (batch, dim, seqlen), got shape ", u.sizes());
  const auto in = u.scalar_type();
  TORCH_CHECK_TYPE(in == at::kFloat || in == at::kHalf || in == at::kBFloat16, op,
                   ": u must be float32, float16 or bfloat16, got ", in);
  TORCH_CHECK_TYPE(!A.is_complex(), op, ": A is complex; s6scan implements the real-valued scan");
  TORCH_CHECK_VALUE(A.dim() == 2, op, ": A must be (dim, dstate), got shape ", A.sizes());
  s.batch = u.size(0);
  s.dim = u.size(1);
  s.seqlen = u.size(2);
  s.dstate = A.size(1);
  s.softplus = softplus;
  const auto dev = u.device();
  s.u = unit_last_stride(u);
  check_tensor(op, "delta", delta, u.sizes(), in, dev, "delta has u's dtype");
  s.delta = unit_last_stride(delta);
  check_tensor(op, "A", A, {s.dim, s.dstate}, at::kFloat, dev, "A is a float32 weight");
  s.A = unit_last_stride(A);
  const int64_t gB = check_bc(op, "B", B, s), gC = check_bc(op, "C", C, s);
  TORCH_CHECK_VALUE(B.dim() == 2 || C.dim() == 2 || gB == gC, op, ": B has ", gB,
                    " groups but C has ", gC);
  s.groups = B.dim() == 4 ? gB : gC;
  s.B = unit_last_stride(B);
  s.C = unit_last_stride(C);
  if (D) {
    check_tensor(op, "D", *D, {s.dim}, at::kFloat, dev, "D is a float32 weight");
    s.D = *D;
  }
  if (delta_bias) {
    check_tensor(op, "delta_bias", *delta_bias, {s.dim}, at::kFloat, dev,
                 "delta_bias is a float32 weight");
    s.delta_bias = *delta_bias;
  }
  if (z) {
    check_tensor(op, "z", *z, u.sizes(), in, dev, "z has u's dtype");
    s.z = unit_last_stride(*z);
  }
  if (h0) {
    check_tensor(op, "initial_state", *h0, {s.batch, s.dim, s.dstate}, at::kFloat, dev,
                 "states are float32");
    s.h0 = unit_last_stride(*h0);
  }
  return s;
}

// Views of tensors as the library's tensor descriptions. Strides are in elements; a last dimension
// of size 1 has no meaningful stride, and the library wants 1 there.

int64_t last_stride(const Tensor& t) { return t.size(-1) == 1 ? 1 : t.stride(-1); }

template <class T>
T* data_of(const Tensor& t) {
  return reinterpret_cast<T*>(t.data_ptr());
}

template <class T>
s6scan::seq_tensor<T> seq_view(const Tensor& t) {
  return {data_of<T>(t), t.stride(0), t.stride(1), last_stride(t)};
}
template <class T>
s6scan::bc_tensor<T> bc_view(const Tensor& t) {
  return {data_of<T>(t), t.stride(0), t.stride(1), t.stride(2), last_stride(t)};
}
template <class T>
s6scan::matrix_tensor<T> matrix_view(const Tensor& t) {
  return {data_of<T>(t), t.stride(0), last_stride(t)};
}
template <class T>
s6scan::state_tensor<T> state_view(const Tensor& t) {
  return {data_of<T>(t), t.stride(0), t.stride(1), last_stride(t)};
}
template <class T>
s6scan::vector_tensor<T> vector_view(const Tensor& t) {
  return {data_of<T>(t), t.stride(0)};
}

/// @brief An absent optional tensor is an empty view (null data), which the library reads as
///        "not given".
template <class View, class F>
View view_if(const opt_tensor& t, F view) {
  return t ? view(*t) : View{};
}

/// @brief The library's forward arguments for the checked inputs; `out` is left to the caller.
template <class InT, class OutT>
s6scan::forward_args<InT, OutT> make_forward_args(const scan_inputs& s) {
  s6scan::forward_args<InT, OutT> a;
  a.batch = s.batch;
  a.dim = s.dim;
  a.seqlen = s.seqlen;
  a.dstate = s.dstate;
  a.groups = s.groups;
  a.delta_softplus = s.softplus;
  a.u = seq_view<const InT>(s.u);
  a.delta = seq_view<const InT>(s.delta);
  a.A = matrix_view<const float>(s.A);
  if (s.B.dim() == 4) a.B = bc_view<const InT>(s.B); else a.B_const = matrix_view<const float>(s.B);
  if (s.C.dim() == 4) a.C = bc_view<const InT>(s.C); else a.C_const = matrix_view<const float>(s.C);
  a.D = view_if<s6scan::vector_tensor<const float>>(s.D, vector_view<const float>);
  a.delta_bias = view_if<s6scan::vector_tensor<const float>>(s.delta_bias, vector_view<const float>);
  a.z = view_if<s6scan::seq_tensor<const InT>>(s.z, seq_view<const InT>);
  a.initial_state = view_if<s6scan::state_tensor<const float>>(s.h0, state_view<const float>);
  return a;
}

template <class T>
struct type_tag {
  using type = T;
};

/// @brief Calls f(type_tag<InT>, type_tag<OutT>) for the element types of u and out: the five
///        pairs the extension compiles.
template <class F>
void with_types(at::ScalarType in, at::ScalarType out, F&& f) {
  const bool out_float = out == at::kFloat;
  switch (in) {
    case at::kFloat: return f(type_tag<float>{}, type_tag<float>{});
    case at::kHalf:
      return out_float ? f(type_tag<__half>{}, type_tag<float>{})
                       : f(type_tag<__half>{}, type_tag<__half>{});
    case at::kBFloat16:
      return out_float ? f(type_tag<__nv_bfloat16>{}, type_tag<float>{})
                       : f(type_tag<__nv_bfloat16>{}, type_tag<__nv_bfloat16>{});
    default: TORCH_CHECK_TYPE(false, "s6scan: unsupported input dtype ", in);
  }
}

/// @brief The saved states on the CPU: the values the GPU forward saves (the state after every
///        checkpoint_steps(dstate) steps and after the last step), computed by chaining the
///        reference over each interval from the end state of the one before. `scratch` receives
///        the intervals' outputs: (batch, dim, checkpoint_steps(dstate)) of out's dtype.
template <class InT, class OutT>
void reference_states(s6scan::forward_args<InT, OutT> a, const Tensor& states,
                      const Tensor& scratch) {
  const int64_t L = a.seqlen, K = s6scan::checkpoint_steps(a.dstate);
  a.out = seq_view<OutT>(scratch);
  for (int64_t t0 = 0, k = 0; t0 < L; t0 += K, ++k) {
    const Tensor end = states.select(2, k);
    a.seqlen = std::min<int64_t>(K, L - t0);
    a.last_state = state_view<float>(end);
    raise_if_refused("s6scan.forward", s6scan::reference_forward(a));
    const int64_t steps = a.seqlen;  // every time-indexed tensor has a unit last stride
    a.u.data += steps;
    a.delta.data += steps;
    if (a.z.data) a.z.data += steps;
    if (a.B.data) a.B.data += steps;
    if (a.C.data) a.C.data += steps;
    a.initial_state = state_view<const float>(end);
  }
}

/// @brief forward(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, out_float,
///        checkpoint_steps) -> (out, last_state, states).
///
/// out is (batch, dim, seqlen) in u's dtype, or float32 with out_float; last_state is
/// (batch, dim, dstate) float32; states are what the backward needs: (batch, dim, chunks, dstate)
/// float32, with chunks = ceil(seqlen / checkpoint_steps), or an empty tensor when
/// checkpoint_steps is 0. A nonzero checkpoint_steps must equal s6scan::checkpoint_steps(dstate).
/// The argument exists so that the states' shape follows from the op's arguments: a graph that
/// torch.compile cached under one interval then never serves a build with another (Inductor's
/// cache key holds the graph's constants but not what a fake function computes).
std::tuple<Tensor, Tensor, Tensor> forward_op(const Tensor& u, const Tensor& delta,
                                              const Tensor& A, const Tensor& B, const Tensor& C,
                                              const opt_tensor& D, const opt_tensor& z,
                                              const opt_tensor& delta_bias,
                                              const opt_tensor& initial_state,
                                              bool delta_softplus, bool out_float,
                                              int64_t checkpoint_steps) {
  constexpr const char* op = "s6scan.forward";
  const scan_inputs s =
      check_inputs(op, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus);
  const int steps = s6scan::checkpoint_steps(s.dstate);
  TORCH_CHECK_VALUE(checkpoint_steps == 0 || checkpoint_steps == steps, op,
                    ": checkpoint_steps is ", checkpoint_steps, " but this build saves a state every ",
                    steps, " steps at dstate ", s.dstate,
                    " (s6scan_torch.checkpoint_steps(dstate)); pass that, or 0 to save none");
  const bool save_states = checkpoint_steps != 0;
  const auto out_type = out_float ? at::kFloat : u.scalar_type();
  const auto f32 = u.options().dtype(at::kFloat);
  Tensor out = at::empty({s.batch, s.dim, s.seqlen}, u.options().dtype(out_type));
  Tensor last = at::empty({s.batch, s.dim, s.dstate}, f32);
  const int64_t chunks = s6scan::checkpoint_chunks(s.seqlen, s.dstate);
  Tensor states = save_states ? at::empty({s.batch, s.dim, chunks, s.dstate}, f32)
                              : at::empty({0}, f32);
  with_types(u.scalar_type(), out_type, [&](auto in_tag, auto out_tag) {
    using InT = typename decltype(in_tag)::type;
    using OutT = typename decltype(out_tag)::type;
    auto a = make_forward_args<InT, OutT>(s);
    a.out = seq_view<OutT>(out);
    a.last_state = state_view<float>(last);
    if (u.is_cuda()) {
      const c10::cuda::CUDAGuard guard(u.device());
      // Without saved states (inference) a scratch of the same layout lets a call with few
      // channels split time across blocks as a training call does.
      Tensor scratch;
      s6scan::device_buffer workspace;
      if (save_states) {
        a.saved_states = {states.data_ptr(), size_t(states.nbytes())};
      } else {
        size_t bytes = 0;
        raise_if_refused(op, s6scan_torch::forward_workspace_bytes(a, &bytes));
        if (bytes > 0) {
          scratch = at::empty({int64_t(bytes)}, u.options().dtype(at::kByte));
          workspace = {scratch.data_ptr(), bytes};
        }
      }
      raise_if_refused(op, s6scan_torch::run_forward(a, workspace,
                                                     c10::cuda::getCurrentCUDAStream()));
    } else {
      TORCH_CHECK_VALUE(u.is_cpu(), op, ": tensors on ", u.device(), " are not supported");
      raise_if_refused(op, s6scan::reference_forward(a));
      if (save_states)
        reference_states(a, states,
                         at::empty({s.batch, s.dim, steps}, out.options()));
    }
  });
  return {out, last, states};
}

/// @brief Copies a gradient of the CPU reference (float64, contiguous) into a tensor.
void copy_gradient(const std::vector<double>& g, Tensor& t) {
  if (t.numel() == 0) return;
  t.copy_(at::from_blob(const_cast<double*>(g.data()), t.sizes(), at::kDouble));
}

using gradients = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>;

/// @brief backward(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, states,
///        dout, dlast_state) -> (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, dinitial_state).
///
/// The inputs are the forward's, unchanged; states are its saved states. dout has out's dtype;
/// dlast_state (float32) may be absent. The gradients of absent optional inputs (D, z, delta_bias,
/// initial_state) come back as empty tensors.
gradients backward_op(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                      const Tensor& C, const opt_tensor& D, const opt_tensor& z,
                      const opt_tensor& delta_bias, const opt_tensor& initial_state,
                      bool delta_softplus, const Tensor& states, const Tensor& dout,
                      const opt_tensor& dlast_state) {
  constexpr const char* op = "s6scan.backward";
  const scan_inputs s =
      check_inputs(op, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus);
  const auto dev = u.device();
  const auto in = u.scalar_type();
  TORCH_CHECK_TYPE(dout.scalar_type() == in || dout.scalar_type() == at::kFloat, op,
                   ": dout has dtype ", dout.scalar_type(), "; expected out's dtype, ", in,
                   " or float32");
  check_tensor(op, "dout", dout, u.sizes(), dout.scalar_type(), dev, "");
  const Tensor g_out = unit_last_stride(dout);
  opt_tensor g_last;
  if (dlast_state) {
    check_tensor(op, "dlast_state", *dlast_state, {s.batch, s.dim, s.dstate}, at::kFloat, dev,
                 "states are float32");
    g_last = unit_last_stride(*dlast_state);
  }
  const int64_t chunks = s6scan::checkpoint_chunks(s.seqlen, s.dstate);
  TORCH_CHECK_VALUE(states.device() == dev && states.scalar_type() == at::kFloat &&
                        states.sizes() == at::IntArrayRef({s.batch, s.dim, chunks, s.dstate}),
                    op, ": states must be the forward's saved states, float32 of shape [", s.batch,
                    ", ", s.dim, ", ", chunks, ", ", s.dstate, "] on ", dev, "; got ",
                    states.scalar_type(), " of shape ", states.sizes(), " on ", states.device(),
                    " (run the forward with a nonzero checkpoint_steps)");
  const Tensor saved = states.contiguous();

  const auto f32 = u.options().dtype(at::kFloat);
  const auto empty_like_opt = [&](const opt_tensor& t, at::TensorOptions o) {
    return t ? at::empty(t->sizes(), o) : at::empty({0}, o);
  };
  Tensor du = at::empty(u.sizes(), u.options());
  Tensor ddelta = at::empty(u.sizes(), u.options());
  Tensor dA = at::empty({s.dim, s.dstate}, f32);
  Tensor dB = at::empty(s.B.sizes(), s.B.options());
  Tensor dC = at::empty(s.C.sizes(), s.C.options());
  Tensor dD = empty_like_opt(s.D, f32);
  Tensor dz = empty_like_opt(s.z, u.options());
  Tensor dbias = empty_like_opt(s.delta_bias, f32);
  Tensor dh0 = empty_like_opt(s.h0, f32);

  with_types(in, dout.scalar_type(), [&](auto in_tag, auto out_tag) {
    using InT = typename decltype(in_tag)::type;
    using OutT = typename decltype(out_tag)::type;
    s6scan::backward_args<InT, OutT> g;
    g.fwd = make_forward_args<InT, OutT>(s);
    g.dout = seq_view<const OutT>(g_out);
    g.dlast_state = view_if<s6scan::state_tensor<const float>>(g_last, state_view<const float>);
    if (u.is_cuda()) {
      g.du = seq_view<InT>(du);
      g.ddelta = seq_view<InT>(ddelta);
      g.dA = matrix_view<float>(dA);
      if (s.B.dim() == 4) g.dB = bc_view<InT>(dB); else g.dB_const = matrix_view<float>(dB);
      if (s.C.dim() == 4) g.dC = bc_view<InT>(dC); else g.dC_const = matrix_view<float>(dC);
      if (s.D) g.dD = vector_view<float>(dD);
      if (s.z) g.dz = seq_view<InT>(dz);
      if (s.delta_bias) g.ddelta_bias = vector_view<float>(dbias);
      if (s.h0) g.dinitial_state = state_view<float>(dh0);
      const c10::cuda::CUDAGuard guard(dev);
      g.fwd.saved_states = {saved.data_ptr(), size_t(saved.nbytes())};
      size_t ws_bytes = 0;
      raise_if_refused(op, s6scan_torch::backward_workspace_bytes(g, &ws_bytes));
      Tensor ws = at::empty({int64_t(ws_bytes)}, u.options().dtype(at::kByte));
      raise_if_refused(op, s6scan_torch::run_backward(g, {ws.data_ptr(), ws_bytes},
                                                      c10::cuda::getCurrentCUDAStream()));
    } else {
      TORCH_CHECK_VALUE(u.is_cpu(), op, ": tensors on ", dev, " are not supported");
      s6scan::reference_gradients r;
      raise_if_refused(op, s6scan::reference_backward(g.fwd, g.dout, g.dlast_state, r));
      const std::pair<const std::vector<double>*, Tensor*> copies[] = {
          {&r.du, &du}, {&r.ddelta, &ddelta}, {&r.dA, &dA},   {&r.dB, &dB},           {&r.dC, &dC},
          {&r.dD, &dD}, {&r.dz, &dz},         {&r.dh0, &dh0}, {&r.ddelta_bias, &dbias}};
      for (const auto& [v, t] : copies)
        copy_gradient(*v, *t);
    }
  });
  return {du, ddelta, dA, dB, dC, dD, dz, dbias, dh0};
}

}  // namespace

TORCH_LIBRARY(s6scan, m) {
  m.def(
      "forward(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, "
      "Tensor? delta_bias, Tensor? initial_state, bool delta_softplus, bool out_float, "
      "int checkpoint_steps) -> (Tensor out, Tensor last_state, Tensor states)");
  m.def(
      "backward(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, "
      "Tensor? delta_bias, Tensor? initial_state, bool delta_softplus, Tensor states, "
      "Tensor dout, Tensor? dlast_state) -> (Tensor du, Tensor ddelta, Tensor dA, Tensor dB, "
      "Tensor dC, Tensor dD, Tensor dz, Tensor ddelta_bias, Tensor dinitial_state)");
}

// One function per operator serves both devices: the checks are shared and only the final call
// differs.
TORCH_LIBRARY_IMPL(s6scan, CUDA, m) {
  m.impl("forward", &forward_op);
  m.impl("backward", &backward_op);
}
TORCH_LIBRARY_IMPL(s6scan, CPU, m) {
  m.impl("forward", &forward_op);
  m.impl("backward", &backward_op);
}

namespace {
/// @brief _C.checkpoint_steps(dstate): s6scan::checkpoint_steps, which the tests compare with the
///        Python rule that s6scan_torch.checkpoint_steps builds from the module's constants.
PyObject* py_checkpoint_steps(PyObject*, PyObject* dstate) {
  const long long n = PyLong_AsLongLong(dstate);
  if (n == -1 && PyErr_Occurred()) return nullptr;
  return PyLong_FromLong(s6scan::checkpoint_steps(n));
}
PyMethodDef methods[] = {
    {"checkpoint_steps", py_checkpoint_steps, METH_O,
     "checkpoint_steps(dstate) -> steps between the states the forward saves for the backward"},
    {nullptr, nullptr, 0, nullptr}};
}  // namespace

// `import s6scan_torch._C` loads this library, which registers the operators above. Its integer
// constants are those of s6scan::checkpoint_steps: plain ints, which torch.compile reads as
// constants where it cannot call into this module.
extern "C" PyMODINIT_FUNC PyInit__C(void) {
  static PyModuleDef def = {PyModuleDef_HEAD_INIT, "_C",
                            "s6scan's operators, registered as torch.ops.s6scan", -1, methods};
  PyObject* module = PyModule_Create(&def);
  if (module &&
      (PyModule_AddIntConstant(module, "MIN_CHECKPOINT_STEPS", s6scan::kMinCheckpointSteps) ||
       PyModule_AddIntConstant(module, "MAX_CHECKPOINT_STEPS", s6scan::kMaxCheckpointSteps) ||
       PyModule_AddIntConstant(module, "SHORT_CHECKPOINT_DSTATE", s6scan::kShortCheckpointDState))) {
    Py_DECREF(module);
    return nullptr;
  }
  return module;
}
