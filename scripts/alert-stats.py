#!/usr/bin/env python3
"""Alert figures of docs/benchmarks.md ("needle score: alerts, evidence,
familiarity"): reads `needle score` JSON Lines on stdin and the line-labelled
log the input was cut from.

    cut -d' ' -f2- data/bgl/BGL_8k.log | needle score --model M.needle \\
        | python3 scripts/alert-stats.py data/bgl/BGL_8k.log
"""
import json
import sys

labels = [line.split(" ", 1)[0] != "-" for line in open(sys.argv[1], errors="replace")]
rows = [json.loads(line) for line in sys.stdin]
alerts = [r["data"] for r in rows if r["type"] == "alert"]
summary = next(r["data"] for r in rows if r["type"] == "summary")
blamed = [t["line"] for a in alerts for t in a["top"]]
drops = sorted(a["score"] - a["evidence"]["score_without"] for a in alerts if a.get("evidence"))
print(f"alerts {len(alerts)} from {summary['anomalous_bags']} flagged of {summary['bags']} windows")
print("windows per alert:", [a["windows"] for a in alerts])
print(f"blamed lines {len(blamed)} ({len(set(blamed))} distinct), labelled anomalous {sum(labels[l - 1] for l in blamed)}")
print("alerts holding an anomalous line:",
      sum(any(labels[i - 1] for i in range(a["first_line"], a["last_line"] + 1)) for a in alerts))
if drops:
    print(f"evidence drops ({len(drops)}): min {drops[0]:.3f} median {drops[len(drops) // 2]:.3f} max {drops[-1]:.3f}")
print("unfamiliar windows:", summary["unfamiliar"])
