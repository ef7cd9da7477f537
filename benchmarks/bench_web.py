#!/usr/bin/env python
"""The web app under load: many clients at once, good and bad uploads, slow senders.

Starts ``palettepress serve`` (its default limits: 50 MB uploads) as its own process with
a private temporary folder, then ``--clients`` threads send ``--requests`` requests in a
fixed mix: good uploads (a Kodak photo at k = 64), oversized ones (51 MB), truncated
PNGs, garbage bytes, and slow uploads trickled over about two seconds. Every answer's
status is checked against the one the kind must get (200, 413, 400, 400, 200); the block
reports wrong statuses, latency per kind (median and 95th percentile), the good
requests' p95 with the slow senders running, the server's peak RSS and the temporary
files left behind. Writes the block between ``<!-- bench_web:start -->`` and
``<!-- bench_web:end -->`` of ``--out``.

    python benchmarks/bench_web.py
    python benchmarks/bench_web.py --requests 40 --out /tmp/web.md
"""

from __future__ import annotations

import datetime
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import TargetRow, markdown_table, print_verdicts, script_command, script_parser, target_table, write_block

EXPECT = {"good": 200, "oversized": 413, "truncated": 400, "garbage": 400, "slow": 200}
MIX = ["good"] * 8 + ["oversized", "truncated", "garbage", "slow"]
BOUNDARY = "palettepressbenchboundary"
#: Targets: the good requests' 95th percentile while slow senders run, and the server's
#: peak memory, at the default limits and this load.
P95_LIMIT_S = 5.0
RSS_LIMIT_MB = 500


def body(kind: str, photo: bytes) -> bytes:
    data = {"good": photo, "slow": photo, "truncated": photo[: len(photo) // 3],
            "garbage": os.urandom(4096), "oversized": os.urandom(51 * 1024 * 1024)}[kind]
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"colors\"\r\n\r\n64\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def request(port: int, kind: str, payload: bytes) -> tuple[str, int, float]:
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall((f"POST /api/compress HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                      f"Content-Length: {len(payload)}\r\n\r\n").encode())
        try:
            if kind == "slow":  # about two seconds, in 20 pieces
                step = -(-len(payload) // 20)
                for i in range(0, len(payload), step):
                    sock.sendall(payload[i:i + step])
                    time.sleep(0.1)
            else:
                sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before the whole body is sent
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return kind, status, time.perf_counter() - t


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    photo = (args.data / "kodak" / "kodim05.png").read_bytes()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TMPDIR": tmp}
        exe = [sys.executable, "-m", "palettepress", "serve", "--port", str(port)]
        server = subprocess.Popen(exe, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        sys.exit(f"bench_web: the server did not start: {server.stderr.read().decode()}")
                    time.sleep(0.1)
            kinds = [MIX[i % len(MIX)] for i in range(args.requests)]
            payloads = {k: body(k, photo) for k in EXPECT}
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(lambda k: request(port, k, payloads[k]), kinds))
            wall = time.perf_counter() - t0
            rss = peak_rss_mb(server.pid)
            time.sleep(0.5)
            left = [str(p.relative_to(tmp)) for p in Path(tmp).rglob("*")]
        finally:
            server.terminate()
            server.wait(timeout=30)
    wrong = [(k, s) for k, s, _ in results if s != EXPECT[k]]
    rows = []
    for kind in EXPECT:
        times = sorted(t for k, _, t in results if k == kind)
        if times:
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            rows.append([kind, str(EXPECT[kind]), str(len(times)),
                         str(sum(1 for k, s, _ in results if k == kind and s != EXPECT[kind])),
                         f"{statistics.median(times):.2f}", f"{p95:.2f}"])
    good = sorted(t for k, _, t in results if k == "good")
    good_p95 = good[min(len(good) - 1, int(round(0.95 * (len(good) - 1))))]
    targets = [TargetRow("wrong statuses", "0", str(len(wrong)), not wrong),
               TargetRow("good uploads' p95 latency, slow senders running", f"<= {P95_LIMIT_S:g} s",
                         f"{good_p95:.2f} s", good_p95 <= P95_LIMIT_S),
               TargetRow("server peak RSS", f"<= {RSS_LIMIT_MB} MB", f"{rss:.0f} MB",
                         rss <= RSS_LIMIT_MB),
               TargetRow("temporary files left", "0", str(len(left)), not left)]
    print_verdicts(targets)
    command = script_command(__file__, argv)
    block = "\n".join([
        "## The web app under load",
        "",
        f"Generated by `{command}` on {datetime.date.today()}, {os.cpu_count()} cores: "
        f"{args.requests} requests from {args.clients} concurrent clients against `palettepress serve` "
        f"(default limits) in {wall:.1f} s. Mix per 12 requests: 8 good uploads (kodim05, k = 64), "
        "one of 51 MB, one truncated PNG, one of garbage bytes, one good upload trickled over "
        "about 2 s. Latencies in seconds, from the first byte sent to the last byte received.",
        "",
        *target_table(targets),
        "",
        *markdown_table(["kind", "expected status", "requests", "wrong", "median s", "p95 s"], rows),
    ])
    write_block(args.out, "bench_web", block)
    print(f"bench_web: wrote {args.out}", file=sys.stderr)
    return 0 if not wrong and not left else 1


if __name__ == "__main__":
    sys.exit(main())
