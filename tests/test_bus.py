"""The bus: events between consoles and the locks they share.

Two RedisBus instances against the stack's real Redis stand for two consoles; LocalBus
keeps the same lock semantics in-process. Redis is stopped, restarted and paused here,
and always left running (see the ``redis`` fixture). Run with ``-s`` to see the measured
latency of an event between two consoles.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.bus import (
    Bus,
    BusUnavailable,
    Event,
    LocalBus,
    LocalHub,
    MalformedEvent,
    bus_from_config,
    check_redis_url,
)
from oncall_console.bus.base import Scalar
from oncall_console.bus.redis import RedisBus
from oncall_console.engine.actions import ActionRunner
from oncall_console.model import ActionRequest, ActionResult, ActionSpec, Outcome, ParamSpec
from oncall_console.store.audit import MemoryAuditLog
from tests.support.stack import Stack
from tests.support.stack_servers import RedisServer

on_stack = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

DB = 7  # lock keys live here; flushed before and after each test
HOSTILE: dict[str, Scalar] = {
    "markup": "[bold red]SEV1[/] [link=http://evil]x[/link] <script>alert(1)</script>",
    "escapes": "\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b[31mred\x1b[0m \x9b31m",
    "controls": "a\x00b\x07c\rd\ne\tf\u202eg\u2066",
    "quotes": "'\"\\\\ } { ] [ %s {0} $(reboot) `id`",
    "unicode": "🔥 héllo 日本 \ud7ff",
    "number": 3,
    "ratio": 0.25,
    "flag": False,
    "nothing": None,
}


async def wait_for(what: str, condition: Callable[[], bool], timeout: float = 5.0) -> float:
    """Wait until ``condition()`` holds; the seconds it took. Fails naming ``what``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            pytest.fail(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


class Inbox:
    """Everything a bus delivered: events, resyncs, connection changes."""

    def __init__(self, bus: Bus) -> None:
        self.events: list[Event] = []
        self.resyncs = 0
        self.status: list[bool] = []
        bus.subscribe(self.events.append)
        bus.on_resync(self._resync)
        bus.on_status(self.status.append)

    def _resync(self) -> None:
        self.resyncs += 1

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


# --- the event, as data ---------------------------------------------------------------------


def test_an_event_survives_json_unchanged_hostile_text_included():
    event = Event("timeline", dict(HOSTILE), "bastion-1:42", 1_700_000_000.5)
    back = Event.from_json(event.to_json())
    assert back == event and back.payload == HOSTILE
    assert Event.from_json(event.to_json().encode()) == event
    assert len(event.id) == 32 and event.id != Event("timeline", {}, "x", 0).id


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00",
        "",
        "not json",
        "[]",
        "null",
        '"a string"',
        '{"kind": "timeline"}',
        '{"kind": 1, "payload": {}, "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "", "payload": {}, "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": [], "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": {"a": {"nested": 1}}, "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": {"a": [1]}, "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": {}, "origin": "x", "at": NaN, "id": "a"}',
        '{"kind": "timeline", "payload": {"a": Infinity}, "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": {}, "origin": "x", "at": true, "id": "a"}',
        '{"kind": "timeline", "payload": {}, "origin": "x", "at": "now", "id": "a"}',
        '{"kind": "timeline", "payload": {}, "origin": null, "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": {}, "origin": "x", "at": 1, "id": ""}',
        "[" * 100_000,
        '{"kind": "timeline", "payload": {"a": "' + "x" * 70_000 + '"}, "origin": "x"}',
    ],
)
def test_anything_that_is_not_an_event_is_malformed(raw):
    with pytest.raises(MalformedEvent):
        Event.from_json(raw)


def test_unknown_keys_and_kinds_from_a_newer_console_are_accepted():
    raw = '{"kind": "vote", "payload": {}, "origin": "x", "at": 1, "id": "a", "v": 2}'
    assert Event.from_json(raw) == Event("vote", {}, "x", 1.0, "a")


@pytest.mark.parametrize(
    "payload",
    [{"a": {"b": 1}}, {"a": [1]}, {1: "a"}, {"a": float("nan")}, {"a": "x" * 70_000}],
)
async def test_an_event_that_could_never_be_sent_is_refused_on_publish(payload):
    bus = LocalBus("a")
    await bus.start()
    with pytest.raises((TypeError, ValueError)):
        await bus.publish(Event("timeline", payload, "a", 0.0))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://h:1", "redis://"),
        ("redis://:hunter2@h:1/0", "no password in the url"),
        ("redis:///0", "no host"),
        ("redis://h:notaport/0", "not a URL"),
    ],
)
def test_redis_urls_are_checked_without_quoting_them(url, says):
    with pytest.raises(ValueError, match=says) as err:
        check_redis_url(url)
    assert "hunter2" not in str(err.value)


def test_the_config_picks_the_bus():
    @dataclass
    class Section:
        redis_url: str = ""
        username: str | None = None
        password_env: str | None = None
        password_file: str | None = None
        timeout: float = 2.0

    assert isinstance(bus_from_config(None, environment="prod", console="c"), LocalBus)
    assert isinstance(bus_from_config(Section(), environment="prod", console="c"), LocalBus)
    bus = bus_from_config(Section("redis://h:1/0"), environment="staging", console="c")
    assert isinstance(bus, RedisBus)
    assert bus.channel == "oncall-console:staging:events"
    assert bus.lock_key("k8s/api") == "oncall-console:staging:lock:k8s/api"


# --- LocalBus -------------------------------------------------------------------------------


async def test_a_console_alone_publishes_into_the_void_and_locks_for_itself():
    bus = LocalBus("alone")
    inbox = Inbox(bus)
    await bus.start()
    assert bus.connected and bus.last_error == ""
    assert await bus.publish(bus.event("timeline", incident="42", entry="note")) is True
    await asyncio.sleep(0.01)
    assert inbox.events == []  # its own events are not echoed
    assert await bus.acquire_lock("ops/api", "me", 10, 0.0) is None
    await bus.close()
    assert not bus.connected


async def test_local_buses_sharing_a_hub_see_each_other_not_themselves():
    hub = LocalHub()
    a, b = LocalBus("a", hub=hub), LocalBus("b", hub=hub)
    inbox_a, inbox_b = Inbox(a), Inbox(b)
    await a.start()
    await b.start()
    sent = a.event("incident", dict(HOSTILE))
    assert await a.publish(sent)
    await wait_for("b has it", lambda: len(inbox_b.events) == 1, 10.0)
    assert inbox_b.events == [sent] and inbox_b.events[0] is not sent
    assert inbox_a.events == []
    posted = a.event("refresh")
    a.post(posted)
    await a.close()  # flushes
    await wait_for("b has the posted one", lambda: posted in inbox_b.events, 10.0)


# --- lock semantics: the same for LocalBus and RedisBus --------------------------------------


@dataclass
class LockPair:
    """Two consoles' buses on one lock service, and a way to let time pass for it."""

    first: Bus
    second: Bus
    now: float
    real_time: bool

    async def pass_time(self, seconds: float) -> None:
        if self.real_time:
            await asyncio.sleep(seconds)
        self.now += seconds


@pytest.fixture(params=["local", pytest.param("redis", marks=on_stack)])
async def locks(request: pytest.FixtureRequest) -> AsyncIterator[LockPair]:
    if request.param == "local":
        hub = LocalHub()
        pair = LockPair(LocalBus("a", hub=hub), LocalBus("b", hub=hub), 1000.0, False)
    else:
        url = request.getfixturevalue("redis_url")
        env = f"test-{uuid.uuid4().hex[:8]}"
        pair = LockPair(
            RedisBus(url, console="a", environment=env, timeout=1),
            RedisBus(url, console="b", environment=env, timeout=1),
            time.time(),
            True,
        )
    await pair.first.start()
    await pair.second.start()
    yield pair
    await pair.first.close()
    await pair.second.close()


TTL = 0.5


async def test_of_two_consoles_one_gets_the_lock_the_other_is_told_who(locks):
    a, b = locks.first, locks.second
    assert await a.acquire_lock("ops/api", "alex on a", TTL, locks.now) is None
    assert await b.acquire_lock("ops/api", "sam on b", TTL, locks.now) == "alex on a"
    assert await b.acquire_lock("ops/db", "sam on b", TTL, locks.now) is None  # other target


async def test_release_by_the_wrong_holder_does_not_release(locks):
    a, b = locks.first, locks.second
    assert await a.acquire_lock("ops/api", "alex", TTL * 4, locks.now) is None
    await b.release_lock("ops/api", "sam")
    await a.release_lock("ops/api", "alex on another console")
    assert await b.acquire_lock("ops/api", "sam", TTL, locks.now) == "alex"
    await a.release_lock("ops/api", "alex")
    assert await b.acquire_lock("ops/api", "sam", TTL, locks.now) is None


async def test_expiry_frees_the_lock(locks):
    a, b = locks.first, locks.second
    assert await a.acquire_lock("ops/api", "alex", TTL, locks.now) is None
    await locks.pass_time(TTL + 0.2)
    assert await b.acquire_lock("ops/api", "sam", TTL, locks.now) is None
    assert await a.acquire_lock("ops/api", "alex", TTL, locks.now) == "sam"


async def test_the_same_holder_may_take_it_again_which_extends_it(locks):
    a, b = locks.first, locks.second
    assert await a.acquire_lock("ops/api", "alex", TTL, locks.now) is None
    await locks.pass_time(TTL * 0.6)
    assert await a.acquire_lock("ops/api", "alex", TTL, locks.now) is None  # re-entrant
    await locks.pass_time(TTL * 0.6)  # past the first expiry, within the extended one
    assert await b.acquire_lock("ops/api", "sam", TTL, locks.now) == "alex"
    await a.release_lock("ops/api", "alex")
    assert await b.acquire_lock("ops/api", "sam", TTL, locks.now) is None


# --- RedisBus: two consoles on the stack's Redis ----------------------------------------------


def _ensure_running(server: RedisServer) -> None:
    if server.paused:
        server.resume()
    if not server.running:
        server.restart()


@pytest.fixture
def redis_server(stack: Stack) -> Iterator[RedisServer]:
    """The stack's Redis, running; left running (and its test database empty) afterwards."""
    server = stack.redis
    _ensure_running(server)
    raw = redis.Redis.from_url(server.url.rsplit("/", 1)[0] + f"/{DB}", socket_timeout=5)
    raw.flushdb()
    yield server
    _ensure_running(server)
    raw.flushdb()
    raw.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url.rsplit("/", 1)[0] + f"/{DB}"


def fast_bus(url: str, console: str, environment: str, **kw: Any) -> RedisBus:
    """Short timeouts so that faults show within a second or two."""
    settings: dict[str, Any] = {
        "timeout": 1.0,
        "ping_interval": 0.5,
        "backoff_min": 0.05,
        "backoff_max": 0.5,
    }
    return RedisBus(url, console=console, environment=environment, **{**settings, **kw})


@dataclass
class Consoles:
    a: RedisBus
    b: RedisBus
    inbox_a: Inbox
    inbox_b: Inbox


@pytest.fixture
async def consoles(redis_url: str) -> AsyncIterator[Consoles]:
    env = f"test-{uuid.uuid4().hex[:8]}"
    a = fast_bus(redis_url, "bastion-1:101", env)
    b = fast_bus(redis_url, "bastion-2:202", env)
    pair = Consoles(a, b, Inbox(a), Inbox(b))
    await a.start()
    await b.start()
    assert a.connected and b.connected, (a.last_error, b.last_error)
    yield pair
    await a.close()
    await b.close()


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_an_event_reaches_the_other_console_and_is_not_echoed(consoles):
    c = consoles
    sent = c.a.event("timeline", incident="42", entry="rolled back api")
    assert await c.a.publish(sent) is True
    await wait_for("b receives it", lambda: bool(c.inbox_b.events), 10.0)
    assert c.inbox_b.events == [sent]
    await asyncio.sleep(0.2)
    assert c.inbox_a.events == [] and c.a.received == 0  # a saw its own and dropped it


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_a_hundred_events_arrive_in_order(consoles):
    c = consoles
    sent = [c.a.event("presence", n=n, who="alex", step=f"step {n}") for n in range(100)]
    for event in sent:
        assert await c.a.publish(event)
    await wait_for("all 100", lambda: len(c.inbox_b.events) == 100, 5.0)
    assert c.inbox_b.events == sent


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_posted_events_go_in_order_without_the_caller_waiting(consoles: Consoles) -> None:
    c = consoles
    sent = [c.a.event("action", audit=n, outcome="outcome unknown") for n in range(50)]
    began = time.perf_counter()
    for event in sent:
        c.a.post(event)  # not a coroutine: usable from sync code and the action path
    assert time.perf_counter() - began < 0.05
    await wait_for("all 50", lambda: len(c.inbox_b.events) == 50, 5.0)
    assert c.inbox_b.events == sent and c.a.dropped == 0
    last = c.a.event("refresh")
    c.a.post(last)
    await c.a.close()  # sends what was posted before it lets go
    await wait_for("the last one", lambda: last in c.inbox_b.events, 10.0)
    with pytest.raises(TypeError):
        c.b.post(Event("timeline", {"bad": {"nested": 1}}, "b", 0.0))  # type: ignore[dict-item]


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_latency_between_two_consoles(consoles):
    """Measured and printed (run with -s), not asserted beyond a sanity bound."""
    c = consoles
    arrived: dict[str, float] = {}

    def seen(event: Event) -> None:
        arrived.setdefault(event.id, time.perf_counter())

    def has(event_id: str) -> Callable[[], bool]:
        return lambda: event_id in arrived

    c.b.subscribe(seen)
    one_by_one: list[float] = []
    for n in range(100):
        event = c.a.event("refresh", n=n)
        began = time.perf_counter()
        await c.a.publish(event)
        await wait_for("event arrives", has(event.id), 10.0)
        one_by_one.append((arrived[event.id] - began) * 1000)
    burst = [c.a.event("refresh", n=n) for n in range(100)]
    sent_at: dict[str, float] = {}
    for event in burst:
        sent_at[event.id] = time.perf_counter()
        await c.a.publish(event)
    await wait_for("burst arrives", lambda: all(e.id in arrived for e in burst), 5.0)
    in_burst = [(arrived[e.id] - sent_at[e.id]) * 1000 for e in burst]

    def q(values: list[float], p: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[p - 1]

    print(
        "\nbus latency, publish on console A -> callback on console B (two RedisBus, one "
        "process, local Redis), 100 events:"
        f"\n  one at a time: p50 {statistics.median(one_by_one):.3f} ms, "
        f"p95 {q(one_by_one, 95):.3f} ms, max {max(one_by_one):.3f} ms"
        f"\n  burst of 100:  p50 {statistics.median(in_burst):.3f} ms, "
        f"p95 {q(in_burst, 95):.3f} ms, max {max(in_burst):.3f} ms"
    )
    assert statistics.median(one_by_one) < 1000


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_hostile_text_passes_through_unchanged_as_data(consoles):
    c = consoles
    sent = c.a.event("timeline", dict(HOSTILE))
    assert await c.a.publish(sent)
    await wait_for("b receives it", lambda: bool(c.inbox_b.events), 10.0)
    assert c.inbox_b.events[0].payload == HOSTILE


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_garbage_on_the_channel_is_ignored_and_the_reader_keeps_going(consoles, redis_url):
    c = consoles
    garbage: list[bytes | str] = [
        b"\xff\xfe\x00\x01",
        "not json at all",
        "[1, 2, 3]",
        '{"kind": "timeline", "payload": {"deep": {"x": 1}}, "origin": "x", "at": 1, "id": "a"}',
        '{"kind": "timeline", "payload": {}, "origin": "x", "at": NaN, "id": "a"}',
        "[" * 50_000,
        "x" * 200_000,
        "\x1b[2J\x1b]52;c;ZXZpbA==\x07",
    ]
    raw = redis.asyncio.Redis.from_url(redis_url, socket_timeout=5)
    try:
        for junk in garbage:
            await raw.publish(c.a.channel, junk)
    finally:
        await raw.aclose()
    sent = c.a.event("action", audit=17, outcome="succeeded")
    await c.a.publish(sent)
    await wait_for("the good one after the junk", lambda: bool(c.inbox_b.events), 10.0)
    assert c.inbox_b.events == [sent]
    assert c.b.malformed == len(garbage) and c.a.malformed == len(garbage)
    assert c.a.connected and c.b.connected


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_a_failing_listener_does_not_stop_the_others_or_the_reader(consoles):
    c = consoles

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    async def broken_async(event: Event) -> None:
        raise RuntimeError("async listener bug")

    c.b._on_event.insert(0, broken)
    c.b.subscribe(broken_async)
    for n in range(3):
        await c.a.publish(c.a.event("refresh", n=n))
    await wait_for("all three", lambda: len(c.inbox_b.events) == 3, 10.0)
    assert c.b.connected


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_consoles_of_another_environment_do_not_hear_us(redis_url):
    prod = fast_bus(redis_url, "p", "prod-" + uuid.uuid4().hex[:6])
    staging = fast_bus(redis_url, "s", "staging-" + uuid.uuid4().hex[:6])
    inbox = Inbox(staging)
    async with prod, staging:
        await prod.publish(prod.event("refresh"))
        assert await prod.acquire_lock("ops/api", "p", 5, 0) is None
        assert await staging.acquire_lock("ops/api", "s", 5, 0) is None
        await asyncio.sleep(0.3)
    assert inbox.events == []


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_redis_stopped_publish_and_locks_fail_fast_then_it_comes_back(consoles, redis_server):
    c = consoles
    assert await c.a.acquire_lock("ops/api", "alex", 30, 0) is None
    await asyncio.to_thread(redis_server.stop)
    await wait_for("a sees it", lambda: not c.a.connected, 10.0)
    await wait_for("b sees it", lambda: not c.b.connected, 10.0)
    assert c.inbox_a.status[-1] is False and c.a.last_error

    began = time.monotonic()
    assert await c.a.publish(c.a.event("timeline", incident="42")) is False
    assert time.monotonic() - began < 1.0  # known to be down: dropped, no connect and retry
    c.b.post(c.b.event("timeline", incident="42"))
    await c.b.flush()
    assert c.b.dropped == 1

    for call in (
        c.b.acquire_lock("ops/api", "sam", 30, 0),
        c.a.release_lock("ops/api", "alex"),
    ):
        began = time.monotonic()
        with pytest.raises(BusUnavailable, match="Redis bus is unreachable") as err:
            await call
        assert time.monotonic() - began < 5.0  # bounded: refused connection, no hang
        assert redis_server.host_port in str(err.value)

    resyncs = c.inbox_a.resyncs, c.inbox_b.resyncs
    await asyncio.to_thread(redis_server.start)
    await wait_for("a reconnects", lambda: c.a.connected, 5.0)
    await wait_for("b reconnects", lambda: c.b.connected, 5.0)
    assert c.inbox_a.resyncs == resyncs[0] + 1 and c.inbox_b.resyncs == resyncs[1] + 1
    assert c.a.reconnects == 1 and c.inbox_a.status[-2:] == [False, True]
    await asyncio.sleep(0.3)
    assert c.inbox_b.of("timeline") == []  # nothing stale is replayed
    # and everything works again (the lock went with Redis's memory: no persistence here)
    sent = c.b.event("timeline", incident="42")
    assert await c.b.publish(sent)
    await wait_for("a receives", lambda: sent in c.inbox_a.events, 10.0)
    assert await c.b.acquire_lock("ops/api", "sam", 30, 0) is None


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_redis_restarted_the_readers_reconnect_by_themselves_and_resync(
    consoles, redis_server
):
    c = consoles
    await asyncio.to_thread(redis_server.restart)
    await wait_for("a resyncs", lambda: c.inbox_a.resyncs == 1, 5.0)
    await wait_for("b resyncs", lambda: c.inbox_b.resyncs == 1, 5.0)
    assert c.a.connected and c.b.connected and c.a.last_error == ""
    sent = c.a.event("incident", id="42", status="monitoring")
    assert await c.a.publish(sent)
    await wait_for("b receives", lambda: sent in c.inbox_b.events, 10.0)


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_a_console_that_lost_its_connection_asks_the_others_to_refresh(consoles, redis_url):
    """Only a is cut off (its reader connection killed); b stays connected. What a
    published meanwhile was dropped, so once back it tells b to re-read the store."""
    c = consoles
    c.a.backoff_min = c.a.backoff_max = 1.0  # a wide window while a is away
    raw = redis.asyncio.Redis.from_url(redis_url, socket_timeout=5)
    try:
        clients = await raw.client_list(_type="pubsub")
        mine = [x for x in clients if x["name"] == c.a.client_name]
        assert len(mine) == 1, clients
        await raw.client_kill_filter(_id=mine[0]["id"])
    finally:
        await raw.aclose()
    await wait_for("a notices", lambda: not c.a.connected, 10.0)
    assert c.b.connected
    assert await c.a.publish(c.a.event("timeline", incident="42", entry="x")) is False
    await wait_for("a is back", lambda: c.a.connected, 10.0)
    assert c.inbox_a.resyncs == 1 and c.inbox_b.resyncs == 0
    await wait_for("b told to refresh", lambda: bool(c.inbox_b.events), 10.0)
    assert [(e.kind, e.payload) for e in c.inbox_b.events] == [
        ("refresh", {"reason": "reconnected"})
    ]  # nothing stale (the dropped timeline event) is replayed


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_redis_paused_is_noticed_and_calls_stay_bounded(consoles, redis_server):
    c = consoles
    redis_server.pause()
    try:
        began = time.monotonic()
        with pytest.raises(BusUnavailable, match="no answer"):
            await c.a.acquire_lock("ops/api", "alex", 30, 0)
        assert time.monotonic() - began < 6.0  # timeout 1 s (+ one quick retry); unbounded hangs
        # an idle reader notices too: its PING goes unanswered
        await wait_for("a notices", lambda: not c.a.connected, 1.0 + 0.5 + 1.0 + 1.0)
        assert "no answer" in c.a.last_error
    finally:
        redis_server.resume()
    await wait_for("a is back", lambda: c.a.connected, 5.0)
    await wait_for("a resynced", lambda: c.inbox_a.resyncs >= 1, 10.0)


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_started_while_redis_is_down_it_connects_once_redis_is_up(redis_url, redis_server):
    await asyncio.to_thread(redis_server.stop)
    bus = fast_bus(redis_url, "late", "test-" + uuid.uuid4().hex[:8])
    inbox = Inbox(bus)
    try:
        began = time.monotonic()
        await bus.start()  # does not raise, does not hang
        assert time.monotonic() - began < 5.0
        assert not bus.connected and redis_server.host_port in bus.last_error
        await asyncio.to_thread(redis_server.start)
        await wait_for("connected", lambda: bus.connected, 5.0)
        assert inbox.resyncs == 1 and bus.last_error == ""
    finally:
        await bus.close()


async def test_a_missing_password_reference_is_reported_not_raised(monkeypatch):
    monkeypatch.delenv("ONCALL_TEST_BUS_PASSWORD", raising=False)
    bus = RedisBus(
        "redis://127.0.0.1:1/0",
        console="c",
        password_env="ONCALL_TEST_BUS_PASSWORD",
        timeout=0.5,
    )
    try:
        await bus.start()
        assert not bus.connected
        assert "ONCALL_TEST_BUS_PASSWORD is not set" in bus.last_error
        with pytest.raises(BusUnavailable, match="ONCALL_TEST_BUS_PASSWORD"):
            await bus.acquire_lock("k", "h", 1, 0)
        assert await bus.publish(bus.event("refresh")) is False
    finally:
        await bus.close()


# --- the runner takes the bus as its locks ----------------------------------------------------


class Ops(Backend):
    TYPE = "ops"
    CAPABILITIES = frozenset({Capability.ACTIONS})

    def __init__(self) -> None:
        super().__init__("ops", NoParams(), BackendContext(executor=ThreadPoolExecutor(1)))
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    def actions(self) -> list[ActionSpec]:
        return [
            ActionSpec(
                "restart", "Restart", (ParamSpec("service", "name"),), target_param="service"
            )
        ]

    async def preview(self, request: ActionRequest) -> str:
        return f"restart {request.params['service']}"

    async def run(self, request: ActionRequest) -> ActionResult:
        self.started.set()
        await self.gate.wait()
        return ActionResult(request, Outcome.SUCCEEDED, "done")


def runner(backend: Ops, bus: Bus, console: str) -> ActionRunner:
    return ActionRunner(
        {"ops": backend},
        MemoryAuditLog(console),
        operator="alex",
        read_only=False,
        clock=time.time,
        locks=bus,
        console=console,
        timeout=5,
    )


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_two_runners_on_the_redis_bus_one_runs_the_other_is_told_who(consoles):
    first, second = Ops(), Ops()
    a, b = runner(first, consoles.a, "bastion-1"), runner(second, consoles.b, "bastion-2")
    request = ActionRequest("ops", "restart", {"service": "api"})
    running = asyncio.create_task(a.execute(await a.prepare(request), "y"))
    await first.started.wait()
    refused = await b.execute(await b.prepare(request), "y")
    assert refused.outcome is Outcome.REFUSED
    assert refused.message == "api is locked by alex on bastion-1 (ops.restart)"
    first.gate.set()
    assert (await running).outcome is Outcome.SUCCEEDED
    second.gate.set()
    assert (await b.execute(await b.prepare(request), "y")).outcome is Outcome.SUCCEEDED


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_no_lock_service_no_action(consoles, redis_server):
    backend = Ops()
    backend.gate.set()
    r = runner(backend, consoles.a, "bastion-1")
    prepared = await r.prepare(ActionRequest("ops", "restart", {"service": "api"}))
    await asyncio.to_thread(redis_server.stop)
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.REFUSED and not backend.started.is_set()
    assert result.message.startswith("cannot take the lock, nothing was done: the Redis bus")
