#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's image masked autoencoder (backbone.ViTMAE).

    /usr/bin/python3 scripts/golden_vit_mae.py    # Debian python3-torch 1.13 -> testdata/golden/vit_mae.json

The model is scripts/ref/vit_mae.py (MAE's MaskedAutoencoderViT, MAE's key names and order) in float64.
Weights: the "splitmix" formula of scripts/golden_vit.py (goldentest.SplitmixInit; mask_token is a weight of
fan_in decoder width), then pos_embed and decoder_pos_embed set to MAE's fixed 2D sin-cos tables.
Images: pixel i of the flattened B x 3 x H x W batch = float32(sin(0.173 i) + 0.5 cos(0.031 i)).

Case "tiny": img 8, patch 4 (L = 4 patches), width 12, depth 2, heads 3, decoder width 8, depth 2, heads 2,
batch 2, 3 of 4 patches masked. The mask is given: per sample, perm = randperm(4) (torch seed 0) is MAE's
ids_shuffle (visible = perm[:1], masked = perm[1:], in that shuffled order, so pcx's ascending order is
checked against another; the samples keep different patches). For norm_pix_loss false and true: the loss, pred (B x L x P*P*3, original patch
order), the loss mask, and every trainable parameter's gradient (pos_embed and decoder_pos_embed are frozen; in full for norm_pix_loss
false, summaries and 32 samples of those over 64 values for true).
Also the state-dict keys in order, the first values of every entry (init check), and the sin-cos tables
(exact float32) of the tiny model.

"sincos": SHA-256 of the float32 little-endian bytes of MAE's tables for mae_vit_base_patch16 (14 x 14 grid,
768 and 512 channels, cls row 0) and a few exact values; the table is checked here against a literal
transcription of util/pos_embed.py (numpy.meshgrid with w first).

"pth": the tiny model's whole state dict under "model" (as MAE's main_pretrain.py saves it, without its
"optimizer", "scaler" and "args"), base64. "pth_encoder": its encoder's entries alone under "model", the layout
of MAE's released mae_pretrain_vit_base.pth.
"""
import base64
import hashlib
import io
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref.fixture import FULL_LIMIT, enc_exact, enc_res, grads_of, param_checks, r12  # noqa: E402
from ref.init import init_splitmix, norm_weight_keys  # noqa: E402
from ref.vit_mae import MaskedAutoencoderViT, sincos_2d  # noqa: E402

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "golden", "vit_mae.json")

CFG = dict(img_size=8, patch_size=4, in_chans=3, embed_dim=12, depth=2, num_heads=3, decoder_embed_dim=8,
           decoder_depth=2, decoder_num_heads=2, B=2, masked=3)
B, L = CFG["B"], (CFG["img_size"] // CFG["patch_size"]) ** 2
KEEP = L - CFG["masked"]


def build(norm_pix):
    kw = {k: v for k, v in CFG.items() if k not in ("B", "masked")}
    return MaskedAutoencoderViT(norm_pix_loss=norm_pix, **kw)


def images(b, h, w):
    i = np.arange(b * 3 * h * w, dtype=np.float64)
    v = (np.sin(0.173 * i) + 0.5 * np.cos(0.031 * i)).astype(np.float32).astype(np.float64)
    return torch.from_numpy(v).reshape(b, 3, h, w)


def literal_table(embed_dim, grid_size):
    """util/pos_embed.py transcribed line by line (np.float -> np.float64)."""
    def one_d(d, pos):
        omega = np.arange(d // 2, dtype=np.float64)
        omega /= d / 2.
        omega = 1. / 10000 ** omega
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    gh = np.arange(grid_size, dtype=np.float32)
    gw = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(gw, gh), axis=0).reshape([2, 1, grid_size, grid_size])
    emb = np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)


def f32sha(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


imgs = images(B, CFG["img_size"], CFG["img_size"])
ids_shuffle = torch.stack([torch.randperm(L) for _ in range(B)])
while len(set(ids_shuffle[:, 0].tolist())) < B:  # each sample keeps a different patch
    ids_shuffle = torch.stack([torch.randperm(L) for _ in range(B)])
cases = {}
for norm_pix in (False, True):
    model = build(norm_pix)
    init_splitmix(model)
    model.reset_pos_embed()
    model.train()
    model.zero_grad()
    loss, pred, mask = model(imgs, ids_shuffle, KEEP)
    loss.backward()
    name = "tiny_norm_pix" if norm_pix else "tiny"
    cases[name] = {"norm_pix_loss": norm_pix, "loss": r12(loss.item()), "pred": enc_res(pred),
                   "mask": [int(v) for v in mask.reshape(-1).tolist()], "grads": grads_of(model, 64 if norm_pix else FULL_LIMIT)}
    if not norm_pix:
        cases[name].update({"config": CFG, "ids_shuffle": [int(v) for v in ids_shuffle.reshape(-1).tolist()],
                            "images": enc_exact(imgs), "state_keys": list(model.state_dict().keys()),
                            "norm_weight_keys": norm_weight_keys(model), "param_checks": param_checks(model),
                            "pos_embed": enc_exact(model.pos_embed), "decoder_pos_embed": enc_exact(model.decoder_pos_embed)})
        buf = io.BytesIO()
        torch.save({"model": {k: v.float() for k, v in model.state_dict().items()}, "epoch": 799}, buf)
        cases["pth"] = base64.b64encode(buf.getvalue()).decode()
        enc = {k: v.float() for k, v in model.state_dict().items() if not k.startswith("decoder_") and k != "mask_token"}
        buf = io.BytesIO()
        torch.save({"model": enc}, buf)
        cases["pth_encoder"] = base64.b64encode(buf.getvalue()).decode()

sincos = {}
for dim in (768, 512, 12, 8, 4):
    for grid in (14, 2, 3):
        t = sincos_2d(dim, grid)
        assert np.array_equal(t.astype(np.float32), literal_table(dim, grid).astype(np.float32)), (dim, grid)
for dim in (768, 512):
    t = sincos_2d(dim, 14).astype(np.float32)
    sincos[str(dim)] = {"grid": 14, "sha256": f32sha(t), "row1": [float(v) for v in t[1, :8]],
                        "row200": [float(v) for v in t[196, dim // 2 - 4:dim // 2 + 4]]}
sincos["4x3"] = enc_exact(torch.from_numpy(sincos_2d(4, 3).astype(np.float32).astype(np.float64)))
cases["sincos"] = sincos

doc = {"torch": torch.__version__, "generator": "scripts/golden_vit_mae.py", "cases": cases}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes; loss", cases["tiny"]["loss"],
      "norm_pix", cases["tiny_norm_pix"]["loss"])
