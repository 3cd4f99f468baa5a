# SPDX-License-Identifier: MIT
"""The selective scan in plain PyTorch, in float64: the tests' oracle for s6scan_torch.

Every step is an ordinary differentiable torch operation, so autograd gives the reference
gradients. It loops over time (one step per iteration), so keep sequences short.
"""

import torch
import torch.nn.functional as F


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False, initial_state=None):
    """Same arguments and results as ``s6scan_torch.selective_scan_fn``, computed in float64.

    The outputs are float64; cast them as needed.
    """
    f64 = torch.float64
    u, delta, A = u.to(f64), delta.to(f64), A.to(f64)
    batch, dim, seqlen = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias.to(f64)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)  # log1p(exp(x)), and x itself above 20

    def per_channel(M):  # -> (batch or 1, dim, dstate, seqlen or 1)
        M = M.to(f64)
        if M.dim() == 2:  # constant (dim, dstate)
            return M[None, :, :, None]
        if M.dim() == 3:  # (batch, dstate, seqlen): one group
            M = M[:, None]
        return M.repeat_interleave(dim // M.shape[1], dim=1)

    Bc, Cc = per_channel(B), per_channel(C)
    dA = torch.exp(delta[:, :, None, :] * A[None, :, :, None])  # (batch, dim, dstate, seqlen)
    dBu = delta[:, :, None, :] * Bc * u[:, :, None, :]
    h = (initial_state.to(f64) if initial_state is not None
         else u.new_zeros((batch, dim, A.shape[1]), dtype=f64))
    # unbind, not indexing per step: the backward of x[..., t] makes a zero tensor of x's whole size
    # for every step (quadratic in seqlen: 33 s of a 0.6 s forward at dim 96, seqlen 333, dstate
    # 100), where unbind's backward stacks the steps' gradients once.
    dA_t, dBu_t, C_t = dA.unbind(-1), dBu.unbind(-1), Cc.unbind(-1)
    ys = []
    for t in range(seqlen):
        h = dA_t[t] * h + dBu_t[t]
        ys.append((h * C_t[min(t, len(C_t) - 1)]).sum(-1))
    out = torch.stack(ys, dim=-1)
    if D is not None:
        out = out + D.to(f64)[:, None] * u
    if z is not None:
        out = out * F.silu(z.to(f64))
    return (out, h) if return_last_state else out
