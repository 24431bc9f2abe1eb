#!/usr/bin/python3
"""Time one DAPT-X training step in PyTorch and in pcx, in the same run.

    /usr/bin/python3 scripts/bench_step.py [--pcx ./pcx] [--batch 32] [--repeat 3] [--threads 2] [--json]

The PyTorch model is the reference DAPT-X of scripts/golden_daptx.py (the
model pcx's golden tests compare against), run in float32 at the
scan_hardest preset's size: 384 wide, 12 blocks, 6 heads, 128 groups of 32
points from 2048-point clouds, 15 classes, SMoA with 3 heads, 4 experts,
rank 32. A step is grouping (batched FPS in torch, kNN by cdist + topk),
forward, cross-entropy plus 0.01 x balance loss, backward and an AdamW step
of the tunable parameters. Peak memory is the process's maximum RSS.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def load_reference():
    src = open(os.path.join(HERE, "golden_daptx.py")).read()
    ns = {"__file__": os.path.join(HERE, "golden_daptx.py"), "__name__": "golden_daptx_helpers"}
    exec(compile(src[:src.index("\n# cases")], "golden_daptx.py", "exec"), ns)
    torch.set_default_dtype(torch.float32)
    return ns


def fps(points, m):
    """Batched farthest-point sampling from index 0 (pointnet2_ops order)."""
    b, n, _ = points.shape
    idx = torch.zeros(b, m, dtype=torch.long)
    dist = torch.full((b, n), 1e10)
    cur = torch.zeros(b, dtype=torch.long)
    ar = torch.arange(b)
    for j in range(m):
        idx[:, j] = cur
        d = ((points - points[ar, cur][:, None, :]) ** 2).sum(-1)
        dist = torch.minimum(dist, d)
        cur = dist.argmax(-1)
    return idx


def torch_step_ms(batch, repeat, threads):
    torch.set_num_threads(threads)
    ns = load_reference()
    torch.manual_seed(0)
    model = ns["PointTransformerDAPTX"](384, 12, 6, 15, 128, 3, 4, 32).float()
    ns["freeze"](model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.05)
    p = torch.randn(batch, 2048, 3)
    points = p / p.norm(dim=-1, keepdim=True)
    labels = torch.arange(batch) % 15
    ce = torch.nn.CrossEntropyLoss()

    def step():
        center_idx = fps(points, 128)
        centers = points[torch.arange(batch)[:, None], center_idx]
        knn_idx = torch.cdist(centers, points).topk(32, largest=False).indices
        opt.zero_grad()
        logits, bal = model(points, center_idx, knn_idx)
        loss = ce(logits, labels) + 0.01 * bal
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10)
        opt.step()
    step()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3, sum(p.numel() for p in params)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcx", default="./pcx")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ref, tunable = torch_step_ms(args.batch, args.repeat, args.threads)
    ref_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    out = subprocess.run([args.pcx, "bench", "step", "--preset", "scan_hardest", "--method", "dapt-x", "--json",
                          "--batch", str(args.batch), "--repeat", str(args.repeat)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("pcx failed: " + out.stderr)
    r = json.loads(out.stdout)
    rows = {"torch": {"version": torch.__version__, "threads": args.threads, "ms": round(ref, 1), "peak_mb": ref_mb,
                      "tunable": tunable},
            "pcx": r, "speedup": round(ref / r["ms"], 2)}
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"DAPT-X training step, scan_hardest, batch {args.batch} x 2048 points, median of {args.repeat}")
    print(f"  PyTorch {torch.__version__} CPU ({args.threads} threads): {ref:8.0f} ms, peak RSS {ref_mb} MB, {tunable} tunable")
    print(f"  pcx ({r['blas']}): {r['ms']:8.0f} ms (grouping {r['group_ms']:.1f} ms), peak RSS {r['peak_mb']} MB, {r['tunable']} tunable")
    print(f"  speed-up {ref / r['ms']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
