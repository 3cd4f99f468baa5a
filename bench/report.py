#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares an s6scan benchmark JSON with reference timings and draws the ratio-to-floor plot.

    python3 bench/report.py bench/results/h200.json --reference bench/results/anchors-h200.json \
        --markdown --plot bench/results/h200.png

Reference files list records under "results" (or "records") with "shape", "dtype", "fwd_ms",
optionally "fwdbwd_ms" and "impl" (one column per impl). The markdown table gives, per shape and
dtype: s6scan's forward time, its floor and ratio, and the speed-up over each reference forward
(and forward+backward when both sides have one). The plot needs matplotlib; the table does not.

--model NAME sums one training step's scan calls of a real model (MODELS: each benchmark shape
weighted by how many layers call it), forward and forward+backward, per dtype, for s6scan, each
reference and the floors:

    python3 bench/report.py bench/results/h200.json --reference bench/results/anchors-h200.json \
        --model vmamba-s

--sweep prints the sweep's rows (s6scan_bench --sweep 1) that are slower than the fastest
reference figure of the same shape, the forward with saved states and without, and
forward+backward, then a count of each.

--targets checks every row against the project's speed targets:
on the anchor shapes, in every dtype, the forward within 1.5x of its floor and forward+backward
at least 3x faster than mamba's; on every row, nothing slower than any reference figure. It
prints one line per row that misses, saying what misses and by how much, then a count, and exits
1 if a row misses.
"""
import argparse
import json
import sys

# The anchor shapes the targets apply to (the lm row in float32 is lm1.4b_N16's float32 record).
ANCHOR_SHAPES = ("lm1.4b_N16", "lm1.4b_N16_z", "vmamba_s1_N1", "vmamba_s1_N16", "N64", "N128", "N256",
                 "long32k_N16")
# One training step's scan calls: (benchmark shape, calls per step). VMamba v2 (embed 96,
# ssm_ratio 2, dstate 1, four directions as groups = 4, batch 64) calls the scan once per block
# of each stage; depths 2-2-5-2 (tiny) and 2-2-15-2 (small). Mamba-1.4B: 48 layers of the lm shape
# with z at batch 8.
MODELS = {
    "vmamba-t": (("vmamba_s1_N1", 2), ("vmamba_s2_N1", 2), ("vmamba_s3_N1", 5), ("vmamba_s4_N1", 2)),
    "vmamba-s": (("vmamba_s1_N1", 2), ("vmamba_s2_N1", 2), ("vmamba_s3_N1", 15), ("vmamba_s4_N1", 2)),
    "mamba-1.4b": (("lm1.4b_N16_z", 48),),
}
FWD_OVER_FLOOR = 1.5
FWDBWD_OVER_MAMBA = 3.0


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
    ap.add_argument("--targets", action="store_true", help="check every row against the speed targets")
    ap.add_argument("--model", choices=sorted(MODELS), help="sum one training step of this model")
    ap.add_argument("--sweep", action="store_true", help="list the sweep's rows slower than a reference")
    ap.add_argument("--readme", action="store_true",
                    help="print the README's table: --dtype's rows against the 'mamba' reference")
    args = ap.parse_args()

    ours, meta = load_records(args.results)
    refs = {}  # impl -> {(shape, dtype): record}
    for path in args.reference:
        records, _ = load_records(path)
        for r in records:
            refs.setdefault(r.get("impl", path), {})[(r["shape"], r["dtype"])] = r
    impls = sorted(refs)

    if args.targets:
        sys.exit(check_targets(ours, refs, meta))
    if args.model:
        sys.exit(model_step(ours, refs, meta, args.model))
    if args.sweep:
        sys.exit(sweep_report(ours, refs, meta))
    if args.readme:
        sys.exit(readme_table(ours, refs, meta, args.dtype))

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


# The README's names of the benchmark's shapes.
README_NAMES = {"lm1.4b_N16": "lm 8×4096×2048, N16", "lm1.4b_N16_z": "lm with z",
                "vmamba_s1_N1": "VMamba stage 1, N1", "vmamba_s1_N16": "VMamba stage 1, N16",
                "long32k_N16": "long 1×2048×32768, N16", "vmamba_s2_N1": "VMamba stage 2, N1",
                "vmamba_s2_N16": "VMamba stage 2, N16", "vmamba_s3_N1": "VMamba stage 3, N1",
                "vmamba_s3_N16": "VMamba stage 3, N16", "vmamba_s4_N1": "VMamba stage 4, N1",
                "vmamba_s4_N16": "VMamba stage 4, N16"}


def readme_table(ours, refs, meta, dtype):
    """Prints the README's speed table: one dtype, against mamba's figures. Returns 0, or 2."""
    mamba = refs.get("mamba")
    if mamba is None:
        print("--readme needs the anchors' mamba figures (--reference anchors-h200.json)")
        return 2
    print(f"{meta.get('gpu', '?')}, {dtype}, ms; speed-up is mamba's time over s6scan's\n")
    print("| shape | fwd | × floor | mamba fwd | speed-up | fwd+bwd | × floor | mamba fwd+bwd | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in ours:
        if r["dtype"] != dtype:
            continue
        m = mamba.get((r["shape"], r["dtype"]), {})
        cells = [README_NAMES.get(r["shape"], r["shape"]), f"{r['fwd_ms']:.3f}", f"{r['fwd_ms'] / r['floor_ms']:.1f}"]
        cells += [f"{m['fwd_ms']:.3f}", f"{m['fwd_ms'] / r['fwd_ms']:.2f}×"] if m.get("fwd_ms") else ["", ""]
        fb, floor = r.get("fwdbwd_ms"), r.get("fwdbwd_floor_ms")
        cells += [f"{fb:.2f}", f"{fb / floor:.1f}"] if fb and floor else ["", ""]
        cells += [f"{m['fwdbwd_ms']:.3f}", f"{m['fwdbwd_ms'] / fb:.2f}×"] if fb and m.get("fwdbwd_ms") else ["", ""]
        print("| " + " | ".join(cells) + " |")
    return 0


def model_step(ours, refs, meta, model):
    """Prints one training step's scan time of `model` per dtype; returns 0, or 2 if a shape is missing."""
    calls = MODELS[model]
    print(f"{model}: one training step's scan calls, ms (s6scan at {meta.get('commit', '?')} on "
          f"{meta.get('gpu', '?')}); speed-up is the reference's sum over s6scan's\n")
    # References with a figure for every shape of the model in some dtype.
    impls = [i for i in sorted(refs)
             if any(all((shape, d) in refs[i] for shape, _ in calls) for d in {r["dtype"] for r in ours})]
    head = ["dtype", "fwd", "fwd floor"] + [f"{i} fwd" for i in impls]
    head += ["fwd+bwd", "fwd+bwd floor"] + [f"{i} fwd+bwd" for i in impls]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    by_key = {(r["shape"], r["dtype"]): r for r in ours}
    status = 0
    for dtype in sorted({r["dtype"] for r in ours}):
        rows = [(by_key.get((shape, dtype)), n) for shape, n in calls]
        if any(r is None for r, _ in rows):
            print(f"| {dtype} | (the results lack a shape of {model}) |")
            status = 2
            continue

        def total(field, table=None):
            """The weighted sum of `field` over the model's shapes, or None where one lacks it."""
            vals = [(r if table is None else table.get((r["shape"], dtype)), n) for r, n in rows]
            if any(not v or not v.get(field) for v, _ in vals):
                return None
            return sum(v[field] * n for v, n in vals)

        def cell(ms, ours_ms):
            return "" if ms is None else (f"{ms:.2f}" if ours_ms is None else f"{ms:.2f} ({ms / ours_ms:.2f}×)")

        fwd, fb = total("fwd_ms"), total("fwdbwd_ms")
        cells = [dtype, cell(fwd, None), cell(total("floor_ms"), None)]
        cells += [cell(total("fwd_ms", refs[i]), fwd) for i in impls]
        cells += [cell(fb, None), cell(total("fwdbwd_floor_ms"), None)]
        cells += [cell(total("fwdbwd_ms", refs[i]), fb) if fb else "" for i in impls]
        print("| " + " | ".join(cells) + " |")
    return status


def sweep_report(ours, refs, meta):
    """Prints the rows slower than the fastest reference and the counts; returns 1 if any, else 0."""
    print(f"s6scan at {meta.get('commit', '?')} on {meta.get('gpu', '?')}: rows slower than the fastest "
          "reference figure of the same shape (ms, ratio to it)")
    checks = (("fwd_ms", "fwd_ms", "fwd"), ("fwd_infer_ms", "fwd_ms", "fwd without saved states"),
              ("fwdbwd_ms", "fwdbwd_ms", "fwd+bwd"))
    slower = {label: 0 for _, _, label in checks}
    compared = 0
    for r in ours:
        key = (r["shape"], r["dtype"])
        misses = []
        for field, ref_field, label in checks:
            figures = [(t[key][ref_field], impl) for impl, t in refs.items() if t.get(key, {}).get(ref_field)]
            if not figures or not r.get(field):
                continue
            best, impl = min(figures)
            if r[field] > best:
                slower[label] += 1
                misses.append(f"{label} {r[field]:.3f} against {impl}'s {best:.3f} ({r[field] / best:.2f}x)")
        compared += any(refs[i].get(key) for i in refs)
        if misses:
            print(f"- {r['shape']} {r['dtype']} ({r['batch']} x {r['dim']} x {r['seqlen']}, dstate {r['dstate']}): "
                  + "; ".join(misses))
    print(f"of {compared} rows with reference figures, slower: " +
          ", ".join(f"{label} {n}" for label, n in slower.items()))
    return 1 if any(slower.values()) else 0


def check_targets(ours, refs, meta):
    """Prints the rows that miss a speed target and a count; returns 1 if any row misses, else 0."""
    if "mamba" not in refs:
        print("--targets needs the anchors' mamba figures (--reference anchors-h200.json)")
        return 2
    print(f"s6scan at {meta.get('commit', '?')} on {meta.get('gpu', '?')} against the targets: forward <= "
          f"{FWD_OVER_FLOOR}x its floor and fwd+bwd >= {FWDBWD_OVER_MAMBA}x mamba's on the anchor shapes; "
          "no row slower than any reference figure")
    missing = 0
    for r in ours:
        key, anchor, misses = (r["shape"], r["dtype"]), r["shape"] in ANCHOR_SHAPES, []
        over = r["fwd_ms"] / r["floor_ms"]
        if anchor and over > FWD_OVER_FLOOR:
            misses.append(f"fwd {over:.2f}x floor")
        mamba = refs["mamba"].get(key, {}).get("fwdbwd_ms")
        if anchor and not (mamba and r.get("fwdbwd_ms")):
            misses.append("no fwd+bwd time to compare with mamba's")
        elif anchor and mamba / r["fwdbwd_ms"] < FWDBWD_OVER_MAMBA:
            misses.append(f"fwd+bwd {mamba / r['fwdbwd_ms']:.2f}x mamba's")
        for field, label in (("fwd_ms", "fwd"), ("fwdbwd_ms", "fwd+bwd")):
            figures = [(t[key][field], impl) for impl, t in refs.items() if t.get(key, {}).get(field)]
            if figures and r.get(field):
                best, impl = min(figures)
                if r[field] > best:
                    misses.append(f"{label} {r[field]:.3f} ms, slower than {impl}'s {best:.3f}")
        if misses:
            missing += 1
            print(f"- {r['shape']} {r['dtype']}: " + "; ".join(misses))
    print(f"{len(ours) - missing} of {len(ours)} rows meet the targets")
    return 1 if missing else 0


if __name__ == "__main__":
    main()
