#!/usr/bin/python3
"""Official-format pretraining checkpoints in both directions, against PyTorch.

    /usr/bin/python3 scripts/golden_pretrain_ckpt.py             # write the fixtures (Debian python3-torch 1.13)
    PCX_GOLDEN_EXPORT=/tmp/pcx-pth go test ./nn/state ./pretrain -run GoldenPTH -count=1
    /usr/bin/python3 scripts/golden_pretrain_ckpt.py --check /tmp/pcx-pth

Fixtures (first form), under testdata/golden/:

  pretrain_ckpt_pointmae.pth  a checkpoint laid out as Point-MAE's tools/builder.py save_checkpoint writes one
      from runner_pretrain.py without DDP (the model wrapped in nn.DataParallel, so every key starts with
      "module."): {"base_model": state dict, "optimizer": AdamW's state_dict() (Point-MAE's two parameter groups,
      no weight decay for 1-d, bias and token parameters, and timm's "initial_lr"), "epoch": 300, "metrics":
      {"acc": numpy.float64}, "best_metrics": {"acc": float}}, for the tiny model of
      scripts/golden_pointmae_pretrain.py (ref.pointmae_pretrain.PointMAEPretrain: Point-MAE's key names). To stay
      small while holding the patch encoder's real 512 x 512 convolution, every tensor of two or more dimensions is
      a strided view (stride min(16, row length) on the first axis) of a short storage, and the optimiser holds state (from one real
      AdamW step) only for parameters of at most 512 elements, as torch omits the state of parameters that had no
      gradient. Values: key k, storage index i, h = (sum of k's UTF-8 bytes) % 97, s = sin(0.37 i + h):
      weights s / sqrt(fan_in), biases 0.1 s, LayerNorm and BatchNorm weights 1 + 0.1 s, running_mean 0.1 s,
      running_var 1 + 0.5 |s|, mask_token 0.02 s, num_batches_tracked 7 (float32 values).
  pretrain_ckpt_mae.pth  a checkpoint laid out as MAE's util/misc.py save_model writes one: {"model": state
      dict, "optimizer": AdamW's state_dict() after one step, "epoch": 7, "scaler": GradScaler's state_dict(),
      "args": argparse.Namespace of main_pretrain.py's arguments}, for the tiny ref.vit_mae.MaskedAutoencoderViT
      of scripts/golden_vit_mae.py (torch's default initialisation, seed 0, then MAE's sin-cos tables).
  pretrain_ckpt.json  per fixture: the configuration, the keys in order with each tensor's shape and the SHA-256
      of its contiguous float32 little-endian values (int for num_batches_tracked), fixed inputs (clouds, groups
      and a given mask; images and a given mask) and the model's loss on them in evaluation mode (float64).

The Go tests (pretrain/official_test.go) load each fixture into pcx's model, check every tensor and the loss,
write it back in the official format (pretrain.WriteOfficial) and check the written tensors.

Check (second form): for every DIR/NAME.pth that a Go test wrote with a DIR/NAME.json describing it:
  * torch.load(path) with every warning recorded (none may be raised), and torch.load(path, weights_only=True)
    (torch 1.13's restricted unpickler has no BINFLOAT opcode, so a file holding a Python float fails it;
    the JSON says whether pcx expects it to pass);
  * kind "values": every tensor equal (torch.equal, dtype and shape) and every plain value equal to the JSON's;
  * kind "pointmae": "base_model" loads into ref.pointmae_pretrain.PointMAEPretrain with
    load_state_dict(strict=True) after Point-MAE's builder.load_model renaming, gives the fixture's loss on the
    fixture's inputs, and loads into the fine-tuning model (ref.pointmae.PointTransformer) the way
    Point_MAE.py's load_model_from_ckpt does it (strict=False: only the classifier's own keys missing);
  * kind "mae": "model" loads into ref.vit_mae.MaskedAutoencoderViT with strict=True and gives the fixture's
    loss.
Output: testdata/golden/pretrain_ckpt_check.json, per file its SHA-256 (the Go tests require pcx to write
exactly that file) and the verdicts.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # scripts/: the ref package
from ref.fixture import enc_exact, enc_int, knn_indices, r12  # noqa: E402
from ref.pointmae import Group, PointTransformer  # noqa: E402
from ref.pointmae_pretrain import PointMAEPretrain  # noqa: E402
from ref.vit_mae import MaskedAutoencoderViT  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "testdata", "golden")
PM_PTH, MAE_PTH = "pretrain_ckpt_pointmae.pth", "pretrain_ckpt_mae.pth"
OUT = os.path.join(GOLDEN, "pretrain_ckpt.json")
CHECK_OUT = os.path.join(GOLDEN, "pretrain_ckpt_check.json")
TOL = 1e-9  # loss of pcx's written file against the fixture's: the same weights, so the same float64 loss

PM_CFG = dict(trans_dim=24, depth=2, num_heads=3, decoder_depth=2, decoder_num_heads=3, B=2, N=32, num_group=8,
              group_size=4, masked=2)
MAE_CFG = dict(img_size=8, patch_size=4, in_chans=3, embed_dim=12, depth=2, num_heads=3, decoder_embed_dim=8,
               decoder_depth=2, decoder_num_heads=2, B=2, masked=3)
STRIDE = 16


def build_pm():
    c = PM_CFG
    return PointMAEPretrain(c["trans_dim"], c["depth"], c["num_heads"], c["decoder_depth"], c["decoder_num_heads"],
                            c["group_size"])


def build_mae():
    return MaskedAutoencoderViT(**{k: v for k, v in MAE_CFG.items() if k not in ("B", "masked")})


def sha_f32(t):
    return hashlib.sha256(t.detach().contiguous().numpy().astype("<f4").tobytes()).hexdigest()


def entries_of(sd):
    out = []
    for k, t in sd.items():
        e = {"key": k, "shape": list(t.shape)}
        if t.dtype == torch.int64:
            e["int"] = int(t.item())
        else:
            e["sha256"] = sha_f32(t)
        out.append(e)
    return out


def pm_value(key, t):
    """Point-MAE fixture tensor for key, shaped like t (see the docstring)."""
    if key.endswith("num_batches_tracked"):
        return torch.tensor(7, dtype=torch.int64)
    shape = list(t.shape)
    inner = int(np.prod(shape[1:]))
    stride = [min(STRIDE, inner)] + [1] * (len(shape) - 1) if len(shape) >= 2 else [1] * len(shape)
    need = 1 + sum((d - 1) * s for d, s in zip(shape, stride))
    s = np.sin(0.37 * np.arange(need, dtype=np.float64) + sum(key.encode("utf-8")) % 97)
    last = key.rsplit(".", 1)[-1]
    norm_weight = last == "weight" and len(shape) == 1
    if key == "mask_token":
        v = 0.02 * s
    elif last == "running_var":
        v = 1 + 0.5 * np.abs(s)
    elif last == "running_mean":
        v = 0.1 * s
    elif norm_weight:
        v = 1 + 0.1 * s
    elif last == "bias":
        v = 0.1 * s
    else:
        v = s / math.sqrt(int(np.prod(shape[1:])))
    store = torch.from_numpy(v.astype(np.float32))
    return store.as_strided(shape, stride)


def pm_inputs():
    torch.manual_seed(0)
    b, n, g, m, k = PM_CFG["B"], PM_CFG["N"], PM_CFG["num_group"], PM_CFG["group_size"], PM_CFG["masked"]
    points = torch.randn(b, n, 3).float().double()
    center_idx = torch.stack([torch.randperm(n)[:g] for _ in range(b)])
    knn_idx = torch.from_numpy(np.stack([knn_indices(points[i].numpy(), center_idx[i].numpy(), m) for i in range(b)]))
    mask = torch.zeros(b, g, dtype=torch.bool)
    for i in range(b):
        mask[i, torch.randperm(g)[:k]] = True
    return points, center_idx, knn_idx, mask


def pm_loss(model, inp):
    points, center_idx, knn_idx, mask = inp
    neighborhood, center = Group()(points, center_idx, knn_idx)
    model.eval()
    with torch.no_grad():
        return model(neighborhood, center, mask).item()


def mae_inputs():
    b, s = MAE_CFG["B"], MAE_CFG["img_size"]
    i = np.arange(b * 3 * s * s, dtype=np.float64)
    imgs = torch.from_numpy((np.cos(0.291 * i) - 0.3 * np.sin(0.057 * i)).astype(np.float32).astype(np.float64))
    imgs = imgs.reshape(b, 3, s, s)
    L = (s // MAE_CFG["patch_size"]) ** 2
    torch.manual_seed(1)
    ids_shuffle = torch.stack([torch.randperm(L) for _ in range(b)])
    keep = L - MAE_CFG["masked"]
    mask = torch.ones(b, L, dtype=torch.long)
    for r in range(b):
        mask[r, ids_shuffle[r, :keep]] = 0
    return imgs, ids_shuffle, keep, mask


def mae_loss(model, inp):
    imgs, ids_shuffle, keep, _ = inp
    model.eval()
    with torch.no_grad():
        return model(imgs, ids_shuffle, keep)[0].item()


def write_fixtures():
    torch.set_default_dtype(torch.float64)
    cases = {}

    # Point-MAE ------------------------------------------------------------------------------------------
    model = build_pm()
    sd = {k: pm_value(k, t) for k, t in model.state_dict().items()}
    model.load_state_dict(sd, strict=True)
    inp = pm_inputs()
    loss = pm_loss(model, inp)
    # AdamW as Point-MAE's build_opti_sche makes it (two groups), stepped once with gradients on the small
    # parameters only (float32, as a real run's).
    fmodel = build_pm().float()
    fmodel.load_state_dict(sd, strict=True)
    no_decay, decay = [], []
    for name, p in fmodel.named_parameters():
        (no_decay if len(p.shape) == 1 or name.endswith(".bias") or "token" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": 0.05}],
                            lr=0.0005, weight_decay=0.05)
    for group in opt.param_groups:
        group["initial_lr"] = group["lr"]  # timm's CosineLRScheduler records it
    for p in fmodel.parameters():
        if p.numel() <= 512:
            p.grad = torch.full_like(p, 0.125)
    opt.step()
    official = {
        "base_model": {"module." + k: v for k, v in sd.items()},
        "optimizer": opt.state_dict(),
        "epoch": 300,
        "metrics": {"acc": np.float64(0.8125)},
        "best_metrics": {"acc": 0.84375},
    }
    path = os.path.join(GOLDEN, PM_PTH)
    torch.save(official, path)
    back = torch.load(path)
    assert all(torch.equal(back["base_model"]["module." + k], v) for k, v in sd.items())
    points, center_idx, knn_idx, mask = inp
    cases["pointmae"] = {
        "config": PM_CFG, "file": PM_PTH, "epoch": 300, "prefix": "module.", "entries": entries_of(sd),
        "optimizer_states": len(opt.state_dict()["state"]),
        "inputs": {"points": enc_exact(points), "center_idx": enc_int(center_idx), "knn_idx": enc_int(knn_idx),
                   "mask": enc_int(mask.long())},
        "loss": r12(loss),
    }

    # MAE --------------------------------------------------------------------------------------------------
    torch.manual_seed(0)
    model = build_mae().float()
    model.reset_pos_embed()
    opt = torch.optim.AdamW(model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.full_like(p, -0.25)
    opt.step()
    sd = model.state_dict()
    ns = argparse.Namespace(batch_size=64, epochs=400, accum_iter=1, model="mae_vit_base_patch16", input_size=224,
                            mask_ratio=0.75, norm_pix_loss=False, weight_decay=0.05, lr=0.00015, blr=1.5e-4,
                            min_lr=0.0, warmup_epochs=40, data_path="/datasets/imagenet", output_dir="./output_dir",
                            log_dir="./output_dir", device="cuda", seed=0, resume="", start_epoch=0, num_workers=10,
                            pin_mem=True, world_size=1, local_rank=-1, dist_on_itp=False, dist_url="env://",
                            distributed=False)
    official = {"model": sd, "optimizer": opt.state_dict(), "epoch": 7,
                "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                           "_growth_tracker": 0},
                "args": ns}
    path = os.path.join(GOLDEN, MAE_PTH)
    torch.save(official, path)
    dmodel = build_mae()
    dmodel.load_state_dict(sd, strict=True)
    inp = mae_inputs()
    loss = mae_loss(dmodel, inp)
    imgs, ids_shuffle, keep, mask = inp
    cases["mae"] = {
        "config": MAE_CFG, "file": MAE_PTH, "epoch": 7, "entries": entries_of(sd),
        "inputs": {"images": enc_exact(imgs), "ids_shuffle": enc_int(ids_shuffle), "mask": enc_int(mask)},
        "loss": r12(loss),
    }

    doc = {"torch": torch.__version__, "generator": "scripts/golden_pretrain_ckpt.py", "cases": cases}
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    for name in (PM_PTH, MAE_PTH):
        print("wrote", name, os.path.getsize(os.path.join(GOLDEN, name)), "bytes")
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes; losses", cases["pointmae"]["loss"],
          cases["mae"]["loss"])


def load_checked(path):
    """torch.load with every warning recorded, and with weights_only=True."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = torch.load(path)
    try:
        torch.load(path, weights_only=True)
        wo = ""
    except Exception as e:  # noqa: BLE001 - any refusal is the verdict
        wo = ("%s: %s" % (type(e).__name__, e))[:300]
    return obj, [str(w.message)[:300] for w in caught], wo


def same(a, b):
    """A loaded value against the JSON's description of it."""
    if isinstance(b, dict) and "__tensor__" in b:
        want = b["__tensor__"]
        dt = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I64": torch.int64,
              "BOOL": torch.bool}[want["dtype"]]
        return isinstance(a, torch.Tensor) and a.dtype == dt and list(a.shape) == want["shape"] and \
            torch.equal(a, torch.tensor(want["data"], dtype=dt).reshape(want["shape"]))
    if isinstance(b, dict) and "__tuple__" in b:
        return isinstance(a, tuple) and len(a) == len(b["__tuple__"]) and all(
            same(x, y) for x, y in zip(a, b["__tuple__"]))
    if isinstance(b, dict):
        return isinstance(a, dict) and list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def check_pointmae(obj, side, fixture):
    out = {"keys": list(obj.keys()), "epoch": obj.get("epoch")}
    sd = {k.replace("module.", ""): v for k, v in obj["base_model"].items()}  # builder.load_model
    model = build_pm()
    model.load_state_dict(sd, strict=True)
    out["strict_load"] = True
    c = fixture["cases"]["pointmae"]
    ins = c["inputs"]
    inp = (torch.tensor(ins["points"]["data"]).reshape(ins["points"]["shape"]),
           torch.tensor(ins["center_idx"]["data"]).reshape(ins["center_idx"]["shape"]),
           torch.tensor(ins["knn_idx"]["data"]).reshape(ins["knn_idx"]["shape"]),
           torch.tensor(ins["mask"]["data"]).reshape(ins["mask"]["shape"]).bool())
    out["loss"] = r12(pm_loss(model, inp))
    out["loss_rel_diff"] = abs(out["loss"] - c["loss"]) / abs(c["loss"])
    out["pcx_loss_rel_diff"] = abs(out["loss"] - side["pcx_loss"]) / abs(out["loss"])
    # Point_MAE.py's PointTransformer.load_model_from_ckpt, as fine-tuning runs it.
    base = {}
    for k, v in sd.items():
        if k.startswith("MAE_encoder"):
            base[k[len("MAE_encoder."):]] = v
        elif k.startswith("base_model"):
            base[k[len("base_model."):]] = v
        else:
            base[k] = v
    ft = PointTransformer(PM_CFG["trans_dim"], PM_CFG["depth"], PM_CFG["num_heads"], 40)
    inc = ft.load_state_dict(base, strict=False)
    out["finetune_missing"] = sorted(inc.missing_keys)
    out["finetune_unexpected_prefixes"] = sorted({k.split(".")[0] for k in inc.unexpected_keys})
    ok_missing = all(k.startswith(("cls_token", "cls_pos", "cls_head_finetune", "head")) for k in inc.missing_keys)
    out["finetune_ok"] = ok_missing and set(out["finetune_unexpected_prefixes"]) <= {
        "mask_token", "decoder_pos_embed", "MAE_decoder", "increase_dim"}
    out["ok"] = out["loss_rel_diff"] <= TOL and out["pcx_loss_rel_diff"] <= 1e-4 and out["finetune_ok"]
    return out


def check_mae(obj, side, fixture):
    out = {"keys": list(obj.keys()), "epoch": obj.get("epoch")}
    model = build_mae()
    model.load_state_dict(obj["model"], strict=True)
    out["strict_load"] = True
    c = fixture["cases"]["mae"]
    ins = c["inputs"]
    imgs = torch.tensor(ins["images"]["data"]).reshape(ins["images"]["shape"])
    ids = torch.tensor(ins["ids_shuffle"]["data"]).reshape(ins["ids_shuffle"]["shape"])
    keep = ids.shape[1] - c["config"]["masked"]
    out["loss"] = r12(mae_loss(model, (imgs, ids, keep, None)))
    out["loss_rel_diff"] = abs(out["loss"] - c["loss"]) / abs(c["loss"])
    out["pcx_loss_rel_diff"] = abs(out["loss"] - side["pcx_loss"]) / abs(out["loss"])
    out["ok"] = out["loss_rel_diff"] <= TOL and out["pcx_loss_rel_diff"] <= 1e-4
    return out


def check(folder):
    torch.set_default_dtype(torch.float64)
    fixture = json.load(open(OUT))
    names = sorted(f[:-4] for f in os.listdir(folder)
                   if f.endswith(".pth") and os.path.exists(os.path.join(folder, f[:-4] + ".json")))
    if not names:
        sys.exit("no NAME.pth with NAME.json in %s: run the Go tests with PCX_GOLDEN_EXPORT=%s first" % (folder, folder))
    files = {}
    for name in names:
        path = os.path.join(folder, name + ".pth")
        side = json.load(open(os.path.join(folder, name + ".json")))
        res = {"sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(), "kind": side["kind"]}
        try:
            obj, caught, wo = load_checked(path)
            res["load_ok"], res["warnings"], res["weights_only_error"] = True, caught, wo
            res["weights_only_ok"] = wo == ""
            if side["kind"] == "values":
                res["values_equal"] = same(obj, side["value"])
                res["ok"] = res["values_equal"]
            elif side["kind"] == "pointmae":
                res.update(check_pointmae(obj, side, fixture))
            elif side["kind"] == "mae":
                res.update(check_mae(obj, side, fixture))
            res["ok"] = res.get("ok", False) and not caught and res["weights_only_ok"] == side["weights_only"]
        except Exception as e:  # noqa: BLE001 - recorded as the verdict
            res["ok"], res["error"] = False, ("%s: %s" % (type(e).__name__, e))[:2000]
        files[name] = res
        print("%-24s %s%s" % (name, "ok" if res["ok"] else "FAILED", "" if res["ok"] else " " + json.dumps(res)[:1500]))
    doc = {"torch": torch.__version__, "generator": "scripts/golden_pretrain_ckpt.py --check", "files": files}
    with open(CHECK_OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.normpath(CHECK_OUT))
    bad = [n for n, r in files.items() if not r["ok"]]
    if bad:
        sys.exit("FAILED: " + ", ".join(bad))


if __name__ == "__main__":
    if len(sys.argv) == 1:
        write_fixtures()
    elif len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        sys.exit(__doc__)
