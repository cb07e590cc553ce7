"""The asyncio poller: every check on its own interval, never overlapping itself.

Each check polls, records, then waits for its next slot, so a slow probe delays only
its own next poll. Slots are spread over the interval (each check, SLI and feed has its
own phase), so 1,000 checks at 5 s are 200 probes a second rather than 1,000 at once
every 5 s, which kept the event loop busy for a second and keys waited behind it (issue
#6, benchmark 3). The checks' slots are kept by one schedule (engine/schedule.py: one
task, not one per check); each SLI and feed has a loop of its own. A semaphore bounds
how many probes are in flight across everything but batched backends, which bound
their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from oncall_console.backends.base import Backend, Capability
from oncall_console.engine.batch import probe_batch, probe_one
from oncall_console.engine.schedule import Schedule, Wake, next_slot
from oncall_console.engine.state import CheckState, FeedState, SliState
from oncall_console.errors import describe
from oncall_console.model import CheckResult, Status
from oncall_console.model.health import redacted
from oncall_console.tasks import stop_tasks, within

T = TypeVar("T")


class Poller:
    def __init__(
        self,
        backends: dict[str, Backend],
        checks: dict[str, CheckState],
        slis: dict[str, SliState],
        feeds: dict[str, FeedState],
        *,
        concurrency: int,
        clock: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.backends = backends
        self.checks = checks
        self.slis = slis
        self.feeds = feeds
        self.clock = clock
        self.on_change = on_change
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._wake: dict[str, Wake] = {}  # the SLIs' and feeds' loops
        self._schedule: Schedule | None = None  # the checks'
        self._probing: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.cycles = 0
        self.gate: Callable[[], bool] = lambda: True
        """Probe checks on their intervals? False while another console of the team
        probes them (engine/sharing.py); a wake-up (``r``) still probes."""
        self.on_result: Callable[[CheckResult], None] = lambda _result: None
        """Called with each (redacted) result this console probed."""
        self._forced: set[str] = set()
        self._counts: dict[str, int] = {}
        for state in checks.values():
            name = state.spec.backend
            self._counts[name] = self._counts.get(name, 0) + 1

    def _batched(self, backend: Backend) -> bool:
        """Whether this backend's probes go through its batches (a probe worker)."""
        return backend.probes_in_batches(self._counts.get(backend.name, 0))

    async def _probe_batch(self, backend: Backend, states: list[CheckState]) -> None:
        await probe_batch(backend, states, self.clock, self.on_result, self.on_change)

    # --- one probe of each kind -----------------------------------------------------

    async def _guarded(self, call: Callable[[], Awaitable[T]], timeout: float) -> T:
        async with self._sem:
            return await within(call(), timeout)

    async def probe_check(self, state: CheckState) -> CheckResult:
        spec = state.spec
        backend = self.backends[spec.backend]
        if self._batched(backend):  # one check through the backend's batches (coalesced)
            return await probe_one(backend, state, self.clock, self.on_result, self.on_change)
        state.in_flight = True
        started = time.perf_counter()
        try:
            result = await self._guarded(lambda: backend.probe(spec), spec.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = CheckResult(
                check=spec.name,
                status=Status.DOWN,
                summary=describe(exc, spec.timeout),
                latency_ms=(time.perf_counter() - started) * 1000,
                at=self.clock(),
                error=describe(exc, spec.timeout),
            )
        finally:
            state.in_flight = False
        # Every remote line redacted once, here, for every backend (the JSON, the
        # detail view and the table all read this result).
        result = redacted(result, backend.secrets())
        state.record(result)
        self.on_result(result)
        self.on_change()
        return result  # redacted too: verification's before / after reads it

    async def poll_sli(self, state: SliState) -> None:
        spec = state.spec
        backend = self.backends[spec.backend]
        try:
            readings = await self._guarded(lambda: backend.query_sli(spec), spec.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            state.fail(describe(exc, spec.timeout), self.clock())
        else:
            state.record(readings, self.clock())
        self.on_change()

    async def poll_feed(self, feed: FeedState) -> None:
        backend = self.backends[feed.source]
        timeout = max(0.1, min(feed.interval, feed.timeout))
        try:
            if backend.can(Capability.ALERTS):
                feed.alerts = await self._guarded(backend.alerts, timeout)
            if backend.can(Capability.INCIDENTS):
                feed.incidents = await self._guarded(backend.incidents, timeout)
            if backend.can(Capability.SILENCES):
                feed.silences = await self._guarded(backend.silences, timeout)
            feed.error = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            feed.error = describe(exc, timeout)
        feed.at = self.clock()
        feed.version += 1
        self.on_change()

    async def poll_once(self) -> None:
        """Everything once, concurrently; for `status` and for a manual refresh. A backend
        that probes in batches gets all its checks at once."""
        groups: dict[str, list[CheckState]] = {}
        for state in self.checks.values():
            groups.setdefault(state.spec.backend, []).append(state)
        batched = {n for n in groups if self._batched(self.backends[n])}
        await asyncio.gather(
            *(self._probe_batch(self.backends[n], groups[n]) for n in batched),
            *(self.probe_check(s) for n, g in groups.items() if n not in batched for s in g),
            *(self.poll_sli(s) for s in self.slis.values()),
            *(self.poll_feed(f) for f in self.feeds.values()),
        )
        self.cycles += 1

    # --- the loops -------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        states = list(self.checks.values())
        loops: list[tuple[str, Callable[[], Awaitable[object]], float]] = [
            *(
                (f"sli:{k}", partial(self.poll_sli, s), s.spec.interval)
                for k, s in self.slis.items()
            ),
            *((f"feed:{k}", partial(self.poll_feed, f), f.interval) for k, f in self.feeds.items()),
        ]
        schedule = self._schedule = Schedule(
            [s.spec.name for s in states],
            [s.spec.interval for s in states],
            partial(self._launch, states),
        )
        epoch = time.monotonic()
        now = self.clock()
        total = len(states) + len(loops)
        for i, state in enumerate(states):
            # A check seeded by the first poll (engine/prefetch.py) has a fresh result:
            # its first probe here waits out the interval, so a start probes once.
            interval = state.spec.interval
            first = 0.0
            if state.last is not None:
                first = min(interval, max(0.0, interval - (now - state.last.at)))
            schedule.plan(i, epoch + interval * i / total, first)
        self._tasks.append(asyncio.create_task(schedule.run(), name="poll checks"))
        for j, (key, once, interval) in enumerate(loops, start=len(states)):
            self._spawn(key, once, interval, epoch + interval * j / total)

    def _launch(self, states: list[CheckState], due: list[int]) -> None:
        """Probe the checks ``due`` now (the schedule's indexes into ``states``): those
        of a batched backend as one batch, the others each on its own; each is
        rescheduled as its poll ends. A check the gate holds back (another console
        probes it) skips this slot."""
        schedule = self._schedule
        groups: dict[str, list[int]] = {}
        for i in due:
            spec = states[i].spec
            if self.gate() or spec.name in self._forced:
                self._forced.discard(spec.name)
                groups.setdefault(spec.backend, []).append(i)
            else:
                schedule.done(i)
        for name, indexes in groups.items():
            task = asyncio.create_task(
                self._probe_due(self.backends[name], states, indexes, schedule),
                name=f"poll {name} ({len(indexes)})",
            )
            self._probing.add(task)
            task.add_done_callback(self._probing.discard)

    async def _probe_due(
        self, backend: Backend, states: list[CheckState], due: list[int], schedule: Schedule
    ) -> None:
        ended: set[int] = set()

        def end(i: int) -> None:
            ended.add(i)
            schedule.done(i)

        try:
            if self._batched(backend):
                group = [states[i] for i in due]

                def ended_k(k: int) -> None:  # group[k] is states[due[k]]
                    end(due[k])

                await probe_batch(
                    backend, group, self.clock, self.on_result, self.on_change, ended_k
                )
            else:

                async def one(i: int) -> None:
                    try:
                        await self.probe_check(states[i])
                    finally:
                        end(i)

                await asyncio.gather(*(one(i) for i in due))
        finally:
            for i in due:  # whatever went wrong above, no check stops polling
                if i not in ended:
                    schedule.done(i)

    def _spawn(
        self,
        key: str,
        once: Callable[[], Awaitable[object]],
        interval: float,
        phase: float,
        first: float = 0.0,
    ) -> None:
        """Poll now (or after ``first`` seconds, unless woken), then at ``phase + k *
        interval`` (``next_slot``, as the checks' schedule)."""
        wake = self._wake[key] = Wake()

        async def loop() -> None:
            if first > 0:
                await wake.sleep(first)
            while not self._stopping:
                started = time.monotonic()
                await once()
                rest = next_slot(started, interval, phase) - time.monotonic()
                wake.clear()
                if rest > 0:
                    await wake.sleep(rest)

        self._tasks.append(asyncio.create_task(loop(), name=f"poll {key}"))

    def wake_all(self) -> None:
        """Poll everything now (each check still never overlaps itself)."""
        self._forced.update(self.checks)
        if self._schedule is not None:
            self._schedule.wake_all()
        for ev in self._wake.values():
            ev.set()

    def wake_check(self, name: str) -> None:
        """Poll this check now, unless its poll is out (as ``wake_all``)."""
        if self._schedule is not None and name in self.checks:
            self._forced.add(name)  # through the gate, now or (in flight) at its next slot
            self._schedule.wake(name)

    async def stop(self) -> None:
        """Cancel every loop and wait until they have all ended."""
        # A cancel that lands inside an in-flight probe can be swallowed (1,000 HTTP checks
        # on Python 3.11: the 64 in-flight loops polled on and a plain gather never
        # returned, so quitting hung). Each loop also checks _stopping; stragglers are
        # cancelled again.
        self._stopping = True
        if self._schedule is not None:
            self._schedule.stopped = True
            self._schedule = None
        pending: set[asyncio.Task[None]] = {*self._tasks, *self._probing}
        self._tasks.clear()
        await stop_tasks(pending, within=10)

    @property
    def running(self) -> bool:
        return bool(self._tasks)
