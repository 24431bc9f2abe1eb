"""pcx's DAPT-X (Adapter-X on Point-MAE), as adapters/daptx.go and
adapters/smoa.go define it: the DAPT classifier of ref.dapt with its TFTS and
per-block Adapter_MLP removed, ONE Sharing Mixture of Adapters (SMoA) shared
by every block, a trainable block-specific norm2 and a per-block prompt
generator (pg_gamma, pg_beta). KeepDAPT (keep_dapt=True) keeps DAPT's TFTS
and Adapter_MLP beside the SMoA (KeepDAPTBlock).

State-dict order: cls_token, cls_pos, encoder.*, pos_embed.*,
blocks.blocks.{i}.{pg_gamma, pg_beta, norm1, norm2, mlp, attn}, smoa.*,
norm.*, cls_head_finetune.* (a module's own parameters precede its
sub-modules'). Groups come from GIVEN indices, as in ref.pointmae; every
dropout is 0; GELU is the exact erf GELU.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ref import dapt
from ref.pointmae import Attention, Encoder, Group, Mlp

BALANCE_COEF = 0.01  # the loss is CE + BALANCE_COEF * (mean over blocks of the balance loss)


class Expert(nn.Module):
    """One adapter expert of the SMoA (layers.Adapter in Go): up(GELU(down(s))),
    d_s -> r -> d_s, both Linear with bias."""

    def __init__(self, ds, r):
        super().__init__()
        self.down = nn.Linear(ds, r)
        self.act = nn.GELU()
        self.up = nn.Linear(r, ds)

    def forward(self, s):
        return self.up(self.act(self.down(s)))


class SMoA(nn.Module):
    """Adapter-X's Sharing Mixture of Adapters (§3.2, Algorithm 1), as pcx's
    adapters.SMoA (smoa.go) computes it.

    forward(u: B x T x C, block=0) -> (out B x T x C, probs n x E), n = B*T*h:
        s = u.reshape(n, d_s)            sub-token j of a token = channels j*d_s .. (j+1)*d_s - 1
        z = s @ W.T                      W = reduction.weight (r x d_s, no bias), or with
                                         routers > 0 the block's own reduction.{block}.weight
        probs = softmax(z @ normalize(expert_embeddings).T)   (L2 per row, eps 1e-12)
        gates = probs (dense), or with top1 probs * onehot(argmax probs)
        out = sum_i gates[:, i:i+1] * experts[i](s)"""

    def __init__(self, c, h, num_experts, r, routers=0, top1=False):
        super().__init__()
        assert c % h == 0
        self.h, self.ds, self.E, self.top1 = h, c // h, num_experts, top1
        if routers:
            self.reduction = nn.ModuleList([nn.Linear(self.ds, r, bias=False) for _ in range(routers)])
        else:
            self.reduction = nn.Linear(self.ds, r, bias=False)  # de = r
        self.expert_embeddings = nn.Parameter(torch.zeros(num_experts, r))
        self.experts = nn.ModuleList([Expert(self.ds, r) for _ in range(num_experts)])

    def forward(self, u, block=0):
        b, t, c = u.shape
        s = u.reshape(b * t * self.h, self.ds)
        red = self.reduction[block] if isinstance(self.reduction, nn.ModuleList) else self.reduction
        z = red(s)
        en = F.normalize(self.expert_embeddings, dim=-1)
        probs = torch.softmax(z @ en.t(), dim=-1)
        gates = probs * F.one_hot(probs.argmax(dim=-1), probs.shape[1]).to(probs.dtype) if self.top1 else probs
        out = 0
        for i, ex in enumerate(self.experts):
            out = out + gates[:, i:i + 1] * ex(s)
        return out.reshape(b, t, c), probs


def balance_loss(probs):
    """The balance loss of one SMoA call (Eq. 6): E * sum_p f_p * P_p, with
    f_p the share of sub-tokens whose argmax is p (no gradient; ties to the
    lowest index) and P_p = probs[:, p].mean(). Returns (loss, counts)."""
    n, e = probs.shape
    top = probs.argmax(dim=-1)
    counts = torch.bincount(top, minlength=e)
    f = counts.to(probs.dtype) / n  # no gradient
    P = probs.mean(dim=0)
    return e * (f * P).sum(), counts


class Block(nn.Module):
    """DAPT-X's block: Point-MAE's attention and MLP (frozen), norm2
    (trainable) feeding both the MLP and the shared SMoA, whose output is
    added to the MLP's; the prompt a.mean(tokens) * pg_gamma + pg_beta is
    inserted after cls. forward(x, smoa) -> (x, probs)."""

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
    """DAPT-X's block with KeepDAPT: DAPT's block (ref.dapt.Block's keys) with
    the shared SMoA beside its Adapter_MLP (side = Adapter_MLP(u) + smoa(u))
    and the prompt generator before tfts3 (no GELU, unlike DAPT).
    forward(x, smoa) -> (x, probs)."""

    def __init__(self, c, h, adapter_rank):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = dapt.Mlp(c, 4 * c)
        self.attn = dapt.Attention(c, h)
        self.Adapter_MLP = dapt.Adapter(c, adapter_rank)
        self.tfts_gamma_1, self.tfts_beta_1 = dapt.init_tfts(c)
        self.tfts_gamma_2, self.tfts_beta_2 = dapt.init_tfts(c)
        self.tfts_gamma_3, self.tfts_beta_3 = dapt.init_tfts(c)
        self.pg_gamma = nn.Parameter(torch.ones(c))
        self.pg_beta = nn.Parameter(torch.zeros(c))

    def forward(self, x, smoa):
        x = x + self.attn(dapt.apply_tfts(self.norm1(x), self.tfts_gamma_1, self.tfts_beta_1))
        u = dapt.apply_tfts(self.norm2(x), self.tfts_gamma_2, self.tfts_beta_2)
        a, probs = smoa(u)
        side = self.Adapter_MLP(u) + a
        x = x + (self.mlp(u) + side)
        p = dapt.apply_tfts(side.mean(dim=1, keepdim=True) * self.pg_gamma + self.pg_beta, self.tfts_gamma_3,
                            self.tfts_beta_3)
        return torch.cat([x[:, 0:1, :], p, x[:, 1:, :]], dim=1), probs


class TransformerEncoder(nn.Module):
    """The blocks in turn, each calling the one SMoA; forward(x, smoa) ->
    (x, [probs of each block])."""

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
    """pcx's DAPTX model (adapters.DAPTX): Encoder tokens (TFTS'd with
    KeepDAPT), pos added once, the DAPT-X blocks sharing self.smoa, norm
    (then TFTS with KeepDAPT), and cls_head_finetune on cat(cls, prompt
    mean, patch max).

    forward(points, center_idx, knn_idx) -> (logits, balance loss = mean over
    blocks); self.inter holds "tokens", "final_x", "concat_f" and the routing
    diagnostics "balance_losses", "expert_counts", "routing_min_margin"."""

    def __init__(self, trans_dim, depth, heads, cls_dim, num_group, smoa_heads, num_experts, rank, keep_dapt=False,
                 adapter_rank=None):
        """keep_dapt: KeepDAPT (DAPT's tfts and Adapter_MLP of rank adapter_rank kept)."""
        super().__init__()
        c = trans_dim
        self.num_group = num_group
        self.keep_dapt = keep_dapt
        self.group_divider = Group()
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
            self.tfts_gamma_1, self.tfts_beta_1 = dapt.init_tfts(c)
            self.tfts_gamma_2, self.tfts_beta_2 = dapt.init_tfts(c)
        self.inter = {}

    def features(self, points, center_idx, knn_idx):
        """(tokens, final x, concat_f, [probs of each block]): the forward up to the head."""
        b = points.shape[0]
        g = self.num_group
        neigh, center = self.group_divider(points, center_idx, knn_idx)
        tokens = self.encoder(neigh)
        if self.keep_dapt:
            tokens = dapt.apply_tfts(tokens, self.tfts_gamma_1, self.tfts_beta_1)
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(center)], dim=1)
        x, all_probs = self.blocks(x + pos, self.smoa)
        x = self.norm(x)
        if self.keep_dapt:
            x = dapt.apply_tfts(x, self.tfts_gamma_2, self.tfts_beta_2)
        concat_f = torch.cat([x[:, 0], x[:, 1:-g].mean(dim=1), x[:, -g:].max(dim=1)[0]], dim=-1)
        return tokens, x, concat_f, all_probs

    def forward(self, points, center_idx, knn_idx):
        """Returns (logits, balance loss = mean over blocks)."""
        tokens, x, concat_f, all_probs = self.features(points, center_idx, knn_idx)
        bl = [balance_loss(p) for p in all_probs]
        bal = torch.stack([l for l, _ in bl]).mean()
        top2 = [p.detach().topk(2, dim=-1)[0] for p in all_probs]
        self.inter = {"tokens": tokens, "final_x": x, "concat_f": concat_f,
                      "balance_losses": [l.item() for l, _ in bl],
                      "expert_counts": [[int(v) for v in cnt.tolist()] for _, cnt in bl],
                      "routing_min_margin": min((t[:, 0] - t[:, 1]).min().item() for t in top2)}
        return self.cls_head_finetune(concat_f), bal

    def forward_lean(self, points, center_idx, knn_idx):
        """forward without the routing diagnostics (their .item() calls
        synchronise a GPU every block): (logits, balance loss)."""
        _, _, concat_f, all_probs = self.features(points, center_idx, knn_idx)
        bal = torch.stack([balance_loss(p)[0] for p in all_probs]).mean()
        return self.cls_head_finetune(concat_f), bal


def is_trainable(name):
    """DAPT-X's tunable set (DAPTX.Trainable): cls_token, cls_pos, the head,
    the SMoA, each block's norm2 and prompt generator; with KeepDAPT also
    every name containing "tfts" or "Adapter" (such names exist only then)."""
    return ("cls" in name) or name.startswith("smoa.") or (".norm2." in name) or name.endswith(".pg_gamma") \
        or name.endswith(".pg_beta") or ("tfts" in name) or ("Adapter" in name)


def freeze(model):
    """Sets requires_grad from is_trainable."""
    for name, p in model.named_parameters():
        p.requires_grad_(is_trainable(name))
