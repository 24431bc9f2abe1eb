"""DAPT's fine-tuning classifier, as models/DAPT.py of DAPT (LMD0311/DAPT)
defines it: Point-MAE's PointTransformer with TFTS (scale and shift, "tfts")
everywhere, a dynamic adapter (Adapter_MLP) beside each block's MLP and one
internal prompt token inserted after cls per block.

Module and parameter registration order mirrors DAPT's, so state_dict() keys
and their order are DAPT's. As in ref.pointmae, the groups come from GIVEN
centre and neighbour indices, and drop-path / dropout are 0. GELU is the
exact erf GELU (nn.GELU()).
"""
import torch
import torch.nn as nn

from ref.pointmae import Encoder, Group


def init_tfts(dim):
    """DAPT's init_tfts: a scale (ones) and a shift (zeros) of width dim."""
    return nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim))


def apply_tfts(x, g, b):
    """DAPT's apply_tfts: x * g + b over the last axis."""
    assert x.shape[-1] == g.shape[0] == b.shape[0]
    return x * g + b


class Mlp(nn.Module):
    """DAPT's Mlp: fc1, TFTS, GELU, fc2, TFTS."""

    def __init__(self, c, hidden):
        super().__init__()
        self.fc1 = nn.Linear(c, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, c)
        self.tfts_gamma_1, self.tfts_beta_1 = init_tfts(hidden)
        self.tfts_gamma_2, self.tfts_beta_2 = init_tfts(c)

    def forward(self, x):
        x = apply_tfts(self.fc1(x), self.tfts_gamma_1, self.tfts_beta_1)
        x = self.act(x)
        return apply_tfts(self.fc2(x), self.tfts_gamma_2, self.tfts_beta_2)


class Attention(nn.Module):
    """DAPT's Attention: Point-MAE's, with TFTS after qkv (3c wide, no qkv
    bias) and after proj."""

    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.scale = (c // h) ** -0.5
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.proj = nn.Linear(c, c)
        self.tfts_gamma_1, self.tfts_beta_1 = init_tfts(3 * c)
        self.tfts_gamma_2, self.tfts_beta_2 = init_tfts(c)

    def forward(self, x):
        b, n, c = x.shape
        qkv = apply_tfts(self.qkv(x), self.tfts_gamma_1, self.tfts_beta_1)
        qkv = qkv.reshape(b, n, 3, self.h, c // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, n, c)
        return apply_tfts(self.proj(y), self.tfts_gamma_2, self.tfts_beta_2)


class Adapter(nn.Module):
    """DAPT's Adapter_MLP (the dynamic adapter): v = LayerNorm(x);
    s = relu(scale(v)) (one scalar per token); up(dropout(GELU(down(v)))) * s."""

    def __init__(self, c, r, dropout=0.0):
        super().__init__()
        self.adapter_layer_norm_before = nn.LayerNorm(c)
        self.scale = nn.Linear(c, 1)
        self.down_proj = nn.Linear(c, r)
        self.non_linear_func = nn.GELU()
        self.up_proj = nn.Linear(r, c)
        self.dropout = dropout

    def forward(self, x):
        x = self.adapter_layer_norm_before(x)
        s = torch.relu(self.scale(x))
        down = self.non_linear_func(self.down_proj(x))
        down = nn.functional.dropout(down, p=self.dropout, training=self.training)
        return self.up_proj(down) * s


class Block(nn.Module):
    """DAPT's Block: x + attn(tfts1(norm1 x)); u = tfts2(norm2 x);
    a = Adapter_MLP(u); x + (mlp(u) + a); then the prompt
    tfts3(GELU(a).mean over tokens) is inserted after cls (one more token)."""

    def __init__(self, c, h, r):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = Mlp(c, 4 * c)
        self.attn = Attention(c, h)
        self.Adapter_MLP = Adapter(c, r)
        self.non_linear_func = nn.GELU()
        self.tfts_gamma_1, self.tfts_beta_1 = init_tfts(c)
        self.tfts_gamma_2, self.tfts_beta_2 = init_tfts(c)
        self.tfts_gamma_3, self.tfts_beta_3 = init_tfts(c)

    def forward(self, x):
        x = x + self.attn(apply_tfts(self.norm1(x), self.tfts_gamma_1, self.tfts_beta_1))
        h = x
        u = apply_tfts(self.norm2(x), self.tfts_gamma_2, self.tfts_beta_2)
        a = self.Adapter_MLP(u)
        x = h + (self.mlp(u) + a)
        p = apply_tfts(self.non_linear_func(a).mean(dim=1, keepdim=True), self.tfts_gamma_3, self.tfts_beta_3)
        return torch.cat([x[:, 0:1, :], p, x[:, 1:, :]], dim=1)


class TransformerEncoder(nn.Module):
    """DAPT's TransformerEncoder: the blocks in turn (pos is added once,
    before the first, by the model)."""

    def __init__(self, c, depth, h, r):
        super().__init__()
        self.blocks = nn.ModuleList([Block(c, h, r) for _ in range(depth)])

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x


class PointTransformerDAPT(nn.Module):
    """DAPT's PointTransformer_DAPT: TFTS on the Encoder tokens, pos added
    once, the DAPT blocks, norm then TFTS, and cls_head_finetune on the
    concatenation of the head tokens chosen by class_token ("use"/"None"),
    prompt_token ("mean"/"max"/"None") and patch_token ("max"/"mean"/"None").

    forward(points, center_idx, knn_idx) -> logits; self.inter holds
    "encoder_out", "tokens", "final_x" and "concat_f"."""

    def __init__(self, trans_dim, depth, heads, cls_dim, rank, num_group, class_token, prompt_token, patch_token):
        super().__init__()
        c = trans_dim
        self.num_group = num_group
        self.group_divider = Group()
        self.encoder = Encoder(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c))
        self.blocks = TransformerEncoder(c, depth, heads, rank)
        self.class_token, self.prompt_token, self.patch_token = class_token, prompt_token, patch_token
        assert prompt_token in ("None", "mean", "max") and patch_token in ("None", "max", "mean")
        k = sum(t != "None" for t in (class_token, prompt_token, patch_token))
        assert k > 0
        self.norm = nn.LayerNorm(c)
        self.cls_head_finetune = nn.Sequential(
            nn.Linear(k * c, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, cls_dim))
        self.tfts_gamma_1, self.tfts_beta_1 = init_tfts(c)
        self.tfts_gamma_2, self.tfts_beta_2 = init_tfts(c)
        self.inter = {}

    def forward(self, points, center_idx, knn_idx):
        b = points.shape[0]
        g = self.num_group
        neigh, center = self.group_divider(points, center_idx, knn_idx)
        enc = self.encoder(neigh)
        tokens = apply_tfts(enc, self.tfts_gamma_1, self.tfts_beta_1)
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(center)], dim=1)
        x = self.blocks(x + pos)
        x = apply_tfts(self.norm(x), self.tfts_gamma_2, self.tfts_beta_2)
        feats = []
        if self.class_token != "None":
            feats.append(x[:, 0])
        if self.prompt_token == "mean":
            feats.append(x[:, 1:-g].mean(dim=1))
        elif self.prompt_token == "max":
            feats.append(x[:, 1:-g].max(dim=1)[0])
        if self.patch_token == "max":
            feats.append(x[:, -g:].max(dim=1)[0])
        elif self.patch_token == "mean":
            feats.append(x[:, -g:].mean(dim=1))
        concat_f = torch.cat(feats, dim=-1)
        self.inter = {"encoder_out": enc, "tokens": tokens, "final_x": x, "concat_f": concat_f}
        return self.cls_head_finetune(concat_f)


def is_trainable(name):
    """DAPT's tunable set (tools/builder.py, optimizer part "dapt"): every
    name containing "cls", "tfts" or "Adapter"."""
    return ("cls" in name) or ("tfts" in name) or ("Adapter" in name)


def freeze(model):
    """Sets requires_grad from is_trainable."""
    for name, p in model.named_parameters():
        p.requires_grad_(is_trainable(name))
