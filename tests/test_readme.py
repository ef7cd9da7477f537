"""The README's examples run as written: its console commands and its Python blocks."""

import re
import shlex
from pathlib import Path


from palettepress.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_set_up_is_two_commands():
    setup = [b.strip() for b in blocks("console") if "pip install" in b]
    assert setup == ['pip install . && palettepress demo', 'pip install ".[test]" && python -m pytest']


def test_console_examples(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    commands = [line[2:] for b in blocks("console") for line in b.splitlines() if line.startswith("$ ")]
    assert commands, "the README shows command examples"
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "palettepress"
        assert main(argv[1:]) == 0, command
    for name in ("sample-k16.png", "sample-k64.png", "sample-q.png", "sample-q.gpl", "sample-same.png",
                 "sample-legend.png", "sample-sweep/report.html", "batch-out/sample.png",
                 "batch-out/k004.png", "batch.json"):
        assert (tmp_path / name).exists(), name


def test_python_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks("python")
    assert code
    for block in code:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "sample-k32.png").exists()


def test_documented_exit_codes_match_the_cli():
    from palettepress import cli, errors

    for code in ("`0`", "`1`", "`2`", "`3`", "`4`", "`5`", "`6`", "`7`", "`130`"):
        assert code in README
    assert errors.InputError.exit_code == 3 == cli.EXIT_INPUT
    assert errors.OutputError.exit_code == 4 == cli.EXIT_OUTPUT
    assert errors.ParameterError.exit_code == 2 == cli.EXIT_USAGE
    assert errors.TargetError.exit_code == 5 == cli.EXIT_TARGET
    assert errors.ExtraMissingError.exit_code == 6
    assert cli.EXIT_FILES_FAILED == 7
