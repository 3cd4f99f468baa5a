#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarises the GPU tests' "error ..." lines (stdin or files) as the worst relative L2 error of
out per dtype and dstate, per dtype and seqlen, and the worst state errors.

    ./build/tests/test_forward_gpu | python3 tests/error_table.py
"""
import collections
import fileinput
import re

LINE = re.compile(r"error (\S+) batch=\d+ dim=\d+ seqlen=(\d+) dstate=(\d+) .* y=(\S+) "
                  r"bound=(\S+) state=(\S+) saved=(\S+)")
by_n, by_l, ratio = collections.defaultdict(float), collections.defaultdict(float), collections.defaultdict(float)
state = saved = 0.0
for line in fileinput.input():
    m = LINE.match(line)
    if not m:
        continue
    dt, L, N, y, bound, st, sv = m.groups()
    y, bound = float(y), float(bound)
    by_n[dt, int(N)] = max(by_n[dt, int(N)], y)
    by_l[dt, int(L)] = max(by_l[dt, int(L)], y)
    ratio[dt] = max(ratio[dt], y / bound)
    state, saved = max(state, float(st)), max(saved, float(sv))
for name, table in (("dstate", by_n), ("seqlen", by_l)):
    keys = sorted({k[1] for k in table})
    print(f"| in->out \\ {name} | " + " | ".join(map(str, keys)) + " | worst error / bound |")
    print("|---" * (len(keys) + 2) + "|")
    for dt in sorted(ratio):
        cells = [f"{table[dt, k]:.1e}" if (dt, k) in table else "" for k in keys]
        print(f"| {dt} | " + " | ".join(cells) + f" | {ratio[dt]:.2f} |")
    print()
print(f"worst last_state error {state:.1e}, worst saved (workspace) state error {saved:.1e}")
