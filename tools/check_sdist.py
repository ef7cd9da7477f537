"""Check a source distribution: everything the build and the tests need, nothing else.

    python tools/check_sdist.py dist/palettepress-X.Y.Z.tar.gz

Exit 0 when it holds; otherwise one line per problem on stderr and exit 1.
"""

from __future__ import annotations

import fnmatch
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Files the sdist must hold, beside every tracked source of the package (listed below).
REQUIRED = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md",
            "src/palettepress/py.typed", "tests/conftest.py", "notebooks/image.ipynb"]

#: Nothing like these may be packed: images (the test photos live in ../shared), compiled or
#: generated build outputs, caches.
FORBIDDEN = ["*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff", "*.webp", "*.gif", "*.ppm", "*.bmp",
             "*testdata*", "*.so", "*.pyd", "*.o", "*_kernels.cpp", "*__pycache__*",
             "*.pyc", "*.hypothesis*", "*.pytest_cache*"]


def package_sources() -> list[str]:
    """The package's own files in the working tree: what a build compiles or installs."""
    src = ROOT / "src" / "palettepress"
    keep = ("*.py", "*.pyx", "*.pxi", "*.h", "py.typed")
    files = [p for p in src.rglob("*") if p.is_file() and any(p.match(k) for k in keep)]
    files += list((src / "web" / "static").iterdir())
    return sorted({p.relative_to(ROOT).as_posix() for p in files
                   if "__pycache__" not in p.parts})


def problems(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name and m.isfile()]
    have = set(names)
    out = [f"missing: {name}" for name in sorted({*REQUIRED, *package_sources()}) if name not in have]
    out += [f"should not be packed: {name}" for name in sorted(have)
            if any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN)]
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tools/check_sdist.py SDIST.tar.gz", file=sys.stderr)
        return 2
    found = problems(Path(args[0]))
    for line in found:
        print(f"check_sdist: {args[0]}: {line}", file=sys.stderr)
    if not found:
        print(f"check_sdist: {args[0]}: complete")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
