"""``python -m palettepress``: the command line."""

from .cli import main

raise SystemExit(main())
