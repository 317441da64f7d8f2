#!/usr/bin/env bash
# Repeatability of bstack calibrate: N full runs (default 2) on this machine, then, for every
# fitted parameter, the spread (max - min) / mean across the runs, largest first, and how many
# parameters are within 5%. Method: the runs follow each other with nothing else started by this
# script; a shared or noisy machine shows up here as spread, which is the point of the check.
# Usage: bench/calibrate_repeat.sh path/to/bstack [runs] [extra calibrate args...]
set -euo pipefail
BSTACK=${1:?usage: calibrate_repeat.sh path/to/bstack [runs] [calibrate args...]}
RUNS=${2:-2}
shift $(( $# >= 2 ? 2 : 1 ))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 "$RUNS"); do
  echo "calibrate_repeat: run $i of $RUNS: $BSTACK calibrate $* -o $tmp/p$i.h5 --json" >&2
  start=$(date +%s)
  "$BSTACK" calibrate "$@" -o "$tmp/p$i.h5" --json > "$tmp/p$i.json"
  echo "calibrate_repeat: run $i took $(( $(date +%s) - start )) s" >&2
done
python3 - "$tmp" "$RUNS" <<'PY'
import json, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
objs = [json.load(open(f"{tmp}/p{i}.json")) for i in range(1, runs + 1)]
keys = [k for k in objs[0]["params"] if all(k in o for o in objs)]
rows = []
for k in keys:
    v = [o[k] for o in objs]
    mean = sum(v) / len(v)
    spread = (max(v) - min(v)) / abs(mean) if mean else 0.0
    rows.append((spread, k, v, objs[0]["params"][k]["unit"]))
rows.sort(reverse=True)
print(f"{'parameter':<36} {'spread':>8}  values")
for spread, k, v, unit in rows:
    print(f"{k:<36} {spread*100:7.2f}%  " + "  ".join(f"{x:.4g}" for x in v) + f" {unit}")
within = sum(1 for r in rows if r[0] <= 0.05)
print(f"{within} of {len(rows)} parameters within 5% across {runs} runs")
PY
