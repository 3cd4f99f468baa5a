#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/limits.py on a small CSV written here in the shape of ncu's raw page (a header, a units
row, one row per kernel): the split into the forward and the backward call, instructions per
state-step, time-weighted averages, the longest kernel's stalls and the limit named. Run by CTest
(label host)."""
import json
import os
import subprocess
import sys
import tempfile

LIMITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "limits.py")
COLUMNS = ["ID", "Kernel Name", "gpu__time_duration.sum", "smsp__inst_executed.sum",
           "smsp__issue_active.avg.pct_of_peak_sustained_active",
           "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active",
           "dram__throughput.avg.pct_of_peak_sustained_elapsed", "launch__registers_per_thread",
           "smsp__average_warps_issue_stalled_wait_per_issue_active.ratio",
           "smsp__average_warps_issue_stalled_selected_per_issue_active.ratio",
           "smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio"]


def csv_line(values):
    return ",".join('"%s"' % v for v in values) + "\n"


def main():
    # N64: 8 x 1024 x 2048 x 64 = 2^30 state-steps. Forward: one kernel; backward: a 3 ms kernel
    # and a 1 ms one.
    kernels = [["0", "void s6scan::detail::forward_kernel<A>(B)", "500,000", "268,435,456", "80",
                "85", "10", "128", "0.5", "1", "0.1"],
               ["1", "void s6scan::detail::backward_kernel<A>(B)", "3,000,000", "1,073,741,824",
                "60", "20", "10", "168", "0.4", "1", "0.9"],
               ["2", "void s6scan::detail::backward_sum_bc_kernel<A>(B)", "1,000,000",
                "33,554,432", "20", "0", "90", "32", "2.0", "1", "0.1"]]
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "N64.bfloat16.csv"), "w") as f:
            f.write("==PROF== a line ncu may print first\n")
            f.write(csv_line(COLUMNS))
            f.write(csv_line([""] * len(COLUMNS)))
            for k in kernels:
                f.write(csv_line(k))
        with open(os.path.join(d, "ignored.csv"), "w") as f:
            f.write(csv_line(COLUMNS))
        out = os.path.join(d, "out.json")
        p = subprocess.run([sys.executable, LIMITS, d, "--json", out, "--commit", "abc123"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print("FAIL: exit", p.returncode, p.stderr)
            return 1
        saved = json.load(open(out))
        (r,) = saved["rows"]
        fwd, bwd = r["fwd"], r["bwd"]
        checks = [
            ("forward kernels", fwd["kernels"], 1), ("backward kernels", bwd["kernels"], 2),
            ("forward ms", round(fwd["ms"], 6), 0.5), ("backward ms", round(bwd["ms"], 6), 4.0),
            ("forward instructions per state-step", round(fwd["inst_per_state_step"], 6), 8.0),
            ("backward instructions per state-step", round(bwd["inst_per_state_step"], 6), 33.0),
            ("backward issue busy, time-weighted", round(bwd["issue_pct"], 6), 50.0),
            ("backward DRAM, time-weighted", round(bwd["dram_pct"], 6), 30.0),
            ("backward registers (longest kernel)", bwd["registers"], 168),
            ("backward stalls (longest kernel, without selected)", bwd["stalls"],
             [["barrier", 0.9], ["wait", 0.4]]),
            ("forward limit", fwd["limit"], "MUFU pipe"),
            ("commit", saved["commit"], "abc123"), ("gpu (no display-name column)", saved["gpu"], None),
            ("backward limit", bwd["limit"], "latency: few eligible warps, most stalled on barrier"),
        ]
        failed = [(what, got, want) for what, got, want in checks if got != want]
        for what, got, want in failed:
            print(f"FAIL: {what}: {got!r}, expected {want!r}")
        if "| N64 | bfloat16 | bwd | 2 | 4.000 | 33.0 | 50.0 |" not in p.stdout:
            print("FAIL: table row missing:\n" + p.stdout)
            failed.append("table")
        # What the targets need: forward 8.0 x 1.5 x 0.2 / 0.5 = 4.8 instructions a state-step;
        # backward 33 x (9.0 / 3 - 1.5 x 0.2) / (4.5 - 0.5) = 22.275.
        ours, ref = os.path.join(d, "bench.json"), os.path.join(d, "ref.json")
        json.dump({"records": [{"shape": "N64", "dtype": "bfloat16", "fwd_ms": 0.5,
                                "fwdbwd_ms": 4.5, "floor_ms": 0.2}]}, open(ours, "w"))
        json.dump({"results": [{"shape": "N64", "dtype": "bfloat16", "impl": "vmamba_oflex",
                                "fwdbwd_ms": 1.0},
                               {"shape": "N64", "dtype": "bfloat16", "impl": "mamba",
                                "fwdbwd_ms": 9.0}]}, open(ref, "w"))
        t = subprocess.run([sys.executable, LIMITS, d, "--json", out, "--bench", ours,
                            "--reference", ref], capture_output=True, text=True)
        need = json.load(open(out))["rows"][0].get("needed", {}) if t.returncode == 0 else {}
        for what, got, want in [("forward needed", need.get("fwd_inst"), 4.8),
                                ("backward needed", need.get("bwd_inst"), 22.275),
                                ("forward x floor", need.get("fwd_over_floor"), 2.5),
                                ("speed-up over mamba", need.get("speedup_fwdbwd"), 2.0)]:
            if got is None or abs(got - want) > 1e-9:
                print(f"FAIL: {what}: {got!r}, expected {want!r}")
                failed.append(what)
        if "| N64 | bfloat16 | 2.50 | 8.0 -> 4.8 | 2.00 | 33 -> 22 |" not in t.stdout:
            print("FAIL: targets row missing:\n" + t.stdout + t.stderr)
            failed.append("targets table")
        half = subprocess.run([sys.executable, LIMITS, d, "--bench", ours], capture_output=True)
        if half.returncode != 2:
            print("FAIL: --bench without --reference exits", half.returncode)
            failed.append("half")
        bad = subprocess.run([sys.executable, LIMITS, d, "--jsn", out], capture_output=True)
        if bad.returncode != 2:
            print("FAIL: an unknown option exits", bad.returncode)
            failed.append("usage")
        with tempfile.TemporaryDirectory() as empty:
            q = subprocess.run([sys.executable, LIMITS, empty], capture_output=True, text=True)
            if q.returncode != 1:
                print("FAIL: a folder without CSV files exits", q.returncode)
                failed.append("empty")
        if failed:
            return 1
    print("limits.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
