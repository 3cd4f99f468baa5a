# SPDX-License-Identifier: MIT
"""Times selective_scan_fn through PyTorch on one of the benchmark's shapes, to show what the
wrapper costs over the kernels alone.

    python examples/pytorch/time_op.py [--shape lm1.4b_N16] [--bench-json bench/results/h200.json]

Same inputs and options as bench/bench.cu (bfloat16, softplus, D and delta_bias on; the forward
saves its states), CUDA events, median of --reps runs after warm-up. With --bench-json (the
benchmark's output from the same GPU, ideally the same run) it prints the benchmark's figures
beside these and their ratio.
"""

import argparse
import json
import statistics
import sys

import torch

from s6scan_torch import selective_scan_fn

SHAPES = {  # name: batch, dim, seqlen, dstate, groups, z (as in bench/bench.cu)
    "lm1.4b_N16": (8, 4096, 2048, 16, 1, False),
    "lm1.4b_N16_z": (8, 4096, 2048, 16, 1, True),
    "vmamba_s1_N16": (64, 768, 3136, 16, 4, False),
}


def median_ms(fn, reps, warmup=3, back_to_back=False):
    """Median CUDA-event time of one call. Synchronised: each call alone, as bench/bench.cu times
    them (the host's launch latency shows). Back to back: every call queued behind the last, so the
    host's work overlaps the GPU's and only GPU time shows."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    for start, end in events:
        start.record()
        fn()
        end.record()
        if not back_to_back:
            end.synchronize()
    torch.cuda.synchronize()
    return statistics.median(start.elapsed_time(end) for start, end in events)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="lm1.4b_N16", choices=sorted(SHAPES))
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--bench-json")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to time")
        return 0
    batch, dim, seqlen, dstate, groups, has_z = SHAPES[args.shape]
    dev, bf16 = "cuda", torch.bfloat16
    torch.manual_seed(0)
    u = torch.randn(batch, dim, seqlen, device=dev, dtype=bf16)
    delta = (torch.randn(batch, dim, seqlen, device=dev) * 0.5 - 1).to(bf16)
    z = torch.randn(batch, dim, seqlen, device=dev, dtype=bf16) if has_z else None
    A = -torch.exp(torch.randn(dim, dstate, device=dev))
    B = torch.randn(batch, groups, dstate, seqlen, device=dev, dtype=bf16)
    C = torch.randn(batch, groups, dstate, seqlen, device=dev, dtype=bf16)
    D = torch.randn(dim, device=dev)
    bias = torch.rand(dim, device=dev) * 0.1
    inputs = [t for t in (u, delta, A, B, C, D, z, bias) if t is not None]
    for t in inputs:
        t.requires_grad_()
    dout = torch.randn(batch, dim, seqlen, device=dev, dtype=bf16)

    def forward():
        return selective_scan_fn(u, delta, A, B, C, D, z=z, delta_bias=bias, delta_softplus=True)

    def training_step():
        torch.autograd.grad(forward(), inputs, dout)

    fwd = median_ms(forward, args.reps)
    fwdbwd = median_ms(training_step, max(10, args.reps // 2))
    fwd_queued = median_ms(forward, args.reps, back_to_back=True)
    fwdbwd_queued = median_ms(training_step, max(10, args.reps // 2), back_to_back=True)
    print(f"torch {args.shape} bfloat16 (selective_scan_fn with autograd, {torch.cuda.get_device_name()}):")
    print(f"  synchronised: forward {fwd:.3f} ms, forward+backward {fwdbwd:.3f} ms")
    print(f"  back to back: forward {fwd_queued:.3f} ms, forward+backward {fwdbwd_queued:.3f} ms")
    if args.bench_json:
        with open(args.bench_json) as f:
            records = json.load(f)
        records = records.get("records", records) if isinstance(records, dict) else records
        r = next((r for r in records if r["shape"] == args.shape and r["dtype"] == "bfloat16"), None)
        if r is None:
            print(f"{args.shape} bfloat16 is not in {args.bench_json}")
            return 1
        print(f"bench {args.shape} bfloat16 (synchronised): forward {r['fwd_ms']:.3f} ms, "
              f"forward+backward {r['fwdbwd_ms']:.3f} ms (commit {r.get('commit', '?')})")
        for how, f, fb in (("synchronised", fwd, fwdbwd), ("back to back", fwd_queued, fwdbwd_queued)):
            print(f"torch {how} / bench: forward {f / r['fwd_ms']:.3f}, "
                  f"forward+backward {fb / r['fwdbwd_ms']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
