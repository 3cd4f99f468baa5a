# SPDX-License-Identifier: MIT
"""A Mamba block on s6scan_torch, trained for a few steps: the usage example of the extension.

    python examples/pytorch/mamba_block.py

Runs on the GPU when there is one, else on the CPU (the library's float64 reference, slowly), and
says which. It checks the block's output against the float64 reference scan, trains it for a few
Adam steps, checks that the loss goes down, and exits non-zero otherwise.
"""

import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from s6scan_torch import selective_scan_fn


class MambaBlock(nn.Module):
    """The Mamba mixer (Gu and Dao, 2023): input projection, causal depthwise convolution, the
    selective scan with input-dependent delta, B and C, gating by z, output projection."""

    def __init__(self, d_model, d_state=16, expand=2, d_conv=4, dt_rank=None, scan=selective_scan_fn):
        super().__init__()
        d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.scan = scan
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner, bias=True)
        with torch.no_grad():  # steps between 1e-3 and 1e-1, as Mamba initialises them
            dt = torch.exp(torch.rand(d_inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, hidden):  # (batch, seqlen, d_model)
        seqlen = hidden.shape[1]
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)  # (batch, d_inner, seqlen) each
        x = F.silu(self.conv1d(x)[..., :seqlen])
        dt, B, C = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (dt @ self.dt_proj.weight.t()).transpose(1, 2)  # (batch, d_inner, seqlen)
        A = -torch.exp(self.A_log.float())
        y = self.scan(x, delta, A, B.transpose(1, 2), C.transpose(1, 2), self.D.float(), z=z,
                      delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        return self.out_proj(y.transpose(1, 2).to(hidden.dtype))


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"s6scan_torch on {device}" + ("" if device == "cuda" else
          " (no GPU: the library's float64 CPU reference)"))
    model = MambaBlock(d_model=64).to(device)
    hidden = torch.randn(4, 200, 64, device=device)
    target = torch.roll(hidden, 1, dims=1)  # the task: repeat the previous token

    from s6scan_torch import selective_scan_ref
    reference = MambaBlock(d_model=64, scan=selective_scan_ref).to(device)
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        got, want = model(hidden), reference(hidden).float()
    err = ((got - want).norm() / want.norm()).item()
    print(f"block output vs float64 reference scan: relative L2 {err:.2e}")
    if not err <= 1e-5:
        return 1

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = F.mse_loss(model(hidden), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print("loss " + " ".join(f"{l:.4f}" for l in losses[::4]) + f" ... {losses[-1]:.4f}")
    if not losses[-1] < losses[0]:
        print("FAILED: the loss did not go down")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
