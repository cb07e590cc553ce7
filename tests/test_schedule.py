"""The checks' schedule: one task for all checks, batches for a batched backend, the
loop's rules kept (slots, no overlap, wake-ups, the sharing gate)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.engine.poller import Poller
from oncall_console.engine.schedule import Schedule
from oncall_console.engine.state import new_check_state
from oncall_console.model import CheckResult, CheckSpec, Status

Deliver = Callable[[int, CheckResult | BaseException], None]


class Batched(Backend):
    """A backend that takes its checks in batches and answers each at once (or fails)."""

    TYPE = "batched"
    CAPABILITIES = frozenset({Capability.HEALTH})

    def __init__(self) -> None:
        super().__init__("fake", NoParams(), BackendContext(executor=ThreadPoolExecutor(1)))
        self.batches: list[list[str]] = []
        self.fail = False

    def probes_in_batches(self, checks: int) -> bool:
        return True

    async def probe(self, check: CheckSpec) -> CheckResult:  # re-probes; not used here
        raise AssertionError("a batched backend's scheduled probes go in batches")

    async def probe_batch(self, checks: Sequence[CheckSpec], deliver: Deliver) -> None:
        self.batches.append([c.name for c in checks])
        if self.fail:
            raise RuntimeError("the worker fell over")
        for i, c in enumerate(checks):
            deliver(i, CheckResult(c.name, Status.OK, "fine", 1.0, at=100.0))

    def calls(self, name: str) -> int:
        return sum(batch.count(name) for batch in self.batches)


def poller(backend: Backend, count: int, interval: float = 3600.0) -> Poller:
    checks = {
        f"c{i}": new_check_state(
            CheckSpec(name=f"c{i}", backend="fake", interval=interval, timeout=1.0), 5
        )
        for i in range(count)
    }
    return Poller({"fake": backend}, checks, {}, {}, concurrency=8, clock=lambda: 100.0)


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def test_a_thousand_checks_wait_in_one_task_and_go_out_in_one_batch():
    # A task per check was 1,470 bytes and ~17 objects the collector walked at every
    # young pass, for each of 10,000 checks (#14, point 3).
    b = Batched()
    p = poller(b, 1000)

    def polling() -> list[str]:
        return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name()[:4] == "poll")

    p.start()
    try:
        await wait_for(lambda: all(s.last is not None for s in p.checks.values()))
        await wait_for(lambda: len(polling()) == 1)  # the batch's task has ended
        assert polling() == ["poll checks"]
        assert len(b.batches) == 1 and len(b.batches[0]) == 1000
    finally:
        await p.stop()
    assert not p.running and polling() == []


async def test_a_batch_that_raises_marks_its_checks_down_and_they_poll_again():
    b = Batched()
    b.fail = True
    p = poller(b, 3, interval=0.05)
    p.start()
    try:
        await wait_for(lambda: all(b.calls(n) >= 3 for n in p.checks))
        last = p.checks["c0"].last
        assert last is not None and last.status is Status.DOWN
        assert last.summary == "the worker fell over"
    finally:
        await p.stop()


async def test_the_gate_holds_checks_back_and_a_wake_up_still_probes_one():
    b = Batched()
    p = poller(b, 3, interval=0.02)
    p.gate = lambda: False  # another console of the team probes them
    p.start()
    try:
        await asyncio.sleep(0.1)  # five intervals: none may be probed
        assert b.batches == []
        p.wake_check("c1")
        await wait_for(lambda: b.calls("c1") == 1)
        await asyncio.sleep(0.1)
        assert [b.calls(n) for n in ("c0", "c1", "c2")] == [0, 1, 0]
    finally:
        await p.stop()


async def test_a_seeded_check_waits_out_its_interval_unless_woken():
    b = Batched()
    p = poller(b, 2)
    p.checks["c0"].record(CheckResult("c0", Status.OK, "from the first poll", at=100.0))
    p.start()
    try:
        await wait_for(lambda: b.calls("c1") == 1)
        assert b.calls("c0") == 0
        p.wake_all()
        await wait_for(lambda: b.calls("c0") == 1)
    finally:
        await p.stop()


async def test_slots_are_at_least_half_an_interval_after_the_last_start():
    launched: list[list[int]] = []
    schedule = Schedule(["a"], [10.0], launched.append)
    schedule.plan(0, phase=0.0, first=0.0)
    runner = asyncio.create_task(schedule.run())
    try:
        await wait_for(lambda: launched == [[0]])
        schedule.done(0)
        due = schedule._due[0]
        started = schedule._started[0]
        # the next slot of phase 0: a multiple of 10 s, at least 5 s after the start
        assert due % 10.0 == 0.0 and due - started >= 5.0 and due - started < 15.0
        assert not schedule.wake("a") or launched == [[0]]  # woken: due now
        await wait_for(lambda: launched == [[0], [0]])
        assert schedule.wake("a") is False  # out: a wake-up does nothing
        assert schedule.wake("nobody") is False
        assert math.isnan(schedule._due[0])
    finally:
        runner.cancel()
