"""What the golden scripts share besides the models: the JSON encodings of
tensors, gradient summaries, parameter checks, kNN with pcx's tie rule, and
the inputs of the tiny and full cases.

Tensors are {"shape": [...], "data": [flat row-major]}: float32-valued data
exactly (enc_exact), float64 results with 12 significant digits (enc_res).
"""
import json
import os

import numpy as np
import torch

FULL_LIMIT = 1024  # gradients with at most this many elements are stored in full
N_SAMPLE = 32


def r12(x):
    return float("%.12g" % x)


def enc_exact(t):
    """Float32-valued tensor, stored exactly (float64 repr of the float32 value)."""
    t = t.detach().double().cpu()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def enc_int(t):
    t = torch.as_tensor(t)
    return {"shape": list(t.shape), "data": [int(v) for v in t.reshape(-1).tolist()]}


def enc_res(t):
    """Float64 result, 12 significant digits."""
    t = t.detach().double().cpu()
    return {"shape": list(t.shape), "data": [r12(v) for v in t.reshape(-1).tolist()]}


def tensor_summary(t, full_limit=FULL_LIMIT):
    """{shape, numel, sum, abs_sum, sq_sum, sample_idx, sample[, data]} over the flattened tensor.
    sample_idx[j] = (j * numel) // N_SAMPLE for j < min(N_SAMPLE, numel) (integer division)."""
    t = t.detach().double().cpu().reshape(-1)
    n = t.numel()
    idx = sorted(set((j * n) // N_SAMPLE for j in range(min(N_SAMPLE, n))))
    d = {"shape": None, "numel": n, "sum": r12(t.sum().item()), "abs_sum": r12(t.abs().sum().item()),
         "sq_sum": r12((t * t).sum().item()), "sample_idx": idx, "sample": [r12(t[i].item()) for i in idx]}
    if n <= full_limit:
        d["data"] = [r12(v) for v in t.tolist()]
    return d


def param_checks(model):
    """Per state-dict entry: shape, numel, sum (float64 of the float32 values, 12 digits), first 4 values (exact)."""
    out = {}
    for k, t in model.state_dict().items():
        f = t.detach().double().reshape(-1)
        out[k] = {"shape": list(t.shape), "numel": f.numel(), "sum": r12(f.sum().item()),
                  "first": [float(v) for v in f[:4].tolist()]}
    return out


def grads_of(model, full_limit):
    """tensor_summary of the gradient of every trainable parameter (frozen ones must have none)."""
    out = {}
    for k, p in model.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, "frozen parameter has a gradient: " + k
            continue
        assert p.grad is not None, "trainable parameter without gradient: " + k
        s = tensor_summary(p.grad, full_limit)
        s["shape"] = list(p.shape)
        out[k] = s
    return out


def roundoff_zero_grads(model):
    """Trainable keys whose gradient is analytically zero (only float64 round-off, |g| < 1e-12), e.g. any
    bias/shift applied uniformly in front of a train-mode BatchNorm. Compare those with an absolute tolerance."""
    return [k for k, p in model.named_parameters() if p.grad is not None and p.grad.abs().max().item() < 1e-12]


def buffers_of(model, keys):
    """The BatchNorm buffers keys of the model's state (counts as ints, the rest as enc_res)."""
    sd = model.state_dict()
    out = {}
    for k in keys:
        if k.endswith("num_batches_tracked"):
            out[k] = enc_int(sd[k].reshape(()))
        else:
            out[k] = enc_res(sd[k])
    return out


def knn_indices(pts, centers_idx, m):
    """pts: N x 3 float64 (float32 values); returns G x M int, ascending, ties low index."""
    out = []
    for ci in centers_idx:
        d = ((pts - pts[ci]) ** 2).sum(axis=1)
        out.append(np.argsort(d, kind="stable")[:m])
    return np.stack(out)


def draw_tiny_inputs(b, n, g, m, cls_dim):
    """The tiny cases' inputs, drawn from torch's RNG in its current state: b clouds of n points
    (randn rounded to float32), g centres per cloud (randperm), their m nearest points, labels.
    Returns (points, center_idx, knn_idx, labels, their JSON)."""
    points = torch.randn(b, n, 3).float().double()
    center_idx = torch.stack([torch.randperm(n)[:g] for _ in range(b)])
    knn_idx = torch.from_numpy(np.stack([knn_indices(points[i].numpy(), center_idx[i].numpy(), m) for i in range(b)]))
    labels = torch.randint(0, cls_dim, (b,))
    inputs = {"points": enc_exact(points), "center_idx": enc_int(center_idx), "knn_idx": enc_int(knn_idx),
              "labels": [int(v) for v in labels.tolist()]}
    return points, center_idx, knn_idx, labels, inputs


def replay_tiny_inputs(cfg, b):
    """pointmae.json tiny_train's way of drawing inputs, for b clouds: torch.manual_seed(0), the tiny
    Point-MAE model built first (its construction draws from the RNG), then draw_tiny_inputs."""
    from ref.pointmae import PointTransformer
    torch.manual_seed(0)
    PointTransformer(cfg["trans_dim"], cfg["depth"], cfg["num_heads"], cfg["cls_dim"])
    return draw_tiny_inputs(b, cfg["N"], cfg["num_group"], cfg["group_size"], cfg["cls_dim"])


def full_inputs(n, g, m, check=None):
    """The full_eval cases' inputs (B = 1): point j = float32((sin(0.1 j), cos(0.23 j), sin(0.07 j + 1))),
    center_idx[i] = (n // g) i + 7, knn_idx the m nearest. With check (a pointmae.json path) that exists,
    they are asserted equal to its full_eval inputs. Returns (points, center_idx, knn_idx) tensors."""
    j = np.arange(n, dtype=np.float64)
    p = np.stack([np.sin(j * 0.1), np.cos(j * 0.23), np.sin(j * 0.07 + 1.0)], axis=1).astype(np.float32).astype(np.float64)
    c = np.arange(g) * (n // g) + 7
    k = knn_indices(p, c, m)
    pts, cen, knn = torch.from_numpy(p)[None], torch.from_numpy(c)[None], torch.from_numpy(k)[None]
    if check and os.path.exists(check):
        ref = json.load(open(check))["cases"]["full_eval"]["inputs"]
        assert ref == {"points": enc_exact(pts), "center_idx": enc_int(cen), "knn_idx": enc_int(knn)}, \
            "full_eval inputs differ from pointmae.json's"
        print("full_eval inputs identical to pointmae.json full_eval")
    return pts, cen, knn

