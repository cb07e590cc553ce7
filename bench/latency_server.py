#!/usr/bin/env python3
"""Loopback HTTP servers that answer every request after a set latency.

A bare ``asyncio.Protocol`` on uvloop when it is installed (``--plain`` for asyncio's
own loop): it reads a request head, waits ``--delay-ms`` on a timer and answers
``{"status": "ok"}`` with keep-alive, the answer's bytes built once. It stands in for
remote servers but shares the bench machine's cores with the client, so its cost is
kept low (10,000 answers: ~450 ms of CPU on asyncio with the answer built per request,
less on uvloop; bench/poll_cycle.py reports it). Any path is answered, so 10,000 checks hit 10,000 distinct paths on a
few ports: one listening socket per port instead of 10,000, and the client's
connection pool sees a handful of origins, like a fleet behind a few load
balancers. Several ports rather than one so that the pool's per-origin behaviour
is exercised, not one hot origin.

The servers run in their own process, so the client's CPU time is its own.

    python bench/latency_server.py --ports 4 --delay-ms 5   # prints the ports, one line
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

BODY = b'{"status": "ok"}'
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
)
ANSWERS = {  # (HEAD request, Connection: close) -> the whole answer
    (head, close): HEAD
    + (b"Connection: close\r\n\r\n" if close else b"\r\n")
    + (b"" if head else BODY)
    for head in (False, True)
    for close in (False, True)
}


class Answer(asyncio.Protocol):
    """One connection: every request head answered ``delay`` seconds after it arrived."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop: not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        loop = asyncio.get_running_loop()
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head, self.buf = self.buf[:end], self.buf[end + 4 :]  # GET/HEAD: no body
            close = b"lose" in head and b"connection: close" in head.lower()
            answer = ANSWERS[head.startswith(b"HEAD "), close]
            loop.call_later(self.delay, self._answer, answer, close)

    def _answer(self, answer: bytes, close: bool) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        t.write(answer)
        if close:
            t.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(ports: int, delay: float, announce: bool = True) -> None:
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(
            lambda: Answer(delay), "127.0.0.1", 0, backlog=4096, reuse_address=True
        )
        for _ in range(ports)
    ]
    numbers = [s.sockets[0].getsockname()[1] for s in servers]
    if announce:
        print(json.dumps(numbers), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


class LatencyServers:
    """The servers in a child process: ``with LatencyServers(4, 5.0) as ports: ...``.

    Stopped by its own PID on exit (SIGTERM, then SIGKILL after 5 s)."""

    def __init__(self, ports: int = 4, delay_ms: float = 5.0, plain: bool = False) -> None:
        self.plain = plain
        self.ports_wanted = ports
        self.delay_ms = delay_ms
        self.proc: subprocess.Popen[str] | None = None
        self.ports: list[int] = []

    def __enter__(self) -> list[int]:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--ports",
                str(self.ports_wanted),
                "--delay-ms",
                str(self.delay_ms),
                *(["--plain"] if self.plain else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.__exit__()
            raise RuntimeError("latency server did not start")
        self.ports = json.loads(line)
        return self.ports

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=4, help="listening ports (default 4)")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="latency of every answer")
    parser.add_argument("--for", dest="duration", type=float, default=0, help="stop after s")
    parser.add_argument("--plain", action="store_true", help="asyncio's loop, not uvloop")
    args = parser.parse_args()
    if args.duration:
        signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        signal.setitimer(signal.ITIMER_REAL, args.duration)
    run = asyncio.run
    if not args.plain:
        with contextlib.suppress(ImportError):
            import uvloop

            run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args.ports, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
