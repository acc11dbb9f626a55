"""Lines/s of the Python API against the `needle` CLI on the same BGL lines.

    python runtime/python/bench/throughput.py [--repeat 5] [--cli target/release/needle]

Both run the release builds on the same file (BGL_2k..8k without their label
column, repeated): the CLI as `needle score --summary-only FILE`, Python as
reading the file, splitting it into lines and `Model.score(lines)` (windows,
alerts and evidence, as the CLI computes them). Best of three runs each.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import needle

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cli", default=os.path.join(ROOT, "target", "release", "needle"))
    ap.add_argument("--model", default=os.path.join(ROOT, "tests", "fixtures", "bgl-default.needle"))
    args = ap.parse_args()

    lines = []
    for name in ["BGL_2k.log", "BGL_4k.log", "BGL_6k.log", "BGL_8k.log"]:
        with open(os.path.join(ROOT, "data", "bgl", name), "rb") as f:
            lines += [l.split(b" ", 1)[1] if b" " in l else l for l in f.read().splitlines()]
    lines = lines * args.repeat
    with tempfile.NamedTemporaryFile(suffix=".log", delete=False) as f:
        f.write(b"\n".join(lines) + b"\n")
        path = f.name
    try:
        model = needle.Model(args.model)
        cli, py = [], []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([args.cli, "score", "--model", args.model, "--summary-only", path],
                           stdout=subprocess.DEVNULL, check=False)
            cli.append(time.perf_counter() - t)
            t = time.perf_counter()
            with open(path, "rb") as f:
                got = model.score(f.read().splitlines())
            py.append(time.perf_counter() - t)
        n = len(lines)
        c, p = n / min(cli), n / min(py)
        print(f"lines: {n}  windows: {len(got)}  alerts: {len(got.alerts)}")
        print(f"needle CLI : {c:,.0f} lines/s")
        print(f"Python API : {p:,.0f} lines/s  ({100 * p / c:.0f}% of the CLI)")
        return 0 if p >= 0.8 * c else 1
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
