#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's generic adapters (adapters/generic.go).

    /usr/bin/python3 scripts/golden_generic.py      # Debian python3-torch 1.13

Small float64 re-implementations, written from the adapters' published
semantics (Houlsby/NOAH serial adapter, AdaptFormer, Adapter-X's Sharing
Mixture of Adapters), of:

    SerialAdapter   y = x + up(GELU(down(x)))               keys adapter.{i}.{down,up}.{weight,bias}
    AdaptFormer     a = s * up(dropout(ReLU(down_proj(x)))) keys adaptmlp.{i}.{down_proj,up_proj}.{weight,bias}
                    (the parallel branch; here added to its own input: y = x + a)
    SerialAdapterX  y = x + SMoA(x, block)                  one SMoA shared by the blocks, keys smoa.*
    AdaptFormerX    a = s * SMoA(x, block); y = x + a

GELU is the exact erf GELU. Every Linear has a bias except the SMoA's router.

SMoA(u: B x T x C, block), h sub-token heads, d_s = C / h, E experts of rank r (Adapter-X §3.2, Algorithm 1):
    s = u.reshape(B*T*h, d_s)          sub-token j of a token = channels j*d_s .. (j+1)*d_s - 1
    z = s @ W.T                        W = smoa.reduction.weight (r x d_s, no bias), or with per-block
                                       routers W = smoa.reduction.{block}.weight
    en = F.normalize(smoa.expert_embeddings, dim=-1)       (E x r, L2 per row, eps 1e-12; gradient flows)
    probs = softmax(z @ en.T, dim=-1)                      n x E
    gates = probs (dense), or top1: probs * onehot(argmax probs)  (the top expert's gate, others 0)
    out = sum_i gates[:, i:i+1] * up_i(GELU(down_i(s)))   (smoa.experts.{i}.{down,up}: Linear(d_s,r), Linear(r,d_s))
    balance = E * sum_p f_p * mean(probs[:, p]),  f_p = share of sub-tokens whose argmax is p (no gradient)

Each case chains two blocks on one input x (B x T x C):
    h = x; for block i in 0, 1: h = y_i(h)      (plain forms: block i has its own adapter, key index i;
                                                -X forms: both blocks call the ONE SMoA, so its gradient
                                                is the sum of two calls' contributions)
    loss = sum(h * w) + sum_i balance_i           (w a fixed B x T x C tensor; balance terms only for -X)
and stores the output h, the loss, the per-block balance losses and expert counts (-X), the gradient
of x ("x") and of every parameter (all trainable), in full.

Modes: "train" with every dropout 0 and "eval" with AdaptFormer's dropout 0.1 (inactive in eval) give
the same numbers; the script computes both and asserts they agree exactly, so one reference serves
both (the Go test runs both modes against it).

INIT "splitmix" (golden_pointmae.py's stream: FNV-1a 64 hash of the key, splitmix64, r_i in [-1, 1),
value_i = float32(a + float64(b * r_i))), (a, b) by key:
    ends with "smoa.expert_embeddings":  a = 0, b = 1
    ends with "bias":                    a = 0, b = 0.1
    any other weight (dim 2):            a = 0, b = sqrt(3 / shape[1])
so, unlike the adapters' own init, no up projection is zero. Inputs x and w: splitmix under the keys
"input.x" (b = 1) and "input.w" (b = 1), stored too.

Numbers are written with 9 significant digits: float32 inputs and parameters round-trip exactly; the
float64 results are compared at 1e-4 relative.

CASES (C = 48, not a power of two, split into an odd number h = 3 of sub-token heads, d_s = 16;
B = 2, T = 5; E = 4, r = 6; adapter widths 6 (serial) and 10 (AdaptFormer); scale s = 0.1):
    serial          SerialAdapter, blocks adapter.0, adapter.1
    adaptformer     AdaptFormer, blocks adaptmlp.0, adaptmlp.1
    serial_x        SerialAdapterX, shared SMoA, one router, dense
    adaptformer_x   AdaptFormerX, shared SMoA, one router, dense
    adaptformer_x_perblock_top1   AdaptFormerX, shared experts and embeddings, one router per block
                    (smoa.reduction.{0,1}.weight), top-1 gates
Output: testdata/golden/generic.json.

The adapters are ref.adapters' (scripts/ref/adapters.py: SerialAdapter, AdaptFormer, SerialAdapterX,
AdaptFormerX, Chain) on ref.daptx.SMoA, DAPT-X's; the splitmix formula is ref.init's, whose rules give
the (a, b) above for these keys.
"""
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # scripts/: the ref package
from ref.adapters import AdaptFormer, Chain, state_key
from ref.daptx import SMoA
from ref.init import init_splitmix, splitmix_uniform

torch.manual_seed(0)  # the weights and inputs come from splitmix; this only fixes the unused default init
torch.set_default_dtype(torch.float64)
OUT = os.path.join(HERE, "..", "testdata", "golden", "generic.json")


def g9(v):
    return float("%.9g" % v)


def enc(t):
    t = t.detach().double().cpu()
    return {"shape": list(t.shape), "data": [g9(v) for v in t.reshape(-1).tolist()]}


def input_tensor(key, shape):
    v = splitmix_uniform(key, int(np.prod(shape))).astype(np.float32).astype(np.float64)
    return torch.from_numpy(v).reshape(shape)


def run(model, x, w, train):
    model.train(train)
    model.zero_grad()
    for m in model.modules():
        if isinstance(m, SMoA):
            m.calls = []
    xg = x.clone().requires_grad_(True)
    h, bal = model(xg)
    loss = (h * w).sum() + sum(bal, torch.zeros(()))
    loss.backward()
    return xg, h, bal, loss


def smoa_of(model):
    return next((m for m in model.modules() if isinstance(m, SMoA)), None)


def fd_check(model, x, w, keys, eps=1e-6):
    """Central finite differences in float64 of the loss on three elements of a few parameters and of x."""
    xg, _, _, _ = run(model, x, w, True)
    params = dict(model.named_parameters())
    worst = 0.0
    for k in keys:
        t = xg if k == "x" else params[k]
        g = (xg.grad if k == "x" else t.grad).reshape(-1).clone()
        for j in (0, t.numel() // 2, t.numel() - 1):
            vals = []
            for s in (+1, -1):
                xp = x.clone()
                with torch.no_grad():
                    (xp if k == "x" else t).view(-1)[j] += s * eps
                vals.append(run(model, xp, w, True)[3].item())
                if k != "x":
                    with torch.no_grad():
                        t.view(-1)[j] -= s * eps
            fd = (vals[0] - vals[1]) / (2 * eps)
            err = abs(fd - g[j].item()) / max(abs(fd) + abs(g[j].item()), 1e-3)
            worst = max(worst, err)
    return worst


# ----------------------------------------------------------------------------
# cases

t0 = time.time()
BASE = dict(dim=48, smoa_heads=3, num_experts=4, rank=6, serial_width=6, adaptformer_width=10, scale=0.1,
            dropout=0.0, eval_dropout=0.1, blocks=2, B=2, T=5, per_block_routers=False, top1=False)
CASES = [("serial", "serial", {}), ("adaptformer", "adaptformer", {}), ("serial_x", "serial_x", {}),
         ("adaptformer_x", "adaptformer_x", {}),
         ("adaptformer_x_perblock_top1", "adaptformer_x", dict(per_block_routers=True, top1=True))]
shape = (BASE["B"], BASE["T"], BASE["dim"])
x = input_tensor("input.x", shape)
w = input_tensor("input.w", shape)
cases = {}
for name, kind, extra in CASES:
    cfg = dict(BASE, kind=kind, **extra)
    model = Chain(kind, cfg)
    init_splitmix(model, name=state_key)
    xg, h, bal, loss = run(model, x, w, True)
    smoa = smoa_of(model)
    calls = list(smoa.calls) if smoa is not None else []
    grads = {"x": enc(xg.grad)}
    grads.update({state_key(k): enc(p.grad) for k, p in model.named_parameters()})
    # eval mode, AdaptFormer dropout 0.1 (inactive): the same numbers
    for m in model.modules():
        if isinstance(m, AdaptFormer):
            m.dropout = cfg["eval_dropout"]
    xe, he, bale, losse = run(model, x, w, False)
    assert torch.equal(he, h) and torch.equal(xe.grad, xg.grad) and losse.item() == loss.item()
    for k, p in model.named_parameters():
        assert grads[state_key(k)] == enc(p.grad), k
    for m in model.modules():
        if isinstance(m, AdaptFormer):
            m.dropout = cfg["dropout"]
    fd_keys = ["x"] + [k for k, _ in model.named_parameters()][:2] + [k for k, _ in model.named_parameters()][-2:]
    worst = fd_check(model, x, w, fd_keys)
    assert worst < 1e-5, (name, worst)
    case = {
        "config": cfg,
        "param_checks": {state_key(k): {"shape": list(t.shape), "first": [float(v) for v in t.reshape(-1)[:4].tolist()]}
                         for k, t in model.state_dict().items()},
        "output": enc(h),
        "loss": g9(loss.item()),
        "grads": grads,
    }
    if calls:
        case["balance_losses"] = [g9(l.item()) for l in bal]
        case["expert_counts"] = [c["counts"] for c in calls]
        case["routing_min_margin"] = g9(min(c["margin"] for c in calls))
        assert case["routing_min_margin"] > 1e-4, (name, case["routing_min_margin"])
    cases[name] = case
    print("%-28s loss %.9g  fd %.1e  %s" % (name, loss.item(), worst,
                                             "counts %s margin %.2e" % (case["expert_counts"], case["routing_min_margin"])
                                             if calls else ""))

doc = {"torch": torch.__version__, "generator": "scripts/golden_generic.py",
       "inputs": {"x": enc(x), "w": enc(w)}, "cases": cases}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes in %.1fs" % (time.time() - t0))
