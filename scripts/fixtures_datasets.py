#!/usr/bin/python3
"""Write the small data-set fixtures that package datasets tests read.

Run with Debian's python3 (python3-h5py, python3-numpy):

    /usr/bin/python3 scripts/fixtures_datasets.py

Everything goes under testdata/datasets/ and is written the way the real
tools write it: h5py for ScanObjectNN, pickle.dump of numpy arrays for
Point-MAE's ModelNet40 .dat files, np.savetxt for modelnet40_normal_resampled,
plain OFF text for the ModelNet40 mesh tree. All random values come from fixed
seeds, so rerunning the script gives the same numbers.
"""

import json
import os
import pickle
import shutil

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "datasets")

SCANOBJECTNN_CLASSES = 15


def rng(seed):
    return np.random.default_rng(seed)


def write_h5(path, data, label, **kw):
    """Write one ScanObjectNN-style file: datasets 'data' and 'label'."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    libver = kw.pop("libver", None)
    extra = kw.pop("extra", {})
    kw.setdefault("track_times", False)
    if libver:
        # Open through the low-level API so that the root group carries no
        # timestamps (the v2 object headers of libver='latest' files would
        # otherwise differ on every run).
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fcpl.set_obj_track_times(False)
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
        f = h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl))
    else:
        f = h5py.File(path, "w")
    with f:
        if data is not None:
            f.create_dataset("data", data=data, **kw)
        if label is not None:
            f.create_dataset("label", data=label)
        for k, v in extra.items():
            f.create_dataset(k, data=v)


def clouds(seed, n, p=64):
    return rng(seed).standard_normal((n, p, 3)).astype(np.float32)


def scanobjectnn():
    base = os.path.join(ROOT, "scanobjectnn")
    # Labels cover the class range: train 0..5 and 14, test 7, 8, 14.
    train_label = np.array([0, 1, 2, 3, 4, 14], dtype=np.int64)
    test_label = np.array([7, 8, 14], dtype=np.int64)
    # objbg: labels int64 (N,), as the released files; an extra 'mask' key
    # like the released files, which loaders ignore.
    write_h5(os.path.join(base, "main_split", "training_objectdataset.h5"),
             clouds(1, 6), train_label,
             extra={"mask": np.zeros((6, 64), dtype=np.int64)})
    write_h5(os.path.join(base, "main_split", "test_objectdataset.h5"),
             clouds(2, 3), test_label)
    # hardest (PB_T50_RS): labels int64 (N, 1).
    write_h5(os.path.join(base, "main_split", "training_objectdataset_augmentedrot_scale75.h5"),
             clouds(3, 6), train_label.reshape(-1, 1))
    write_h5(os.path.join(base, "main_split", "test_objectdataset_augmentedrot_scale75.h5"),
             clouds(4, 3), test_label.reshape(-1, 1))
    # objonly: labels int32 (N,), data float64 (converted on load).
    write_h5(os.path.join(base, "main_split_nobg", "training_objectdataset.h5"),
             clouds(5, 6).astype(np.float64), train_label.astype(np.int32))
    write_h5(os.path.join(base, "main_split_nobg", "test_objectdataset.h5"),
             clouds(6, 3).astype(np.float64), test_label.astype(np.int32))

    h5 = os.path.join(ROOT, "h5")
    lab = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
    # Readable layouts besides contiguous.
    write_h5(os.path.join(h5, "gzip.h5"), clouds(7, 6), lab,
             chunks=(2, 64, 3), compression="gzip", shuffle=True)
    # libver='latest' chunked: the layout the pure-Go reader cannot follow.
    write_h5(os.path.join(h5, "latest_chunked.h5"), clouds(8, 6), lab,
             libver="latest", chunks=(2, 64, 3))
    # libver='latest' but contiguous: readable.
    write_h5(os.path.join(h5, "latest_contiguous.h5"), clouds(8, 6), lab,
             libver="latest")
    # Bad files.
    write_h5(os.path.join(h5, "bad_nodata.h5"), None, lab,
             extra={"points": clouds(9, 6)})
    write_h5(os.path.join(h5, "bad_nolabel.h5"), clouds(9, 6), None)
    write_h5(os.path.join(h5, "bad_count.h5"), clouds(10, 6), lab[:5])
    write_h5(os.path.join(h5, "bad_rank.h5"), clouds(11, 6).reshape(6, 192), lab)
    write_h5(os.path.join(h5, "bad_width.h5"), clouds(11, 6).reshape(6, 96, 2), lab)
    write_h5(os.path.join(h5, "bad_dtype.h5"), (clouds(12, 6) * 100).astype(np.int32), lab)
    write_h5(os.path.join(h5, "bad_label_range.h5"), clouds(13, 6),
             np.array([0, 1, 2, 15, 4, 5], dtype=np.int64))
    write_h5(os.path.join(h5, "bad_label_negative.h5"), clouds(13, 6),
             np.array([0, 1, -1, 3, 4, 5], dtype=np.int64))
    write_h5(os.path.join(h5, "bad_label_float.h5"), clouds(13, 6),
             np.array([0, 1, 2.5, 3, 4, 5], dtype=np.float32))
    nan = clouds(14, 6)
    nan[4, 10, 1] = np.nan
    write_h5(os.path.join(h5, "bad_nan.h5"), nan, lab)
    # A truncated copy of a good file.
    with open(os.path.join(h5, "gzip.h5"), "rb") as f:
        raw = f.read()
    with open(os.path.join(h5, "bad_truncated.h5"), "wb") as f:
        f.write(raw[: len(raw) // 2])
    # A local heap (the root group's name table) that claims 16 GiB: the
    # pure-Go reader would try to allocate it.
    with open(os.path.join(base, "main_split", "training_objectdataset.h5"), "rb") as f:
        raw = bytearray(f.read())
    at = raw.index(b"HEAP")
    raw[at + 8:at + 16] = (16 << 30).to_bytes(8, "little")
    with open(os.path.join(h5, "bad_heap.h5"), "wb") as f:
        f.write(raw)
    # A chunk index entry (v1 B-tree node of type 1) claiming a 4 GiB chunk.
    with open(os.path.join(h5, "gzip.h5"), "rb") as f:
        raw = bytearray(f.read())
    at = next(i for i in range(len(raw)) if raw[i:i + 4] == b"TREE" and raw[i + 4] == 1)
    raw[at + 24:at + 28] = b"\xff\xff\xff\xff"
    with open(os.path.join(h5, "bad_chunk_size.h5"), "wb") as f:
        f.write(raw)
    with open(os.path.join(h5, "bad_empty.h5"), "wb"):
        pass
    with open(os.path.join(h5, "bad_text.h5"), "w") as f:
        f.write("this is not an HDF5 file\n")


def modelnet_items(seed, labels, p=32):
    r = rng(seed)
    points, labs = [], []
    for lab in labels:
        xyz = (r.standard_normal((p, 3)) * 0.5 + lab).astype(np.float32)
        nrm = r.standard_normal((p, 3)).astype(np.float32)
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        points.append(np.concatenate([xyz, nrm], axis=1).astype(np.float32))
        labs.append(np.array([lab]).astype(np.int32))
    return points, labs


def dump(path, obj, protocol=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def modelnet_dat():
    base = os.path.join(ROOT, "modelnet40_dat")
    # Exactly as Point-MAE's ModelNetDataset writes its cache.
    tp, tl = modelnet_items(20, [0, 5, 39, 12])
    dump(os.path.join(base, "modelnet40_train_8192pts_fps.dat"), [tp, tl])
    sp, sl = modelnet_items(21, [3, 39])
    dump(os.path.join(base, "modelnet40_test_8192pts_fps.dat"), [sp, sl])

    pk = os.path.join(ROOT, "pickle")
    # Other protocols and containers the reader accepts.
    dump(os.path.join(pk, "tuple_p2.dat"), (tp, tl), protocol=2)
    dump(os.path.join(pk, "p5.dat"), [tp, tl], protocol=5)
    # numpy 2 spells the module numpy._core; protocol 2 names globals in
    # plain text, so renaming is a byte substitution.
    with open(os.path.join(pk, "tuple_p2.dat"), "rb") as f:
        raw = f.read()
    raw2 = raw.replace(b"cnumpy.core.multiarray\n", b"cnumpy._core.multiarray\n")
    assert raw2 != raw
    with open(os.path.join(pk, "numpy2_p2.dat"), "wb") as f:
        f.write(raw2)
    # Labels as numpy scalars and plain ints.
    dump(os.path.join(pk, "scalar_labels.dat"),
         [tp, [np.int64(int(l[0])) for l in tl]])
    dump(os.path.join(pk, "int_labels.dat"), [tp, [int(l[0]) for l in tl]])
    # float64 points (converted on load).
    dump(os.path.join(pk, "float64.dat"), [[p.astype(np.float64) for p in tp], tl])
    # Fortran-ordered arrays.
    dump(os.path.join(pk, "fortran.dat"), [[np.asfortranarray(p) for p in tp], tl])

    # Bad files.
    dump(os.path.join(pk, "bad_shape.dat"), [[p[:, :2].copy() for p in tp], tl])
    dump(os.path.join(pk, "bad_lengths.dat"), [tp, tl[:3]])
    dump(os.path.join(pk, "bad_label_shape.dat"), [tp, [np.array([l[0], l[0]], dtype=np.int32) for l in tl]])
    dump(os.path.join(pk, "bad_label_range.dat"), [tp, tl[:3] + [np.array([40], dtype=np.int32)]])
    dump(os.path.join(pk, "bad_not_list.dat"), {"points": tp, "labels": tl})
    dump(os.path.join(pk, "bad_three.dat"), [tp, tl, tl])
    dump(os.path.join(pk, "bad_dtype.dat"), [[(p * 100).astype(np.int32) for p in tp], tl])
    nan = [p.copy() for p in tp]
    nan[2][7, 0] = np.nan
    dump(os.path.join(pk, "bad_nan.dat"), [nan, tl])
    with open(os.path.join(base, "modelnet40_train_8192pts_fps.dat"), "rb") as f:
        raw = f.read()
    with open(os.path.join(pk, "bad_truncated.dat"), "wb") as f:
        f.write(raw[: len(raw) * 2 // 3])
    with open(os.path.join(pk, "bad_empty.dat"), "wb"):
        pass
    # A pickle that would run a shell command if unpickled by Python. It is
    # written as bytes here and never loaded; the Go reader must refuse it.
    with open(os.path.join(pk, "bad_global.dat"), "wb") as f:
        f.write(b"cos\nsystem\n(S'echo pwned'\ntR.")


SHAPES = ["airplane", "chair", "night_stand"]


def modelnet_txt():
    base = os.path.join(ROOT, "modelnet40_normal_resampled")
    r = rng(30)
    train, test = [], []
    for ci, name in enumerate(SHAPES):
        os.makedirs(os.path.join(base, name), exist_ok=True)
        for k in range(1, 4):
            item = "%s_%04d" % (name, k)
            (train if k < 3 else test).append(item)
            xyz = r.standard_normal((40, 3)) * (ci + 1) + 2.0
            nrm = r.standard_normal((40, 3))
            nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
            np.savetxt(os.path.join(base, name, item + ".txt"),
                       np.concatenate([xyz, nrm], axis=1), fmt="%.6f", delimiter=",")
    with open(os.path.join(base, "modelnet40_shape_names.txt"), "w") as f:
        f.write("\n".join(SHAPES) + "\n")
    with open(os.path.join(base, "modelnet40_train.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    with open(os.path.join(base, "modelnet40_test.txt"), "w") as f:
        f.write("\n".join(test) + "\n")


def off_box(path, scale, shift):
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)
    v = v * scale + shift
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    with open(path, "w") as f:
        f.write("OFF\n%d %d 0\n" % (len(v), len(quads)))
        for p in v:
            f.write("%.6f %.6f %.6f\n" % tuple(p))
        for q in quads:
            f.write("4 %d %d %d %d\n" % tuple(q))


def off_tetra(path, scale, shift):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64) * scale + shift
    tris = [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]
    with open(path, "w") as f:
        # ModelNet's own files sometimes put the counts on the OFF line.
        f.write("OFF\n%d %d 0\n" % (len(v), len(tris)))
        for p in v:
            f.write("%.6f %.6f %.6f\n" % tuple(p))
        for t in tris:
            f.write("3 %d %d %d\n" % tuple(t))


def modelnet_off():
    base = os.path.join(ROOT, "ModelNet40")
    r = rng(40)
    for name, writer in (("box", off_box), ("cone", off_tetra)):
        for split, ks in (("train", (1, 2)), ("test", (3,))):
            d = os.path.join(base, name, split)
            os.makedirs(d, exist_ok=True)
            for k in ks:
                writer(os.path.join(d, "%s_%04d.off" % (name, k)),
                       float(r.uniform(1, 3)), r.uniform(-1, 1, size=3))


def pc_normalize(pc):
    # Point-MAE's datasets/ModelNetDataset.py pc_normalize.
    centroid = np.mean(pc, axis=0)
    pc = pc - centroid
    m = np.max(np.sqrt(np.sum(pc ** 2, axis=1)))
    return pc / m


def expected():
    """What numpy sees in the fixtures, for the Go tests to compare with."""
    out = {"h5": {}, "dat": {}, "txt": {}}
    for rel in ["scanobjectnn/main_split/training_objectdataset.h5",
                "scanobjectnn/main_split/test_objectdataset.h5",
                "scanobjectnn/main_split/training_objectdataset_augmentedrot_scale75.h5",
                "scanobjectnn/main_split/test_objectdataset_augmentedrot_scale75.h5",
                "scanobjectnn/main_split_nobg/training_objectdataset.h5",
                "scanobjectnn/main_split_nobg/test_objectdataset.h5",
                "h5/gzip.h5", "h5/latest_contiguous.h5"]:
        with h5py.File(os.path.join(ROOT, rel), "r") as f:
            data = f["data"][:].astype(np.float32)
            label = f["label"][:].astype(int).reshape(-1)
        out["h5"][rel] = {
            "shape": list(data.shape),
            "labels": label.tolist(),
            "sum": float(data.astype(np.float64).sum()),
            "last": [float(v) for v in data[-1, -1]],
        }
    for rel in ["modelnet40_dat/modelnet40_train_8192pts_fps.dat",
                "modelnet40_dat/modelnet40_test_8192pts_fps.dat"]:
        with open(os.path.join(ROOT, rel), "rb") as f:
            pts, labs = pickle.load(f)
        out["dat"][rel] = {
            "shape": [len(pts)] + list(pts[0].shape),
            "labels": [int(l[0]) for l in labs],
            "xyz_sum": float(sum(p[:, :3].astype(np.float64).sum() for p in pts)),
            "normal_sum": float(sum(p[:, 3:].astype(np.float64).sum() for p in pts)),
            "last": [float(v) for v in pts[-1][-1]],
            # Point-MAE's __getitem__: first npoints, then pc_normalize.
            "normalized16_first": [float(v) for v in pc_normalize(pts[0][:16, :3])[0]],
            "normalized16_abs_sum": float(np.abs(pc_normalize(pts[0][:16, :3]).astype(np.float64)).sum()),
        }
    base = os.path.join(ROOT, "modelnet40_normal_resampled")
    for split in ("train", "test"):
        with open(os.path.join(base, "modelnet40_%s.txt" % split)) as f:
            items = [l.strip() for l in f if l.strip()]
        rows = []
        for it in items:
            cls = it[: it.rindex("_")]
            a = np.loadtxt(os.path.join(base, cls, it + ".txt"), delimiter=",").astype(np.float32)
            rows.append({"item": it, "points": a.shape[0], "sum": float(a[:, :3].astype(np.float64).sum()),
                         "normalized_abs_sum": float(np.abs(pc_normalize(a[:, :3]).astype(np.float64)).sum())})
        out["txt"][split] = rows
    with open(os.path.join(ROOT, "expected.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    scanobjectnn()
    modelnet_dat()
    modelnet_txt()
    modelnet_off()
    expected()
    total = 0
    for dp, _, fs in os.walk(ROOT):
        for fn in fs:
            total += os.path.getsize(os.path.join(dp, fn))
    print("wrote %s (%d bytes)" % (os.path.normpath(ROOT), total))


if __name__ == "__main__":
    main()
