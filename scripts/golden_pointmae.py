#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's Point-MAE classifier (PointTransformer).

    /usr/bin/python3 scripts/golden_pointmae.py      # Debian python3-torch 1.13

A small float64 re-implementation of Point-MAE's fine-tuning model
(models/Point_MAE.py: Encoder, pos_embed, TransformerEncoder with pos added
before EVERY block, final LayerNorm, cls_head_finetune, CrossEntropyLoss) with
state-dict keys identical to Point-MAE's. FPS and kNN are replaced by GIVEN
indices (center_idx B x G, knn_idx B x G x M). Output:
testdata/golden/pointmae.json.

The encoder always has 3->128->256 and 512->512 convolutions, so even the tiny
model has ~390k parameters; storing them (and their gradients) would blow the
size budget. Parameters are therefore NOT stored: they come from two
deterministic formulas that Go reproduces bit for bit (up to the notes below).
Every value is computed in float64 and then rounded to float32; the reference
computation runs in float64 on those float32 values.

INIT "splitmix" (cases tiny_train / tiny_eval)
------------------------------------------------
For each state-dict entry with key k (a string), in state-dict order but with
an independent stream per key:
    state := FNV-1a 64-bit hash of the UTF-8 bytes of k
             (offset 0xcbf29ce484222325, prime 0x100000001b3, h ^= b; h *= p)
    next(): state += 0x9E3779B97F4A7C15 (mod 2^64)
            z := state
            z  = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9   (mod 2^64)
            z  = (z ^ (z >> 27)) * 0x94D049BB133111EB   (mod 2^64)
            return z ^ (z >> 31)
    r_i := float64(next() >> 11) * 2^-53 * 2 - 1         in [-1, 1)
           (i = 0,1,2,... over the flattened row-major tensor)
    value_i := float32(a + float64(b * r_i))   (no FMA: round b*r_i first)
with (a, b) by kind of entry:
    Linear / Conv1d weight (dim >= 2):  a = 0,  b = sqrt(3 / fan_in)
        fan_in = shape[1] * prod(shape[2:])   (Conv1d k=1: in_channels)
    any bias (Linear, Conv1d, LayerNorm, BatchNorm):  a = 0,   b = 0.1
    LayerNorm / BatchNorm weight:                      a = 1,   b = 0.2
    BatchNorm running_mean:                            a = 0,   b = 0.1
    BatchNorm running_var:                             a = 1,   b = 0.5
    cls_token, cls_pos:                                a = 0,   b = 0.5
    BatchNorm num_batches_tracked: int64 0
The kind of a key: ends with "num_batches_tracked" / "running_mean" /
"running_var" / "bias"; "cls_token" or "cls_pos"; a ".weight" of a BatchNorm
or LayerNorm module (keys listed in JSON "norm_weight_keys"); otherwise a
Linear/Conv weight.

INIT "sin" (case full_eval)
---------------------------
For key k: h_k := (sum of the UTF-8 bytes of k) % 97, s_i := sin(float64(i)*0.37 + float64(h_k)),
i the flattened row-major index.
    BatchNorm running_var:             1 + 0.5*|sin(float64(i) + float64(h_k))|
    BatchNorm / LayerNorm weight:      1 + 0.02*s_i
    everything else (Linear/Conv weights, all biases, running_mean,
    cls_token, cls_pos):               0.02*s_i
    num_batches_tracked:               0
each rounded to float32 (float64 expression, then float32()). Go's math.Sin
is not correctly rounded, so a handful of elements may differ by 1 float32
ulp; the JSON holds per-tensor sums/first values to check the reproduction.

Points for full_eval: point j (j = 0..1023) = (sin(0.1 j), cos(0.23 j),
sin(0.07 j + 1)) rounded to float32; they are also stored in the JSON.

kNN indices: for each center c (a point index), the M points with the
smallest squared distance sum_d (p_d - c_d)^2 (float64 on the float32 points),
ascending by distance, ties to the lower point index; the center itself is
included (distance 0, first). Point-MAE uses topk(sorted=False); order inside
a group does not change the model output (max-pooling / batch statistics).

Tensors are {"shape": [...], "data": [flat row-major]}. Gradients of large
tensors are summarised (see tensor_summary below).
"""
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "golden", "pointmae.json")

MASK64 = (1 << 64) - 1


# ----------------------------------------------------------------------------
# model


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.first_conv = nn.Sequential(nn.Conv1d(3, 128, 1), nn.BatchNorm1d(128), nn.ReLU(), nn.Conv1d(128, 256, 1))
        self.second_conv = nn.Sequential(nn.Conv1d(512, 512, 1), nn.BatchNorm1d(512), nn.ReLU(), nn.Conv1d(512, c, 1))

    def forward(self, groups):  # B G M 3
        b, g, m, _ = groups.shape
        x = groups.reshape(b * g, m, 3).transpose(1, 2)  # BG 3 M
        f = self.first_conv(x)  # BG 256 M
        fg = f.max(dim=2, keepdim=True)[0]
        f = torch.cat([fg.expand(-1, -1, m), f], dim=1)  # BG 512 M
        f = self.second_conv(f)  # BG C M
        return f.max(dim=2)[0].reshape(b, g, self.c)


class Attention(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.scale = (c // h) ** -0.5
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.h, c // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * self.scale
        a = a.softmax(dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(y)


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * c, c)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.attn = Attention(c, h)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerEncoder(nn.Module):
    def __init__(self, c, depth, h):
        super().__init__()
        self.blocks = nn.ModuleList([Block(c, h) for _ in range(depth)])

    def forward(self, x, pos):
        for blk in self.blocks:
            x = blk(x + pos)
        return x


class PointTransformer(nn.Module):
    def __init__(self, trans_dim, depth, heads, cls_dim):
        super().__init__()
        c = trans_dim
        self.encoder = Encoder(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c))
        self.blocks = TransformerEncoder(c, depth, heads)
        self.norm = nn.LayerNorm(c)
        self.cls_head_finetune = nn.Sequential(
            nn.Linear(2 * c, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, cls_dim))
        self.inter = {}

    def forward(self, points, center_idx, knn_idx):
        b = points.shape[0]
        bi = torch.arange(b)
        center = points[bi[:, None], center_idx]  # B G 3
        neigh = points[bi[:, None, None], knn_idx] - center[:, :, None, :]  # B G M 3
        tokens = self.encoder(neigh)
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(center)], dim=1)
        x = self.norm(self.blocks(x, pos))
        concat_f = torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1)
        self.inter = {"tokens": tokens, "concat_f": concat_f}
        return self.cls_head_finetune(concat_f)


def norm_weight_keys(model):
    keys = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.LayerNorm, nn.BatchNorm1d)):
            keys.append(name + ".weight")
    return keys


# ----------------------------------------------------------------------------
# deterministic inits


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for byte in s.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001b3) & MASK64
    return h


def splitmix_uniform(key, n):
    state = fnv1a64(key)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out[i] = float(z >> 11) * (2.0 ** -53) * 2.0 - 1.0
    return out


def kind_of(key, nwk):
    if key.endswith("num_batches_tracked"):
        return "count"
    if key.endswith("running_mean"):
        return "running_mean"
    if key.endswith("running_var"):
        return "running_var"
    if key.endswith("bias"):
        return "bias"
    if key in ("cls_token", "cls_pos"):
        return "cls"
    if key in nwk:
        return "norm_weight"
    return "weight"


def init_splitmix(model):
    nwk = set(norm_weight_keys(model))
    sd = model.state_dict()
    new = {}
    for k, t in sd.items():
        kind = kind_of(k, nwk)
        if kind == "count":
            new[k] = torch.zeros_like(t)
            continue
        n = t.numel()
        r = splitmix_uniform(k, n)
        if kind == "weight":
            fan_in = int(np.prod(t.shape[1:]))
            a, b = 0.0, math.sqrt(3.0 / fan_in)
        elif kind == "bias":
            a, b = 0.0, 0.1
        elif kind == "norm_weight":
            a, b = 1.0, 0.2
        elif kind == "running_mean":
            a, b = 0.0, 0.1
        elif kind == "running_var":
            a, b = 1.0, 0.5
        elif kind == "cls":
            a, b = 0.0, 0.5
        v = (a + (b * r)).astype(np.float32).astype(np.float64)
        new[k] = torch.from_numpy(v).reshape(t.shape)
    model.load_state_dict(new)


def init_sin(model):
    nwk = set(norm_weight_keys(model))
    sd = model.state_dict()
    new = {}
    for k, t in sd.items():
        kind = kind_of(k, nwk)
        if kind == "count":
            new[k] = torch.zeros_like(t)
            continue
        hk = float(sum(k.encode("utf-8")) % 97)
        i = np.arange(t.numel(), dtype=np.float64)
        if kind == "running_var":
            v = 1.0 + 0.5 * np.abs(np.sin(i + hk))
        elif kind == "norm_weight":
            v = 1.0 + 0.02 * np.sin(i * 0.37 + hk)
        else:
            v = 0.02 * np.sin(i * 0.37 + hk)
        v = v.astype(np.float32).astype(np.float64)
        new[k] = torch.from_numpy(v).reshape(t.shape)
    model.load_state_dict(new)


# ----------------------------------------------------------------------------
# helpers


def knn_indices(pts, centers_idx, m):
    """pts: N x 3 float64 (float32 values); returns G x M int, ascending, ties low index."""
    out = []
    for ci in centers_idx:
        d = ((pts - pts[ci]) ** 2).sum(axis=1)
        out.append(np.argsort(d, kind="stable")[:m])
    return np.stack(out)


def enc_exact(t):
    """Float32-valued tensor, stored exactly (float64 repr of the float32 value)."""
    t = t.detach().double().cpu()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def enc_int(t):
    t = torch.as_tensor(t)
    return {"shape": list(t.shape), "data": [int(v) for v in t.reshape(-1).tolist()]}


def r12(x):
    return float("%.12g" % x)


def enc_res(t):
    """Float64 result, 12 significant digits."""
    t = t.detach().double().cpu()
    return {"shape": list(t.shape), "data": [r12(v) for v in t.reshape(-1).tolist()]}


FULL_LIMIT = 1024  # gradients with at most this many elements are stored in full
N_SAMPLE = 32


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
    out = {}
    for k, p in model.named_parameters():
        s = tensor_summary(p.grad, full_limit)
        s["shape"] = list(p.shape)
        out[k] = s
    return out


# ----------------------------------------------------------------------------
# cases

t0 = time.time()
cases = {}
ce = nn.CrossEntropyLoss()

# tiny --------------------------------------------------------------------
TINY = dict(trans_dim=32, depth=2, num_heads=4, cls_dim=5, encoder_dims=32, B=3, N=64, num_group=8, group_size=8,
            drop_path_rate=0.0, dropout=0.0)
B, N, G, M = TINY["B"], TINY["N"], TINY["num_group"], TINY["group_size"]
model = PointTransformer(TINY["trans_dim"], TINY["depth"], TINY["num_heads"], TINY["cls_dim"])
init_splitmix(model)
state0 = {k: v.clone() for k, v in model.state_dict().items()}

points = torch.randn(B, N, 3).float().double()
center_idx = torch.stack([torch.randperm(N)[:G] for _ in range(B)])
knn_idx = torch.from_numpy(np.stack([knn_indices(points[b].numpy(), center_idx[b].numpy(), M) for b in range(B)]))
labels = torch.randint(0, TINY["cls_dim"], (B,))
inputs = {"points": enc_exact(points), "center_idx": enc_int(center_idx), "knn_idx": enc_int(knn_idx),
          "labels": [int(v) for v in labels.tolist()]}

# train mode
model.train()
model.zero_grad()
logits = model(points, center_idx, knn_idx)
loss = ce(logits, labels)
loss.backward()
bn_keys = [k for k in state0 if "running_" in k or "num_batches_tracked" in k]
sd_after = model.state_dict()
buffers_after = {}
for k in bn_keys:
    if k.endswith("num_batches_tracked"):
        buffers_after[k] = enc_int(sd_after[k].reshape(()))
    else:
        buffers_after[k] = enc_res(sd_after[k])
cases["tiny_train"] = {
    "config": TINY,
    "mode": "train",
    "init": "splitmix",
    "norm_weight_keys": norm_weight_keys(model),
    "param_checks": None,  # filled below
    "inputs": inputs,
    "logits": enc_res(logits),
    "loss": r12(loss.item()),
    "intermediates": {"tokens": enc_res(model.inter["tokens"]), "concat_f": enc_res(model.inter["concat_f"])},
    "grads": grads_of(model, FULL_LIMIT),
    "buffers_after": buffers_after,
}
# param checks must describe the state BEFORE the forward (buffers were updated)
model.load_state_dict(state0)
cases["tiny_train"]["param_checks"] = param_checks(model)

# eval mode, same weights and pre-forward buffers
model.eval()
model.zero_grad()
logits_e = model(points, center_idx, knn_idx)
loss_e = ce(logits_e, labels)
loss_e.backward()
cases["tiny_eval"] = {
    "params_from": "tiny_train",
    "inputs_from": "tiny_train",
    "mode": "eval",
    "logits": enc_res(logits_e),
    "loss": r12(loss_e.item()),
    "intermediates": {"concat_f": enc_res(model.inter["concat_f"])},
    "grads": grads_of(model, 0),  # summaries only
}

# full --------------------------------------------------------------------
FULL = dict(trans_dim=384, depth=12, num_heads=6, cls_dim=15, encoder_dims=384, B=1, N=1024, num_group=64,
            group_size=32, drop_path_rate=0.0, dropout=0.0)
N, G, M = FULL["N"], FULL["num_group"], FULL["group_size"]
fmodel = PointTransformer(FULL["trans_dim"], FULL["depth"], FULL["num_heads"], FULL["cls_dim"])
init_sin(fmodel)
fmodel.eval()
j = np.arange(N, dtype=np.float64)
fpts = np.stack([np.sin(j * 0.1), np.cos(j * 0.23), np.sin(j * 0.07 + 1.0)], axis=1).astype(np.float32).astype(np.float64)
fcenter = np.arange(G) * (N // G) + 7  # every 16th point, offset 7
fknn = knn_indices(fpts, fcenter, M)
fp = torch.from_numpy(fpts)[None]
with torch.no_grad():
    flog = fmodel(fp, torch.from_numpy(fcenter)[None], torch.from_numpy(fknn)[None])
head_bias = fmodel.state_dict()["cls_head_finetune.8.bias"]
cases["full_eval"] = {
    "config": FULL,
    "mode": "eval",
    "init": ("sin: h_k = (sum of UTF-8 bytes of key k) % 97; i = flattened row-major index; "
             "s_i = sin(float64(i)*0.37 + float64(h_k)); BatchNorm running_var = 1 + 0.5*|sin(float64(i) + float64(h_k))|; "
             "BatchNorm and LayerNorm weight = 1 + 0.02*s_i; every other float entry (Linear/Conv weights, all biases, "
             "running_mean, cls_token, cls_pos) = 0.02*s_i; num_batches_tracked = 0; all rounded to float32. "
             "Points: point j = float32((sin(0.1 j), cos(0.23 j), sin(0.07 j + 1))), j = 0..1023. "
             "center_idx[g] = 16 g + 7. knn_idx: M nearest by squared distance, ascending, ties to lower index, center included."),
    "norm_weight_keys": norm_weight_keys(fmodel),
    "param_checks": param_checks(fmodel),
    "inputs": {"points": enc_exact(fp), "center_idx": enc_int(torch.from_numpy(fcenter)[None]),
               "knn_idx": enc_int(torch.from_numpy(fknn)[None])},
    "logits": enc_res(flog),
    "logits_minus_head_bias": enc_res(flog - head_bias),
    "intermediates": {"concat_f": enc_res(fmodel.inter["concat_f"]),
                      "tokens": tensor_summary(fmodel.inter["tokens"], 0)},
}
cases["full_eval"]["intermediates"]["tokens"]["shape"] = list(fmodel.inter["tokens"].shape)

doc = {"torch": torch.__version__, "generator": "scripts/golden_pointmae.py", "cases": cases}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes in %.1fs" % (time.time() - t0))
print("tiny_train loss", loss.item(), "tiny_eval loss", loss_e.item())
print("full logits", flog.tolist())
print("full logits - head bias", (flog - head_bias).tolist())
