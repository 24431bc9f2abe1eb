#!/usr/bin/python3
"""Time pcx's engine workload against PyTorch on the CPU, in one run.

    /usr/bin/python3 scripts/bench_engine.py [--pcx ./pcx] [--repeat 5] [--rounds 1] [--threads 2] [--json]

The workload (package nn/enginebench): one frozen pre-LN transformer block
(B=32, T=65, D=384, 6 heads, MLP 1536, qkv without bias, exact GELU), a
trainable 16-wide bottleneck adapter parallel to the MLP fed the LN2 output,
mean-pool over tokens, a 40-way linear classifier and cross-entropy, forward
and backward including the gradient with respect to the block input. Times
are medians after one warm-up; peak memory is the process's maximum RSS.
The ratios are printed only when PyTorch uses Debian's libopenblas0-pthread
(scripts/blascheck.py); against the reference BLAS a warning replaces them.
With --rounds N, PyTorch and pcx's Go backend are timed in turn N times: on
a shared machine whose speed drifts over minutes each round's ratio compares
the two under the same conditions, and the table gives the medians over the
rounds (the speed-up is the median of the rounds' ratios).
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
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blascheck  # noqa: E402

B, D, H, HID, A, K = 32, 384, 6, 1536, 16, 40


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.qkv, self.proj = nn.Linear(D, 3 * D, bias=False), nn.Linear(D, D)
        self.fc1, self.fc2 = nn.Linear(D, HID), nn.Linear(HID, D)
        self.down, self.up = nn.Linear(D, A), nn.Linear(A, D)
        for m in (self.norm1, self.norm2, self.qkv, self.proj, self.fc1, self.fc2):
            for p in m.parameters():
                p.requires_grad_(False)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, H, D // H).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (D // H) ** -0.5).softmax(-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, D))
        u = self.norm2(x)
        return x + self.fc2(F.gelu(self.fc1(u))) + self.up(F.gelu(self.down(u)))


class Model(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.ModuleList([Block() for _ in range(blocks)])
        self.head = nn.Linear(D, K)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x.mean(1))


def flops(blocks=1, T=65):
    m = B * T
    linear = 2 * m * D * (3 * D + D + 2 * HID)
    attn = 2 * 2 * B * T * T * D
    adapter = 2 * m * D * A * 2
    head = 2 * B * D * K
    return blocks * (linear + attn + adapter) + head + blocks * (linear + 2 * attn + 2 * adapter) + 2 * head


def torch_ms(repeat, threads, blocks, T):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Model(blocks)
    x = torch.randn(B, T, D, requires_grad=True)
    y = torch.randint(0, K, (B,))

    def step():
        model.zero_grad(set_to_none=False)
        x.grad = None
        F.cross_entropy(model(x), y).backward()
    step()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcx", default="./pcx")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads (pcx uses GOMAXPROCS)")
    ap.add_argument("--blocks", type=int, default=1, help="frozen blocks with adapters (12: a whole encoder)")
    ap.add_argument("--tokens", type=int, default=65)
    ap.add_argument("--rounds", type=int, default=1, help="PyTorch and pcx (go) timed in turn this many times")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    def pcx(blas):
        out = subprocess.run([args.pcx, "bench", "engine", "--json", "--repeat", str(args.repeat), "--blas", blas,
                              "--blocks", str(args.blocks), "--tokens", str(args.tokens)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            return None, out.stderr.strip()
        return json.loads(out.stdout), None

    # PyTorch and pcx's Go backend in turn, --rounds times; then OpenBLAS.
    rounds, go, go_err = [], None, None
    for _ in range(args.rounds):
        t = torch_ms(args.repeat, args.threads, args.blocks, args.tokens)
        go, go_err = pcx("go")
        if go_err is not None:
            rounds.append({"torch_ms": round(t, 1)})
            break
        rounds.append({"torch_ms": round(t, 1), "pcx_ms": go["ms"], "ratio": round(t / go["ms"], 2)})
    ob, ob_err = pcx("openblas")
    ref = statistics.median([r["torch_ms"] for r in rounds])
    fl = flops(args.blocks, args.tokens)
    ref_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    torch_blas = blascheck.check()
    rows = [{"engine": f"PyTorch {torch.__version__} CPU ({args.threads} threads)", "ms": round(ref, 1),
             "gflops": round(fl / ref / 1e6, 1), "peak_mb": round(ref_mb), "speedup": 1.0}]
    for blas, r, err in (("openblas", ob, ob_err), ("go", go, go_err)):
        if err is not None:
            rows.append({"engine": f"pcx ({blas})", "error": err})
            continue
        ms, speedup = r["ms"], round(ref / r["ms"], 2)
        if blas == "go":  # the medians over the rounds
            ms = statistics.median([x["pcx_ms"] for x in rounds])
            speedup = round(statistics.median([x["ratio"] for x in rounds]), 2)
        rows.append({"engine": f"pcx ({r['blas']})", "ms": ms, "gflops": round(r["gflops"] * r["ms"] / ms, 1),
                     "peak_mb": r["peak_mb"], "speedup": speedup})
    if not torch_blas["ok"]:
        for r in rows:
            if "speedup" in r:
                r["speedup"] = None
        for r in rounds:
            r.pop("ratio", None)
    if args.json:
        print(json.dumps({"gflop_per_step": fl / 1e9, "blocks": args.blocks, "tokens": args.tokens, "rows": rows,
                          "rounds": rounds if args.rounds > 1 else None,
                          "blas": torch_blas, "warning": None if torch_blas["ok"] else blascheck.warning(torch_blas)}, indent=1))
        return
    print(f"PyTorch BLAS: {blascheck.describe(torch_blas)}")
    if not torch_blas["ok"]:
        print(blascheck.warning(torch_blas))
    print(f"engine workload: {args.blocks} block(s), {args.tokens} tokens, {fl / 1e9:.2f} GFLOP per step, median of {args.repeat}")
    if args.rounds > 1:
        for i, r in enumerate(rounds):
            ratio = f", {r['ratio']:.2f}x" if "ratio" in r else ""
            pcx_ms = f", pcx (go) {r['pcx_ms']:.1f} ms" if "pcx_ms" in r else ""
            print(f"round {i + 1}: PyTorch {r['torch_ms']:.1f} ms{pcx_ms}{ratio}")
        print(f"medians over {len(rounds)} rounds below (pcx (go)'s speed-up: the median of the rounds' ratios)")
    print(f"{'engine':48s} {'ms/step':>9s} {'GFLOP/s':>8s} {'peak MB':>8s} {'vs PyTorch':>10s}")
    for r in rows:
        if "error" in r:
            print(f"{r['engine']:48s} error: {r['error']}")
        else:
            ratio = f"{r['speedup']:9.2f}x" if r["speedup"] is not None else f"{'-':>10s}"
            print(f"{r['engine']:48s} {r['ms']:9.1f} {r['gflops']:8.1f} {r['peak_mb']:8d} {ratio}")


if __name__ == "__main__":
    sys.exit(main())
