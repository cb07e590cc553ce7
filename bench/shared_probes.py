#!/usr/bin/env python3
"""Shared probes (issue #14, point 2): what the probed services see with 1, 5 and 10
consoles on one Redis bus, and how long the hand-over takes when the polling console
is killed.

A real Redis (the test suite's server class, on a free loopback port) and a loopback
HTTP server that counts every request it is sent. Each console is its own process: a
headless engine (``oncall_console.engine.Engine``, the same one the TUI drives) on a
config of ``--checks`` HTTP checks at ``--interval`` seconds. Once every console has
started and knows its role (each probes once as it starts, before it knows), and
``--warmup`` seconds more, requests are counted over ``--window`` seconds: the ratio to
one console is the figure; the lease holder is sampled meanwhile (how often it moved).
Every count is taken with ``share_probes = false`` too, for comparison. Then, with ten
consoles, the one holding the lease (read from Redis) is SIGKILLed: the hand-over is the
time until another console holds the lease, and until the server sees probes again.

    .venv/bin/python bench/shared_probes.py [--checks 20] [--interval 2] [--window 20]
        [--warmup 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _common import load, machine, write_fragment  # noqa: E402

TARGET = 1.2


class Counter(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.count = 0
        self.last = 0.0
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a console killed mid-request: a broken pipe, nothing to report


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Counter

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.count += 1
            self.server.last = time.monotonic()
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def write_config(
    path: Path, redis_url: str, http: str, checks: int, interval: float, *, share: bool
) -> None:
    lines = [
        '[console]\nenvironment = "bench"\n',
        f'[store]\nurl = "{path.parent / "store.sqlite3"}"\n',
        f'[bus]\nredis_url = "{redis_url}"\nshare_probes = {"true" if share else "false"}\n',
        '[backends.web]\ntype = "http"\n',
    ]
    for i in range(checks):
        lines.append(
            f'[checks.svc-{i}]\nbackend = "web"\nurl = "{http}/health/{i}"\n'
            f"interval = {interval}\ntimeout = 2\n"
        )
    path.write_text("\n".join(lines), encoding="utf-8")


def engine_main(config: str) -> None:
    """One headless console: the engine polls until SIGTERM."""
    from oncall_console.config import load as load_config
    from oncall_console.engine import Engine

    async def run() -> None:
        engine = Engine(load_config(config))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await engine.start()
        await engine.sharing.tick()  # its role known: then it counts as started
        Path(f"{config}.ready.{os.getpid()}").touch()
        await stop.wait()
        await engine.stop()

    asyncio.run(run())


def lease_holder(port: int) -> str:
    """GET the lease key with a bare RESP request (no client library in this process)."""
    key = b"oncall-console:bench:lock:lease:probes"
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        data = sock.recv(256)
    if data.startswith(b"$-1"):
        return ""
    return data.split(b"\r\n")[1].decode()


def start_consoles(n: int, config: Path) -> list[subprocess.Popen[bytes]]:
    argv = [sys.executable, __file__, "--engine", str(config)]
    return [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        for _ in range(n)
    ]


def stop_consoles(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_started(procs: list[subprocess.Popen[bytes]], config: Path, warmup: float) -> None:
    """Until every console has started and knows its role (each probes its checks once as
    it starts, before it knows), then ``warmup`` seconds more."""
    began = time.monotonic()
    while not all(Path(f"{config}.ready.{p.pid}").exists() for p in procs):
        if time.monotonic() - began > 180 or any(p.poll() is not None for p in procs):
            raise SystemExit("a console did not start")
        time.sleep(0.05)
    time.sleep(warmup)


def measure(
    n: int, config: Path, server: Counter, redis_port: int, warmup: float, window: float
) -> tuple[float, int]:
    """Requests per minute the server sees from ``n`` consoles once all have started, and
    how many times the lease changed hands meanwhile."""
    procs = start_consoles(n, config)
    try:
        wait_started(procs, config, warmup)
        before, began = server.count, time.monotonic()
        holders = [lease_holder(redis_port)]
        while time.monotonic() - began < window:
            time.sleep(0.1)
            if (now := lease_holder(redis_port)) != holders[-1]:
                holders.append(now)
        return (server.count - before) / (time.monotonic() - began) * 60, len(holders) - 1
    finally:
        stop_consoles(procs)


def handover(
    n: int, config: Path, server: Counter, redis_port: int, warmup: float
) -> tuple[float, float]:
    """SIGKILL the console holding the lease; seconds until another holds it, and until the
    server sees a probe again after the last one the killed console sent."""
    procs = start_consoles(n, config)
    try:
        wait_started(procs, config, warmup)
        holder = lease_holder(redis_port)
        pid = int(holder.rsplit(":", 1)[1])
        victim = next(p for p in procs if p.pid == pid)
        victim.kill()
        killed = time.monotonic()
        victim.wait()
        last = server.last
        new_holder = moved = None
        while time.monotonic() - killed < 60 and (new_holder is None or moved is None):
            if new_holder is None and lease_holder(redis_port) not in ("", holder):
                new_holder = time.monotonic() - killed
            if moved is None and server.last > max(last, killed) and new_holder is not None:
                moved = server.last - killed
            time.sleep(0.01)
        return new_holder or float("nan"), moved or float("nan")
    finally:
        stop_consoles(procs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--checks", type=int, default=20)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=6.0)
    ap.add_argument("--no-write", action="store_true", help="print, do not write the fragment")
    args = ap.parse_args()
    if args.engine:
        engine_main(args.engine)
        return

    from tests.support.stack_servers import RedisServer

    at_start = load()
    with tempfile.TemporaryDirectory(prefix="oncall-bench-share-") as tmp:
        base = Path(tmp)
        (base / "redis").mkdir()
        redis = RedisServer(base / "redis")
        redis.start()
        server = Counter()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        http = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            rows = []
            moves: dict[int, int] = {}
            for share in (True, False):
                config = base / ("shared.toml" if share else "unshared.toml")
                write_config(config, redis.url, http, args.checks, args.interval, share=share)
                got = {
                    n: measure(n, config, server, redis.port, args.warmup, args.window)
                    for n in (1, 5, 10)
                }
                rates = {n: rate for n, (rate, _) in got.items()}
                moves = {n: moved for n, (_, moved) in got.items()} if share else moves
                rows.append((share, rates))
                print(share, got, flush=True)
            config = base / "shared.toml"
            took_lease, probes_again = handover(10, config, server, redis.port, args.warmup)
            print("hand-over", took_lease, probes_again, flush=True)
        finally:
            server.shutdown()
            redis.stop()
    one = rows[0][1][1]
    lines = [
        "## 8. Shared probes",
        "",
        f"`python bench/shared_probes.py --checks {args.checks} --interval {args.interval:g} "
        f"--window {args.window:g} --warmup {args.warmup:g}` — N headless consoles (one process each, the real engine) "
        f"on one Redis, {args.checks} HTTP checks every {args.interval:g} s against a loopback "
        f"server that counts requests; counted over {args.window:g} s, {args.warmup:g} s after "
        "the last console started and knew its role (each console probes its checks once as "
        f"it starts, before it knows). {at_start} at start, {load()} at end.",
        "",
        "| consoles | requests / min, shared | ratio to one console | lease moves | "
        "requests / min, share_probes = false | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    shared, unshared = rows[0][1], rows[1][1]
    for n in (1, 5, 10):
        lines.append(
            f"| {n} | {shared[n]:,.0f} | {shared[n] / one:.2f}× | {moves[n]} | {unshared[n]:,.0f} | "
            f"{unshared[n] / unshared[1]:.2f}× |"
        )
    worst = max(shared[n] / one for n in (5, 10))
    lines += [
        "",
        f"- Target ≤ {TARGET}× one console's requests with ten consoles: "
        f"{shared[10] / one:.2f}× → {'**met**' if worst <= TARGET else '**missed**'}.",
        f"- Hand-over, 10 consoles, the lease holder SIGKILLed: another console held the lease "
        f"after {took_lease:.1f} s and the server saw its probes {probes_again:.1f} s after the "
        f"kill (check interval {args.interval:g} s; the lease's TTL is the shortest interval, "
        "at least 2 s, tried every third of it).",
        f"- {machine()}",
    ]
    write_fragment(__file__, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
