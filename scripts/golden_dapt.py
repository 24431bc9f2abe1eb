#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's DAPT classifier (PointTransformer_DAPT).

    /usr/bin/python3 scripts/golden_dapt.py      # Debian python3-torch 1.13

A small float64 re-implementation of DAPT's fine-tuning model (LMD0311/DAPT,
models/DAPT.py: PointTransformer_DAPT, Block with Adapter_MLP and dynamic
prompt token, TFTS scale/shift everywhere) with state-dict keys identical to
DAPT's (including their order). FPS and kNN are replaced by GIVEN indices
exactly as in scripts/golden_pointmae.py. Output: testdata/golden/dapt.json.

The model is ref.dapt.PointTransformerDAPT (scripts/ref/dapt.py, built on
ref.pointmae's Encoder); the splitmix and sin formulas are ref.init's, the
encodings, summaries and kNN ref.fixture's -- the same code golden_pointmae.py
uses.

Forward (C = trans_dim, G groups, apply_tfts(x, g, b) = x * g + b over the last axis):
    tokens = Encoder(neigh)                                   B x G x C   (Point-MAE Encoder)
    tokens = apply_tfts(tokens, tfts_gamma_1, tfts_beta_1)
    x = cat(cls_token, tokens) + cat(cls_pos, pos_embed(center))   (pos added ONCE)
    for each block i (keys blocks.blocks.{i}.*):
        x = x + attn(tfts1(norm1(x)))
            attn: qkv = tfts(attn.qkv(x), attn.tfts_gamma_1, attn.tfts_beta_1)  (3C, no qkv bias)
                  ... softmax attention ..., out = tfts(attn.proj(y), attn.tfts_gamma_2, attn.tfts_beta_2)
        h = x; u = tfts2(norm2(x))
        a = Adapter_MLP(u):  v = adapter_layer_norm_before(u); s = relu(scale(v))  (B x T x 1)
                             a = up_proj(GELU(down_proj(v))) * s      (adapter dropout 0)
        mlp(u) = tfts(fc2(GELU(tfts(fc1(u), mlp.tfts_gamma_1, mlp.tfts_beta_1))), mlp.tfts_gamma_2, mlp.tfts_beta_2)
        x = h + (mlp(u) + a)
        p = tfts3(GELU(a).mean(dim=1, keepdim=True))                  B x 1 x C
        x = cat([x[:, :1], p, x[:, 1:]], dim=1)                       (one more token per block)
    x = apply_tfts(norm(x), tfts_gamma_2, tfts_beta_2)            B x (1 + depth + G) x C
    concat_f = cat of the used ones, in this order:
        cls    = x[:, 0]                      (class_token "use")
        prompt = x[:, 1:-G].mean(1)           (prompt_token "mean")
        patch  = x[:, -G:].max(1)[0]          (patch_token "max")
    logits = cls_head_finetune(concat_f)   (Linear(k*C,256) BN ReLU Dropout(0) Linear(256,256) BN ReLU Dropout(0) Linear(256,cls_dim))
    loss = CrossEntropyLoss (mean)
GELU is the exact erf GELU. All GELUs (pos_embed, mlp, adapter, prompt) are nn.GELU().

TRAINABLE parameters (DAPT optimizer part "dapt", tools/builder.py): every
parameter whose name contains "cls" (cls_token, cls_pos, cls_head_finetune.*),
"tfts" or "Adapter". All other parameters are frozen (requires_grad False, no
gradient). BatchNorm layers (encoder and head) are NOT special: in train mode
they still use batch statistics and update running_mean / running_var /
num_batches_tracked (momentum 0.1, unbiased variance for the running update).
"grads" holds summaries (tensor_summary, see golden_pointmae.py) of every
trainable parameter only; the JSON also lists "trainable_keys".

INIT "splitmix": exactly as documented at the top of scripts/golden_pointmae.py
(FNV-1a key hash, splitmix64 stream per key, value = float32(a + b*r_i)),
with these additions, checked BEFORE the Point-MAE rules:
    key contains "tfts_gamma":   a = 1,  b = 0.2
    key contains "tfts_beta":    a = 0,  b = 0.1
The Adapter LayerNorm weight (blocks.blocks.{i}.Adapter_MLP.adapter_layer_norm_before.weight)
is a LayerNorm weight, listed in "norm_weight_keys" (a = 1, b = 0.2); its bias
is a bias. Every other weight with dim >= 2, including Adapter_MLP.scale.weight
(1 x C, fan_in C), Adapter_MLP.down_proj.weight (r x C) and
Adapter_MLP.up_proj.weight (C x r, fan_in r), uses the Linear rule
a = 0, b = sqrt(3 / fan_in) -- so, unlike DAPT's own init, nothing is zero.

CASES
    tiny_train:          trans_dim 32, depth 2, heads 4, cls_dim 5, rank 8, B 8, N 64, G 8, M 8,
                         class_token "use", prompt_token "mean", patch_token "max" (HEAD_CHANEL 3),
                         drop_path 0, adapter dropout 0, head dropout 0; model.train().
    tiny_eval:           same weights (pre-forward buffers) and inputs, model.eval().
    tiny_objonly_train:  same, but patch_token "None" (HEAD_CHANEL 2): cls_head_finetune.0.weight
                         is 256 x 64 (its own splitmix values, b = sqrt(3/64)); every other entry
                         is identical to tiny_train. model.train().
    full_eval:           the real scan_objbg configuration: trans_dim 384, depth 12, heads 6, cls_dim 15,
                         rank 64, cls + prompt mean + patch max, all dropout / drop-path 0; B 1, N 1024,
                         G 64, M 32; model.eval(); INIT "sin" (below); inputs EXACTLY pointmae.json
                         full_eval's (not stored again: "inputs_from"). Stores logits,
                         logits_minus_head_bias (logits - cls_head_finetune.8.bias), norm_weight_keys,
                         param_checks (shape, numel, sum, first 4 values, as in pointmae.json) for every
                         state-dict key outside blocks.blocks and for blocks 0, 1, 10 and 11, and, to
                         stay under the size budget, "param_sums" (key -> sum only) for blocks 2..9
                         (their keys differ from block 1's only in the index digit).

INIT "sin" (case full_eval): golden_pointmae.py's "sin" formula applied to every
state-dict key k (h_k = (sum of UTF-8 bytes of k) % 97, s_i = sin(float64(i)*0.37 + float64(h_k)),
i the flattened row-major index, each value computed in float64 and rounded to float32):
    BatchNorm running_var:                           1 + 0.5*|sin(float64(i) + float64(h_k))|
    BatchNorm / LayerNorm weight (incl. the Adapter LayerNorm
        blocks.blocks.{i}.Adapter_MLP.adapter_layer_norm_before.weight):   1 + 0.02*s_i
    key contains "tfts_gamma":                       1 + 0.02*s_i
    key contains "tfts_beta":                        0.02*s_i
    everything else (Linear/Conv weights, all biases, running_mean, cls_token, cls_pos): 0.02*s_i
    num_batches_tracked:                             0

Inputs (points, center_idx, knn_idx, labels) of the tiny cases are drawn the way pointmae.json's
tiny_train draws them (torch.manual_seed(0), the tiny Point-MAE model built
first), but for B = 8 clouds instead of 3: with 3 the head's train-mode
BatchNorm is so ill-conditioned that PyTorch's own float32 gradients differ from
this float64 reference by up to 1.9e-4 relative.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # scripts/: the ref package
from ref.dapt import PointTransformerDAPT, freeze
from ref.fixture import (FULL_LIMIT, buffers_of, enc_res, full_inputs, grads_of, param_checks, r12,
                         replay_tiny_inputs, roundoff_zero_grads, tensor_summary)
from ref.init import init_sin, init_splitmix, norm_weight_keys

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
PM_JSON = os.path.join(HERE, "..", "testdata", "golden", "pointmae.json")
OUT = os.path.join(HERE, "..", "testdata", "golden", "dapt.json")


# ----------------------------------------------------------------------------
# self-check: finite differences


def fd_check(model, points, center_idx, knn_idx, labels, keys, state, train, eps=1e-6, per_key=3):
    """Central finite differences in float64 on a few elements of a few trainable parameters.
    The model is reset to `state` before every evaluation (train-mode forwards update BN buffers;
    the buffers do not affect a train-mode forward, but keep it clean)."""
    ce = nn.CrossEntropyLoss()
    params = dict(model.named_parameters())
    worst = 0.0
    for k in keys:
        p = params[k]
        n = p.numel()
        for j in [0, n // 2, n - 1][:per_key]:
            model.load_state_dict(state)
            model.train(train)
            model.zero_grad()
            ce(model(points, center_idx, knn_idx), labels).backward()
            g = p.grad.reshape(-1)[j].item()
            vals = []
            for s in (+1, -1):
                model.load_state_dict(state)
                model.train(train)
                with torch.no_grad():
                    p.view(-1)[j] += s * eps
                    vals.append(ce(model(points, center_idx, knn_idx), labels).item())
            fd = (vals[0] - vals[1]) / (2 * eps)
            # floor 1e-3: some gradients are analytically zero (a shift in front of a
            # train-mode BatchNorm) and both sides are round-off there
            err = abs(fd - g) / max(abs(fd) + abs(g), 1e-3)
            worst = max(worst, err)
            print("  fd %-55s [%4d] autograd % .10e  fd % .10e  rel %.2e" % (k, j, g, fd, err))
    model.load_state_dict(state)
    return worst


SIN_DOC = ("sin: h_k = (sum of UTF-8 bytes of key k) % 97; i = flattened row-major index; "
           "s_i = sin(float64(i)*0.37 + float64(h_k)); BatchNorm running_var = 1 + 0.5*|sin(float64(i) + float64(h_k))|; "
           "BatchNorm and LayerNorm weight (incl. Adapter_MLP.adapter_layer_norm_before.weight) = 1 + 0.02*s_i; "
           "key contains tfts_gamma = 1 + 0.02*s_i; key contains tfts_beta = 0.02*s_i; every other float entry "
           "(Linear/Conv weights, all biases, running_mean, cls_token, cls_pos) = 0.02*s_i; num_batches_tracked = 0; "
           "all rounded to float32. Inputs: exactly pointmae.json full_eval's (points, center_idx, knn_idx).")



# ----------------------------------------------------------------------------
# cases

t0 = time.time()
cases = {}
ce = nn.CrossEntropyLoss()

TINY = dict(trans_dim=32, depth=2, num_heads=4, cls_dim=5, encoder_dims=32, rank=8, B=8, N=64, num_group=8,
            group_size=8, drop_path_rate=0.0, drop_adapter_rate=0.0, dropout=0.0,
            class_token="use", prompt_token="mean", patch_token="max")
B, N, G, M = TINY["B"], TINY["N"], TINY["num_group"], TINY["group_size"]

# Replay golden_pointmae.py's RNG sequence: seed 0, build its tiny model, draw inputs.
points, center_idx, knn_idx, labels, inputs = replay_tiny_inputs(TINY, B)
# B = 8, not pointmae.json's 3: with 3 samples the head's train-mode
# BatchNorm makes the gradients so ill-conditioned that PyTorch's own
# float32 result differs from this float64 reference by up to 1.9e-4
# relative; with 8 the float32 round-off stays well under 1e-4.


def build(cfg):
    m = PointTransformerDAPT(cfg["trans_dim"], cfg["depth"], cfg["num_heads"], cfg["cls_dim"], cfg["rank"],
                             cfg["num_group"], cfg["class_token"], cfg["prompt_token"], cfg["patch_token"])
    init_splitmix(m)
    freeze(m)
    return m


def run_train(model, state0):
    model.load_state_dict(state0)
    model.train()
    model.zero_grad()
    logits = model(points, center_idx, knn_idx)
    loss = ce(logits, labels)
    loss.backward()
    return logits, loss


# tiny_train ------------------------------------------------------------------
model = build(TINY)
state0 = {k: v.clone() for k, v in model.state_dict().items()}
trainable = [k for k, p in model.named_parameters() if p.requires_grad]
frozen = [k for k, p in model.named_parameters() if not p.requires_grad]
bn_keys = [k for k in state0 if "running_" in k or "num_batches_tracked" in k]

logits, loss = run_train(model, state0)
cases["tiny_train"] = {
    "config": TINY,
    "mode": "train",
    "init": "splitmix",
    "norm_weight_keys": norm_weight_keys(model),
    "trainable_keys": trainable,
    "param_checks": None,  # filled below (pre-forward state)
    "inputs": inputs,
    "logits": enc_res(logits),
    "loss": r12(loss.item()),
    "intermediates": {"tokens": enc_res(model.inter["tokens"]), "concat_f": enc_res(model.inter["concat_f"]),
                      "final_x_shape": list(model.inter["final_x"].shape)},
    "grads": grads_of(model, FULL_LIMIT),
    "roundoff_zero_grads": roundoff_zero_grads(model),
    "buffers_after": buffers_of(model, bn_keys),
}
model.load_state_dict(state0)
cases["tiny_train"]["param_checks"] = param_checks(model)

# tiny_eval -------------------------------------------------------------------
model.load_state_dict(state0)
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
    "roundoff_zero_grads": roundoff_zero_grads(model),
}

# tiny_objonly_train ------------------------------------------------------------
OBJ = dict(TINY, patch_token="None")
omodel = build(OBJ)
ostate0 = {k: v.clone() for k, v in omodel.state_dict().items()}
for k in ostate0:  # same key + same shape => identical values
    if k != "cls_head_finetune.0.weight":
        assert torch.equal(ostate0[k], state0[k]), k
logits_o, loss_o = run_train(omodel, ostate0)
head_bn = [k for k in bn_keys if k.startswith("cls_head_finetune.")]
cases["tiny_objonly_train"] = {
    "config": OBJ,
    "mode": "train",
    "init": "splitmix",
    "inputs_from": "tiny_train",
    "params_note": "every state-dict entry equals tiny_train's except cls_head_finetune.0.weight (256 x 64)",
    "param_checks": {"cls_head_finetune.0.weight": param_checks(omodel)["cls_head_finetune.0.weight"]},
    "logits": enc_res(logits_o),
    "loss": r12(loss_o.item()),
    "intermediates": {"concat_f": enc_res(omodel.inter["concat_f"])},
    "grads": grads_of(omodel, 0),  # summaries only
    "roundoff_zero_grads": roundoff_zero_grads(omodel),
    "buffers_after": buffers_of(omodel, head_bn),  # encoder BN buffers equal tiny_train's
}

# ----------------------------------------------------------------------------
# self-checks: finite differences, frozen parameters without gradients

fd_keys = ["cls_token", "tfts_gamma_1", "blocks.blocks.0.attn.tfts_gamma_1", "blocks.blocks.0.Adapter_MLP.up_proj.weight",
           "blocks.blocks.0.Adapter_MLP.scale.weight", "blocks.blocks.1.tfts_beta_3",
           "blocks.blocks.1.mlp.tfts_gamma_1", "blocks.blocks.1.Adapter_MLP.adapter_layer_norm_before.weight",
           "tfts_beta_2", "cls_head_finetune.0.weight", "cls_head_finetune.4.bias"]
print("finite differences, tiny_train (train mode):")
w1 = fd_check(model, points, center_idx, knn_idx, labels, fd_keys, state0, True)
print("finite differences, tiny_eval (eval mode):")
w2 = fd_check(model, points, center_idx, knn_idx, labels, fd_keys[:6], state0, False)
print("finite differences, tiny_objonly_train:")
w3 = fd_check(omodel, points, center_idx, knn_idx, labels, ["cls_pos", "blocks.blocks.1.tfts_gamma_3",
                                                            "cls_head_finetune.0.weight"], ostate0, True)
worst = max(w1, w2, w3)
print("worst relative FD error %.2e" % worst)
assert worst < 1e-5
# frozen: requires_grad False and grad None after backward (grads_of asserts it); double-check here
run_train(model, state0)
assert all(dict(model.named_parameters())[k].grad is None for k in frozen)
assert all(dict(model.named_parameters())[k].grad is not None for k in trainable)
print("%d trainable / %d frozen parameter tensors; frozen have no grad" % (len(trainable), len(frozen)))

# full_eval ---------------------------------------------------------------------
# The real scan_objbg configuration, "sin" weights, pointmae.json full_eval's inputs. Built after every
# other case so that constructing it cannot disturb their RNG sequence (the sin init itself uses no RNG).
FULL = dict(trans_dim=384, depth=12, num_heads=6, cls_dim=15, encoder_dims=384, rank=64, B=1, N=1024,
            num_group=64, group_size=32, drop_path_rate=0.0, drop_adapter_rate=0.0, dropout=0.0,
            class_token="use", prompt_token="mean", patch_token="max")
FULL_CHECK_BLOCKS = (0, 1, 10, 11)
fpts, fcenter, fknn = full_inputs(FULL["N"], FULL["num_group"], FULL["group_size"], check=PM_JSON)
fmodel = PointTransformerDAPT(FULL["trans_dim"], FULL["depth"], FULL["num_heads"], FULL["cls_dim"], FULL["rank"],
                              FULL["num_group"], FULL["class_token"], FULL["prompt_token"], FULL["patch_token"])
init_sin(fmodel)
fmodel.eval()
with torch.no_grad():
    flog = fmodel(fpts, fcenter, fknn)
fhead_bias = fmodel.state_dict()["cls_head_finetune.8.bias"]
cases["full_eval"] = {
    "config": FULL,
    "mode": "eval",
    "init": SIN_DOC,
    "inputs_from": "pointmae.json:full_eval",
    "norm_weight_keys": norm_weight_keys(fmodel),
    "param_checks": None,  # filled below
    "param_sums": None,
    "logits": enc_res(flog),
    "logits_minus_head_bias": enc_res(flog - fhead_bias),
    "intermediates": {"concat_f": tensor_summary(fmodel.inter["concat_f"], 0),
                      "final_x_shape": list(fmodel.inter["final_x"].shape)},
}
# Size budget (dapt.json < 450 KB): full param_checks for every key outside blocks.blocks and for blocks
# FULL_CHECK_BLOCKS (single- and double-digit indices, first and last); only the sum for the other blocks.
_pc = param_checks(fmodel)
_full_key = lambda k: not k.startswith("blocks.blocks.") or int(k.split(".")[2]) in FULL_CHECK_BLOCKS
cases["full_eval"]["param_checks"] = {k: v for k, v in _pc.items() if _full_key(k)}
cases["full_eval"]["param_sums"] = {k: v["sum"] for k, v in _pc.items() if not _full_key(k)}
cases["full_eval"]["intermediates"]["concat_f"]["shape"] = list(fmodel.inter["concat_f"].shape)
print("full_eval logits", flog.tolist())

doc = {"torch": torch.__version__, "generator": "scripts/golden_dapt.py", "cases": cases}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes in %.1fs" % (time.time() - t0))
print("tiny_train loss", loss.item(), "tiny_eval loss", loss_e.item(), "tiny_objonly_train loss", loss_o.item())
