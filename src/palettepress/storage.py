"""Batch inputs and outputs in object storage: fsspec URLs (``s3://``, ``gs://``, ``memory://``).

Local paths never come here. A URL is read through fsspec: an input is copied to a
local temporary file (so it gets the same checks and messages as a local file), an
output is written with one ``pipe_file`` (on S3 one PUT: the object appears whole or
not at all). Resuming reads only what it needs of an existing output: its size and
time, its last bytes (a ranged read) and, for PNG, its first 64 KB, where the text
chunk with the settings is.

S3 needs the extra ``s3`` (``pip install "palettepress[s3]"``, s3fs); its endpoint and
credentials come from the usual places (``AWS_*`` variables, ``~/.aws``, or fsspec's
``FSSPEC_S3_ENDPOINT_URL`` for S3-protocol servers).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from .errors import InputError, OutputError, require

__all__ = ["is_url", "list_images", "join", "fetch", "store", "is_done"]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+://")
_HEAD = 64 * 1024


def is_url(path) -> bool:
    """True for ``scheme://...`` (a Windows drive such as ``C:\\`` is a path)."""
    return isinstance(path, str) and bool(_URL.match(path))


def _fs(url: str):
    fsspec = require("fsspec", "s3", "object storage URLs")
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        from .errors import ExtraMissingError

        raise ExtraMissingError(f"{url}: {exc}") from None


def list_images(url: str, suffixes, recursive: bool) -> list[tuple[str, str]] | None:
    """``(file URL, path relative to url)`` of the images under a folder URL, sorted; a
    one-item list for a file URL; None when nothing is there."""
    fs, root = _fs(url)
    protocol = url.split("://", 1)[0]
    if not fs.exists(root):
        return None
    if not fs.isdir(root):
        return [(url, os.path.basename(root.rstrip("/")))]
    names = fs.find(root) if recursive else [e for e in fs.ls(root, detail=False) if fs.isfile(e)]
    found = []
    for name in sorted(names):
        rel = (
            name[len(root.rstrip("/")) + 1 :]
            if name.startswith(root.rstrip("/") + "/")
            else os.path.basename(name)
        )
        base = rel.rsplit("/", 1)[-1]
        if os.path.splitext(base)[1].lower() in suffixes and not base.startswith("."):
            found.append(
                (f"{protocol}://{name}" if not name.startswith(f"{protocol}://") else name, rel)
            )
    return found


def join(base: str, rel: str) -> str:
    """``rel`` (``/``-separated) under the folder URL or path ``base``."""
    return base.rstrip("/") + "/" + rel if is_url(base) else str(Path(base, *rel.split("/")))


def size(url: str) -> int:
    fs, path = _fs(url)
    return int(fs.size(path))


def fetch(url: str, folder: str) -> str:
    """Copy the object at ``url`` into ``folder``; returns the local file's path."""
    fs, path = _fs(url)
    local = os.path.join(folder, os.path.basename(path.rstrip("/")) or "input")
    try:
        fs.get_file(path, local)
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except OSError as exc:
        raise InputError(f"{url}: cannot read ({exc})") from exc
    return local


def store(url: str, data: bytes) -> None:
    """Write ``data`` as the object ``url`` in one request."""
    fs, path = _fs(url)
    try:
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        if "file" in protocols:  # a local folder must exist; object stores have none
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, data)
    except OSError as exc:
        raise OutputError(f"{url}: cannot write ({exc})") from exc


def _modified(fs, path):
    try:
        return fs.modified(path)
    except (NotImplementedError, AttributeError, OSError):
        return None


def is_done(output: str, input: str, tag: str, fmt: str) -> bool:
    """True when ``output`` is complete, not older than ``input`` and carries ``tag``."""
    from .formats import is_complete, read_text

    try:
        out_fs, out_path = _fs(output)
        if not out_fs.exists(out_path):
            return False
        n = int(out_fs.size(out_path))
        after = _modified(out_fs, out_path)
        if is_url(input):
            before = _modified(*_fs(input))
        else:
            import datetime

            before = datetime.datetime.fromtimestamp(os.stat(input).st_mtime, datetime.timezone.utc)
        if before is not None and after is not None:
            if before.tzinfo is None or after.tzinfo is None:
                before, after = before.replace(tzinfo=None), after.replace(tzinfo=None)
            if after < before:
                return False
        if fmt == "png":  # the end for completeness, the head for the text chunk
            if not is_complete(io.BytesIO(out_fs.cat_file(out_path, start=max(0, n - 12))), fmt):
                return False
            data = out_fs.cat_file(out_path, start=0, end=min(n, _HEAD))
        else:
            data = out_fs.cat_file(out_path)  # their tags may follow the image data
            if not is_complete(io.BytesIO(data), fmt):
                return False
        return read_text(io.BytesIO(data)).get("palettepress") == tag
    except (OSError, ValueError, SyntaxError):
        return False
