#!/usr/bin/python3
"""Write the PyTorch golden fixtures for pcx's engine (package nn).

    /usr/bin/python3 scripts/golden_nn.py      # Debian python3-torch 1.13

Each case runs one operation (or a whole pre-LN transformer block with an
adapter) in float64 on small random inputs, and records the inputs, weights,
the output and the gradients of sum(output * R) for a random R. The Go tests
(nn/golden_test.go) feed the same values through pcx and compare. The file is
deterministic for the seed and small (testdata/golden/nn.json).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "golden", "nn.json")


def f32(t):
    """Round to float32 so that Go starts from exactly the same values."""
    return t.detach().float().double()


def rnd(*shape, scale=1.0):
    return f32(torch.randn(*shape) * scale)


def enc(t):
    t = t.detach().float()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


cases = {}


def case(name, fn, inputs, params=None, extra=None, grad=True):
    """fn(**inputs, **params) -> output tensor."""
    params = params or {}
    leaves = {k: v.clone().requires_grad_(grad) for k, v in {**inputs, **params}.items()}
    out = fn(**leaves)
    rec = {"inputs": {k: enc(v) for k, v in inputs.items()},
           "params": {k: enc(v) for k, v in params.items()},
           "output": enc(out)}
    if grad:
        r = rnd(*out.shape)
        (out * r).sum().backward()
        rec["r"] = enc(r)
        rec["grads"] = {k: enc(v.grad) for k, v in leaves.items() if v.grad is not None}
    if extra:
        rec["extra"] = extra
    cases[name] = rec


B, T, C = 2, 5, 8
x = rnd(B, T, C)
case("linear", lambda x, w, b: F.linear(x, w, b), {"x": x}, {"w": rnd(6, C), "b": rnd(6)})
case("linear_nobias", lambda x, w: F.linear(x, w), {"x": x}, {"w": rnd(6, C)})
case("layernorm", lambda x, w, b: F.layer_norm(x, (C,), w, b, 1e-5), {"x": x}, {"w": rnd(C), "b": rnd(C)})
case("layernorm_eps6", lambda x, w, b: F.layer_norm(x, (C,), w, b, 1e-6), {"x": x * 3 + 1}, {"w": rnd(C), "b": rnd(C)})
case("gelu", lambda x: F.gelu(x), {"x": x})
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"x": x})
case("relu", lambda x: F.relu(x), {"x": x})
case("softmax", lambda x: F.softmax(x, -1), {"x": x})
case("scale_shift", lambda x, g, b: x * g + b, {"x": x}, {"g": rnd(C), "b": rnd(C)})
case("row_scale", lambda x, s: x * s, {"x": x, "s": rnd(B, T, 1)})
case("l2norm", lambda x: F.normalize(x, dim=-1), {"x": x})
case("max_tokens", lambda x: x.max(dim=1)[0], {"x": x})
case("mean_tokens", lambda x: x.mean(dim=1), {"x": x})
y = rnd(B, 3, C)
case("concat", lambda x, y: torch.cat([y, x], dim=1), {"x": x, "y": y})
case("slice", lambda x: x[:, 1:4], {"x": x})
logits, labels = rnd(6, 5), [0, 4, 2, 2, 1, 3]
case("cross_entropy", lambda z: F.cross_entropy(z, torch.tensor(labels)).reshape(1), {"z": logits}, extra={"labels": labels})
case("cross_entropy_smooth", lambda z: F.cross_entropy(z, torch.tensor(labels), label_smoothing=0.1).reshape(1),
     {"z": logits}, extra={"labels": labels})

# Multi-head attention core on a fused qkv (timm layout), 2 heads of 4.
H = 2
def attn(qkv):
    b, t, c3 = qkv.shape
    q, k, v = qkv.reshape(b, t, 3, H, c3 // 3 // H).permute(2, 0, 3, 1, 4)
    a = (q @ k.transpose(-2, -1)) * (c3 // 3 // H) ** -0.5
    return (a.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c3 // 3)
case("attention", attn, {"qkv": rnd(B, T, 3 * C)})

# BatchNorm1d on rows x C, training (batch statistics) and evaluation.
bn_x = rnd(7, C) * 2 + 0.5
rm, rv = rnd(C) * 0.1, f32(torch.rand(C) + 0.5)
def bn_train(x, w, b):
    m, v = rm.clone(), rv.clone()
    out = F.batch_norm(x, m, v, w, b, training=True, momentum=0.1, eps=1e-5)
    bn_train.stats = (m, v)
    return out
case("batchnorm_train", bn_train, {"x": bn_x}, {"w": rnd(C), "b": rnd(C)})
cases["batchnorm_train"]["extra"] = {"running_mean_in": enc(rm), "running_var_in": enc(rv),
                                     "running_mean_out": enc(bn_train.stats[0]), "running_var_out": enc(bn_train.stats[1])}
case("batchnorm_eval", lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-5),
     {"x": bn_x}, {"w": rnd(C), "b": rnd(C)}, extra={"running_mean": enc(rm), "running_var": enc(rv)})

# A whole pre-LN transformer block (frozen) with a trainable adapter parallel
# to the MLP, fed the LN2 output (DAPT's placement), as Point-MAE's Block:
#   x = x + proj(attn(qkv(LN1 x)));  u = LN2 x;  x = x + fc2(gelu(fc1 u)) + up(gelu(down u))
D, HB, R = 16, 4, 4
p = {"norm1.weight": 1 + rnd(D) * 0.1, "norm1.bias": rnd(D) * 0.1,
     "attn.qkv.weight": rnd(3 * D, D) * 0.2, "attn.proj.weight": rnd(D, D) * 0.2, "attn.proj.bias": rnd(D) * 0.1,
     "norm2.weight": 1 + rnd(D) * 0.1, "norm2.bias": rnd(D) * 0.1,
     "mlp.fc1.weight": rnd(4 * D, D) * 0.2, "mlp.fc1.bias": rnd(4 * D) * 0.1,
     "mlp.fc2.weight": rnd(D, 4 * D) * 0.2, "mlp.fc2.bias": rnd(D) * 0.1,
     "adapter.down.weight": rnd(R, D) * 0.2, "adapter.down.bias": rnd(R) * 0.1,
     "adapter.up.weight": rnd(D, R) * 0.2, "adapter.up.bias": rnd(D) * 0.1}

def block(x, **w):
    h = F.layer_norm(x, (D,), w["norm1.weight"], w["norm1.bias"], 1e-5)
    qkv = F.linear(h, w["attn.qkv.weight"])
    b, t, _ = qkv.shape
    q, k, v = qkv.reshape(b, t, 3, HB, D // HB).permute(2, 0, 3, 1, 4)
    a = ((q @ k.transpose(-2, -1)) * (D // HB) ** -0.5).softmax(-1)
    x = x + F.linear((a @ v).transpose(1, 2).reshape(b, t, D), w["attn.proj.weight"], w["attn.proj.bias"])
    u = F.layer_norm(x, (D,), w["norm2.weight"], w["norm2.bias"], 1e-5)
    mlp = F.linear(F.gelu(F.linear(u, w["mlp.fc1.weight"], w["mlp.fc1.bias"])), w["mlp.fc2.weight"], w["mlp.fc2.bias"])
    ad = F.linear(F.gelu(F.linear(u, w["adapter.down.weight"], w["adapter.down.bias"])), w["adapter.up.weight"], w["adapter.up.bias"])
    return x + mlp + ad

bx = rnd(2, 9, D)
leaves = {k: v.clone().requires_grad_(k.startswith("adapter")) for k, v in p.items()}
xin = bx.clone().requires_grad_(True)
out = block(xin, **leaves)
r = rnd(*out.shape)
(out * r).sum().backward()
cases["block_adapter"] = {"inputs": {"x": enc(bx)}, "params": {k: enc(v) for k, v in p.items()},
                          "output": enc(out), "r": enc(r),
                          "grads": {"x": enc(xin.grad), **{k: enc(v.grad) for k, v in leaves.items() if v.grad is not None}},
                          "extra": {"heads": HB, "frozen": [k for k in p if not k.startswith("adapter")]}}

# The remaining differentiable operations of package nn.
y2 = rnd(B, T, C)
case("add", lambda x, y: x + y, {"x": x, "y": y2})
case("scale", lambda x: x * -0.7, {"x": x})
case("layernorm_noaffine", lambda x: F.layer_norm(x, (C,), None, None, 1e-6), {"x": x})
case("conv1d", lambda x, w, b: F.conv1d(x.transpose(1, 2), w, b).transpose(1, 2), {"x": x},
     {"w": rnd(6, C, 1), "b": rnd(6)})
g6 = rnd(6, 4)
case("column", lambda x: x[:, 2:3], {"x": g6})
probs = f32(F.softmax(rnd(6, 4), -1))
case("top1", lambda p: p * F.one_hot(p.argmax(-1), 4), {"p": probs})
dc = rnd(6, 4)
case("dot_const", lambda x: (x * dc).sum().reshape(1), {"x": g6}, extra={"w": enc(dc)})
case("matmul_t", lambda x, w: x @ w.t(), {"x": g6, "w": rnd(3, 4)})
case("repeat_rows", lambda x: x[:, None, :].expand(3, 5, 4), {"x": rnd(3, 4)})
y3 = rnd(B, T, 3)
case("concat_last", lambda x, y: torch.cat([y, x, y], -1), {"x": x, "y": y3})
# Dropout and drop path with a given mask (torch's formula: x * mask / keep).
keep = (torch.rand(B, T, C) >= 0.3).double()
case("dropout", lambda x: x * keep.div(0.7), {"x": x}, extra={"keep": enc(keep), "p": 0.3})
keep_s = torch.tensor([1.0, 0.0]).reshape(B, 1, 1)
case("drop_path", lambda x: x * keep_s.div(0.6), {"x": x}, extra={"keep": enc(keep_s), "p": 0.4})

def attn_scaled(qkv, h=4, scale=0.3):
    b, t, c3 = qkv.shape
    q, k, v = qkv.reshape(b, t, 3, h, c3 // 3 // h).permute(2, 0, 3, 1, 4)
    return (((q @ k.transpose(-2, -1)) * scale).softmax(-1) @ v).transpose(1, 2).reshape(b, t, c3 // 3)
case("attention_scaled", attn_scaled, {"qkv": rnd(B, T, 3 * C)})
# QuickGELU (CLIP's, NOAH's ViT adapters'), on x·4 (exact in float32) to reach
# both tails. Last, so that the cases above draw the same random values.
case("quick_gelu", lambda x: x * torch.sigmoid(1.702 * x), {"x": x * 4})
# Chamfer-L2 (Point-MAE's pretraining loss, its ChamferDistanceL2): each
# point's squared distance to the nearest point of the other set, both ways,
# mean + mean; batched sets of 3-D points and of 5-D ones. Last, after
# quick_gelu, for the same reason.
def chamfer_l2(a, b):
    d = torch.cdist(a, b) ** 2
    return (d.min(dim=2)[0].mean() + d.min(dim=1)[0].mean()).reshape(1)
case("chamfer_l2", chamfer_l2, {"a": rnd(2, 6, 3), "b": rnd(2, 9, 3)})
case("chamfer_l2_d5", chamfer_l2, {"a": rnd(3, 7, 5), "b": rnd(3, 4, 5)})

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT) // 1024} KB)")
