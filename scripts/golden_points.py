#!/usr/bin/python3
"""Write the PyTorch fixture for pcx's farthest-point sampling and kNN
(packages fps and knn).

    /usr/bin/python3 scripts/golden_points.py      # Debian python3-torch 1.13

FPS follows pointnet2_ops' furthest_point_sample, written here with torch
tensor operations: the first centre is point 0; each point keeps its squared
distance to the nearest chosen centre (from 1e10); points with |p|^2 <= 1e-3
are never chosen; the next centre is the argmax of the running distances
(torch.argmax: the first maximum on ties), or 0 again when no candidate is
left. Plain FPS (distances from +inf, nothing skipped, a given start) is
recorded too. kNN takes the k smallest squared distances of each centre,
ties to the lower index (a stable sort), and checks them against
torch.cdist + topk. Distances are float32 ((dx*dx + dy*dy) + dz*dz), each
operation rounded, as pcx computes them. Clouds include exact ties (lattice
points, duplicated points) and points at the origin that pointnet2 skips.
A large lattice cloud is given by its formula, not its points.
"""
import json
import os

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "golden", "points.json")
f32 = torch.float32


def sqdist(xyz, c):
    d = xyz - c
    return (d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]) + d[:, 2] * d[:, 2]


def fps_pointnet2(xyz, m):
    mag = (xyz[:, 0] * xyz[:, 0] + xyz[:, 1] * xyz[:, 1]) + xyz[:, 2] * xyz[:, 2]
    valid = mag > 1e-3
    temp = torch.full((xyz.shape[0],), 1e10, dtype=f32)
    out, cur = [0], 0
    for _ in range(1, m):
        temp = torch.where(valid, torch.minimum(temp, sqdist(xyz, xyz[cur])), temp)
        cur = int(torch.argmax(torch.where(valid, temp, torch.tensor(-1.0, dtype=f32)))) if bool(valid.any()) else 0
        out.append(cur)
    return out


def fps_plain(xyz, m, start):
    temp = torch.full((xyz.shape[0],), float("inf"), dtype=f32)
    out, cur = [start], start
    for _ in range(1, m):
        temp = torch.minimum(temp, sqdist(xyz, xyz[cur]))
        cur = int(torch.argmax(temp))
        out.append(cur)
    return out


def knn(xyz, centres, k):
    out = []
    for c in centres:
        d = sqdist(xyz, xyz[c])
        _, order = torch.sort(d, stable=True)
        idx = order[:k]
        # Independent check of the distances chosen: torch.cdist + topk.
        cd = torch.cdist(xyz[c][None].double(), xyz.double(), compute_mode="donot_use_mm_for_euclid_dist")[0]
        top = torch.topk(cd, k, largest=False).values
        assert torch.allclose(top, d[idx].double().sqrt(), rtol=1e-6, atol=1e-6), (top, d[idx])
        out.append([int(i) for i in idx])
    return out


def lattice(n):
    # Exactly representable in float32, and the same in Go (see points_test.go).
    i = torch.arange(n)
    return torch.stack([((i * 37) % 101).float() / 16, ((i * 53) % 97).float() / 16, ((i * 71) % 89).float() / 16], 1)


clouds = {}
rnd = torch.randn(300, 3).to(f32)
g = torch.arange(6).float()
grid = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) * 0.25 - 0.5
base = torch.randn(100, 3).to(f32)
dup = base[torch.randperm(300) % 100]
origin = torch.randn(200, 3).to(f32)
origin[torch.randperm(200)[:60]] *= 1e-3  # |p|^2 below 1e-3: skipped by pointnet2
clouds["random"] = {"xyz": rnd, "m": 40, "k": 16, "start": 7}
clouds["grid"] = {"xyz": grid, "m": 50, "k": 27, "start": 100}
clouds["duplicates"] = {"xyz": dup, "m": 120, "k": 9, "start": 3}
clouds["origin"] = {"xyz": origin, "m": 160, "k": 12, "start": 0}
cases = {}
for name, c in clouds.items():
    xyz = c["xyz"].to(f32).contiguous()
    centres = fps_pointnet2(xyz, c["m"])
    cases[name] = {"xyz": [float(v) for v in xyz.reshape(-1).tolist()], "m": c["m"], "k": c["k"],
                   "fps": centres, "plain_start": c["start"], "fps_plain": fps_plain(xyz, c["m"], c["start"]),
                   "knn": knn(xyz, centres, c["k"])}
n = 40000  # above fps's split size and knn's brute-force range
xyz = lattice(n)
centres = fps_pointnet2(xyz, 64)
cases["lattice40000"] = {"lattice": n, "m": 64, "k": 32, "fps": centres, "plain_start": 5,
                         "fps_plain": fps_plain(xyz, 64, 5), "knn": knn(xyz, centres[:16], 32)}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT) // 1024} KB)")
