"""The image masked autoencoder (He et al., CVPR 2022), as models_mae.py of
github.com/facebookresearch/mae defines MaskedAutoencoderViT, written from
reading it (and util/pos_embed.py); neither timm nor MAE is needed.

State-dict keys and their order are MAE's (its own parameters first, in
registration order, then its modules):

    cls_token (1,1,C), pos_embed (1,1+L,C), mask_token (1,1,D), decoder_pos_embed (1,1+L,D),
    patch_embed.proj (Conv2d C x in x P x P), blocks.i.*, norm, decoder_embed (Linear C->D),
    decoder_blocks.i.*, decoder_norm, decoder_pred (Linear D -> P*P*in).

pos_embed and decoder_pos_embed are the fixed 2D sin-cos tables (requires_grad False, as MAE's); the blocks
are ref.vit's (timm's Block: qkv bias, exact GELU, MLP ratio 4), LayerNorm eps 1e-6 (MAE's presets).

Differences from MAE, all deliberate:
  * the mask is GIVEN as ids_shuffle (B x L: a permutation per sample, its first len_keep entries the
    visible patches), instead of argsort(torch.rand(B, L)); ids_restore = argsort(ids_shuffle) and the
    gathers are MAE's;
  * drop path is 0 (MAE's pre-training uses none), so it is left out.
"""
import numpy as np
import torch
import torch.nn as nn

from ref.vit import Block


def sincos_1d(dim, pos):
    """MAE's get_1d_sincos_pos_embed_from_grid: (M, dim) = [sin(pos*omega), cos(pos*omega)], float64,
    omega_k = 1 / 10000^(k / (dim/2)), k < dim/2."""
    assert dim % 2 == 0
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.outer(pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, grid, cls_token=True):
    """MAE's get_2d_sincos_pos_embed: ((1+) grid*grid, dim), float64. Patch l = (row h, column w), l = h*grid + w;
    the first dim/2 channels encode w (numpy.meshgrid puts w first), the last dim/2 encode h; the cls row is 0."""
    assert dim % 2 == 0
    h, w = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32), indexing="ij")
    emb = np.concatenate([sincos_1d(dim // 2, w), sincos_1d(dim // 2, h)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return emb


def patchify(imgs, p):
    """MAE's patchify: (N, 3, H, W) -> (N, L, p*p*3), each patch in (row, column, channel) order."""
    n, c, hh, ww = imgs.shape
    h, w = hh // p, ww // p
    x = imgs.reshape(n, c, h, p, w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, h * w, p * p * c)


class MaskedAutoencoderViT(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=1024, depth=24, num_heads=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4, eps=1e-6,
                 norm_pix_loss=False):
        super().__init__()
        self.p, self.in_chans = patch_size, in_chans
        self.grid = img_size // patch_size
        n = self.grid * self.grid
        # registration order = MAE's: patch_embed (a module, so its keys follow the parameters), cls_token,
        # pos_embed, blocks, norm, decoder_embed, mask_token, decoder_pos_embed, decoder blocks, norm, pred.
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, 0.0, "full", 0, 0.0, 0.0, eps=eps)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=eps)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, n + 1, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, 0.0, "full", 0, 0.0, 0.0, eps=eps)
            for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=eps)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * in_chans)
        self.norm_pix_loss = norm_pix_loss
        self.reset_pos_embed()

    def reset_pos_embed(self):
        with torch.no_grad():
            self.pos_embed.copy_(torch.from_numpy(sincos_2d(self.pos_embed.shape[-1], self.grid)).float()[None])
            self.decoder_pos_embed.copy_(
                torch.from_numpy(sincos_2d(self.decoder_pos_embed.shape[-1], self.grid)).float()[None])

    def forward_encoder(self, imgs, ids_shuffle, len_keep):
        x = self.patch_embed.proj(imgs).flatten(2).transpose(1, 2)
        x = x + self.pos_embed[:, 1:, :]
        # MAE's random_masking, with the shuffle given
        n, l, d = x.shape
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones([n, l])
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(n, -1, -1)
        x = torch.cat((cls, x), dim=1)
        for blk in self.blocks:
            x, _ = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mt = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mt], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x, _ = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = patchify(imgs, self.p)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased, as torch's default
            target = (target - mean) / (var + 1.e-6) ** .5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs, ids_shuffle, len_keep):
        latent, mask, ids_restore = self.forward_encoder(imgs, ids_shuffle, len_keep)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask
