"""Health of one check: the status vocabulary and one probe's result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any, TypeVar

from oncall_console.secrets import needs_redaction, redact

_T = TypeVar("_T")


def by_fields(cls: type[_T]) -> type[_T]:
    """Pickled as the class and its fields in order, unpickled by calling the class: a
    frozen, slotted dataclass otherwise goes through ``_dataclass_setstate``, which
    looks its fields up again for every object (the first poll's records, issue #14)."""
    get = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, get(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    return cls


class Status(enum.Enum):
    """How a thing is, worst last so that ``max`` picks the worst.

    DOWN means unreachable or failing: the probe could not get an answer, or the
    answer says the thing does not work. A thing that answers but is past a
    threshold is CRITICAL (past the critical one) or DEGRADED (shown WARN: past the
    warning one, or short of its target). The words and glyphs tell them apart
    without colour (NO_COLOR, 16 colours).
    """

    OK = "ok"
    DEGRADED = "degraded"
    STALE = "stale"
    UNKNOWN = "unknown"
    CRITICAL = "critical"
    DOWN = "down"

    _level: int
    """The rank, as a plain attribute (set below, from ``_RANK``)."""

    @property
    def rank(self) -> int:
        return self._level

    @property
    def glyph(self) -> str:
        """A glyph that still tells the status apart with no colour at all."""
        return _GLYPH[self]

    @property
    def label(self) -> str:
        return _LABEL[self]

    @classmethod
    def worst(cls, statuses: list[Status] | tuple[Status, ...]) -> Status:
        """The worst of ``statuses`` (the first of equals; UNKNOWN for none). A loop on
        a plain attribute, not ``max(key=...)`` through an enum-keyed dict: it runs once
        or twice a probe, 10,000 probes a cycle (0.95 -> 0.18 µs; #14)."""
        worst, top = cls.UNKNOWN, -1
        for status in statuses:
            if status._level > top:
                worst, top = status, status._level
        return worst


_RANK = {
    Status.OK: 0,
    Status.DEGRADED: 1,
    Status.STALE: 2,
    Status.UNKNOWN: 3,
    Status.CRITICAL: 4,
    Status.DOWN: 5,
}
for _status, _level in _RANK.items():
    _status._level = _level
del _status, _level

_GLYPH = {
    Status.OK: "✓",
    Status.DEGRADED: "▲",
    Status.STALE: "◷",
    Status.UNKNOWN: "?",
    Status.CRITICAL: "!",
    Status.DOWN: "✗",
}
_LABEL = {
    Status.OK: "OK",
    Status.DEGRADED: "WARN",
    Status.STALE: "STALE",
    Status.UNKNOWN: "UNKN",
    Status.CRITICAL: "CRIT",
    Status.DOWN: "DOWN",
}


@dataclass(frozen=True, slots=True)
class SubStatus:
    """One dependency inside a health body, e.g. ``database: healthy``."""

    name: str
    status: Status
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DetailTable:
    """Rows for a detail view, e.g. the long-running queries or the pods of a deployment.

    Every cell is remote text: already sanitised, shown as plain text.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...] = ()


@by_fields
@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one probe of one check found."""

    check: str
    status: Status
    summary: str
    latency_ms: float | None = None
    at: float = 0.0
    """Wall-clock time (epoch seconds) the probe finished."""
    details: dict[str, str] = field(default_factory=dict)
    """Extra facts shown in the detail view (plain text, already sanitised)."""
    substatuses: tuple[SubStatus, ...] = ()
    error: str | None = None
    tables: tuple[DetailTable, ...] = ()
    """Structured detail (long queries, pods, queues) for the detail view."""


def redacted(result: CheckResult, secrets: tuple[str, ...] = ()) -> CheckResult:
    """Every remote line of a probe's result redacted, in one place: the summary, the
    error, each detail, each dependency line and each table cell (the summary was, the
    per-dependency line was not: ``saw Bearer s3cr3t…`` reached the JSON and the detail
    view). Returns the same object when nothing changed (history rings share it)."""
    texts = [result.summary, result.error or "", *result.details.values()]
    for sub in result.substatuses:
        texts += (sub.name, sub.detail)
    for table in result.tables:
        for row in table.rows:
            texts += row
    if not needs_redaction(texts, secrets):
        return result  # nothing secret-like anywhere: the common case, one search

    def r(text: str) -> str:
        return redact(text, *secrets)

    summary = r(result.summary)
    error = r(result.error) if result.error else result.error
    details = {k: r(v) for k, v in result.details.items()}
    subs = tuple(replace(s, name=r(s.name), detail=r(s.detail)) for s in result.substatuses)
    tables = tuple(
        replace(t, rows=tuple(tuple(r(cell) for cell in row) for row in t.rows))
        for t in result.tables
    )
    if (
        summary == result.summary
        and error == result.error
        and details == result.details
        and subs == result.substatuses
        and tables == result.tables
    ):
        return result
    return replace(
        result, summary=summary, error=error, details=details, substatuses=subs, tables=tables
    )
