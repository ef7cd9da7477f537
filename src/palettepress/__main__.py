"""``python -m palettepress``: the command line."""

from .cli import run

run()
