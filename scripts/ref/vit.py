"""PyTorch reference of pcx's ViT (timm's VisionTransformer) and its fine-tuning methods.

Used by scripts/golden_vit.py. Written from reading timm's vision_transformer.py
(VisionTransformer, Block, Attention, Mlp, PatchEmbed, _load_weights,
resample_abs_pos_embed); timm itself is not needed. Module and parameter names are
timm's, so state dicts map one to one onto pcx's:

    cls_token (1,1,C), pos_embed (1,1+N,C), patch_embed.proj (Conv2d C x in x P x P, stride P),
    blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head (on the cls token).
    LayerNorm eps 1e-6, qkv with bias, exact (erf) GELU in the MLP, drop path linspace(0, rate, depth).

Methods, exactly as pcx's adapters/vit.go defines them (h = DropPath(MLP(norm2 x)) below):

    full, linear:   the plain ViT (what trains differs: every weight, or the head).
    adapter:        NOAH's serial adapter after the FFN: side = ln2(QuickGELU(ln1(h))),
                    blocks.i.adapter.ln1 (Linear C->r), .ln2 (Linear r->C).
    adaptformer:    side = scale * up_proj(dropout(ReLU(down_proj(x)))) on the stream after attention,
                    blocks.i.adaptmlp.{down_proj, up_proj}.
    adapter-x:      side = SMoA(h)            (experts: down -> QuickGELU -> up)
    adaptformer-x:  side = scale * SMoA(x)    (experts: down -> ReLU -> up, no dropout)
    then            x = x + (h + side);
    -X without smoa_only: p = mean over tokens(side) * pg_gamma + pg_beta, inserted after cls
                    (the sequence grows by one token per block); each block's norm2 trains.
    The shared SMoA is "smoa.*"; with no_sharing each block has its own "blocks.i.smoa.*".

SMoA (pcx's adapters/smoa.go) on u (B x T x C), h_s sub-token heads, d_s = C / h_s, E experts:
    s = u.reshape(B*T*h_s, d_s); z = s @ reduction.weight.T
    probs = softmax(z @ F.normalize(expert_embeddings, dim=-1, eps=1e-12).T)
    gates = probs, or with top1 probs kept only at each row's argmax (first on ties)
    out = sum_e gates[:, e] * expert_e(s), reshaped to B x T x C
    balance = E * sum_p f_p * mean_x probs[x, p],  f_p = share of rows whose argmax is p (no gradient).
The model's balance loss is the mean over blocks; the training loss CE + alpha * balance.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def drop_path(x, p, training):
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class NOAHAdapter(nn.Module):
    """ln2(QuickGELU(ln1(x))): NOAH's names for the two Linears."""

    def __init__(self, dim, rank):
        super().__init__()
        self.ln1 = nn.Linear(dim, rank)
        self.ln2 = nn.Linear(rank, dim)

    def forward(self, x):
        return self.ln2(quick_gelu(self.ln1(x)))


class AdaptFormer(nn.Module):
    def __init__(self, dim, rank, scale, dropout):
        super().__init__()
        self.down_proj = nn.Linear(dim, rank)
        self.up_proj = nn.Linear(rank, dim)
        self.scale, self.dropout = scale, dropout

    def forward(self, x):
        h = F.dropout(F.relu(self.down_proj(x)), p=self.dropout, training=self.training)
        return self.up_proj(h) * self.scale


class Expert(nn.Module):
    def __init__(self, dim, rank, act):
        super().__init__()
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, dim)
        self.act = act

    def forward(self, x):
        return self.up(self.act(self.down(x)))


class SMoA(nn.Module):
    def __init__(self, dim, heads, experts, rank, act, top1=False):
        super().__init__()
        assert dim % heads == 0
        self.heads, self.ds, self.top1 = heads, dim // heads, top1
        self.reduction = nn.Linear(self.ds, rank, bias=False)
        self.expert_embeddings = nn.Parameter(torch.zeros(experts, rank))
        self.experts = nn.ModuleList([Expert(self.ds, rank, act) for _ in range(experts)])

    def forward(self, u):
        b, t, c = u.shape
        s = u.reshape(b * t * self.heads, self.ds)
        probs = torch.softmax(self.reduction(s) @ F.normalize(self.expert_embeddings, dim=-1, eps=1e-12).t(), dim=-1)
        top = probs.argmax(dim=-1)
        gates = probs
        if self.top1:
            gates = probs * F.one_hot(top, probs.shape[1]).to(probs.dtype)
        out = 0
        for i, ex in enumerate(self.experts):
            out = out + gates[:, i:i + 1] * ex(s)
        n, e = probs.shape
        counts = torch.bincount(top, minlength=e)
        balance = e * ((counts.to(probs.dtype) / n) * probs.mean(dim=0)).sum()
        return out.reshape(b, t, c), balance, probs, counts


METHODS = ("full", "linear", "adapter", "adaptformer", "adapter-x", "adaptformer-x")


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, drop_path_rate, method, rank, scale, dropout, own_smoa=None,
                 prompt=False, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, dim * mlp_ratio)
        self.drop_path_rate = drop_path_rate
        self.method, self.scale = method, scale
        if method == "adapter":
            self.adapter = NOAHAdapter(dim, rank)
        elif method == "adaptformer":
            self.adaptmlp = AdaptFormer(dim, rank, scale, dropout)
        if own_smoa is not None:
            self.smoa = own_smoa
        if prompt:
            self.pg_gamma = nn.Parameter(torch.ones(dim))
            self.pg_beta = nn.Parameter(torch.zeros(dim))
        self.prompt = prompt

    def forward(self, x, shared_smoa=None):
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path_rate, self.training)
        h = drop_path(self.mlp(self.norm2(x)), self.drop_path_rate, self.training)
        side, aux = None, None
        if self.method == "adapter":
            side = self.adapter(h)
        elif self.method == "adaptformer":
            side = self.adaptmlp(x)
        elif self.method in ("adapter-x", "adaptformer-x"):
            smoa = getattr(self, "smoa", None)
            if smoa is None:
                smoa = shared_smoa
            if self.method == "adapter-x":
                side, bal, probs, counts = smoa(h)
            else:
                side, bal, probs, counts = smoa(x)
                side = side * self.scale
            aux = (bal, probs, counts)
        if side is not None:
            h = h + side
        x = x + h
        if self.prompt:
            p = (side.mean(dim=1) * self.pg_gamma + self.pg_beta).unsqueeze(1)
            x = torch.cat([x[:, :1], p, x[:, 1:]], dim=1)
        return x, aux


class ViT(nn.Module):
    """timm's VisionTransformer (global_pool "token") with one of pcx's methods."""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4,
                 num_classes=1000, drop_path_rate=0.0, method="full", rank=8, scale=0.1, dropout=0.0, smoa_heads=3,
                 experts=4, top1=False, smoa_only=False, no_sharing=False, eps=1e-6):
        super().__init__()
        assert method in METHODS
        self.method, self.grid = method, img_size // patch_size
        n = self.grid * self.grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n, embed_dim))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        xm = method in ("adapter-x", "adaptformer-x")
        act = quick_gelu if method == "adapter-x" else F.relu
        dpr = [float(v) for v in torch.linspace(0, drop_path_rate, depth)] if depth > 1 else [0.0]
        blocks = []
        for i in range(depth):
            own = SMoA(embed_dim, smoa_heads, experts, rank, act, top1) if xm and no_sharing else None
            blocks.append(Block(embed_dim, num_heads, mlp_ratio, dpr[i], method, rank, scale, dropout, own,
                                prompt=xm and not smoa_only, eps=eps))
        self.blocks = nn.ModuleList(blocks)
        if xm and not no_sharing:
            self.smoa = SMoA(embed_dim, smoa_heads, experts, rank, act, top1)
        self.norm = nn.LayerNorm(embed_dim, eps=eps)
        self.head = nn.Linear(embed_dim, num_classes)
        self.routing = []

    def forward(self, img):
        """Returns the logits and the mean balance loss over blocks (None for methods without SMoA)."""
        x = self.patch_embed.proj(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        bals, self.routing = [], []
        for blk in self.blocks:
            x, aux = blk(x, getattr(self, "smoa", None))
            if aux is not None:
                bals.append(aux[0])
                self.routing.append(aux)
        x = self.norm(x)
        bal = torch.stack(bals).mean() if bals else None
        return self.head(x[:, 0]), bal

    def trainable_names(self, smoa_only=False):
        """The parameters the method trains (pcx's ViTNet.Trainable)."""
        names = []
        for k, _ in self.named_parameters():
            if self.method == "full":
                ok = True
            elif self.method == "linear":
                ok = k.startswith("head.")
            else:
                ok = (k.startswith("head.") or ".adapter." in k or ".adaptmlp." in k or "smoa." in k or
                      k.endswith(".pg_gamma") or k.endswith(".pg_beta") or
                      (self.method.endswith("-x") and not smoa_only and ".norm2." in k))
            if ok:
                names.append(k)
        return names


# ---------------------------------------------------------------------------------------------
# position embedding resampling (timm's resample_abs_pos_embed, antialias=False)


def resample_abs_pos_embed(posemb, new_size, old_size=None, num_prefix_tokens=1):
    """posemb: 1 x (prefix + H*W) x C. The grid as a C-channel image through bicubic F.interpolate."""
    if old_size is None:
        g = int(math.sqrt(posemb.shape[1] - num_prefix_tokens))
        old_size = (g, g)
    if tuple(old_size) == tuple(new_size):
        return posemb
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    c = posemb.shape[-1]
    grid = grid.reshape(1, old_size[0], old_size[1], c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(new_size), mode="bicubic", align_corners=False, antialias=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, c)
    return torch.cat([prefix, grid], dim=1)


# ---------------------------------------------------------------------------------------------
# Google's npz (Flax layout) <-> timm state dict


def timm_to_npz(sd, depth, heads):
    """Google's ViT .npz arrays (float32, Flax names and layouts) from a timm state dict."""
    f = lambda t: t.detach().cpu().numpy().astype(np.float32)
    out = {}
    w = f(sd["patch_embed.proj.weight"])  # OIHW
    out["embedding/kernel"] = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # HWIO
    out["embedding/bias"] = f(sd["patch_embed.proj.bias"])
    out["cls"] = f(sd["cls_token"])
    out["Transformer/posembed_input/pos_embedding"] = f(sd["pos_embed"])
    for i in range(depth):
        p, b = "Transformer/encoderblock_%d/" % i, "blocks.%d." % i
        att = p + "MultiHeadDotProductAttention_1/"
        out[p + "LayerNorm_0/scale"] = f(sd[b + "norm1.weight"])
        out[p + "LayerNorm_0/bias"] = f(sd[b + "norm1.bias"])
        out[p + "LayerNorm_2/scale"] = f(sd[b + "norm2.weight"])
        out[p + "LayerNorm_2/bias"] = f(sd[b + "norm2.bias"])
        qkv_w, qkv_b = f(sd[b + "attn.qkv.weight"]), f(sd[b + "attn.qkv.bias"])
        c = qkv_w.shape[1]
        d = c // heads
        for j, name in enumerate(("query", "key", "value")):
            wj = qkv_w[j * c:(j + 1) * c]  # (H*D) x C
            out[att + name + "/kernel"] = np.ascontiguousarray(wj.T.reshape(c, heads, d))
            out[att + name + "/bias"] = qkv_b[j * c:(j + 1) * c].reshape(heads, d)
        pw = f(sd[b + "attn.proj.weight"])  # C x (H*D)
        out[att + "out/kernel"] = np.ascontiguousarray(pw.T.reshape(heads, d, c))
        out[att + "out/bias"] = f(sd[b + "attn.proj.bias"])
        out[p + "MlpBlock_3/Dense_0/kernel"] = np.ascontiguousarray(f(sd[b + "mlp.fc1.weight"]).T)
        out[p + "MlpBlock_3/Dense_0/bias"] = f(sd[b + "mlp.fc1.bias"])
        out[p + "MlpBlock_3/Dense_1/kernel"] = np.ascontiguousarray(f(sd[b + "mlp.fc2.weight"]).T)
        out[p + "MlpBlock_3/Dense_1/bias"] = f(sd[b + "mlp.fc2.bias"])
    out["Transformer/encoder_norm/scale"] = f(sd["norm.weight"])
    out["Transformer/encoder_norm/bias"] = f(sd["norm.bias"])
    return out


def npz_to_timm(w, depth):
    """timm's _load_weights conversion of Google's arrays to a timm state dict (float32 tensors)."""
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    sd = {"patch_embed.proj.weight": t(w["embedding/kernel"].transpose(3, 2, 0, 1)),
          "patch_embed.proj.bias": t(w["embedding/bias"]), "cls_token": t(w["cls"]),
          "pos_embed": t(w["Transformer/posembed_input/pos_embedding"]),
          "norm.weight": t(w["Transformer/encoder_norm/scale"]), "norm.bias": t(w["Transformer/encoder_norm/bias"])}
    for i in range(depth):
        p, b = "Transformer/encoderblock_%d/" % i, "blocks.%d." % i
        att = p + "MultiHeadDotProductAttention_1/"
        sd[b + "norm1.weight"], sd[b + "norm1.bias"] = t(w[p + "LayerNorm_0/scale"]), t(w[p + "LayerNorm_0/bias"])
        sd[b + "norm2.weight"], sd[b + "norm2.bias"] = t(w[p + "LayerNorm_2/scale"]), t(w[p + "LayerNorm_2/bias"])
        sd[b + "attn.qkv.weight"] = torch.cat([t(w[att + n + "/kernel"].reshape(w[att + n + "/kernel"].shape[0], -1).T)
                                               for n in ("query", "key", "value")])
        sd[b + "attn.qkv.bias"] = torch.cat([t(w[att + n + "/bias"].reshape(-1)) for n in ("query", "key", "value")])
        ok = w[att + "out/kernel"]
        sd[b + "attn.proj.weight"] = t(ok.transpose(2, 0, 1).reshape(ok.shape[2], -1))
        sd[b + "attn.proj.bias"] = t(w[att + "out/bias"])
        for j, fc in ((0, "fc1"), (1, "fc2")):
            sd[b + "mlp.%s.weight" % fc] = t(w[p + "MlpBlock_3/Dense_%d/kernel" % j].T)
            sd[b + "mlp.%s.bias" % fc] = t(w[p + "MlpBlock_3/Dense_%d/bias" % j])
    return sd
