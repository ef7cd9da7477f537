"""Reading frames (palettepress.frames): animations, videos, folders, globs, memory.

Every input is a real file the test writes: GIF, APNG and WebP with Pillow's save_all,
videos and an audio-only file with PyAV.
"""

import os
import struct
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageSequence

from palettepress.errors import (
    ExtraMissingError,
    ImageTooLargeError,
    InputError,
    ParameterError,
)
from palettepress.frames import DEFAULT_FPS, Frame, open_frames
from palettepress.io import load

# No Pillow or PyAV warning may reach the caller.
pytestmark = pytest.mark.filterwarnings("error")

FORMATS = [("GIF", "gif"), ("PNG", "png"), ("WEBP", "webp")]


def picture(i, h=20, w=30):
    """Frame ``i`` of a test animation: a gradient, and a bar whose place says ``i``."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 40 * i % 256)], -1)
    a = a.astype(np.uint8)
    a[:, (3 * i) % w] = (255, 255, 255)
    return a


def save_animation(path, fmt, frames, durations, loop=3, **options):
    images = [f if isinstance(f, Image.Image) else Image.fromarray(f) for f in frames]
    if fmt == "WEBP":
        options.setdefault("lossless", True)
    images[0].save(
        path, fmt, save_all=True, append_images=images[1:], duration=durations, loop=loop, **options
    )
    return path


def pillow_frames(path):
    """What Pillow itself composites: each frame as an RGBA array."""
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]


def same_as(frame, rgba):
    """A yielded frame equals a composited RGBA canvas (three channels: all opaque)."""
    if frame.pixels.shape[2] == 3:
        return bool((rgba[..., 3] == 255).all()) and np.array_equal(frame.pixels, rgba[..., :3])
    return np.array_equal(frame.pixels, rgba)


def summary(source):
    return [(f.index, f.duration, f.pixels.tobytes()) for f in source]


# --- Animated images ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,ext", FORMATS)
def test_animation_frames_durations_and_loop(tmp_path, fmt, ext):
    path = save_animation(
        tmp_path / f"anim.{ext}", fmt, [picture(i) for i in range(5)], [50, 0, 120, 10, 200]
    )
    src = open_frames(path)
    assert (src.format, src.width, src.height) == (fmt, 30, 20)
    # Pillow's loop=3: a GIF repeats 3 times after its first play, an APNG or WebP plays 3
    assert (src.frame_count, src.loop, src.fps) == (5, 3 if fmt == "GIF" else 2, None)
    assert src.path == str(path) and src.file_bytes == path.stat().st_size
    frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    # Delays of 10 ms or less are shown for 100 ms, as browsers do.
    assert [f.duration for f in frames] == pytest.approx([0.05, 0.1, 0.12, 0.1, 0.2])
    for frame, rgba in zip(frames, pillow_frames(path), strict=True):
        assert isinstance(frame, Frame) and frame.pixels.dtype == np.uint8
        assert frame.pixels.flags.c_contiguous and frame.pixels.shape == (20, 30, 3)
        assert same_as(frame, rgba)
    if fmt != "GIF":  # lossless: the pixels as written
        assert all(np.array_equal(f.pixels, picture(i)) for i, f in enumerate(frames))


def test_gif_without_delay_or_loop(tmp_path):
    path = tmp_path / "plain.gif"
    frames = [Image.fromarray(picture(i)) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])  # no delay, no NETSCAPE loop
    src = open_frames(path)
    assert src.loop is None
    assert [f.duration for f in src] == pytest.approx([0.1, 0.1, 0.1])


@pytest.mark.parametrize("fmt,ext", FORMATS)
def test_transparent_frames_composited(tmp_path, fmt, ext):
    """A square moving over a transparent canvas (disposal to background): each frame is
    the canvas Pillow composites, four channels only where something is see-through."""
    frames = []
    for i in range(4):
        a = np.zeros((20, 30, 4), np.uint8)
        a[4:12, 3 + 5 * i : 11 + 5 * i] = (200, 40 + 50 * i, 30, 255)
        if i == 3:
            a[..., 3] = 255  # the last frame covers the whole canvas
        frames.append(Image.fromarray(a, "RGBA"))
    path = save_animation(tmp_path / f"alpha.{ext}", fmt, frames, 80, disposal=2)
    got = list(open_frames(path))
    assert [f.pixels.shape[2] for f in got] == [4, 4, 4, 3]
    for frame, rgba in zip(got, pillow_frames(path), strict=True):
        assert same_as(frame, rgba)


def test_apng_default_image_is_skipped(tmp_path):
    frames = [picture(i) for i in range(4)]
    path = save_animation(tmp_path / "d.png", "PNG", frames, [100, 50, 100, 30], default_image=True)
    got = list(open_frames(path))
    # Frame 0 is what viewers without APNG support show; the animation is frames 1-3.
    assert len(got) == 3 and [f.index for f in got] == [0, 1, 2]
    assert all(np.array_equal(f.pixels, frames[i + 1]) for i, f in enumerate(got))


A98 = "/usr/share/color/icc/ghostscript/a98.icc"  # Debian package libgs-common


def test_apng_icc_profile_converted_like_a_still(tmp_path):
    if not os.path.exists(A98):
        pytest.skip("needs an Adobe RGB (1998) profile: apt-get install libgs-common")
    icc = ImageCms.getOpenProfile(A98).tobytes()
    frames = [picture(i) for i in range(3)]
    path = save_animation(tmp_path / "icc.png", "PNG", frames, 100, icc_profile=icc)
    got = list(open_frames(path))
    for i, frame in enumerate(got):
        still = tmp_path / f"still{i}.png"
        Image.fromarray(frames[i]).save(still, icc_profile=icc)
        assert np.array_equal(frame.pixels, load(still).pixels)
    assert not np.array_equal(got[0].pixels, frames[0])  # the profile did change them


def test_still_image_is_one_frame(tmp_path):
    path = tmp_path / "still.png"
    Image.fromarray(picture(2)).save(path)
    src = open_frames(path)
    assert (src.format, src.frame_count, src.loop) == ("PNG", 1, None)
    (frame,) = list(src)
    assert frame.index == 0 and frame.duration == pytest.approx(1 / DEFAULT_FPS)
    assert np.array_equal(frame.pixels, load(path).pixels)


def test_still_jpeg_turned_by_exif_then_resized(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    path = tmp_path / "turned.jpg"
    Image.fromarray(picture(1, 20, 40)).save(path, exif=exif.tobytes(), quality=95)
    assert next(iter(open_frames(path))).pixels.shape == (40, 20, 3)
    src = open_frames(path, width=10)
    assert (src.width, src.height) == (10, 20)
    assert next(iter(src)).pixels.shape == (20, 10, 3)


# --- Folders, globs, memory -----------------------------------------------------------------


def frame_folder(folder, numbers=(1, 2, 10, 3), size=(20, 30)):
    folder.mkdir()
    for n in numbers:
        Image.fromarray(picture(n, *size)).save(folder / f"frame{n}.png")
    (folder / "notes.txt").write_text("not a frame")
    Image.fromarray(picture(99, *size)).save(folder / ".hidden.png")
    return folder


def test_folder_in_natural_order(tmp_path):
    folder = frame_folder(tmp_path / "shots")
    src = open_frames(folder)
    assert (src.format, src.path, src.frame_count, src.fps) == ("frames", str(folder), 4, 20.0)
    assert src.file_bytes == sum((folder / f"frame{n}.png").stat().st_size for n in (1, 2, 3, 10))
    frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.duration for f in frames] == pytest.approx([0.05] * 4)
    for frame, n in zip(frames, (1, 2, 3, 10), strict=True):
        assert np.array_equal(frame.pixels, picture(n))


def frames_in_a_fresh_interpreter(folder, shown: str) -> list[str]:
    """What a new interpreter prints of ``open_frames(folder)`` as ``src``: its frame
    count, then ``shown`` (an expression over ``src``, ``sys`` and ``np``)."""
    code = (
        "import sys, numpy as np\n"
        "from palettepress.frames import open_frames\n"
        "src = open_frames(sys.argv[1])\n"
        f"print(src.frame_count, {shown})\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_text_files_beside_png_frames_load_no_other_pillow_plugin(tmp_path):
    # Start-up: a folder of PNG frames with notes and settings beside them reads without
    # Pillow's every plugin (about 20 ms), in a fresh interpreter.
    folder = frame_folder(tmp_path / "shots")
    (folder / "clip.json").write_text("{}")
    shown = "len(list(src)), 'PIL.PdfImagePlugin' in sys.modules"
    assert frames_in_a_fresh_interpreter(folder, shown) == ["4", "4", "False"]


def test_folder_of_frames_in_a_less_common_format(tmp_path):
    # Pillow's plugins for formats beyond PNG, JPEG, GIF, BMP and PPM load only when a
    # file asks for one: TIFF frames beside a text file are still frames, read here by a
    # fresh interpreter (this one has every plugin loaded by now).
    folder = tmp_path / "tiffs"
    folder.mkdir()
    for n in (2, 1):
        Image.fromarray(picture(n)).save(folder / f"frame{n}.tif")
    (folder / "notes.txt").write_text("not a frame")
    got = frames_in_a_fresh_interpreter(folder, "*(int(f.pixels.astype(np.int64).sum()) for f in src)")
    sums = [int(picture(n).astype(np.int64).sum()) for n in (1, 2)]
    assert got == [str(v) for v in [2, *sums]]


def test_glob_in_natural_order(tmp_path):
    folder = frame_folder(tmp_path / "shots", numbers=(10, 9, 1))
    Image.fromarray(picture(5)).save(folder / "other5.png")
    src = open_frames(str(folder / "frame*.png"), fps=40)
    assert src.path == str(folder / "frame*.png") and src.frame_count == 3
    frames = list(src)
    # Frame files carry no timing: fps is their rate, nothing is resampled.
    assert [f.index for f in frames] == [0, 1, 2] and src.fps == 40
    assert [f.duration for f in frames] == pytest.approx([1 / 40] * 3)
    assert [int(f.pixels[0, 5, 2]) for f in frames] == [40, 40 * 9 % 256, 400 % 256]


def test_list_of_paths_in_given_order(tmp_path):
    folder = frame_folder(tmp_path / "shots", numbers=(1, 2))
    src = open_frames([folder / "frame2.png", folder / "frame1.png"])
    assert src.path is None and src.format == "frames"
    assert [np.array_equal(f.pixels, picture(n)) for f, n in zip(src, (2, 1))] == [True, True]


def test_frames_in_memory(tmp_path):
    rgba = np.dstack([picture(3), np.full((20, 30), 255, np.uint8)])
    rgba[0, 0, 3] = 0
    items = [picture(0), picture(1)[:, :, 0], Image.fromarray(picture(2)), rgba]
    src = open_frames(items)
    assert (src.path, src.file_bytes, src.frame_count, src.format) == (None, None, 4, "frames")
    frames = list(src)
    assert [f.pixels.shape for f in frames] == [(20, 30, 3), (20, 30, 3), (20, 30, 3), (20, 30, 4)]
    assert np.array_equal(frames[1].pixels, np.repeat(picture(1)[:, :, :1], 3, axis=2))
    assert np.array_equal(frames[2].pixels, picture(2)) and np.array_equal(frames[3].pixels, rgba)
    # A (N, H, W, C) array is N frames.
    stack = np.stack([picture(i) for i in range(3)])
    assert [np.array_equal(f.pixels, stack[f.index]) for f in open_frames(stack)] == [True] * 3


def test_iterator_of_frames_is_read_once():
    src = open_frames(picture(i) for i in range(3))
    assert src.frame_count is None
    assert len(list(src)) == 3
    with pytest.raises(InputError, match="read once"):
        list(src)


# --- Video ------------------------------------------------------------------------------


def write_video(path, codec="mpeg4", pix_fmt="yuv420p", n=30, rate=25, size=(48, 64), **kw):
    """A video of ``n`` frames of :func:`video_picture`, written by PyAV."""
    av = pytest.importorskip("av")
    alpha = pix_fmt == "bgra"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.height, stream.width = size
        stream.pix_fmt = pix_fmt
        for key, value in kw.items():  # options, bit_rate, gop_size, sample_aspect_ratio
            setattr(stream if key == "options" else stream.codec_context, key, value)
        for i in range(n):
            a = video_picture(i, size, alpha=alpha)
            frame = av.VideoFrame.from_ndarray(a, format="rgba" if alpha else "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def video_picture(i, size=(48, 64), alpha=False):
    """Smooth content that lossy codecs keep well; every other frame has a see-through
    corner when ``alpha``."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    a = np.empty((h, w, 4), np.uint8)
    a[..., 0] = 40 + x * 2
    a[..., 1] = 60 + y * 2
    a[..., 2] = 20 + 2 * i
    a[..., 3] = 255
    if alpha and i % 2:
        a[:8, :8, 3] = 0
    return a if alpha else np.ascontiguousarray(a[..., :3])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {
        "mp4": write_video(folder / "clip.mp4", bit_rate=2_000_000),
        "lossless": write_video(folder / "clip.mkv", "ffv1", "bgr0"),
        "long": write_video(folder / "long.mp4", n=100, gop_size=25),
    }


def test_video_frames_timestamps_and_pixels(videos):
    src = open_frames(videos["mp4"])
    assert (src.format, src.width, src.height) == ("video", 64, 48)
    assert (src.fps, src.frame_count) == (25, 30)
    assert src.loop is None and src.file_bytes == videos["mp4"].stat().st_size
    frames = list(src)
    assert [f.index for f in frames] == list(range(30))
    assert [f.duration for f in frames] == pytest.approx([0.04] * 30)
    for i, frame in enumerate(frames):
        diff = np.abs(frame.pixels.astype(int) - video_picture(i))
        assert frame.pixels.shape == (48, 64, 3) and frame.pixels.flags.c_contiguous
        assert diff.mean() < 2.5, i  # lossy: close to what was encoded


def test_lossless_video_pixels_exact(videos):
    frames = list(open_frames(videos["lossless"]))
    assert len(frames) == 30
    assert all(np.array_equal(f.pixels, video_picture(i)) for i, f in enumerate(frames))


def test_video_alpha_kept_only_where_see_through(tmp_path):
    path = write_video(tmp_path / "alpha.mkv", "ffv1", "bgra", n=4)
    frames = list(open_frames(path))
    assert [f.pixels.shape[2] for f in frames] == [3, 4, 3, 4]
    for i, frame in enumerate(frames):
        expect = video_picture(i, alpha=True)
        assert np.array_equal(frame.pixels, expect[..., : frame.pixels.shape[2]])


def test_video_sample_aspect_ratio_applied(tmp_path):
    path = write_video(tmp_path / "wide.mp4", n=3, size=(24, 32), sample_aspect_ratio=Fraction(2))
    src = open_frames(path)
    assert (src.width, src.height) == (64, 24)


def test_video_seek_gives_the_same_frames(videos):
    full = list(open_frames(videos["long"]))
    for start in (0.5, 1.3, 2.01, 3.97):
        cut = list(open_frames(videos["long"], start=start, duration=0.3))
        assert cut[0].index == int(start * 25)
        assert sum(f.duration for f in cut) == pytest.approx(min(0.3, 4 - start))
        assert all(np.array_equal(f.pixels, full[f.index].pixels) for f in cut)


# --- Timeline: fps, start, duration, width ---------------------------------------------------


def test_fps_resamples_the_timeline(tmp_path, videos):
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(3)], [100, 300, 100])
    src = open_frames(gif, fps=10)
    assert src.fps == 10 and src.frame_count is None
    frames = list(src)
    assert [f.index for f in frames] == [0, 1, 1, 1, 2]
    assert [f.duration for f in frames] == pytest.approx([0.1] * 5)
    assert frames[1].pixels is frames[2].pixels  # a repeat shares its array
    # Delays that are no multiple of the step: the clip keeps its length (0.45 s).
    uneven = save_animation(
        tmp_path / "u.gif", "GIF", [picture(i) for i in range(5)], [100, 50, 30, 200, 70]
    )
    frames = list(open_frames(uneven, fps=10))
    assert [f.index for f in frames] == [0, 1, 3, 3, 4]
    assert [f.duration for f in frames] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])
    # Output frame i is the source frame shown at i / fps.
    video = list(open_frames(videos["mp4"], fps=10))
    assert [f.index for f in video] == [int(i * 2.5) for i in range(12)]
    faster = open_frames(videos["mp4"], fps=50)
    assert [f.index for f in faster] == [i // 2 for i in range(60)]
    # Frames in memory carry no timing: fps is their rate, nothing is resampled.
    mem = open_frames([picture(i) for i in range(6)], fps=30)
    assert mem.frame_count == 6 and [f.index for f in mem] == list(range(6))
    assert [f.duration for f in mem] == pytest.approx([1 / 30] * 6)


def test_start_and_duration_cut_the_timeline(tmp_path, videos):
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(3)], [100, 300, 100])
    frames = list(open_frames(gif, start=0.2, duration=0.25))
    assert [(f.index, round(f.duration, 6)) for f in frames] == [(1, 0.2), (2, 0.05)]
    frames = list(open_frames(gif, start=0.15, fps=10))
    assert [f.index for f in frames] == [1, 1, 1, 2]
    # The last sample lasts to the end of the source: 0.15 s to 0.5 s in all.
    assert [f.duration for f in frames] == pytest.approx([0.1, 0.1, 0.1, 0.05])
    video = list(open_frames(videos["mp4"], start=0.5, duration=0.3))
    assert [f.index for f in video] == list(range(12, 20))
    assert video[0].duration == pytest.approx(0.02)
    assert sum(f.duration for f in video) == pytest.approx(0.3)
    mem = open_frames([picture(i) for i in range(10)], start=0.1, duration=0.2)
    assert mem.frame_count == 4 and [f.index for f in mem] == [2, 3, 4, 5]
    folder = open_frames(frame_folder(tmp_path / "shots"), start=0.05, fps=20)
    assert folder.frame_count == 3 and [f.index for f in folder] == [1, 2, 3]
    folder = list(open_frames(frame_folder(tmp_path / "more"), start=0.05, fps=10))
    # 0.1 s each: frame 0 is still shown at 0.05 s, for what is left of it.
    assert [(f.index, round(f.duration, 6)) for f in folder] == [(0, 0.05), (1, 0.1), (2, 0.1), (3, 0.1)]


@pytest.mark.parametrize("fmt,ext", FORMATS)
def test_width_resizes_with_lanczos(tmp_path, fmt, ext):
    path = save_animation(tmp_path / f"a.{ext}", fmt, [picture(i) for i in range(2)], 100)
    src = open_frames(path, width=15)
    assert (src.width, src.height) == (15, 10)
    for frame, rgba in zip(src, pillow_frames(path), strict=True):
        expect = Image.fromarray(rgba[..., :3]).resize((15, 10), Image.Resampling.LANCZOS)
        assert np.array_equal(frame.pixels, np.asarray(expect))
    big = open_frames(path, width=61)  # upscaling is allowed; 20 * 61 / 30 = 40.67
    assert (big.width, big.height) == (61, 41) and next(iter(big)).pixels.shape == (41, 61, 3)
    assert (open_frames(path, width=1).height) == 1


def test_width_of_video_and_memory(videos):
    src = open_frames(videos["lossless"], width=32)
    assert (src.width, src.height) == (32, 24)
    frames = list(src)
    expect = Image.fromarray(video_picture(0)).resize((32, 24), Image.Resampling.LANCZOS)
    assert np.abs(frames[0].pixels.astype(int) - np.asarray(expect)).mean() < 2
    line = open_frames([np.zeros((1, 100, 3), np.uint8)], width=10)
    assert (line.width, line.height) == (10, 1)


def test_close_releases_an_unread_source(tmp_path):
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(2)], 100)
    with open_frames(gif) as src:
        pass
    assert len(list(src)) == 2  # reading again after close re-opens the file


def test_iterating_twice_gives_the_same_frames(tmp_path, videos):
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(4)], [40, 80, 0, 60])
    sources = [
        open_frames(gif),
        open_frames(videos["mp4"], width=40),
        open_frames(frame_folder(tmp_path / "shots")),
        open_frames([picture(i) for i in range(3)], fps=7),
    ]
    for src in sources:
        assert summary(src) == summary(src)


# --- Errors -------------------------------------------------------------------------------


def test_missing_and_unreadable_sources(tmp_path):
    with pytest.raises(InputError, match="nope.gif: no such file or folder") as err:
        open_frames(tmp_path / "nope.gif")
    assert err.value.exit_code == 3
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 50)
    with pytest.raises(InputError, match=r"notes.txt: neither an image nor a video"):
        open_frames(text)  # FFmpeg would read it as ANSI art
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputError, match=r"blob.bin: neither an image nor a video"):
        open_frames(binary)  # or as "binary text"
    empty = tmp_path / "empty.gif"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.gif: empty file"):
        open_frames(empty)


def test_audio_only_file(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        silence = np.zeros((1, 800), np.int16)
        frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    with pytest.raises(InputError, match=r"sound.wav: no video stream \(it holds 1 audio stream\)"):
        open_frames(path)


def find_nth(data: bytes, marker: bytes, nth: int) -> int:
    """Where the ``nth`` (0-based) ``marker`` starts in ``data``."""
    pos = -1
    for _ in range(nth + 1):
        pos = data.index(marker, pos + 1)
    return pos


# The marker that starts each frame: GIF's Graphic Control Extension, APNG's fcTL, WebP's ANMF.
MARKERS = {"GIF": b"\x21\xf9\x04", "PNG": b"fcTL", "WEBP": b"ANMF"}


@pytest.mark.parametrize("fmt,ext", FORMATS)
def test_truncated_animation_names_the_frame(tmp_path, fmt, ext):
    rng = np.random.default_rng(1)
    noise = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(5)]
    whole = save_animation(tmp_path / f"whole.{ext}", fmt, noise, 100).read_bytes()
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(whole[: find_nth(whole, MARKERS[fmt], 2) + 200])  # into frame 2's data
    got = []
    with pytest.raises(InputError, match=rf"cut.{ext}: frame 2 is truncated") as err:
        got.extend(open_frames(path))
    assert "\n" not in str(err.value)
    # libwebp refuses the whole file; GIF and APNG give the frames before the broken one.
    assert len(got) == (0 if fmt == "WEBP" else 2)


def test_corrupt_apng_frame_named(tmp_path):
    rng = np.random.default_rng(2)
    noise = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(4)]
    data = bytearray(save_animation(tmp_path / "a.png", "PNG", noise, 100).read_bytes())
    at = find_nth(bytes(data), b"fdAT", 1) + 100  # inside frame 2's pixels (frame 0 is IDAT)
    data[at : at + 40] = bytes(40)
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad.png: frame 2 is corrupt"):
        list(open_frames(path))


def test_folder_frames_of_different_sizes(tmp_path):
    folder = frame_folder(tmp_path / "shots", numbers=(1, 2))
    Image.fromarray(picture(3, 21, 30)).save(folder / "frame3.png")
    with pytest.raises(InputError) as err:
        open_frames(folder)
    message = str(err.value)
    assert message.startswith(str(folder / "frame3.png")) and "30x21" in message
    assert "30x20" in message and "frame1.png" in message
    with pytest.raises(InputError, match=r"frame3.png: 30x21 differs"):
        open_frames(str(folder / "*.png"))


def test_folder_and_glob_without_images(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(InputError, match="notes: no image files"):
        open_frames(tmp_path / "notes")
    with pytest.raises(InputError, match="no image files among the 1 files"):
        open_frames(str(tmp_path / "notes" / "*"))
    with pytest.raises(InputError, match=r"\*.png: no files match"):
        open_frames(str(tmp_path / "notes" / "*.png"))


def test_frames_in_memory_that_differ_or_are_not_images():
    with pytest.raises(InputError, match=r"frames: frame 1 is 30x21, not 30x20 like frame 0"):
        open_frames([picture(0), picture(1, 21, 30)])
    with pytest.raises(InputError, match=r"frames: frame 0: dtype float64 is not uint8"):
        open_frames([np.zeros((4, 4, 3))])
    with pytest.raises(InputError, match="frames: no frames"):
        open_frames([])


def test_no_frames_after_start(tmp_path, videos):
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(3)], [100, 300, 100])
    with pytest.raises(InputError, match=r"a.gif: no frames from 10 s \(it lasts 0.5 s\)"):
        open_frames(gif, start=10)
    message = r"clip.mp4: no frames from 2 s to 2.5 s \(it lasts 1.2 s\)"
    with pytest.raises(InputError, match=message):
        open_frames(videos["mp4"], start=2, duration=0.5)
    with pytest.raises(InputError, match=r"shots: no frames from 0.2 s"):
        open_frames(frame_folder(tmp_path / "shots"), start=0.2)


def test_too_many_pixels(tmp_path, videos):
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(2)], 100)
    with pytest.raises(ImageTooLargeError, match=r"a.gif: 30x20 = 600 pixels is more than"):
        open_frames(gif, max_pixels=599)
    with pytest.raises(ImageTooLargeError, match=r"a.gif: resized to 300x200"):
        open_frames(gif, width=300, max_pixels=10_000)
    with pytest.raises(ImageTooLargeError, match=r"clip.mp4: 64x48"):
        open_frames(videos["mp4"], max_pixels=1000)
    with pytest.raises(ImageTooLargeError, match=r"frame1.png: 30x20"):
        open_frames(frame_folder(tmp_path / "shots"), max_pixels=100)
    with pytest.raises(ImageTooLargeError, match=r"frames: frame 0: 30x20"):
        open_frames([picture(0)], max_pixels=100)


@pytest.mark.parametrize(
    "options",
    [
        {"fps": 0},
        {"fps": -5},
        {"fps": float("nan")},
        {"fps": float("inf")},
        {"fps": "10"},
        {"fps": True},
        {"width": 0},
        {"width": 1.5},
        {"start": -1},
        {"start": float("inf")},
        {"duration": 0},
        {"duration": float("nan")},
        {"max_pixels": 0},
    ],
)
def test_options_out_of_range(options):
    with pytest.raises(ParameterError) as err:
        open_frames([picture(0)], **options)
    assert err.value.exit_code == 2 and next(iter(options)) in str(err.value)


@pytest.mark.parametrize("source", [5, b"frames.gif", np.zeros((4, 4, 3), np.uint8)])
def test_sources_of_no_known_kind(source):
    with pytest.raises(ParameterError, match="source"):
        open_frames(source)


def test_without_pyav(tmp_path, videos, monkeypatch):
    """Videos need the ``video`` extra; everything else works without PyAV."""
    monkeypatch.setitem(sys.modules, "av", None)  # as if not installed: import fails
    with pytest.raises(ExtraMissingError, match=r"pip install 'palettepress\[video\]'") as err:
        open_frames(videos["mp4"])
    assert err.value.exit_code == 6
    odd = tmp_path / "data.bin"
    odd.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="data.bin: not an image palettepress can read"):
        open_frames(odd)
    gif = save_animation(tmp_path / "a.gif", "GIF", [picture(i) for i in range(2)], 100)
    assert len(list(open_frames(gif))) == 2
    assert len(list(open_frames(frame_folder(tmp_path / "shots")))) == 4


def _gif_bytes(size, palette, images, background=3):
    """A GIF file: ``images`` are ``(x, y, indices, disposal, transparent)``."""
    from palettepress import _kernels

    w, h = size
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80 | 1, background, 0))
    out += bytes(np.asarray(palette, np.uint8).ravel())
    for x, y, indices, disposal, transparent in images:
        packed = (disposal << 2) | (1 if transparent is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", packed, 10, transparent or 0) + b"\x00"
        ih, iw = indices.shape
        out += b"\x2c" + struct.pack("<HHHHB", x, y, iw, ih, 0) + b"\x02"
        data = _kernels.gif_lzw(np.ascontiguousarray(indices, np.uint8), None, 0, 2)
        for i in range(0, len(data), 255):
            out += bytes([len(data[i : i + 255])]) + data[i : i + 255]
        out += b"\x00"
    return bytes(out + b"\x3b")


def test_a_gif_frame_disposed_to_the_background_leaves_it_clear(tmp_path):
    # Browsers clear a frame disposed of to the background (disposal 2) to transparent,
    # whatever the header's background colour, and whether or not a transparent entry is
    # named; Pillow fills it with the background colour when none is.
    palette = [(20, 120, 200), (250, 250, 50), (250, 50, 250), (0, 0, 0)]
    sprite = np.ones((6, 8), np.uint8)
    path = tmp_path / "d2.gif"
    path.write_bytes(_gif_bytes((24, 16), palette, [
        (0, 0, np.zeros((16, 24), np.uint8), 0, None),
        (4, 3, sprite, 2, None),
        (14, 8, sprite * 2, 1, None),
    ]))  # fmt: skip
    frames = [f.pixels for f in open_frames(path)]
    assert frames[1].shape == (16, 24, 3)  # opaque until the sprite is cleared
    third = frames[2]
    assert third.shape == (16, 24, 4)
    assert (third[3:9, 4:12, 3] == 0).all()  # the first sprite's place: clear
    assert (third[8:14, 14:22] == (250, 50, 250, 255)).all()
    assert (third[0:3, :, :3] == (20, 120, 200)).all() and (third[0:3, :, 3] == 255).all()
    # Restoring to what was before (disposal 3) shows the first frame again there.
    path.write_bytes(_gif_bytes((24, 16), palette, [
        (0, 0, np.zeros((16, 24), np.uint8), 0, None),
        (4, 3, sprite, 3, None),
        (14, 8, sprite * 2, 1, None),
    ]))  # fmt: skip
    third = [f.pixels for f in open_frames(path)][2]
    assert third.shape == (16, 24, 3) and (third[3:9, 4:12] == (20, 120, 200)).all()
    # No trailer after the last image (a writer that stopped short): every frame shown.
    cut = tmp_path / "cut.gif"
    cut.write_bytes(path.read_bytes()[:-1])
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(open_frames(cut), open_frames(path), strict=True))


def test_gif_frames_are_pillows_where_pillow_follows_browsers(tmp_path):
    # Interlaced images (Pillow interlaces from 16 pixels), local tables, a transparent
    # entry and a frame smaller than the canvas: the frames as Pillow composites them.
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    images = [Image.fromarray(base).quantize(64)]
    for i in range(1, 4):
        f = base.copy()
        f[5 + 3 * i : 20 + 3 * i, 10:30] = (40 * i, 255 - 40 * i, 90)
        images.append(Image.fromarray(f).quantize(32))
    path = tmp_path / "p.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0, optimize=False)
    ours = [f.pixels for f in open_frames(path)]
    assert len(ours) == 4
    for got, rgba in zip(ours, pillow_frames(path), strict=True):
        assert same_as(Frame(got, 0.08, 0), rgba)


@pytest.mark.parametrize("clearing", [0, 1, 2])
@pytest.mark.parametrize("bits", [2, 5, 8])
def test_gif_lzw_decoder_reads_what_the_encoder_writes(clearing, bits):
    from palettepress import _kernels

    rng = np.random.default_rng(bits)
    indices = rng.integers(0, 1 << bits, (90, 130), dtype=np.uint8)
    indices[20:50] = indices[20]  # runs: long strings, a full dictionary
    data = _kernels.gif_lzw(indices, None, 0, max(bits, 2), clearing)
    out, got = _kernels.gif_lzw_decode(data, max(bits, 2), indices.size)
    assert got == indices.size and np.array_equal(out.reshape(indices.shape), indices)
    # A stream cut short gives what it holds, the rest left as it was.
    out, got = _kernels.gif_lzw_decode(data[: len(data) // 2], max(bits, 2), indices.size)
    assert 0 < got < indices.size
    assert np.array_equal(out[:got], indices.ravel()[:got]) and not out[got:].any()


def test_a_gif_image_far_larger_than_its_screen_is_left_to_pillow():
    # Its indices would be decoded whole: a 60000x60000 image declared on a 24x16 screen
    # is refused by the reader (and goes to Pillow, which checks it) before any memory.
    from palettepress import gifread

    data = bytearray(_gif_bytes((24, 16), [(0, 0, 0)] * 4, [(0, 0, np.zeros((6, 8), np.uint8), 0, None)]))
    at = data.index(b"\x2c")  # the image descriptor: x, y, w, h after its separator
    data[at + 5 : at + 9] = struct.pack("<HH", 60000, 60000)
    with pytest.raises(ValueError, match="60000x60000 image on a 24x16 screen"):
        gifread.read_gif(bytes(data))
