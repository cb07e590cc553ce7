"""Incident records as the service reads and writes them (pure: no store, no IO).

The timeline's kinds and the limits on what is written, the lifecycle's rules (which
status changes are allowed), the alerts an incident's timeline links, and the plain
model (``model.Incident``) the views render.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from oncall_console.incidents import comms
from oncall_console.model import Alert, Incident, IncidentStatus, Severity, TimelineEntry
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.text import clean

# Timeline kinds written by the service (and the store's "declared").
DECLARED = "declared"
ALERT_FIRED = "alert fired"
ALERT_ATTACHED = "alert attached"
ALERT_RESOLVED = "alert resolved"
ACKNOWLEDGED = "acknowledged"
STATUS = "status"
RESOLVED = "resolved"
REOPENED = "reopened"
SEVERITY = "severity"
COMMANDER = "commander"
IMPACT = "impact"
RUNBOOK = "runbook"
NOTE = "note"
ACTION = "action"
VERIFY = "verify"
"""How an action's verification ended: recovered, or not within its deadline."""
STEP = "step"
COMMS = comms.COMMS_KIND

TITLE_LIMIT = 300
NOTE_LIMIT = 4000

_ORDER = [
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
]


class IncidentError(Exception):
    """One line for the operator: why this change was refused."""


def parse_status(value: IncidentStatus | str) -> IncidentStatus:
    if isinstance(value, IncidentStatus):
        return value
    try:
        return IncidentStatus(str(value).strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in _ORDER)
        raise IncidentError(f"not a status: {clean(value, limit=40)!r} (use {names})") from None


def transition_problem(incident_id: str, old: IncidentStatus, new: IncidentStatus) -> str:
    """Why ``old`` → ``new`` is refused, or "" when it is allowed."""
    if old is new:
        return f"{incident_id} is already {old.value}"
    if old is IncidentStatus.RESOLVED and new is not IncidentStatus.INVESTIGATING:
        return (
            f"{incident_id} is resolved: reopen it (status investigating) before marking"
            f" it {new.value}"
        )
    return ""


class ActionRecordLike(Protocol):
    """An audit ``AuditRecord`` (store) or an ``AuditEntry`` (store.audit)."""

    @property
    def id(self) -> int: ...
    @property
    def at(self) -> float: ...
    @property
    def operator(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def outcome(self) -> Any: ...
    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AlertLink:
    """One alert as an incident's timeline knows it: the ``N``th firing, still firing?"""

    fingerprint: str
    firing: int
    attached: bool
    ref: str
    text: str


def alert_ref(fingerprint: str, firing: int) -> str:
    return f"alert:{fingerprint}#{firing}"


def alert_links(timeline: Iterable[TimelineRecord]) -> dict[str, AlertLink]:
    """Per fingerprint, its latest firing on this incident and whether it still fires."""
    fired: dict[str, tuple[int, str]] = {}
    resolved: set[str] = set()
    for e in timeline:
        if not e.ref.startswith("alert:"):
            continue
        fingerprint, _, n = e.ref[len("alert:") :].rpartition("#")
        if not n.isdigit():
            continue
        if e.kind in (ALERT_FIRED, ALERT_ATTACHED):
            if int(n) >= fired.get(fingerprint, (0, ""))[0]:
                fired[fingerprint] = (int(n), e.text)
        elif e.kind == ALERT_RESOLVED:
            resolved.add(e.ref)
    return {
        fp: AlertLink(fp, n, alert_ref(fp, n) not in resolved, alert_ref(fp, n), text)
        for fp, (n, text) in fired.items()
    }


def group_key_of(alert: Alert) -> str:
    """What an incident declared from ``alert`` is keyed on: its group, else itself."""
    return alert.group or alert.fingerprint


def alert_text(alert: Alert) -> str:
    source = f", {alert.source}" if alert.source else ""
    summary = f": {alert.summary}" if alert.summary else ""
    return clean(f"{alert.name} ({alert.severity.label}{source}){summary}", limit=500)


def because(note: str) -> str:
    note = clean(note, limit=NOTE_LIMIT).strip()
    return f": {note}" if note else ""


def to_model(record: IncidentRecord, timeline: Iterable[TimelineRecord] = ()) -> Incident:
    """The plain model the views already render (alerts: fingerprints still attached)."""
    entries = list(timeline)
    return Incident(
        id=record.id,
        title=record.title,
        severity=Severity(record.severity),
        status=IncidentStatus(record.status),
        opened_at=record.opened_at,
        commander=record.commander,
        alerts=tuple(fp for fp, link in alert_links(entries).items() if link.attached),
        timeline=tuple(TimelineEntry(e.at, e.kind, e.text, e.operator) for e in entries),
    )
