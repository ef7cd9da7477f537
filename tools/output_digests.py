#!/usr/bin/env python3
"""Digests of every output a set of settings gives on a set of images: a behaviour check.

    python tools/output_digests.py --out before.json [FOLDER ...]
    python tools/output_digests.py --out after.json [FOLDER ...]
    python tools/output_digests.py --compare before.json after.json

For each image and each case (the default, ``dither=0``, effort 1 and 10, WebP and GIF,
ordered and ``auto`` dithering, RGB, locked colours, a given palette, the four targets,
a sweep, and a fitted :class:`~palettepress.Quantizer`'s remap) it records the SHA-256
of the file's bytes, of the palette and indices, and the reported figures (or the error
or warning text). Two runs of the same code give the same JSON; a change that claims to
keep behaviour must too. Folders default to ``../shared/testdata/{kodak,graphics,alpha}``.
Runs on every core; ``--jobs`` to change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = [ROOT.parent / "shared" / "testdata" / d for d in ("kodak", "graphics", "alpha")]

#: name -> keyword arguments of compress (``sweep`` and ``quantizer`` are handled apart).
CASES = {
    "default": {},
    "k64": {"colors": 64},
    "k16-dither0": {"colors": 16, "dither": 0},
    "k64-effort1": {"colors": 64, "effort": 1},
    "k64-effort10": {"colors": 64, "effort": 10},
    "k64-webp": {"colors": 64, "format": "webp"},
    "k16-gif": {"colors": 16, "format": "gif"},
    "k256-gif": {"colors": 256, "format": "gif"},
    "k64-auto": {"colors": 64, "dither_method": "auto"},
    "k32-ordered-rgb": {"colors": 32, "dither_method": "ordered", "space": "rgb"},
    "k16-keep": {"colors": 16, "keep_colors": "#ff0000,#ffffff"},
    "palette": {"palette": "#000000,#ffffff,#ff0000,#00ff00,#0000ff,#808080"},
    "ssimulacra2-70": {"min_ssimulacra2": 70},
    "ssimulacra2-70-auto": {"min_ssimulacra2": 70, "dither_method": "auto"},
    "ssim-0.95": {"min_ssim": 0.95},
    "delta-e-2": {"max_delta_e": 2.0},
    "bytes-40000": {"max_bytes": 40000},
}

FIGURES = ("colors", "requested_colors", "lossless", "dither", "target", "output_bytes",
           "ssimulacra2", "psnr", "ssim", "delta_e", "mse", "format")


def _sha(data) -> str:
    if hasattr(data, "tobytes"):
        data = data.tobytes() + repr((data.shape, str(data.dtype))).encode()
    return hashlib.sha256(data).hexdigest()[:24]


def _describe(result) -> dict:
    out = {name: getattr(result, name) for name in FIGURES}
    out = {k: (repr(v) if isinstance(v, float) else v) for k, v in out.items()}
    out["data"] = _sha(result.data)
    out["palette"] = _sha(result.palette)
    out["indices"] = _sha(result.indices)
    return out


def _run(call) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
        except Exception as exc:  # an error is an outcome like any other
            value = {"error": f"{type(exc).__name__}: {exc}"}
    if isinstance(value, dict):
        value["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    return value


def image_digests(path: str) -> dict:
    import palettepress

    found = {}
    for name, kwargs in CASES.items():
        found[name] = _run(lambda kwargs=kwargs: _describe(palettepress.compress(path, **kwargs)))
    found["sweep"] = _run(
        lambda: {
            "results": [
                _describe(r)
                for r in palettepress.sweep(path, colors=(4, 32), min_ssimulacra2=60)
            ]
        }
    )

    def quantizer():
        q = palettepress.Quantizer(16, dither_method="auto").fit(path)
        plain = palettepress.Quantizer(24, space="rgb", effort=3).fit([path, path])
        return {
            "palette": _sha(q.palette_),
            "remap-auto": _sha(q.remap(path)),
            "plain-palette": _sha(plain.palette_),
            "plain-remap": _sha(plain.remap(path)),
            "inertia": repr(plain.inertia_),
        }

    found["quantizer"] = _run(quantizer)
    return found


def _one_thread() -> None:
    from palettepress import _kernels

    _kernels.set_num_threads(1)  # the processes share the cores (results do not depend on it)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        differ = 0
        for image in sorted(set(before) | set(after)):
            for case in sorted(set(before.get(image, {})) | set(after.get(image, {}))):
                a, b = before.get(image, {}).get(case), after.get(image, {}).get(case)
                if a != b:
                    differ += 1
                    print(f"DIFFERS {image} {case}\n  before {a}\n  after  {b}")
        cases = sum(len(v) for v in before.values())
        print(f"{len(before)} images, {cases} outcomes compared, {differ} differ")
        return 1 if differ else 0
    if args.out is None:
        parser.error("--out is required unless --compare")
    paths = sorted(
        str(p) for folder in (args.folders or DEFAULT_FOLDERS) for p in Path(folder).glob("*")
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".gif")
    )
    if not paths:
        print("no images found", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(args.jobs, initializer=_one_thread) as pool:
        results = dict(zip(paths, pool.map(image_digests, paths)))
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"{len(paths)} images, {sum(len(v) for v in results.values())} outcomes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
