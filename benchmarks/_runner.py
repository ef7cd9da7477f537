"""Starts the commands that ``bench_tools.py`` and ``bench_tools_large.py`` time, and
reports each one's wall time and peak memory.

Each of them starts this file once (``_tools.Runner``), as ``python -I -S _runner.py``,
and sends it one JSON object a line on stdin::

    {"argv": ["pngquant", ...], "timeout": 600, "stderr": "/path/for/its/stderr"}

For each, it forks, the child makes a session of its own and execs ``argv`` (stdin and
stdout on ``/dev/null``, stderr into the named file), and it answers one JSON line::

    {"seconds": 0.25, "maxrss_kib": 11712, "returncode": 0, "timed_out": false}

``seconds`` is :func:`time.perf_counter` from the fork to the exit; ``maxrss_kib`` the
``ru_maxrss`` that :func:`os.wait4` gives for the child. A command still running after
``timeout`` seconds is killed with its whole session; its answer has ``timed_out`` true
and the peak memory it reached so far.

Why a separate process: on Linux a process's ``ru_maxrss`` also counts the memory it was
started with, before its exec. A command started by the benchmark itself, which holds
decoded images of up to 110 megapixels, would report at least the benchmark's own
high-water mark (``subprocess`` uses ``vfork``, which shares it). Forked from this
process instead, which imports only the standard library and skips ``site``, a command
starts from a few MiB; the benchmark measures that floor with ``true`` and reports it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def run(argv: list[str], timeout: float, stderr_path: str) -> dict:
    """Run ``argv`` to its end, or kill it after ``timeout`` seconds; see the module docstring."""
    state = {"pid": 0, "exited": False, "killed": False}

    def on_alarm(signum, frame) -> None:
        if state["pid"] and not state["exited"]:
            state["killed"] = True
            try:
                os.killpg(state["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGALRM, on_alarm)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.dup2(err, 2)
            os.execvp(argv[0], argv)
        except BaseException as exc:
            os.write(2, f"cannot run {argv[0]}: {exc}\n".encode())
        finally:
            os._exit(127)
    state["pid"] = pid
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        # Wait for the exit but leave the child unreaped, so that its pid (and session)
        # cannot be reused while the alarm may still fire.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        seconds = time.perf_counter() - start
    except BaseException:
        state["exited"] = True
        os.killpg(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        raise
    state["exited"] = True
    signal.setitimer(signal.ITIMER_REAL, 0)
    _, status, usage = os.wait4(pid, 0)
    killed = state["killed"] and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return {"seconds": seconds, "maxrss_kib": usage.ru_maxrss,
            "returncode": os.waitstatus_to_exitcode(status), "timed_out": bool(killed)}


def main() -> int:
    for line in sys.stdin:
        request = json.loads(line)
        answer = run(request["argv"], float(request["timeout"]), request["stderr"])
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
