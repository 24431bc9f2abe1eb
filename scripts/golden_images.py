#!/usr/bin/python3
"""Golden fixtures for pcx's images package: PIL resizes and decodes.

Writes testdata/golden/images/resize.json (random RGB images, fixed numpy
seed, resized with Pillow's Image.resize by several filters and sizes) and
a few small image files with the RGB pixels PIL's convert("RGB") gives for
them (decode.json). Run with /usr/bin/python3 (Pillow 9.4).
"""
import base64, hashlib, io, json, os, struct, zlib

import numpy as np
import PIL
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "golden", "images")
FULL_LIMIT = 4000  # outputs up to this many bytes are stored whole, larger ones as SHA-256

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "box": Image.BOX,
           "hamming": Image.HAMMING, "lanczos": Image.LANCZOS}


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def resize_cases(rng):
    cases = [
        ((37, 23), [(224, 224), (16, 9), (37, 11), (80, 23), (37, 23)]),
        ((50, 40), [(16, 9), (49, 41), (7, 3), (1, 1), (100, 13)]),
        ((28, 28), [(32, 32), (224, 224), (27, 27), (56, 14)]),
        ((64, 48), [(64, 20), (20, 48), (33, 25), (200, 150)]),
        ((5, 3), [(224, 224), (1, 7)]),
    ]
    out = []
    for (w, h), sizes in cases:
        a = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        # Smooth regions as well as noise: half the image is a gradient.
        gx = np.linspace(0, 255, w)[None, :, None]
        gy = np.linspace(255, 0, h)[:, None, None]
        grad = ((gx + gy) / 2 + np.array([0, 40, -40])[None, None, :]).clip(0, 255).astype(np.uint8)
        a[: h // 2] = grad[: h // 2]
        im = Image.fromarray(a, "RGB")
        outs = []
        for (ow, oh) in sizes:
            for fname, f in FILTERS.items():
                if fname != "bicubic" and (ow, oh) == (224, 224):
                    continue
                r = np.asarray(im.resize((ow, oh), f))
                assert r.shape == (oh, ow, 3)
                o = {"w": ow, "h": oh, "filter": fname, "sha256": hashlib.sha256(r.tobytes()).hexdigest()}
                if r.nbytes <= FULL_LIMIT:
                    o["pix"] = b64(r)
                outs.append(o)
        out.append({"w": w, "h": h, "pix": b64(a), "outs": outs})
    return out


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png16(a):
    """A 16-bit PNG (grey if a is 2-D, RGB if 3-D) of uint16 array a."""
    h, w = a.shape[:2]
    ct = 0 if a.ndim == 2 else 2
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ct, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def decode_cases(rng):
    files = []

    def add(name, data, want, exact, note=""):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        pil = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        e = {"file": name, "w": want.shape[1], "h": want.shape[0], "pix": b64(want), "exact": exact}
        if not np.array_equal(pil, want):
            e["pil_pix"] = b64(pil)
        if note:
            e["note"] = note
        files.append(e)

    def save(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    def pil_rgb(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    w, h = 13, 9
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    d = save(Image.fromarray(rgb, "RGB"), "PNG")
    add("rgb.png", d, pil_rgb(d), True)
    grey = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    d = save(Image.fromarray(grey, "L"), "PNG")
    add("grey.png", d, pil_rgb(d), True)
    rgba = rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)
    d = save(Image.fromarray(rgba, "RGBA"), "PNG")
    add("rgba.png", d, pil_rgb(d), True)
    la = rng.integers(0, 256, size=(h, w, 2), dtype=np.uint8)
    d = save(Image.fromarray(la, "LA"), "PNG")
    add("la.png", d, pil_rgb(d), True)
    pal = Image.fromarray(rgb, "RGB").quantize(colors=16)
    d = save(pal, "PNG")
    add("pal.png", d, pil_rgb(d), True)
    d = save(pal, "GIF")
    add("pal.gif", d, pil_rgb(d), True)
    d = save(pal, "PNG", transparency=3)
    add("pal_trns.png", d, pil_rgb(d), True)
    rgb16 = rng.integers(0, 65536, size=(h, w, 3), dtype=np.uint16)
    add("rgb16.png", png16(rgb16), (rgb16 >> 8).astype(np.uint8), True, "16-bit RGB: the high byte, as PIL")
    g16 = rng.integers(0, 65536, size=(h, w), dtype=np.uint16)
    hi = (g16 >> 8).astype(np.uint8)
    add("grey16.png", png16(g16), np.stack([hi, hi, hi], axis=2), True,
        "16-bit grey: pcx keeps the high byte; PIL (mode I) clips to 255, see pil_pix")
    # JPEG: smooth content so that both decoders' errors stay small.
    yy, xx = np.mgrid[0:24, 0:32]
    smooth = np.stack([xx * 8, yy * 10, (xx + yy) * 4], axis=2).clip(0, 255).astype(np.uint8)
    d = save(Image.fromarray(smooth, "RGB"), "JPEG", quality=95)
    add("rgb.jpg", d, pil_rgb(d), False)
    d = save(Image.fromarray(smooth, "RGB"), "JPEG", quality=95, subsampling=0)
    add("rgb444.jpg", d, pil_rgb(d), False)
    d = save(Image.fromarray(smooth[:, :, 0], "L"), "JPEG", quality=95)
    add("grey.jpg", d, pil_rgb(d), False)
    d = save(Image.fromarray(smooth, "RGB").convert("CMYK"), "JPEG", quality=95)
    add("cmyk.jpg", d, pil_rgb(d), False)
    return files


def cifar_pixel(i, c, j):
    """The value of image i, channel c, pixel j of the CIFAR fixtures."""
    return (i * 7 + c * 50 + j) % 256


def cifar_data(first, n):
    a = np.zeros((n, 3072), dtype=np.uint8)
    for i in range(n):
        for c in range(3):
            a[i, c * 1024:(c + 1) * 1024] = [cifar_pixel(first + i, c, j) for j in range(1024)]
    return a


def cifar_python():
    """Tiny CIFAR-10 (protocol 2, bytes keys, as Python 2's files load with
    encoding="bytes") and CIFAR-100 (protocol 4, str keys) Python versions.
    Image i (counted over train then test) has pixels cifar_pixel(i, c, j)
    and label 3*i+1 mod the class count."""
    import pickle
    d10 = os.path.join(OUT, "cifar10-py")
    os.makedirs(d10, exist_ok=True)
    k = 0
    for b in range(1, 6):
        data = cifar_data(k, 1)
        with open(os.path.join(d10, "data_batch_%d" % b), "wb") as f:
            pickle.dump({b"batch_label": b"training batch %d of 5" % b, b"labels": [(3 * k + 1) % 10],
                         b"data": data, b"filenames": [b"x.png"]}, f, protocol=2)
        k += 1
    with open(os.path.join(d10, "test_batch"), "wb") as f:
        pickle.dump({b"labels": [(3 * k + 1) % 10, (3 * k + 4) % 10], b"data": cifar_data(k, 2)}, f, protocol=2)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(os.path.join(d10, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in names], b"num_cases_per_batch": 1}, f, protocol=2)
    d100 = os.path.join(OUT, "cifar100-py")
    os.makedirs(d100, exist_ok=True)
    with open(os.path.join(d100, "train"), "wb") as f:
        pickle.dump({"fine_labels": [(3 * i + 1) % 100 for i in range(3)], "coarse_labels": [0, 0, 0],
                     "data": cifar_data(0, 3)}, f, protocol=4)
    with open(os.path.join(d100, "test"), "wb") as f:
        pickle.dump({"fine_labels": np.array([(3 * 3 + 1) % 100], dtype=np.int64), "data": cifar_data(3, 1)}, f, protocol=4)
    with open(os.path.join(d100, "meta"), "wb") as f:
        pickle.dump({"fine_label_names": ["class%02d" % i for i in range(100)],
                     "coarse_label_names": ["c%d" % i for i in range(20)]}, f, protocol=4)
    # A pickle that would run code: it must be refused.
    with open(os.path.join(OUT, "evil.pickle"), "wb") as f:
        f.write(b"cos\nsystem\n(S'echo pwned'\ntR.")


def transform_case(rng):
    """The VTAB transform at size 32 as torchvision computes it on a PIL
    image: Resize((32, 32), BICUBIC) (Image.resize), ToTensor (permute to
    CHW, float32, /255) and Normalize (float32 sub and div with ImageNet's
    mean and std). torchvision is not installed, so its two tensor steps are
    spelt out with torch."""
    import torch
    a = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
    r = np.asarray(Image.fromarray(a, "RGB").resize((32, 32), Image.BICUBIC))
    t = torch.from_numpy(r.copy()).permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32)[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32)[:, None, None]
    t = t.sub(mean).div(std)
    return {"torch": torch.__version__, "w": 37, "h": 23, "size": 32, "pix": b64(a),
            "chw": base64.b64encode(t.numpy().astype("<f4").tobytes()).decode()}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240607)
    doc = {"pillow": PIL.__version__, "numpy": np.__version__, "resize": resize_cases(rng)}
    with open(os.path.join(OUT, "resize.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    dec = {"pillow": PIL.__version__, "files": decode_cases(rng)}
    with open(os.path.join(OUT, "decode.json"), "w") as f:
        json.dump(dec, f, indent=1)
    cifar_python()
    with open(os.path.join(OUT, "transform.json"), "w") as f:
        json.dump(transform_case(np.random.default_rng(77)), f)


if __name__ == "__main__":
    main()
