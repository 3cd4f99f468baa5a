# SPDX-License-Identifier: MIT
"""What the report.py tests share: run bench/report.py on small files written for one case."""
import json
import os
import subprocess
import sys
import tempfile

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "report.py")


def run_report(ours, refs, *flags):
    """Writes `ours` as a benchmark JSON and `refs` as a reference file, runs report.py on them
    with `flags`, and returns its exit status and standard output."""
    with tempfile.TemporaryDirectory() as d:
        ours_path, refs_path = os.path.join(d, "ours.json"), os.path.join(d, "refs.json")
        with open(ours_path, "w") as f:
            json.dump({"commit": "test", "gpu": "none", "records": ours}, f)
        with open(refs_path, "w") as f:
            json.dump({"results": refs}, f)
        p = subprocess.run([sys.executable, REPORT, ours_path, "--reference", refs_path, *flags],
                           capture_output=True, text=True)
        return p.returncode, p.stdout
