"""The poller: own interval per check, no overlap, bounded concurrency, timeouts, staleness."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.engine.poller import Poller
from oncall_console.engine.state import SliState, new_check_state
from oncall_console.model import CheckResult, CheckSpec, SliReading, SliSpec, Status, Thresholds


class Scripted(Backend):
    """A backend whose probes do what the test says: answer, hang, or raise."""

    TYPE = "scripted"
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.SLI})

    def __init__(self) -> None:
        super().__init__("fake", NoParams(), BackendContext(executor=ThreadPoolExecutor(1)))
        self.behaviour: dict[str, str] = {}
        self.running: dict[str, int] = {}
        self.max_running: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.peak = 0
        self.release = asyncio.Event()

    async def probe(self, check: CheckSpec) -> CheckResult:
        name = check.name
        self.calls[name] = self.calls.get(name, 0) + 1
        self.running[name] = self.running.get(name, 0) + 1
        self.max_running[name] = max(self.max_running.get(name, 0), self.running[name])
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            how = self.behaviour.get(name, "ok")
            if how == "hang":
                await asyncio.Event().wait()
            if how == "gate":
                await self.release.wait()
            if how == "boom":
                raise ConnectionRefusedError("[Errno 111] Connection refused \x1b[31m[bold]x[/]")
            return CheckResult(name, Status.OK, "fine", 1.0, at=self.context.clock())
        finally:
            self.running[name] -= 1
            self.in_flight -= 1

    async def query_sli(self, sli: SliSpec) -> list[SliReading]:
        if self.behaviour.get(sli.name) == "boom":
            raise RuntimeError("prometheus unreachable")
        return [SliReading(sli.name, 0.5, "%", sli.thresholds, at=1.0)]


def spec(name: str, interval: float = 0.05, timeout: float = 0.2) -> CheckSpec:
    return CheckSpec(name=name, backend="fake", interval=interval, timeout=timeout)


def make(backend: Scripted, *names: str, concurrency: int = 10, **kw: float) -> Poller:
    checks = {n: new_check_state(spec(n, **kw), 10) for n in names}
    return Poller({"fake": backend}, checks, {}, {}, concurrency=concurrency, clock=lambda: 100.0)


async def wait_for(condition, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_a_hanging_probe_is_down_with_a_timeout_and_others_keep_polling():
    b = Scripted()
    b.behaviour["stuck"] = "hang"
    poller = make(b, "stuck", "fine", timeout=0.1)
    poller.start()
    try:
        await wait_for(
            lambda: b.calls.get("fine", 0) >= 5 and poller.checks["stuck"].last is not None
        )
        stuck = poller.checks["stuck"].last
        assert stuck.status is Status.DOWN
        assert stuck.summary == "timed out after 0.1 s"
    finally:
        await poller.stop()


async def test_polls_of_one_check_never_overlap():
    b = Scripted()
    b.behaviour["slow"] = "gate"
    poller = make(b, "slow", interval=0.001)
    poller.start()
    try:
        await wait_for(lambda: b.calls.get("slow", 0) == 1)
        poller.wake_all()
        await asyncio.sleep(0)  # let any (wrong) second probe start
        b.release.set()
        await wait_for(lambda: b.calls.get("slow", 0) >= 3)
        assert b.max_running["slow"] == 1
    finally:
        await poller.stop()


async def test_r_ends_the_wait_for_the_next_slot_and_the_loop_sleeps_again():
    b = Scripted()
    poller = make(b, "a", "b", interval=3600)
    poller.start()
    try:
        await wait_for(lambda: b.calls.get("a") == 1 and b.calls.get("b") == 1)
        poller.wake_check("a")  # an hour early, this one only
        await wait_for(lambda: b.calls["a"] == 2)
        poller.wake_all()
        await wait_for(lambda: b.calls["a"] == 3 and b.calls["b"] == 2)
        for _ in range(10):  # a wake-up left set would probe again within a few ticks
            await asyncio.sleep(0)
        assert (b.calls["a"], b.calls["b"]) == (3, 2)  # each waits its hour again
    finally:
        await poller.stop()
    assert not poller.running


async def test_concurrency_is_bounded_across_checks():
    b = Scripted()
    names = [f"c{i}" for i in range(20)]
    for n in names:
        b.behaviour[n] = "gate"
    poller = make(b, *names, concurrency=3)
    poller.start()
    try:
        await wait_for(lambda: b.in_flight == 3)
        await asyncio.sleep(0.01)
        assert b.peak == 3
        b.release.set()
        await wait_for(lambda: all(b.calls.get(n, 0) >= 1 for n in names))
        assert b.peak == 3
    finally:
        await poller.stop()


async def test_stop_ends_loops_even_when_a_probe_swallowed_the_cancel():
    # Quitting with 1,000 HTTP checks hung: cancels landing in in-flight probes were
    # swallowed and those loops polled on. Here a probe answers instead of stopping.
    b = Scripted()
    b.behaviour["api"] = "hang"  # so that the cancel lands inside the probe
    poller = make(b, "api", "db", interval=0.001)
    answer = poller._guarded

    async def deaf(call, timeout):  # type: ignore[no-untyped-def]
        try:
            return await answer(call, timeout)
        except asyncio.CancelledError:
            return CheckResult("api", Status.OK, "answered anyway", 1.0, at=100.0)

    poller._guarded = deaf  # type: ignore[method-assign]
    poller.start()
    await wait_for(lambda: b.running.get("api", 0) == 1 and b.calls.get("db", 0) >= 3)
    await asyncio.wait_for(poller.stop(), 3)
    calls = dict(b.calls)
    await asyncio.sleep(0.05)
    assert b.calls == calls and not poller.running


async def test_an_exception_becomes_one_clean_line():
    b = Scripted()
    b.behaviour["db"] = "boom"
    poller = make(b, "db")
    result = await poller.probe_check(poller.checks["db"])
    assert result.status is Status.DOWN
    assert "\x1b" not in result.summary
    assert result.summary.startswith("[Errno 111] Connection refused")


def test_a_result_older_than_two_intervals_is_stale_and_none_is_unknown():
    state = new_check_state(spec("api", interval=10), 5)
    assert state.status(0) is Status.UNKNOWN
    state.record(CheckResult("api", Status.OK, "fine", at=100.0))
    assert state.status(119.0) is Status.OK
    assert state.status(121.0) is Status.STALE
    assert state.age(121.0) == 21.0


def test_history_is_a_bounded_ring():
    state = new_check_state(spec("api"), 5)
    for i in range(50):
        state.record(CheckResult("api", Status.OK, str(i), at=float(i)))
    assert len(state.history) == 5
    assert [r.summary for r in state.history] == ["45", "46", "47", "48", "49"]


async def test_a_failing_sli_is_down_with_its_error_and_recovers():
    b = Scripted()
    sli = SliSpec("errors", "fake", "%", Thresholds(0.1, 0.5, 1.0), interval=1, timeout=1)
    state = SliState(spec=sli, history_size=5)
    poller = Poller({"fake": b}, {}, {"errors": state}, {}, concurrency=2, clock=lambda: 10.0)
    b.behaviour["errors"] = "boom"
    await poller.poll_sli(state)
    assert state.status(10.0) is Status.DOWN and state.error == "prometheus unreachable"
    b.behaviour["errors"] = "ok"
    await poller.poll_sli(state)
    assert state.status(10.0) is Status.DEGRADED
    assert list(state.history[""]) == [0.5]
