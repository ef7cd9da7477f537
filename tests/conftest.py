"""Shared fixtures: real test photos from ../shared/testdata, when present."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


def shared_file(*parts: str) -> Path:
    """Path of a file in ../shared/testdata; skips the test where it is absent."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip("../shared/testdata not found (fresh clone): real-photo tests need it")
    return path


@pytest.fixture
def kodim23() -> Path:
    return shared_file("kodak", "kodim23.png")


@pytest.fixture
def fit_as_without_dithering(monkeypatch):
    """Every fit made as ``auto``'s is, whatever the dithering: without the lightness
    weight, the moved extremes and the fewer Hartigan passes of a fit for diffusion
    (``quantizer``, ``effort``), so that the methods' files can be compared with
    ``auto``'s candidates on one palette."""
    from palettepress import quantizer
    from palettepress.effort import EFFORTS

    monkeypatch.setattr(quantizer, "DIFFUSION_FIT_LIGHTNESS", 1.0)
    monkeypatch.setattr(quantizer.Quantizer, "_extreme_reach", lambda self: 0.0)
    for plan in EFFORTS.values():
        monkeypatch.setitem(plan, "hartigan_diffused", plan["hartigan"])
