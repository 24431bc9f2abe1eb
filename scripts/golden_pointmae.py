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
tensors are summarised (see tensor_summary in scripts/ref/fixture.py).

The model is ref.pointmae.PointTransformer (scripts/ref/pointmae.py); the
formulas above are ref.init's, the encodings and kNN ref.fixture's.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # scripts/: the ref package
from ref.fixture import (FULL_LIMIT, buffers_of, draw_tiny_inputs, enc_exact, enc_int, enc_res, full_inputs,
                         grads_of, param_checks, r12, tensor_summary)
from ref.init import init_sin, init_splitmix, norm_weight_keys
from ref.pointmae import PointTransformer

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "golden", "pointmae.json")


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

points, center_idx, knn_idx, labels, inputs = draw_tiny_inputs(B, N, G, M, TINY["cls_dim"])

# train mode
model.train()
model.zero_grad()
logits = model(points, center_idx, knn_idx)
loss = ce(logits, labels)
loss.backward()
bn_keys = [k for k in state0 if "running_" in k or "num_batches_tracked" in k]
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
    "buffers_after": buffers_of(model, bn_keys),
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
fmodel = PointTransformer(FULL["trans_dim"], FULL["depth"], FULL["num_heads"], FULL["cls_dim"])
init_sin(fmodel)
fmodel.eval()
fp, fcenter, fknn = full_inputs(FULL["N"], FULL["num_group"], FULL["group_size"])  # centres every 16th point + 7
with torch.no_grad():
    flog = fmodel(fp, fcenter, fknn)
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
    "inputs": {"points": enc_exact(fp), "center_idx": enc_int(fcenter), "knn_idx": enc_int(fknn)},
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
