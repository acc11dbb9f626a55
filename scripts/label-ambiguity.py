#!/usr/bin/env python3
"""What coarse labels alone can say about BGL lines (docs/model.md, "What
limits it: the labels cannot tell").

Each line is reduced to its set of masked tokens (an approximation of the
featurizer in model-def/src/featurize.rs, without hashing). Blocks of N lines
holding an alert line are incidents, as `needle-train incidents --lines N`
makes them. For each development fold it prints how the test file's normal
and alert lines fall into kinds seen in training normal blocks, kinds seen
only inside incidents (by how many), and unseen kinds; then the best F1 (with
the threshold chosen on the test file itself: an upper bound, not a method)
of a line-kind rule over fine windows (W = 32, stride 16). BGL_12k is not
read.

    python3 scripts/label-ambiguity.py [../shared/data/bgl]
"""
import collections
import os
import re
import sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/data/bgl")


def kind(line):
    out, last = [], None
    for f in line.split():
        h = f[1:] if f.startswith("/") else f
        host = h.split(":")[0]
        if host.count(".") == 3 and re.fullmatch(r"[0-9.]+", host) and host[0] != "." and host[-1] != ".":
            words = ["<ip>"]
        elif (f.startswith("/") and len(f) > 1) or f.startswith("./") or f.count("/") >= 2:
            words = ["<path>"]
        else:
            words = []
            for w in re.findall(r"[A-Za-z0-9_\x80-\uffff]+", f):
                w = w.lower()
                if w.startswith("0x") or (len(w) >= 8 and re.fullmatch(r"[0-9a-f]+", w)):
                    w = "<hex>"
                elif re.search(r"\d", w):
                    w = "<num>"
                words.append(w)
        for t in words:
            if t.startswith("<") and t == last:
                continue
            out.append(t)
            last = t
    return frozenset(out[:64])


def load(name):
    rows = []
    with open(os.path.join(D, f"BGL_{name}.log"), errors="replace") as f:
        for line in f:
            label, _, rest = line.rstrip("\n").partition(" ")
            rows.append((label != "-", kind(rest)))
    return rows


def best_f1(scores, labels):
    pairs = sorted(zip(scores, labels), key=lambda x: -x[0])
    positives, tp, fp, best, i = sum(labels), 0, 0, 0.0, 0
    while i < len(pairs):
        s = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == s:
            tp += pairs[i][1]
            fp += 1 - pairs[i][1]
            i += 1
        if tp:
            best = max(best, 2 * tp / (tp + fp + positives))
    return best


def fold(n, test, train):
    normal, incidents = set(), []
    for f in train:
        rows = load(f)
        for b in range(0, len(rows), n):
            block = rows[b:b + n]
            kinds = {k for _, k in block}
            if any(a for a, _ in block):
                incidents.append(kinds)
            else:
                normal |= kinds
    seen_in = collections.Counter(k for ks in incidents for k in ks)
    background = {k for k, c in seen_in.items() if 2 * c >= len(incidents)}
    rows = load(test)
    counts = collections.Counter()
    for alert, k in rows:
        if k in normal:
            c = "kind seen in a normal block"
        elif k in background:
            c = "only in incidents, in half or more"
        elif k in seen_in:
            c = "only in incidents, in 1-3" if seen_in[k] <= 3 else "only in incidents, in 4+"
        else:
            c = "never seen"
        counts[(c, alert)] += 1
    print(f"{n}-line incidents, test BGL_{test} (train {' '.join(train)}): "
          f"{len(incidents)} incidents, {len(normal)} kinds in normal blocks")
    for c in sorted({c for c, _ in counts}):
        print(f"    {c:38} normal lines {counts[(c, False)]:5}   alert lines {counts[(c, True)]:4}")

    def score(k):
        if k in normal or k in background:
            return 0.0
        return 0.5 if k not in seen_in else 1.0 / (1 + seen_in[k] / len(incidents))

    windows = [rows[i:i + 32] for i in range(0, max(1, len(rows) - 31), 16)]
    labels = [any(a for a, _ in w) for w in windows]
    scores = [max(score(k) for _, k in w) for w in windows]
    print(f"    best F1 of the line-kind rule with the test file's own threshold: {best_f1(scores, labels):.3f}")


for n in (256, 800):
    extra = ["10k"] if n == 800 else []
    fold(n, "8k", ["2k", "4k", "6k"] + extra)
    fold(n, "6k", ["2k", "4k", "8k"] + extra)
    if n == 256:
        fold(n, "10k", ["2k", "4k", "6k", "8k"])
    fold(n, "2k", ["4k", "6k", "8k", "10k"])
