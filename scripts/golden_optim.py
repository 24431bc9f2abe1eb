#!/usr/bin/python3
"""Write the PyTorch fixture for pcx's optimiser code (package nn/optim).

    /usr/bin/python3 scripts/golden_optim.py      # Debian python3-torch 1.13

Several steps of torch.optim.AdamW (float32, betas (0.9, 0.999), eps 1e-8)
over two parameter groups split by Point-MAE's weight-decay rule, each step
with a different random gradient, clipped with torch.nn.utils.clip_grad_norm_
(some steps clip, some do not), at learning rates from the cosine schedule
with linear warm-up that Point-MAE uses (timm's CosineLRScheduler: warm-up
from warmup_lr_init over warmup_t, then lr_min + (base - lr_min)/2 *
(1 + cos(pi t / t_initial)) measured from t = 0, lr_min from t_initial on).
The schedule is computed with torch's own LinearLR and CosineAnnealingLR
(closed forms); when PCX_TIMM_SRC names a checkout of timm
(pytorch-image-models), timm's CosineLRScheduler is loaded from it and must
agree. The file is small and deterministic (testdata/golden/optim.json).
"""
import importlib.util
import json
import math
import os
import sys
import types

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "golden", "optim.json")


def torch_schedule(base, lr_min, warmup_init, warmup, total, ts):
    """The schedule at the integer times ts from torch's schedulers."""
    p = torch.nn.Parameter(torch.zeros(1))
    warm = torch.optim.lr_scheduler.LinearLR(torch.optim.SGD([p], lr=base), start_factor=warmup_init / base,
                                             end_factor=1.0, total_iters=warmup)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.SGD([p], lr=base), T_max=total, eta_min=lr_min)
    out = []
    for t in ts:
        if t < warmup:
            warm.last_epoch = t
            out.append(warm._get_closed_form_lr()[0])
        elif t >= total:
            out.append(lr_min)  # one cycle (cycle_limit 1): lr_min after it
        else:
            cos.last_epoch = t
            out.append(cos._get_closed_form_lr()[0])
    return out


def timm_schedule(src, base, lr_min, warmup_init, warmup, total, ts):
    """The same from timm's CosineLRScheduler, loaded without timm's package init."""
    pkg = types.ModuleType("timm_sched")
    pkg.__path__ = [os.path.join(src, "timm", "scheduler")]
    sys.modules["timm_sched"] = pkg
    for name in ("scheduler", "cosine_lr"):
        spec = importlib.util.spec_from_file_location("timm_sched." + name, os.path.join(src, "timm", "scheduler", name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["timm_sched." + name] = mod
        spec.loader.exec_module(mod)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    s = sys.modules["timm_sched.cosine_lr"].CosineLRScheduler(opt, t_initial=total, lr_min=lr_min, cycle_limit=1,
                                                              warmup_lr_init=warmup_init, warmup_t=warmup, t_in_epochs=True)
    return [s._get_lr(t)[0] for t in ts]


schedules = []
for base, lr_min, warmup_init, warmup, total in [(5e-4, 1e-6, 1e-6, 10, 300), (0.1, 1e-3, 1e-4, 3, 12)]:
    ts = list(range(total + 3)) if total < 50 else [0, 1, 5, 9, 10, 11, 100, 150, 299, 300, 301]
    lrs = torch_schedule(base, lr_min, warmup_init, warmup, total, ts)
    if os.environ.get("PCX_TIMM_SRC"):
        ref = timm_schedule(os.environ["PCX_TIMM_SRC"], base, lr_min, warmup_init, warmup, total, ts)
        assert all(abs(a - b) <= 1e-15 * max(abs(b), 1e-30) + 1e-18 for a, b in zip(lrs, ref)), (lrs, ref)
    schedules.append({"base": base, "min": lr_min, "warmup_init": warmup_init, "warmup": warmup, "total": total,
                      "t": ts, "lr": lrs})


def no_decay(name, p):
    # Point-MAE's add_weight_decay.
    return len(p.shape) == 1 or name.endswith(".bias") or "token" in name


shapes = {"blocks.0.mlp.fc1.weight": (4, 3), "blocks.0.mlp.fc1.bias": (4,), "cls_token": (1, 1, 3),
          "norm.weight": (3,), "head.0.weight": (2, 4)}
params = {k: torch.nn.Parameter(torch.randn(*s)) for k, s in shapes.items()}
init = {k: p.detach().clone() for k, p in params.items()}
groups = [{"params": [p for k, p in params.items() if not no_decay(k, p)], "weight_decay": 0.05},
          {"params": [p for k, p in params.items() if no_decay(k, p)], "weight_decay": 0.0}]
sched = schedules[1]
opt = torch.optim.AdamW(groups, lr=sched["base"], betas=(0.9, 0.999), eps=1e-8)
max_norm = 2.0
steps = []
for i, scale in enumerate([0.5, 3.0, 0.2, 5.0, 1.0, 0.05, 2.0]):
    grads = {k: torch.randn(*s) * scale for k, s in shapes.items()}
    for k, p in params.items():
        p.grad = grads[k].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
    lr = sched["lr"][i]
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
    steps.append({"lr": lr, "norm": float(norm), "grads": {k: g.reshape(-1).tolist() for k, g in grads.items()},
                  "params": {k: p.detach().reshape(-1).tolist() for k, p in params.items()}})
state = {}
for k, p in params.items():
    st = opt.state[p]
    state[k + ".exp_avg"] = st["exp_avg"].reshape(-1).tolist()
    state[k + ".exp_avg_sq"] = st["exp_avg_sq"].reshape(-1).tolist()

fixture = {
    "torch": torch.__version__,
    "schedules": schedules,
    "adamw": {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.05, "max_norm": max_norm,
              "shapes": {k: list(s) for k, s in shapes.items()},
              "no_decay": {k: no_decay(k, p) for k, p in params.items()},
              "init": {k: v.reshape(-1).tolist() for k, v in init.items()},
              "steps": steps, "state": state},
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT) // 1024} KB)")
