"""The sweep report: a table, a rate-distortion plot and a self-contained HTML page.

Writes into one folder: ``original.png``, ``k<K>.png`` per palette size (``.webp`` or
``.gif`` in those formats), ``rd.png`` (bits
per pixel against SSIMULACRA2, PSNR, SSIM and CIEDE2000, drawn with matplotlib), ``sweep.json`` (one
record per k) and ``report.html``, which links only to those files by relative path, so
the folder can be moved or zipped as a whole.

Also here: how a notebook shows a result, a sweep and an animation (``_repr_html_``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os

import numpy as np

from .errors import ExtraMissingError, OutputError, require
from .formats import FORMATS
from .io import write_atomic
from .palettes import to_hex

__all__ = [
    "RECORD_KEYS",
    "record",
    "table",
    "write_report",
    "result_html",
    "sweep_html",
    "DEFAULT_COLORS",
]

#: Width of the pictures a notebook shows (they open to full size on a click).
THUMBNAIL_WIDTH = 320

#: Largest image whose full size a notebook's result carries (as a data URL).
FULL_SIZE_PIXELS = 4 << 20

#: Palette sizes a sweep uses when none are given: every power of two from 2 to 256.
DEFAULT_COLORS = (2, 4, 8, 16, 32, 64, 128, 256)

#: Keys of each sweep.json record.
RECORD_KEYS = (
    "colors",
    "format",
    "dither",
    "output_bytes",
    "ratio",
    "bpp",
    "ssimulacra2",
    "psnr",
    "ssim",
    "delta_e",
    "mse",
    "seconds",
    "target",
)


def _finite(x):
    return x if x is not None and math.isfinite(x) else None


def figures(result) -> dict:
    """A result's size, quality and time, as ``compress --json`` and sweep.json give them
    (non-finite scores as None)."""
    return {
        "output_bytes": result.output_bytes,
        "ratio": result.ratio,
        "bpp": result.bpp,
        "ssimulacra2": _finite(result.ssimulacra2),
        "psnr": _finite(result.psnr),
        "ssim": _finite(result.ssim),
        "delta_e": result.delta_e,
        "mse": result.mse,
        "seconds": result.seconds,
        "target": result.target,
    }


def record(result) -> dict:
    """The sweep.json record of one result (the same numbers ``compress --json`` prints)."""
    return {
        "colors": result.requested_colors,
        "format": result.format,
        "dither": result.dither,
        **figures(result),
    }


def _target_note(result) -> str:
    """``SSIMULACRA2 >= 70``-style text of the target that chose a result ('' for none)."""
    if not result.target:
        return ""
    ((name, value),) = result.target.items()
    label = {
        "min_ssimulacra2": "SSIMULACRA2 >=",
        "min_ssim": "SSIM >=",
        "max_delta_e": "CIEDE2000 <=",
        "max_bytes": "bytes <=",
    }[name]
    return f"{label} {value:g}"


def table(results) -> str:
    """A plain-text table of the results, one row per palette size."""
    head = (
        f"{'k':>4} {'bytes':>10} {'ratio':>7} {'bpp':>7} {'SSIMU2':>7} {'PSNR':>7} {'SSIM':>7} "
        f"{'ΔE00':>7} {'s':>7}"
    )
    rows = [head]
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio else f"{r.raw_ratio:.2f}"
        psnr = "inf" if not math.isfinite(r.psnr) else f"{r.psnr:.2f}"
        ssim = "n/a" if math.isnan(r.ssim) else f"{r.ssim:.4f}"
        s2 = "n/a" if math.isnan(r.ssimulacra2) else f"{r.ssimulacra2:.2f}"
        note = f"  <- {_target_note(r)}" if r.target else ""
        rows.append(
            f"{r.requested_colors:>4} {r.output_bytes:>10,} {ratio:>7} {r.bpp:>7.3f} {s2:>7} "
            f"{psnr:>7} {ssim:>7} {r.delta_e:>7.3f} {r.seconds:>7.3f}{note}"
        )
    return "\n".join(rows)


def _plot(results) -> bytes:
    require("matplotlib", "report", "the sweep report's plot")
    # A Figure of its own, not pyplot's: no backend is switched (a notebook keeps its own).
    from matplotlib.figure import Figure

    bpp = [r.bpp for r in results]
    series = [
        ("SSIMULACRA2 (100 = identical)", [r.ssimulacra2 for r in results]),
        ("PSNR (dB)", [r.psnr if math.isfinite(r.psnr) else np.nan for r in results]),
        ("SSIM", [r.ssim for r in results]),
        ("mean CIEDE2000 (lower is better)", [r.delta_e for r in results]),
    ]
    fig = Figure(figsize=(16, 3.8), constrained_layout=True)
    axes = fig.subplots(1, 4)
    for ax, (label, values) in zip(axes, series):
        ax.plot(bpp, values, "o-", color="#3465a4")
        for r, x, y in zip(results, bpp, values):
            ax.annotate(
                str(r.requested_colors),
                (x, y),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle("Rate-distortion: quality against file size, labelled by palette size k")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _swatches(palette: np.ndarray) -> str:
    cells = []
    for c in palette.tolist():
        hexc = to_hex(c)
        alpha = c[3] / 255 if len(c) == 4 else 1
        cells.append(
            f'<span class="sw" title="{hexc}" style="background:rgba({c[0]},{c[1]},{c[2]},{alpha:.3f})"></span>'
        )
    return "".join(cells)


def make_folder(path) -> None:
    """Create the folder ``path`` (and its parents) unless it exists; OutputError where
    it is a file or cannot be made."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"{path}: exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot make the folder ({exc.strerror or exc})") from exc


def write_report(
    out_dir,
    original: np.ndarray,
    results,
    *,
    title: str = "palettepress sweep",
    input_bytes: int | None = None,
) -> dict:
    """Write the sweep folder (see the module docstring); returns the paths written."""
    from PIL import Image

    make_folder(out_dir)
    paths = {}

    def put(name: str, data: bytes) -> str:
        path = os.path.join(out_dir, name)
        write_atomic(path, data, force=True)
        paths[name] = path
        return name

    buf = io.BytesIO()
    Image.fromarray(original).save(buf, "PNG")
    put("original.png", buf.getvalue())
    names = [put(f"k{r.requested_colors:03d}{FORMATS[r.format]}", r.data) for r in results]
    plot = put("rd.png", _plot(results))
    put("sweep.json", (json.dumps([record(r) for r in results], indent=1) + "\n").encode())
    h, w = original.shape[:2]
    rows = []
    for r, name in zip(results, names):
        psnr = "∞" if not math.isfinite(r.psnr) else f"{r.psnr:.2f} dB"
        ssim = "n/a" if math.isnan(r.ssim) else f"{r.ssim:.4f}"
        s2 = "n/a" if math.isnan(r.ssimulacra2) else f"{r.ssimulacra2:.2f}"
        ratio = f"{r.ratio:.2f}×" if r.ratio else f"{r.raw_ratio:.2f}× raw"
        rows.append(f"""
<figure>
  <a href="{name}"><img src="{name}" alt="k = {r.requested_colors}" loading="lazy"></a>
  <figcaption><b>k = {r.requested_colors}</b>{" (lossless)" if r.lossless else ""}{
            f" · chosen for {html.escape(_target_note(r))}" if r.target else ""
        }<br>
  {r.output_bytes:,} bytes · {ratio} · {r.bpp:.3f} bpp<br>
  SSIMULACRA2 {s2} · PSNR {psnr} · SSIM {ssim} · CIEDE2000 {r.delta_e:.3f}<br>
  <span class="pal">{_swatches(r.palette)}</span></figcaption>
</figure>""")
    before = f"{input_bytes:,} bytes" if input_bytes else "-"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; width: min({w}px, 480px, 100%); }}
figure img {{ width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }}
figcaption {{ font-size: 0.85rem; line-height: 1.4; }}
.sw {{ display: inline-block; width: 10px; height: 10px; margin: 0 1px 1px 0; border: 1px solid #0002; }}
.plot {{ max-width: 100%; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }}
td, th {{ padding: 0.2rem 0.6rem; text-align: right; border-bottom: 1px solid #eee; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{w}×{h} pixels, original {before}. Each result is a standard indexed PNG; click to open it.</p>
<img class="plot" src="{plot}" alt="rate-distortion plot">
<h2>Numbers</h2>
<table><tr><th>k</th><th>bytes</th><th>ratio</th><th>bpp</th><th>SSIMULACRA2</th><th>PSNR</th><th>SSIM</th><th>CIEDE2000</th><th>MSE</th><th>seconds</th></tr>
{"".join(f"<tr><td>{r.requested_colors}</td><td>{r.output_bytes:,}</td><td>{(r.ratio or r.raw_ratio):.2f}</td><td>{r.bpp:.3f}</td><td>{r.ssimulacra2:.2f}</td><td>{r.psnr:.2f}</td><td>{r.ssim:.4f}</td><td>{r.delta_e:.3f}</td><td>{r.mse:.2f}</td><td>{r.seconds:.3f}</td></tr>" for r in results)}
</table>
<h2>Side by side</h2>
<div class="grid">
<figure><a href="original.png"><img src="original.png" alt="original"></a>
<figcaption><b>original</b><br>{before}</figcaption></figure>
{"".join(rows)}
</div>
</body></html>
"""
    put("report.html", page.encode("utf-8"))
    return paths


def _png_url(pixels: np.ndarray, width: int | None = None) -> str:
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels), "RGBA" if pixels.shape[2] == 4 else "RGB")
    if width is not None and image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _picture(pixels: np.ndarray, caption: str, full: str | None) -> str:
    """A thumbnail that opens to full size on a click (a <details>: no script, no
    navigation to a data URL, which browsers refuse)."""
    thumb = f'<img src="{_png_url(pixels, THUMBNAIL_WIDTH)}" alt="{html.escape(caption)}">'
    if full is None:
        body = thumb
    else:
        body = (
            f'<details><summary style="list-style:none;cursor:zoom-in">{thumb}</summary>'
            f'<img src="{full}" alt="{html.escape(caption)}, full size"></details>'
        )
    return (
        '<figure style="margin:0">'
        + body
        + f'<figcaption style="font-size:90%">{html.escape(caption)}</figcaption></figure>'
    )


def result_html(result, original: np.ndarray | None) -> str:
    """A result as a notebook shows it: the original (when known) and the compressed image
    side by side, each opening to full size, and the figures."""
    small = result.width * result.height <= FULL_SIZE_PIXELS
    mime = {"png": "image/png", "webp": "image/webp", "gif": "image/gif"}[result.format]
    data_url = f"data:{mime};base64," + base64.b64encode(result.data).decode("ascii")
    pictures = []
    if original is not None:
        before = f"{result.input_bytes:,} bytes" if result.input_bytes else "array"
        pictures.append(
            _picture(original, f"original ({before})", _png_url(original) if small else None)
        )
    pictures.append(
        _picture(
            result.image,
            f"palettepress: {result.format.upper()}, {result.colors} colours, "
            f"{result.output_bytes:,} bytes",
            data_url if small else None,
        )
    )
    rows = [
        ("bytes", _bytes_figure(result.input_bytes, result.output_bytes)),
        ("ratio", f"{result.ratio:.2f}x" if result.ratio else f"{result.raw_ratio:.2f}x of raw"),
        ("bits per pixel", f"{result.bpp:.3f}"),
        ("SSIMULACRA2", _number(result.ssimulacra2, 2)),
        ("PSNR", _number(result.psnr, 2) + " dB"),
        ("SSIM", _number(result.ssim, 4)),
        ("CIEDE2000", _number(result.delta_e, 3)),
        ("dithering", result.dither),
    ]
    return _beside("".join(pictures), rows)


def _bytes_figure(input_bytes: int | None, output_bytes: int) -> str:
    return f"{input_bytes:,} -> {output_bytes:,}" if input_bytes else f"{output_bytes:,}"


def _beside(pictures: str, rows: list[tuple[str, str]]) -> str:
    """The pictures and, beside them (below on a narrow page), a table of the figures."""
    table = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        '<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap">'
        + pictures
        + f"<table>{table}</table></div>"
    )


#: A notebook shows an animation written to a file (not kept in memory) up to this size.
EMBED_MAX_BYTES = 32 << 20


def animation_html(anim) -> str:
    """An animation as a notebook shows it: the file playing (browsers play animated
    GIF, APNG and WebP in an image) and the figures."""
    data = anim.data
    if data is None and anim.path and anim.output_bytes <= EMBED_MAX_BYTES:
        try:
            with open(anim.path, "rb") as fh:
                data = fh.read()
        except OSError:  # moved or removed since: the figures alone
            data = None
    mime = {"gif": "image/gif", "apng": "image/apng", "webp": "image/webp"}[anim.format]
    caption = html.escape(
        f"palettepress: {anim.format.upper()}, {anim.frames} frames, {anim.output_bytes:,} bytes"
    )
    picture = (
        f'<figure style="margin:0"><img src="data:{mime};base64,'
        + base64.b64encode(data).decode("ascii")
        + f'" style="max-width:100%" alt="{caption}"><figcaption>{caption}</figcaption></figure>'
        if data is not None
        else ""
    )
    rows = [
        ("bytes", _bytes_figure(anim.input_bytes, anim.output_bytes)),
        ("ratio", f"{anim.ratio:.2f}x" if anim.ratio else "-"),
        ("frames", f"{anim.frames} ({anim.source_frames} read), {anim.duration:.2f} s"),
        ("bits per pixel per frame", f"{anim.bpp:.3f}"),
        ("SSIMULACRA2", _number(anim.ssimulacra2_mean, 2)),
        ("SSIMULACRA2, 10th percentile", _number(anim.ssimulacra2_p10, 2)),
        ("flicker", f"{anim.flicker:.4f}"),
        ("lossless", "yes" if anim.lossless else "no"),
    ]
    if anim.path:
        rows.append(("file", html.escape(anim.path)))
    return _beside(picture, rows)


def _number(x: float | None, digits: int) -> str:
    return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "n/a"


def sweep_html(results) -> str:
    """A sweep as a notebook shows it: the table of figures per palette size, and the
    rate-distortion plot when matplotlib is there."""
    head = ("k", "colours", "bytes", "ratio", "bpp", "SSIMULACRA2", "PSNR", "SSIM", "CIEDE2000")
    rows = []
    for r in results:
        cells = (
            str(r.requested_colors) + (" (target)" if r.target else ""),
            str(r.colors),
            f"{r.output_bytes:,}",
            f"{r.ratio:.2f}x" if r.ratio else "-",
            f"{r.bpp:.3f}",
            _number(r.ssimulacra2, 2),
            _number(r.psnr, 2),
            _number(r.ssim, 4),
            _number(r.delta_e, 3),
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out = (
        "<table><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )
    try:
        plot = _plot(results)
    except ExtraMissingError:  # matplotlib is optional: the table stands without it
        return out
    url = "data:image/png;base64," + base64.b64encode(plot).decode("ascii")
    return out + f'<img src="{url}" alt="rate-distortion plot" style="max-width:100%">'
