#!/usr/bin/env bash
# The development folds of docs/model.md ("Second look, on three development
# folds"): incidents from aligned 256- and 800-line blocks, training on the
# raw files, testing on one line-labelled file never trained on. BGL_12k (the
# acceptance test file) is not used.
#   scripts/coarse-folds.sh OUT [needle-train options...]   e.g. --no-consistency
set -euo pipefail
out=${1:?usage: coarse-folds.sh OUT [train options]}; shift
root=$(cd "$(dirname "$0")/.." && pwd)
D=${BGL:-$root/../shared/data/bgl}
bin=${NEEDLE_TRAIN:-$root/target/debug/needle-train}
[ -x "$bin" ] || (cd "$root" && cargo build -p needle-trainer)
mkdir -p "$out/raw"
for n in 256 800; do
  for f in 2k 4k 6k 8k 10k; do
    [ -s "$out/inc_${n}_$f.csv" ] || "$bin" incidents --from-labels "$D/BGL_$f.log" --lines $n \
      --out "$out/inc_${n}_$f.csv" --raw-out "$out/raw" >/dev/null
  done
done
fold() { # labels test train...
  local n=$1 t=$2; shift 2; local inc="$out/inc_${n}_for_$t.csv" files=()
  head -n 1 "$out/inc_${n}_2k.csv" > "$inc"
  for f in "$@"; do files+=("$out/raw/BGL_$f.log"); tail -n +2 "$out/inc_${n}_$f.csv" >> "$inc"; done
  "$bin" train --quiet --train "${files[@]}" --incidents "$inc" --test "$D/BGL_$t.log" \
    --out "$out/${n}_$t" "${extra[@]}" >/dev/null
  python3 - "$out/${n}_$t/report.json" "$n" "$t" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); b, i, bl = r["bag"], r["instance"], r["baseline"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {b['auc_pr']:.3f} | {b['f1']:.3f} | {i['loc_at_3']:.3f} | {i['sr']:.3f} "
      f"| {bl['bag']['f1']:.3f} | {bl['instance']['loc_at_3']:.3f} | {r['training']['best_epoch']} |")
PY
}
extra=("$@")
echo "| labels | test | AUC-PR | F1 | Loc@3 | SR | baseline F1 | baseline Loc@3 | best epoch |"
fold 256 8k 2k 4k 6k
fold 256 6k 2k 4k 8k
fold 256 10k 2k 4k 6k 8k
# Every 800-line block of BGL_2k-8k is an incident: BGL_10k holds the only normal one.
fold 800 8k 2k 4k 6k 10k
fold 800 6k 2k 4k 8k 10k
