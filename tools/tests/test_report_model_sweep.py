#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/report.py --model and --sweep on small benchmark and reference files written here: the
model step's weighted sums and ratios, a missing shape, and the sweep's slower rows and counts.
Run by CTest (label tools)."""
from report_run import run_report


def row(shape, fwd, fwdbwd, **extra):
    r = {"shape": shape, "dtype": "bfloat16", "fwd_ms": fwd, "floor_ms": fwd / 4,
         "fwdbwd_ms": fwdbwd, "fwdbwd_floor_ms": fwdbwd / 4, "batch": 1, "dim": 8, "seqlen": 64,
         "dstate": 16}
    r.update(extra)
    return r


def ref(shape, impl, fwd, fwdbwd):
    return {"shape": shape, "dtype": "bfloat16", "impl": impl, "fwd_ms": fwd, "fwdbwd_ms": fwdbwd}


def main():
    # vmamba-t: stages called 2, 2, 5 and 2 times. s6scan's sums: fwd 2+2+5+2 = 11 (every stage
    # 1.0 ms), fwd+bwd 4 x 11 = 44; oflex twice as slow in both.
    stages = ["vmamba_s1_N1", "vmamba_s2_N1", "vmamba_s3_N1", "vmamba_s4_N1"]
    ours = [row(s, 1.0, 4.0) for s in stages]
    refs = [ref(s, "vmamba_oflex", 2.0, 8.0) for s in stages]
    code, out = run_report(ours, refs, "--model", "vmamba-t")
    assert code == 0, out
    assert "| bfloat16 | 11.00 | 2.75 | 22.00 (2.00×) | 44.00 | 11.00 | 88.00 (2.00×) |" in out, out
    # vmamba-s calls stage 3 fifteen times: fwd 21.
    code, out = run_report(ours, refs, "--model", "vmamba-s")
    assert code == 0 and "| bfloat16 | 21.00 |" in out, out
    code, out = run_report(ours[:3], refs, "--model", "vmamba-t")
    assert code == 2 and "lack a shape of vmamba-t" in out, out

    # --sweep: one row ahead of every figure, one slower in the forward without saved states
    # (against the faster reference) and in fwd+bwd.
    ours = [row("a", 1.0, 4.0, fwd_infer_ms=1.0), row("b", 1.0, 4.0, fwd_infer_ms=1.5)]
    refs = [ref("a", "mamba", 1.2, 5.0), ref("b", "mamba", 1.2, 3.0), ref("b", "other", 1.1, 5.0)]
    code, out = run_report(ours, refs, "--sweep")
    assert code == 1, out
    assert "- a " not in out, out
    assert "fwd without saved states 1.500 against other's 1.100 (1.36x)" in out, out
    assert "fwd+bwd 4.000 against mamba's 3.000 (1.33x)" in out, out
    assert "of 2 rows with reference figures, slower: fwd 0, fwd without saved states 1, fwd+bwd 1" in out, out
    code, out = run_report(ours[:1], refs, "--sweep")
    assert code == 0 and "slower: fwd 0, fwd without saved states 0, fwd+bwd 0" in out, out
    print("report.py --model and --sweep: all cases passed")


if __name__ == "__main__":
    main()
