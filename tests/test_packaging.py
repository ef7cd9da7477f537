"""Packaging: one version, a changelog that keeps up, install lines that say what they do."""

import importlib.metadata
import re
from pathlib import Path

import palettepress

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_written_once():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = re.search(r"^\[project\]\n(.*?)^\[", text, flags=re.S | re.M).group(1)
    assert not re.search(r"^version\s*=", project, flags=re.M)
    assert re.search(r'^dynamic = \["version"\]', project, flags=re.M)
    assert 'version = { attr = "palettepress.__version__" }' in text
    assert importlib.metadata.version("palettepress") == palettepress.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:\.dev\d+|rc\d+)?", palettepress.__version__)


def test_changelog_has_the_version_or_unreleased_changes():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", changelog, flags=re.M)
    assert sections and sections[0] in ("Unreleased", palettepress.__version__)
    assert palettepress.__version__ in sections or sections[0] == "Unreleased"


def test_readme_installs_with_pip_pipx_and_uv():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Install\n\n```sh\n(.*?)```", readme, flags=re.S)
    assert block, "README has an Install section with a sh block"
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert lines[:3] == ["pip install palettepress", "pipx install palettepress",
                         "uv tool install palettepress"]
