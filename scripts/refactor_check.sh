#!/usr/bin/env bash
# Compares two pcx binaries on short synth runs of every method: the
# checkpoints and config.yaml byte for byte, and metrics.jsonl without its
# timing columns. Used to show that a change to pcx's structure leaves every
# number where it was.
#   bash scripts/refactor_check.sh OLD_PCX NEW_PCX [WORKDIR]
# WORKDIR keeps the runs (the OLD side is reused when present, so a
# baseline is computed once). Runs: pcx train synth --epochs 1 per method.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); work=${3:-/tmp/pcx-refactor-check}
methods=${METHODS:-"full linear dapt dapt-x"}
mkdir -p "$work/old" "$work/new"
strip() { # metrics.jsonl without the keys that measure time or memory
  /usr/bin/python3 -c '
import json,sys
for line in open(sys.argv[1]):
    d=json.loads(line)
    for k in list(d):
        if k in ("seconds","train_seconds","eval_seconds","samples_per_sec","data_wait","peak_mb","peak_rss_mb") or k.endswith("_seconds"):
            del d[k]
    print(json.dumps(d,sort_keys=True))' "$1"
}
fail=0
for m in $methods; do
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    if [ "$side" = old ] && [ -f "$work/old/$m/last.safetensors" ]; then continue; fi
    rm -rf "$work/$side/$m"
    (cd "$work/$side" && "$bin" train synth --method "$m" --epochs 1 --out "$m" --plots=false >"$m.log" 2>&1) || { echo "$side $m: run failed"; tail -5 "$work/$side/$m.log"; fail=1; continue 2; }
  done
  for f in last.safetensors best.safetensors config.yaml; do
    if cmp -s "$work/old/$m/$f" "$work/new/$m/$f"; then echo "$m $f: identical"; else echo "$m $f: DIFFERS"; fail=1; fi
  done
  if diff <(strip "$work/old/$m/metrics.jsonl") <(strip "$work/new/$m/metrics.jsonl") >/dev/null; then
    echo "$m metrics (without times): identical"
  else
    echo "$m metrics: DIFFER"; diff <(strip "$work/old/$m/metrics.jsonl") <(strip "$work/new/$m/metrics.jsonl") | head -5; fail=1
  fi
done
exit $fail
