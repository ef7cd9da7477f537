#!/usr/bin/env python
"""The Python quantizers that ``bench_tools.py`` (and ``bench_tools_large.py``) compare
palettepress with, one per process.

    python benchmarks/_quantizers.py TOOL INPUT OUTPUT K

reads INPUT with Pillow, reduces it to at most K colours without dithering and writes
OUTPUT as an indexed PNG. The benchmark starts one such process per run, so that
wall time and peak memory are measured as for the command-line tools: Python start-up
and imports included, as they are for the ``palettepress`` command. Each tool imports
only the libraries it uses, at the point it uses them.

Tools (``TOOL``):

- ``pillow-mediancut``: ``Image.quantize(colors=K, method=MEDIANCUT, dither=NONE)``;
- ``pillow-octree``: the same with ``method=FASTOCTREE``;
- ``sklearn-sample``: scikit-learn's gallery example "Color Quantization using K-Means":
  ``KMeans(n_clusters=K, random_state=0)`` (so ``n_init="auto"``: one k-means++ start)
  fitted on 1,000 pixels drawn by ``sklearn.utils.shuffle(pixels, random_state=0,
  n_samples=1_000)``, then ``predict`` on every pixel; pixels are float64 in [0, 1] as in
  the example;
- ``sklearn-full``: ``KMeans(n_clusters=K, random_state=0, n_init=1)`` fitted on every
  pixel (float64 in [0, 1]), each pixel given its final cluster (``labels_``).

The scikit-learn palettes are the cluster centres times 255, rounded. Every output is
written by Pillow's PNG encoder with its defaults (zlib level 6, ``optimize=False``).
"""

from __future__ import annotations

import sys
from pathlib import Path

TOOLS = ("pillow-mediancut", "pillow-octree", "sklearn-sample", "sklearn-full")


def load_rgb(source: Path):
    """The image as Pillow decodes it, in RGB; no pixel limit (the inputs reach 110 MP)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    with Image.open(source) as im:
        return im.convert("RGB")


def pillow_quantize(source: Path, target: Path, k: int, method_name: str) -> None:
    """Pillow's own quantizer (``MEDIANCUT`` or ``FASTOCTREE``) on the RGB image."""
    from PIL import Image

    method = Image.Quantize[method_name]
    load_rgb(source).quantize(colors=k, method=method, dither=Image.Dither.NONE).save(target, "PNG")


def sklearn_kmeans(source: Path, target: Path, k: int, sample: bool) -> None:
    """scikit-learn's KMeans on the pixels (float64 in [0, 1]), saved as an indexed PNG."""
    import numpy as np
    from PIL import Image
    from sklearn.cluster import KMeans
    from sklearn.utils import shuffle

    pixels = np.asarray(load_rgb(source), dtype=np.float64) / 255
    height, width, depth = pixels.shape
    flat = pixels.reshape(height * width, depth)
    del pixels
    if sample:
        drawn = shuffle(flat, random_state=0, n_samples=1_000)
        kmeans = KMeans(n_clusters=k, random_state=0).fit(drawn)
        labels = kmeans.predict(flat)
    else:
        kmeans = KMeans(n_clusters=k, random_state=0, n_init=1).fit(flat)
        labels = kmeans.labels_
    del flat
    palette = np.clip(np.rint(kmeans.cluster_centers_ * 255), 0, 255).astype(np.uint8)
    out = Image.fromarray(labels.astype(np.uint8).reshape(height, width))
    out.putpalette(palette.tobytes())
    out.save(target, "PNG")


def run(tool: str, source: Path, target: Path, k: int) -> None:
    """Quantize ``source`` to ``k`` colours with ``tool`` and write ``target``."""
    if tool == "pillow-mediancut":
        pillow_quantize(source, target, k, "MEDIANCUT")
    elif tool == "pillow-octree":
        pillow_quantize(source, target, k, "FASTOCTREE")
    elif tool in ("sklearn-sample", "sklearn-full"):
        sklearn_kmeans(source, target, k, sample=tool == "sklearn-sample")
    else:
        raise ValueError(f"unknown tool {tool!r}; one of {', '.join(TOOLS)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4:
        print(f"usage: {Path(__file__).name} TOOL INPUT OUTPUT K  (TOOL: {', '.join(TOOLS)})",
              file=sys.stderr)
        return 2
    tool, source, target, k = argv
    run(tool, Path(source), Path(target), int(k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
