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

Helpers (Encoder, Attention, Mlp, the splitmix stream, kNN, tensor encoders,
tensor_summary, param_checks from scripts/golden_pointmae.py; grads_of,
roundoff_zero_grads, buffers_of, norm_weight_keys from scripts/golden_dapt.py)
are taken by executing scripts/golden_dapt.py's source up to its "# cases"
marker (which in turn executes golden_pointmae.py's up to its own); neither
file is modified.

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
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DAPT_SRC = os.path.join(HERE, "golden_dapt.py")
DAPT_JSON = os.path.join(HERE, "..", "testdata", "golden", "dapt.json")
OUT = os.path.join(HERE, "..", "testdata", "golden", "daptx.json")

# Import golden_dapt's helpers (and through it golden_pointmae's) without running its cases.
_src = open(DAPT_SRC).read()
_marker = "\n# cases"
assert _marker in _src
dp = {"__file__": DAPT_SRC, "__name__": "golden_dapt_helpers"}
exec(compile(_src[:_src.index(_marker)], DAPT_SRC, "exec"), dp)  # also: manual_seed(0), default dtype float64
pm = dp["pm"]

Encoder, Attention, Mlp = pm["Encoder"], pm["Attention"], pm["Mlp"]
# DAPT's pieces, for KeepDAPT: attention and mlp with tfts, the Adapter_MLP.
DAPTAttention, DAPTMlp, DAPTAdapter = dp["Attention"], dp["Mlp"], dp["Adapter"]
init_tfts, apply_tfts = dp["init_tfts"], dp["apply_tfts"]
splitmix_uniform = pm["splitmix_uniform"]
knn_indices = pm["knn_indices"]
enc_exact, enc_int, enc_res, r12 = pm["enc_exact"], pm["enc_int"], pm["enc_res"], pm["r12"]
tensor_summary, param_checks = pm["tensor_summary"], pm["param_checks"]
FULL_LIMIT = pm["FULL_LIMIT"]
grads_of, roundoff_zero_grads, buffers_of = dp["grads_of"], dp["roundoff_zero_grads"], dp["buffers_of"]
norm_weight_keys = dp["norm_weight_keys"]
assert torch.get_default_dtype() == torch.float64

BALANCE_COEF = 0.01


# ----------------------------------------------------------------------------
# model


class Expert(nn.Module):
    def __init__(self, ds, r):
        super().__init__()
        self.down = nn.Linear(ds, r)
        self.act = nn.GELU()
        self.up = nn.Linear(r, ds)

    def forward(self, s):
        return self.up(self.act(self.down(s)))


class SMoA(nn.Module):
    def __init__(self, c, h, num_experts, r):
        super().__init__()
        assert c % h == 0
        self.h, self.ds, self.E = h, c // h, num_experts
        self.reduction = nn.Linear(self.ds, r, bias=False)  # de = r
        self.expert_embeddings = nn.Parameter(torch.zeros(num_experts, r))
        self.experts = nn.ModuleList([Expert(self.ds, r) for _ in range(num_experts)])

    def forward(self, u):
        b, t, c = u.shape
        s = u.reshape(b * t * self.h, self.ds)
        z = self.reduction(s)
        en = F.normalize(self.expert_embeddings, dim=-1)
        probs = torch.softmax(z @ en.t(), dim=-1)
        out = 0
        for i, ex in enumerate(self.experts):
            out = out + probs[:, i:i + 1] * ex(s)
        return out.reshape(b, t, c), probs


def balance_loss(probs):
    n, e = probs.shape
    top = probs.argmax(dim=-1)
    counts = torch.bincount(top, minlength=e)
    f = counts.to(probs.dtype) / n  # no gradient
    P = probs.mean(dim=0)
    return e * (f * P).sum(), counts


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = Mlp(c)
        self.attn = Attention(c, h)
        self.pg_gamma = nn.Parameter(torch.ones(c))
        self.pg_beta = nn.Parameter(torch.zeros(c))

    def forward(self, x, smoa):
        x = x + self.attn(self.norm1(x))
        u = self.norm2(x)
        a, probs = smoa(u)
        x = x + (self.mlp(u) + a)
        p = a.mean(dim=1, keepdim=True) * self.pg_gamma + self.pg_beta
        return torch.cat([x[:, 0:1, :], p, x[:, 1:, :]], dim=1), probs


class KeepDAPTBlock(nn.Module):
    """DAPT's block (golden_dapt.py) with the shared SMoA beside its Adapter_MLP and the prompt generator."""

    def __init__(self, c, h, adapter_rank):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = DAPTMlp(c, 4 * c)
        self.attn = DAPTAttention(c, h)
        self.Adapter_MLP = DAPTAdapter(c, adapter_rank)
        self.tfts_gamma_1, self.tfts_beta_1 = init_tfts(c)
        self.tfts_gamma_2, self.tfts_beta_2 = init_tfts(c)
        self.tfts_gamma_3, self.tfts_beta_3 = init_tfts(c)
        self.pg_gamma = nn.Parameter(torch.ones(c))
        self.pg_beta = nn.Parameter(torch.zeros(c))

    def forward(self, x, smoa):
        x = x + self.attn(apply_tfts(self.norm1(x), self.tfts_gamma_1, self.tfts_beta_1))
        u = apply_tfts(self.norm2(x), self.tfts_gamma_2, self.tfts_beta_2)
        a, probs = smoa(u)
        side = self.Adapter_MLP(u) + a
        x = x + (self.mlp(u) + side)
        p = apply_tfts(side.mean(dim=1, keepdim=True) * self.pg_gamma + self.pg_beta, self.tfts_gamma_3,
                       self.tfts_beta_3)
        return torch.cat([x[:, 0:1, :], p, x[:, 1:, :]], dim=1), probs


class TransformerEncoder(nn.Module):
    def __init__(self, c, depth, h, adapter_rank=None):
        super().__init__()
        if adapter_rank is None:
            self.blocks = nn.ModuleList([Block(c, h) for _ in range(depth)])
        else:
            self.blocks = nn.ModuleList([KeepDAPTBlock(c, h, adapter_rank) for _ in range(depth)])

    def forward(self, x, smoa):
        all_probs = []
        for blk in self.blocks:
            x, probs = blk(x, smoa)
            all_probs.append(probs)
        return x, all_probs


class PointTransformerDAPTX(nn.Module):
    def __init__(self, trans_dim, depth, heads, cls_dim, num_group, smoa_heads, num_experts, rank, keep_dapt=False,
                 adapter_rank=None):
        """keep_dapt: KeepDAPT (DAPT's tfts and Adapter_MLP of rank adapter_rank kept)."""
        super().__init__()
        c = trans_dim
        self.num_group = num_group
        self.keep_dapt = keep_dapt
        self.encoder = Encoder(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c))
        self.blocks = TransformerEncoder(c, depth, heads, adapter_rank if keep_dapt else None)
        self.smoa = SMoA(c, smoa_heads, num_experts, rank)
        self.norm = nn.LayerNorm(c)
        self.cls_head_finetune = nn.Sequential(
            nn.Linear(3 * c, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, cls_dim))
        if keep_dapt:
            self.tfts_gamma_1, self.tfts_beta_1 = init_tfts(c)
            self.tfts_gamma_2, self.tfts_beta_2 = init_tfts(c)
        self.inter = {}

    def forward(self, points, center_idx, knn_idx):
        """Returns (logits, balance loss = mean over blocks)."""
        b = points.shape[0]
        g = self.num_group
        bi = torch.arange(b)
        center = points[bi[:, None], center_idx]  # B G 3
        neigh = points[bi[:, None, None], knn_idx] - center[:, :, None, :]  # B G M 3
        tokens = self.encoder(neigh)
        if self.keep_dapt:
            tokens = apply_tfts(tokens, self.tfts_gamma_1, self.tfts_beta_1)
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(center)], dim=1)
        x, all_probs = self.blocks(x + pos, self.smoa)
        x = self.norm(x)
        if self.keep_dapt:
            x = apply_tfts(x, self.tfts_gamma_2, self.tfts_beta_2)
        concat_f = torch.cat([x[:, 0], x[:, 1:-g].mean(dim=1), x[:, -g:].max(dim=1)[0]], dim=-1)
        bl = [balance_loss(p) for p in all_probs]
        bal = torch.stack([l for l, _ in bl]).mean()
        top2 = [p.detach().topk(2, dim=-1)[0] for p in all_probs]
        self.inter = {"tokens": tokens, "final_x": x, "concat_f": concat_f,
                      "balance_losses": [l.item() for l, _ in bl],
                      "expert_counts": [[int(v) for v in cnt.tolist()] for _, cnt in bl],
                      "routing_min_margin": min((t[:, 0] - t[:, 1]).min().item() for t in top2)}
        return self.cls_head_finetune(concat_f), bal


def is_trainable(name):
    # "tfts" and "Adapter" names exist only with KeepDAPT
    return ("cls" in name) or name.startswith("smoa.") or (".norm2." in name) or name.endswith(".pg_gamma") \
        or name.endswith(".pg_beta") or ("tfts" in name) or ("Adapter" in name)


def freeze(model):
    for name, p in model.named_parameters():
        p.requires_grad_(is_trainable(name))


# ----------------------------------------------------------------------------
# splitmix init (golden_pointmae.py rules + DAPT-X rules)


def kind_of(key, nwk):
    if key.endswith("smoa.expert_embeddings"):
        return "expert_embeddings"
    if key.endswith(".pg_gamma"):
        return "pg_gamma"
    if key.endswith(".pg_beta"):
        return "pg_beta"
    return dp["kind_of"](key, nwk)  # golden_dapt.py's: the tfts rules, then golden_pointmae.py's


AB = {"bias": (0.0, 0.1), "norm_weight": (1.0, 0.2), "running_mean": (0.0, 0.1), "running_var": (1.0, 0.5),
      "cls": (0.0, 0.5), "expert_embeddings": (0.0, 1.0), "pg_gamma": (1.0, 0.2), "pg_beta": (0.0, 0.1),
      "tfts_gamma": (1.0, 0.2), "tfts_beta": (0.0, 0.1)}


def init_splitmix(model):
    nwk = set(norm_weight_keys(model))
    new = {}
    for k, t in model.state_dict().items():
        kind = kind_of(k, nwk)
        if kind == "count":
            new[k] = torch.zeros_like(t)
            continue
        if kind == "weight":
            assert t.dim() >= 2, k
            a, b = 0.0, (3.0 / int(np.prod(t.shape[1:]))) ** 0.5
        else:
            a, b = AB[kind]
        r = splitmix_uniform(k, t.numel())
        v = (a + (b * r)).astype(np.float32).astype(np.float64)
        new[k] = torch.from_numpy(v).reshape(t.shape)
    model.load_state_dict(new)


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
torch.manual_seed(0)
_ = pm["PointTransformer"](TINY["trans_dim"], TINY["depth"], TINY["num_heads"], TINY["cls_dim"])
points = torch.randn(B, N, 3).float().double()
center_idx = torch.stack([torch.randperm(N)[:G] for _ in range(B)])
knn_idx = torch.from_numpy(np.stack([knn_indices(points[b].numpy(), center_idx[b].numpy(), M) for b in range(B)]))
labels = torch.randint(0, TINY["cls_dim"], (B,))
inputs = {"points": enc_exact(points), "center_idx": enc_int(center_idx), "knn_idx": enc_int(knn_idx),
          "labels": [int(v) for v in labels.tolist()]}
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
fpts, fcenter, fknn = dp["full_inputs"](FULL)
fmodel = PointTransformerDAPTX(FULL["trans_dim"], FULL["depth"], FULL["num_heads"], FULL["cls_dim"],
                               FULL["num_group"], FULL["smoa_heads"], FULL["num_experts"], FULL["rank"])
dp["init_sin"](fmodel, kind_of)
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
