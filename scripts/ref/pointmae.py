"""Point-MAE's fine-tuning classifier, as models/Point_MAE.py of Point-MAE
(Pang et al., github.com/Pang-Yatian/Point-MAE) defines it.

State-dict keys (and their order) are Point-MAE's. Differences, all of them
deliberate:
  * Group takes the FPS centres and kNN neighbours as GIVEN indices (pcx's
    golden fixtures fix them), instead of running FPS and kNN itself;
  * drop-path and dropout are 0 (the golden cases use none), so they are left
    out; GELU is the exact erf GELU (nn.GELU()), as upstream;
  * PointTransformer.forward records a few intermediates in self.inter.
"""
import torch
import torch.nn as nn


class Group(nn.Module):
    """Point-MAE's Group (FPS centres, then the group_size nearest points of
    each centre, relative to it), with the centre and neighbour indices given.

    forward(points B x N x 3, center_idx B x G, knn_idx B x G x M)
        -> (neighborhood B x G x M x 3, center B x G x 3)."""

    def forward(self, points, center_idx, knn_idx):
        bi = torch.arange(points.shape[0], device=points.device)
        center = points[bi[:, None], center_idx]  # B G 3
        neighborhood = points[bi[:, None, None], knn_idx] - center[:, :, None, :]  # B G M 3
        return neighborhood, center


class Encoder(nn.Module):
    """Point-MAE's Encoder (a mini PointNet): per group, Conv1d 3->128 BN ReLU
    Conv1d 128->256, max over the points, concatenated back to each point
    (512), Conv1d 512->512 BN ReLU Conv1d 512->c, max over the points."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.first_conv = nn.Sequential(nn.Conv1d(3, 128, 1), nn.BatchNorm1d(128), nn.ReLU(), nn.Conv1d(128, 256, 1))
        self.second_conv = nn.Sequential(nn.Conv1d(512, 512, 1), nn.BatchNorm1d(512), nn.ReLU(), nn.Conv1d(512, c, 1))

    def forward(self, groups):  # B G M 3
        b, g, m, _ = groups.shape
        x = groups.reshape(b * g, m, 3).transpose(1, 2)  # BG 3 M
        f = self.first_conv(x)  # BG 256 M
        fg = f.max(dim=2, keepdim=True)[0]
        f = torch.cat([fg.expand(-1, -1, m), f], dim=1)  # BG 512 M
        f = self.second_conv(f)  # BG C M
        return f.max(dim=2)[0].reshape(b, g, self.c)


class Attention(nn.Module):
    """Point-MAE's (timm's) Attention: fused qkv without bias, h heads, scale
    (c/h)^-0.5, softmax, proj with bias."""

    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.scale = (c // h) ** -0.5
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.h, c // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * self.scale
        a = a.softmax(dim=-1)
        y = (a @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(y)


class Mlp(nn.Module):
    """Point-MAE's Mlp: fc1 (c -> 4c), GELU, fc2 (4c -> c)."""

    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * c, c)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Point-MAE's pre-LN Block: x + attn(norm1(x)), then + mlp(norm2(x))."""

    def __init__(self, c, h):
        super().__init__()
        self.norm1 = nn.LayerNorm(c)
        self.attn = Attention(c, h)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerEncoder(nn.Module):
    """Point-MAE's TransformerEncoder: the position embedding is added before
    EVERY block (x = block(x + pos))."""

    def __init__(self, c, depth, h):
        super().__init__()
        self.blocks = nn.ModuleList([Block(c, h) for _ in range(depth)])

    def forward(self, x, pos):
        for blk in self.blocks:
            x = blk(x + pos)
        return x


class PointTransformer(nn.Module):
    """Point-MAE's fine-tuning model PointTransformer: Encoder tokens after a
    cls token, pos_embed of the centres (Linear 3->128 GELU Linear 128->c),
    the TransformerEncoder, a final LayerNorm, and cls_head_finetune on
    cat(cls, max over the patch tokens): Linear(2c,256) BN ReLU Dropout
    Linear(256,256) BN ReLU Dropout Linear(256,cls_dim).

    forward(points, center_idx, knn_idx) -> logits; self.inter holds
    "tokens" (the Encoder's output) and "concat_f" (the head's input)."""

    def __init__(self, trans_dim, depth, heads, cls_dim):
        super().__init__()
        c = trans_dim
        self.group_divider = Group()
        self.encoder = Encoder(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c))
        self.blocks = TransformerEncoder(c, depth, heads)
        self.norm = nn.LayerNorm(c)
        self.cls_head_finetune = nn.Sequential(
            nn.Linear(2 * c, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.0),
            nn.Linear(256, cls_dim))
        self.inter = {}

    def forward(self, points, center_idx, knn_idx):
        b = points.shape[0]
        neigh, center = self.group_divider(points, center_idx, knn_idx)
        tokens = self.encoder(neigh)
        x = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(center)], dim=1)
        x = self.norm(self.blocks(x, pos))
        concat_f = torch.cat([x[:, 0], x[:, 1:].max(1)[0]], dim=-1)
        self.inter = {"tokens": tokens, "concat_f": concat_f}
        return self.cls_head_finetune(concat_f)
