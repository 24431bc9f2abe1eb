#!/usr/bin/python3
"""Check pcx's checkpoints from the PyTorch side: strict load, same logits.

    PCX_GOLDEN_EXPORT=/tmp/pcx-export go test ./backbone ./adapters -run GoldenExport -count=1
    /usr/bin/python3 scripts/golden_export.py /tmp/pcx-export      # Debian python3-torch 1.13

The Go tests (backbone/golden_export_test.go, adapters/golden_export_test.go)
write, for each case, the safetensors checkpoint pcx writes for a tiny model
(weights from the shared "splitmix" formula, optimiser buffers, metadata)
and a JSON file naming the golden fixture case that describes the model and
its inputs, with pcx's eval-mode logits on those inputs.

For each case this script
  * reads the safetensors file by hand (8-byte little-endian header length,
    JSON header, raw little-endian data; the safetensors package is not
    needed) and checks its pcx_sha256 metadata: the SHA-256 of the file with
    those 64 hex digits replaced by '0';
  * builds the PyTorch reference model the golden fixtures come from
    (scripts/ref: ref.pointmae.PointTransformer, ref.dapt.PointTransformerDAPT
    or ref.daptx.PointTransformerDAPTX), whose modules have PyTorch's shapes
    (Conv1d kernel-1 weights out x in x 1);
  * loads the checkpoint's tensors, less the "optimizer." entries, with
    load_state_dict(strict=True), exactly as a pcx user would:

        sd = {k: v for k, v in load_file("best.safetensors").items() if not k.startswith("optimizer.")}
        model.load_state_dict(sd)

  * runs the model in eval mode (float64) and compares its logits with
    pcx's: max |torch - pcx| / max |torch| must be at most 1e-4.

Output: testdata/golden/export.json, per case the SHA-256 of the checkpoint it
checked (the Go tests require pcx to write exactly that file), whether the
strict load and the checksum passed, the relative difference and PyTorch's
logits (the Go tests compare pcx's logits with them).
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # scripts/: the ref package
from ref.dapt import PointTransformerDAPT
from ref.daptx import PointTransformerDAPTX
from ref.pointmae import PointTransformer

GOLDEN = os.path.join(HERE, "..", "testdata", "golden")
OUT = os.path.join(GOLDEN, "export.json")
TOL = 1e-4

torch.set_default_dtype(torch.float64)

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1",
          "BOOL": "?"}


def read_safetensors(path):
    """Returns (tensors, metadata, checksum_ok, sha256 of the file)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=np.dtype(DTYPES[e["dtype"]])).reshape(e["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    want = meta.get("pcx_sha256", "")
    field = ('"pcx_sha256":"%s"' % want).encode()
    ok = len(want) == 64 and raw.count(field) == 1 and \
        hashlib.sha256(raw.replace(field, ('"pcx_sha256":"%s"' % ("0" * 64)).encode())).hexdigest() == want
    return tensors, meta, ok, hashlib.sha256(raw).hexdigest()


def build(kind, cfg):
    if kind == "pointmae":
        return PointTransformer(cfg["trans_dim"], cfg["depth"], cfg["num_heads"], cfg["cls_dim"])
    if kind == "dapt":
        return PointTransformerDAPT(cfg["trans_dim"], cfg["depth"], cfg["num_heads"], cfg["cls_dim"], cfg["rank"],
                                    cfg["num_group"], cfg["class_token"], cfg["prompt_token"], cfg["patch_token"])
    if kind == "daptx":
        return PointTransformerDAPTX(cfg["trans_dim"], cfg["depth"], cfg["num_heads"], cfg["cls_dim"],
                                     cfg["num_group"], cfg["smoa_heads"], cfg["num_experts"], cfg["rank"],
                                     keep_dapt=cfg.get("keep_dapt", False), adapter_rank=cfg.get("adapter_rank"))
    raise ValueError(kind)


def tensor(t, dtype):
    return torch.tensor(t["data"], dtype=dtype).reshape(t["shape"])


def check(folder, name):
    side = json.load(open(os.path.join(folder, name + ".json")))
    fixture = json.load(open(os.path.join(GOLDEN, side["fixture"])))["cases"]
    cfg = fixture[side["case"]]["config"]
    inputs = fixture[side["inputs_case"]]["inputs"]
    tensors, meta, checksum_ok, sha = read_safetensors(os.path.join(folder, name + ".safetensors"))
    sd = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    model = build(side["model"], cfg)
    out = {"export_sha256": sha, "checksum_ok": checksum_ok, "metadata_epoch": meta.get("epoch"),
           "strict_load": False, "load_error": "", "state_entries": len(sd),
           "optimizer_entries": len(tensors) - len(sd)}
    try:
        model.load_state_dict(sd, strict=True)
        out["strict_load"] = True
    except RuntimeError as e:
        out["load_error"] = str(e)[:2000]
        print(name, "strict load FAILED:", str(e)[:2000])
        return out
    model.eval()
    with torch.no_grad():
        y = model(tensor(inputs["points"], torch.float64), tensor(inputs["center_idx"], torch.long),
                  tensor(inputs["knn_idx"], torch.long))
    if isinstance(y, tuple):  # DAPT-X: (logits, balance loss)
        y = y[0]
    pcx = torch.tensor(side["pcx_logits"], dtype=torch.float64).reshape(side["shape"])
    rel = ((y - pcx).abs().max() / y.abs().max()).item()
    out["max_rel_diff"] = float("%.6g" % rel)
    out["torch_logits"] = {"shape": list(y.shape), "data": [float("%.12g" % v) for v in y.reshape(-1).tolist()]}
    print("%-16s strict load ok, checksum %s, %d state + %d optimiser entries, logits max rel diff %.3g %s" % (
        name, "ok" if checksum_ok else "BAD", out["state_entries"], out["optimizer_entries"], rel,
        "ok" if rel <= TOL else "TOO LARGE"))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    names = sorted(f[:-len(".safetensors")] for f in os.listdir(folder) if f.endswith(".safetensors"))
    if not names:
        sys.exit("no .safetensors in %s: run the Go tests with PCX_GOLDEN_EXPORT=%s first" % (folder, folder))
    cases = {name: check(folder, name) for name in names}
    doc = {"torch": torch.__version__, "generator": "scripts/golden_export.py", "tolerance": TOL, "cases": cases}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))
    bad = [n for n, c in cases.items() if not (c["strict_load"] and c["checksum_ok"] and c.get("max_rel_diff", 1) <= TOL)]
    if bad:
        sys.exit("FAILED: " + ", ".join(bad))


if __name__ == "__main__":
    main()
