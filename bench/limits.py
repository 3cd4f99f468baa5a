#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What limits each shape's forward and backward call: a table from bench/limits.sh's CSV files
(Nsight Compute's raw page, base units, one row per kernel of one forward call then one backward
call). Per call: its kernels, their time under ncu, warp instructions per lane and state-step
(batch x dim x seqlen x dstate), and, weighted by each kernel's time, the issue slots busy, the
eligible and active warps per scheduler, achieved occupancy, DRAM throughput and the MUFU (XU)
and FMA pipes' use; from the longest kernel its registers and its three largest stall reasons
(warps stalled per issued instruction). The last column names the limit those figures point to.

    bench/limits.py DIR [--json OUT] [--commit SHA] [--bench BENCH_JSON --reference REF_JSON]

The shapes' sizes come from the file names (SHAPE.DTYPE.csv) and SHAPES below, which match
bench.cu's list.

With --bench (s6scan_bench's JSON) and --reference (anchors-h200.json), a second table says what
each profiled row would need to meet the speed targets (report.py --targets) at the issue rate
it runs at now: the forward's instructions per state-step times (1.5 x floor) / forward time, and
the backward's times the backward time the target leaves (mamba's forward+backward / 3, less a forward at 1.5x
its floor) over its time now (forward+backward less forward). The JSON rows gain "needed"."""
import csv
import json
import os
import re
import sys

# (batch, dim, seqlen, dstate) of bench.cu's shapes.
SHAPES = {
    "lm1.4b_N16": (8, 4096, 2048, 16), "lm1.4b_N16_z": (8, 4096, 2048, 16),
    "vmamba_s1_N1": (64, 768, 3136, 1), "vmamba_s1_N16": (64, 768, 3136, 16),
    "N64": (8, 1024, 2048, 64), "N128": (8, 1024, 2048, 128), "N256": (8, 1024, 2048, 256),
    "long32k_N16": (1, 2048, 32768, 16),
    "vmamba_s2_N1": (64, 1536, 784, 1), "vmamba_s2_N16": (64, 1536, 784, 16),
    "vmamba_s3_N1": (64, 3072, 196, 1), "vmamba_s3_N16": (64, 3072, 196, 16),
    "vmamba_s4_N1": (64, 6144, 49, 1), "vmamba_s4_N16": (64, 6144, 49, 16),
}

TIME = "gpu__time_duration.sum"
INST = "smsp__inst_executed.sum"
WEIGHTED = {
    "issue_pct": "smsp__issue_active.avg.pct_of_peak_sustained_active",
    "eligible": "smsp__warps_eligible.avg.per_cycle_active",
    "active": "smsp__warps_active.avg.per_cycle_active",
    "occupancy_pct": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "dram_pct": "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "xu_pct": "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active",
    "fma_pct": "sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active",
}
STALL = re.compile(r"^smsp__average_warps_issue_stalled_(\w+)_per_issue_active\.ratio$")


def number(text):
    try:
        return float(text.replace(",", ""))
    except (AttributeError, ValueError):
        return None


def read_kernels(path):
    """The kernels of one CSV file, in launch order, as {column: text}."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    head = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
    if head is None:
        return []
    names = rows[head]
    out = []
    for r in rows[head + 1:]:
        if not r or not r[0].strip().isdigit():  # the units row, and anything that is not a kernel
            continue
        out.append(dict(zip(names, r)))
    return out


def is_forward(kernel):
    return "forward_" in kernel.get("Kernel Name", "")


def summarise(kernels, state_steps):
    """One call's figures (see the module comment), or None without kernels."""
    if not kernels:
        return None
    times = [number(k.get(TIME)) or 0.0 for k in kernels]
    total = sum(times)
    main = kernels[times.index(max(times))]
    s = {"kernels": len(kernels), "ms": total * 1e-6,
         "inst_per_state_step": sum(number(k.get(INST)) or 0.0 for k in kernels) * 32 / state_steps,
         "registers": number(main.get("launch__registers_per_thread")),
         "main_kernel": main.get("Kernel Name", "")}
    for key, metric in WEIGHTED.items():
        pairs = [(number(k.get(metric)), t) for k, t in zip(kernels, times)]
        pairs = [(v, t) for v, t in pairs if v is not None]
        s[key] = sum(v * t for v, t in pairs) / sum(t for _, t in pairs) if pairs and total else None
    stalls = sorted(((number(v) or 0.0, m.group(1)) for c, v in main.items()
                     for m in [STALL.match(c)] if m), reverse=True)
    s["stalls"] = [(reason, round(v, 2)) for v, reason in stalls if reason != "selected"][:3]
    s["limit"] = limit_of(s)
    return s


def limit_of(s):
    """The limit the figures point to: a pipe or DRAM near its peak, else the issue slots, else
    too few eligible warps (latency), with the largest stall."""
    def at_least(key, v):
        return s.get(key) is not None and s[key] >= v
    if at_least("xu_pct", 80):
        return "MUFU pipe"
    if at_least("dram_pct", 70):
        return "DRAM bandwidth"
    if at_least("issue_pct", 75):
        return "issue slots (instructions)"
    if not s["stalls"]:
        return "unknown: no issue or stall counters"
    return f"latency: few eligible warps, most stalled on {s['stalls'][0][0]}"


def table(results):
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    lines = ["| shape | dtype | call | kernels | ms (ncu) | instr./state-step | issue busy % | "
             "eligible / active warps | occupancy % | registers | DRAM % | MUFU % | FMA % | "
             "largest stalls (per instr.) | limit |",
             "|" + "---|" * 15]
    for r in results:
        for call in ("fwd", "bwd"):
            s = r[call]
            if s is None:
                continue
            stalls = ", ".join(f"{k} {v}" for k, v in s["stalls"]) or "-"
            lines.append(
                f"| {r['shape']} | {r['dtype']} | {call} | {s['kernels']} | {s['ms']:.3f} | "
                f"{s['inst_per_state_step']:.1f} | {fmt(s['issue_pct'], '.1f')} | "
                f"{fmt(s['eligible'], '.2f')} / {fmt(s['active'], '.2f')} | "
                f"{fmt(s['occupancy_pct'], '.1f')} | {fmt(s['registers'], '.0f')} | "
                f"{fmt(s['dram_pct'], '.1f')} | {fmt(s['xu_pct'], '.1f')} | "
                f"{fmt(s['fma_pct'], '.1f')} | {stalls} | {s['limit']} |")
    return "\n".join(lines)


def needed(results, bench, reference):
    """Adds r["needed"] to each result with a bench record and a mamba figure; returns the table."""
    records = bench if isinstance(bench, list) else bench.get("records", [])
    ours = {(b["shape"], b["dtype"]): b for b in records}
    mamba = {(m["shape"], m["dtype"]): m for m in reference.get("results", [])
             if m.get("impl") == "mamba"}
    lines = ["| shape | dtype | fwd x floor | fwd instr./state-step: now -> needed | "
             "fwd+bwd speed-up over mamba | bwd instr./state-step: now -> needed |",
             "|" + "---|" * 6]
    for r in results:
        key = (r["shape"], r["dtype"])
        if key not in ours or key not in mamba or r["fwd"] is None or r["bwd"] is None:
            continue
        b, m = ours[key], mamba[key]
        fwd_now, bwd_now = r["fwd"]["inst_per_state_step"], r["bwd"]["inst_per_state_step"]
        fwd_need = fwd_now * 1.5 * b["floor_ms"] / b["fwd_ms"]
        bwd_need = bwd_now * (m["fwdbwd_ms"] / 3 - 1.5 * b["floor_ms"]) / (b["fwdbwd_ms"] - b["fwd_ms"])
        r["needed"] = {"fwd_over_floor": b["fwd_ms"] / b["floor_ms"], "fwd_inst": fwd_need,
                       "speedup_fwdbwd": m["fwdbwd_ms"] / b["fwdbwd_ms"], "bwd_inst": bwd_need}
        met = lambda now, need: " (met)" if need >= now else ""
        lines.append(f"| {r['shape']} | {r['dtype']} | {b['fwd_ms'] / b['floor_ms']:.2f} | "
                     f"{fwd_now:.1f} -> {fwd_need:.1f}{met(fwd_now, fwd_need)} | "
                     f"{m['fwdbwd_ms'] / b['fwdbwd_ms']:.2f} | "
                     f"{bwd_now:.0f} -> {bwd_need:.0f}{met(bwd_now, bwd_need)} |")
    return "\n".join(lines)


def main(argv):
    if len(argv) < 1 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    folder, options = argv[0], dict(zip(argv[1::2], argv[2::2]))
    if (len(argv) % 2 != 1 or set(options) - {"--json", "--commit", "--bench", "--reference"}
            or ("--bench" in options) != ("--reference" in options)):
        print(__doc__, file=sys.stderr)
        return 2
    results, gpu = [], None
    for name in sorted(os.listdir(folder)):
        m = re.match(r"^(.+)\.(bfloat16|float16|float32)\.csv$", name)
        if not m or m.group(1) not in SHAPES:
            continue
        b, d, l, n = SHAPES[m.group(1)]
        kernels = read_kernels(os.path.join(folder, name))
        gpu = gpu or next((k.get("device__attribute_display_name") for k in kernels), None)
        results.append({"shape": m.group(1), "dtype": m.group(2),
                        "fwd": summarise([k for k in kernels if is_forward(k)], b * d * l * n),
                        "bwd": summarise([k for k in kernels if not is_forward(k)], b * d * l * n)})
    if not results:
        print(f"limits.py: no SHAPE.DTYPE.csv files in {folder}", file=sys.stderr)
        return 1
    order = list(SHAPES)
    results.sort(key=lambda r: (order.index(r["shape"]), r["dtype"]))
    print(table(results))
    if "--bench" in options:
        with open(options["--bench"]) as fb, open(options["--reference"]) as fr:
            print("\n" + needed(results, json.load(fb), json.load(fr)))
    if "--json" in options:
        with open(options["--json"], "w") as f:
            json.dump({"gpu": gpu, "commit": options.get("--commit", "unknown"), "rows": results},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
