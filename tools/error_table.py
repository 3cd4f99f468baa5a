#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarises the GPU tests' "error ..." lines (stdin or files): for the forward, the worst relative
L2 error of out per dtype and dstate, per dtype and seqlen, and the worst state errors; for the
backward ("error bwd ..."), the worst error of each gradient per dtype, with its ratio to the bound;
and the cases whose device part took longest (device_s: under a sanitizer, where its time goes).

    ./build/tests/test_forward_gpu | python3 tools/error_table.py
    ./build/tests/test_backward_gpu | python3 tools/error_table.py
"""
import collections
import fileinput
import re

LINE = re.compile(r"error (\S+) batch=\d+ dim=\d+ seqlen=(\d+) dstate=(\d+) .* y=(\S+) "
                  r"bound=(\S+) state=(\S+) saved=(\S+)")
by_n, by_l, ratio = collections.defaultdict(float), collections.defaultdict(float), collections.defaultdict(float)
BWD = re.compile(r"error bwd (\S+) ")
GRAD = re.compile(r" (\w+)=(\S+)/(\S+)")
grads = collections.defaultdict(lambda: (0.0, 0.0))  # (dtype, gradient) -> (error, error / bound)
state = saved = 0.0
TIME = re.compile(r"error (.*?) (?:y=|du=).* device_s=(\S+) ")
times = []  # (device seconds, case)
for line in fileinput.input():
    t = TIME.match(line)
    if t:
        times.append((float(t.group(2)), t.group(1)))
    b = BWD.match(line)
    if b:
        for g, err, bound in GRAD.findall(line):
            e, r = float(err), float(err) / float(bound)
            old = grads[b.group(1), g]
            grads[b.group(1), g] = (max(old[0], e), max(old[1], r))
        continue
    m = LINE.match(line)
    if not m:
        continue
    dt, L, N, y, bound, st, sv = m.groups()
    y, bound = float(y), float(bound)
    by_n[dt, int(N)] = max(by_n[dt, int(N)], y)
    by_l[dt, int(L)] = max(by_l[dt, int(L)], y)
    ratio[dt] = max(ratio[dt], y / bound)
    state, saved = max(state, float(st)), max(saved, float(sv))
for name, table in (("dstate", by_n), ("seqlen", by_l)) if ratio else ():
    keys = sorted({k[1] for k in table})
    print(f"| in->out \\ {name} | " + " | ".join(map(str, keys)) + " | worst error / bound |")
    print("|---" * (len(keys) + 2) + "|")
    for dt in sorted(ratio):
        cells = [f"{table[dt, k]:.1e}" if (dt, k) in table else "" for k in keys]
        print(f"| {dt} | " + " | ".join(cells) + f" | {ratio[dt]:.2f} |")
    print()
if ratio:
    print(f"worst last_state error {state:.1e}, worst saved (workspace) state error {saved:.1e}")
if grads:
    names = ["du", "ddelta", "dz", "dA", "dB", "dC", "dB_const", "dC_const", "dD", "ddelta_bias", "dh0"]
    names = [n for n in names if any(k[1] == n for k in grads)]
    print("| in->out \\ gradient | " + " | ".join(names) + " | worst error / bound |")
    print("|---" * (len(names) + 2) + "|")
    for dt in sorted({k[0] for k in grads}):
        cells = [f"{grads[dt, n][0]:.1e}" if (dt, n) in grads else "" for n in names]
        worst = max(grads[dt, n][1] for n in names if (dt, n) in grads)
        print(f"| {dt} | " + " | ".join(cells) + f" | {worst:.2f} |")
if times:
    print(f"slowest of {len(times)} cases by device_s (seconds), their sum {sum(t for t, _ in times):.1f}:")
    for t, case in sorted(times, reverse=True)[:8]:
        print(f"  {t:8.2f}  {case}")
