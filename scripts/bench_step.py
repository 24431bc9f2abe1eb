#!/usr/bin/python3
"""Time one Point-MAE method's (or, with --what vit, a ViT method's; with --what pretrain, Point-MAE pretraining's) training step, or with --what eval its inference, in PyTorch and in pcx, in the same run.

    /usr/bin/python3 scripts/bench_step.py [--pcx ./pcx] [--device cpu|cuda] [--what step|eval|fps|knn|all|vit|pretrain]
                                           [--batch 32] [--repeat 3] [--threads 2] [--json] [--dry-run]
                                           [--method dapt-x|dapt|full|linear]            (--what step, eval)
                                           [--model vit-b16] [--method adaptformer-x]   (--what vit)
                                           [--preset pointmae|synth]                    (--what pretrain)

    OMP_WAIT_POLICY=PASSIVE nice -n 10 /usr/bin/python3 scripts/bench_step.py --what pretrain --batch 128

step: one training step of the Point-MAE method --method (dapt-x, the
default; dapt; full; linear) at the scan_hardest preset's size: 384 wide,
12 blocks, 6 heads, 128 groups of 32 points from 2048-point clouds, 15
classes. The PyTorch models are the references pcx's golden tests compare
against, with pcx's tunable set: dapt-x the DAPT-X of scripts/golden_daptx.py
(ref.daptx.PointTransformerDAPTX; SMoA with 3 heads, 4 experts, rank 32,
the loss cross-entropy plus 0.01 x the balance loss), dapt the DAPT of
scripts/golden_dapt.py (ref.dapt.PointTransformerDAPT, rank 64, head on cls,
the prompts' mean and the patches' max; cls, tfts and Adapter trained), full
and linear Point-MAE's classifier of scripts/golden_pointmae.py
(ref.pointmae.PointTransformer: everything trained, or only
cls_head_finetune). The references have no dropout or drop-path; pcx's step
is pcx train's and keeps the preset's (drop-path, DAPT's adapter dropout,
the head's dropout 0.5). A step is grouping (batched FPS in torch, kNN by
cdist + topk), forward, the loss, backward, the gradient norm clipped at 10
and an AdamW step (lr 5e-4, weight decay 0.05) of the tunable parameters;
then `pcx bench step --preset scan_hardest --method <method> --device
<device>` times the same step (the tunable counts are compared). On the
CPU, peak memory is each process's maximum RSS (their ratio is printed);
on cuda also torch.cuda.max_memory_allocated/max_memory_reserved against
pcx's caching allocator (in use / held). TF32 is off on both sides (fp32).

eval (not part of all): inference of --what step's reference model for
--method at the same size: model.eval() under torch.no_grad(), a batch being
the same torch grouping (batched FPS, cdist + topk kNN), the forward and the
predictions (argmax of the logits); median of --repeat batches after one
warm-up. It runs in a child process like vit's, for its own peak RSS; then
`pcx bench eval --preset scan_hardest --method <method> --json` (the same
model in evaluation mode on a tape that records nothing) runs with
GOMAXPROCS=--threads. Printed: both sides' ms per batch, samples/s and
peak RSS, the peak-RSS ratio pcx / PyTorch and the speed ratio pcx
samples/s / PyTorch samples/s (above 1: pcx is faster), the latter only
on OpenBLAS as below.

fps: batched farthest-point sampling 8192 -> 1024 over 32 clouds, a plain
torch loop with pointnet2's semantics (start at point 0, running distances
from 1e10, points with |p|^2 <= 1e-3 never chosen), against
`pcx bench fps --device <device>` on the same clouds (--input).

knn: kNN grouping (2048 points, 128 centres every 16th point, k 32): torch
cdist + topk + gather relative to the centre, against
`pcx bench knn --device <device>` on the same clouds.

vit (not part of all): one training step of an image method, the PyTorch
side being scripts/ref/vit.py (the ViT and its methods exactly as pcx
defines them, timm's names) at the size of pcx's preset --model (vit-b16:
224², patch 16, width 768, depth 12, 12 heads, MLP ratio 4; vit-s16,
vit-ti16, vit-mini likewise), 100 classes, drop path linspace(0, 0.1,
depth) in training mode, and --method's settings (adapter: rank 8;
adaptformer: rank 64, scale 0.1, dropout 0.1; adapter-x, adaptformer-x:
shared SMoA of 3 heads, 4 experts, rank 64, dense gates, scale 0.1 for
adaptformer-x, alpha 0.01). Everything is frozen but what pcx trains for
the method (ViT.trainable_names: for the -x methods the shared SMoA, each
block's norm2 and pg_gamma/pg_beta, the head). A step is as
`pcx bench step --model M --method X` (cmd/pcx/bench_step.go,
runImageStepBench): random N(0,1) images, forward, cross-entropy over
100 classes (labels i % 100) plus 0.01 x the balance loss for the -x
methods, backward, AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight
decay 1e-4 except on 1-D parameters, biases and names with "token", as
pcx's optim.NoDecay), no clipping; median of --repeat steps after one
warm-up. Then `pcx bench step --model M --method X --batch B --repeat R
--json --device D` runs in the same invocation, with GOMAXPROCS=--threads
(pcx's cores, its Go BLAS's threads and openblas_set_num_threads follow
GOMAXPROCS).
Peak RSS, torch: the PyTorch step runs in a child process (this script
again, with --child), which reports its own
resource.getrusage(RUSAGE_SELF).ru_maxrss at the end: the interpreter,
torch's libraries and the step, but not the parent's state, as pcx's
VmHWM counts its whole process. The child runs with
OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=--threads (torch.set_num_threads
does not reach OpenBLAS's own pool). Both values are in MiB.

pretrain (not part of all): one pretraining step of pcx's preset --preset
(pointmae: Point-MAE's cfgs/pretrain.yaml, 384 wide, 12 encoder and 4
decoder blocks of 6 heads, 64 groups of 32 points from 1024-point clouds,
60% masked; synth: 192 wide, 6+2 blocks of 3 heads, 32 groups of 16), batch
--batch (default 128). The PyTorch model is scripts/ref/pointmae_pretrain.py
(the one pcx's golden tests compare against) with timm's drop-path
(linspace(0, 0.1, depth) in encoder and decoder) added, as pcx's preset
trains; a step is: batched FPS and cdist + topk kNN grouping of random
surface clouds, a random mask of int(0.6 G) groups per cloud, forward,
Chamfer-L2 of the masked groups (dense, as the reference), backward, the
gradient norm clipped at 10, AdamW (lr 1e-3, weight decay 0.05 except as
pcx's optim.NoDecay). It runs in a child process like vit's; then `pcx
bench pretrain --json` times pcx's step (grouping and mask on the host,
as pcx pretrain does) with GOMAXPROCS=--threads. Both peak RSS values and
their ratio are printed. The machine the numbers come from should be
named with them: medians of few steps on a shared machine vary by tens
of per cent.

BLAS (every --what): Debian's torch is built with BLAS_INFO=generic and calls
whatever libblas.so.3 the alternatives system picks. scripts/blascheck.py
reports torch.__config__.show()'s BLAS_INFO, where /usr/lib/x86_64-linux-gnu/
libblas.so.3 resolves, and the BLAS/LAPACK libraries mapped in
/proc/self/maps after the step; on the CPU the ratio (torch ms / pcx ms,
above 1: pcx is faster) is printed only when Debian's libopenblas0-pthread
is among them and the reference BLAS (libblas3) is not, otherwise a
warning replaces it (and "speedup" is null in --json).
With --dry-run: batch 2, repeat 1, depth 2 (pcx gets --depth 2).
Run it on an otherwise idle machine: GNU OpenMP's threads spin while they
wait, and with other processes on the cores torch's step can take many
times longer (vit-mini, batch 8, 2 threads, a 2-core machine running
another job: 3 s against 0.11 s with 1 thread).
OMP_WAIT_POLICY=PASSIVE in the environment (it reaches the child) avoids
that, at some cost on an idle machine.

GPU timings end with torch.cuda.synchronize() (pcx synchronises likewise).
--dry-run runs every branch at tiny sizes, on the CPU when no GPU is there
(pcx then gets --device auto), to check the script itself.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import struct
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # scripts/: the ref package
import blascheck
from ref import dapt, daptx, pointmae, pointmae_pretrain, vit


class Dev:
    """The torch device, with the synchronisation and memory counters that
    only a GPU has (no-ops elsewhere)."""

    def __init__(self, name):
        self.name = name
        self.torch = torch.device(name)
        self.gpu = self.torch.type == "cuda"

    def sync(self):
        if self.gpu:
            torch.cuda.synchronize(self.torch)

    def reset_peak(self):
        if self.gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.torch)

    def peak_mb(self):
        """(max allocated, max reserved) in MiB, or None off the GPU."""
        if not self.gpu:
            return None
        return (round(torch.cuda.max_memory_allocated(self.torch) / 2**20, 1),
                round(torch.cuda.max_memory_reserved(self.torch) / 2**20, 1))

    def describe(self):
        if self.gpu:
            return f"{torch.cuda.get_device_name(self.torch)} (CUDA {torch.version.cuda})"
        return f"CPU ({torch.get_num_threads()} threads)"



def torch_gpu_memory(ref):
    """The PyTorch side's peak GPU memory for a report line ("" on the CPU)."""
    if not ref["gpu_peak_mb"]:
        return ""
    return f", peak GPU memory {ref['gpu_peak_mb'][0]:.0f} MiB allocated / {ref['gpu_peak_mb'][1]:.0f} MiB reserved"


def pcx_gpu_memory(r):
    """pcx's peak GPU memory for a report line ("" on the CPU)."""
    if not r.get("gpu_peak_mb"):
        return ""
    return f", peak GPU memory {r['gpu_peak_in_use_mb']:.0f} MiB in use / {r['gpu_peak_mb']:.0f} MiB held"

def timed(dev, f, repeat):
    """Median milliseconds of f over repeat runs after one warm-up."""
    f()
    dev.sync()
    ts = []
    for _ in range(repeat):
        dev.sync()
        t0 = time.perf_counter()
        f()
        dev.sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def fps(points, m):
    """Batched farthest-point sampling with pointnet2_ops' semantics: the
    first centre is point 0, running distances start at 1e10, points with
    |p|^2 <= 1e-3 are never chosen, the next centre has the largest running
    distance (ties to the lowest index)."""
    b, n, _ = points.shape
    idx = torch.zeros(b, m, dtype=torch.long, device=points.device)
    dist = torch.full((b, n), 1e10, device=points.device)
    valid = (points ** 2).sum(-1) > 1e-3
    cur = torch.zeros(b, dtype=torch.long, device=points.device)
    ar = torch.arange(b, device=points.device)
    for j in range(m):
        idx[:, j] = cur
        d = ((points - points[ar, cur][:, None, :]) ** 2).sum(-1)
        dist = torch.minimum(dist, d)
        cur = dist.masked_fill(~valid, -1.0).argmax(-1)
    return idx


def knn_group(points, centres, k):
    """Indices of each centre's k nearest points and the neighbourhoods
    relative to the centre."""
    b = points.shape[0]
    idx = torch.cdist(centres, points).topk(k, largest=False).indices  # B G K
    ar = torch.arange(b, device=points.device)
    return idx, points[ar[:, None, None], idx] - centres[:, :, None, :]


def save_npy(path, t):
    """Writes a float32 tensor as a .npy (without needing numpy)."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(t.shape),)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        vals = t.detach().float().contiguous().view(-1).tolist()
        f.write(struct.pack(f"<{len(vals)}f", *vals))


def surface_clouds(b, n, seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(b, n, 3, generator=g)
    return (p / p.norm(dim=-1, keepdim=True) + 0.01 * torch.randn(b, n, 3, generator=g)).float()


# --what step: pcx's Point-MAE methods at the scan_hardest preset's size (presets/pointmae.go; DAPT's
# rank 64 and head cls + prompt mean + patch max; DAPT-X's SMoA of 3 heads, 4 experts, rank 32).
STEP_METHODS = ("dapt-x", "dapt", "full", "linear")
STEP_CLASSES, STEP_ALPHA = 15, 0.01


def step_model(method, depth, groups):
    """The reference model of a method, with pcx's tunable set: (model, forward(points, centre idx, knn idx) ->
    (logits, balance loss or None)). dapt-x: ref.daptx (scripts/golden_daptx.py's model); dapt: ref.dapt
    (scripts/golden_dapt.py's); full and linear: Point-MAE's classifier ref.pointmae (scripts/golden_pointmae.py's),
    everything trainable or only cls_head_finetune (pcx's adapters.Full, adapters.Linear)."""
    if method == "dapt-x":
        model = daptx.PointTransformerDAPTX(384, depth, 6, STEP_CLASSES, groups, 3, 4, 32).float()
        daptx.freeze(model)
        return model, model.forward_lean  # without the diagnostics, whose .item() calls would synchronise every block
    if method == "dapt":
        model = dapt.PointTransformerDAPT(384, depth, 6, STEP_CLASSES, 64, groups, "use", "mean", "max").float()
        dapt.freeze(model)
    else:
        model = pointmae.PointTransformer(384, depth, 6, STEP_CLASSES).float()
        for name, p in model.named_parameters():
            p.requires_grad_(method == "full" or name.startswith("cls_head_finetune."))
    return model, lambda *a: (model(*a), None)


def torch_step(dev, batch, repeat, sizes, method):
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    n, g, k, depth = sizes["points"], sizes["groups"], sizes["group_size"], sizes["depth"]
    model, forward = step_model(method, depth, g)
    model.to(dev.torch).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.05)
    points = surface_clouds(batch, n, 0).to(dev.torch)
    labels = (torch.arange(batch) % STEP_CLASSES).to(dev.torch)
    ce = torch.nn.CrossEntropyLoss()
    ar = torch.arange(batch, device=dev.torch)
    last = {}

    def step():
        center_idx = fps(points, g)
        centers = points[ar[:, None], center_idx]
        knn_idx = torch.cdist(centers, points).topk(k, largest=False).indices
        opt.zero_grad()
        logits, bal = forward(points, center_idx, knn_idx)
        loss = ce(logits, labels)
        if bal is not None:
            loss = loss + STEP_ALPHA * bal
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10)
        opt.step()
        last["loss"] = loss

    dev.reset_peak()
    ms = timed(dev, step, repeat)
    return {"ms": round(ms, 2), "loss": round(float(last["loss"]), 5), "tunable": sum(p.numel() for p in params),
            "gpu_peak_mb": dev.peak_mb()}


def run_pcx(args, what, extra, env=None):
    cmd = [args.pcx, "bench", what, "--json", "--device", args.pcx_device] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout)


def bench_step(args, dev, sizes):
    ref = torch_step(dev, args.batch, args.repeat, sizes, args.method)
    ref["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    extra = ["--preset", "scan_hardest", "--method", args.method, "--batch", str(args.batch), "--repeat", str(args.repeat)]
    if args.dry_run:
        extra += ["--points", str(sizes["points"]), "--groups", str(sizes["groups"]),
                  "--group-size", str(sizes["group_size"]), "--depth", str(sizes["depth"])]
    r = run_pcx(args, "step", extra)
    blas = blascheck.check()
    ok = ratio_allowed(args, blas)
    row = {"method": args.method, "torch": ref, "pcx": r, "speedup": round(ref["ms"] / r["ms"], 3) if ok else None,
           "memory_ratio": round(r["peak_mb"] / ref["peak_rss_mb"], 3), "blas": blas}
    if not ok:
        row["warning"] = blascheck.warning(blas)
    if ref["tunable"] != r["tunable"]:
        row["tunable_mismatch"] = True
    if not args.json:
        print(f"{args.method} training step, scan_hardest, batch {args.batch} x {sizes['points']} points, "
              f"{sizes['groups']}x{sizes['group_size']} groups, {sizes['depth']} blocks, fp32, median of {args.repeat}")
        mem = torch_gpu_memory(ref)
        print(f"  PyTorch {torch.__version__} on {dev.describe()}: {ref['ms']:9.1f} ms{mem}, "
              f"peak RSS {ref['peak_rss_mb']} MB, {ref['tunable']} tunable")
        mem = pcx_gpu_memory(r)
        print(f"  pcx on {r['device']} {r.get('gpu', '')} ({r['blas']}): {r['ms']:9.1f} ms (grouping {r['group_ms']:.1f} ms)"
              f"{mem}, peak RSS {r['peak_mb']} MB, {r['tunable']} tunable")
        print(f"  PyTorch BLAS: {blascheck.describe(blas)}")
        if row.get("tunable_mismatch"):
            print(f"  WARNING: the tunable counts differ (PyTorch {ref['tunable']}, pcx {r['tunable']}): not the same step")
        print(f"  peak RSS pcx / PyTorch: {row['memory_ratio']:.2f}")
        print(f"  pcx is {ref['ms'] / r['ms']:.2f}x PyTorch's speed (PyTorch ms / pcx ms)" if ok else "  " + row["warning"])
    return row


# --what eval: inference of the --what step models (model.eval() under torch.no_grad()) against pcx bench eval


def child_start(spec):
    """A child process's set-up: spec's threads, fp32 without TF32, seed 0; returns its Dev."""
    torch.set_num_threads(spec["threads"])
    dev = Dev(spec["device"])
    if dev.gpu:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    return dev

def eval_child(spec):
    """The PyTorch inference of spec["method"]'s reference model, in this (child) process; prints one JSON line."""
    dev = child_start(spec)
    sizes, b = spec["sizes"], spec["batch"]
    n, g, k = sizes["points"], sizes["groups"], sizes["group_size"]
    model, forward = step_model(spec["method"], sizes["depth"], g)
    model.to(dev.torch).eval()
    points = surface_clouds(b, n, 0).to(dev.torch)
    labels = (torch.arange(b) % STEP_CLASSES).to(dev.torch)
    ar = torch.arange(b, device=dev.torch)
    last = {}

    def batch():
        with torch.no_grad():
            center_idx = fps(points, g)
            centers = points[ar[:, None], center_idx]
            knn_idx = torch.cdist(centers, points).topk(k, largest=False).indices
            logits, _ = forward(points, center_idx, knn_idx)
            last["correct"] = int((logits.argmax(-1) == labels).sum())

    dev.reset_peak()
    ms = timed(dev, batch, spec["repeat"])
    out = {"ms": round(ms, 2), "samples_per_sec": round(b / ms * 1e3, 3), "correct": last["correct"],
           "params": sum(p.numel() for p in model.parameters()), "gpu_peak_mb": dev.peak_mb(),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
           "threads": torch.get_num_threads(), "device": dev.describe(), "torch": torch.__version__,
           "blas": blascheck.check()}
    print(json.dumps(out))


def bench_eval(args, sizes):
    spec = {"what": "eval", "method": args.method, "batch": args.batch, "repeat": args.repeat, "threads": args.threads,
            "device": args.torch_device, "sizes": sizes}
    ref = run_child(args, spec)
    extra = ["--preset", "scan_hardest", "--method", args.method, "--batch", str(args.batch), "--repeat", str(args.repeat)]
    if args.dry_run:
        extra += ["--points", str(sizes["points"]), "--groups", str(sizes["groups"]),
                  "--group-size", str(sizes["group_size"]), "--depth", str(sizes["depth"])]
    r = run_pcx(args, "eval", extra, env=dict(os.environ, GOMAXPROCS=str(args.threads)))
    blas = ref["blas"]
    ok = ratio_allowed(args, blas)
    row = {"method": args.method, "torch": ref, "pcx": r,
           "speedup": round(r["samples_per_sec"] / ref["samples_per_sec"], 3) if ok else None,
           "memory_ratio": round(r["peak_mb"] / ref["peak_rss_mb"], 3),
           "pcx_command": " ".join([f"GOMAXPROCS={args.threads}", args.pcx, "bench", "eval", "--json", "--device", args.pcx_device] + extra)}
    if not ok:
        row["warning"] = blascheck.warning(blas)
    if args.json:
        return row
    print(f"{args.method} inference (model.eval(), torch.no_grad()), scan_hardest, batch {args.batch} x {sizes['points']} points, "
          f"{sizes['groups']}x{sizes['group_size']} groups, {sizes['depth']} blocks, fp32, median of {args.repeat} after one warm-up")
    print(f"  PyTorch BLAS: {blascheck.describe(blas)}")
    mem = torch_gpu_memory(ref)
    print(f"  PyTorch {ref['torch']} on {ref['device']}: {ref['ms']:9.1f} ms per batch, {ref['samples_per_sec']:8.1f} samples/s{mem}, "
          f"peak RSS {ref['peak_rss_mb']} MiB (child process)")
    mem = pcx_gpu_memory(r)
    print(f"  pcx on {r['device']} {r.get('gpu', '')} ({r['blas']}, GOMAXPROCS={args.threads}): {r['ms']:9.1f} ms per batch, "
          f"{r['samples_per_sec']:8.1f} samples/s{mem}, peak RSS {r['peak_mb']} MiB")
    print(f"  peak RSS pcx / PyTorch: {row['memory_ratio']:.2f}")
    if ok:
        print(f"  pcx is {row['speedup']:.2f}x PyTorch's speed (pcx samples/s / PyTorch samples/s)")
    else:
        print("  " + row["warning"])
    return row


def bench_points(args, dev, what, b, n, g, k):
    """fps (b clouds of n points to g centres) or knn (g centres every
    n/g-th point, k neighbours)."""
    pts = surface_clouds(b, n, 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clouds.npy")
        save_npy(path, pts.reshape(-1, 3))  # pcx reads one (N, 3) array: the clouds one after another
        extra = ["--batch", str(b), "--points", str(n), "--centres", str(g), "--repeat", str(args.repeat), "--input", path]
        if what == "knn":
            extra += ["--k", str(k)]
        r = run_pcx(args, what, extra)
    p = pts.to(dev.torch)
    dev.reset_peak()
    if what == "fps":
        ms = timed(dev, lambda: fps(p, g), args.repeat)
        label = f"batched FPS {n} -> {g} over {b} clouds"
    else:
        cidx = torch.arange(g, device=dev.torch) * (n // g)
        centres = p[:, cidx]
        ms = timed(dev, lambda: knn_group(p, centres, k), args.repeat)
        label = f"kNN grouping, {b} clouds of {n} points, {g} centres, k {k}"
    ref = {"ms": round(ms, 3), "gpu_peak_mb": dev.peak_mb()}
    blas = blascheck.check()  # cdist's products go through the BLAS
    ok = ratio_allowed(args, blas)
    row = {"torch": ref, "pcx": r, "speedup": round(ms / r["ms_per_batch"], 3) if ok else None, "blas": blas}
    if not ok:
        row["warning"] = blascheck.warning(blas)
    if not args.json:
        print(f"{label}, median of {args.repeat}")
        print(f"  PyTorch {torch.__version__} on {dev.describe()} (plain torch reference): {ms:9.3f} ms per batch")
        where = r.get("gpu") or f"cpu, {r['workers']} cores"
        extra = f", indices equal to the CPU's: {r['matches_cpu']}" if "matches_cpu" in r else ""
        print(f"  pcx on {r['device']} ({where}): {r['ms_per_batch']:9.3f} ms per batch{extra}")
        print(f"  pcx is {ms / r['ms_per_batch']:.2f}x the reference's speed" if ok else "  " + row["warning"])
    return row


# ---------------------------------------------------------------------------------------------
# --what vit: one image training step (scripts/ref/vit.py against pcx bench step --model)

# pcx's presets/images.go (ImageModel): image size, patch, width, depth, heads, MLP ratio, drop path.
VIT_MODELS = {
    "vit-b16": dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4, drop_path_rate=0.1),
    "vit-s16": dict(img_size=224, patch_size=16, embed_dim=384, depth=12, num_heads=6, mlp_ratio=4, drop_path_rate=0.1),
    "vit-ti16": dict(img_size=224, patch_size=16, embed_dim=192, depth=12, num_heads=3, mlp_ratio=4, drop_path_rate=0.1),
    "vit-mini": dict(img_size=28, patch_size=4, embed_dim=192, depth=6, num_heads=3, mlp_ratio=4, drop_path_rate=0.1),
}
# pcx's presets/images.go (ImageMethod): rank, scale, dropout; SMoA heads, experts, alpha for the -x methods.
SMOA = dict(rank=64, smoa_heads=3, experts=4, top1=False)
VIT_METHODS = {
    "full": dict(), "linear": dict(),
    "adapter": dict(rank=8),
    "adaptformer": dict(rank=64, scale=0.1, dropout=0.1),
    "adapter-x": dict(SMOA, scale=0.0),
    "adaptformer-x": dict(SMOA, scale=0.1),
}
VIT_CLASSES, VIT_ALPHA, VIT_LR, VIT_WD = 100, 0.01, 1e-3, 1e-4
def vit_config(model, method, depth=0):
    cfg = dict(VIT_MODELS[model], in_chans=3, num_classes=VIT_CLASSES, method=method, **VIT_METHODS[method])
    if depth > 0:
        cfg["depth"] = depth
    return cfg


def vit_child(spec):
    """The PyTorch ViT step, in this (child) process; prints one JSON line."""
    dev = child_start(spec)
    cfg = vit_config(spec["model"], spec["method"], spec["depth"])
    model = vit.ViT(**cfg).float()
    with torch.no_grad():  # the reference leaves them 0, which would route every row to expert 0
        for k, p in model.named_parameters():
            if k.endswith("expert_embeddings"):
                p.normal_()
    names = set(model.trainable_names())
    decay, no_decay = [], []
    for k, p in model.named_parameters():
        p.requires_grad_(k in names)
        if k in names:
            (no_decay if p.dim() == 1 or k.endswith(".bias") or "token" in k else decay).append(p)
    model.to(dev.torch).train()
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": VIT_WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=VIT_LR, betas=(0.9, 0.999), eps=1e-8)
    b, size = spec["batch"], cfg["img_size"]
    img = torch.randn(b, 3, size, size, generator=torch.Generator().manual_seed(2)).to(dev.torch)
    labels = (torch.arange(b) % VIT_CLASSES).to(dev.torch)
    last = {}

    def step():
        opt.zero_grad(set_to_none=True)
        logits, bal = model(img)
        loss = F.cross_entropy(logits, labels)
        if bal is not None:
            loss = loss + VIT_ALPHA * bal
        loss.backward()
        opt.step()
        last["loss"] = loss

    dev.reset_peak()
    ms = timed(dev, step, spec["repeat"])
    out = {"ms": round(ms, 2), "loss": round(float(last["loss"]), 5),
           "tunable": sum(p.numel() for p in decay + no_decay), "gpu_peak_mb": dev.peak_mb(),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
           "threads": torch.get_num_threads(), "device": dev.describe(), "torch": torch.__version__,
           "config": cfg, "blas": blascheck.check()}
    print(json.dumps(out))


def run_child(args, spec):
    """Runs the PyTorch step of spec["what"] (vit or pretrain) in a child
    process (this script with --child) and returns its JSON report."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"the PyTorch step failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ratio_allowed(args, blas):
    """Whether a ratio may be printed: on a GPU both sides use cuBLAS; on the
    CPU PyTorch must use Debian's libopenblas0-pthread (blascheck)."""
    return args.torch_device == "cuda" or blas["ok"]


def bench_vit(args):
    depth = 2 if args.dry_run else 0
    spec = {"what": "vit", "model": args.model, "method": args.method, "batch": args.batch, "repeat": args.repeat,
            "threads": args.threads, "device": args.torch_device, "depth": depth}
    ref = run_child(args, spec)
    extra = ["--model", args.model, "--method", args.method, "--batch", str(args.batch), "--repeat", str(args.repeat)]
    if depth:
        extra += ["--depth", str(depth)]
    pcx_env = dict(os.environ, GOMAXPROCS=str(args.threads))
    r = run_pcx(args, "step", extra, env=pcx_env)
    blas = ref["blas"]
    ok = ratio_allowed(args, blas)
    row = {"torch": ref, "pcx": r, "speedup": round(ref["ms"] / r["ms"], 3) if ok else None,
           "pcx_command": " ".join([f"GOMAXPROCS={args.threads}", args.pcx, "bench", "step", "--json", "--device", args.pcx_device] + extra)}
    warn = None
    if not ok:
        warn = blascheck.warning(blas)
        row["warning"] = warn
    if ref["tunable"] != r["tunable"]:
        row["tunable_mismatch"] = True
    if args.json:
        return row
    cfg = ref["config"]
    print(f"{args.model} {args.method} training step, batch {args.batch} x {cfg['img_size']}² images, "
          f"{cfg['depth']} blocks, {VIT_CLASSES} classes, fp32, median of {args.repeat} after one warm-up")
    print(f"  PyTorch BLAS: {blascheck.describe(blas)}")
    mem = torch_gpu_memory(ref)
    print(f"  PyTorch {ref['torch']} on {ref['device']}: {ref['ms']:9.1f} ms{mem}, peak RSS {ref['peak_rss_mb']} MiB "
          f"(child process), {ref['tunable']} tunable, loss {ref['loss']}")
    mem = pcx_gpu_memory(r)
    print(f"  pcx on {r['device']} {r.get('gpu', '')} ({r['blas']}, GOMAXPROCS={args.threads}): {r['ms']:9.1f} ms{mem}, "
          f"peak RSS {r['peak_mb']} MiB, {r['tunable']} tunable, loss {r['loss']}")
    if ref["tunable"] != r["tunable"]:
        print(f"  WARNING: the tunable counts differ (PyTorch {ref['tunable']}, pcx {r['tunable']}): not the same step")
    if ok:
        print(f"  ratio PyTorch ms / pcx ms: {ref['ms'] / r['ms']:.2f} (above 1: pcx is faster)")
    else:
        print("  " + warn)
    return row

# ---------------------------------------------------------------------------------------------
# --what pretrain: one Point-MAE pretraining step (scripts/ref/pointmae_pretrain.py against pcx bench pretrain)

# pcx's presets/pretrain.go (PretrainModel) and its schedule (AdamW lr, weight decay, clipping).
PRETRAIN_PRESETS = {
    "pointmae": dict(c=384, depth=12, heads=6, decoder_depth=4, decoder_heads=6, groups=64, group_size=32,
                     points=1024, mask_ratio=0.6, drop_path=0.1, lr=1e-3, wd=0.05, clip=10.0),
    "synth": dict(c=192, depth=6, heads=3, decoder_depth=2, decoder_heads=3, groups=32, group_size=16,
                  points=1024, mask_ratio=0.6, drop_path=0.1, lr=1e-3, wd=0.05, clip=10.0),
}
# --dry-run's sizes (pcx gets the same overrides).
PRETRAIN_TINY = dict(points=128, groups=8, group_size=8, depth=1, decoder_depth=1)


def pretrain_config(preset, dry_run):
    cfg = dict(PRETRAIN_PRESETS[preset])
    if dry_run:
        cfg.update(PRETRAIN_TINY)
    return cfg


def with_drop_path(blocks, rate):
    """Gives ref.pointmae's Blocks timm's drop-path (per sample, rates
    linspace(0, rate, len(blocks)), scaled by 1/keep) as Point-MAE's
    pretraining model has and pcx's preset runs; the reference leaves it out."""
    n = len(blocks)
    for i, blk in enumerate(blocks):
        p = rate * i / (n - 1) if n > 1 else 0.0

        def drop(y, p=p):
            if p == 0.0:
                return y
            keep = y.new_empty(y.shape[0], 1, 1).bernoulli_(1 - p)
            return y * keep / (1 - p)

        def forward(x, blk=blk, drop=drop):
            x = x + drop(blk.attn(blk.norm1(x)))
            return x + drop(blk.mlp(blk.norm2(x)))

        blk.forward = forward


def pretrain_child(spec):
    """The PyTorch pretraining step, in this (child) process; prints one JSON line."""
    dev = child_start(spec)
    cfg = pretrain_config(spec["preset"], spec["dry_run"])
    model = pointmae_pretrain.PointMAEPretrain(cfg["c"], cfg["depth"], cfg["heads"], cfg["decoder_depth"],
                                               cfg["decoder_heads"], cfg["group_size"]).float()
    with_drop_path(model.MAE_encoder.blocks.blocks, cfg["drop_path"])
    with_drop_path(model.MAE_decoder.blocks, cfg["drop_path"])
    with torch.no_grad():
        model.mask_token.normal_(std=0.02)
    decay, no_decay = [], []
    for k, p in model.named_parameters():  # pcx's optim.NoDecay
        (no_decay if p.dim() == 1 or k.endswith(".bias") or "token" in k else decay).append(p)
    model.to(dev.torch).train()
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["wd"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8)
    b, n, g, k = spec["batch"], cfg["points"], cfg["groups"], cfg["group_size"]
    nm = int(cfg["mask_ratio"] * g)
    points = surface_clouds(b, n, 0).to(dev.torch)
    ar = torch.arange(b, device=dev.torch)
    params = decay + no_decay
    last = {}

    def step():
        center_idx = fps(points, g)
        centers = points[ar[:, None], center_idx]
        _, nb = knn_group(points, centers, k)
        order = torch.rand(b, g, device=dev.torch).argsort(dim=1)  # a random subset of nm groups per cloud
        mask = torch.zeros(b, g, dtype=torch.bool, device=dev.torch)
        mask.scatter_(1, order[:, :nm], True)
        opt.zero_grad(set_to_none=True)
        loss = model(nb, centers, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg["clip"])
        opt.step()
        last["loss"] = loss

    dev.reset_peak()
    ms = timed(dev, step, spec["repeat"])
    out = {"ms": round(ms, 2), "loss": round(float(last["loss"]), 5),
           "params": sum(p.numel() for p in params), "gpu_peak_mb": dev.peak_mb(),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
           "threads": torch.get_num_threads(), "device": dev.describe(), "torch": torch.__version__,
           "config": cfg, "masked": nm, "blas": blascheck.check()}
    print(json.dumps(out))


def bench_pretrain(args):
    spec = {"what": "pretrain", "preset": args.preset, "batch": args.batch, "repeat": args.repeat,
            "threads": args.threads, "device": args.torch_device, "dry_run": args.dry_run}
    ref = run_child(args, spec)
    cfg = ref["config"]
    extra = ["--preset", args.preset, "--batch", str(args.batch), "--repeat", str(args.repeat)]
    if args.dry_run:
        extra += ["--points", str(cfg["points"]), "--groups", str(cfg["groups"]), "--group-size", str(cfg["group_size"]),
                  "--depth", str(cfg["depth"]), "--decoder-depth", str(cfg["decoder_depth"])]
    r = run_pcx(args, "pretrain", extra, env=dict(os.environ, GOMAXPROCS=str(args.threads)))
    blas = ref["blas"]
    ok = ratio_allowed(args, blas)
    row = {"torch": ref, "pcx": r, "speedup": round(ref["ms"] / r["ms"], 3) if ok else None,
           "memory_ratio": round(r["peak_mb"] / ref["peak_rss_mb"], 3),
           "pcx_command": " ".join([f"GOMAXPROCS={args.threads}", args.pcx, "bench", "pretrain", "--json", "--device", args.pcx_device] + extra)}
    if not ok:
        row["warning"] = blascheck.warning(blas)
    if ref["params"] != r["params"] or ref["masked"] != r["masked"]:
        row["mismatch"] = True
    if args.json:
        return row
    print(f"{args.preset} pretraining step, batch {args.batch} x {cfg['points']} points, {cfg['groups']} groups of "
          f"{cfg['group_size']}, {ref['masked']} masked, {cfg['depth']}+{cfg['decoder_depth']} blocks {cfg['c']} wide, "
          f"fp32, median of {args.repeat} after one warm-up")
    print(f"  PyTorch BLAS: {blascheck.describe(blas)}")
    mem = torch_gpu_memory(ref)
    print(f"  PyTorch {ref['torch']} on {ref['device']}: {ref['ms']:9.1f} ms{mem}, peak RSS {ref['peak_rss_mb']} MiB "
          f"(child process), {ref['params']} parameters, loss {ref['loss']}")
    mem = pcx_gpu_memory(r)
    print(f"  pcx on {r['device']} {r.get('gpu', '')} ({r['blas']}, GOMAXPROCS={args.threads}): {r['ms']:9.1f} ms "
          f"(grouping and mask {r['group_ms']:.1f} ms){mem}, peak RSS {r['peak_mb']} MiB, {r['params']} parameters, loss {r['loss']}")
    if row.get("mismatch"):
        print(f"  WARNING: parameters or masked groups differ (PyTorch {ref['params']}, {ref['masked']}; "
              f"pcx {r['params']}, {r['masked']}): not the same step")
    print(f"  peak RSS pcx / PyTorch: {row['memory_ratio']:.2f}")
    if ok:
        print(f"  ratio PyTorch ms / pcx ms: {ref['ms'] / r['ms']:.2f} (above 1: pcx is faster)")
    else:
        print("  " + row["warning"])
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcx", default="./pcx")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--what", default="step", choices=["step", "eval", "fps", "knn", "all", "vit", "pretrain"],
                    help="all: step, fps and knn (not eval, vit or pretrain)")
    ap.add_argument("--model", default="vit-b16", choices=sorted(VIT_MODELS), help="--what vit: pcx's ViT preset")
    ap.add_argument("--method", choices=sorted(set(STEP_METHODS) | set(VIT_METHODS)),
                    help="--what step, eval: the Point-MAE method (dapt-x, dapt, full, linear; default dapt-x); "
                         "--what vit: the image method (default adaptformer-x)")
    ap.add_argument("--preset", default="pointmae", choices=sorted(PRETRAIN_PRESETS),
                    help="--what pretrain: pcx's pretraining preset")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help="default 32 (--what pretrain: 128)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="PyTorch's CPU threads (--what vit, pretrain, eval: also its OpenBLAS's and pcx's GOMAXPROCS)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes; without a GPU the cuda branches run on the CPU")
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        return {"pretrain": pretrain_child, "eval": eval_child, "vit": vit_child}[spec["what"]](spec)
    if args.batch is None:
        args.batch = 128 if args.what == "pretrain" else 32
    if args.what == "vit":
        args.method = args.method or "adaptformer-x"
        if args.method not in VIT_METHODS:
            ap.error(f"--what vit: --method {args.method} is not an image method ({', '.join(VIT_METHODS)})")
    elif args.what in ("step", "eval", "all"):
        args.method = args.method or "dapt-x"
        if args.method not in STEP_METHODS:
            ap.error(f"--what {args.what}: --method {args.method} is not a Point-MAE method ({', '.join(STEP_METHODS)})")
    torch.set_num_threads(args.threads)
    name, args.pcx_device = args.device, args.device
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if not torch.cuda.is_available():
            if not args.dry_run:
                sys.exit(f"--device cuda: PyTorch {torch.__version__} sees no GPU (use --dry-run to check the script)")
            name, args.pcx_device = "cpu", "auto"
    dev = Dev(name)
    args.torch_device = name
    if args.what in ("vit", "pretrain"):
        if args.dry_run:
            args.batch, args.repeat = 2, 1
        row = (bench_vit if args.what == "vit" else bench_pretrain)(args)
        if args.json:
            print(json.dumps({args.what: row}, indent=1))
        return
    sizes = {"points": 2048, "groups": 128, "group_size": 32, "depth": 12}
    fps_sz, knn_sz = (32, 8192, 1024, 0), (32, 2048, 128, 32)
    if args.dry_run:
        args.batch, args.repeat = 2, 1
        sizes = {"points": 256, "groups": 16, "group_size": 8, "depth": 1}
        fps_sz, knn_sz = (2, 512, 32, 0), (2, 256, 16, 8)
    if args.what == "eval":
        row = bench_eval(args, sizes)
        if args.json:
            print(json.dumps({"eval": row}, indent=1))
        return
    rows = {}
    if args.what in ("step", "all"):
        rows["step"] = bench_step(args, dev, sizes)
    if args.what in ("fps", "all"):
        rows["fps"] = bench_points(args, dev, "fps", *fps_sz)
    if args.what in ("knn", "all"):
        rows["knn"] = bench_points(args, dev, "knn", *knn_sz)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
