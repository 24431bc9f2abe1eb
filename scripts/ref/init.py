"""Deterministic weights for the reference models, reproduced bit for bit
by pcx's Go golden tests (internal/goldentest): the "splitmix" and "sin"
formulas, and the kind of each state-dict entry that picks their constants.
The golden scripts' docstrings state the formulas in full; in short:

splitmix: per key k an independent stream, state = FNV-1a 64 of k's UTF-8
bytes, splitmix64 steps, r_i = float64(next >> 11) * 2^-53 * 2 - 1 in
[-1, 1), value_i = float32(a + float64(b * r_i)), (a, b) from the kind
(SPLITMIX_AB; a weight of dim >= 2 has a = 0, b = sqrt(3 / fan_in)).

sin: h_k = (sum of k's UTF-8 bytes) % 97, s_i = sin(float64(i)*0.37 + h_k);
running_var 1 + 0.5*|sin(i + h_k)|, norm weights and gammas 1 + 0.02*s_i,
expert embeddings s_i, everything else 0.02*s_i; all rounded to float32.
"""
import math

import numpy as np
import torch
import torch.nn as nn

MASK64 = (1 << 64) - 1


def fnv1a64(s):
    """FNV-1a 64-bit hash of the UTF-8 bytes of s."""
    h = 0xcbf29ce484222325
    for byte in s.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001b3) & MASK64
    return h


def splitmix_uniform(key, n):
    """n float64 values in [-1, 1) from key's splitmix64 stream."""
    state = fnv1a64(key)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out[i] = float(z >> 11) * (2.0 ** -53) * 2.0 - 1.0
    return out


def norm_weight_keys(model):
    """The ".weight" keys of every LayerNorm and BatchNorm1d module."""
    return [name + ".weight" for name, mod in model.named_modules() if isinstance(mod, (nn.LayerNorm, nn.BatchNorm1d))]


def kind_of(key, nwk):
    """The kind of state-dict entry key (nwk: the norm weight keys). The
    DAPT-X rules (expert_embeddings, pg_gamma, pg_beta) come first, then
    DAPT's (tfts_gamma, tfts_beta), then Point-MAE's; keys of one family
    never match another family's rules."""
    if key.endswith("smoa.expert_embeddings"):
        return "expert_embeddings"
    if key.endswith(".pg_gamma"):
        return "pg_gamma"
    if key.endswith(".pg_beta"):
        return "pg_beta"
    if "tfts_gamma" in key:
        return "tfts_gamma"
    if "tfts_beta" in key:
        return "tfts_beta"
    if key.endswith("num_batches_tracked"):
        return "count"
    if key.endswith("running_mean"):
        return "running_mean"
    if key.endswith("running_var"):
        return "running_var"
    if key.endswith("bias"):
        return "bias"
    if key in ("cls_token", "cls_pos"):
        return "cls"
    if key in nwk:
        return "norm_weight"
    return "weight"


# splitmix (a, b) per kind; "weight" is (0, sqrt(3 / fan_in)) and "count" is 0.
SPLITMIX_AB = {"bias": (0.0, 0.1), "norm_weight": (1.0, 0.2), "running_mean": (0.0, 0.1), "running_var": (1.0, 0.5),
               "cls": (0.0, 0.5), "expert_embeddings": (0.0, 1.0), "pg_gamma": (1.0, 0.2), "pg_beta": (0.0, 0.1),
               "tfts_gamma": (1.0, 0.2), "tfts_beta": (0.0, 0.1)}


def splitmix_values(key, t, kind):
    """The splitmix tensor for entry key shaped like t (float64 holding float32 values)."""
    if kind == "count":
        return torch.zeros_like(t)
    if kind == "weight":
        assert t.dim() >= 2, key
        a, b = 0.0, math.sqrt(3.0 / int(np.prod(t.shape[1:])))  # Go: math.Sqrt, correctly rounded
    else:
        a, b = SPLITMIX_AB[kind]
    v = (a + (b * splitmix_uniform(key, t.numel()))).astype(np.float32).astype(np.float64)
    return torch.from_numpy(v).reshape(t.shape)


def init_splitmix(model, name=None):
    """Loads the splitmix values into every state-dict entry. name maps a
    state-dict key to the key of its stream (and rules), when they differ."""
    name = name or (lambda k: k)
    nwk = set(norm_weight_keys(model))
    model.load_state_dict({k: splitmix_values(name(k), t, kind_of(name(k), nwk)) for k, t in model.state_dict().items()})


def sin_values(key, t, kind):
    """The "sin" tensor for entry key shaped like t (float64 holding float32 values)."""
    if kind == "count":
        return torch.zeros_like(t)
    hk = float(sum(key.encode("utf-8")) % 97)
    i = np.arange(t.numel(), dtype=np.float64)
    if kind == "running_var":
        v = 1.0 + 0.5 * np.abs(np.sin(i + hk))
    elif kind in ("norm_weight", "tfts_gamma", "pg_gamma"):
        v = 1.0 + 0.02 * np.sin(i * 0.37 + hk)
    elif kind == "expert_embeddings":
        v = np.sin(i * 0.37 + hk)
    else:
        v = 0.02 * np.sin(i * 0.37 + hk)
    return torch.from_numpy(v.astype(np.float32).astype(np.float64)).reshape(t.shape)


def init_sin(model):
    """Loads the "sin" values into every state-dict entry."""
    nwk = set(norm_weight_keys(model))
    model.load_state_dict({k: sin_values(k, t, kind_of(k, nwk)) for k, t in model.state_dict().items()})
