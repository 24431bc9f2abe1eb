#!/usr/bin/python3
"""Write PyTorch golden fixtures for pcx's DAPT-X classifier (Adapter-X on Point-MAE).

    /usr/bin/python3 scripts/golden_daptx.py      # Debian python3-torch 1.13

A small float64 re-implementation of pcx's DAPT-X fine-tuning model: the DAPT
classifier of scripts/golden_dapt.py with TFTS (scale/shift) and the per-block
Adapter_MLP removed (kept in case tiny_keepdapt_train, pcx's KeepDAPT option), and
instead ONE Sharing Mixture of Adapters (SMoA) module
shared by all blocks, a trainable block-specific norm2 and a per-block prompt
generator. FPS and kNN are replaced by GIVEN indices exactly as in
scripts/golden_pointmae.py. Output: testdata/golden/daptx.json.

The model is ref.daptx.PointTransformerDAPTX (scripts/ref/daptx.py: SMoA,
balance_loss, Block, KeepDAPTBlock, built on ref.pointmae's Encoder,
Attention and Mlp and, for KeepDAPT, ref.dapt's); the splitmix and sin
formulas are ref.init's, the encodings, summaries and kNN ref.fixture's --
the same code golden_pointmae.py and golden_dapt.py use.

Forward (C = trans_dim, G groups, h sub-token heads, d_s = C / h, E experts, rank r):
    tokens = Encoder(neigh)                                   B x G x C   (Point-MAE Encoder, no TFTS)
    x = cat(cls_token, tokens) + cat(cls_pos, pos_embed(center))   (pos added ONCE)
    for each block i (keys blocks.blocks.{i}.*):
        x = x + attn(norm1(x))                     (Point-MAE attention, qkv without bias)
        u = norm2(x)                               (block-specific LayerNorm, TRAINABLE)
        a, probs = smoa(u)                         (the ONE shared module, keys smoa.*)
        x = x + (mlp(u) + a)                       (mlp = fc2(GELU(fc1(u))))
        p = a.mean(dim=1, keepdim=True) * pg_gamma + pg_beta        B x 1 x C  (prompt generator)
        x = cat([x[:, :1], p, x[:, 1:]], dim=1)                      (one more token per block)
    x = norm(x)                                                  B x (1 + depth + G) x C
    concat_f = cat(x[:, 0], x[:, 1:-G].mean(1), x[:, -G:].max(1)[0])     (cls, prompt mean, patch max)
    logits = cls_head_finetune(concat_f)   (Linear(3C,256) BN ReLU Dropout(0) Linear(256,256) BN ReLU Dropout(0) Linear(256,cls_dim))

SMoA forward(u: B x T x C):
    s = u.reshape(B*T*h, d_s)          sub-token j of a token = channels j*d_s .. (j+1)*d_s - 1
    z = s @ smoa.reduction.weight.T    (de x d_s Linear, no bias; de = r)      n x de
    en = F.normalize(smoa.expert_embeddings, dim=-1)   (E x de, L2 per row, eps 1e-12; gradient flows)
    probs = softmax(z @ en.T, dim=-1)                                            n x E
    out = sum_i probs[:, i:i+1] * up_i(GELU(down_i(s)))   (dense mixture over ALL experts;
          down_i = smoa.experts.{i}.down: Linear(d_s, r), up_i = smoa.experts.{i}.up: Linear(r, d_s))
    return out.reshape(B, T, C), probs
Balance loss of one SMoA call (n = B*T*h sub-tokens):
    f_p = #{sub-tokens whose argmax_e probs = p} / n   (no gradient; ties -> lowest index, never occur here)
    P_p = probs[:, p].mean()
    L   = E * sum_p f_p * P_p
Loss = CrossEntropyLoss(logits, labels) (mean) + 0.01 * (mean over blocks of the block's L).
The JSON stores "loss" (total), "ce_loss", "balance_loss" (the mean over blocks, before x 0.01),
"balance_losses" (per block), "expert_counts" (per block, the argmax counts per expert, n = B*T*h
with T = 1 + i + G for block i) and "routing_min_margin" (smallest gap between the largest and
second largest routing probability over all sub-tokens and blocks: how safe the argmax is in float32).
GELU is the exact erf GELU everywhere.

TRAINABLE parameters: cls_token, cls_pos, cls_head_finetune.*, smoa.*,
blocks.blocks.*.norm2.{weight,bias}, blocks.blocks.*.pg_gamma, blocks.blocks.*.pg_beta.
All other parameters are frozen (requires_grad False, no gradient). BatchNorm
layers (encoder and head) still use batch statistics in train mode and update
running_mean / running_var / num_batches_tracked (momentum 0.1, unbiased variance
for the running update). "grads" holds summaries (tensor_summary, see
golden_pointmae.py) of every trainable parameter only; "trainable_keys" lists them.

State-dict order: cls_token, cls_pos, encoder.*, pos_embed.*, blocks.blocks.{i}.{pg_gamma, pg_beta,
norm1, norm2, mlp, attn}, smoa.{expert_embeddings, reduction, experts.{i}.{down,up}}, norm.*,
cls_head_finetune.* (direct parameters of a module precede its sub-modules' in PyTorch).

INIT "splitmix": exactly as documented at the top of scripts/golden_pointmae.py
(FNV-1a key hash, splitmix64 stream per key, value = float32(a + b*r_i)),
with these additions, checked BEFORE the Point-MAE rules:
    key ends with "smoa.expert_embeddings":  a = 0,  b = 1
    key ends with ".pg_gamma":               a = 1,  b = 0.2
    key ends with ".pg_beta":                a = 0,  b = 0.1
blocks.blocks.{i}.norm2.weight is a LayerNorm weight, listed in "norm_weight_keys"
(a = 1, b = 0.2); its bias is a bias. Every other weight with dim >= 2, including
smoa.reduction.weight (r x d_s, fan_in d_s), smoa.experts.{i}.down.weight (r x d_s,
fan_in d_s) and smoa.experts.{i}.up.weight (d_s x r, fan_in r), uses the Linear rule
a = 0, b = sqrt(3 / fan_in); the expert biases are biases (a = 0, b = 0.1).

CASES
    tiny_train:  trans_dim 32, depth 2, heads 4, cls_dim 5, smoa_heads 2 (d_s 16), experts 4, rank 8,
                 B 8, N 64, G 8, M 8, head cls + prompt mean + patch max, all dropouts 0; model.train().
    tiny_eval:   same weights (pre-forward buffers) and inputs, model.eval() (loss = CE + 0.01 balance too).
    tiny_keepdapt_train:  the tiny_train configuration with KeepDAPT (DAPT's TFTS and Adapter_MLP kept,
                 see "KeepDAPT" below), adapter_rank 6 (the Adapter_MLP's rank; the SMoA keeps rank 8),
                 adapter dropout 0; same inputs (not stored again: "inputs_from"); model.train(). Stores its
                 own norm_weight_keys, trainable_keys and param_checks, logits, loss, ce_loss, balance_loss,
                 routing, and a summary of the gradient of every trainable parameter.
    full_eval:   the real scan_objbg DAPT-X configuration: trans_dim 384, depth 12, heads 6, cls_dim 15,
                 smoa_heads 3 (d_s 128), experts 4, rank 32, cls + prompt mean + patch max, all dropouts 0;
                 B 1, N 1024, G 64, M 32; model.eval(); INIT "sin" (below); inputs EXACTLY
                 pointmae.json full_eval's (not stored again: "inputs_from"). Stores logits,
                 logits_minus_head_bias (logits - cls_head_finetune.8.bias), balance_loss,
                 balance_losses, expert_counts (per block), routing_min_margin, param_checks (shape,
                 numel, sum, first 4 values per state-dict key, as in pointmae.json), norm_weight_keys.

KeepDAPT (case tiny_keepdapt_train): pcx's DAPT-X option that keeps DAPT inside DAPT-X. Every block is
DAPT's block of scripts/golden_dapt.py (same keys: attn.tfts_*_{1,2}, mlp.tfts_*_{1,2}, tfts_*_{1,2,3},
Adapter_MLP.*) with the shared SMoA beside its Adapter_MLP and the prompt generator before tfts3; the
model-level tfts_*_1 (on the encoder tokens) and tfts_*_2 (after the final norm) are DAPT's too:
    tokens = apply_tfts(Encoder(neigh), tfts_gamma_1, tfts_beta_1)
    x = cat(cls_token, tokens) + cat(cls_pos, pos_embed(center))
    for each block i:
        x = x + attn(tfts1(norm1(x)))              (DAPT's attention: tfts after qkv and after proj)
        u = tfts2(norm2(x))
        side = Adapter_MLP(u) + smoa(u)            (DAPT's dynamic adapter, rank adapter_rank; the shared SMoA)
        x = x + (mlp(u) + side)                    (DAPT's mlp: tfts after fc1 and after fc2)
        p = tfts3(side.mean(dim=1, keepdim=True) * pg_gamma + pg_beta)     (no GELU, unlike DAPT)
        x = cat([x[:, :1], p, x[:, 1:]], dim=1)
    x = apply_tfts(norm(x), tfts_gamma_2, tfts_beta_2); head and loss as above.
TRAINABLE: DAPT-X's set plus every name containing "tfts" or "Adapter". Splitmix init: golden_dapt.py's
tfts rules (key contains "tfts_gamma": a = 1, b = 0.2; "tfts_beta": a = 0, b = 0.1) are added to the
DAPT-X rules; Adapter_MLP.adapter_layer_norm_before.weight is a LayerNorm weight (in "norm_weight_keys").

INIT "sin" (case full_eval): golden_pointmae.py's "sin" formula applied to every
state-dict key k (h_k = (sum of UTF-8 bytes of k) % 97, s_i = sin(float64(i)*0.37 + float64(h_k)),
i the flattened row-major index, each value computed in float64 and rounded to float32):
    BatchNorm running_var:                           1 + 0.5*|sin(float64(i) + float64(h_k))|
    BatchNorm / LayerNorm weight (incl. blocks.blocks.{i}.norm2.weight):   1 + 0.02*s_i
    key ends with ".pg_gamma":                       1 + 0.02*s_i
    key ends with ".pg_beta":                        0.02*s_i
    key ends with "smoa.expert_embeddings":          s_i   (scale 1, not 0.02, so routing is not uniform)
    everything else (Linear/Conv weights, all biases, running_mean, cls_token, cls_pos): 0.02*s_i
    num_batches_tracked:                             0

Inputs (points, center_idx, knn_idx, labels) of the tiny cases are drawn exactly as golden_dapt.py
draws them (torch.manual_seed(0), the tiny Point-MAE model built first, B = 8);
they are asserted equal to testdata/golden/dapt.json's tiny_train inputs when that file exists.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # scripts/: the ref package
from ref.daptx import BALANCE_COEF, PointTransformerDAPTX, freeze
from ref.fixture import (FULL_LIMIT, buffers_of, enc_res, full_inputs, grads_of, param_checks, r12,
                         replay_tiny_inputs, roundoff_zero_grads, tensor_summary)
from ref.init import init_sin, init_splitmix, norm_weight_keys

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
PM_JSON = os.path.join(HERE, "..", "testdata", "golden", "pointmae.json")
DAPT_JSON = os.path.join(HERE, "..", "testdata", "golden", "dapt.json")
OUT = os.path.join(HERE, "..", "testdata", "golden", "daptx.json")


SIN_DOC = ("sin: h_k = (sum of UTF-8 bytes of key k) % 97; i = flattened row-major index; "
           "s_i = sin(float64(i)*0.37 + float64(h_k)); BatchNorm running_var = 1 + 0.5*|sin(float64(i) + float64(h_k))|; "
           "BatchNorm and LayerNorm weight (incl. blocks.blocks.{i}.norm2.weight) = 1 + 0.02*s_i; "
           "key ends with .pg_gamma = 1 + 0.02*s_i; key ends with .pg_beta = 0.02*s_i; "
           "key ends with smoa.expert_embeddings = s_i (scale 1); every other float entry "
           "(Linear/Conv weights, all biases, running_mean, cls_token, cls_pos) = 0.02*s_i; num_batches_tracked = 0; "
           "all rounded to float32. Inputs: exactly pointmae.json full_eval's (points, center_idx, knn_idx).")


def total_loss(model):
    logits, bal = model(points, center_idx, knn_idx)
    ce_l = ce(logits, labels)
    return logits, ce_l + BALANCE_COEF * bal, ce_l, bal


def fd_check(model, keys, state, train, eps=1e-6, per_key=3):
    """Central finite differences in float64 of the TOTAL loss (CE + 0.01 balance) on a few elements
    of a few trainable parameters. The model is reset to `state` before every evaluation."""
    params = dict(model.named_parameters())
    worst = 0.0
    for k in keys:
        p = params[k]
        n = p.numel()
        for j in [0, n // 2, n - 1][:per_key]:
            model.load_state_dict(state)
            model.train(train)
            model.zero_grad()
            total_loss(model)[1].backward()
            g = p.grad.reshape(-1)[j].item()
            vals = []
            for s in (+1, -1):
                model.load_state_dict(state)
                model.train(train)
                with torch.no_grad():
                    p.view(-1)[j] += s * eps
                    vals.append(total_loss(model)[1].item())
            fd = (vals[0] - vals[1]) / (2 * eps)
            err = abs(fd - g) / max(abs(fd) + abs(g), 1e-3)
            worst = max(worst, err)
            print("  fd %-40s [%4d] autograd % .10e  fd % .10e  rel %.2e" % (k, j, g, fd, err))
    model.load_state_dict(state)
    return worst


# ----------------------------------------------------------------------------
# cases

t0 = time.time()
cases = {}
ce = nn.CrossEntropyLoss()

TINY = dict(trans_dim=32, depth=2, num_heads=4, cls_dim=5, encoder_dims=32, smoa_heads=2, num_experts=4, rank=8,
            B=8, N=64, num_group=8, group_size=8, drop_path_rate=0.0, dropout=0.0,
            class_token="use", prompt_token="mean", patch_token="max", balance_coef=BALANCE_COEF)
B, N, G, M = TINY["B"], TINY["N"], TINY["num_group"], TINY["group_size"]

# Replay golden_dapt.py's (= golden_pointmae.py's) RNG sequence: seed 0, build the tiny Point-MAE model, draw inputs.
points, center_idx, knn_idx, labels, inputs = replay_tiny_inputs(TINY, B)
if os.path.exists(DAPT_JSON):
    assert json.load(open(DAPT_JSON))["cases"]["tiny_train"]["inputs"] == inputs, "inputs differ from dapt.json's"
    print("inputs identical to dapt.json tiny_train")

model = PointTransformerDAPTX(TINY["trans_dim"], TINY["depth"], TINY["num_heads"], TINY["cls_dim"], G,
                              TINY["smoa_heads"], TINY["num_experts"], TINY["rank"])
init_splitmix(model)
freeze(model)
state0 = {k: v.clone() for k, v in model.state_dict().items()}
trainable = [k for k, p in model.named_parameters() if p.requires_grad]
frozen = [k for k, p in model.named_parameters() if not p.requires_grad]
bn_keys = [k for k in state0 if "running_" in k or "num_batches_tracked" in k]
assert not any("tfts" in k or "Adapter" in k for k in state0)
assert sum(k.startswith("smoa.") for k in state0) == 2 + 4 * TINY["num_experts"]


def routing(m):
    return {"balance_losses": [r12(v) for v in m.inter["balance_losses"]], "expert_counts": m.inter["expert_counts"],
            "routing_min_margin": r12(m.inter["routing_min_margin"])}


# tiny_train ------------------------------------------------------------------
model.load_state_dict(state0)
model.train()
model.zero_grad()
logits, loss, ce_l, bal = total_loss(model)
loss.backward()
cases["tiny_train"] = dict({
    "config": TINY,
    "mode": "train",
    "init": "splitmix",
    "norm_weight_keys": norm_weight_keys(model),
    "trainable_keys": trainable,
    "param_checks": None,  # filled below (pre-forward state)
    "inputs": inputs,
    "logits": enc_res(logits),
    "loss": r12(loss.item()),
    "ce_loss": r12(ce_l.item()),
    "balance_loss": r12(bal.item()),
}, **routing(model), **{
    "intermediates": {"tokens": enc_res(model.inter["tokens"]), "concat_f": enc_res(model.inter["concat_f"]),
                      "final_x_shape": list(model.inter["final_x"].shape)},
    "grads": grads_of(model, FULL_LIMIT),
    "roundoff_zero_grads": roundoff_zero_grads(model),
    "buffers_after": buffers_of(model, bn_keys),
})
for i, cnt in enumerate(model.inter["expert_counts"]):
    assert sum(cnt) == B * (1 + i + G) * TINY["smoa_heads"]
model.load_state_dict(state0)
cases["tiny_train"]["param_checks"] = param_checks(model)

# tiny_eval -------------------------------------------------------------------
model.load_state_dict(state0)
model.eval()
model.zero_grad()
logits_e, loss_e, ce_e, bal_e = total_loss(model)
loss_e.backward()
cases["tiny_eval"] = dict({
    "params_from": "tiny_train",
    "inputs_from": "tiny_train",
    "mode": "eval",
    "logits": enc_res(logits_e),
    "loss": r12(loss_e.item()),
    "ce_loss": r12(ce_e.item()),
    "balance_loss": r12(bal_e.item()),
}, **routing(model), **{
    "intermediates": {"concat_f": enc_res(model.inter["concat_f"])},
    "grads": grads_of(model, 0),  # summaries only
    "roundoff_zero_grads": roundoff_zero_grads(model),
})

# ----------------------------------------------------------------------------
# self-checks: finite differences (total loss), frozen parameters without gradients

fd_keys = ["cls_token", "smoa.expert_embeddings", "smoa.reduction.weight", "smoa.experts.0.down.weight",
           "smoa.experts.3.up.bias", "blocks.blocks.0.norm2.weight", "blocks.blocks.1.norm2.bias",
           "blocks.blocks.0.pg_gamma", "blocks.blocks.1.pg_beta", "cls_head_finetune.0.weight",
           "cls_head_finetune.8.bias"]
print("finite differences, tiny_train (train mode):")
w1 = fd_check(model, fd_keys, state0, True)
print("finite differences, tiny_eval (eval mode):")
w2 = fd_check(model, fd_keys[:9], state0, False)
worst = max(w1, w2)
print("worst relative FD error %.2e" % worst)
assert worst < 1e-5
model.load_state_dict(state0)
model.train()
model.zero_grad()
total_loss(model)[1].backward()
assert all(dict(model.named_parameters())[k].grad is None for k in frozen)
assert all(dict(model.named_parameters())[k].grad is not None for k in trainable)
print("%d trainable / %d frozen parameter tensors; frozen have no grad" % (len(trainable), len(frozen)))

# tiny_keepdapt_train -----------------------------------------------------------
# KeepDAPT: DAPT's tfts and Adapter_MLP kept inside DAPT-X. Built after the other tiny cases; nothing after
# this point draws from torch's RNG (splitmix and sin inits, given inputs).
KEEP = dict(TINY, keep_dapt=True, adapter_rank=6, drop_adapter_rate=0.0)
kmodel = PointTransformerDAPTX(KEEP["trans_dim"], KEEP["depth"], KEEP["num_heads"], KEEP["cls_dim"], G,
                               KEEP["smoa_heads"], KEEP["num_experts"], KEEP["rank"], keep_dapt=True,
                               adapter_rank=KEEP["adapter_rank"])
init_splitmix(kmodel)
freeze(kmodel)
kstate0 = {k: v.clone() for k, v in kmodel.state_dict().items()}
for k in state0:  # same key + same shape => same values as tiny_train's
    if k in kstate0 and kstate0[k].shape == state0[k].shape:
        assert torch.equal(kstate0[k], state0[k]), k
ktrainable = [k for k, p in kmodel.named_parameters() if p.requires_grad]
assert set(ktrainable) == set(trainable) | {k for k in kstate0 if "tfts" in k or "Adapter" in k}
assert sum("tfts" in k for k in kstate0) == 4 + KEEP["depth"] * 14
kmodel.train()
kmodel.zero_grad()
klogits, kloss, kce, kbal = total_loss(kmodel)
kloss.backward()
cases["tiny_keepdapt_train"] = dict({
    "config": KEEP,
    "mode": "train",
    "init": "splitmix",
    "inputs_from": "tiny_train",
    "norm_weight_keys": norm_weight_keys(kmodel),
    "trainable_keys": ktrainable,
    "param_checks": None,  # filled below (pre-forward state)
    "logits": enc_res(klogits),
    "loss": r12(kloss.item()),
    "ce_loss": r12(kce.item()),
    "balance_loss": r12(kbal.item()),
}, **routing(kmodel), **{
    "grads": grads_of(kmodel, 0),  # summaries only (32 samples: every element of a C-wide tensor)
    "roundoff_zero_grads": roundoff_zero_grads(kmodel),
})
kmodel.load_state_dict(kstate0)
cases["tiny_keepdapt_train"]["param_checks"] = param_checks(kmodel)
kfd_keys = ["tfts_gamma_1", "blocks.blocks.0.attn.tfts_gamma_1", "blocks.blocks.1.mlp.tfts_beta_1",
            "blocks.blocks.0.Adapter_MLP.up_proj.weight", "blocks.blocks.1.Adapter_MLP.scale.weight",
            "blocks.blocks.0.Adapter_MLP.adapter_layer_norm_before.bias", "blocks.blocks.1.tfts_gamma_3",
            "blocks.blocks.0.pg_gamma", "smoa.experts.1.down.weight", "blocks.blocks.0.norm2.weight", "tfts_beta_2"]
print("finite differences, tiny_keepdapt_train (train mode):")
w3 = fd_check(kmodel, kfd_keys, kstate0, True)
print("worst relative FD error %.2e" % w3)
assert w3 < 1e-5
kmodel.load_state_dict(kstate0)
kmodel.train()
kmodel.zero_grad()
total_loss(kmodel)[1].backward()
assert all(p.grad is None for k, p in kmodel.named_parameters() if k not in ktrainable)
assert all(p.grad is not None for k, p in kmodel.named_parameters() if k in ktrainable)

# full_eval ---------------------------------------------------------------------
# The real scan_objbg DAPT-X configuration, "sin" weights, pointmae.json full_eval's inputs. Built after
# every other case so that constructing it cannot disturb their RNG sequence (the sin init uses no RNG).
FULL = dict(trans_dim=384, depth=12, num_heads=6, cls_dim=15, encoder_dims=384, smoa_heads=3, num_experts=4,
            rank=32, B=1, N=1024, num_group=64, group_size=32, drop_path_rate=0.0, dropout=0.0,
            class_token="use", prompt_token="mean", patch_token="max", balance_coef=BALANCE_COEF)
fpts, fcenter, fknn = full_inputs(FULL["N"], FULL["num_group"], FULL["group_size"], check=PM_JSON)
fmodel = PointTransformerDAPTX(FULL["trans_dim"], FULL["depth"], FULL["num_heads"], FULL["cls_dim"],
                               FULL["num_group"], FULL["smoa_heads"], FULL["num_experts"], FULL["rank"])
init_sin(fmodel)
fmodel.eval()
with torch.no_grad():
    flog, fbal = fmodel(fpts, fcenter, fknn)
fhead_bias = fmodel.state_dict()["cls_head_finetune.8.bias"]
for i, cnt in enumerate(fmodel.inter["expert_counts"]):
    assert sum(cnt) == (1 + i + FULL["num_group"]) * FULL["smoa_heads"]
cases["full_eval"] = dict({
    "config": FULL,
    "mode": "eval",
    "init": SIN_DOC,
    "inputs_from": "pointmae.json:full_eval",
    "norm_weight_keys": norm_weight_keys(fmodel),
    "param_checks": param_checks(fmodel),
    "logits": enc_res(flog),
    "logits_minus_head_bias": enc_res(flog - fhead_bias),
    "balance_loss": r12(fbal.item()),
}, **routing(fmodel), **{
    "intermediates": {"concat_f": tensor_summary(fmodel.inter["concat_f"], 0),
                      "final_x_shape": list(fmodel.inter["final_x"].shape)},
})
cases["full_eval"]["intermediates"]["concat_f"]["shape"] = list(fmodel.inter["concat_f"].shape)
print("full_eval logits", flog.tolist())
print("full_eval balance", fbal.item(), "counts", fmodel.inter["expert_counts"],
      "min margin", fmodel.inter["routing_min_margin"])

doc = {"torch": torch.__version__, "generator": "scripts/golden_daptx.py", "cases": cases}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes in %.1fs" % (time.time() - t0))
for name in ("tiny_train", "tiny_eval", "tiny_keepdapt_train"):
    c = cases[name]
    print(name, "loss", c["loss"], "ce", c["ce_loss"], "balance", c["balance_loss"], "counts", c["expert_counts"],
          "min margin", c["routing_min_margin"])
