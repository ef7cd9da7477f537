"""Animations: frames through the stages with state carried forward, and the three writers.

Every file is decoded again by Pillow (composited frames, as browsers show them) and
checked against the source frames; the clips are small synthetic ones made here.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image

import palettepress
from palettepress import _kernels, animwriters, dither, metrics
from palettepress.cli import main


def decoded(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    """The frames of an animated file as shown (RGBA), and their durations in ms."""
    im = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        frames.append(np.asarray(im.convert("RGBA")))
        durations.append(im.info.get("duration", 0))
    return frames, durations


def moving_square(n=12, h=48, w=64, colours=3):
    """A flat background, a striped square moving right, a static label: few colours."""
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:] = (30, 60, 90)
        f[4:10, 4:30] = (250, 250, 250)  # the label never changes
        x = 10 + 3 * i
        f[20:36, x : x + 16] = (200, 40, 40)
        if colours > 3:
            f[20:36:2, x : x + 16] = (40, 200, 40)
        out.append(f)
    return out


def photo_pan(n=8, h=60, w=90, seed=1, noise=6.0):
    """A smooth colourful field drifting by a pixel a frame: more colours than a palette."""
    yy, xx = np.mgrid[0 : h + 64, 0 : w + 64].astype(np.float32)
    rng = np.random.default_rng(seed)
    field = np.stack(
        [
            128 + 100 * np.sin(xx / 9 + 1.3) * np.cos(yy / 11),
            128 + 100 * np.sin(yy / 7 + 0.4),
            128 + 100 * np.cos((xx + yy) / 13),
        ],
        axis=2,
    ) + rng.normal(0, noise, (h + 64, w + 64, 3))
    field = np.clip(field, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(field[i : i + h, 2 * i : 2 * i + w]) for i in range(n)]


def local_tables(gif: bytes) -> list[int]:
    """Bytes of each GIF image's own colour table (0: it uses the global one)."""
    flags = gif[10]
    pos, sizes = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0), []
    while gif[pos] != 0x3B:
        if gif[pos] == 0x21:  # an extension: its label, then sub-blocks
            pos += 2
        else:  # an image: descriptor, its table, the LZW code size, then sub-blocks
            packed = gif[pos + 9]
            sizes.append(3 * (2 << (packed & 7)) if packed & 0x80 else 0)
            pos += 10 + sizes[-1] + 1
        while gif[pos]:
            pos += gif[pos] + 1
        pos += 1
    return sizes


def gif_images(gif: bytes):
    """``(start, end)`` offsets of each GIF image: descriptor, colour table, LZW data."""
    flags = gif[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    while gif[pos] != 0x3B:
        start, image = pos, gif[pos] == 0x2C
        if image:
            packed = gif[pos + 9]
            pos += 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0) + 1
        else:
            pos += 2
        while gif[pos]:
            pos += gif[pos] + 1
        pos += 1
        if image:
            yield start, pos


def image_bytes(gif: bytes) -> list[int]:
    """Bytes of each GIF image: descriptor, colour table and LZW data."""
    return [end - start for start, end in gif_images(gif)]


def _scroll_then_corners():
    """A page scrolling (every frame redrawn, its still white kept), then still but for
    two far corners: frames that span the page but keep almost every pixel."""
    rng = np.random.default_rng(3)
    h, w = 260, 300
    page = np.full((h * 3, w, 3), 255, np.uint8)
    for y in range(10, h * 3 - 10, 14):
        x = 10
        while x < w - 30:
            n = int(rng.integers(8, 30))
            page[y : y + 8, x : x + n] = rng.integers(0, 200, 3)
            x += n + int(rng.integers(3, 9))
    noise = rng.normal(0, 3, page.shape) * (page < 255)
    page = np.clip(page + noise, 0, 255).astype(np.uint8)
    frames = [np.ascontiguousarray(page[4 * i : 4 * i + h]) for i in range(10)]
    for i in range(6):
        f = frames[9].copy()
        f[2:6, 2 + 4 * i : 6 + 4 * i] = (255, 0, 0)
        f[-6:-2, -6 - 4 * i : -2 - 4 * i] = (0, 0, 255)
        frames.append(f)
    return frames


def test_gif_frames_that_change_little_after_a_scroll_are_written_for_what_they_are(
    monkeypatch,
):
    # The way of writing kept pixels that won while scrolling is tried again when the
    # page stops, not carried over.
    frames = _scroll_then_corners()
    a = palettepress.animate(frames, fps=10)
    monkeypatch.setattr(animwriters, "RETRIAL_KEPT", 2.0)  # only one frame in TRIAL_EVERY
    b = palettepress.animate(frames, fps=10)
    shown_a, shown_b = decoded(a.data)[0], decoded(b.data)[0]
    assert len(shown_a) == len(shown_b) == len(frames)
    assert all(np.array_equal(x, y) for x, y in zip(shown_a, shown_b))  # the same pixels
    still_a, still_b = sum(image_bytes(a.data)[10:]), sum(image_bytes(b.data)[10:])
    assert still_a < 0.2 * still_b
    assert a.output_bytes < b.output_bytes


def test_webp_frames_that_change_little_after_a_scroll_are_written_for_what_they_are(
    monkeypatch,
):
    # The frame where the page stops (the 11th) tries both ways of writing kept pixels,
    # as the frames that end each TRIAL_EVERY do; without the retrial it is written one way.
    encodes: list[int] = []
    encode, write = animwriters.WebpWriter._encode, animwriters.WebpWriter._write

    def counted_encode(self, pixels):
        encodes[-1] += 1
        return encode(self, pixels)

    def counted_write(self, f, until):
        encodes.append(0)
        return write(self, f, until)

    monkeypatch.setattr(animwriters.WebpWriter, "_encode", counted_encode)
    monkeypatch.setattr(animwriters.WebpWriter, "_write", counted_write)
    frames = _scroll_then_corners()
    a = palettepress.animate(frames, fps=10, format="webp")
    with_retrial, encodes[:] = encodes[:], []
    monkeypatch.setattr(animwriters, "RETRIAL_KEPT", 2.0)
    b = palettepress.animate(frames, fps=10, format="webp")
    assert len(with_retrial) == len(encodes) == len(frames)
    assert with_retrial[10] == 2 and encodes[10] == 1
    assert with_retrial[8] == encodes[8] == 2  # a trial frame either way
    assert a.output_bytes <= b.output_bytes


def test_small_gif_frames_of_many_colours_carry_no_table_of_their_own():
    # Patches of a hundred exact colours typed over a colourful frame (text appearing in a
    # terminal): a table of their own would cost more than their pixels.
    base = photo_pan(1, h=60, w=90)[0]
    frames = [base]
    for i in range(6):
        f = frames[-1].copy()
        f[40:50, 6 + 12 * i : 18 + 12 * i] = base[5:15, 60:72]
        frames.append(f)
    patch = base[5:15, 60:72].reshape(-1, 3)
    assert len(np.unique(patch, axis=0)) > 64
    a = palettepress.animate(frames, fps=10, format="gif")
    assert len(local_tables(a.data)) == len(frames)
    assert local_tables(a.data) == [0] * len(frames)
    assert all(f.drawn < 0.03 for f in a.frame_figures[1:])


def _decoder_noise(frames, levels):
    """The frames with what a video decoder does to a still picture: from frame 2 on, a
    few pixels of a still corner changed by ``levels`` (and left so)."""
    out = [frames[0], frames[1]]
    for f in frames[2:]:
        f = f.copy()
        f[2:5, 2:4] = np.clip(f[2:5, 2:4].astype(int) + levels, 0, 255).astype(np.uint8)
        out.append(f)
    return out


def _lossless_video(path, frames, rate=10):
    """``frames`` as a video PyAV decodes to exactly these pixels (FFV1 in Matroska)."""
    av = pytest.importorskip("av", reason="the video extra is not installed")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "bgr0"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp"])
def test_decoder_noise_on_a_still_picture_is_not_redrawn(tmp_path, fmt):
    # A photo with a square moving over it (more colours than a palette), as a video: a
    # still corner changed by 2 levels keeps what it showed, by 8 levels it is drawn
    # again. The same frames given as frames (decoded into a folder, as gifski users
    # make them) have more colours than the palette too, and keep it the same.
    still = photo_pan(1, h=48, w=64)[0]
    frames = []
    for i in range(4):
        f = still.copy()
        f[30:40, 10 + 8 * i : 20 + 8 * i] = (200, 40, 40)
        frames.append(f)
    drawn = {}
    for levels, kept, video in ((2, True, True), (8, False, True), (2, True, False)):
        noisy = _decoder_noise(frames, levels)
        source = _lossless_video(tmp_path / f"clip{levels}.mkv", noisy) if video else noisy
        a = palettepress.animate(source, format=fmt, fps=10)
        shown, _ = decoded(a.data)
        assert len(shown) == 4 and not a.lossless and a.flicker == 0.0
        # (2 levels drawn again may take the entries they had before)
        assert np.array_equal(shown[2][2:5, 2:4], shown[1][2:5, 2:4]) == kept
        drawn[levels, video] = round(a.frame_figures[2].drawn * 48 * 64)
        # Pixels showing a source that has not changed since are never drawn again.
        assert np.array_equal(shown[3][2:5, 2:4], shown[2][2:5, 2:4])
    assert drawn[8, True] - drawn[2, True] == 6  # the 6 changed pixels of the corner
    assert drawn[2, False] == drawn[2, True]


@pytest.mark.parametrize("as_frames", [False, True])
def test_a_gif_of_a_palette_a_frame_keeps_its_pixels_when_a_corner_moves_a_level(
    tmp_path, as_frames
):
    # A GIF of a still photo with a square moving over it as Pillow writes it, each frame
    # its own palette (more than 256 colours in all), and from frame 2 on a corner drawn
    # with a colour 2 levels off. Re-encoded, every pixel is shown as the input shows it;
    # the same given as its frames (no more colours in a frame than the palette holds).
    still = photo_pan(1, h=150, w=200)[0]
    images = []
    for i in range(5):
        f = still.copy()
        f[60:80, 20 + 16 * i : 40 + 16 * i] = (200, 40, 40)
        im = Image.fromarray(f).quantize(200 - 10 * i)
        if i >= 2:
            pal = im.getpalette()
            first, entry = im.getpixel((0, 0)), len(pal) // 3
            im.putpalette(pal + [min(255, v + 2) for v in pal[3 * first : 3 * first + 3]])
            for y in range(2, 5):
                for x in range(2, 4):
                    im.putpixel((x, y), entry)
        images.append(im)
    path = tmp_path / "pillow.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    want, _ = decoded(path.read_bytes())
    colours = {tuple(c) for f in want for c in f.reshape(-1, 4)}
    assert len(colours) > 256
    assert not np.array_equal(want[2][2:5, 2:4], want[1][2:5, 2:4])
    a = palettepress.animate([f[..., :3] for f in want] if as_frames else path, fps=10)
    got, _ = decoded(a.data)
    assert len(got) == len(want) == 5 and a.lossless
    assert all(np.array_equal(x, y) for x, y in zip(got, want))


@pytest.mark.parametrize("as_video", [False, True])
def test_a_few_colours_changed_by_a_level_are_drawn_exactly(tmp_path, as_video):
    # A palette that holds every colour, the frames given as frames or as a video: no
    # pixel is kept that is not exact.
    frames = _decoder_noise(moving_square(n=4), 1)
    source = _lossless_video(tmp_path / "clip.mkv", frames) if as_video else frames
    a = palettepress.animate(source, format="gif", fps=10)
    shown, _ = decoded(a.data)
    assert a.lossless and len(shown) == len(frames)
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., :3], src)


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp"])
def test_few_colours_are_kept_exactly_in_every_format(fmt):
    frames = moving_square()
    a = palettepress.animate(frames, format=fmt, fps=10)
    shown, durations = decoded(a.data)
    assert len(shown) == a.frames == len(frames)
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., :3], src) and (got[..., 3] == 255).all()
    assert a.lossless and a.flicker == 0.0
    assert sum(durations) == pytest.approx(1000 * len(frames) / 10, abs=len(frames))
    # Frames shown exactly score what the metric gives identical images: 100.
    measured = [f.ssimulacra2 for f in a.frame_figures if f.ssimulacra2 is not None]
    assert measured and measured == [metrics.ssimulacra2(frames[0], frames[0])] * len(measured)


def test_still_pixels_never_change_and_most_of_the_frame_is_not_redrawn():
    frames = photo_pan()
    # A static strip across the top: still in the source, so it must not flicker.
    for f in frames:
        f[:12] = frames[0][:12]
    a = palettepress.animate(frames, 64)
    shown, _ = decoded(a.data)
    for before, after in zip(shown, shown[1:]):
        assert np.array_equal(before[:12], after[:12])
    assert a.flicker == 0.0
    assert not a.lossless  # more colours than the palette: dithered
    assert all(f.drawn < 1.0 for f in a.frame_figures[1:])


def test_gif_frames_are_dithered_for_their_lzw(monkeypatch):
    # The dither follows the LZW dictionary of each GIF frame: a smaller file at about
    # the same quality, the frames as the result reports them.
    frames = photo_pan(n=6, h=150, w=160, noise=1.0)  # two dither strips a frame
    a = palettepress.animate(frames, 256, measure_every=1)
    monkeypatch.setattr(dither, "GIF_LZW_SLACK", None)
    b = palettepress.animate(frames, 256, measure_every=1)
    assert a.output_bytes < 0.985 * b.output_bytes
    assert a.ssimulacra2_mean > b.ssimulacra2_mean - 1.0
    shown, _ = decoded(a.data)
    scores = [metrics.ssimulacra2(src, got[..., :3]) for src, got in zip(frames, shown)]
    assert a.ssimulacra2_mean == pytest.approx(np.mean(scores), abs=1e-6)
    assert a.flicker == 0.0
    # APNG and WebP are not LZW: their frames are dithered as before.
    c = palettepress.animate(frames, 256, format="apng")
    monkeypatch.undo()
    d = palettepress.animate(frames, 256, format="apng")
    assert c.data == d.data


def test_a_fade_starts_new_palettes_as_its_colours_drift(monkeypatch):
    # One palette over a fade serves its bright and its dark frames badly: the window
    # ends where the colours have drifted from its first frame's.
    from palettepress import temporal

    field = photo_pan(n=1, h=120, w=160, noise=1.0)[0].astype(np.float64)
    fade = [np.clip(np.rint(field * t), 0, 255).astype(np.uint8) for t in np.linspace(1, 0.25, 12)]
    pan = photo_pan(n=12, h=120, w=160, noise=1.0)
    a = palettepress.animate(fade, 64, measure_every=1)
    a_pan = palettepress.animate(pan, 64)
    monkeypatch.setattr(temporal, "DRIFT_SHARE", 0.0)
    b = palettepress.animate(fade, 64, measure_every=1)
    assert a.ssimulacra2_mean > b.ssimulacra2_mean + 10
    assert a.frame_figures[0].ssimulacra2 > b.frame_figures[0].ssimulacra2 + 5
    assert a.flicker == 0.0
    # A pan's colours stay: its windows are as they were without the rule.
    assert palettepress.animate(pan, 64).data == a_pan.data


def test_reported_quality_is_what_the_file_shows():
    frames = photo_pan()
    a = palettepress.animate(frames, 32, measure_every=1)
    shown, _ = decoded(a.data)
    scores = [metrics.ssimulacra2(src, got[..., :3]) for src, got in zip(frames, shown)]
    assert a.ssimulacra2_mean == pytest.approx(np.mean(scores), abs=1e-6)
    assert a.ssimulacra2_p10 == pytest.approx(np.percentile(scores, 10), abs=1e-6)
    for fig, s in zip(a.frame_figures, scores):
        assert fig.ssimulacra2 == pytest.approx(s, abs=1e-6)
    sampled = palettepress.animate(frames, 32)  # by default every 4th frame is measured
    assert [f.ssimulacra2 is not None for f in sampled.frame_figures] == [
        i % 4 == 0 for i in range(len(frames))
    ]
    assert sampled.ssimulacra2_mean == pytest.approx(np.mean(scores[::4]), abs=1e-6)


def test_a_reused_colour_table_is_a_new_one():
    from palettepress import remap
    from palettepress.histogram import histogram, pixels2d

    rng = np.random.default_rng(5)
    first = histogram(pixels2d(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)))
    second = histogram(pixels2d(rng.integers(0, 64, (30, 40, 3), dtype=np.uint8)))
    v1 = rng.integers(0, 255, len(first), dtype=np.uint8)
    v2 = rng.integers(0, 255, len(second), dtype=np.uint8)
    table = remap.colour_table(first, v1)
    reused = remap.colour_table(second, v2, (table, first))
    assert reused is table  # the window's table is rewritten, not allocated again
    np.testing.assert_array_equal(reused, remap.colour_table(second, v2))


def test_identical_frames_are_merged_with_their_durations_added():
    frames = moving_square(n=3)
    clip = [frames[0]] * 4 + [frames[1]] * 3 + [frames[2]]
    a = palettepress.animate(clip, format="gif", fps=10)
    shown, durations = decoded(a.data)
    assert a.frames == 3 and a.source_frames == 8
    assert durations == [400, 300, 100]
    assert [f.drawn > 0 for f in a.frame_figures] == [1, 0, 0, 0, 1, 0, 0, 1]


def test_a_palette_gif_is_reencoded_losslessly_and_smaller_than_pillows():
    frames = moving_square(colours=4)
    images = [Image.fromarray(f).quantize(8) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=50, loop=0)
    source, _ = decoded(buf.getvalue())
    a = palettepress.animate(source, format="gif")
    shown, _ = decoded(a.data)
    assert all(np.array_equal(s, g) for s, g in zip(source, shown))
    assert a.output_bytes < len(buf.getvalue())


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp"])
def test_transparency_that_comes_and_goes(fmt):
    """A sprite on a transparent canvas moves: pixels it leaves become transparent again,
    which drawing over the canvas cannot do (GIF clears the frame before, APNG replaces)."""
    frames = []
    for i in range(6):
        f = np.zeros((40, 50, 4), np.uint8)
        f[10:26, 4 + 5 * i : 20 + 5 * i] = (220, 30, 30, 255)
        frames.append(f)
    a = palettepress.animate(frames, format=fmt)
    shown, _ = decoded(a.data)
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., 3] > 0, src[..., 3] > 0)
        assert np.array_equal(got[src[..., 3] > 0], src[src[..., 3] > 0])


def test_an_opaque_gif_frame_cleared_after_it_is_shown_clears_to_transparent():
    """An opaque frame, then one with a hole: the first is cleared after it is shown
    (disposal 2) and names a transparent entry, so that Pillow, as browsers do, clears
    to transparent rather than to the background colour."""
    first = np.zeros((20, 30, 4), np.uint8)
    first[:] = (30, 60, 90, 255)
    second = first.copy()
    second[5:10, 5:10, 3] = 0
    a = palettepress.animate([first, second], format="gif")
    shown, _ = decoded(a.data)
    assert np.array_equal(shown[1][..., 3] > 0, second[..., 3] > 0)
    assert (shown[0][..., 3] == 255).all()


def test_a_gif_that_starts_clear_shows_its_first_frame_for_its_time():
    """A first frame with nothing in it still is a frame: the clip's timing is kept."""
    frames = [np.zeros((20, 30, 4), np.uint8) for _ in range(3)]
    frames[1][5:10, 5:10] = frames[2][5:10, 5:10] = (200, 30, 30, 255)
    frames[2][12:15, 20:25] = (30, 30, 200, 255)
    a = palettepress.animate(frames, format="gif", fps=10)
    shown, durations = decoded(a.data)
    assert durations == [100, 100, 100]
    assert (shown[0][..., 3] == 0).all()
    for src, got in zip(frames[1:], shown[1:]):
        assert np.array_equal(got[..., 3], src[..., 3])


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp"])
def test_frames_that_differ_only_under_clear_pixels_are_one_frame(fmt):
    """Clear pixels whose hidden colour changes from frame to frame (as some exporters
    leave it): nothing is drawn again, and the frames are merged into the first."""
    rng = np.random.default_rng(4)
    frames = []
    for _ in range(5):
        f = np.zeros((40, 60, 4), np.uint8)
        f[10:30, 10:30] = (200, 50, 50, 255)
        clear = f[..., 3] == 0
        f[clear, :3] = rng.integers(0, 256, (int(clear.sum()), 3))
        frames.append(f)
    a = palettepress.animate(frames, format=fmt, fps=10)
    assert [f.drawn > 0 for f in a.frame_figures] == [True, False, False, False, False]
    assert a.lossless
    shown, durations = decoded(a.data)
    assert len(shown) == 1 and durations == [500]
    assert np.array_equal(shown[0][..., 3], frames[0][..., 3])
    assert np.array_equal(shown[0][10:30, 10:30], frames[0][10:30, 10:30])


def decoded_flicker(frames, shown) -> float:
    """Of the pixels still in the source from one frame to the next, the share whose
    decoded colour changes (RGBA; a pixel clear in both counts as unchanged)."""
    still = changed = 0
    for i in range(1, len(frames)):
        same = (frames[i] == frames[i - 1]).all(axis=2)
        seen = (shown[i][..., 3] > 0) | (shown[i - 1][..., 3] > 0)
        still += int(same.sum())
        changed += int((same & seen & (shown[i] != shown[i - 1]).any(axis=2)).sum())
    return changed / still


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp"])
def test_a_patch_turning_clear_leaves_the_still_pixels_as_they_were(fmt):
    """A dithered picture whose patch turns transparent and back (frames alternately
    opaque and with alpha): a GIF clears a rectangle round the patch (the first frame's:
    the whole picture) and draws it again, the still pixels in the colours they showed,
    not dithered afresh (the error diffusion would run differently round the hole). The
    flicker reported is the decoded one."""
    frames = []
    for i, f in enumerate(photo_pan(n=6, h=64, w=96, noise=0.0)):
        f = np.concatenate([f, np.full(f.shape[:2] + (1,), 255, np.uint8)], axis=2)
        f[:] = frames[0] if frames else f  # the picture stands still
        if i % 2:
            f[10 + 4 * i : 26 + 4 * i, 20:44, 3] = 0
        f[50:56, 8 * i : 8 * i + 8] = (255, 0, 0, 255)  # a marker moves
        frames.append(f)
    a = palettepress.animate(frames, format=fmt)
    shown, _ = decoded(a.data)
    assert not a.lossless
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., 3] > 0, src[..., 3] > 0)
    assert decoded_flicker(frames, shown) == 0.0
    assert a.flicker == 0.0


def gif_rects(gif: bytes) -> list[tuple[int, ...]]:
    """``(x, y, width, height)`` of each GIF image's rectangle."""
    return [struct.unpack("<HHHH", gif[start + 1 : start + 9]) for start, _ in gif_images(gif)]


def test_a_sprite_leaving_clear_pixels_behind_clears_only_round_it():
    """A sprite moves over a clear canvas beside a still logo: where it leaves, pixels
    turn clear, and only the frame before's rectangle, stretched over them, is cleared;
    what stays clear in it is not drawn (the frames leave out the clear rows above and
    below; the first frame, on a clear canvas, draws only what is not clear), nothing
    flickers, every frame decodes as its source (in Pillow)."""
    logo = photo_pan(1, h=40, w=40, noise=0.0)[0]
    frames = []
    for i in range(6):
        f = np.zeros((60, 120, 4), np.uint8)
        f[5:45, 5:45, :3], f[5:45, 5:45, 3] = logo, 255
        f[20:32, 60 + 8 * i : 72 + 8 * i] = (230, 40, 40, 255)
        frames.append(f)
    a = palettepress.animate(frames, format="gif", fps=10)
    shown, _ = decoded(a.data)
    assert len(shown) == 6 and a.flicker == 0.0 and decoded_flicker(frames, shown) == 0.0
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., 3], src[..., 3])
        assert np.array_equal(got[20:32, 50:], src[20:32, 50:])  # the sprite: exact
    rects = gif_rects(a.data)
    assert rects[0] == (5, 5, 67, 40)  # the logo and the sprite
    assert all(y >= 5 and y + h <= 45 for _, y, _, h in rects[1:])


def test_flicker_counts_still_pixels_between_opaque_frames_and_frames_with_alpha(monkeypatch):
    """Frames alternately opaque (RGB) and with alpha: the flicker figure still compares
    them, and matches the decoded file when still pixels do change."""
    from palettepress import temporal

    monkeypatch.setattr(temporal.Engine, "_held", lambda self, still, colours, box: (None, None))
    frames = []
    base = np.concatenate([photo_pan(n=1, h=64, w=96, noise=0.0)[0], np.full((64, 96, 1), 255, np.uint8)], 2)
    for i in range(4):
        f = base.copy()
        if i % 2:
            f[20:40, 20:44, 3] = 0
        frames.append(f)
    a = palettepress.animate(frames, format="gif")
    shown, _ = decoded(a.data)
    measured = decoded_flicker(frames, shown)
    assert measured > 0  # without _held, the redrawn canvas is dithered afresh
    assert a.flicker == pytest.approx(measured)


def soft_sprite(n=7, h=41, w=57):
    """A sprite with a soft (translucent) edge moving by odd steps over a canvas that is
    half opaque, half transparent: few colours, so every format keeps them exactly."""
    frames = []
    for i in range(n):
        f = np.zeros((h, w, 4), np.uint8)
        f[:, : w // 2] = (30, 60, 90, 255)
        x, y = 3 + 5 * i, 5 + 3 * (i % 3)
        f[y : y + 13, x : x + 11] = (200, 150, 30, 128)
        f[y + 1 : y + 12, x + 1 : x + 10] = (220, 30, 30, 255)
        frames.append(f)
    return frames


def _riff_chunks(data: bytes):
    at = 12
    while at < len(data):
        tag, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        yield tag, data[at + 8 : at + 8 + size]
        at += 8 + size + (size & 1)


def test_animated_webp_container_is_what_libwebp_reads(tmp_path):
    """The WebP writer's own RIFF container: frames at odd positions (WebP stores them
    halved), translucent pixels, text, a loop count; libwebp decodes every frame as the
    source, and its ``webpinfo`` checks the file where it is installed."""
    import shutil
    import subprocess

    frames = soft_sprite()
    a = palettepress.animate(frames, format="webp", fps=10, loop=3, text={"Title": "sprite"})
    shown, durations = decoded(a.data)
    assert len(shown) == len(frames) and durations == [100] * len(frames)
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., 3], src[..., 3])
        assert np.array_equal(got[src[..., 3] > 0], src[src[..., 3] > 0])
    chunks = list(_riff_chunks(a.data))
    assert a.data[:4] == b"RIFF" and int.from_bytes(a.data[4:8], "little") == len(a.data) - 8
    assert [t for t, _ in chunks] == [b"VP8X", b"ANIM"] + [b"ANMF"] * len(frames) + [b"EXIF"]
    assert chunks[0][1][0] == 0x02 | 0x10 | 0x08  # animation, alpha, EXIF
    assert int.from_bytes(chunks[1][1][4:6], "little") == 4  # plays: 3 repeats after the first
    boxes = [[int.from_bytes(d[i : i + 3], "little") for i in (0, 3, 6, 9)] for t, d in chunks if t == b"ANMF"]
    assert boxes[0] == [0, 0, 56, 40]  # the first frame is the whole canvas
    assert all(2 * x + w + 1 <= 57 and 2 * y + h + 1 <= 41 for x, y, w, h in boxes)
    assert any(w + 1 < 57 for _, _, w, _ in boxes[1:])  # later ones only what changed
    assert palettepress.formats.read_text(io.BytesIO(a.data)) == {"Title": "sprite"}
    if shutil.which("webpinfo"):
        (tmp_path / "a.webp").write_bytes(a.data)
        check = subprocess.run(["webpinfo", "-quiet", str(tmp_path / "a.webp")], capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("fmt", ["apng", "webp"])
def test_translucent_pixels_drawn_on_a_clear_canvas_show_exactly(fmt):
    """A translucent patch appears where the canvas was clear and nothing turns more
    transparent, so the frame could be drawn over the canvas; blending would make it a
    unit off (libwebp) or garble it (Pillow's palette APNG), so it replaces instead and
    every decoded pixel is the source's."""
    first = np.zeros((30, 40, 4), np.uint8)
    first[5:15, 5:15] = (20, 120, 220, 255)
    second = first.copy()
    second[12:25, 20:35] = (230, 90, 10, 77)
    second[14:20, 22:30] = (250, 250, 250, 180)
    frames = [first, second, second.copy()]
    frames[2][5:15, 5:15] = (20, 220, 120, 255)  # opaque only: drawn over the canvas
    a = palettepress.animate(frames, format=fmt, fps=10)
    shown, _ = decoded(a.data)
    assert a.lossless and len(shown) == 3
    for src, got in zip(frames, shown):
        assert np.array_equal(got[..., 3], src[..., 3])
        assert np.array_equal(got[src[..., 3] > 0], src[src[..., 3] > 0])


def test_animated_webp_to_an_unseekable_stream_is_the_same_file():
    """Writing where the file cannot seek back (a pipe) keeps the compressed frames until
    the end: the bytes are those of the seekable file."""
    from palettepress.animwriters import open_writer
    from palettepress.frames import open_frames
    from palettepress.temporal import Engine

    class Pipe(io.BytesIO):
        def seekable(self):
            return False

    frames = soft_sprite()
    seekable = palettepress.animate(frames, format="webp", fps=10)
    pipe = Pipe()
    source = open_frames(frames, fps=10)
    writer = open_writer("webp", pipe, source.width, source.height, 0, effort=5, level=6)
    with writer:
        options = {"space": "oklab", "dither": 1.0, "dither_method": "diffusion", "effort": 5}
        engine = Engine(writer, 256, options, None, 4)
        for frame in source:
            engine.add(frame)
        engine.finish()
    assert pipe.getvalue() == seekable.data


@pytest.mark.parametrize("restart", [0, 1000])
@pytest.mark.parametrize("with_flex", [True, False])
@pytest.mark.parametrize("search", [0, 256])
@pytest.mark.parametrize("clearing", [0, 1, 2])
@pytest.mark.parametrize("shape", [(30, 41), (120, 150)])
def test_flex_pixels_and_lzw_decode_as_either_choice(search, clearing, shape, with_flex, restart):
    """Either pixels go as whichever symbol the encoder picks, pixel by pixel or by its
    search for the longest string; the larger image fills the dictionary (clearings);
    ``restart`` clears it every 1000 pixels as well (mid-row)."""
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 5, shape).astype(np.uint8)
    idx[:, shape[1] // 2 :] = idx[:, : shape[1] - shape[1] // 2]  # repeats: long strings
    flex = (rng.random(idx.shape) < 0.4).astype(np.uint8) if with_flex else None
    data = _kernels.gif_lzw(idx, flex, 7, 3, clearing, search, restart)
    if restart and idx.size > restart:
        assert data != _kernels.gif_lzw(idx, flex, 7, 3, clearing, search)
    block = b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255))
    palette = np.zeros((8, 3), np.uint8)
    size = struct.pack("<HH", shape[1], shape[0])
    gif = (
        b"GIF89a" + size + bytes([0x82, 0, 0]) + palette.tobytes()
        + b"\x2c" + bytes([0, 0, 0, 0]) + size + b"\x00\x03" + block + b"\x00\x3b"
    )
    got = np.asarray(Image.open(io.BytesIO(gif)))
    if flex is None:
        np.testing.assert_array_equal(got, idx)
        return
    assert ((got == idx) | ((flex == 1) & (got == 7))).all()
    assert ((got == 7) <= (flex == 1)).all()


def lzw_decode(data: bytes, min_code_size: int) -> list[int]:
    """GIF's LZW decoder, strict: every code must be known, and the stream must end with
    the end code (read at the width the decoder has reached) in its last byte."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    bits, pos, out = int.from_bytes(data, "little"), 0, []
    width, table, prev = min_code_size + 1, {}, None
    while True:
        assert pos + width <= 8 * len(data), "no end code"
        code = (bits >> pos) & ((1 << width) - 1)
        pos += width
        if code == clear:
            width, table, prev = min_code_size + 1, {}, None
            continue
        if code == end:
            assert (pos + 7) // 8 == len(data), "data after the end code"
            return out
        nxt = end + 1 + len(table)
        if code < clear or code in table:
            cur = [code] if code < clear else table[code]
        else:
            assert prev is not None and code == nxt, f"unknown code {code} at pixel {len(out)}"
            cur = prev + prev[:1]
        if prev is not None and nxt < 4096:
            table[nxt] = prev + cur[:1]
            if nxt + 1 == 1 << width and width < 12:
                width += 1
        out += cur
        prev = cur


@pytest.mark.parametrize("way", ["plain", "either", "longest"])
@pytest.mark.parametrize("clearing", [0, 1, 2])
def test_lzw_restarts_and_end_code_at_every_code_width(way, clearing):
    """A restart (or the end) can come just as the decoder widens its codes: the clear and
    end codes must be written at the width it reads them with."""
    rng = np.random.default_rng(11)
    idx = rng.integers(0, 256, (1, 1500)).astype(np.uint8)
    flex = None if way == "plain" else (rng.random(idx.shape) < 0.3).astype(np.uint8)
    search = 256 if way == "longest" else 0
    for restart in range(230, 300):  # one of these restarts as the codes reach 10 bits
        data = _kernels.gif_lzw(idx, flex, 0, 8, clearing, search, restart)
        got = np.array(lzw_decode(data, 8), np.uint8)
        assert len(got) == idx.size
        shown = got == idx.ravel()
        if flex is not None:  # either pixels may also go as the transparent entry (0)
            shown |= (flex.ravel() == 1) & (got == 0)
        assert shown.all()
    for n in range(250, 520, 3):  # the end code, after strings of every length
        part = np.ascontiguousarray(idx[:, :n])
        assert lzw_decode(_kernels.gif_lzw(part, None, 0, 8, clearing), 8) == part.ravel().tolist()


def test_animation_save_and_format_checks(tmp_path):
    a = palettepress.animate(moving_square(n=3), format="apng")
    a.save(tmp_path / "a.png")
    assert Image.open(tmp_path / "a.png").n_frames == 3
    with pytest.raises(palettepress.ParameterError):
        a.save(tmp_path / "a.gif")
    with pytest.raises(palettepress.OutputError):
        a.save(tmp_path / "a.png")
    with pytest.raises(palettepress.ParameterError):
        palettepress.animate(moving_square(n=2), dither_method="auto")


def _write_frames(folder, frames):
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"frame{i:03d}.png")


def test_cli_animate_json(tmp_path, capsys):
    _write_frames(tmp_path / "clip", photo_pan())
    out = tmp_path / "clip.gif"
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out), "-k", "64", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("frames", "output_bytes", "ssimulacra2_mean", "ssimulacra2_p10", "flicker",
                "seconds", "per_frame"):
        assert key in record
    assert record["output_bytes"] == out.stat().st_size
    assert len(record["per_frame"]) == 8


def test_cli_animate_quiet_prints_nothing_and_writes(tmp_path, capsys):
    _write_frames(tmp_path / "clip", moving_square(n=3))
    out = tmp_path / "clip.webp"
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out)]) == 0
    assert "SSIMULACRA2" in capsys.readouterr().out
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out), "--force", "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert Image.open(out).n_frames == 3
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out), "-q"]) == 4
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out), "-f", "-q"]) == 0


def test_format_png_is_apng_as_in_pillow():
    frames = moving_square(n=3)
    a = palettepress.animate(frames, format="png")
    assert a.data == palettepress.animate(frames, format="apng").data
    assert Image.open(io.BytesIO(a.data)).format == "PNG"
    assert Image.open(io.BytesIO(a.data)).n_frames == 3


def test_cli_format_png_writes_apng_beside_the_input(tmp_path):
    _write_frames(tmp_path / "clip", moving_square(n=3))
    assert main(["animate", str(tmp_path / "clip"), "--format", "png", "-q"]) == 0
    with Image.open(tmp_path / "clip-pp.png") as im:
        assert im.format == "PNG" and im.n_frames == 3


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda d: d / "missing", 3),
        (lambda d: (d / "empty").mkdir() or d / "empty", 3),
        (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", 3),
    ],
)
def test_cli_bad_input_exits_3_and_writes_nothing(tmp_path, capsys, make, code):
    source = make(tmp_path)
    out = tmp_path / "out.gif"
    assert main(["animate", str(source), "-o", str(out)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("palettepress: error: ")
    assert not out.exists()
    assert not list(tmp_path.glob(".out.gif*"))


def test_cli_mixed_sizes_exit_3(tmp_path, capsys):
    folder = tmp_path / "frames"
    _write_frames(folder, moving_square(n=2))
    Image.new("RGB", (10, 10)).save(folder / "frame999.png")
    assert main(["animate", str(folder), "-o", str(tmp_path / "o.gif")]) == 3
    assert "frame999" in capsys.readouterr().err
    assert not (tmp_path / "o.gif").exists()


def test_cli_refuses_to_overwrite_and_unknown_extension(tmp_path, capsys):
    _write_frames(tmp_path / "clip", moving_square(n=2))
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out)]) == 4
    assert out.read_bytes() == b"keep me"
    assert main(["animate", str(tmp_path / "clip"), "-o", str(tmp_path / "o.bmp")]) == 2
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out), "--fps", "0"]) == 2
    # The fit draws nothing at random, so a seed would change nothing: not an option.
    assert main(["animate", str(tmp_path / "clip"), "-o", str(out), "--seed", "3"]) == 2
    assert out.read_bytes() == b"keep me"


def test_cli_animate_without_o_writes_beside_the_input(tmp_path, capsys):
    # As compress with no option: NAME-pp beside the input, an animation keeping its
    # own format (a folder or a video: GIF), never overwriting without --force.
    _write_frames(tmp_path / "clip", moving_square(n=3))
    assert main(["animate", str(tmp_path / "clip") + "/", "-q"]) == 0
    assert Image.open(tmp_path / "clip-pp.gif").n_frames == 3
    assert main(["animate", str(tmp_path / "clip-pp.gif"), "-q"]) == 0
    assert Image.open(tmp_path / "clip-pp-pp.gif").format == "GIF"
    assert main(["animate", str(tmp_path / "clip"), "--format", "webp", "-q"]) == 0
    assert Image.open(tmp_path / "clip-pp.webp").n_frames == 3
    assert main(["animate", str(tmp_path / "clip"), "-q"]) == 4  # clip-pp.gif exists
    assert main(["animate", str(tmp_path / "clip" / "*.png"), "-q"]) == 2  # a glob: name it
    assert "give -o" in capsys.readouterr().err
    assert main(["animate", str(tmp_path / "nosuch.gif"), "-q"]) == 3  # missing: said so
    assert "no such file" in capsys.readouterr().err


def test_a_quality_target_picks_small_palettes_where_they_do():
    frames = photo_pan(noise=0)
    full = palettepress.animate(frames, measure_every=1)
    target = full.frame_figures[0].ssimulacra2 - 10
    a = palettepress.animate(frames, min_ssimulacra2=target, measure_every=1)
    assert max(f.colors for f in a.frame_figures) < 256  # fewer entries than the default
    assert a.output_bytes < full.output_bytes
    assert a.frame_figures[0].ssimulacra2 >= target  # the probe frame meets it
    with pytest.raises(palettepress.TargetError):
        palettepress.animate(frames, colors=4, min_ssimulacra2=95)
    with pytest.raises(palettepress.ParameterError):
        palettepress.animate(frames, format="apng", min_ssimulacra2=60)


def test_cli_quality_target_unreachable_exits_5(tmp_path, capsys):
    _write_frames(tmp_path / "clip", photo_pan())
    out = tmp_path / "o.gif"
    code = main(["animate", str(tmp_path / "clip"), "-o", str(out), "-k", "4",
                 "--min-ssimulacra2", "95"])
    assert code == 5 and not out.exists()
    assert capsys.readouterr().err.count("\n") == 1


def test_shared_palette_counts_each_colour_for_the_frames_it_is_on_screen():
    # APNG's one palette is fitted to what the frames show, each colour counted for the
    # frames it stays on screen, a window of frames at a time: every pixel of every frame
    # once, as one merge of every frame's whole histogram (more frames than a window, the
    # last window short; an alpha channel arriving mid-clip).
    from types import SimpleNamespace

    from palettepress.animation import _shared_quantizer
    from palettepress.histogram import histogram, merge, pixels2d
    from palettepress.temporal import WINDOW, with_channels

    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 6, (24, 32, 3), dtype=np.uint8) * 40]
    for i in range(WINDOW + 6):
        nxt = frames[-1].copy()
        rows = rng.integers(0, 24, 5)
        nxt[rows] = rng.integers(0, 6, (5, 32, 3), dtype=np.uint8) * 40 + 1
        frames.append(nxt)
    for alpha_from in (None, WINDOW + 3):
        clip = [
            f if alpha_from is None or i < alpha_from else with_channels(f, 4)
            for i, f in enumerate(frames)
        ]
        channels = 3 if alpha_from is None else 4
        q = _shared_quantizer([SimpleNamespace(pixels=f) for f in clip], 256, {})
        whole = merge([histogram(pixels2d(with_channels(f, channels))) for f in clip], channels)
        order = np.argsort(q._hist.keys)
        assert np.array_equal(q._hist.keys[order], whole.keys)
        assert np.array_equal(q._hist.counts[order], whole.counts)
        assert int(whole.counts.sum()) == len(clip) * 24 * 32


def test_snap_takes_known_colours_one_entry_each():
    """A new window's GIF palette takes the global table's colours within SNAP_LEVELS:
    each known colour at most one entry (the closest), translucent entries and far
    colours left as they are."""
    from palettepress.animwriters import _rgb_keys
    from palettepress.temporal import SNAP_LEVELS, _snap

    known_rgb = np.array([[10, 20, 30], [200, 100, 50]], dtype=np.uint8)
    known = dict.fromkeys(_rgb_keys(known_rgb).tolist())
    palette = np.array(
        [
            [11, 21, 29, 255],  # 1 level from the first known colour
            [10, 20, 30 + SNAP_LEVELS, 255],  # farther from it: it goes to the first
            [10, 20, 31, 0],  # transparent: untouched
            [199, 100, 50 + SNAP_LEVELS + 1, 255],  # beyond SNAP_LEVELS: untouched
            [90, 90, 90, 255],
        ],
        dtype=np.uint8,
    )
    snapped = palette.copy()
    _snap(snapped, known)
    np.testing.assert_array_equal(snapped[0], [10, 20, 30, 255])
    np.testing.assert_array_equal(snapped[1:], palette[1:])
    rgb = palette[:, :3].copy()
    _snap(rgb, known)  # an RGB palette: every entry is opaque
    np.testing.assert_array_equal(rgb[0], known_rgb[0])
    np.testing.assert_array_equal(rgb[2], palette[2, :3])  # the first took that colour


def test_a_still_soft_shadow_is_patterned_the_same_in_every_gif_frame():
    # A square over a broad soft shadow, both still, and a sprite moving beside them:
    # the shadow's pattern (measured better than the threshold, which drops it) is
    # fixed by position, so nothing flickers.
    y, x = np.mgrid[0:80, 0:120]
    dy = np.maximum(np.maximum(26 - y, y - 57), 0)
    dx = np.maximum(np.maximum(26 - x, x - 57), 0)
    base = np.zeros((80, 120, 4), np.uint8)
    base[..., 3] = np.clip(140 - np.hypot(dy, dx) * 10, 0, 140).astype(np.uint8)
    base[20:52, 20:52] = (40, 110, 200, 255)
    frames = []
    for i in range(6):
        f = base.copy()
        f[60:70, 70 + 6 * i : 80 + 6 * i] = (220, 30, 30, 255)
        frames.append(f)
    with pytest.warns(palettepress.GifAlphaWarning, match="a pattern of both"):
        a = palettepress.animate(frames, 16, format="gif")
    shown, _ = decoded(a.data)
    shadow = (base[..., 3] > 0) & (base[..., 3] < 128)
    assert ((shown[0][..., 3] == 255) & shadow).any()  # the shadow shows
    for before, after in zip(shown, shown[1:]):
        assert np.array_equal(before[:56], after[:56])
    assert a.flicker == 0.0


def test_a_pil_image_opened_from_a_file_is_that_file(tmp_path):
    # As Pillow users hold an animation: Image.open, then hand it over. Its file is read
    # (every frame and delay, whatever frame the image was seeked to).
    path = tmp_path / "square.gif"
    frames = [Image.fromarray(f) for f in moving_square(n=5)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[60, 80, 60, 80, 60])
    with Image.open(path) as im:
        im.seek(2)
        a = palettepress.animate(im)
    b = palettepress.animate(path)
    assert a.data == b.data and a.frames == 5 and abs(a.duration - 0.34) < 1e-9
    # made in memory: one frame; animated but not from a file: refused, saying why
    still = palettepress.animate(Image.fromarray(moving_square(n=1)[0]))
    assert still.frames == 1
    with Image.open(io.BytesIO(path.read_bytes())) as im:
        with pytest.raises(palettepress.ParameterError, match="not opened from a file"):
            palettepress.animate(im)


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp"])
def test_two_entries_are_two_colours(fmt):
    # One entry of a palette is the transparent one kept pixels show through; at k = 2 a
    # palette still has two colours (it had one: every frame a flat field).
    frames = photo_pan(n=3)
    a = palettepress.animate(frames, 2, format=fmt)
    shown, _ = decoded(a.data)
    assert len(np.unique(shown[0][..., :3].reshape(-1, 3), axis=0)) == 2
    still = palettepress.compress(frames[0], 2)
    assert a.frame_figures[0].ssimulacra2 > still.ssimulacra2 - 5


def test_translucent_frames_to_gif_warn_and_are_not_lossless():
    frames = []
    for i in range(3):
        f = np.zeros((24, 32, 4), np.uint8)
        f[..., :3] = (200, 40, 40)
        f[..., 3] = 128  # half transparent: GIF has no such pixel
        f[4:10, 4 + 4 * i : 12 + 4 * i] = (20, 20, 220, 255)
        frames.append(f)
    with pytest.warns(palettepress.GifAlphaWarning, match="no partial transparency"):
        gif = palettepress.animate(frames, 16)
    assert not gif.lossless and not any(f.lossless for f in gif.frame_figures)
    apng = palettepress.animate(frames, 16, format="apng")
    assert apng.lossless  # three colours, alpha kept: exact


def _plays(data: bytes) -> int:
    """Times a browser plays an animated file, 0 forever: a GIF's NETSCAPE count is the
    repeats after the first play (none: once), APNG's and WebP's count the plays."""
    im = Image.open(io.BytesIO(data))
    loop = im.info.get("loop")
    if im.format == "GIF":
        return 1 if loop is None else (0 if loop == 0 else loop + 1)
    return int(loop)


@pytest.mark.parametrize("src_fmt,pillow_loop", [("GIF", None), ("GIF", 0), ("GIF", 3), ("PNG", 2), ("WEBP", 1)])
def test_an_animation_plays_as_often_in_every_format(tmp_path, src_fmt, pillow_loop):
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "lime", "blue")]
    path = tmp_path / f"in.{src_fmt.lower()}"
    kw = {} if pillow_loop is None else {"loop": pillow_loop}
    if src_fmt == "WEBP":
        kw["lossless"] = True
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, **kw)
    want = _plays(path.read_bytes())
    for fmt in ("gif", "apng", "webp"):
        assert _plays(palettepress.animate(path, format=fmt).data) == want, fmt
    assert _plays(palettepress.animate(path, format="webp", loop=2).data) == 3


def test_a_file_object_is_refused_as_a_source_of_frames(tmp_path):
    with pytest.raises(palettepress.ParameterError, match="got BytesIO"):
        palettepress.animate(io.BytesIO(b"GIF89a"))
