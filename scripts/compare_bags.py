#!/usr/bin/env python3
"""Compares per-bag results of the firmware (defmt-print text) with the host
`needle score` JSON Lines: line ranges, flags, top lines and the exact f32
bits of every score and attention weight, and the evidence of every host
alert (its peak window's score without its key line) against the firmware's
evidence for that window. Prints figures from the firmware log (ticks per
bag and per evidence pass, stack) as JSON on request.

usage: compare_bags.py HOST.jsonl FIRMWARE.txt [--figures OUT.json]
"""
import json
import re
import statistics
import struct
import sys


def f32_bits(x: float) -> int:
    # serde_json prints an f32 as its shortest round-trip decimal, so packing
    # the parsed value as f32 gives back the exact bits.
    return struct.unpack("<I", struct.pack("<f", x))[0]


def host_evidence(path):
    """(peak first line, line taken out) -> f32 bits of the score without it."""
    out = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            ev = row["data"].get("evidence") if row["type"] == "alert" else None
            if ev:
                out[(row["data"]["peak"]["first_line"], ev["without_line"])] = f32_bits(ev["score_without"])
    return out


def host_bags(path):
    bags = []
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if row["type"] != "bag":
                continue
            d = row["data"]
            bags.append(
                (
                    d["first_line"],
                    d["last_line"],
                    f32_bits(d["score"]),
                    d["anomalous"],
                    tuple((t["line"], f32_bits(t["weight"])) for t in d["top"]),
                )
            )
    return bags


BAG = re.compile(r"bag (\d+) (\d+) score \S+ bits ([0-9a-f]{8}) anomalous (true|false) ticks (\d+)")
TOP = re.compile(r"top (\d+) weight \S+ bits ([0-9a-f]{8})")
DONE = re.compile(r"done: (\d+) lines, (\d+) bags, (\d+) ticks in the stream, stack high-water (\d+) bytes")
CAL = re.compile(r"calibration: delay\(4000000\) took (\d+) ticks")
EVIDENCE = re.compile(r"evidence (\d+) without (\d+) score \S+ bits ([0-9a-f]{8}) ticks (\d+)")


def firmware_bags(path):
    bags, ticks, done, cal = [], [], None, None
    evidence, evidence_ticks = {}, []
    current = None
    with open(path) as f:
        for line in f:
            if m := BAG.search(line):
                if current:
                    bags.append(current)
                current = [int(m[1]), int(m[2]), int(m[3], 16), m[4] == "true", []]
                ticks.append(int(m[5]))
            elif m := TOP.search(line):
                current[4].append((int(m[1]), int(m[2], 16)))
            elif m := DONE.search(line):
                done = tuple(int(g) for g in m.groups())
            elif m := CAL.search(line):
                cal = int(m[1])
            elif m := EVIDENCE.search(line):
                evidence[(int(m[1]), int(m[2]))] = int(m[3], 16)
                evidence_ticks.append(int(m[4]))
    if current:
        bags.append(current)
    bags = [(a, b, c, d, tuple(e)) for a, b, c, d, e in bags]
    return bags, ticks, done, cal, evidence, evidence_ticks


def main():
    host = host_bags(sys.argv[1])
    fw, ticks, done, cal, fw_evidence, evidence_ticks = firmware_bags(sys.argv[2])
    if done is None:
        sys.exit("firmware log has no 'done' line: it did not finish")
    if not host:
        sys.exit("host produced no bags")
    diffs = [(i, h, f) for i, (h, f) in enumerate(zip(host, fw)) if h != f]
    if len(host) != len(fw) or diffs:
        print(f"MISMATCH: host {len(host)} bags, firmware {len(fw)} bags", file=sys.stderr)
        for i, h, f in diffs[:5]:
            print(f"  bag {i}: host {h}\n          firmware {f}", file=sys.stderr)
        sys.exit(1)
    print(f"identical: {len(host)} bags, every score and top-line weight bit for bit")
    evidence = host_evidence(sys.argv[1])
    if not evidence:
        sys.exit("host raised no alert with evidence: nothing to compare")
    wrong = {k: (v, fw_evidence.get(k)) for k, v in evidence.items() if fw_evidence.get(k) != v}
    if wrong:
        sys.exit(f"MISMATCH in evidence (peak first line, line out): (host bits, firmware bits) {wrong}")
    print(f"identical: evidence of {len(evidence)} alert(s) bit for bit")
    if "--figures" in sys.argv:
        out = sys.argv[sys.argv.index("--figures") + 1]
        figures = {
            "bags": len(fw),
            "lines": done[0],
            "stream_ticks": done[2],
            "stack_high_water_bytes": done[3],
            "calibration_ticks_for_8000002_instructions": cal,
            "median_ticks_per_bag_push": statistics.median(ticks),
            "evidence_passes": len(evidence_ticks),
            "median_ticks_per_evidence": statistics.median(evidence_ticks) if evidence_ticks else None,
        }
        if cal:
            # cortex-m 0.7.10's `asm::delay(n)` loops n + 1 times over
            # `subs; bne`: 8,000,002 instructions for n = 4,000,000 (the C
            # firmware's `delay` loops the same).
            per_tick = 8_000_002 / cal
            figures["instructions_per_tick"] = per_tick
            figures["median_instructions_per_bag"] = statistics.median(ticks) * per_tick
            figures["instructions_per_bag_all_in"] = done[2] * per_tick / len(fw)
            if evidence_ticks:
                figures["median_instructions_per_evidence"] = statistics.median(evidence_ticks) * per_tick
        with open(out, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
