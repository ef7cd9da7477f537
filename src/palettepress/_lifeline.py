"""Helper processes that end with the process that started them.

A batch's pool workers (and the fork server that starts them) wait for work on a pipe;
if the batch process is killed outright (SIGKILL, an out-of-memory kill, a cancelled
container) nobody tells them to stop, and they would wait for ever. Each calls
:func:`bind_to_parent` when it starts: on Linux the kernel then sends it SIGKILL when its
parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread watches for the parent to
change and exits the process when it does.

Importing :mod:`palettepress._lifeline_preload` binds the importing process: the fork
server imports it first thing, being a child of the batch process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.25


def _prctl_deathsig() -> bool:
    """Ask the kernel for SIGKILL when the parent dies (Linux); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while True:
        time.sleep(_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def bind_to_parent(expected_parent: int | None = None) -> None:
    """Make this process end when its parent does.

    ``expected_parent`` is the parent's pid when the caller knows it: a parent that died
    before this call (the process already has another) ends this one at once.
    """
    parent = os.getppid()
    if expected_parent is not None and parent != expected_parent:
        os._exit(1)
    if not _prctl_deathsig():
        threading.Thread(
            target=_watch, args=(parent,), name="palettepress-lifeline", daemon=True
        ).start()
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent died between the first check and the binding
