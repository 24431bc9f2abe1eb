#!/usr/bin/env bash
# One prepared GPU session (about 15 minutes of GPU time): run from the
# directory holding ./pcx (built beforehand with CGO_ENABLED=0 go build
# ./cmd/pcx) and the repository's scripts/. Needs the NVIDIA driver and
# cuBLAS (e.g. the CUDA 13 libraries of PyTorch's pip wheels, which pcx
# finds in site-packages/nvidia/*/lib; else set PCX_CUDA_LIBS) and, for the
# references, PyTorch. Everything is printed; each step is time-limited and
# a failure does not stop the later ones.
set -u
cd "$(dirname "$0")/.."
PCX=${PCX:-./pcx}
step() { echo; echo "=== $*"; }
run() { timeout "${LIMIT:-240}" "$@"; echo "(exit $?)"; }
gpumem() { nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null || true; }

step "pcx version"; run "$PCX" version
gpumem
step "selftest (every kernel against the CPU, Point-MAE shapes)"; LIMIT=300 run "$PCX" selftest --device cuda
step "DAPT-X scan_hardest step, batch 32 x 2048 points, 128x32 groups: pcx cuda, pcx cpu and PyTorch cuda"
LIMIT=420 run python3 scripts/bench_step.py --device cuda --pcx "$PCX"
step "batched FPS 8192 -> 1024 over 32 clouds: pcx cuda vs PyTorch reference"
run "$PCX" bench fps --device cuda --points 8192 --centres 1024 --batch 32 --json
run python3 scripts/bench_step.py --fps-only --device cuda
step "kNN grouping 2048 points, 128 centres, k 32, batch 32"
run "$PCX" bench knn --device cuda --json
step "pcx train synth --device cuda --epochs 2"
LIMIT=420 run "$PCX" train synth --device cuda --epochs 2 --out /tmp/pcx-gpu-synth --plots=false
gpumem
