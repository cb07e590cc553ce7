"""Verification that watches: after an action, follow its target until it recovers.

One re-probe right after a rollback says "still DOWN, rolling out", which is true and
useless. A :class:`Watch` follows what the action is about (its check, the SLIs it
moves, the alerts about it) until all of them look well again or the action's
``watch_for`` deadline passes, then says so once: "recovered in 37 s" or "not
recovered after 5 min — next: …"; a recovery after a later action on the same things
names it ("…, 1s after cache.config-set ran"). The outcome goes to the audit trail (an entry of
kind ``verify`` chained after the action's result), to the incident's timeline when
the action ran in an incident's scope, and so to the handoff.

Pure judgement (:func:`judge`) is separate from the loop, so it is tested without time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from oncall_console.durations import format_age
from oncall_console.engine.state import CheckState, SliState
from oncall_console.model import Alert, AlertState, Status
from oncall_console.tasks import stop_tasks, within

WELL = (Status.OK, Status.DEGRADED)
"""A check or SLI that is OK or WARN has recovered; CRIT, DOWN, STALE or UNKNOWN has not."""

KEEP_DONE = 120.0
"""Seconds a finished watch stays on screen after it said how it ended."""


@dataclass(frozen=True)
class Watch:
    """One action being verified, as every screen shows it."""

    id: int
    action: str
    """``backend.action``, e.g. ``demo.rollback``."""
    target: str
    subject: str
    check: str
    slis: tuple[str, ...]
    alerts: tuple[str, ...]
    """Names of the alerts about the check when the action ran."""
    started: float
    deadline: float
    scope: str = ""
    audit_id: int = 0
    state: str = "watching"
    """watching | recovered | not recovered"""
    finished: float | None = None
    detail: str = ""
    """What is still wrong (while watching), or the outcome in words."""
    waiting_on: tuple[str, ...] = field(default=())

    def overlaps(self, other: Watch) -> bool:
        """Whether the two follow any of the same check, SLIs or alerts."""
        return bool(
            (self.check and self.check == other.check)
            or set(self.slis) & set(other.slis)
            or set(self.alerts) & set(other.alerts)
        )

    def recovered(self, now: float, later: Sequence[Watch] = ()) -> str:
        """The outcome in words, naming the latest of the ``later`` actions (run on the
        same things while this one was watched): "recovered in 1m, 1s after
        cache.config-set ran" (a snapshot did not free the memory)."""
        took = f"recovered in {format_age(max(1.0, now - self.started))}"
        if not later:
            return took
        action, at = later[-1].action, later[-1].started
        others = len({w.action for w in later[:-1]} - {action})
        more = f" (and {others} other action{'s' if others > 1 else ''})" if others else ""
        return f"{took}, {format_age(max(1.0, now - at))} after {action}{more} ran"

    @property
    def done(self) -> bool:
        return self.state != "watching"

    def line(self, now: float) -> str:
        """One line for a status bar, what matters first (a narrow terminal cuts the
        end): how it stands, then which action on what, then the details."""
        if self.done:
            mark = "✓" if self.state == "recovered" else "✗"
            return f"{mark} {self.detail} · {self.action} · {self.subject}"
        left = max(0.0, self.deadline - now)
        waiting = ", ".join(self.waiting_on) or "a fresh result"
        return (
            f"◷ verifying {format_age(now - self.started)} of {format_age(self.deadline - self.started)}"
            f" · {self.action} · {self.subject} · waiting on {waiting} ({format_age(left)} left)"
        )


def judge(
    check: CheckState | None,
    slis: Sequence[SliState],
    alerts: Sequence[Alert],
    names: Sequence[str],
    since: float,
    now: float,
) -> list[str]:
    """What is not yet well (empty: recovered). Only results newer than ``since`` count:
    a check must have answered after the action ran."""
    waiting: list[str] = []
    if check is not None:
        last = check.last
        if last is None or last.at < since:
            waiting.append(f"check {check.spec.label} (no result since the action)")
        elif check.status(now) not in WELL:
            waiting.append(f"check {check.spec.label} {check.status(now).label}")
    for sli in slis:
        status = sli.status(now)
        if sli.at is None or sli.at < since:
            waiting.append(f"SLI {sli.spec.label} (no reading since the action)")
        elif status not in WELL:
            waiting.append(f"SLI {sli.spec.label} {status.label}")
    firing = {a.name for a in alerts if a.state is not AlertState.RESOLVED}
    waiting += [f"alert {n} firing" for n in names if n in firing]
    return waiting


Record = Callable[[Watch], Awaitable[None]]


class Verifier:
    """The watches of this console: started after a successful action, judged on every
    change of state (and once a second), recorded once when they end."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        checks: Callable[[str], CheckState | None],
        slis: Callable[[Sequence[str]], list[SliState]],
        alerts: Callable[[], list[Alert]],
        record: Record,
        on_change: Callable[[], None],
    ) -> None:
        self.clock = clock
        self._check = checks
        self._slis = slis
        self._alerts = alerts
        self._record = record
        self._on_change = on_change
        self._ids = itertools.count(1)
        self.watches: dict[int, Watch] = {}
        self._task: asyncio.Task[None] | None = None
        self._ended: dict[int, asyncio.Event] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._judging = False

    def start(
        self,
        *,
        action: str,
        target: str,
        subject: str,
        check: str,
        slis: Sequence[str],
        alerts: Sequence[str],
        watch_for: float,
        scope: str = "",
        audit_id: int = 0,
    ) -> Watch:
        now = self.clock()
        watch = Watch(
            id=next(self._ids),
            action=action,
            target=target,
            subject=subject,
            check=check,
            slis=tuple(slis),
            alerts=tuple(alerts),
            started=now,
            deadline=now + watch_for,
            scope=scope,
            audit_id=audit_id,
        )
        self.watches[watch.id] = watch
        self._ended[watch.id] = asyncio.Event()
        self._on_change()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="verify")
        return watch

    def active(self, now: float | None = None) -> list[Watch]:
        """Watches going on, and those that ended less than two minutes ago."""
        now = self.clock() if now is None else now
        return [
            w
            for w in self.watches.values()
            if not w.done or (w.finished is not None and now - w.finished < KEEP_DONE)
        ]

    async def wait(self, watch_id: int) -> Watch:
        """Until the watch has ended (recovered or the deadline passed)."""
        await self._ended[watch_id].wait()
        return self.watches[watch_id]

    def judge_all(self) -> None:
        """Look at every watch going on; end those that recovered or ran out of time."""
        if self._judging or all(w.done for w in self.watches.values()):
            return
        self._judging = True
        try:
            self._judge_all()
        finally:
            self._judging = False

    def _judge_all(self) -> None:
        now = self.clock()
        alerts = None
        for watch in list(self.watches.values()):
            if watch.done:
                continue
            alerts = self._alerts() if alerts is None else alerts
            waiting = judge(
                self._check(watch.check),
                self._slis(watch.slis),
                alerts,
                watch.alerts,
                watch.started,
                now,
            )
            if not waiting:
                # Started after it, on the same things: while it was watched (it still is).
                later = [w for w in self.watches.values() if w.id > watch.id and w.overlaps(watch)]
                detail = watch.recovered(now, later)
                self._end(replace(watch, state="recovered", detail=detail), now)
            elif now >= watch.deadline:
                after = format_age(watch.deadline - watch.started)
                detail = f"not recovered after {after} ({'; '.join(waiting)})"
                self._end(replace(watch, state="not recovered", detail=detail), now)
            elif waiting != list(watch.waiting_on):
                self.watches[watch.id] = replace(watch, waiting_on=tuple(waiting))
                self._on_change()

    def _end(self, watch: Watch, now: float) -> None:
        watch = replace(watch, finished=now, waiting_on=())
        self.watches[watch.id] = watch
        self._ended[watch.id].set()
        self._on_change()
        task = asyncio.get_running_loop().create_task(self._safe_record(watch))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _safe_record(self, watch: Watch) -> None:
        with contextlib.suppress(Exception):  # the outcome is on screen even if not stored
            await self._record(watch)

    async def _loop(self) -> None:
        while any(not w.done for w in self.watches.values()):
            await asyncio.sleep(1.0)
            self.judge_all()

    async def stop(self) -> None:
        await stop_tasks([self._task])
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await within(task, 2)
