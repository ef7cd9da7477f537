#!/usr/bin/env bash
# Build the release artefacts on Linux and prove the wheel needs no compiler:
#   sdist (python -m build) -> wheel built from that sdist -> manylinux wheel (auditwheel,
#   patchelf) -> fresh virtual environment whose PATH holds no compiler -> install (timed)
#   -> `palettepress demo` -> the whole test suite, run from the unpacked sdist.
# Usage: tools/build_wheel.sh [OUTDIR]   (default dist/; needs python3 >= 3.10 and a C++
# compiler with OpenMP on this side only).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-dist}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

python3 -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q --upgrade pip build "auditwheel>=6" patchelf

echo "== sdist"
"$work/build-env/bin/python" -m build --sdist --outdir "$work/sdist" . >/dev/null
sdist="$(ls "$work"/sdist/palettepress-*.tar.gz)"
"$work/build-env/bin/python" tools/check_sdist.py "$sdist"

echo "== wheel from the sdist"
tar xzf "$sdist" -C "$work"
src="$(ls -d "$work"/palettepress-*/)"
"$work/build-env/bin/python" -m build --wheel --outdir "$work/raw" "$src" >/dev/null
"$work/build-env/bin/auditwheel" repair -w "$work/wheel" "$work"/raw/*.whl | tail -1
wheel="$(ls "$work"/wheel/*.whl)"
"$work/build-env/bin/auditwheel" show "$wheel" | sed -n 1,3p
cp "$sdist" "$wheel" "$out/"

echo "== install into an environment without a compiler"
python3 -m venv "$work/user-env"
bare="$work/bare-bin"  # PATH: the environment, a shell's basic tools and the browser the
mkdir -p "$bare"       # web test drives; no cc, gcc, c++, clang, ld
for tool in sh bash env cat cp date dirname basename grep head ln ls mkdir mktemp mv realpath \
            rm sed sort tail tar uname chromium chromium-browser; do
    if command -v "$tool" >/dev/null; then ln -s "$(command -v "$tool")" "$bare/$tool"; fi
done
export PATH="$work/user-env/bin:$bare"
for cc in cc gcc g++ c++ clang; do
    if command -v "$cc" >/dev/null; then echo "a compiler is on PATH: $cc" >&2; exit 1; fi
done
pip install -q --upgrade pip
start=$(date +%s.%N)
pip install -q "$wheel"
end=$(date +%s.%N)
python - "$start" "$end" <<'EOF'
import sys
print(f"installed the wheel and its dependencies in {float(sys.argv[2]) - float(sys.argv[1]):.1f} s")
EOF

echo "== demo and the test suite against the installed wheel"
(cd "$work" && palettepress demo --out "$work/demo" | tail -3)
pip install -q "$wheel[test]"
python -c "import palettepress, sys; assert '/user-env/' in palettepress.__file__, palettepress.__file__"
# From the unpacked sdist: its tests and notebook, the package from the wheel (no src/ on the
# path), and ../shared/testdata reached through a link beside it when this checkout has one.
if [ -d ../shared ]; then ln -s "$(realpath ../shared)" "$work/shared"; fi
(cd "$src" && rm -rf src && python -m pytest -q -p no:cacheprovider)
echo "== done: $out/$(basename "$wheel")"
