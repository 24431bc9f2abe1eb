#!/usr/bin/env bash
# Compares two pcx binaries on the engine's reference step on a machine
# whose speed drifts: each quadruple runs `pcx bench engine --repeat 20` as
# A B B A, so that a drift within it adds the same to both sides, and the
# quadruple's difference is mean(B) - mean(A). Prints every run and the
# medians.
#   bash scripts/abba_engine.sh OLD_PCX NEW_PCX [QUADRUPLES] [bench engine flags]
set -euo pipefail
a=$1 b=$2 n=${3:-8}
shift $(( $# < 3 ? $# : 3 ))
ms() { "$1" bench engine --repeat 20 --json "${@:2}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ms"])'; }
for _ in $(seq "$n"); do
  echo "$(ms "$a" "$@") $(ms "$b" "$@") $(ms "$b" "$@") $(ms "$a" "$@")"
done | /usr/bin/python3 -c '
import statistics, sys
rows = [tuple(map(float, l.split())) for l in sys.stdin]
diffs = []
print("A1 B1 B2 A2 ms, difference B - A")
for a1, b1, b2, a2 in rows:
    diffs.append((b1 + b2 - a1 - a2) / 2)
    print(f"{a1:.1f} {b1:.1f} {b2:.1f} {a2:.1f} {diffs[-1]:+.2f}")
a = [r[0] for r in rows] + [r[3] for r in rows]
b = [r[1] for r in rows] + [r[2] for r in rows]
print(f"A {min(a):.1f}-{max(a):.1f} median {statistics.median(a):.2f}; B {min(b):.1f}-{max(b):.1f} median {statistics.median(b):.2f}; difference median {statistics.median(diffs):+.2f} ms")
'
