#!/usr/bin/env python
"""What ``animation_set.py`` and ``bench_animation.py`` share: the clips of the animation
set (:class:`Clip`, :func:`read_clips`), decoding an animated file to the frames a viewer
shows (:func:`decode`, :func:`decode_ffmpeg`), lining those frames up with the source
frames by time (:func:`aligned`), the measures (:func:`flicker_counts`,
:func:`ssimulacra2_scores`, :func:`same_animation`), and the Python rows of the benchmark,
one per process:

    python benchmarks/_animation.py TOOL FRAMES_DIR OUT FPS

reads ``FRAMES_DIR/frame0001.png, ...`` (in name order) and writes the animated GIF
``OUT`` at ``FPS`` frames a second:

- ``pillow``: the frames as RGB images, ``save(OUT, save_all=True, append_images=...,
  duration=1000/FPS, loop=0)`` (Pillow quantizes each frame itself);
- ``palettepress-frames``: ``palettepress.compress(frame, 256)`` on each frame (default
  settings), each result a P-mode image with its own palette, saved the same way;
- ``palettepress-redrawn`` (``bench_animation_video.py``; FRAMES_DIR is a video, FPS
  ignored): ``palettepress.animate(video, output=OUT)`` with
  ``temporal.NOISE_LEVELS = 0``: the pixels a video decoder redraws by a level or two
  where the picture is still are drawn again, as they were before they were kept.

The benchmark starts one such process per run, so its wall time counts interpreter
start-up and imports, as an external tool's does. Only the standard library is imported
at module level (numpy, Pillow and palettepress inside the functions that use them), so a
worker pays for no import its tool does not need.
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KINDS = ("natural", "plot", "screen", "synthetic")
FRAME_PATTERN = "frame%04d.png"
WORKER_TOOLS = ("pillow", "palettepress-frames", "palettepress-redrawn")
DEFAULT_SET = Path(__file__).resolve().parent / ".animation-set"


def frame_name(i: int) -> str:
    """File name of frame ``i`` (counted from 1)."""
    return FRAME_PATTERN % i


@dataclass(frozen=True)
class Clip:
    """A clip of the set: a folder of ``frame0001.png, ...`` and its ``clip.json``."""

    name: str
    path: Path
    fps: float
    frames: int
    width: int
    height: int
    kind: str
    source: str

    def frame_paths(self) -> list[Path]:
        return [self.path / frame_name(i) for i in range(1, self.frames + 1)]

    def load(self):
        """All frames as one uint8 array ``(frames, height, width, 3)``."""
        import numpy as np
        from PIL import Image

        out = np.empty((self.frames, self.height, self.width, 3), np.uint8)
        for i, p in enumerate(self.frame_paths()):
            with Image.open(p) as im:
                out[i] = np.asarray(im.convert("RGB"))
        return out


def read_clip(folder: Path) -> Clip:
    meta = json.loads((folder / "clip.json").read_text())
    return Clip(folder.name, folder, float(meta["fps"]), int(meta["frames"]), int(meta["width"]),
                int(meta["height"]), meta["kind"], meta["source"])


def read_clips(set_dir: Path) -> list[Clip]:
    """Every finished clip (one with a ``clip.json``) of the set, by kind then name."""
    clips = [read_clip(p.parent) for p in sorted(set_dir.glob("*/clip.json"))]
    return sorted(clips, key=lambda c: (KINDS.index(c.kind) if c.kind in KINDS else 9, c.name))


# -- the GIF makers the set and the benchmark share -------------------------------

#: ffmpeg reading a clip's frames at its frame rate.
_FFMPEG_IN = ("ffmpeg", "-v", "error", "-y", "-framerate", "{fps}", "-i", "{pattern}")


def _ffmpeg(gen: str, use: str) -> tuple[str, ...]:
    """ffmpeg's one-process two-pass recipe: the palette from all frames, then applied."""
    return (*_FFMPEG_IN, "-filter_complex", f"[0:v]split[a][b];[a]{gen}[p];[b][p]{use}", "{out}")


#: Command templates writing ``{out}`` (a GIF) from a clip's frames: ``{fps}``, ``{frames}``
#: (the folder), ``{pattern}`` (``FOLDER/frame%04d.png``), ``{frame_files}`` (every frame,
#: in order, as separate arguments), ``{python}`` and ``{worker}`` (this file).
RECIPES = {
    "pillow": ("{python}", "{worker}", "pillow", "{frames}", "{out}", "{fps}"),
    "ffmpeg": _ffmpeg("palettegen", "paletteuse"),
    "ffmpeg-diff": _ffmpeg("palettegen=stats_mode=diff",
                           "paletteuse=dither=sierra2_4a:diff_mode=rectangle"),
    "ffmpeg-single": _ffmpeg("palettegen=stats_mode=single", "paletteuse=new=1"),
    "ffmpeg-bayer": _ffmpeg("palettegen", "paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle"),
    "imagemagick": ("convert", "-delay", "1x{fps}", "-loop", "0", "{frame_files}", "-layers",
                    "Optimize", "{out}"),
    "palettepress-frames": ("{python}", "{worker}", "palettepress-frames", "{frames}", "{out}",
                            "{fps}"),
}


@dataclass(frozen=True)
class Row:
    """One way of making an animation: ``template`` is its command (see
    ``_animation.fill``), ``ext`` the output's extension, ``family`` who makes it."""

    key: str
    label: str
    family: str
    ext: str
    template: tuple[str, ...]

REFERENCE_ROWS = [
    Row("pillow", "Pillow `save_all` (RGB frames)", "pillow", "gif", RECIPES["pillow"]),
    Row("ffmpeg", "ffmpeg palettegen + paletteuse (defaults)", "ffmpeg", "gif", RECIPES["ffmpeg"]),
    Row("ffmpeg-diff", "ffmpeg `stats_mode=diff`, `sierra2_4a`, `diff_mode=rectangle`", "ffmpeg",
        "gif", RECIPES["ffmpeg-diff"]),
    Row("ffmpeg-single", "ffmpeg `stats_mode=single`, `new=1` (a palette per frame)", "ffmpeg",
        "gif", RECIPES["ffmpeg-single"]),
    Row("ffmpeg-bayer", "ffmpeg `bayer:bayer_scale=3`, `diff_mode=rectangle`", "ffmpeg", "gif",
        RECIPES["ffmpeg-bayer"]),
    Row("imagemagick", "ImageMagick `-layers Optimize`", "imagemagick", "gif", RECIPES["imagemagick"]),
    Row("palettepress-frames", "palettepress `compress` per frame, assembled by Pillow",
        "palettepress-frames", "gif", RECIPES["palettepress-frames"]),
]

# ---- HOOK: palettepress's own animation rows --------------------------------------
# The rows of `palettepress animate`. While the command does not exist (`palettepress
# animate --help` fails) they are skipped with a note and their targets show n/a; once it
# exists they run like the rows above, and the targets are judged on them. Add rows here
# (other options of `animate`) as the command grows; the family "palettepress" is what the
# targets look for. APNG and WebP outputs are measured by the same code (Pillow reads both).
ANIMATE = ("palettepress", "animate")
PALETTEPRESS_ROWS = [
    Row("pp-animate-gif", "palettepress `animate` (GIF)", "palettepress", "gif",
        (*ANIMATE, "{frames}", "-o", "{out}", "--fps", "{fps}")),
    Row("pp-animate-apng", "palettepress `animate` (APNG)", "palettepress", "png",
        (*ANIMATE, "{frames}", "-o", "{out}", "--fps", "{fps}")),
    Row("pp-animate-webp", "palettepress `animate` (WebP)", "palettepress", "webp",
        (*ANIMATE, "{frames}", "-o", "{out}", "--fps", "{fps}")),
]
#: Re-encoding an existing GIF losslessly: the reference, then palettepress's hook.
REENCODE_ROWS = [Row("gifsicle", "`gifsicle -O3`", "gifsicle", "gif",
                     ("gifsicle", "-O3", "{in}", "-o", "{out}"))]
PALETTEPRESS_REENCODE_ROWS = [Row("pp-animate-reencode", "palettepress `animate` (GIF to GIF)",
                                  "palettepress", "gif", (*ANIMATE, "{in}", "-o", "{out}"))]
# ---- end of the hook ----------------------------------------------------------------


def fill(template: tuple[str, ...], out: Path, clip: Clip | None = None,
         source: Path | None = None) -> list[str]:
    """``template`` with the values of ``clip`` (frames) or ``source`` (``{in}``, a file) put in."""
    values = {"out": str(out), "python": sys.executable, "worker": str(Path(__file__).resolve()),
              "in": str(source) if source else ""}
    if clip is not None:
        values.update(fps=f"{clip.fps:g}", frames=str(clip.path),
                      pattern=str(clip.path / FRAME_PATTERN))
    argv = []
    for arg in template:
        if arg == "{frame_files}":
            argv.extend(str(p) for p in clip.frame_paths())
        else:
            argv.append(arg.format(**values))
    return argv


def shown(template: tuple[str, ...], clip: Clip | None = None) -> str:
    """``template`` as the tables show it: ``FRAMES`` for the clip's folder and ``F`` its
    rate (or the clip's name and rate), ``IN`` and ``OUT`` the files."""
    frames, fps = (clip.name, f"{clip.fps:g}") if clip else ("FRAMES", "F")
    values = {"fps": fps, "frames": frames, "pattern": f"{frames}/frame%04d.png", "out": "OUT",
              "python": "python", "worker": "benchmarks/_animation.py", "in": "IN"}
    return " ".join(f"{frames}/frame*.png" if a == "{frame_files}" else shlex.quote(a.format(**values))
                    for a in template)


# -- decoding ---------------------------------------------------------------------


@dataclass
class Animation:
    """The frames a viewer shows, composited (disposal, transparency and blending applied),
    with each one's display time in milliseconds. ``transparent`` counts the pixels of all
    frames left not fully opaque, shown over black."""

    frames: object  # uint8 array (n, h, w, 3)
    durations_ms: list
    transparent: int = 0

    @property
    def total_ms(self) -> float:
        return float(sum(self.durations_ms))


def over_black(rgba):
    import numpy as np

    alpha = rgba[..., 3:4].astype(np.uint16)
    return ((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8)


def decode(path: Path) -> Animation:
    """Every frame of a GIF, APNG or animated WebP as Pillow composites it, in RGB."""
    import numpy as np
    from PIL import Image

    frames, durations, transparent = [], [], 0
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            rgba = np.asarray(im.convert("RGBA"))
            clear = int(np.count_nonzero(rgba[..., 3] < 255))
            transparent += clear
            frames.append(over_black(rgba) if clear else np.ascontiguousarray(rgba[..., :3]))
            durations.append(float(im.info.get("duration", 0) or 0))
    return Animation(np.stack(frames), durations, transparent)


def decode_ffmpeg(path: Path):
    """Every frame of ``path`` as ffmpeg's decoder gives it, RGBA ``(n, h, w, 4)``: one
    output frame per decoded frame (``-fps_mode passthrough``), nothing dropped or doubled."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgba", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 4)


def aligned(anim: Animation, n: int, fps: float):
    """Index of the output frame on screen at each source frame's start ``i / fps``."""
    import numpy as np

    return frame_at(anim, np.arange(n) * (1000.0 / fps))


# -- measures ---------------------------------------------------------------------


def flicker_counts(source, out, idx) -> tuple[int, int]:
    """``(changed, still)`` over all consecutive pairs of source frames: ``still`` counts
    the pixels equal in both frames of a pair, ``changed`` those of them whose output pixel
    (the output frames shown at the two times) differs; an RGBA output pixel clear in both
    shows nothing either time, whatever colour lies under it. Flicker is
    ``changed / still``."""
    import numpy as np

    changed = still = 0
    for i in range(1, len(source)):
        same = (source[i] == source[i - 1]).all(axis=-1)
        still += int(np.count_nonzero(same))
        if idx[i] != idx[i - 1]:
            a, b = out[idx[i]], out[idx[i - 1]]
            moved = (a != b).any(axis=-1)
            if a.shape[-1] == 4:
                moved &= (a[..., 3] > 0) | (b[..., 3] > 0)
            changed += int(np.count_nonzero(same & moved))
    return changed, still


def ssimulacra2_scores(source, out, idx, step: int) -> list[float]:
    """SSIMULACRA2 of the output frame shown at every ``step``-th source frame's time."""
    from palettepress.metrics import ssimulacra2

    return [ssimulacra2(source[i], out[idx[i]]) for i in range(0, len(source), step)]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation), NaN for no values."""
    import numpy as np

    values = [v for v in values if not math.isnan(v)]
    return float(np.percentile(values, q)) if values else math.nan


def same_animation(a: Animation, b: Animation) -> str | None:
    """None when ``a`` and ``b`` show the same pixels at every moment (frames may be split
    or merged differently), else what differs first."""
    import numpy as np

    if a.frames.shape[1:] != b.frames.shape[1:]:
        return f"size {a.frames.shape[2]}x{a.frames.shape[1]} vs {b.frames.shape[2]}x{b.frames.shape[1]}"
    if abs(a.total_ms - b.total_ms) > 0.5:
        return f"length {a.total_ms:g} ms vs {b.total_ms:g} ms"
    times = np.unique(np.concatenate([_starts(a), _starts(b)]))
    for t, i, j in zip(times, frame_at(a, times), frame_at(b, times)):
        diff = np.count_nonzero((a.frames[i] != b.frames[j]).any(axis=-1))
        if diff:
            return f"{diff} pixels differ at {t:g} ms"
    return None


def _starts(anim: Animation):
    import numpy as np

    return np.concatenate([[0.0], np.cumsum(anim.durations_ms)[:-1]])


def frame_at(anim: Animation, times_ms):
    """Index of the frame on screen at each of ``times_ms`` (half a millisecond of slack
    for rounded delays); the last frame after the end."""
    import numpy as np

    starts = _starts(anim)
    return np.clip(np.searchsorted(starts, np.asarray(times_ms) + 0.5, side="right") - 1,
                   0, len(starts) - 1)


# -- the Python rows, one per process ----------------------------------------------


def _save(images, out: Path, fps: float) -> None:
    images[0].save(out, save_all=True, append_images=images[1:], duration=1000.0 / fps, loop=0)


def worker(tool: str, frames_dir: Path, out: Path, fps: float) -> None:
    """Write ``out`` from the frames of ``frames_dir`` with ``tool`` (see the module docstring)."""
    from PIL import Image

    paths = sorted(frames_dir.glob("frame*.png"))
    if tool == "pillow":
        images = []
        for p in paths:
            with Image.open(p) as im:
                images.append(im.convert("RGB"))
        _save(images, out, fps)
    elif tool == "palettepress-frames":
        import palettepress

        images = []
        for p in paths:
            r = palettepress.compress(p, 256)
            frame = Image.fromarray(r.indices, "P")
            frame.putpalette(r.palette[:, :3].tobytes(), "RGB")
            images.append(frame)
        _save(images, out, fps)
    elif tool == "palettepress-redrawn":
        import palettepress
        from palettepress import temporal

        temporal.NOISE_LEVELS = 0
        palettepress.animate(frames_dir, output=out, force=True)
    else:
        raise SystemExit(f"_animation.py: unknown tool {tool!r} (one of {', '.join(WORKER_TOOLS)})")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python benchmarks/_animation.py TOOL FRAMES_DIR OUT FPS")
    worker(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
