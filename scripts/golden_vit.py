#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's ViT and its image fine-tuning methods.

    /usr/bin/python3 scripts/golden_vit.py                 # testdata/golden/vit.json
    PCX_GOLDEN_EXPORT=/tmp/vitx go test ./adapters -run GoldenViTExport -count=1
    /usr/bin/python3 scripts/golden_vit.py --export /tmp/vitx   # testdata/golden/vit_export.json

The model is scripts/ref/vit.py (timm's ViT with pcx's methods, timm's and the methods' key names), run in
float64. Weights come from formulas that pcx's Go tests reproduce (internal/goldentest), so the fixtures hold
no weights:

INIT "splitmix" (every state-dict key k; goldentest.SplitmixInit): FNV-1a 64 of k seeds a splitmix64 stream,
r_i = (z_i >> 11) * 2^-53 * 2 - 1, value = float32(a + b * r_i) with, in this order:
    k ends with "smoa.expert_embeddings": a = 0, b = 1;  ".pg_gamma": a = 1, b = 0.2;  ".pg_beta": b = 0.1;
    k ends with "bias": b = 0.1;  k == "cls_token": b = 0.5;  a LayerNorm weight (norm_weight_keys): a = 1, b = 0.2;
    anything else: b = sqrt(3 / fan_in), fan_in = the key's shape[1] in pcx's layout (pos_embed: 1 + N;
    patch_embed.proj.weight: in_chans * P * P, pcx keeping it as a Linear on patches).
INIT "sin" (goldentest.SinInit): h_k = (sum of the bytes of k) % 97, s_i = sin(0.37 i + h_k):
    LayerNorm weights and pg_gamma 1 + 0.02 s_i, expert_embeddings s_i, everything else 0.02 s_i.
IMAGES: pixel i (flattened B x 3 x H x W, row-major) = float32(sin(0.173 i) + 0.5 cos(0.031 i)).

Cases ("methods"): img 16, patch 4, width 48, depth 2, heads 3, mlp_ratio 4, 5 classes, batch 2, labels
[1, 3], splitmix weights, train mode with drop path and dropout 0; rank 8 (adapters and SMoA), scale 0.1,
3 sub-token heads, 4 experts, dense gates; alpha 0.01. Each stores the logits, the loss (CE + alpha * balance
for the -X methods), the balance loss, the expert counts per block, the smallest gap between a row's two largest
gates (how safe the argmax is in float32), the trainable keys and a summary of each trainable parameter's
gradient, and the first values of each state-dict entry (to check the Go side's init).

"vit_b16": ViT-B/16 (224, 16, 768, 12, 12 heads, 100 classes), sin weights, one image, eval: logits.
"npz": a tiny ViT (img 8, patch 4, width 12, depth 2, heads 3, 3 classes), splitmix weights, written as
Google's ViT .npz (Flax names and layouts: refs timm_to_npz; plus pre_logits and head arrays), stored
(base64) plain and deflated; and the same weights under "model" in a torch.save file with MAE's decoder keys
and mask_token (base64), and as timm saves it (a bare state dict, head included). Checks here: npz_to_timm (timm's _load_weights) inverts timm_to_npz exactly.
"resample": position embeddings (value i = float32(sin(0.37 i) + 0.3 cos(1.1 i))) resampled with
resample_abs_pos_embed (bicubic F.interpolate, align_corners False, antialias False).
"""
import base64
import io
import json
import math
import os
import struct
import sys
import hashlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref import vit  # noqa: E402
from ref.fixture import enc_res as full, r12, tensor_summary  # noqa: E402
from ref.init import fnv1a64, norm_weight_keys, splitmix_uniform  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "testdata", "golden")
OUT = os.path.join(GOLDEN, "vit.json")
EXPORT_OUT = os.path.join(GOLDEN, "vit_export.json")
torch.set_default_dtype(torch.float64)
ALPHA = 0.01
FULL_LIMIT = 64


def fan_in(k, shape):
    if k == "patch_embed.proj.weight":
        return int(np.prod(shape[1:]))
    return shape[1]


def init_splitmix(model):
    nwk = set(norm_weight_keys(model))
    sd = model.state_dict()
    with torch.no_grad():
        for k, t in sd.items():
            a, b = 0.0, 0.0
            if k.endswith("smoa.expert_embeddings"):
                b = 1.0
            elif k.endswith(".pg_gamma"):
                a, b = 1.0, 0.2
            elif k.endswith(".pg_beta"):
                b = 0.1
            elif k.endswith("bias"):
                b = 0.1
            elif k == "cls_token":
                b = 0.5
            elif k in nwk:
                a, b = 1.0, 0.2
            else:
                b = math.sqrt(3.0 / fan_in(k, list(t.shape)))
            r = splitmix_uniform(k, t.numel())
            v = (a + b * r).astype(np.float32).astype(np.float64)
            t.copy_(torch.from_numpy(v).reshape(t.shape))


def init_sin(model):
    nwk = set(norm_weight_keys(model))
    with torch.no_grad():
        for k, t in model.state_dict().items():
            hk = sum(k.encode()) % 97
            s = np.sin(np.arange(t.numel(), dtype=np.float64) * 0.37 + hk)
            if k.endswith("smoa.expert_embeddings"):
                v = s
            elif k in nwk or k.endswith(".pg_gamma"):
                v = 1 + 0.02 * s
            else:
                v = 0.02 * s
            t.copy_(torch.from_numpy(v.astype(np.float32).astype(np.float64)).reshape(t.shape))


def images(b, c, h, w):
    i = np.arange(b * c * h * w, dtype=np.float64)
    v = (np.sin(0.173 * i) + 0.5 * np.cos(0.031 * i)).astype(np.float32).astype(np.float64)
    return torch.from_numpy(v).reshape(b, c, h, w)


def pos_values(n):
    i = np.arange(n, dtype=np.float64)
    return (np.sin(0.37 * i) + 0.3 * np.cos(1.1 * i)).astype(np.float32).astype(np.float64)


def summary(t, full_limit=FULL_LIMIT):
    return tensor_summary(t, full_limit)



def firsts(model):
    return {k: {"shape": list(t.shape), "first": [float(v) for v in t.reshape(-1)[:4].tolist()]}
            for k, t in model.state_dict().items()}


TINY = dict(img_size=16, patch_size=4, in_chans=3, embed_dim=48, depth=2, num_heads=3, mlp_ratio=4, num_classes=5,
            drop_path_rate=0.0, rank=8, scale=0.1, dropout=0.0, smoa_heads=3, experts=4, top1=False)
B, LABELS = 2, [1, 3]
METHOD_CASES = {
    "full": dict(method="full"), "linear": dict(method="linear"), "adapter": dict(method="adapter"),
    "adaptformer": dict(method="adaptformer"), "adapter-x": dict(method="adapter-x"),
    "adaptformer-x": dict(method="adaptformer-x"),
    "adapter-x-nosharing": dict(method="adapter-x", no_sharing=True),
    "adapter-x-smoaonly": dict(method="adapter-x", smoa_only=True),
}


def build_case(name):
    cfg = dict(TINY, **METHOD_CASES[name])
    m = vit.ViT(**{k: v for k, v in cfg.items()})
    init_splitmix(m)
    return m, cfg


def freeze(model, cfg):
    names = set(model.trainable_names(cfg.get("smoa_only", False)))
    for k, p in model.named_parameters():
        p.requires_grad_(k in names)
    return [k for k, _ in model.named_parameters() if k in names]


def loss_of(logits, bal):
    ce = F.cross_entropy(logits, torch.tensor(LABELS))
    return ce + (ALPHA * bal if bal is not None else 0), ce


def routing(model):
    counts = [[int(v) for v in aux[2].tolist()] for aux in model.routing]
    margin = 1.0
    for aux in model.routing:
        top2 = aux[1].topk(2, dim=-1).values
        margin = min(margin, (top2[:, 0] - top2[:, 1]).min().item())
    return counts, margin


def method_cases():
    out = {}
    img = images(B, 3, TINY["img_size"], TINY["img_size"])
    for name in METHOD_CASES:
        model, cfg = build_case(name)
        trainable = freeze(model, cfg)
        state0 = firsts(model)
        model.train()
        logits, bal = model(img)
        loss, ce = loss_of(logits, bal)
        loss.backward()
        params = dict(model.named_parameters())
        grads = {}
        for k in trainable:
            s = summary(params[k].grad)
            s["shape"] = list(params[k].shape)
            grads[k] = s
        assert all(p.grad is None for k, p in params.items() if k not in trainable)
        c = {"config": cfg, "mode": "train", "init": "splitmix", "norm_weight_keys": norm_weight_keys(model),
             "param_firsts": state0, "trainable_keys": trainable, "logits": full(logits), "loss": r12(loss.item()),
             "ce_loss": r12(ce.item()), "grads": grads}
        if bal is not None:
            counts, margin = routing(model)
            c.update(balance_loss=r12(bal.item()), expert_counts=counts, routing_min_margin=r12(margin))
            print("%-20s balance %.6f counts %s margin %.3g" % (name, bal.item(), counts, margin))
        print("%-20s loss %.10f, %d trainable tensors" % (name, loss.item(), len(trainable)))
        out[name] = c
        if name == "adapter-x":
            fd_check(name, img)
    return out


def fd_check(name, img, eps=1e-6):
    """Finite differences of the total loss on a few trainable elements (float64)."""
    model, cfg = build_case(name)
    trainable = freeze(model, cfg)
    params = dict(model.named_parameters())
    model.train()
    loss_of(*model(img))[0].backward()
    worst = 0.0
    for k in trainable[::3]:
        p = params[k]
        j = p.numel() // 2
        g = p.grad.reshape(-1)[j].item()
        vals = []
        for s in (1, -1):
            with torch.no_grad():
                p.view(-1)[j] += s * eps
            vals.append(loss_of(*model(img))[0].item())
            with torch.no_grad():
                p.view(-1)[j] -= s * eps
        fd = (vals[0] - vals[1]) / (2 * eps)
        worst = max(worst, abs(fd - g) / max(abs(fd) + abs(g), 1e-3))
    print("finite differences (%s): worst relative error %.2e" % (name, worst))
    assert worst < 1e-5


def vit_b16_case():
    cfg = dict(img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4,
               num_classes=100, method="full")
    m = vit.ViT(**cfg)
    init_sin(m)
    m.eval()
    with torch.no_grad():
        logits, _ = m(images(1, 3, 224, 224))
    s = summary(logits, 128)
    s["shape"] = list(logits.shape)
    print("vit_b16 logits[:4]", logits[0, :4].tolist())
    return {"config": cfg, "init": "sin", "mode": "eval", "norm_weight_keys": norm_weight_keys(m), "logits": s}


NPZ_CFG = dict(img_size=8, patch_size=4, in_chans=3, embed_dim=12, depth=2, num_heads=3, mlp_ratio=4, num_classes=3)


def npz_case():
    m = vit.ViT(**NPZ_CFG)
    init_splitmix(m)
    sd = {k: v.float() for k, v in m.state_dict().items()}
    arrays = vit.timm_to_npz(sd, NPZ_CFG["depth"], NPZ_CFG["num_heads"])
    back = vit.npz_to_timm(arrays, NPZ_CFG["depth"])
    for k, v in back.items():
        assert torch.equal(v, sd[k]), k
    assert set(back) == set(sd) - {"head.weight", "head.bias"}
    c = NPZ_CFG["embed_dim"]
    # Google's checkpoint also carries a pre-logits layer and an ImageNet-21k head.
    arrays["pre_logits/kernel"] = np.ascontiguousarray(sd["norm.weight"].numpy()[:, None].repeat(c, 1))
    arrays["pre_logits/bias"] = sd["norm.bias"].numpy().copy()
    arrays["head/kernel"] = np.ascontiguousarray(sd["head.weight"].numpy().T)
    arrays["head/bias"] = sd["head.bias"].numpy().copy()
    plain, packed = io.BytesIO(), io.BytesIO()
    np.savez(plain, **arrays)
    np.savez_compressed(packed, **arrays)
    # MAE's pre-training checkpoint: the encoder's weights (no head) under "model", with its decoder.
    mae = {k: v.clone() for k, v in sd.items() if not k.startswith("head.")}
    mae["mask_token"] = torch.zeros(1, 1, 8)
    mae["decoder_embed.weight"] = torch.ones(8, c)
    mae["decoder_pos_embed"] = torch.zeros(1, 5, 8)
    mae["decoder_norm.weight"] = torch.ones(8)
    pth = io.BytesIO()
    torch.save({"model": mae, "epoch": 799}, pth)
    # timm's own .pth: the bare state dict, head included.
    timm_pth = io.BytesIO()
    torch.save(sd, timm_pth)
    # The checkpoint's 2x2 grid resampled for a 16-pixel (4x4) model.
    res = vit.resample_abs_pos_embed(sd["pos_embed"].double(), (4, 4))
    print("npz: %d arrays, %d bytes plain, %d deflated; mae pth %d bytes" % (len(arrays), len(plain.getvalue()),
                                                                              len(packed.getvalue()), len(pth.getvalue())))
    return {"config": NPZ_CFG, "init": "splitmix", "norm_weight_keys": norm_weight_keys(m),
            "npz_keys": sorted(arrays), "npz": base64.b64encode(plain.getvalue()).decode(),
            "npz_deflated": base64.b64encode(packed.getvalue()).decode(),
            "mae_pth": base64.b64encode(pth.getvalue()).decode(),
            "timm_pth": base64.b64encode(timm_pth.getvalue()).decode(),
            "pos_embed_4x4": full(res)}


def resample_case():
    out = {}
    for name, (c, old, new) in {"14to7": (5, 14, 7), "2to4": (4, 2, 4), "14to24": (2, 14, 24), "7to5": (3, 7, 5)}.items():
        pos = torch.from_numpy(pos_values((1 + old * old) * c)).reshape(1, 1 + old * old, c)
        res = vit.resample_abs_pos_embed(pos, (new, new))
        # the same through F.interpolate directly, to pin the reference
        g = F.interpolate(pos[:, 1:].reshape(1, old, old, c).permute(0, 3, 1, 2), size=(new, new), mode="bicubic",
                          align_corners=False)
        assert torch.allclose(res[:, 1:], g.permute(0, 2, 3, 1).reshape(1, -1, c))
        s = summary(res, 512)
        s["shape"] = list(res.shape)
        out[name] = {"channels": c, "old": old, "new": new, "out": s}
    return out


# ---------------------------------------------------------------------------------------------
# the pcx -> PyTorch direction

DTYPES = {"F64": "<f8", "F32": "<f4", "I64": "<i8"}


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=np.dtype(DTYPES[e["dtype"]]))
                                         .reshape(e["shape"]).copy())
    want = meta.get("pcx_sha256", "")
    field = ('"pcx_sha256":"%s"' % want).encode()
    ok = len(want) == 64 and raw.count(field) == 1 and \
        hashlib.sha256(raw.replace(field, ('"pcx_sha256":"%s"' % ("0" * 64)).encode())).hexdigest() == want
    return tensors, ok, hashlib.sha256(raw).hexdigest()


def export(folder):
    cases = {}
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".safetensors"):
            continue
        name = f[:-len(".safetensors")]
        side = json.load(open(os.path.join(folder, name + ".json")))
        tensors, ok, sha = read_safetensors(os.path.join(folder, f))
        sd = {k: v.double() for k, v in tensors.items() if not k.startswith("optimizer.")}
        model, cfg = build_case(side["case"])
        out = {"export_sha256": sha, "checksum_ok": ok, "strict_load": False, "load_error": ""}
        try:
            model.load_state_dict(sd, strict=True)
            out["strict_load"] = True
        except RuntimeError as e:
            out["load_error"] = str(e)[:2000]
        model.eval()
        with torch.no_grad():
            logits, _ = model(images(B, 3, cfg["img_size"], cfg["img_size"]))
        pcx = torch.tensor(side["pcx_logits"]).reshape(side["shape"])
        out["max_rel_diff"] = r12(((logits - pcx).abs().max() / logits.abs().max()).item())
        out["torch_logits"] = full(logits)
        print("%-20s strict %s checksum %s rel diff %.3g" % (name, out["strict_load"], ok, out["max_rel_diff"]))
        cases[name] = out
    with open(EXPORT_OUT, "w") as fh:
        json.dump({"torch": torch.__version__, "generator": "scripts/golden_vit.py --export", "cases": cases}, fh,
                  separators=(",", ":"))
    print("wrote", os.path.normpath(EXPORT_OUT))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--export":
        export(sys.argv[2])
        return
    doc = {"torch": torch.__version__, "generator": "scripts/golden_vit.py", "methods": method_cases(),
           "npz": npz_case(), "resample": resample_case(), "vit_b16": vit_b16_case()}
    with open(OUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
