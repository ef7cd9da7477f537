"""Palettes in and out: hex colour lists, JSON, GIMP ``.gpl`` and PNG swatch strips.

Formats, chosen by the file's extension:

- ``.json``: a list of hex strings, ``["#ff0000", "#00ff0080", ...]`` (``#rrggbb`` or
  ``#rrggbbaa``); an object with a ``"colors"`` list is read too.
- ``.gpl``: a GIMP palette (``GIMP Palette`` header, then ``R G B [name]`` lines).
- ``.png``: a swatch strip, one square per colour, left to right. Reading accepts any
  image Pillow decodes and takes its distinct colours in order of first appearance, so
  "remap to the colours of that image" works with any image of at most 256 colours.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from .errors import InputError, ParameterError

__all__ = [
    "FORMATS",
    "parse_color",
    "parse_colors",
    "palette_argument",
    "read_palette",
    "write_palette",
    "to_hex",
]

FORMATS = (".json", ".gpl", ".png")

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{8}|[0-9a-fA-F]{3})$")

_SWATCH = 32


def parse_color(text: str) -> tuple[int, ...]:
    """``(r, g, b)`` or ``(r, g, b, a)`` of ``#rgb``, ``#rrggbb`` or ``#rrggbbaa``.

    Raises
    ------
    ParameterError
        ``text`` is not one of those forms.
    """
    m = _HEX.match(text.strip())
    if not m:
        raise ParameterError(f"malformed colour {text!r}: use #rrggbb, #rrggbbaa or #rgb")
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return tuple(int(digits[i : i + 2], 16) for i in range(0, len(digits), 2))


def parse_colors(text: str) -> np.ndarray:
    """Colours of a comma-separated list (``"#ff0000,#ffffff"``) as uint8 ``(n, 3 or 4)``."""
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise ParameterError("no colours given")
    colors = [parse_color(t) for t in items]
    if any(len(c) == 4 for c in colors):
        colors = [c if len(c) == 4 else (*c, 255) for c in colors]
    return np.array(colors, dtype=np.uint8)


def palette_argument(palette):
    """The colours a ``palette`` argument names: a palette file's (read here), a Pillow
    image's palette (mode ``P``, as Pillow's ``Image.quantize(palette=...)`` takes), or
    the argument itself (an array, or a colour list such as ``"#ff0000,#fff"``)."""
    if isinstance(palette, (str, os.PathLike)) and not (
        isinstance(palette, str) and palette.lstrip().startswith("#")
    ):
        return read_palette(palette)
    if hasattr(palette, "getpalette") and hasattr(palette, "mode"):  # a Pillow image
        entries = palette.getpalette("RGB") if palette.mode == "P" else None
        if not entries:
            raise ParameterError(
                f"palette: a Pillow image in mode P holds a palette, not one in mode {palette.mode}"
            )
        return np.array(entries, dtype=np.uint8).reshape(-1, 3)
    return palette


def to_hex(color) -> str:
    """``#rrggbb`` (or ``#rrggbbaa`` when not opaque) of one colour."""
    c = [int(v) for v in color]
    if len(c) == 4 and c[3] == 255:
        c = c[:3]
    return "#" + "".join(f"{v:02x}" for v in c)


def _format(path) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise ParameterError(
            f"{os.fspath(path)}: unknown palette format {ext or '(none)'!r}: "
            f"use {', '.join(FORMATS)}"
        )
    return ext


def write_palette(path, palette: np.ndarray, *, force: bool = True) -> None:
    """Write ``palette`` (uint8 ``(n, 3 or 4)``) to ``path`` in the format of its extension."""
    from .io import write_atomic

    ext = _format(path)
    if ext == ".json":
        data = (json.dumps([to_hex(c) for c in palette]) + "\n").encode()
    elif ext == ".gpl":
        lines = ["GIMP Palette", "Name: palettepress", f"Columns: {min(len(palette), 16)}", "#"]
        lines += [f"{c[0]:3d} {c[1]:3d} {c[2]:3d}\t{to_hex(c)}" for c in palette.tolist()]
        data = ("\n".join(lines) + "\n").encode()
    else:
        from .encode import encode_png

        n = len(palette)
        strip = np.repeat(
            np.repeat(np.arange(n, dtype=np.uint8)[None, :], _SWATCH, axis=1), _SWATCH, axis=0
        )
        data = encode_png(strip, np.ascontiguousarray(palette), metadata=None)
    write_atomic(path, data, force=force)


def read_palette(path) -> np.ndarray:
    """Colours (uint8 ``(n, 3 or 4)``, 1 <= n <= 256) of a palette file or of an image.

    Raises
    ------
    ParameterError
        Unknown extension.
    InputError
        Missing or unreadable file, malformed content, no colours or more than 256.
    """
    ext = _format(path)
    name = os.fspath(path)
    if ext == ".png":
        from .io import load

        px = load(path).pixels
        flat = px.reshape(-1, px.shape[2])
        _, first = np.unique(flat, axis=0, return_index=True)
        colors = flat[np.sort(first)]
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError as exc:
            raise InputError(f"{name}: no such file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{name}: cannot read ({exc})") from exc
        try:
            colors = _parse_json(text) if ext == ".json" else _parse_gpl(text)
        except ParameterError as exc:
            raise InputError(f"{name}: {exc}") from None
    if len(colors) == 0:
        raise InputError(f"{name}: the palette has no colours")
    if len(colors) > 256:
        raise InputError(f"{name}: {len(colors)} colours, more than a PNG palette holds (256)")
    return np.ascontiguousarray(colors, dtype=np.uint8)


def _parse_json(text: str) -> np.ndarray:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        data = data.get("colors")
    if not isinstance(data, list) or not all(isinstance(c, str) for c in data):
        raise ParameterError("expected a JSON list of hex colour strings")
    return parse_colors(",".join(data)) if data else np.zeros((0, 3), np.uint8)


def _parse_gpl(text: str) -> np.ndarray:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise ParameterError("not a GIMP palette (no 'GIMP Palette' header)")
    colors = []
    for number, line in enumerate(lines[1:], start=2):
        line = line.strip()
        if not line or line.startswith("#") or ":" in line.split()[0]:
            continue
        parts = line.split()
        try:
            rgb = [int(v) for v in parts[:3]]
        except ValueError:
            raise ParameterError(f"line {number}: expected 'R G B [name]', got {line!r}") from None
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise ParameterError(f"line {number}: expected three values 0-255, got {line!r}")
        colors.append(rgb)
    return np.array(colors, dtype=np.uint8).reshape(-1, 3)
