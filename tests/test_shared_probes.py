"""Consoles on one Redis bus share their probes (issue #14, point 2): one polls (a lease in
Redis), the others show its results with their age and who probed them; the lease is
taken over when its holder stops, dies or hangs; with the bus gone, each polls alone.

Real parts: the suite's Redis, a real HTTP server counting the requests it is sent, and
real engines (one process: each gets its own console id, as two bastions would)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.engine.api import OnCall
from oncall_console.engine.sharing import LEASE, decode, encode
from oncall_console.model import CheckResult, Status
from oncall_console.model.health import DetailTable, SubStatus
from tests.support.httpserver import LocalServer, serve

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

INTERVAL = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


def hits(server: LocalServer, path: str) -> int:
    return sum(1 for r in list(server.requests) if r["path"] == path)


def engine(tmp_path: Path, redis_url: str, env: str, url: str, name: str, **bus: object) -> Engine:
    data = {
        "console": {"environment": env},
        "store": {"url": str(tmp_path / f"{name}.sqlite3")},
        "bus": {"redis_url": redis_url, "timeout": "1s", **bus},
        "backends": {"web": {"type": "http"}},
        "checks": {"api": {"backend": "web", "url": url, "interval": INTERVAL, "timeout": 1}},
    }
    e = Engine(from_dict(data, env={}))
    e.console_id = e.bus.console = name  # one process, two bastions
    return e


async def until(what: str, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


def unique_path() -> str:
    return "/healthy?" + uuid.uuid4().hex[:8]


def pair(tmp_path: Path, stack: object, server: LocalServer) -> tuple[Engine, Engine]:
    """Consoles a and b of one new environment, checking one new path."""
    env = "share-" + uuid.uuid4().hex[:6]
    url = server.url(unique_path())
    redis_url = stack.redis.url  # type: ignore[attr-defined]
    return engine(tmp_path, redis_url, env, url, "a"), engine(tmp_path, redis_url, env, url, "b")


async def test_one_console_polls_the_others_show_its_results(tmp_path, stack, server):
    env = "share-" + uuid.uuid4().hex[:6]
    path = unique_path()
    consoles = [engine(tmp_path, stack.redis.url, env, server.url(path), f"c{i}") for i in range(3)]
    for c in consoles:
        await c.start()
    try:
        await until("one leader", lambda: sum(c.sharing.role == "leader" for c in consoles) == 1)
        await until(
            "two followers", lambda: sum(c.sharing.role == "follower" for c in consoles) == 2
        )
        leader = next(c for c in consoles if c.sharing.role == "leader")
        followers = [c for c in consoles if c is not leader]
        await until(
            "results reach the followers", lambda: all(f.sharing.received for f in followers)
        )
        shown = followers[0].checks["api"].last
        assert shown is not None and shown.status is Status.OK
        assert shown.details["probed by"] == leader.console_id
        # Steady state: count what the server sees over a few intervals.
        before = hits(server, "/healthy")
        began = time.monotonic()
        await asyncio.sleep(4 * INTERVAL)  # a window to count in, not a wait for a condition
        seen = hits(server, "/healthy") - before
        elapsed = time.monotonic() - began
        # One console alone would send about elapsed / INTERVAL; three unshared, three times
        # that. Shared: one console's worth (+1 for a slot at the window's edge).
        assert seen <= elapsed / INTERVAL + 1, seen
        assert all(f.sharing.received >= 2 for f in followers)
    finally:
        for c in consoles:
            await c.stop()


async def test_the_lease_is_taken_over_when_the_holder_stops_or_hangs(tmp_path, stack, server):
    a, b = pair(tmp_path, stack, server)
    await a.start()
    await until("a leads", lambda: a.sharing.role == "leader")
    await b.start()
    try:
        await until("b follows", lambda: b.sharing.role == "follower")
        # A hung holder: its loop no longer renews (the lease task stopped, the key left to
        # expire by Redis's clock, as when the event loop is blocked).
        a.sharing._task.cancel()
        await until("b takes over", lambda: b.sharing.role == "leader", 2 * INTERVAL + 3)
        assert b.sharing.holder == "b"
        # When a wakes up it finds another holder and follows.
        await a.sharing.tick()
        assert a.sharing.role == "follower" and a.sharing.holder == "b"
        assert not a.sharing.polls()
        # A holder that stops gives the lease back: the follower leads at its next try.
        await b.stop()
        await a.sharing.tick()
        assert a.sharing.role == "leader"
    finally:
        await a.stop()
        await b.stop()


async def test_with_the_bus_gone_every_console_polls_alone(tmp_path, stack, server):
    a, b = pair(tmp_path, stack, server)
    await a.start()
    await b.start()
    try:
        await until("one follows", lambda: "follower" in (a.sharing.role, b.sharing.role))
        follower = a if a.sharing.role == "follower" else b
        # The bus goes (as when Redis cannot be reached): the follower polls on its own.
        follower.bus._set_connected(False, "test: Redis gone")
        await follower.sharing.tick()
        assert follower.sharing.role == "alone" and follower.sharing.polls()
        said = [n.text for n in OnCall(follower).notices() if n.key == "bus:down"]
        assert said and "probes its checks itself" in said[0], said
        last = follower.checks["api"].last
        await until(
            "the follower probes itself",
            lambda: (
                (r := follower.checks["api"].last) is not None
                and r is not last
                and "probed by" not in r.details
            ),
        )
    finally:
        await a.stop()
        await b.stop()


async def test_a_redis_that_is_not_there_is_alone(tmp_path, server):
    e = engine(tmp_path, "redis://127.0.0.1:1/0", "x", server.url(unique_path()), "a")
    await e.start()
    try:
        await e.sharing.tick()
        assert e.sharing.role == "alone" and e.sharing.polls()
    finally:
        await e.stop()


def test_share_probes_false_turns_it_off(tmp_path):
    e = engine(
        tmp_path, "redis://127.0.0.1:1/0", "x", "http://127.0.0.1:1/", "a", share_probes=False
    )
    assert not e.sharing.enabled and e.poller.gate()


def test_a_result_crosses_the_bus_as_it_was_and_nothing_else_does():
    result = CheckResult(
        check="api",
        status=Status.DEGRADED,
        summary="[bold]slow[/] \x1b[31m",
        latency_ms=12.5,
        at=1_000.0,
        details={"version": "1.2"},
        substatuses=(SubStatus("db", Status.DOWN, "refused"),),
        error=None,
        tables=(DetailTable("pods", ("name", "ready"), (("api-1", "1/1"),)),),
    )
    assert decode(encode(result)) == result  # text stays data: cleaned where it is shown
    assert decode(encode(result, tables=False)).tables == ()
    for bad in (
        None,
        "[]",
        '{"check": 1}',
        encode(result).replace('"degraded"', '"on fire"'),
        encode(result).replace("1000.0", '"soon"'),
        encode(result).replace("12.5", "true"),
    ):
        with pytest.raises((TypeError, ValueError, KeyError)):
            decode(bad)


async def test_a_follower_ignores_an_older_result_and_a_leader_ignores_all(tmp_path, server):
    e = engine(tmp_path, "redis://127.0.0.1:1/0", "x", server.url(unique_path()), "a")
    state = e.checks["api"]
    newer = CheckResult("api", Status.OK, "fine", at=2_000.0)
    state.record(newer)
    e.sharing.role = "follower"
    older = CheckResult("api", Status.DOWN, "old news", at=1_000.0)
    e.sharing._on_event(e.bus.event("result", result=encode(older)))
    assert state.last is newer
    e.sharing.role = "leader"
    e.sharing._on_event(
        e.bus.event("result", result=encode(CheckResult("api", Status.DOWN, "x", at=3e3)))
    )
    assert state.last is newer
    assert LEASE.startswith("lease:")  # apart from the action locks' keys


async def test_a_follower_says_whose_probes_it_shows():
    """The Health panel names the console that probes for this one, as plain text."""
    from textual.content import Content

    from tests.support.demoapp import demo_app

    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#health-panel")
        assert "probed by" not in str(panel.border_subtitle)
        engine = app.oncall._engine
        engine.sharing.role, engine.sharing.holder = "follower", "bastion-2:[b]7\x1b[31m"
        app.fixed_clock.advance(1)
        app.screen.sync(force=True)
        await pilot.pause()
        shown = Content.from_markup(str(panel.border_subtitle)).plain  # as the border draws it
        assert shown == "probed by bastion-2:[b]7"  # the markup shown, not obeyed


HOLDER = """
import asyncio, signal, sys, time
from oncall_console.config import load
from oncall_console.engine import Engine

async def main():
    engine = Engine(load(sys.argv[1]))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # SIGUSR1: the event loop hangs (the process and its threads go on running).
    loop.add_signal_handler(signal.SIGUSR1, lambda: time.sleep(120))
    await engine.start()
    await stop.wait()
    await engine.stop()

asyncio.run(main())
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGUSR1], ids=["killed", "hung"])
async def test_a_holder_in_another_process_that_dies_or_hangs_is_taken_over(
    tmp_path, stack, server, how
):
    """The holder is a console of its own (a process): SIGKILL (it dies) or SIGUSR1 (its
    event loop blocks while the process lives on: a renewal from anywhere but the loop
    would keep the lease); the other console takes the lease and probes, bounded by two of
    the lease's time to live."""
    env = "share-" + uuid.uuid4().hex[:6]
    path = unique_path()
    config = tmp_path / "holder.toml"
    config.write_text(
        f'[console]\nenvironment = "{env}"\n'
        f'[store]\nurl = "{tmp_path / "holder.sqlite3"}"\n'
        f'[bus]\nredis_url = "{stack.redis.url}"\ntimeout = "1s"\n'
        '[backends.web]\ntype = "http"\n'
        f'[checks.api]\nbackend = "web"\nurl = "{server.url(path)}"\n'
        f"interval = {INTERVAL}\ntimeout = 1\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(config)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    b = engine(tmp_path, stack.redis.url, env, server.url(path), "b")
    try:
        await b.bus.start()
        began = time.monotonic()
        while not (await b.bus.holder(LEASE) or "").endswith(f":{holder.pid}"):
            assert time.monotonic() - began < 20, "the other process never took the lease"
            assert holder.poll() is None, "the other process ended"
            await asyncio.sleep(0.05)
        await b.start()
        await until("b follows the other process", lambda: b.sharing.role == "follower")
        assert b.sharing.holder.endswith(f":{holder.pid}")
        await until("b shows the holder's results", lambda: b.sharing.received >= 1)
        holder.send_signal(how)
        await until("b takes over", lambda: b.sharing.role == "leader", 2 * b.sharing.ttl + 3)
        before = hits(server, path.split("?")[0])
        await until(
            "b probes the check itself",
            lambda: (
                hits(server, path.split("?")[0]) > before
                and "probed by" not in b.checks["api"].last.details
            ),
        )
    finally:
        await b.stop()
        holder.kill()
        holder.wait(10)
