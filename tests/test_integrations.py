"""The integrations with the real libraries: matplotlib's movie writer, imageio's plugin.

The matplotlib tests save a FuncAnimation (a heatmap with a colour bar and a changing
title, Agg canvas) with ``writer="palettepress"`` and with matplotlib's own
``PillowWriter``, decode both files with Pillow, and score every frame with SSIMULACRA2
against the frame the figure itself draws.
"""

from __future__ import annotations

import functools
import io
import os

import numpy as np
import pytest
from PIL import Image

import palettepress
from palettepress.metrics import ssimulacra2

FPS = 15
FRAMES = 10
SIZE = (320, 240)  # 4 x 3 inches at 80 dpi


def _matplotlib():
    mpl = pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed: pip install 'palettepress[matplotlib]'"
    )
    import palettepress.matplotlib  # noqa: F401  (registers the writer)

    return mpl


def _iio():
    return pytest.importorskip(
        "imageio.v3", reason="imageio is not installed: pip install 'palettepress[imageio]'"
    )


def decode(path) -> tuple[list[np.ndarray], list[float], tuple[int, int]]:
    """Frames as a viewer shows them (RGBA), their durations in ms, and the canvas size."""
    with Image.open(path) as im:
        frames, durations = [], []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGBA")))  # loads: WebP sets its duration
            durations.append(im.info.get("duration", 0))
        return frames, durations, im.size


def heatmap_figure(fail_at=None):
    """A figure on an Agg canvas, its update function (deterministic per frame), and the
    list of the frames it drew."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y, x = np.mgrid[-3:3:60j, -3:3:80j]
    image = ax.imshow(np.zeros_like(x), cmap="viridis", vmin=-1, vmax=1, origin="lower")
    fig.colorbar(image, ax=ax)
    drawn = []

    def update(i):
        if i == fail_at:
            raise RuntimeError(f"no data for frame {i}")
        drawn.append(i)
        t = 2 * np.pi * i / FRAMES
        image.set_data(np.sin(1.5 * x + t) * np.cos(y - t / 2))
        ax.set_title(f"t = {i / FPS:.2f} s")
        return [image]

    return fig, update, drawn


def heatmap_animation(fail_at=None):
    """The figure as a FuncAnimation of FRAMES frames at FPS."""
    _matplotlib()
    from matplotlib.animation import FuncAnimation

    fig, update, drawn = heatmap_figure(fail_at)
    anim = FuncAnimation(fig, update, frames=FRAMES, interval=1000 / FPS, blit=False)
    return fig, anim, update, drawn


@functools.cache
def figure_frames() -> tuple[np.ndarray, ...]:
    """The frames as the figure draws them on its own Agg canvas (RGB: they are opaque)."""
    fig, update, _ = heatmap_figure()
    out = []
    for i in range(FRAMES):
        update(i)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        assert rgba[..., 3].min() == 255
        out.append(rgba[..., :3].copy())
    return tuple(out)


@functools.cache
def saved(writer: str, ext: str, folder: str) -> dict:
    """Save the animation with one writer; decode it; score each frame."""
    _matplotlib()
    from matplotlib.animation import PillowWriter

    _, anim, _, _ = heatmap_animation()
    path = os.path.join(folder, f"{writer}.{ext}")
    if writer == "pillow":
        anim.save(path, writer=PillowWriter(fps=FPS))
    else:
        anim.save(path, writer=writer, fps=FPS)
    frames, durations, size = decode(path)
    scores = [ssimulacra2(ref, f[..., :3]) for ref, f in zip(figure_frames(), frames)]
    return {"bytes": os.path.getsize(path), "frames": frames, "durations": durations,
            "size": size, "scores": scores}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("matplotlib"))


# --- matplotlib ---------------------------------------------------------------------------


def test_the_writer_is_registered():
    _matplotlib()
    from matplotlib import animation

    from palettepress.matplotlib import PalettepressWriter

    assert animation.writers.is_available("palettepress")
    assert animation.writers["palettepress"] is PalettepressWriter
    assert issubclass(PalettepressWriter, animation.AbstractMovieWriter)


def test_the_reference_frames_are_what_the_writers_grab(folder):
    # PillowWriter's .png is a lossless APNG: its frames are exactly what was grabbed.
    grabbed = saved("pillow", "png", folder)["frames"]
    assert len(grabbed) == FRAMES
    for ref, frame in zip(figure_frames(), grabbed):
        np.testing.assert_array_equal(frame[..., :3], ref)


@pytest.mark.parametrize("ext", ["gif", "png", "apng", "webp"])
def test_matplotlib_saves_every_frame(ext, folder):
    got = saved("palettepress", ext, folder)
    assert len(got["frames"]) == FRAMES
    assert got["size"] == SIZE
    assert all(abs(d - 1000 / FPS) <= 10 for d in got["durations"]), got["durations"]
    assert min(got["scores"]) > 90  # 256 colours a frame: close to the figure
    with Image.open(os.path.join(folder, f"palettepress.{ext}")) as im:
        assert im.format == {"gif": "GIF", "png": "PNG", "apng": "PNG", "webp": "WEBP"}[ext]


# Against matplotlib's PillowWriter on this figure (10 frames, 320x240, ~1270 colours a
# frame; palettepress at its defaults, 256 colours), measured:
#   GIF   palettepress 97.0 mean in 209.8 kB, PillowWriter 93.7 in 270.4 kB: +3.2 (worst
#         frame +2.3) in 0.78x the bytes. (The project's target is +5: not met; one frame
#         alone at 256 colours scores 97.3 at most, whatever the settings.)
#   PNG   PillowWriter writes a lossless RGB APNG (100 on every frame, 253.1 kB); ours is
#         97.3 in 0.58x the bytes.
#   WebP  PillowWriter writes lossy WebP (quality 80): 84.0 in 45.0 kB; ours is lossless,
#         97.3 (+13.4) in 3.1x the bytes.
# (Before palettes counted each colour for the frames it is on screen: GIF 97.0 in
# 221.8 kB, PNG 96.8 in 159.6 kB, WebP 97.1 in 151.4 kB.)
# What palettepress holds to on every frame: GIF better in fewer bytes, PNG in fewer
# bytes, WebP better.
CLAIMS = [("gif", "quality", 2.0), ("gif", "bytes", 1.0), ("png", "bytes", 1.0),
          ("webp", "quality", 5.0)]


@pytest.mark.parametrize("ext, criterion, limit", CLAIMS)
def test_matplotlib_against_pillowwriter(ext, criterion, limit, folder):
    ours = saved("palettepress", ext, folder)
    theirs = saved("pillow", ext, folder)
    assert len(theirs["frames"]) == len(ours["frames"]) == FRAMES
    if criterion == "quality":
        gains = [a - b for a, b in zip(ours["scores"], theirs["scores"])]
        assert min(gains) >= limit, (
            f"{ext}: SSIMULACRA2 palettepress {np.mean(ours['scores']):.2f}, PillowWriter "
            f"{np.mean(theirs['scores']):.2f}; worst frame gain {min(gains):.2f}"
        )
    else:
        assert ours["bytes"] <= limit * theirs["bytes"], (
            f"{ext}: palettepress {ours['bytes']} bytes, PillowWriter {theirs['bytes']}"
        )


def test_matplotlib_writer_options_and_report(tmp_path):
    _matplotlib()
    from palettepress.matplotlib import PalettepressWriter

    _, anim, _, _ = heatmap_animation()
    writer = PalettepressWriter(fps=FPS, colors=32, dither=0.0, effort=3, metadata={"a": "b"},
                                codec="ignored", bitrate=1000, extra_args=["-x"])
    anim.save(tmp_path / "a.gif", writer=writer)
    result = writer.animation
    assert isinstance(result, palettepress.Animation)
    assert result.frames == FRAMES and result.format == "gif"
    assert all(f.colors <= 32 for f in result.frame_figures)
    assert result.output_bytes == os.path.getsize(tmp_path / "a.gif")


def test_matplotlib_transparent_frames_keep_alpha(tmp_path):
    _, anim, _, _ = heatmap_animation()
    anim.save(tmp_path / "t.webp", writer="palettepress", fps=FPS,
              savefig_kwargs={"transparent": True})
    frames, _, _ = decode(tmp_path / "t.webp")
    assert len(frames) == FRAMES
    assert frames[0][0, 0, 3] == 0  # the figure's background
    assert frames[0][..., 3].max() == 255


def test_matplotlib_bad_options_fail_before_drawing(tmp_path):
    _matplotlib()
    from palettepress.matplotlib import PalettepressWriter

    for path, writer, message in [
        (tmp_path / "a.mp4", "palettepress", "unknown animation format"),
        (tmp_path / "a.gif", PalettepressWriter(colors=1), "colors"),
        (tmp_path / "a.webp", PalettepressWriter(effort=11), "effort"),
        (tmp_path / "a.png", PalettepressWriter(dither=2), "dither"),  # APNG: frames held
        (tmp_path / "a.apng", PalettepressWriter(fps=0), "fps"),
    ]:
        _, anim, _, drawn = heatmap_animation()
        drawn.clear()
        with pytest.raises(palettepress.ParameterError, match=message):
            anim.save(path, writer=writer)
        assert drawn == []  # the error came at setup, before any frame was drawn
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("ext", ["gif", "png"])  # streamed, and held for one APNG palette
def test_matplotlib_failed_save_leaves_no_file(tmp_path, ext):
    _, anim, _, _ = heatmap_animation(fail_at=5)
    with pytest.raises(RuntimeError, match="no data for frame 5"):
        anim.save(tmp_path / f"a.{ext}", writer="palettepress", fps=FPS)
    assert os.listdir(tmp_path) == []


def test_matplotlib_output_error_surfaces(tmp_path):
    _matplotlib()
    from palettepress.matplotlib import PalettepressWriter

    _, anim, _, _ = heatmap_animation()
    folder = tmp_path / "taken.gif"
    folder.mkdir()  # the name is a folder: palettepress refuses to write there
    with pytest.raises(palettepress.PalettepressError):
        anim.save(folder, writer=PalettepressWriter(fps=FPS))


# --- imageio --------------------------------------------------------------------------------


def few_colour_frames(n=6, h=40, w=56, alpha=False):
    """A square moving over stripes: 4 colours a frame, so palettepress is lossless."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.where((x // 7) % 2 == 0, 40, 200).astype(np.uint8)
    out = []
    for i in range(n):
        f = np.stack([base, base, np.full_like(base, 90)], axis=-1)
        f[10:26, 3 + 5 * i : 19 + 5 * i] = (230, 30, 30)
        if alpha:
            a = np.full((h, w, 1), 255, np.uint8)
            a[:, :4] = 0
            f = np.concatenate([f, a], axis=-1)
        out.append(f)
    return np.stack(out)


def test_imageio_still_round_trip(tmp_path):
    iio = _iio()
    from palettepress.imageio import PalettepressPlugin

    for ext, alpha in [(".png", False), (".png", True), (".webp", False), (".gif", False)]:
        image = few_colour_frames(1, alpha=alpha)[0]
        path = tmp_path / f"still{ext}"
        assert iio.imwrite(path, image, plugin=PalettepressPlugin, colors=16) is None
        back = iio.imread(path, index=0, mode="RGBA" if alpha else "RGB")  # imageio: Pillow
        if alpha:  # every transparent pixel shares one palette entry: compare what shows
            np.testing.assert_array_equal(back[..., 3], image[..., 3])
            shown = image[..., 3] > 0
            np.testing.assert_array_equal(back[shown], image[shown])
        else:
            np.testing.assert_array_equal(back, image)
        with Image.open(path) as im:
            assert getattr(im, "n_frames", 1) == 1
    data = iio.imwrite("<bytes>", image, plugin="palettepress", extension=".png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(iio.imread(data)[..., :3], image[..., :3])


@pytest.mark.parametrize("ext", [".gif", ".png", ".webp"])
def test_imageio_animation_round_trip(tmp_path, ext):
    iio = _iio()
    from palettepress.imageio import PalettepressPlugin

    frames = few_colour_frames()
    path = tmp_path / f"anim{ext}"
    iio.imwrite(path, frames, plugin=PalettepressPlugin, duration=40, loop=2)
    back = iio.imread(path, index=..., plugin=PalettepressPlugin)  # Pillow reads it
    np.testing.assert_array_equal(back[..., :3], frames)
    props = iio.improps(path, plugin="palettepress", index=...)
    assert props.n_images == len(frames)
    decoded, durations, _ = decode(path)
    assert len(decoded) == len(frames)
    assert durations == [40] * len(frames)
    with Image.open(path) as im:
        assert im.info.get("loop") == 2


def test_imageio_batch_forms_and_rates(tmp_path):
    iio = _iio()
    frames = few_colour_frames()
    grey = frames[..., 0]
    for name, batch, kwargs in [
        ("list.gif", list(frames), {"fps": 25}),
        ("grey.gif", grey, {"duration": [40] * len(frames)}),  # (N, H, W): a batch
        ("one.gif", frames[:1], {"is_batch": True, "duration": 40}),
    ]:
        iio.imwrite(tmp_path / name, batch, plugin="palettepress", **kwargs)
        decoded, durations, _ = decode(tmp_path / name)
        assert len(decoded) == len(batch) and durations == [40] * len(batch), name
    np.testing.assert_array_equal(decode(tmp_path / "grey.gif")[0][2][..., 0], grey[2])
    data = iio.imwrite("<bytes>", frames, plugin="palettepress", format="webp", fps=25)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    buffer = io.BytesIO()
    iio.imwrite(buffer, frames, plugin="palettepress", extension=".gif")
    assert buffer.getvalue()[:6] == b"GIF89a"


def test_imageio_errors_leave_no_file(tmp_path):
    iio = _iio()
    frames = few_colour_frames()
    target = tmp_path / "a.gif"
    with pytest.raises(palettepress.ParameterError, match="same time"):
        iio.imwrite(target, frames, plugin="palettepress", duration=[40, 80] * 3)
    with pytest.raises(palettepress.ParameterError, match="fps or duration"):
        iio.imwrite(target, frames, plugin="palettepress", fps=25, duration=40)
    with pytest.raises(palettepress.ParameterError, match="batch"):
        iio.imwrite(target, frames[0], plugin="palettepress", loop=0)
    with pytest.raises(palettepress.InputError, match="uint8"):
        iio.imwrite(target, frames.astype(np.float32), plugin="palettepress")
    with pytest.raises(palettepress.ParameterError, match="colors"):
        iio.imwrite(target, frames, plugin="palettepress", colors=300)
    with pytest.raises(palettepress.ParameterError, match="extension"):
        iio.imwrite("<bytes>", frames, plugin="palettepress")
    with pytest.raises(OSError, match="palettepress"):
        iio.imwrite(tmp_path / "a.jpg", frames[0], plugin="palettepress")
    assert os.listdir(tmp_path) == []
