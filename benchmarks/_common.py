"""Helpers the benchmark scripts share: writing their blocks into BENCHMARKS.md,
describing the machine and tools a run used, and the table and console lines of their
targets (:class:`TargetRow`, :func:`target_table`, :func:`print_verdicts`)."""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["write_block", "cpu_name", "tool_version", "geomean", "environment", "script_parser",
           "fmt", "markdown_table", "json_ready", "palette_sizes", "find_command", "REPO",
           "TargetRow", "TARGET_HEADER", "verdict", "verdict_cell", "target_table",
           "verdict_line", "print_verdicts", "script_command"]

REPO = Path(__file__).resolve().parents[1]


def write_block(path: Path, name: str, block: str) -> None:
    """Put ``block`` between the markers ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` of
    ``path``, leaving the rest of the file alone.

    A missing file is created; a file without the markers gets the block appended.
    """
    start_marker, end_marker = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    wrapped = f"{start_marker}\n{block.rstrip()}\n{end_marker}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        start = text.find(start_marker)
        end = text.find(end_marker, start + len(start_marker)) if start >= 0 else -1
        if start >= 0 and end >= 0:
            new = text[:start] + wrapped + text[end + len(end_marker):]
        elif start >= 0 or end_marker in text:
            sys.exit(f"{name}: {path} has only one of the markers {start_marker} / "
                     f"{end_marker}; fix the file by hand rather than guess where the block ends")
        else:
            new = (text.rstrip("\n") + "\n\n" if text.strip() else "") + wrapped + "\n"
    else:
        new = "# Benchmarks\n\n" + wrapped + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    # Written beside the target and renamed, so an interrupted run never leaves the
    # hand-written parts of the file truncated.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new)
        # mkstemp creates the file private to its owner; keep the mode a plain write gives.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def cpu_name() -> str:
    name = platform.processor()
    # platform.processor() is empty or just the architecture on most Linux systems.
    if not name or name == platform.machine():
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return name or platform.machine() or "unknown"


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"unknown ({exc})"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def geomean(values: list[float]) -> float:
    """Geometric mean (NaN for no values, 0 or inf when one value is)."""
    values = list(values)
    if not values:
        return math.nan
    if any(v == 0 for v in values):
        return 0.0
    if any(math.isinf(v) for v in values):
        return math.inf
    return math.exp(statistics.fmean(math.log(v) for v in values))


def fmt(x: float | None, digits: int) -> str:
    """``x`` with ``digits`` decimals for a table cell: ``n/a`` for None or NaN, ``inf``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """Lines of a Markdown table; ``align`` has one letter a column, ``l`` or ``r``
    (default: the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


@dataclass(frozen=True)
class TargetRow:
    """One target of a benchmark and how the run did against it.

    ``description`` names what is measured, ``limit`` is the goal as shown (``"<= 1.00"``,
    ``">= +2"``, ``"0"``), ``measured`` the value as shown, and ``met`` whether the goal is
    met: None when there is nothing to judge (the value could not be measured), shown as
    ``n/a``.
    """

    description: str
    limit: str
    measured: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return verdict(self.met)


#: The columns of a target table: description, limit, measured value, verdict.
TARGET_HEADER = ("target", "limit", "measured", "result")


def verdict(met: bool | None) -> str:
    """``PASS``, ``FAIL`` or, for None (nothing to judge), ``n/a``."""
    return "n/a" if met is None else ("PASS" if met else "FAIL")


def verdict_cell(met: bool | None) -> str:
    """The verdict as a Markdown table shows it, in bold: ``**PASS**``, ``**FAIL**``, ``**n/a**``."""
    return f"**{verdict(met)}**"


def target_table(rows: list[TargetRow], header: tuple[str, ...] = TARGET_HEADER) -> list[str]:
    """Lines of the Markdown table of ``rows``: one row per target, the limit and the
    measured value right-aligned, the verdict in bold. ``header`` renames the columns."""
    cells = [[r.description, r.limit, r.measured, verdict_cell(r.met)] for r in rows]
    return markdown_table(list(header), cells, "lrrl")


def verdict_line(row: TargetRow) -> str:
    """One console line for a target: ``  PASS description: measured (target limit)``."""
    return f"  {row.verdict} {row.description}: {row.measured} (target {row.limit})"


def print_verdicts(rows: list[TargetRow], file=None) -> None:
    """Print :func:`verdict_line` of every row to ``file`` (default: stderr)."""
    for row in rows:
        print(verdict_line(row), file=sys.stderr if file is None else file, flush=True)


def json_ready(x):
    """``x`` with non-finite floats made JSON-safe: NaN as null, infinities as strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    return x


def palette_sizes(text: str) -> list[int]:
    """``argparse`` type of a comma-separated list of palette sizes, each from 2 to 256."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}") from None
    if not values or any(not 2 <= v <= 256 for v in values):
        raise argparse.ArgumentTypeError(f"palette sizes must be from 2 to 256, got {text!r}")
    return values


def git_revision() -> str | None:
    """Short commit of the checkout, noting uncommitted changes under ``src/``."""
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{rev}{' + uncommitted changes in src/' if dirty else ''}"


def byte_compile_package() -> None:
    """Write the bytecode of the package being measured, as pip does when it installs a
    wheel: a ``palettepress`` process then starts as it does for a user, not compiling its
    sources on every start (which an editable install does where the environment forbids
    writing bytecode, ``PYTHONDONTWRITEBYTECODE``: 50-100 ms a process)."""
    import compileall

    import palettepress

    compileall.compile_dir(Path(palettepress.__file__).parent, quiet=1)


def environment(argv: list[str], pngquant: str, **extra) -> dict:
    """What produced the numbers: command, date, machine and software versions (and the
    package byte-compiled first, :func:`byte_compile_package`)."""
    import numpy as np
    import PIL

    import palettepress
    from palettepress import _kernels

    byte_compile_package()
    return {
        "command": shlex.join(["python", *argv]),
        "cwd": os.getcwd(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "palettepress": palettepress.__version__,
        "palettepress_git": git_revision(),
        "threads": int(_kernels.num_threads()),
        "pngquant": tool_version([pngquant, "--version"]),
        **extra,
    }


def find_command(name: str) -> str | None:
    """The command ``name``: the console script beside this interpreter when there is one
    (the package being measured, started directly, with no wrapper such as a version
    manager's shim in front of it to add to its time), else the one on PATH, else None."""
    here = Path(sys.executable).parent / (name + ".exe" if os.name == "nt" else name)
    return str(here) if here.exists() else shutil.which(name)


def script_command(script: str, argv: list[str] | None) -> str:
    """How a benchmark script was run, as its block says: ``python benchmarks/NAME ARGS``
    (``argv`` as given to its ``main``, else the command line's)."""
    return shlex.join(["python", "benchmarks/" + Path(script).name, *(argv or sys.argv[1:])])


def set_images(data: Path, sets: tuple[str, ...]) -> list[Path]:
    """The PNG images of the test data's ``sets`` (folders under ``data``), each set's in
    name order; exits saying where it looked when there are none."""
    paths = [p for s in sets for p in sorted((data / s).glob("*.png"))]
    if not paths:
        sys.exit(f"no images under {data}/{{{','.join(sets)}}}")
    return paths


def script_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark script takes: ``--data`` (the
    shared test images beside the repository) and ``--out`` (the Markdown file to write)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "testdata")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    return parser
