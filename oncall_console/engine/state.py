"""What the engine knows right now: bounded histories and the status they imply."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from oncall_console.engine.changes import ChangeLog
from oncall_console.engine.ring import ResultRing
from oncall_console.model import CheckResult, CheckSpec, SliReading, SliSpec, Status

if TYPE_CHECKING:  # the alerts' model: not imported for the first frame (issue #14)
    from oncall_console.model import Alert, Incident, Silence


@dataclass(slots=True)
class CheckState:
    """One check: its recent results (a ring buffer) and when it was last good.

    ``history`` is a compact ``ResultRing`` (engine/ring.py); a ``deque(maxlen=n)`` given
    here becomes one of ``n`` (its results kept). ``last`` is the newest result itself.
    """

    spec: CheckSpec
    history: ResultRing
    last: CheckResult | None = None
    last_ok_at: float | None = None
    in_flight: bool = False
    version: int = 0
    changes: ChangeLog | None = None
    """Told of every result (the engine's one log: readers look at what changed)."""

    def __post_init__(self) -> None:
        if isinstance(self.history, deque):
            old: deque[CheckResult] = self.history
            self.history = ResultRing(old.maxlen or max(1, len(old)), old)

    def record(self, result: CheckResult) -> None:
        if self.last is not None:
            result = _share(self.last, result)
        self.history.append(result)
        self.last = result
        if result.status in (Status.OK, Status.DEGRADED):
            self.last_ok_at = result.at
        self.version += 1
        if self.changes is not None:
            self.changes.note(self.spec.name)

    def status(self, now: float) -> Status:
        """The last result's status, or STALE when it is older than two intervals."""
        if self.last is None:
            return Status.UNKNOWN
        if now - self.last.at > 2 * self.spec.interval:
            return Status.STALE
        return self.last.status

    def age(self, now: float) -> float | None:
        return None if self.last is None else max(0.0, now - self.last.at)


def _share(prev: CheckResult, new: CheckResult) -> CheckResult:
    """``new``, its parts that equal ``prev``'s pointing at prev's objects. A steady check
    then costs one small object per probe in the history ring, not a fresh details dict
    and strings (1,000 HTTP checks: RSS 130 MB -> 78 MB once the rings are full)."""
    details = prev.details if new.details == prev.details else new.details
    summary = prev.summary if new.summary == prev.summary else new.summary
    subs = prev.substatuses if new.substatuses == prev.substatuses else new.substatuses
    if details is new.details and summary is new.summary and subs is new.substatuses:
        return new
    return replace(new, details=details, summary=summary, substatuses=subs)


@dataclass
class SliState:
    """One SLI: the latest reading per series and a history of values per series."""

    spec: SliSpec
    history_size: int
    readings: dict[str, SliReading] = field(default_factory=dict)
    history: dict[str, deque[float]] = field(default_factory=dict)
    error: str | None = None
    at: float | None = None
    version: int = 0

    def record(self, readings: list[SliReading], at: float) -> None:
        self.error = None
        self.at = at
        seen = set()
        for r in readings:
            seen.add(r.series)
            self.readings[r.series] = r
            h = self.history.setdefault(r.series, deque(maxlen=self.history_size))
            if r.history:
                h.clear()
                h.extend(r.history[-self.history_size :])
            elif r.value is not None:
                h.append(r.value)
        for gone in set(self.readings) - seen:
            del self.readings[gone]
            self.history.pop(gone, None)
        self.version += 1

    def fail(self, error: str, at: float) -> None:
        self.error = error
        self.at = at
        self.version += 1

    def status(self, now: float) -> Status:
        if self.error is not None:
            return Status.DOWN
        if self.at is None:
            return Status.UNKNOWN
        if now - self.at > 2 * self.spec.interval:
            return Status.STALE
        return (
            Status.worst([r.status for r in self.readings.values()])
            if self.readings
            else Status.UNKNOWN
        )


@dataclass
class FeedState:
    """Alerts or incidents from one source backend."""

    source: str
    interval: float
    timeout: float = 5.0
    """Bound on one fetch: a hung source is "down" after this, not after an interval."""
    alerts: list[Alert] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)
    error: str | None = None
    at: float | None = None
    version: int = 0


def new_check_state(spec: CheckSpec, history: int, changes: ChangeLog | None = None) -> CheckState:
    return CheckState(spec=spec, history=ResultRing(history), changes=changes)
