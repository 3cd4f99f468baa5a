# SPDX-License-Identifier: MIT
"""s6scan's selective scan for PyTorch.

``selective_scan_fn`` takes the arguments of ``mamba_ssm.ops.selective_scan_interface.selective_scan_fn``
and returns the same values, differentiably; ``from s6scan_torch import selective_scan_fn`` replaces
mamba's. It runs two operators, ``torch.ops.s6scan.forward`` and ``torch.ops.s6scan.backward``
(defined in csrc/extension.cpp), which carry an autograd formula and fake functions, so
``torch.compile`` traces through them without graph breaks. CUDA tensors run the library's kernels;
CPU tensors run its float64 reference.
"""

import torch

from . import _C  # registers torch.ops.s6scan.*
from .reference import selective_scan_ref

__all__ = ["selective_scan_fn", "selective_scan_ref", "checkpoint_steps"]

def checkpoint_steps(dstate):
    """Steps between the states the forward saves for the backward: s6scan::checkpoint_steps
    (16 up to dstate 16, else 64), from the constants the extension was built with. Plain Python,
    so that torch.compile traces it; the forward operator refuses any other interval."""
    if dstate <= _C.SHORT_CHECKPOINT_DSTATE:
        return _C.MIN_CHECKPOINT_STEPS
    return _C.MAX_CHECKPOINT_STEPS


@torch.library.register_fake("s6scan::forward")
def _forward_fake(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, out_float,
                  steps):
    batch, dim, seqlen = u.shape
    dstate = A.shape[1]
    out = u.new_empty((batch, dim, seqlen), dtype=torch.float32 if out_float else u.dtype)
    last_state = u.new_empty((batch, dim, dstate), dtype=torch.float32)
    if steps:  # the real operator refuses any other nonzero value than checkpoint_steps(dstate)
        torch._check(steps == checkpoint_steps(dstate))
    chunks = (seqlen + steps - 1) // steps if steps else 0
    states = u.new_empty((batch, dim, chunks, dstate) if steps else (0,), dtype=torch.float32)
    return out, last_state, states


@torch.library.register_fake("s6scan::backward")
def _backward_fake(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, states,
                   dout, dlast_state):
    def like(t, dtype):
        return u.new_empty(t.shape if t is not None else (0,), dtype=dtype)

    f32 = torch.float32
    return (like(u, u.dtype), like(u, u.dtype), like(A, f32), like(B, B.dtype), like(C, C.dtype),
            like(D, f32), like(z, u.dtype), like(delta_bias, f32), like(initial_state, f32))


def _setup_context(ctx, inputs, output):
    u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, _, steps = inputs
    out, _, states = output
    ctx.mark_non_differentiable(states)
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, initial_state, states)
    ctx.delta_softplus = delta_softplus
    ctx.save_states = steps != 0
    ctx.out_dtype = out.dtype


def _backward(ctx, dout, dlast_state, _):
    if not ctx.save_states:
        raise RuntimeError("s6scan.forward ran with checkpoint_steps=0, so it saved nothing for a "
                           "backward; selective_scan_fn sets it when an input requires grad")
    u, delta, A, B, C, D, z, delta_bias, initial_state, states = ctx.saved_tensors
    if dout is None:  # only last_state was used
        dout = u.new_zeros(u.shape, dtype=ctx.out_dtype)
    grads = torch.ops.s6scan.backward(u, delta, A, B, C, D, z, delta_bias, initial_state,
                                      ctx.delta_softplus, states, dout, dlast_state)
    du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, dinitial_state = grads
    return (du, ddelta, dA, dB, dC,
            dD if D is not None else None,
            dz if z is not None else None,
            ddelta_bias if delta_bias is not None else None,
            dinitial_state if initial_state is not None else None,
            None, None, None)


torch.library.register_autograd("s6scan::forward", _backward, setup_context=_setup_context)


def _float32(t):
    return None if t is None else t.float()


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                      return_last_state=False, *, initial_state=None, out_float=False, nrows=None,
                      deterministic=True):
    """The selective scan (Mamba's S6), forward and backward on s6scan's kernels.

    Shapes and semantics are those of mamba_ssm's ``selective_scan_fn``:

    Args:
        u: (batch, dim, seqlen), float32, float16 or bfloat16.
        delta: (batch, dim, seqlen), u's dtype.
        A: (dim, dstate), real. Any float dtype; the scan reads it as float32.
        B, C: time-varying (batch, groups, dstate, seqlen) or (batch, dstate, seqlen), u's dtype;
            or constant (dim, dstate), read as float32. ``dim`` must be a multiple of ``groups``.
        D: (dim), optional skip connection, read as float32.
        z: (batch, dim, seqlen), optional gate, u's dtype: out = y * silu(z).
        delta_bias: (dim), optional, read as float32; added to delta before the softplus.
        delta_softplus: apply softplus to delta + delta_bias.
        return_last_state: also return the state after the last step, (batch, dim, dstate) float32;
            it is differentiable, so a loss may depend on it.
        initial_state: (batch, dim, dstate), optional state before the first step, read as
            float32; differentiable.
        out_float: return out in float32 whatever u's dtype (VMamba's ``oflex``).
        nrows: accepted for VMamba's call sites and checked; s6scan chooses the channels per block
            itself (README: "NRows"), so it changes nothing.
        deterministic: accepted for call sites that pass it; s6scan's backward is always
            deterministic (the same bits on every run), so it changes nothing.

    Returns:
        out (batch, dim, seqlen), or (out, last_state) with ``return_last_state``.

    Under ``torch.autocast``, u, delta, z and time-varying B/C are cast to the autocast dtype first.
    Errors (dtype, device or shape mismatches, and every refusal of the library) raise TypeError or
    ValueError with the reason, RuntimeError for what the device cannot do.
    """
    if nrows is not None and (isinstance(nrows, bool) or not isinstance(nrows, int) or nrows < 1):
        raise ValueError(f"nrows must be a positive int or None, got {nrows!r}")
    if not isinstance(deterministic, bool):
        raise ValueError(f"deterministic must be a bool, got {deterministic!r}")
    if A.is_complex():
        raise TypeError("A is complex; s6scan implements the real-valued selective scan")
    if B.dim() == 3:
        B = B.unsqueeze(1)
    if C.dim() == 3:
        C = C.unsqueeze(1)
    device = u.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        u, delta = u.to(dtype), delta.to(dtype)
        z = None if z is None else z.to(dtype)
        B = B.to(dtype) if B.dim() == 4 else B
        C = C.to(dtype) if C.dim() == 4 else C
    A, D, delta_bias, initial_state = map(_float32, (A, D, delta_bias, initial_state))
    B = B.float() if B.dim() == 2 else B
    C = C.float() if C.dim() == 2 else C
    inputs = (u, delta, A, B, C, D, z, delta_bias, initial_state)
    save_states = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
    steps = checkpoint_steps(A.shape[1]) if save_states else 0
    out, last_state, _ = torch.ops.s6scan.forward(*inputs, delta_softplus, out_float, steps)
    return (out, last_state) if return_last_state else out
