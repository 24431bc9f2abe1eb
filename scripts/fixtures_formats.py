#!/usr/bin/python3
"""Write the small point-cloud and mesh files that pointcloud's Go tests read.

The files come from other programs (Open3D and NumPy) so that the Go readers
are checked against what real tools write, not only against pcx's own
writers. The output is deterministic; run from anywhere:

    /usr/bin/python3 scripts/fixtures_formats.py

It needs Debian's python3-open3d (0.16) and python3-numpy. It writes into
testdata/formats/ next to this script's parent directory, together with
manifest.json: for each file, the points, triangles (after polygons are
split into fans), whether it has normals, and the first and last points as
the Go reader should see them.
"""

import json
import os
import struct

import numpy as np
import open3d as o3d

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "formats")


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {}

    def note(name, points, faces, normals, first, last):
        manifest[name] = {
            "points": int(points),
            "faces": int(faces),
            "normals": bool(normals),
            "first": [float(v) for v in first],
            "last": [float(v) for v in last],
        }

    # A small triangle mesh with vertex normals: 26 points, 48 triangles.
    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=4)
    sphere.compute_vertex_normals()
    sphere.compute_triangle_normals()
    v = np.asarray(sphere.vertices)
    t = np.asarray(sphere.triangles)
    nv, nt = len(v), len(t)

    def mesh(name, **kw):
        path = os.path.join(OUT, name)
        if not o3d.io.write_triangle_mesh(path, sphere, **kw):
            raise SystemExit("open3d could not write " + name)

    mesh("sphere_ascii.ply", write_ascii=True)
    note("sphere_ascii.ply", nv, nt, True, v[0], v[-1])
    mesh("sphere_binary.ply", write_ascii=False)
    note("sphere_binary.ply", nv, nt, True, v[0], v[-1])
    mesh("sphere.off")  # NOFF: Open3D writes the vertex normals
    note("sphere.off", nv, nt, True, v[0], v[-1])
    mesh("sphere.obj")
    note("sphere.obj", nv, nt, True, v[0], v[-1])
    mesh("sphere.stl")  # binary; STL keeps no shared points, the reader merges them
    order = list(dict.fromkeys(t.flatten().tolist()))  # points in order of first use
    note("sphere.stl", len(order), nt, False, v[order[0]], v[order[-1]])

    # A box without normals gives a plain "OFF" file: 8 points, 12 triangles.
    box = o3d.geometry.TriangleMesh.create_box(width=1.0, height=2.0, depth=3.0)
    box.translate([0.5, -1.25, 2.0])
    if not o3d.io.write_triangle_mesh(os.path.join(OUT, "box.off"), box):
        raise SystemExit("open3d could not write box.off")
    bv = np.asarray(box.vertices)
    note("box.off", len(bv), len(box.triangles), False, bv[0], bv[-1])

    # A point cloud with normals: 64 points on the unit sphere.
    rng = np.random.default_rng(0)
    p = rng.normal(size=(64, 3))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    p = p.astype(np.float32)
    n = p.copy()
    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(p.astype(np.float64))
    cloud.normals = o3d.utility.Vector3dVector(n.astype(np.float64))

    def points(name, has_normals, **kw):
        if not o3d.io.write_point_cloud(os.path.join(OUT, name), cloud, **kw):
            raise SystemExit("open3d could not write " + name)
        note(name, len(p), 0, has_normals, p[0], p[-1])

    points("cloud_binary.ply", True, write_ascii=False)
    points("cloud.xyzn", True)
    points("cloud.xyz", False)
    points("cloud.pts", False)

    # NumPy arrays in the layouts pcx reads.
    def npy(name, arr, normals):
        np.save(os.path.join(OUT, name), arr)
        note(name, len(p), 0, normals, p[0], p[-1])

    both = np.concatenate([p, n], axis=1)
    npy("cloud_f4.npy", both.astype("<f4"), True)
    npy("cloud_f8.npy", both.astype("<f8"), True)
    npy("cloud_f8_big.npy", both.astype(">f8"), True)
    npy("cloud_fortran.npy", np.asfortranarray(both.astype("<f4")), True)
    npy("cloud_batch.npy", p[None, :, :].astype("<f4"), False)

    # ModelNet40 normal_resampled style: x,y,z,nx,ny,nz with six decimals.
    np.savetxt(os.path.join(OUT, "modelnet.txt"), both, fmt="%.6f", delimiter=",")
    note("modelnet.txt", len(p), 0, True, np.round(p[0].astype(np.float64), 6), np.round(p[-1].astype(np.float64), 6))

    # Big-endian PLY, which Open3D does not write: the box with float
    # coordinates and its faces as quads (split into two triangles each).
    bv = np.asarray(box.vertices).astype(np.float32)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    head = (
        "ply\nformat binary_big_endian 1.0\ncomment written by pcx fixtures_formats.py\n"
        "element vertex %d\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        "element face %d\nproperty list uchar int vertex_indices\nend_header\n" % (len(bv), len(quads))
    )
    with open(os.path.join(OUT, "box_big_endian.ply"), "wb") as f:
        f.write(head.encode("ascii"))
        for x, y, z in bv:
            f.write(struct.pack(">fffBBB", x, y, z, 200, 100, 50))
        for q in quads:
            f.write(struct.pack(">B4i", 4, *q))
    note("box_big_endian.ply", len(bv), 2 * len(quads), False, bv[0], bv[-1])

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        rows = ['  "%s": %s' % (k, json.dumps(manifest[k], sort_keys=True)) for k in sorted(manifest)]
        f.write("{\n" + ",\n".join(rows) + "\n}\n")


if __name__ == "__main__":
    main()
