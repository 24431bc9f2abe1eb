"""pcx's generic adapters (adapters/generic.go), written from the adapters'
published semantics: the Houlsby/NOAH serial adapter, AdaptFormer's parallel
adapter, and their Adapter-X forms, in which one SMoA (ref.daptx.SMoA, shared
by every block) replaces the per-block adapter.

Each adapter's forward(x, block) returns (y, balance loss or None); y adds
the adapter's output to its own input x. GELU is the exact erf GELU. Every
Linear has a bias except the SMoA's router.
"""
import torch.nn as nn
import torch.nn.functional as F

from ref.daptx import SMoA, balance_loss


class SerialAdapter(nn.Module):
    """The serial (Houlsby/NOAH) adapter: y = x + up(GELU(down(x)));
    keys down.*, up.*."""

    def __init__(self, c, width):
        super().__init__()
        self.down = nn.Linear(c, width)
        self.up = nn.Linear(width, c)

    def forward(self, x, block):
        return x + self.up(F.gelu(self.down(x))), None


class AdaptFormer(nn.Module):
    """AdaptFormer's AdaptMLP (the parallel branch): a = s * up_proj(dropout(
    ReLU(down_proj(x)))); here added to its own input, y = x + a; keys
    down_proj.*, up_proj.*."""

    def __init__(self, c, width, scale, dropout):
        super().__init__()
        self.down_proj = nn.Linear(c, width)
        self.up_proj = nn.Linear(width, c)
        self.scale, self.dropout = scale, dropout

    def forward(self, x, block):
        a = F.dropout(F.relu(self.down_proj(x)), p=self.dropout, training=self.training)
        return x + self.scale * self.up_proj(a), None


def routed(smoa, x, block):
    """One SMoA call as the -X adapters make it: (SMoA output, balance loss).
    When smoa.calls is a list, the call's expert counts and smallest top-1 /
    top-2 probability gap are appended to it (Go's SMoA.Stats)."""
    y, probs = smoa(x, block)
    balance, counts = balance_loss(probs)
    calls = getattr(smoa, "calls", None)
    if calls is not None:
        p2 = probs.detach().topk(2, dim=-1)[0]
        calls.append({"counts": [int(v) for v in counts.tolist()], "margin": (p2[:, 0] - p2[:, 1]).min().item()})
    return y, balance


class SerialAdapterX(nn.Module):
    """Serial adapter, Adapter-X form: y = x + SMoA(x, block); keys smoa.*."""

    def __init__(self, smoa):
        super().__init__()
        self.smoa = smoa

    def forward(self, x, block):
        y, l = routed(self.smoa, x, block)
        return x + y, l


class AdaptFormerX(nn.Module):
    """AdaptFormer, Adapter-X form: y = x + s * SMoA(x, block); keys smoa.*."""

    def __init__(self, smoa, scale):
        super().__init__()
        self.smoa, self.scale = smoa, scale

    def forward(self, x, block):
        y, l = routed(self.smoa, x, block)
        return x + self.scale * y, l


class Chain(nn.Module):
    """Two (cfg["blocks"]) blocks applied in turn, h = y_i(h). Plain forms hold
    one adapter per block (a ModuleList named after the adapter's Go prefix:
    adapter.{i}, adaptmlp.{i}); -X forms hold one module (x.smoa.*; the "x."
    is not part of the Go name) whose shared SMoA every block calls.

    kind: serial, adaptformer, serial_x or adaptformer_x. cfg: dim, blocks,
    serial_width, adaptformer_width, scale, dropout, smoa_heads, num_experts,
    rank, per_block_routers, top1. forward(x) -> (h, [balance losses])."""

    def __init__(self, kind, cfg):
        super().__init__()
        c, blocks = cfg["dim"], cfg["blocks"]
        self.kind, self.blocks = kind, blocks
        if kind == "serial":
            self.adapter = nn.ModuleList([SerialAdapter(c, cfg["serial_width"]) for _ in range(blocks)])
        elif kind == "adaptformer":
            self.adaptmlp = nn.ModuleList([AdaptFormer(c, cfg["adaptformer_width"], cfg["scale"], cfg["dropout"])
                                           for _ in range(blocks)])
        else:
            smoa = SMoA(c, cfg["smoa_heads"], cfg["num_experts"], cfg["rank"],
                        routers=blocks if cfg["per_block_routers"] else 0, top1=cfg["top1"])
            self.x = SerialAdapterX(smoa) if kind == "serial_x" else AdaptFormerX(smoa, cfg["scale"])

    def forward(self, x):
        h, bal = x, []
        for i in range(self.blocks):
            if self.kind == "serial":
                step = self.adapter[i]
            elif self.kind == "adaptformer":
                step = self.adaptmlp[i]
            else:
                step = self.x
            h, l = step(h, i)
            if l is not None:
                bal.append(l)
        return h, bal


def state_key(k):
    """The Go name of a Chain state-dict key: the -X wrapper's "x." prefix is not part of it."""
    return k[2:] if k.startswith("x.") else k
