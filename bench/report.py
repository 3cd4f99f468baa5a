#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares an s6scan benchmark JSON with reference timings and draws the ratio-to-floor plot.

    python3 bench/report.py bench/results/h200.json --reference ../shared/anchors-h200.json \
        --markdown --plot bench/results/h200.png

Reference files list records under "results" (or "records") with "shape", "dtype", "fwd_ms",
optionally "fwdbwd_ms" and "impl" (one column per impl). The markdown table gives, per shape and
dtype: s6scan's forward time, its floor and ratio, and the speed-up over each reference forward
(and forward+backward when both sides have one). The plot needs matplotlib; the table does not.
"""
import argparse
import json
import sys


def load_records(path):
    with open(path) as f:
        data = json.load(f)
    return data.get("records", data.get("results", [])), data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="s6scan_bench --json output")
    ap.add_argument("--reference", action="append", default=[], help="reference timings JSON (repeatable)")
    ap.add_argument("--dtype", default="bfloat16", help="dtype for the plot (the table has all)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument("--plot", help="write a PNG of forward time over floor per shape")
    args = ap.parse_args()

    ours, meta = load_records(args.results)
    refs = {}  # impl -> {(shape, dtype): record}
    for path in args.reference:
        records, _ = load_records(path)
        for r in records:
            refs.setdefault(r.get("impl", path), {})[(r["shape"], r["dtype"])] = r
    impls = sorted(refs)

    if args.markdown or not args.plot:
        print(f"s6scan at {meta.get('commit', '?')} on {meta.get('gpu', '?')}; forward ms, floor ms, x floor, "
              "then the speed-up over each reference (>1: s6scan faster)\n")
        head = ["shape", "dtype", "fwd_ms", "floor_ms", "x floor"] + [f"vs {i} fwd" for i in impls]
        head += [f"vs {i} fwd+bwd" for i in impls]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in ours:
            key = (r["shape"], r["dtype"])
            cells = [r["shape"], r["dtype"], f"{r['fwd_ms']:.3f}", f"{r['floor_ms']:.3f}", f"{r['fwd_ms'] / r['floor_ms']:.2f}"]
            for i in impls:
                ref = refs[i].get(key)
                cells.append(f"{ref['fwd_ms'] / r['fwd_ms']:.2f}" if ref else "")
            for i in impls:
                ref = refs[i].get(key)
                both = ref and ref.get("fwdbwd_ms") and r.get("fwdbwd_ms")
                cells.append(f"{ref['fwdbwd_ms'] / r['fwdbwd_ms']:.2f}" if both else "")
            print("| " + " | ".join(cells) + " |")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [r for r in ours if r["dtype"] == args.dtype]
        if not rows:
            sys.exit(f"no {args.dtype} records in {args.results}")
        names = [r["shape"] for r in rows]
        series = [("s6scan", [r["fwd_ms"] / r["floor_ms"] for r in rows])]
        for i in impls:
            # Each reference is divided by s6scan's floor of the same shape, measured in the same
            # run as s6scan's time, so every bar is on one scale.
            vals = [refs[i][(r["shape"], r["dtype"])]["fwd_ms"] / r["floor_ms"] if (r["shape"], r["dtype"]) in refs[i]
                    else float("nan") for r in rows]
            series.append((i, vals))
        width = 0.8 / len(series)
        fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(rows)), 4.5))
        for k, (label, vals) in enumerate(series):
            ax.bar([x + (k - (len(series) - 1) / 2) * width for x in range(len(rows))], vals, width, label=label)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(1.5, color="gray", linewidth=0.8, linestyle="--", label="target 1.5x")
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(names, rotation=35, ha="right")
        ax.set_ylabel("forward time / floor (log)")
        ax.set_title(f"forward over its floor, {args.dtype}, {meta.get('gpu', '')} (s6scan {meta.get('commit', '')})")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
