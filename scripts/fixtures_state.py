#!/usr/bin/python3
"""Write the small checkpoint files that nn/state's Go tests read.

The .pth files come from PyTorch itself (torch.save), so that the Go reader
is checked against what the real tool writes, not only against files built
by hand. The output is deterministic; run from anywhere:

    /usr/bin/python3 scripts/fixtures_state.py

It needs Debian's python3-torch (1.13) and python3-numpy. It writes into
testdata/state/ next to this script's parent directory:

  pointmae.pth          zip format (torch >= 1.6), shaped like a Point-MAE
                        checkpoint: base_model, optimizer, epoch, metrics,
                        best_metrics; tensors include a transposed view, slices
                        of one shared storage with offsets, float16,
                        bfloat16, float64, int64, int32, bool, a 0-d tensor
                        and an nn.Parameter
  pointmae_legacy.pth   the same object in the legacy format
                        (_use_new_zipfile_serialization=False); torch names
                        its storages after memory addresses, so they are
                        renamed "0", "1", ... to make the file reproducible
  pointmae_proto4.pth   the same object, zip format, pickle protocol 4
                        (frames, MEMOIZE, STACK_GLOBAL, SHORT_BINBYTES)
  plain_state.pth       a real nn.Module state_dict() saved at the top level
                        (an OrderedDict with _metadata)
  malicious.pth         a hand-made zip whose data.pkl calls os.system; it is
                        only written, never loaded here
  truncated.pth         pointmae.pth cut short
  truncated_legacy.pth  pointmae_legacy.pth cut inside the storage data
  hand.safetensors      a safetensors file written with struct and json (the
                        safetensors package is not installed): F32, F16 and
                        I64 tensors, metadata, data not in name order
  expected.json         for each file: every tensor's dtype, shape and values
                        (as the Go reader returns them: float32 for float
                        tensors, int64 for integer and bool ones) and the
                        other values of the checkpoint
"""

import collections
import io
import json
import os
import pickle
import pickletools
import struct
import zipfile

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "state")

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def describe(t):
    """The expected Go view of a tensor: dtype, shape, values in row-major
    order (float tensors as float32 values, the others as integers)."""
    t = t.detach()
    d = {"dtype": DTYPES[t.dtype], "shape": list(t.shape)}
    if t.dtype.is_floating_point:
        d["f32"] = [float(v) for v in t.to(torch.float32).reshape(-1).tolist()]
    else:
        d["i64"] = [int(v) for v in t.to(torch.int64).reshape(-1).tolist()]
    return d


def checkpoint():
    torch.manual_seed(7)
    p = "module.MAE_encoder."
    qkv = torch.randn(6, 4)
    # A transposed view: saved as the (3, 4) storage with strides (1, 4).
    proj_base = torch.randn(4, 3)
    proj = proj_base.t()
    assert not proj.is_contiguous()
    # Two overlapping slices of one storage: offsets 3 and 5.
    big = torch.randn(12)
    norm_w = big[3:7]
    norm_b = big[5:9]
    # A strided 2-d slice (every other column) of another storage.
    grid = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    every_other = grid[1:, ::2]
    base_model = collections.OrderedDict()
    base_model[p + "blocks.blocks.0.attn.qkv.weight"] = qkv
    base_model[p + "blocks.blocks.0.attn.qkv.bias"] = torch.randn(6)
    base_model[p + "blocks.blocks.0.attn.proj.weight"] = proj
    base_model[p + "norm.weight"] = norm_w
    base_model[p + "norm.bias"] = norm_b
    base_model[p + "pos_embed.0.weight"] = torch.randn(2, 3).half()
    base_model[p + "pos_embed.0.bias"] = torch.randn(3).to(torch.bfloat16)
    base_model[p + "reduce_dim.weight"] = torch.randn(2, 2, dtype=torch.float64)
    base_model[p + "encoder.first_conv.1.num_batches_tracked"] = torch.tensor(5)
    base_model[p + "encoder.first_conv.1.running_mean"] = every_other
    base_model[p + "cls_token"] = torch.nn.Parameter(torch.randn(1, 1, 4))
    base_model["module.cls_head_finetune.0.weight"] = torch.tensor(0.25)
    base_model["module.mask_ratio"] = torch.tensor([[True, False, True]])
    base_model["module.group_size"] = torch.tensor([32, -7], dtype=torch.int32)
    base_model["module.empty"] = torch.zeros(0, 3)
    optimizer = {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.full((2,), 0.5)}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "weight_decay": 0.05, "params": [0]}],
    }
    obj = {
        "base_model": base_model,
        "optimizer": optimizer,
        "epoch": 3,
        "metrics": {"acc": np.float64(91.25)},
        "best_metrics": {"acc": np.float32(92.5), "n": np.int64(-7)},
    }
    return obj


def expected_checkpoint(obj):
    return {
        "base_model": {k: describe(v) for k, v in obj["base_model"].items()},
        "base_model_keys": list(obj["base_model"].keys()),
        "exp_avg": describe(obj["optimizer"]["state"][0]["exp_avg"]),
        "step": describe(obj["optimizer"]["state"][0]["step"]),
        "lr": obj["optimizer"]["param_groups"][0]["lr"],
        "betas": list(obj["optimizer"]["param_groups"][0]["betas"]),
        "epoch": obj["epoch"],
        "metrics_acc": float(obj["metrics"]["acc"]),
        "best_acc": float(obj["best_metrics"]["acc"]),
        "best_n": int(obj["best_metrics"]["n"]),
        "top_keys": list(obj.keys()),
    }


def save(name, obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    data = buf.getvalue()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return data


ELSIZE = {
    "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _StorageScan(pickle.Unpickler):
    """Reads a legacy object pickle without torch: records each storage key
    (in order of first use) and its element size."""

    def __init__(self, f):
        super().__init__(f)
        self.elsize = {}

    def find_class(self, module, name):
        if module == "torch" and name in ELSIZE:
            return _StorageType(name)
        if module.startswith("torch"):
            return lambda *args: None
        return super().find_class(module, name)

    def persistent_load(self, pid):
        self.elsize.setdefault(pid[2], ELSIZE[pid[1].name])


def normalize_legacy(data):
    """Make a legacy-format file deterministic. torch names its storages after
    their memory addresses (str(storage._cdata)) and writes them in the sorted
    order of those names; rename them "0", "1", ... in order of first use in
    the object pickle and write the key list and the storages in that order."""
    f = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, sys_info
        pickle.load(f)
    start = f.tell()
    scan = _StorageScan(f)
    scan.load()
    end = f.tell()
    keys = pickle.load(f)
    records = {}
    for key in keys:  # each storage: int64 element count, then the elements
        raw = f.read(8)
        count = struct.unpack("<q", raw)[0]
        records[key] = raw + f.read(count * scan.elsize[key])
    assert f.read() == b""
    order = list(scan.elsize)
    assert sorted(order) == sorted(keys)
    body = data[start:end]
    for i, key in enumerate(order):
        old = b"X" + struct.pack("<I", len(key)) + key.encode()
        new = b"X" + struct.pack("<I", len(str(i))) + str(i).encode()
        assert body.count(old) >= 1, key
        body = body.replace(old, new)
    out = data[:start] + body + pickle.dumps([str(i) for i in range(len(order))], protocol=2)
    return out + b"".join(records[key] for key in order)


def malicious_zip():
    """A zip in torch's layout whose pickle calls os.system('echo pwned').
    Only a loader that runs pickled code would run it; this script never
    loads it."""
    pkl = b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("malicious/data.pkl", pkl), ("malicious/version", b"3\n")):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    return buf.getvalue()


def hand_safetensors():
    """A safetensors file written by hand: data in the order b, a, c (not
    alphabetical), header keys in yet another order, metadata."""
    torch.manual_seed(11)
    b = torch.randn(2, 3)
    a = torch.randn(3).half()
    c = torch.tensor([[1, -2], [3, 1 << 40]], dtype=torch.int64)
    blobs = [
        ("b.weight", "F32", b, struct.pack("<6f", *b.reshape(-1).tolist())),
        ("a.half", "F16", a, a.numpy().astype("<f2").tobytes()),
        ("c.index", "I64", c, struct.pack("<4q", *c.reshape(-1).tolist())),
    ]
    header = {"__metadata__": {"format": "pt", "source": "fixtures_state.py"}}
    offset = 0
    entries = {}
    for name, dtype, t, raw in blobs:
        entries[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    for name in ("c.index", "a.half", "b.weight"):
        header[name] = entries[name]
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    data = struct.pack("<Q", len(js)) + js + b"".join(raw for _, _, _, raw in blobs)
    expected = {
        "keys": [name for name, _, _, _ in blobs],
        "metadata": header["__metadata__"],
        "tensors": {name: describe(t) for name, _, t, _ in blobs},
    }
    return data, expected


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    obj = checkpoint()
    zipped = save("pointmae.pth", obj)
    legacy = save("pointmae_legacy.pth", obj, _use_new_zipfile_serialization=False)
    legacy = normalize_legacy(legacy)
    with open(os.path.join(OUT, "pointmae_legacy.pth"), "wb") as f:
        f.write(legacy)
    save("pointmae_proto4.pth", obj, pickle_protocol=4)
    expected["pointmae"] = expected_checkpoint(obj)

    # Check that torch reads its own files back as described.
    for name in ("pointmae.pth", "pointmae_legacy.pth", "pointmae_proto4.pth"):
        back = torch.load(os.path.join(OUT, name))
        for k, v in obj["base_model"].items():
            assert torch.equal(back["base_model"][k], v), (name, k)

    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    model.train()
    model(torch.randn(4, 3))  # update the running statistics
    sd = model.state_dict()
    save("plain_state.pth", sd)
    expected["plain_state"] = {"keys": list(sd.keys()), "tensors": {k: describe(v) for k, v in sd.items()}}

    with open(os.path.join(OUT, "malicious.pth"), "wb") as f:
        f.write(malicious_zip())
    with open(os.path.join(OUT, "truncated.pth"), "wb") as f:
        f.write(zipped[: len(zipped) // 2])
    with open(os.path.join(OUT, "truncated_legacy.pth"), "wb") as f:
        f.write(legacy[: len(legacy) - 10])

    data, exp = hand_safetensors()
    with open(os.path.join(OUT, "hand.safetensors"), "wb") as f:
        f.write(data)
    expected["hand_safetensors"] = exp

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
