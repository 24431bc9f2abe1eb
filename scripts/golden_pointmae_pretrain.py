#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's Point-MAE pre-training model
(backbone.PointMAEPretrain).

    /usr/bin/python3 scripts/golden_pointmae_pretrain.py   # Debian python3-torch 1.13

Outputs testdata/golden/pointmae_pretrain.json and
testdata/golden/pointmae_pretrain.pth.

Case "tiny_train" (two encoder and two decoder blocks, so that a position
added once instead of before every block shows): ref.pointmae_pretrain.PointMAEPretrain (a float64
re-implementation of Point-MAE's Point_MAE, state-dict keys identical to
Point-MAE's pretrain.pth) in train mode (BatchNorm batch statistics over all
groups, masked ones included), drop-path 0, with the "splitmix" weights of
ref.init (see scripts/golden_pointmae.py for the formulas; mask_token is a
weight of fan_in trans_dim). Inputs: b clouds of n randn points (rounded to
float32), g centres per cloud (randperm), their m nearest points (pcx's tie
rule), and a GIVEN mask: per cloud, the groups randperm(g)[:masked] are
masked. Stored: the inputs, the mask, the loss, the predicted and target
points, every gradient (summaries of the large ones), the BatchNorm buffers
after the step, the state-dict keys in order, and parameter checks.

Case "tiny_encode": MAE_encoder alone (MaskTransformer.forward with
noaug=True: nothing masked) in eval mode, tiny_train's weights and inputs:
the final norm's tokens, B x G x C.

Case "official_pth": pointmae_pretrain.pth is a small checkpoint in the
layout of Point-MAE's pretrain.pth ({"base_model": state dict, "epoch": ...})
for the same tiny configuration, its keys exactly Point-MAE's. To stay small
while holding the real shapes (the encoder's 512x512 convolution), every
tensor of two or more dimensions is a strided VIEW (stride 16 on the first
axis, 1 on the others) of a storage just long enough: pcx's reader must
follow the strides. (pcx's reader refuses a .pth whose tensors hold more
than 4 elements per byte of the file plus 65536: a guard against stride-0
blow-ups. Stride 16 keeps the file large enough for the ~340k elements.) Storage values: s_i = float32(0.5*sin(0.37 i + h_k)),
h_k = (sum of the UTF-8 bytes of key k) % 97; num_batches_tracked are 7.
The JSON holds, per key in order, the shape and the SHA-256 of the
contiguous float32 little-endian values, which the Go test compares with
what pcx loads and then writes to safetensors.
"""
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # scripts/: the ref package
from ref.fixture import FULL_LIMIT, buffers_of, enc_exact, enc_int, enc_res, grads_of, knn_indices, param_checks, r12
from ref.init import init_splitmix, norm_weight_keys
from ref.pointmae import Group
from ref.pointmae_pretrain import PointMAEPretrain

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "golden")
OUT = os.path.join(DIR, "pointmae_pretrain.json")
PTH = os.path.join(DIR, "pointmae_pretrain.pth")

CFG = dict(trans_dim=24, depth=2, num_heads=3, decoder_depth=2, decoder_num_heads=3, B=2, N=32, num_group=8,
           group_size=4, masked=2, drop_path_rate=0.0)
B, N, G, M, K = CFG["B"], CFG["N"], CFG["num_group"], CFG["group_size"], CFG["masked"]


def build():
    return PointMAEPretrain(CFG["trans_dim"], CFG["depth"], CFG["num_heads"], CFG["decoder_depth"],
                            CFG["decoder_num_heads"], M)


cases = {}

# tiny_train ------------------------------------------------------------------
model = build()
init_splitmix(model)
state0 = {k: v.clone() for k, v in model.state_dict().items()}
points = torch.randn(B, N, 3).float().double()
center_idx = torch.stack([torch.randperm(N)[:G] for _ in range(B)])
knn_idx = torch.from_numpy(np.stack([knn_indices(points[i].numpy(), center_idx[i].numpy(), M) for i in range(B)]))
mask = torch.zeros(B, G, dtype=torch.bool)
for i in range(B):
    mask[i, torch.randperm(G)[:K]] = True
neighborhood, center = Group()(points, center_idx, knn_idx)

model.train()
model.zero_grad()
loss = model(neighborhood, center, mask)
loss.backward()
bn_keys = [k for k in state0 if "running_" in k or "num_batches_tracked" in k]
cases["tiny_train"] = {
    "config": CFG,
    "mode": "train",
    "init": "splitmix",
    "norm_weight_keys": norm_weight_keys(model),
    "state_keys": list(state0.keys()),
    "inputs": {"points": enc_exact(points), "center_idx": enc_int(center_idx), "knn_idx": enc_int(knn_idx),
               "mask": enc_int(mask.long())},
    "loss": r12(loss.item()),
    "rebuild": enc_res(model.inter["rebuild"]),
    "gt": enc_res(model.inter["gt"]),
    "grads": grads_of(model, FULL_LIMIT),
    "buffers_after": buffers_of(model, bn_keys),
}
model.load_state_dict(state0)
cases["tiny_train"]["param_checks"] = param_checks(model)

# tiny_encode: MAE_encoder alone in eval mode with nothing masked (noaug=True),
# same weights (before the training step) and inputs ------------------------------
model.eval()
with torch.no_grad():
    tokens = model.MAE_encoder(neighborhood, center, torch.zeros(B, G, dtype=torch.bool))
cases["tiny_encode"] = {"params_from": "tiny_train", "inputs_from": "tiny_train", "mode": "eval",
                        "tokens": enc_res(tokens)}

# official_pth -----------------------------------------------------------------
STRIDE = 16  # see the docstring: the file must hold at least a quarter of the elements pcx reads


def strided(key, t):
    """The tensor for key shaped like t: a strided view of a short storage."""
    if key.endswith("num_batches_tracked"):
        return torch.tensor(7, dtype=torch.int64)
    shape = list(t.shape)
    if len(shape) >= 2:
        stride = [STRIDE] + [1] * (len(shape) - 1)
    else:
        stride = [1]
    need = 1 + sum((d - 1) * s for d, s in zip(shape, stride))
    hk = sum(key.encode("utf-8")) % 97
    i = np.arange(need, dtype=np.float64)
    store = torch.from_numpy((0.5 * np.sin(0.37 * i + hk)).astype(np.float32))
    return store.as_strided(shape, stride)


sd = {k: strided(k, t) for k, t in build().state_dict().items()}
torch.save({"base_model": sd, "epoch": 300}, PTH)
entries = []
for k, t in sd.items():
    e = {"key": k, "shape": list(t.shape)}
    if t.dtype == torch.int64:
        e["int"] = int(t.item())
    else:
        e["sha256"] = hashlib.sha256(t.contiguous().numpy().astype("<f4").tobytes()).hexdigest()
    entries.append(e)
# the file loads back (strided views included) as the same tensors
back = torch.load(PTH)["base_model"]
assert list(back.keys()) == list(sd.keys()) and all(torch.equal(back[k], sd[k]) for k in sd)
cases["official_pth"] = {"config": CFG, "file": "pointmae_pretrain.pth", "entries": entries}

doc = {"torch": torch.__version__, "generator": "scripts/golden_pointmae_pretrain.py", "cases": cases}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes;", os.path.normpath(PTH), os.path.getsize(PTH), "bytes")
print("tiny_train loss", loss.item())
