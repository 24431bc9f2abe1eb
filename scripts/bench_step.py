#!/usr/bin/python3
"""Time one DAPT-X (or, with --what vit, ViT method) training step in PyTorch and in pcx, in the same run.

    /usr/bin/python3 scripts/bench_step.py [--pcx ./pcx] [--device cpu|cuda] [--what step|fps|knn|all|vit]
                                           [--batch 32] [--repeat 3] [--threads 2] [--json] [--dry-run]
                                           [--model vit-b16] [--method adaptformer-x]   (--what vit)

step: the PyTorch model is the reference DAPT-X of scripts/golden_daptx.py
(ref.daptx.PointTransformerDAPTX, the model pcx's golden tests compare
against), run in float32 at the scan_hardest preset's size: 384 wide, 12
blocks, 6 heads, 128 groups of 32 points from 2048-point clouds, 15
classes, SMoA with 3 heads, 4 experts, rank 32. A step is grouping (batched FPS in torch, kNN by cdist + topk),
forward, cross-entropy plus 0.01 x balance loss, backward and an AdamW step
of the tunable parameters; then `pcx bench step --device <device>` times the
same step. On the CPU, peak memory is each process's maximum RSS; on cuda
also torch.cuda.max_memory_allocated/max_memory_reserved against pcx's
caching allocator (in use / held). TF32 is off on both sides (fp32).

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
again, with --vit-child), which reports its own
resource.getrusage(RUSAGE_SELF).ru_maxrss at the end: the interpreter,
torch's libraries and the step, but not the parent's state, as pcx's
VmHWM counts its whole process. The child runs with
OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=--threads (torch.set_num_threads
does not reach OpenBLAS's own pool). Both values are in MiB.
BLAS: Debian's torch is built with BLAS_INFO=generic and calls whatever
libblas.so.3 the alternatives system picks. The child reports
torch.__config__.show()'s BLAS_INFO, where /usr/lib/x86_64-linux-gnu/
libblas.so.3 resolves, and the BLAS/LAPACK libraries mapped in its
/proc/self/maps after the step; on the CPU the ratio (torch ms / pcx ms,
above 1: pcx is faster) is printed only when OpenBLAS is among them,
otherwise a warning replaces it (and "speedup" is null in --json).
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
from ref import daptx, vit


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


def torch_step(dev, batch, repeat, sizes):
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    n, g, k, depth = sizes["points"], sizes["groups"], sizes["group_size"], sizes["depth"]
    model = daptx.PointTransformerDAPTX(384, depth, 6, 15, g, 3, 4, 32).float()
    daptx.freeze(model)
    model.forward = model.forward_lean  # without the diagnostics, whose .item() calls would synchronise every block
    model.to(dev.torch).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.05)
    points = surface_clouds(batch, n, 0).to(dev.torch)
    labels = (torch.arange(batch) % 15).to(dev.torch)
    ce = torch.nn.CrossEntropyLoss()
    ar = torch.arange(batch, device=dev.torch)
    last = {}

    def step():
        center_idx = fps(points, g)
        centers = points[ar[:, None], center_idx]
        knn_idx = torch.cdist(centers, points).topk(k, largest=False).indices
        opt.zero_grad()
        logits, bal = model(points, center_idx, knn_idx)
        loss = ce(logits, labels) + 0.01 * bal
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
    ref = torch_step(dev, args.batch, args.repeat, sizes)
    ref["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    extra = ["--preset", "scan_hardest", "--method", "dapt-x", "--batch", str(args.batch), "--repeat", str(args.repeat)]
    if args.dry_run:
        extra += ["--points", str(sizes["points"]), "--groups", str(sizes["groups"]),
                  "--group-size", str(sizes["group_size"]), "--depth", str(sizes["depth"])]
    r = run_pcx(args, "step", extra)
    row = {"torch": ref, "pcx": r, "speedup": round(ref["ms"] / r["ms"], 3)}
    if not args.json:
        print(f"DAPT-X training step, scan_hardest, batch {args.batch} x {sizes['points']} points, "
              f"{sizes['groups']}x{sizes['group_size']} groups, {sizes['depth']} blocks, fp32, median of {args.repeat}")
        mem = ""
        if ref["gpu_peak_mb"]:
            mem = f", peak GPU memory {ref['gpu_peak_mb'][0]:.0f} MiB allocated / {ref['gpu_peak_mb'][1]:.0f} MiB reserved"
        print(f"  PyTorch {torch.__version__} on {dev.describe()}: {ref['ms']:9.1f} ms{mem}, "
              f"peak RSS {ref['peak_rss_mb']} MB, {ref['tunable']} tunable")
        mem = ""
        if r.get("gpu_peak_mb"):
            mem = f", peak GPU memory {r['gpu_peak_in_use_mb']:.0f} MiB in use / {r['gpu_peak_mb']:.0f} MiB held"
        print(f"  pcx on {r['device']} {r.get('gpu', '')} ({r['blas']}): {r['ms']:9.1f} ms (grouping {r['group_ms']:.1f} ms)"
              f"{mem}, peak RSS {r['peak_mb']} MB, {r['tunable']} tunable")
        print(f"  pcx is {ref['ms'] / r['ms']:.2f}x PyTorch's speed (PyTorch ms / pcx ms)")
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
    row = {"torch": ref, "pcx": r, "speedup": round(ms / r["ms_per_batch"], 3)}
    if not args.json:
        print(f"{label}, median of {args.repeat}")
        print(f"  PyTorch {torch.__version__} on {dev.describe()} (plain torch reference): {ms:9.3f} ms per batch")
        where = r.get("gpu") or f"cpu, {r['workers']} cores"
        extra = f", indices equal to the CPU's: {r['matches_cpu']}" if "matches_cpu" in r else ""
        print(f"  pcx on {r['device']} ({where}): {r['ms_per_batch']:9.3f} ms per batch{extra}")
        print(f"  pcx is {ms / r['ms_per_batch']:.2f}x the reference's speed")
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
LIBBLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"


def blas_check():
    """What BLAS this process's torch uses: BLAS_INFO from torch.__config__.show(), where the system's
    libblas.so.3 resolves, and the BLAS/LAPACK libraries mapped in /proc/self/maps (call after a matmul)."""
    cfg = torch.__config__.show()
    info = [part.split("=", 1)[1] for part in cfg.replace(",", "\n").split() if part.startswith("BLAS_INFO=")]
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path).lower()
                if any(w in base for w in ("blas", "lapack", "mkl")):
                    libs.add(path)
    except OSError:
        pass
    return {"blas_info": info[0] if info else "?",
            "libblas_so_3": os.path.realpath(LIBBLAS) if os.path.exists(LIBBLAS) else None,
            "loaded": sorted(libs), "openblas": any("openblas" in p.lower() for p in libs)}


def vit_config(model, method, depth=0):
    cfg = dict(VIT_MODELS[model], in_chans=3, num_classes=VIT_CLASSES, method=method, **VIT_METHODS[method])
    if depth > 0:
        cfg["depth"] = depth
    return cfg


def vit_child(spec):
    """The PyTorch step, in this (child) process; prints one JSON line."""
    torch.set_num_threads(spec["threads"])
    dev = Dev(spec["device"])
    if dev.gpu:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
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
           "config": cfg, "blas": blas_check()}
    print(json.dumps(out))


def bench_vit(args):
    depth = 2 if args.dry_run else 0
    spec = {"model": args.model, "method": args.method, "batch": args.batch, "repeat": args.repeat,
            "threads": args.threads, "device": args.torch_device, "depth": depth}
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--vit-child", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"the PyTorch step failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    extra = ["--model", args.model, "--method", args.method, "--batch", str(args.batch), "--repeat", str(args.repeat)]
    if depth:
        extra += ["--depth", str(depth)]
    pcx_env = dict(os.environ, GOMAXPROCS=str(args.threads))
    r = run_pcx(args, "step", extra, env=pcx_env)
    blas = ref["blas"]
    ok = args.torch_device == "cuda" or blas["openblas"]  # on a GPU both sides use cuBLAS
    row = {"torch": ref, "pcx": r, "speedup": round(ref["ms"] / r["ms"], 3) if ok else None,
           "pcx_command": " ".join([f"GOMAXPROCS={args.threads}", args.pcx, "bench", "step", "--json", "--device", args.pcx_device] + extra)}
    warn = None
    if not ok:
        warn = (f"WARNING: PyTorch is not using OpenBLAS (BLAS_INFO={blas['blas_info']}, libblas.so.3 -> "
                f"{blas['libblas_so_3']}, loaded: {', '.join(blas['loaded']) or 'no BLAS library'}); no ratio printed")
        row["warning"] = warn
    if ref["tunable"] != r["tunable"]:
        row["tunable_mismatch"] = True
    if args.json:
        return row
    cfg = ref["config"]
    print(f"{args.model} {args.method} training step, batch {args.batch} x {cfg['img_size']}² images, "
          f"{cfg['depth']} blocks, {VIT_CLASSES} classes, fp32, median of {args.repeat} after one warm-up")
    print(f"  PyTorch BLAS: BLAS_INFO={blas['blas_info']}, {LIBBLAS} -> {blas['libblas_so_3']}, "
          f"loaded: {', '.join(blas['loaded']) or 'none'}")
    mem = ""
    if ref["gpu_peak_mb"]:
        mem = f", peak GPU memory {ref['gpu_peak_mb'][0]:.0f} MiB allocated / {ref['gpu_peak_mb'][1]:.0f} MiB reserved"
    print(f"  PyTorch {ref['torch']} on {ref['device']}: {ref['ms']:9.1f} ms{mem}, peak RSS {ref['peak_rss_mb']} MiB "
          f"(child process), {ref['tunable']} tunable, loss {ref['loss']}")
    mem = ""
    if r.get("gpu_peak_mb"):
        mem = f", peak GPU memory {r['gpu_peak_in_use_mb']:.0f} MiB in use / {r['gpu_peak_mb']:.0f} MiB held"
    print(f"  pcx on {r['device']} {r.get('gpu', '')} ({r['blas']}, GOMAXPROCS={args.threads}): {r['ms']:9.1f} ms{mem}, "
          f"peak RSS {r['peak_mb']} MiB, {r['tunable']} tunable, loss {r['loss']}")
    if ref["tunable"] != r["tunable"]:
        print(f"  WARNING: the tunable counts differ (PyTorch {ref['tunable']}, pcx {r['tunable']}): not the same step")
    if ok:
        print(f"  ratio PyTorch ms / pcx ms: {ref['ms'] / r['ms']:.2f} (above 1: pcx is faster)")
    else:
        print("  " + warn)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcx", default="./pcx")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--what", default="step", choices=["step", "fps", "knn", "all", "vit"],
                    help="all: step, fps and knn (not vit)")
    ap.add_argument("--model", default="vit-b16", choices=sorted(VIT_MODELS), help="--what vit: pcx's ViT preset")
    ap.add_argument("--method", default="adaptformer-x", choices=list(VIT_METHODS), help="--what vit: the image method")
    ap.add_argument("--vit-child", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="PyTorch's CPU threads (--what vit: also its OpenBLAS's and pcx's GOMAXPROCS)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes; without a GPU the cuda branches run on the CPU")
    args = ap.parse_args()
    if args.vit_child:
        return vit_child(json.loads(args.vit_child))
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
    if args.what == "vit":
        if args.dry_run:
            args.batch, args.repeat = 2, 1
        row = bench_vit(args)
        if args.json:
            print(json.dumps({"vit": row}, indent=1))
        return
    sizes = {"points": 2048, "groups": 128, "group_size": 32, "depth": 12}
    fps_sz, knn_sz = (32, 8192, 1024, 0), (32, 2048, 128, 32)
    if args.dry_run:
        args.batch, args.repeat = 2, 1
        sizes = {"points": 256, "groups": 16, "group_size": 8, "depth": 1}
        fps_sz, knn_sz = (2, 512, 32, 0), (2, 256, 16, 8)
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
