#!/usr/bin/env bash
# One prepared GPU session (about 10 minutes on an H100): run from the
# repository root (or anywhere: it changes there), with ./pcx built
# beforehand by `CGO_ENABLED=0 go build ./cmd/pcx` (or PCX=/path/to/pcx).
# Needs the NVIDIA driver, cuBLAS (e.g. the CUDA 13 libraries of PyTorch's
# pip wheels: PCX_CUDA_LIBS is set to their site-packages/nvidia/*/lib
# directories when unset, and pcx's own discovery looks there too) and,
# for the references, PyTorch with CUDA ($PYTHON, default python3).
# Steps, in order, everything printed: pcx version; selftest; the DAPT-X
# step, pcx against PyTorch; FPS and kNN, pcx against PyTorch references;
# the ViT-B/16 AdaptFormer-X step, pcx against PyTorch; the Point-MAE
# pretraining step (batch 128 x 1024 points), pcx against PyTorch;
# pcx train synth for 2 epochs. Each step is time-limited ($LIMIT seconds
# where not set per step), a failure does not stop the later ones, and
# each step's peak GPU memory as nvidia-smi sees it (the whole GPU,
# sampled every 100 ms; pcx's and torch's own counters are printed by the
# steps themselves) follows its output.
#
# GPU_CHECK_DRY=1 checks the script itself without a GPU (e.g. with
# PCX_CUDA_LIBS pointing at the emulator nn/cuda/emu builds): small
# selftest, bench_step.py --dry-run, and a train run cut short.
set -u
cd "$(dirname "$0")/.."
PCX=${PCX:-./pcx}
PY=${PYTHON:-python3}
failed=()
small=() dry=() trainlimit=150
if [ "${GPU_CHECK_DRY:-}" = 1 ]; then
	small=(--small --only layernorm,fps,knn_group) dry=(--dry-run) trainlimit=20
fi

if [ -z "${PCX_CUDA_LIBS:-}" ]; then
	libs=$("$PY" -c '
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
dirs = [d for r in roots for d in sorted(glob.glob(os.path.join(r, "*", "lib"))) if glob.glob(os.path.join(d, "libcublas.so.*"))]
print(":".join(dirs))' 2>/dev/null)
	if [ -n "$libs" ]; then export PCX_CUDA_LIBS=$libs; fi
fi
echo "PCX_CUDA_LIBS=${PCX_CUDA_LIBS:-(unset: the discovery of pcx looks)}"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv 2>/dev/null || echo "(no nvidia-smi)"

# step NAME LIMIT COMMAND...: runs COMMAND under timeout, sampling the
# GPU's memory use meanwhile, and prints its exit status and the peak.
step() {
	local name=$1 limit=$2
	shift 2
	echo
	echo "=== $name"
	echo "+ $*"
	local log
	log=$(mktemp)
	nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$log" 2>/dev/null &
	local smi=$!
	local t0=$SECONDS
	timeout -k 15 "$limit" "$@" # -k: pcx saves state on SIGTERM after its current step
	local rc=$?
	kill "$smi" 2>/dev/null
	wait "$smi" 2>/dev/null
	local peak
	peak=$(sort -n "$log" | tail -1)
	rm -f "$log"
	echo "--- $name: exit $rc after $((SECONDS - t0)) s; peak GPU memory used (nvidia-smi, whole GPU) ${peak:-?} MiB"
	if [ "$rc" -ne 0 ]; then failed+=("$name (exit $rc)"); fi
}

step "pcx version" 30 "$PCX" version
step "selftest: every kernel against the CPU at Point-MAE shapes" "${LIMIT:-150}" "$PCX" selftest --device cuda "${small[@]}"
step "DAPT-X scan_hardest step, batch 32 x 2048 points, 128x32 groups, fp32: pcx cuda vs PyTorch cuda" "${LIMIT:-180}" \
	"$PY" scripts/bench_step.py --device cuda --what step --pcx "$PCX" --repeat 5 "${dry[@]}"
step "batched FPS 8192 -> 1024 over 32 clouds: pcx cuda vs a plain torch FPS" "${LIMIT:-90}" \
	"$PY" scripts/bench_step.py --device cuda --what fps --pcx "$PCX" --repeat 5 "${dry[@]}"
step "kNN grouping, 32 clouds of 2048 points, 128 centres, k 32: pcx cuda vs torch cdist+topk" "${LIMIT:-60}" \
	"$PY" scripts/bench_step.py --device cuda --what knn --pcx "$PCX" --repeat 5 "${dry[@]}"
step "ViT-B/16 AdaptFormer-X step, batch 32 x 224x224, fp32: pcx cuda vs PyTorch cuda" "${LIMIT:-120}" \
	"$PY" scripts/bench_step.py --device cuda --what vit --pcx "$PCX" --model vit-b16 --method adaptformer-x --repeat 5 "${dry[@]}"
step "Point-MAE pretraining step, batch 128 x 1024 points, 64x32 groups, 60% masked: pcx cuda vs PyTorch cuda" "${LIMIT:-120}" \
	"$PY" scripts/bench_step.py --device cuda --what pretrain --pcx "$PCX" --batch 128 --repeat 5 "${dry[@]}"
step "pcx train synth --device cuda --epochs 2" "${LIMIT:-$trainlimit}" \
	"$PCX" train synth --device cuda --epochs 2 --out "$(mktemp -d)/synth" --plots=false

echo
if [ ${#failed[@]} -eq 0 ]; then
	echo "gpu_check: every step succeeded"
else
	echo "gpu_check: failed: ${failed[*]}"
	exit 1
fi
