#!/usr/bin/env python
"""Grey and toned photos, made from the Kodak set, for the benchmarks' ``--data``.

Writes ``grey/`` (Pillow's ``L`` conversion, ITU-R 601 luma, saved as 8-bit greyscale PNG)
and ``sepia/`` (that luma times (1.0, 0.85, 0.6) per channel, RGB) under ``--set``
(default ``benchmarks/.grey-set``, ignored by git), one file per Kodak photo. Black-and-
white and toned photos are where a palette's colours lie on one line of lightness; the
perceptual benchmark then compares them with pngquant like any other set:

    python benchmarks/grey_set.py
    python benchmarks/bench_perceptual.py --data benchmarks/.grey-set --sets grey,sepia \\
        --block bench_perceptual_grey
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from _common import REPO

SEPIA = (1.0, 0.85, 0.6)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "testdata")
    p.add_argument("--set", type=Path, default=REPO / "benchmarks" / ".grey-set")
    args = p.parse_args(argv)
    sources = sorted((args.data / "kodak").glob("*.png"))
    if not sources:
        sys.exit(f"grey_set: no Kodak photos under {args.data / 'kodak'}")
    for kind in ("grey", "sepia"):
        (args.set / kind).mkdir(parents=True, exist_ok=True)
    for path in sources:
        with Image.open(path) as im:
            grey = im.convert("L")
        grey.save(args.set / "grey" / path.name)
        luma = np.asarray(grey, dtype=np.float64)[..., None]
        toned = np.clip(np.rint(luma * np.array(SEPIA)), 0, 255).astype(np.uint8)
        Image.fromarray(toned).save(args.set / "sepia" / path.name)
    print(f"grey_set: {len(sources)} photos each in {args.set}/grey and /sepia", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
