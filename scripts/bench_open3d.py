#!/usr/bin/python3
"""Measure pcx's farthest-point sampling and kNN grouping against Open3D in one run.

Run with Debian's python3 (python3-open3d, python3-numpy):
    /usr/bin/python3 scripts/bench_open3d.py [--pcx ./pcx] [--repeat 5] [--json]

Both tools get the same clouds: this script writes them to .npy files in a
temporary folder and hands them to `pcx bench ... --input`. Every figure is
the median of --repeat timed passes after one warm-up pass. Open3D runs one
cloud at a time from Python (its FPS and KDTree calls are single-threaded);
pcx reports its batched, multi-core throughput and, in brackets, one core.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import open3d as o3d


def clouds(b, n, seed):
    """Points on the unit sphere with a little noise: surface-like, as scans are."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(b, n, 3))
    p /= np.linalg.norm(p, axis=-1, keepdims=True)
    p += rng.normal(scale=0.01, size=p.shape)
    return p.astype(np.float32)


def median_time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def o3d_fps(batch, m):
    pcs = []
    for c in batch:
        pc = o3d.geometry.PointCloud()
        pc.points = o3d.utility.Vector3dVector(c.astype(np.float64))
        pcs.append(pc)
    return lambda: [pc.farthest_point_down_sample(m) for pc in pcs]


def o3d_knn(batch, g, k):
    pcs = []
    for c in batch:
        pc = o3d.geometry.PointCloud()
        pc.points = o3d.utility.Vector3dVector(c.astype(np.float64))
        pcs.append((pc, c[:: len(c) // g][:g].astype(np.float64)))

    def run():
        for pc, centres in pcs:
            tree = o3d.geometry.KDTreeFlann(pc)
            for q in centres:
                tree.search_knn_vector_3d(q, k)
    return run


def o3d_knn_tensor(batch, g, k):
    """The tensor API answers all centres of a cloud in one call."""
    pcs = [(o3d.core.Tensor(c), o3d.core.Tensor(np.ascontiguousarray(c[:: len(c) // g][:g]))) for c in batch]

    def run():
        for pts, centres in pcs:
            nns = o3d.core.nns.NearestNeighborSearch(pts)
            nns.knn_index()
            nns.knn_search(centres, k)
    return run


def pcx(args, cmd):
    out = subprocess.run([args.pcx, "bench"] + cmd + ["--json", "--repeat", str(args.repeat)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcx", default="./pcx", help="the pcx binary")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("fps", "FPS 8192→1024, batch of 32", clouds(32, 8192, 0), ["fps", "--points", "8192", "--centres", "1024", "--batch", "32"],
             (lambda b: o3d_fps(b, 1024),)),
            ("fps", "FPS 100000→4096, one cloud", clouds(1, 100000, 1), ["fps", "--points", "100000", "--centres", "4096", "--batch", "1"],
             (lambda b: o3d_fps(b, 4096),)),
            ("knn", "kNN 2048 points, 128 centres, k=32, batch of 32", clouds(32, 2048, 2),
             ["knn", "--points", "2048", "--centres", "128", "--k", "32", "--batch", "32"], (lambda b: o3d_knn(b, 128, 32), lambda b: o3d_knn_tensor(b, 128, 32))),
        ]
        for i, (kind, name, data, cmd, refs) in enumerate(cases):
            path = os.path.join(tmp, f"case{i}.npy")
            np.save(path, data.reshape(-1, 3))  # one (B·N, 3) array; pcx splits it by --batch
            # Where Open3D offers two ways, the faster one is the reference.
            t = min(median_time(ref(data), args.repeat) for ref in refs)
            o3d_ms = t * 1e3 / len(data)
            r = pcx(args, cmd + ["--input", path])
            rows.append({"case": name, "open3d_ms_per_cloud": round(o3d_ms, 4),
                         "pcx_ms_per_cloud": r["ms_per_cloud"], "pcx_ms_per_cloud_1core": r["ms_per_cloud_1core"],
                         "speedup": round(o3d_ms / r["ms_per_cloud"], 2),
                         "speedup_1core": round(o3d_ms / r["ms_per_cloud_1core"], 2)})
    if args.json:
        print(json.dumps({"open3d": o3d.__version__, "cores": os.cpu_count(), "rows": rows}, indent=1))
        return
    print(f"Open3D {o3d.__version__}, {os.cpu_count()} cores; ms per cloud (median of {args.repeat})")
    print(f"{'case':52s} {'Open3D':>9s} {'pcx':>9s} {'pcx 1 core':>11s} {'speed-up':>9s} {'(1 core)':>9s}")
    for r in rows:
        print(f"{r['case']:52s} {r['open3d_ms_per_cloud']:9.3f} {r['pcx_ms_per_cloud']:9.3f} {r['pcx_ms_per_cloud_1core']:11.3f} "
              f"{r['speedup']:8.2f}x {r['speedup_1core']:8.2f}x")


if __name__ == "__main__":
    sys.exit(main())
