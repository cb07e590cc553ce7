"""Response times, the escalation matrix, and what is due now. Pure: no IO, no clock.

Defaults come from the teams' documents (../shared/seeds). Where they disagree we take
the tighter figure:

- response time (acknowledge within): SEV1 15 min (every document); SEV2 30 min (one
  says 30 min, two say 1 hour, and one escalates SEV2 to the tech lead after 30 min);
  SEV3 4 h (two say 4 h, one 2 h: see ``response_minutes`` to tighten it); SEV4 24 h.
- escalation matrix, by time since the incident was opened: 0-15 min the primary
  on-call responds, 15-30 min the secondary is engaged, 30-60 min the engineering lead,
  60 min and later the VP / head of engineering. It applies to SEV1 and SEV2 (the
  documents route SEV3 to the on-call only and do not escalate SEV4).
- status updates: SEV1 every 30 min (the update template's "next update in 30 minutes"),
  SEV2 hourly (the documents' "hourly status updates for SEV1/SEV2"), SEV3 every 4 h,
  SEV4 daily.

Escalation advances while the incident is investigating or identified; once it is
monitoring or resolved there is no next step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from oncall_console.model import IncidentStatus, Severity

MINUTE = 60.0

DEFAULT_RESPONSE_MINUTES: dict[Severity, float] = {
    Severity.SEV1: 15,
    Severity.SEV2: 30,
    Severity.SEV3: 240,
    Severity.SEV4: 1440,
}
DEFAULT_UPDATE_MINUTES: dict[Severity, float] = {
    Severity.SEV1: 30,
    Severity.SEV2: 60,
    Severity.SEV3: 240,
    Severity.SEV4: 1440,
}


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_minutes: float
    """Minutes after the incident opened when this level is engaged."""
    who: str
    how: str = ""
    """How they are reached (PagerDuty, Slack + phone): shown, not acted on."""

    def describe(self) -> str:
        return f"{self.who} ({self.how})" if self.how else self.who


DEFAULT_ESCALATION: tuple[EscalationStep, ...] = (
    EscalationStep(0, "primary on-call", "PagerDuty"),
    EscalationStep(15, "secondary on-call", "PagerDuty"),
    EscalationStep(30, "engineering lead", "Slack + phone"),
    EscalationStep(60, "VP / head of engineering", "phone"),
)
DEFAULT_ESCALATE = frozenset({Severity.SEV1, Severity.SEV2})

_ESCALATING = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED)


class IncidentLike(Protocol):
    """An IncidentRecord from the store, or a model.Incident from a backend's feed
    (which has no acknowledged_at / resolved_at: read with getattr)."""

    @property
    def severity(self) -> Any: ...
    @property
    def status(self) -> Any: ...
    @property
    def opened_at(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Due:
    """Where one incident stands against the policy at ``now``."""

    now: float
    elapsed: float
    """Seconds since it opened (until it was resolved, for a resolved one)."""
    level: EscalationStep
    """Who should be engaged now."""
    level_index: int
    next_step: EscalationStep | None
    """The next escalation, or None (top of the matrix, not escalating, or past it)."""
    next_at: float | None
    """When the next escalation is due (epoch seconds)."""
    response_due_at: float
    response_breached: bool
    """Not acknowledged within the response time (or acknowledged late)."""
    acknowledged: bool
    update_due_at: float | None
    """When the next status update is due; None once resolved."""

    @property
    def next_in(self) -> float | None:
        return None if self.next_at is None else self.next_at - self.now

    @property
    def update_overdue(self) -> bool:
        return self.update_due_at is not None and self.now > self.update_due_at


@dataclass(frozen=True)
class Policy:
    response_minutes: Mapping[Severity, float] = field(
        default_factory=lambda: dict(DEFAULT_RESPONSE_MINUTES)
    )
    update_minutes: Mapping[Severity, float] = field(
        default_factory=lambda: dict(DEFAULT_UPDATE_MINUTES)
    )
    escalation: tuple[EscalationStep, ...] = DEFAULT_ESCALATION
    escalate: frozenset[Severity] = DEFAULT_ESCALATE
    """Severities the escalation matrix applies to; the others stay with the first level."""

    def __post_init__(self) -> None:
        if not self.escalation:
            raise ValueError("the escalation matrix needs at least one level")
        afters = [s.after_minutes for s in self.escalation]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise ValueError("escalation levels must have increasing after_minutes")

    @classmethod
    def from_config(cls, section: Any) -> Policy:
        """From the ``[incidents]`` config section (anything with its attributes).
        Severities a table leaves out keep their defaults; keys may be SEV1-4 or P1-4."""
        if section is None:
            return cls()
        escalation = tuple(
            EscalationStep(float(s.after_minutes), str(s.who), str(getattr(s, "how", "") or ""))
            for s in getattr(section, "escalation", None) or ()
        )
        escalate = getattr(section, "escalate", None)
        return cls(
            response_minutes=_by_severity(
                DEFAULT_RESPONSE_MINUTES, getattr(section, "response_minutes", None)
            ),
            update_minutes=_by_severity(
                DEFAULT_UPDATE_MINUTES, getattr(section, "update_minutes", None)
            ),
            escalation=tuple(sorted(escalation, key=lambda s: s.after_minutes))
            or DEFAULT_ESCALATION,
            escalate=DEFAULT_ESCALATE if escalate is None else _severities(escalate),
        )

    def response_seconds(self, severity: Severity | int) -> float:
        return float(self.response_minutes[Severity(int(severity))]) * MINUTE

    def update_seconds(self, severity: Severity | int) -> float:
        return float(self.update_minutes[Severity(int(severity))]) * MINUTE

    def level_at(self, elapsed: float) -> int:
        """Index of the escalation level engaged ``elapsed`` seconds after opening."""
        index = 0
        for n, step in enumerate(self.escalation):
            if elapsed >= step.after_minutes * MINUTE:
                index = n
        return index

    def due(self, incident: IncidentLike, now: float, last_update_at: float | None = None) -> Due:
        """Escalation level, next step and when, response time, next status update."""
        severity = Severity(int(incident.severity))
        status = _status(incident.status)
        opened = float(incident.opened_at)
        resolved_at = getattr(incident, "resolved_at", None)
        acked_at = getattr(incident, "acknowledged_at", None)
        end = resolved_at if status is IncidentStatus.RESOLVED and resolved_at else now
        elapsed = max(0.0, end - opened)
        escalates = severity in self.escalate
        index = self.level_at(elapsed) if escalates else 0
        level = self.escalation[index]
        next_step = None
        next_at = None
        if escalates and status in _ESCALATING and index + 1 < len(self.escalation):
            next_step = self.escalation[index + 1]
            next_at = opened + next_step.after_minutes * MINUTE
        response_due_at = opened + self.response_seconds(severity)
        if acked_at is not None:
            breached = acked_at > response_due_at
        elif status is IncidentStatus.RESOLVED:
            breached = (resolved_at or now) > response_due_at
        else:
            breached = now > response_due_at
        update_due_at = None
        if status is not IncidentStatus.RESOLVED:
            update_due_at = max(opened, last_update_at or opened) + self.update_seconds(severity)
        return Due(
            now=now,
            elapsed=elapsed,
            level=level,
            level_index=index,
            next_step=next_step,
            next_at=next_at,
            response_due_at=response_due_at,
            response_breached=breached,
            acknowledged=acked_at is not None,
            update_due_at=update_due_at,
        )

    def next_update_at(
        self, incident: IncidentLike, now: float, last_update_at: float | None = None
    ) -> float | None:
        """When the next status update is promised; from ``now`` when none was posted yet."""
        status = _status(incident.status)
        if status is IncidentStatus.RESOLVED:
            return None
        return (last_update_at or now) + self.update_seconds(Severity(int(incident.severity)))


def _status(value: Any) -> IncidentStatus:
    return value if isinstance(value, IncidentStatus) else IncidentStatus(str(value))


def parse_severity(value: Severity | int | str) -> Severity:
    """SEV1-SEV4, P1-P4 (any case), 1-4, or a Severity."""
    if isinstance(value, Severity):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Severity(value)
        except ValueError:
            raise ValueError(f"not a severity: {value!r} (use SEV1-SEV4 or P1-P4)") from None
    text = str(value).strip()
    if text.isdigit():
        return parse_severity(int(text))
    try:
        return Severity.parse(text)
    except ValueError:
        raise ValueError(f"not a severity: {text[:20]!r} (use SEV1-SEV4 or P1-P4)") from None


def _severities(values: Iterable[Any]) -> frozenset[Severity]:
    return frozenset(parse_severity(v) for v in values)


def _by_severity(
    defaults: Mapping[Severity, float], given: Mapping[Any, Any] | None
) -> dict[Severity, float]:
    out = dict(defaults)
    for key, minutes in (given or {}).items():
        value = float(minutes)
        if value <= 0:
            raise ValueError(f"{key}: minutes must be more than 0")
        out[parse_severity(key)] = value
    return out
