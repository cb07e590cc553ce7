"""When each check polls next: one heap and one task for all of them.

A task per check, sleeping between its polls, cost 1,470 bytes and ~17 objects for the
cyclic collector to walk at every young pass: at 10,000 checks that was ~15 MB and
~170,000 of the ~240,000 objects each pass walked, 95-210 ms that a key waited behind
(#14, point 3). Here a check's schedule is three floats in arrays and one entry in a
heap of ``(when, index)`` tuples, which the collector stops tracking; one task sleeps
until the earliest is due and hands everything due by then to ``launch`` at once (so a
batched backend gets one batch, not a coalesced send per check).

The rules are the loop's they replace (engine/poller.py): a check polls at ``phase + k *
interval``, the next slot at least half an interval after its last poll started, never
while its last poll is still out (it is rescheduled when that poll ends: ``done``); a
wake-up makes a waiting check due now, and does nothing to one in flight.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from array import array
from collections.abc import Callable, Sequence

SLACK = 0.005
"""Seconds early a check may be launched with others due at about the same time: at
10,000 checks on 5 s, a check is due every 0.5 ms; this takes ~10 of them a wake-up."""

_OUT = math.nan
"""A check's due time while its poll is out (or before the schedule starts)."""


class Schedule:
    """The due times of ``count`` checks, known by index; ``run`` launches them."""

    def __init__(
        self,
        names: Sequence[str],
        intervals: Sequence[float],
        launch: Callable[[list[int]], None],
    ) -> None:
        self._index = {name: i for i, name in enumerate(names)}
        self._interval = array("d", intervals)
        self._phase = array("d", bytes(8 * len(names)))
        self._started = array("d", bytes(8 * len(names)))
        self._due = array("d", [_OUT] * len(names))
        self._heap: list[tuple[float, int]] = []
        self._launch = launch
        self._until = -math.inf  # when the runner wakes up next (-inf: it is awake)
        self._kick = Wake()
        self.stopped = False

    def plan(self, i: int, phase: float, first: float) -> None:
        """Check ``i``'s slots are at ``phase + k * interval``; it polls in ``first``
        seconds (0: at once)."""
        self._phase[i] = phase
        self._push(i, time.monotonic() + first)

    def wake(self, name: str) -> bool:
        """Make a waiting check due now. False for one in flight (or not known)."""
        i = self._index.get(name)
        if i is None or math.isnan(self._due[i]):
            return False
        self._push(i, time.monotonic())
        return True

    def wake_all(self) -> None:
        now = time.monotonic()
        for i, due in enumerate(self._due):
            if not math.isnan(due):
                self._push(i, now)

    def done(self, i: int) -> None:
        """Check ``i``'s poll has ended (or was skipped): due at its next slot."""
        if self.stopped or not math.isnan(self._due[i]):
            return
        self._push(i, next_slot(self._started[i], self._interval[i], self._phase[i]))

    def _push(self, i: int, when: float) -> None:
        self._due[i] = when
        heapq.heappush(self._heap, (when, i))
        if when < self._until:
            self._kick.set()

    async def run(self) -> None:
        """Launch what is due, sleep until the next is, for ever (cancel to stop)."""
        heap, due_at, started = self._heap, self._due, self._started
        while not self.stopped:
            now = time.monotonic()
            due: list[int] = []
            while heap and heap[0][0] <= now + SLACK:
                when, i = heapq.heappop(heap)
                if due_at[i] == when:  # not an entry a wake-up or a later slot replaced
                    due_at[i] = _OUT
                    started[i] = now
                    due.append(i)
            if due:
                self._launch(due)
                continue  # launching took time: look again before sleeping
            self._until = heap[0][0] if heap else math.inf
            try:
                await self._kick.sleep(self._until - now if heap else None)
            finally:
                self._kick.clear()
                self._until = -math.inf  # awake: no push needs to kick


def next_slot(started: float, interval: float, phase: float) -> float:
    """A poll's next slot: the first ``phase + k * interval`` at least half an interval
    after it started (so a wake-up does not poll twice), or now if that has passed."""
    slots = math.ceil((started + interval / 2 - phase) / interval)
    return max(phase + slots * interval, time.monotonic())


class Wake:
    """A sleep that a wake-up ends: ``r`` (or a re-probe) for a loop, an earlier due
    check for the schedule. One sleeper at a time, so a future and a timer do, as
    asyncio.sleep does: an asyncio.Event (its deque alone is 760 bytes) under
    asyncio.timeout was twice the memory, and wait_for, on Python 3.11, wraps the wait in
    a task of its own (a tenth of the console's CPU at 10,000 checks, when each check had
    its own loop)."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        _done(self._waiter)

    def clear(self) -> None:
        self._set = False

    async def sleep(self, seconds: float | None) -> None:
        """Until set (or already set) or ``seconds`` have passed (None: until set)."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if seconds is None else loop.call_later(seconds, _done, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None


def _done(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
