"""Which BLAS this process's PyTorch uses, for the scripts/bench_*.py scripts.

Debian's torch is built with BLAS_INFO=generic and calls whatever
libblas.so.3 the alternatives system picks: OpenBLAS (libopenblas0-pthread,
/usr/lib/x86_64-linux-gnu/openblas-pthread/) or the unoptimised reference
BLAS (libblas3, /usr/lib/x86_64-linux-gnu/blas/), which is many times
slower. A ratio against the reference BLAS says nothing about pcx, so the
benchmarks print one only when check()["ok"] is true: Debian's
libopenblas0-pthread is mapped and the reference BLAS is not.

Call check() after at least one matrix product, so that the library is
loaded (torch loads it lazily).
"""
import os

import torch

LIBBLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
OPENBLAS_PTHREAD = "/openblas-pthread/"  # Debian's libopenblas0-pthread
REFERENCE = "/x86_64-linux-gnu/blas/"  # Debian's libblas3 (netlib's reference BLAS)


def check():
    """BLAS_INFO from torch.__config__.show(), where the system's
    libblas.so.3 resolves, the BLAS/LAPACK libraries mapped in
    /proc/self/maps, and ok: whether the ratio may be printed."""
    torch.ones(8, 8) @ torch.ones(8, 8)  # make sure the BLAS is loaded
    cfg = torch.__config__.show()
    info = [part.split("=", 1)[1] for part in cfg.replace(",", "\n").split() if part.startswith("BLAS_INFO=")]
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split()
                path = fields[-1] if len(fields) >= 6 else ""
                base = os.path.basename(path).lower()
                if any(w in base for w in ("blas", "lapack", "mkl")):
                    libs.add(path)
    except OSError:
        pass
    pthread = any(OPENBLAS_PTHREAD in p for p in libs)
    reference = any(REFERENCE in p for p in libs)
    return {"blas_info": info[0] if info else "?",
            "libblas_so_3": os.path.realpath(LIBBLAS) if os.path.exists(LIBBLAS) else None,
            "loaded": sorted(libs), "openblas": any("openblas" in p.lower() for p in libs),
            "openblas_pthread": pthread, "reference_blas": reference, "ok": pthread and not reference}


def warning(b):
    """The line printed instead of a ratio when check()'s ok is false."""
    return (f"WARNING: PyTorch is not using Debian's libopenblas0-pthread (BLAS_INFO={b['blas_info']}, "
            f"{LIBBLAS} -> {b['libblas_so_3']}, loaded: {', '.join(b['loaded']) or 'no BLAS library'}); "
            f"no ratio printed (sudo update-alternatives --config libblas.so.3-x86_64-linux-gnu)")


def describe(b):
    """One line naming the BLAS."""
    return f"BLAS_INFO={b['blas_info']}, {LIBBLAS} -> {b['libblas_so_3']}, loaded: {', '.join(b['loaded']) or 'none'}"
