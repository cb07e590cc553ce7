"""A backend's checks probed as one batch (``Backend.probe_batch``), recorded one by one.

The poller hands a backend that asks for it (``probes_in_batches``: the ``http`` backend
with many checks, whose probes then run in a worker process) all its checks at once,
for a cycle (``poll_once``) or for one scheduled probe (sends are coalesced by the
backend). Each result is then treated exactly as ``Poller.probe_check`` treats one:
an exception becomes a DOWN result with ``describe()``, every line is redacted with the
backend's secrets, then ``state.record``, ``on_result``, ``on_change``. Each check keeps
its own timeout, from when its request goes out (the backend bounds each exchange, as
the poller's semaphore-then-timeout does in the console); here a timer per distinct
timeout value, plus :data:`QUEUE_GRACE`, is the backstop for a backend that never answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from oncall_console.backends.base import Backend
from oncall_console.engine.state import CheckState
from oncall_console.errors import describe
from oncall_console.model import CheckResult, Status
from oncall_console.model.health import redacted

QUEUE_GRACE = 10.0
"""Seconds a batched check may wait in the backend's queue on top of its own timeout
before the console gives up on it. The timeout bounds the exchange, not the queue: with
10,000 checks every probe is asked for at start-up, the worker's queue took ~1.5 s to
drain, and counting it marked hundreds of healthy checks "timed out after 2 s"."""


async def probe_batch(
    backend: Backend,
    states: Sequence[CheckState],
    clock: Callable[[], float],
    on_result: Callable[[CheckResult], None],
    on_change: Callable[[], None],
    done: Callable[[int], None] = lambda _i: None,
) -> None:
    """Probe ``states`` through ``backend.probe_batch``; return when each has a result.
    ``done(i)`` is called as ``states[i]``'s result is recorded (the schedule's cue)."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    secrets = backend.secrets()
    pending = dict(enumerate(states))
    all_done: asyncio.Future[None] = loop.create_future()

    def deliver(i: int, outcome: CheckResult | BaseException) -> None:
        state = pending.pop(i, None)
        if state is None:
            return  # timed out already, or delivered twice
        record(state, outcome, started, secrets, clock, on_result, on_change)
        done(i)
        if not pending and not all_done.done():
            all_done.set_result(None)

    def expire(indexes: list[int]) -> None:
        for i in indexes:
            if i in pending:
                deliver(i, TimeoutError())

    by_timeout: dict[float, list[int]] = {}
    for i, state in pending.items():
        state.in_flight = True
        by_timeout.setdefault(state.spec.timeout, []).append(i)
    timers = [loop.call_later(t + QUEUE_GRACE, expire, idx) for t, idx in by_timeout.items()]
    task = loop.create_task(backend.probe_batch([s.spec for s in states], deliver))
    try:
        await asyncio.wait((task, all_done), return_when=asyncio.FIRST_COMPLETED)
        if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            for i in list(pending):
                deliver(i, exc)
        if pending:
            await all_done  # the rest arrive, or their timers say they timed out
    finally:
        for timer in timers:
            timer.cancel()
        if not task.done():
            task.cancel()
        for state in pending.values():
            state.in_flight = False


async def probe_one(
    backend: Backend,
    state: CheckState,
    clock: Callable[[], float],
    on_result: Callable[[CheckResult], None],
    on_change: Callable[[], None],
) -> CheckResult:
    """One check through ``backend.probe_batch`` (a scheduled probe, a re-probe): the
    backend coalesces the sends of one loop tick. Returns the recorded result."""
    spec = state.spec
    started = time.perf_counter()
    arrived: asyncio.Future[CheckResult | BaseException] = (
        asyncio.get_running_loop().create_future()
    )

    def deliver(_i: int, outcome: CheckResult | BaseException) -> None:
        if not arrived.done():
            arrived.set_result(outcome)

    state.in_flight = True
    try:
        async with asyncio.timeout(spec.timeout + QUEUE_GRACE):  # the backstop (above)
            await backend.probe_batch((spec,), deliver)
            outcome = await arrived
    except asyncio.CancelledError:
        state.in_flight = False
        raise
    except Exception as exc:  # TimeoutError included: "timed out after N s"
        outcome = exc
    return record(state, outcome, started, backend.secrets(), clock, on_result, on_change)


def record(
    state: CheckState,
    outcome: CheckResult | BaseException,
    started: float,
    secrets: tuple[str, ...],
    clock: Callable[[], float],
    on_result: Callable[[CheckResult], None],
    on_change: Callable[[], None],
) -> CheckResult:
    """What ``Poller.probe_check`` does with a probe's outcome, for a batched one."""
    state.in_flight = False
    if isinstance(outcome, BaseException):
        spec = state.spec
        outcome = CheckResult(
            check=spec.name,
            status=Status.DOWN,
            summary=describe(outcome, spec.timeout),
            latency_ms=(time.perf_counter() - started) * 1000,
            at=clock(),
            error=describe(outcome, spec.timeout),
        )
    result = redacted(outcome, secrets)
    state.record(result)
    on_result(result)
    on_change()
    return result
