# SPDX-License-Identifier: MIT
"""s6scan_torch against the float64 PyTorch reference (s6scan_torch.reference).

Every case draws fresh random inputs, runs selective_scan_fn forward and backward, and compares the
output, the last state and every gradient with the reference's (relative L2): float32 tensors
within 1e-5 (1e-4 for gradients summed over batch, time or channels), 16-bit ones within 1.5x the
error of rounding the reference itself to that type. The operator allocates its outputs, so there
is nothing to poison; a kernel that skipped an element would leave torch.empty's garbage there.

The "cuda" cases run the library's kernels and skip, with the reason, when no GPU is visible. The
"cpu" cases run the operator's CPU implementation (the library's float64 reference), which checks
the wrapper itself: argument mapping, strides, B/C forms, gradients and registration.
"""

import itertools
import math
import os
import sys

import pytest
import torch
import torch.nn.functional as F

from s6scan_torch import _C, checkpoint_steps, selective_scan_fn, selective_scan_ref

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mamba_block import MambaBlock  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
NO_CUDA = "no CUDA device visible: the GPU cases run on the H200 (README, PyTorch section)"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA))]
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)

F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16
OPTIONS = ("D", "z", "bias", "softplus", "h0", "last", "B_const", "C_const", "B_3d", "strided")


def rel_l2(got, want):
    got, want = got.double(), want.double()
    return ((got - want).norm() / want.norm().clamp_min(1e-300)).item()


def bound(got, want, reduced):
    """What the error of `got` may reach (module docstring)."""
    if got.dtype == F32:
        return 1e-4 if reduced else 1e-5
    return max(1.5 * rel_l2(want.to(got.dtype), want), 1e-5)


def make_inputs(device, dtype, batch, dim, seqlen, dstate, groups, opts, seed):
    """Fresh random inputs; `opts` names the options that are on."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0, dt=dtype, positive=False):
        t = torch.randn(*shape, generator=g) * scale + shift
        return (t.abs() if positive else t).to(device=device, dtype=dt)

    def seq(*shape, **kw):
        if "strided" not in opts:
            return rand(*shape, **kw)
        # a view into a longer buffer: unit last stride, rows not 16-byte aligned
        return rand(*shape[:-1], shape[-1] + 3, **kw)[..., 1:shape[-1] + 1]

    # delta: a step of about 0.1 to 0.5, before (softplus) or without the softplus
    softplus = "softplus" in opts
    x = {"u": seq(batch, dim, seqlen),
         "delta": seq(batch, dim, seqlen, scale=0.5, shift=-1.0 if softplus else 0.1, positive=not softplus),
         "A": -torch.exp(rand(dim, dstate, scale=0.5, dt=F32))}
    for name in "BC":
        if f"{name}_const" in opts:
            x[name] = rand(dim, dstate, dt=F32)
        elif "B_3d" in opts:  # mamba's (batch, dstate, seqlen): one group
            assert groups == 1
            x[name] = seq(batch, dstate, seqlen)
        elif "strided" in opts:  # last stride not 1: the operator makes it contiguous
            x[name] = rand(batch, groups, seqlen, dstate).transpose(2, 3)
        else:
            x[name] = rand(batch, groups, dstate, seqlen)
    x["D"] = rand(dim, dt=F32) if "D" in opts else None
    x["z"] = seq(batch, dim, seqlen) if "z" in opts else None
    x["delta_bias"] = rand(dim, scale=0.2, dt=F32, positive=True) if "bias" in opts else None
    x["initial_state"] = rand(batch, dim, dstate, dt=F32) if "h0" in opts else None
    return x


def check_case(device, dtype, out_float, batch, dim, seqlen, dstate, groups, opts, seed):
    x = make_inputs(device, dtype, batch, dim, seqlen, dstate, groups, opts, seed)
    leaves = {k: v.detach().requires_grad_() for k, v in x.items() if v is not None}
    kw = dict(leaves)
    softplus, last = "softplus" in opts, "last" in opts
    out = selective_scan_fn(**kw, delta_softplus=softplus, return_last_state=True, out_float=out_float)
    out, last_state = out
    assert out.dtype == (F32 if out_float else dtype) and out.shape == (batch, dim, seqlen)
    assert last_state.dtype == F32 and last_state.shape == (batch, dim, dstate)

    g = torch.Generator().manual_seed(seed + 1)
    dout = torch.randn(out.shape, generator=g).to(device=device, dtype=out.dtype)
    dlast = torch.randn(last_state.shape, generator=g).to(device) if last else None
    outputs, grads = ([out, last_state], [dout, dlast]) if last else ([out], [dout])
    got = dict(zip(leaves, torch.autograd.grad(outputs, list(leaves.values()), grads)))

    ref_leaves = {k: v.detach().double().requires_grad_() for k, v in leaves.items()}
    ref_out, ref_last = selective_scan_ref(**ref_leaves, delta_softplus=softplus, return_last_state=True)
    ref_outputs = [ref_out, ref_last] if last else [ref_out]
    ref_grads = [t.double() for t in grads if t is not None]
    want = dict(zip(ref_leaves, torch.autograd.grad(ref_outputs, list(ref_leaves.values()), ref_grads)))

    per_element = {"u", "delta", "z"}  # gradients not summed over batch, time or channels
    errors = {"out": (rel_l2(out, ref_out), bound(out, ref_out, False)),
              "last_state": (rel_l2(last_state, ref_last), 1e-5)}
    for k in leaves:
        assert got[k].dtype == leaves[k].dtype and got[k].shape == leaves[k].shape, k
        errors["d" + k] = (rel_l2(got[k], want[k]), bound(got[k], want[k], k not in per_element))
    line = " ".join(f"{k}={e:.2e}/{b:.1e}" for k, (e, b) in errors.items())
    print(f"error torch {device} {dtype}->{out.dtype} b{batch} d{dim} L{seqlen} N{dstate} "
          f"g{groups} [{','.join(sorted(opts)) or 'none'}] {line}")
    bad = {k: v for k, v in errors.items() if not v[0] <= v[1]}
    assert not bad, f"errors above their bounds: {bad}"


TYPES = [(F32, False), (F16, False), (F16, True), (BF16, False), (BF16, True)]
TYPE_IDS = ["f32", "f16", "f16->f32", "bf16", "bf16->f32"]


def grid():
    """Each type pair at each dstate, with the groups, lengths and options rotating; then lengths
    around the 64-step chunk and each option alone."""
    dstates = [1, 2, 16, 17, 64, 100, 256]
    lengths = [1, 31, 64, 65, 200, 333, 130]
    combos = [("D", "z", "bias", "softplus"), ("h0", "last"), ("B_const",), ("C_const", "D"),
              ("B_3d", "softplus", "bias"), ("strided", "z", "last"), ("D", "z", "bias", "softplus", "h0", "last")]
    cases = []
    for i, ((dtype, out_float), dstate) in enumerate(itertools.product(TYPES, dstates)):
        groups = (1, 2, 4)[i % 3]
        opts = set(combos[i % len(combos)])
        if "B_3d" in opts:
            groups = 1
        cases.append((dtype, out_float, 2, 24 * groups, lengths[i % len(lengths)], dstate, groups, opts))
    for seqlen in (1, 2, 31, 32, 33, 63, 64, 65, 127, 129, 257):
        cases.append((BF16, False, 2, 40, seqlen, 16, 2, {"D", "z", "bias", "softplus", "h0", "last"}))
    for opt in OPTIONS:
        for dtype in (F32, BF16):
            cases.append((dtype, False, 3, 48, 97, 16, 1 if opt == "B_3d" else 4, {opt}))
    # several blocks per group (partial last block) for each default configuration
    for dstate in (1, 16, 64, 256):
        cases.append((BF16, False, 2, 2 * 150, 100, dstate, 2, {"D", "z", "softplus"}))
    return cases


def case_id(c):
    dtype, out_float, batch, dim, seqlen, dstate, groups, opts = c
    t = TYPE_IDS[TYPES.index((dtype, out_float))]
    return f"{t}-d{dim}-L{seqlen}-N{dstate}-g{groups}-{'+'.join(sorted(opts)) or 'none'}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", grid(), ids=case_id)
def test_against_reference(device, case):
    dtype, out_float, batch, dim, seqlen, dstate, groups, opts = case
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    check_case(device, dtype, out_float, batch, dim, seqlen, dstate, groups, opts, seed)


@pytest.mark.parametrize("device", DEVICES)
def test_last_state_only(device):
    """A loss on the last state alone: the backward gets no gradient for out."""
    x = make_inputs(device, F32, 2, 8, 70, 4, 1, {"h0"}, seed=3)
    leaves = [x[k].requires_grad_() for k in ("u", "delta", "A", "B", "C", "initial_state")]
    _, last = selective_scan_fn(*leaves[:5], initial_state=leaves[5], return_last_state=True)
    got = torch.autograd.grad(last.sum(), leaves)
    ref = [t.detach().double().requires_grad_() for t in leaves]
    _, ref_last = selective_scan_ref(*ref[:5], initial_state=ref[5], return_last_state=True)
    want = torch.autograd.grad(ref_last.sum(), ref, allow_unused=True, materialize_grads=True)
    assert not got[4].any()  # C does not reach the last state
    for g, w in zip(got[:4] + got[5:], want[:4] + want[5:]):
        assert rel_l2(g, w) <= 1e-4


@pytest.mark.parametrize("device", DEVICES)
def test_chained_calls(device):
    """A sequence split in two calls chained through last_state -> initial_state gives the output
    and the gradients of one call over the whole sequence."""
    x = make_inputs(device, F32, 2, 16, 150, 8, 2, {"D", "z", "bias", "softplus"}, seed=37)
    leaves = {k: v.requires_grad_() for k, v in x.items() if v is not None}
    seq = ("u", "delta", "z", "B", "C")
    dout = torch.randn(2, 16, 150, generator=torch.Generator().manual_seed(41)).to(device)
    whole = selective_scan_fn(**leaves, delta_softplus=True)
    want = torch.autograd.grad(whole, list(leaves.values()), dout)
    cut = 70  # not a multiple of the 64-step chunk
    first, h = selective_scan_fn(**{k: v[..., :cut] if k in seq else v for k, v in leaves.items()},
                                 delta_softplus=True, return_last_state=True)
    second = selective_scan_fn(**{k: v[..., cut:] if k in seq else v for k, v in leaves.items()},
                               delta_softplus=True, initial_state=h)
    chained = torch.cat([first, second], dim=-1)
    got = torch.autograd.grad(chained, list(leaves.values()), dout)
    assert rel_l2(chained, whole) <= 1e-5
    for name, g, w in zip(leaves, got, want):
        assert rel_l2(g, w) <= 1e-5, name


@pytest.mark.parametrize("device", DEVICES)
def test_weight_dtypes(device):
    """A, D and delta_bias given in bfloat16 are read as float32; their gradients come back in
    bfloat16: those of the same call with the weights in float32, rounded."""
    x = make_inputs(device, BF16, 2, 8, 50, 4, 1, {"D", "bias", "softplus"}, seed=29)
    seqs = {k: x[k] for k in ("u", "delta", "B", "C")}
    dout = torch.randn(2, 8, 50, generator=torch.Generator().manual_seed(31)).to(device, BF16)
    grads = []
    for dtype in (F32, BF16):
        w = {k: x[k].to(BF16).to(dtype).requires_grad_() for k in ("A", "D", "delta_bias")}
        out = selective_scan_fn(**seqs, **w, delta_softplus=True)
        grads.append(torch.autograd.grad(out, list(w.values()), dout))
    for g32, g16 in zip(*grads):
        assert g16.dtype == BF16 and torch.equal(g16, g32.to(BF16))


@cuda_only
def test_deterministic():
    """Two backward runs give the same bits (and the flag is accepted either way)."""
    x = make_inputs("cuda", BF16, 4, 256, 600, 16, 4, {"D", "z", "bias", "softplus"}, seed=5)
    leaves = {k: v.requires_grad_() for k, v in x.items() if v is not None}
    dout = torch.randn(4, 256, 600, device="cuda", dtype=BF16)
    runs = []
    for deterministic in (True, False):
        out = selective_scan_fn(**leaves, delta_softplus=True, deterministic=deterministic)
        runs.append(torch.autograd.grad(out, list(leaves.values()), dout))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


@cuda_only
def test_cpu_and_cuda_agree():
    """The CPU operator (float64 reference) and the kernels, on the same inputs; saved states too."""
    x = make_inputs("cpu", F32, 2, 64, 200, 16, 2, {"D", "z", "bias", "softplus", "h0"}, seed=7)
    args = (x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"], x["initial_state"], True, False,
            checkpoint_steps(16))
    cpu = torch.ops.s6scan.forward(*args)
    gpu = torch.ops.s6scan.forward(*[a.cuda() if isinstance(a, torch.Tensor) else a for a in args])
    for name, c, g in zip(("out", "last_state", "states"), cpu, gpu):
        assert rel_l2(g.cpu(), c) <= 1e-5, name


def errors_cases(device):
    """(what is wrong, exception, words the message must hold, inputs changed)."""
    def inp(**change):
        x = make_inputs(device, BF16, 2, 8, 40, 4, 2, {"D"}, seed=11)
        x.update(change)
        return x

    cases = [
        ("delta dtype", TypeError, ["delta has dtype", "BFloat16"], inp(delta=torch.rand(2, 8, 40, device=device))),
        ("u int", TypeError, ["u must be float32, float16 or bfloat16"],
         inp(u=torch.ones(2, 8, 40, dtype=torch.int32, device=device))),
        ("B seqlen", ValueError, ["B has shape", "[2, 2, 4, 39]"],
         inp(B=torch.randn(2, 2, 4, 39, device=device, dtype=BF16))),
        ("B and C groups", ValueError, ["B has 2 groups but C has 4"],
         inp(C=torch.randn(2, 4, 4, 40, device=device, dtype=BF16))),
        ("dim % groups", ValueError, ["dim 8 is not divisible by groups 3"],
         inp(B=torch.randn(2, 3, 4, 40, device=device, dtype=BF16), C=torch.randn(2, 3, 4, 40, device=device, dtype=BF16))),
        ("D shape", ValueError, ["D has shape", "[8]"], inp(D=torch.randn(7, device=device))),
        ("A shape", ValueError, ["A must be (dim, dstate)"], inp(A=torch.randn(8, device=device))),
        ("A complex", TypeError, ["A is complex"], inp(A=torch.randn(8, 4, dtype=torch.complex64, device=device))),
        ("z dtype", TypeError, ["z has dtype"], inp(z=torch.randn(2, 8, 40, device=device, dtype=F16))),
        ("seqlen 0", ValueError, ["seqlen must be positive, got 0"],
         {k: (v[..., :0] if k in ("u", "delta", "B", "C") else v) for k, v in inp().items()}),
    ]
    if device == "cuda":
        cases += [
            ("dstate 300", ValueError, ["unsupported_dstate", "dstate 300 exceeds 256", "MaxDState >= 300"],
             inp(A=-torch.rand(8, 300, device=device), B=torch.randn(2, 2, 300, 40, device=device, dtype=BF16),
                 C=torch.randn(2, 2, 300, 40, device=device, dtype=BF16))),
            ("device", ValueError, ["D is on cpu but u is on cuda"], inp(D=torch.randn(8))),
        ]
    return cases


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    for what, exc, words, x in errors_cases(device):
        with pytest.raises(exc) as info:
            selective_scan_fn(**x)
        for w in words:
            assert w in str(info.value), (what, str(info.value))
    x = make_inputs(device, F32, 1, 4, 10, 2, 1, set(), seed=1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="nrows must be a positive int"):
            selective_scan_fn(**x, nrows=bad)
    assert torch.equal(selective_scan_fn(**x, nrows=4), selective_scan_fn(**x))
    # the backward operator called without the forward's saved states
    args = (x["u"], x["delta"], x["A"], x["B"], x["C"], None, None, None, None, False)
    with pytest.raises(ValueError, match="nonzero checkpoint_steps"):
        torch.ops.s6scan.backward(*args, torch.empty(0, device=device), torch.ones_like(x["u"]), None)
    # the forward operator told another checkpoint interval than the build's
    for bad in (-16, 1, 32, 64):
        with pytest.raises(ValueError, match=f"checkpoint_steps is {bad} but this build saves a state "
                                             "every 16 steps at dstate 2"):
            torch.ops.s6scan.forward(*args, False, bad)


def test_checkpoint_steps():
    """s6scan_torch.checkpoint_steps (Python, from the extension's constants, so torch.compile
    traces it) against the library's s6scan::checkpoint_steps."""
    for dstate in range(1, 1025):
        assert checkpoint_steps(dstate) == _C.checkpoint_steps(dstate), dstate


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    """torch.library's own checks of the registration: schema, fake functions, autograd, and
    AOTAutograd with dynamic shapes."""
    x = make_inputs(device, F32, 2, 8, 70, 4, 2, {"D", "z", "bias", "h0"}, seed=13)
    args = [x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"], x["initial_state"]]
    steps = checkpoint_steps(4)
    torch.library.opcheck(torch.ops.s6scan.forward.default, (*args, True, False, 0))
    torch.library.opcheck(torch.ops.s6scan.forward.default, (*args, True, False, steps))
    for t in args:
        t.requires_grad_()
    torch.library.opcheck(torch.ops.s6scan.forward.default, (*args, True, False, steps))
    states = torch.ops.s6scan.forward(*args, True, False, steps)[2].detach()
    plain = [t.detach() for t in args]
    torch.library.opcheck(torch.ops.s6scan.backward.default,
                          (*plain, True, states, torch.randn_like(plain[0]), torch.randn_like(plain[8])))


@pytest.mark.parametrize("device", DEVICES)
def test_compile_mamba_block(device):
    """torch.compile of a Mamba block, in one graph (fullgraph: a graph break is an error), against
    the same block run eagerly: output and every parameter's gradient."""
    torch.manual_seed(17)
    model = MambaBlock(d_model=32, d_state=16).to(device)
    hidden = torch.randn(2, 100, 32, device=device)
    compiled = torch.compile(model, fullgraph=True)
    results = []
    for m in (model, compiled):
        m.zero_grad()
        out = m(hidden)
        out.square().mean().backward()
        results.append([out.detach()] + [p.grad.clone() for p in model.parameters()])
    for (name, _), e, c in zip([("out", None)] + list(model.named_parameters()), *results):
        assert rel_l2(c, e) <= 1e-4, name


@pytest.mark.parametrize("device", DEVICES)
def test_autocast(device):
    """Under autocast, float32 sequence inputs are cast to the autocast dtype (the result is that
    of casting them by hand); a float32 Mamba block trains under autocast with float32 gradients
    close to those of the float32 reference block."""
    x = make_inputs(device, F32, 2, 16, 80, 8, 2, {"D", "z", "bias", "softplus"}, seed=23)
    with torch.autocast(device, dtype=BF16):
        out = selective_scan_fn(**x, delta_softplus=True)
    cast = {k: v.to(BF16) if k in ("u", "delta", "z", "B", "C") else v for k, v in x.items()}
    assert out.dtype == BF16 and torch.equal(out, selective_scan_fn(**cast, delta_softplus=True))

    torch.manual_seed(19)
    model = MambaBlock(d_model=32, d_state=16).to(device)
    reference = MambaBlock(d_model=32, d_state=16, scan=selective_scan_ref).to(device)
    reference.load_state_dict(model.state_dict())
    hidden = torch.randn(2, 100, 32, device=device)
    with torch.autocast(device, dtype=BF16):
        out = model(hidden)
    out.float().square().mean().backward()
    ref_out = reference(hidden)
    ref_out.square().mean().backward()
    errors = {"out": rel_l2(out, ref_out)}
    for (name, p), r in zip(model.named_parameters(), reference.parameters()):
        assert p.grad.dtype == F32, name
        errors[name] = rel_l2(p.grad, r.grad)
    print("autocast errors", errors)
    assert all(e <= 0.05 for e in errors.values()), errors  # bfloat16 projections and scan
