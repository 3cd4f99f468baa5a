#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/report.py --targets on small benchmark and reference files written here: each target
missed alone, all met, and a missing mamba figure. Run by CTest (label host)."""
from report_run import run_report


def run(ours, refs):
    return run_report(ours, refs, "--targets")


def row(shape, fwd, floor, fwdbwd, dtype="bfloat16"):
    return {"shape": shape, "dtype": dtype, "fwd_ms": fwd, "floor_ms": floor, "fwdbwd_ms": fwdbwd}


def ref(shape, impl, fwd, fwdbwd, dtype="bfloat16"):
    return {"shape": shape, "dtype": dtype, "impl": impl, "fwd_ms": fwd, "fwdbwd_ms": fwdbwd}


def main():
    refs = [ref("N64", "mamba", 1.0, 6.0), ref("N64", "other", 0.9, 7.0),
            ref("vmamba_s2_N16", "mamba", 1.0, 6.0), ref("vmamba_s2_N16", "other", 0.5, 3.0)]
    # An anchor shape within 1.5x of its floor, 3x faster than mamba, ahead of every figure; a
    # stage row (not an anchor shape) only needs to be ahead of every figure.
    good = [row("N64", 0.30, 0.25, 2.0), row("vmamba_s2_N16", 0.45, 0.1, 2.9)]
    code, out = run(good, refs)
    assert code == 0 and "2 of 2 rows meet the targets" in out, out

    cases = [
        (row("N64", 0.40, 0.25, 2.0), "fwd 1.60x floor"),
        (row("N64", 0.30, 0.25, 2.5), "fwd+bwd 2.40x mamba's"),
        (row("vmamba_s2_N16", 0.55, 0.1, 2.9), "fwd 0.550 ms, slower than other's 0.500"),
        (row("vmamba_s2_N16", 0.45, 0.1, 3.5), "fwd+bwd 3.500 ms, slower than other's 3.000"),
        (row("N64", 0.30, 0.25, 2.0, dtype="float32"), "no fwd+bwd time to compare with mamba's"),
    ]
    for bad, message in cases:
        code, out = run([good[0], bad], refs)
        assert code == 1 and message in out and "1 of 2 rows meet the targets" in out, (message, out)

    code, out = run(good, [r for r in refs if r["impl"] != "mamba"])
    assert code == 2 and "needs the anchors' mamba figures" in out, out
    print("report.py --targets: all cases passed")


if __name__ == "__main__":
    main()
