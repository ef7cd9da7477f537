#!/usr/bin/env python3
"""Time ``compress`` of two versions of the package side by side, interleaved.

    python tools/ab_speed.py OLD_SRC NEW_SRC [--images 8] [--colors 256] [--rounds 5]

OLD_SRC and NEW_SRC are ``src`` folders of two checkouts, each with its compiled kernels
built in place. Each round starts one process per version (in alternating order), which
times ``palettepress.compress(path, colors)`` on each Kodak image, best of 3 after a
warm-up; the figure of a round is the sum of the per-image best times. Prints each
round's figures and the median ratio NEW / OLD. Timing side by side in one run is what
counts: absolute times drift between runs and machines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
import palettepress
paths, colors = json.loads(sys.argv[1]), int(sys.argv[2])
palettepress.compress(paths[0], colors)  # warm-up: imports, lookup tables
total = 0.0
for path in paths:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        palettepress.compress(path, colors)
        best = min(best, time.perf_counter() - t)
    total += best
print(json.dumps({"file": palettepress.__file__, "seconds": total}))
"""


def _time(src: Path, paths: list[str], colors: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(paths), str(colors)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    found = json.loads(out)
    if not found["file"].startswith(str(src)):
        sys.exit(f"{src}: the child imported {found['file']} instead")
    return found["seconds"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "testdata" / "kodak")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--colors", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    paths = [str(p) for p in sorted(args.data.glob("*.png"))[: args.images]]
    if not paths:
        sys.exit(f"{args.data}: no PNG images")
    old_times, new_times = [], []
    for r in range(args.rounds):
        order = [("old", args.old), ("new", args.new)]
        if r % 2:
            order.reverse()
        got = {name: _time(src.resolve(), paths, args.colors) for name, src in order}
        old_times.append(got["old"])
        new_times.append(got["new"])
        print(f"round {r + 1}: old {got['old'] * 1000:.0f} ms, new {got['new'] * 1000:.0f} ms")
    ratio = statistics.median(n / o for n, o in zip(new_times, old_times))
    print(f"{len(paths)} images, k={args.colors}: median old {statistics.median(old_times) * 1000:.0f}"
          f" ms, new {statistics.median(new_times) * 1000:.0f} ms, new/old {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
