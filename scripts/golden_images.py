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


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240607)
    doc = {"pillow": PIL.__version__, "numpy": np.__version__, "resize": resize_cases(rng)}
    with open(os.path.join(OUT, "resize.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    dec = {"pillow": PIL.__version__, "files": decode_cases(rng)}
    with open(os.path.join(OUT, "decode.json"), "w") as f:
        json.dump(dec, f, indent=1)


if __name__ == "__main__":
    main()
