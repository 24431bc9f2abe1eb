"""Point-MAE's masked-autoencoder pre-training model, as models/Point_MAE.py
of Point-MAE (Pang et al., github.com/Pang-Yatian/Point-MAE) defines it
(MaskTransformer, TransformerDecoder, Point_MAE, with cfgs/pretrain.yaml's
ChamferDistanceL2 loss).

State-dict keys (and their order) are Point-MAE's: mask_token,
MAE_encoder.* (encoder, pos_embed, blocks.blocks.*, norm), decoder_pos_embed.*,
MAE_decoder.* (blocks.*, norm), increase_dim.0.*. The Encoder, Block and
TransformerEncoder are ref.pointmae's. Differences, all of them deliberate:
  * the mask (B x G booleans, True = masked) is GIVEN, instead of drawn with
    numpy's shuffle (mask_type "rand") or Python's random (mask_type
    "block"); the groups are given too (neighbourhood B x G x M x 3 relative
    to the centres, centres B x G x 3), instead of FPS + kNN;
  * drop-path and dropout are 0 (the golden cases use none), so they are
    left out;
  * the Chamfer distance is computed densely (chamfer_l2) instead of by the
    chamfer_dist CUDA extension: the same value, and the same gradient
    through the nearest pairs;
  * PointMAEPretrain.forward returns the loss and records the predicted and
    target points in self.inter.
"""
import torch
import torch.nn as nn

from ref.pointmae import Block, Encoder, TransformerEncoder


def chamfer_l2(a, b):
    """ChamferDistanceL2 of a (B x N x 3) and b (B x M x 3): the mean over all
    B*N points of a of the squared distance to the nearest point of b, plus
    the same from b to a."""
    d = ((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1)  # B N M
    return d.min(dim=2)[0].mean() + d.min(dim=1)[0].mean()


class MaskTransformer(nn.Module):
    """MAE_encoder: the Encoder on every group, then pos_embed and the
    TransformerEncoder (position added before every block) on the VISIBLE
    tokens only, and a final LayerNorm. No cls token."""

    def __init__(self, c, depth, heads):
        super().__init__()
        self.encoder = Encoder(c)
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c))
        self.blocks = TransformerEncoder(c, depth, heads)
        self.norm = nn.LayerNorm(c)

    def forward(self, neighborhood, center, mask):
        tokens = self.encoder(neighborhood)  # B G C
        b, _, c = tokens.shape
        x_vis = tokens[~mask].reshape(b, -1, c)
        pos = self.pos_embed(center[~mask].reshape(b, -1, 3))
        return self.norm(self.blocks(x_vis, pos))


class TransformerDecoder(nn.Module):
    """MAE_decoder: Blocks with the position added before every block, then
    the LayerNorm of the last n tokens (the mask tokens); head is Identity."""

    def __init__(self, c, depth, heads):
        super().__init__()
        self.blocks = nn.ModuleList([Block(c, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(c)
        self.head = nn.Identity()

    def forward(self, x, pos, n):
        for blk in self.blocks:
            x = blk(x + pos)
        return self.head(self.norm(x[:, -n:]))


class PointMAEPretrain(nn.Module):
    """Point_MAE: MAE_encoder on the visible groups; the decoder on
    [visible tokens, mask_token per masked group] with decoder_pos_embed of
    [visible centres, masked centres]; increase_dim (Conv1d c -> 3*group_size)
    of the decoded mask tokens gives group_size points per masked group;
    the loss is chamfer_l2(rebuild, neighbourhoods of the masked groups).

    forward(neighborhood B x G x M x 3, center B x G x 3, mask B x G bool) -> loss;
    self.inter holds "rebuild" and "gt" ((B*n) x M x 3)."""

    def __init__(self, c, depth, heads, decoder_depth, decoder_heads, group_size):
        super().__init__()
        self.MAE_encoder = MaskTransformer(c, depth, heads)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c))
        self.decoder_pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c))
        self.MAE_decoder = TransformerDecoder(c, decoder_depth, decoder_heads)
        self.increase_dim = nn.Sequential(nn.Conv1d(c, 3 * group_size, 1))
        self.inter = {}

    def forward(self, neighborhood, center, mask):
        x_vis = self.MAE_encoder(neighborhood, center, mask)
        b, _, c = x_vis.shape
        pos_vis = self.decoder_pos_embed(center[~mask]).reshape(b, -1, c)
        pos_mask = self.decoder_pos_embed(center[mask]).reshape(b, -1, c)
        n = pos_mask.shape[1]
        x_full = torch.cat([x_vis, self.mask_token.expand(b, n, -1)], dim=1)
        pos_full = torch.cat([pos_vis, pos_mask], dim=1)
        x_rec = self.MAE_decoder(x_full, pos_full, n)  # B n C
        rebuild = self.increase_dim(x_rec.transpose(1, 2)).transpose(1, 2).reshape(b * n, -1, 3)
        gt = neighborhood[mask].reshape(b * n, -1, 3)
        self.inter = {"rebuild": rebuild, "gt": gt}
        return chamfer_l2(rebuild, gt)
