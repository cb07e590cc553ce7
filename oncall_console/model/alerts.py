"""Alerts and incidents as the engineer sees them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """SEV1 is the worst. P1-P4 are accepted as aliases."""

    SEV1 = 1
    SEV2 = 2
    SEV3 = 3
    SEV4 = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        t = text.strip().upper()
        for prefix in ("SEV", "P"):
            if t.startswith(prefix) and t[len(prefix) :].isdigit():
                return cls(int(t[len(prefix) :]))
        raise ValueError(f"not a severity: {text!r} (use SEV1-SEV4 or P1-P4)")

    @property
    def label(self) -> str:
        return self.name


class AlertState(enum.Enum):
    ACTIVE = "active"
    SUPPRESSED = "suppressed"
    INHIBITED = "inhibited"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, from Alertmanager or any other source. All text is remote data."""

    fingerprint: str
    name: str
    severity: Severity
    summary: str
    state: AlertState = AlertState.ACTIVE
    starts_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    source: str = ""
    runbook_url: str = ""
    group: str = ""
    """The values of the configured grouping labels, e.g. ``alertname=HighErrorRate``."""


@dataclass(frozen=True, slots=True)
class Silence:
    """An Alertmanager silence: who muted what, until when, and why."""

    id: str
    matchers: tuple[str, ...]
    """Each as written by people: ``alertname="HighErrorRate"``, ``service=~"api|web"``."""
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    state: str = "active"
    source: str = ""


class IncidentStatus(enum.Enum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: float
    kind: str
    text: str
    operator: str = ""


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    severity: Severity
    status: IncidentStatus
    opened_at: float
    commander: str = ""
    alerts: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
