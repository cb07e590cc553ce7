"""Incidents for the CLI: ``oncall-console incident list / show / export`` as plain text
and Markdown, read from an open store."""

from __future__ import annotations

import time
from pathlib import Path

from oncall_console.incidents import comms
from oncall_console.incidents.policy import Policy
from oncall_console.incidents.records import NOTE_LIMIT, TITLE_LIMIT
from oncall_console.incidents.service import IncidentService
from oncall_console.model import Severity
from oncall_console.store.base import Store
from oncall_console.text import clean


async def export_incident(store: Store, incident_id: str, output: Path | None = None) -> str:
    """The postmortem draft of ``incident_id`` as Markdown; written to ``output`` when
    given. The store must be open. IncidentError if there is no such incident."""
    markdown = await IncidentService(store).postmortem(incident_id)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown, encoding="utf-8")
    return markdown


async def list_incidents(
    store: Store,
    *,
    open_only: bool = False,
    since: float | None = None,
    now: float | None = None,
    policy: Policy | None = None,
) -> str:
    """A plain-text table for ``oncall-console incident list`` (newest first)."""
    now = time.time() if now is None else now
    policy = policy or Policy()
    records = await store.incidents(open_only=open_only, since=since)
    if not records:
        return "no incidents" + (" open" if open_only else "") + "\n"
    rows = [("ID", "SEV", "STATUS", "OPENED (UTC)", "FOR", "COMMANDER", "DUE", "TITLE")]
    for r in records:
        due = policy.due(r, now)
        flags = []
        if r.is_open and not due.acknowledged:
            flags.append("response overdue" if due.response_breached else "unacknowledged")
        if due.next_step is not None and due.next_at is not None:
            flags.append(f"{due.next_step.who} in {comms.duration(due.next_at - now)}")
        rows.append(
            (
                clean(r.id, limit=20),
                Severity(r.severity).label,
                clean(r.status, limit=20),
                comms.utc(r.opened_at).removesuffix(" UTC"),
                comms.duration((r.resolved_at or now) - r.opened_at),
                clean(r.commander, limit=20) or "—",
                "; ".join(flags) or "—",
                clean(r.title, limit=80),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        + "\n"
        for row in rows
    )


async def show_incident(store: Store, incident_id: str) -> str:
    """An incident and its whole timeline, plain text (``oncall-console incident show``)."""
    service = IncidentService(store)
    r = await service.get(incident_id)
    lines = [
        f"{clean(r.id, limit=20)} {Severity(r.severity).label} {clean(r.status, limit=20)}:"
        f" {clean(r.title, limit=TITLE_LIMIT)}",
        f"  opened {comms.utc(r.opened_at, seconds=True)}"
        + (f", resolved {comms.utc(r.resolved_at, seconds=True)}" if r.resolved_at else "")
        + f", commander {clean(r.commander, limit=80) or '—'}",
    ]
    for e in await service.timeline(incident_id):
        who = clean(e.operator, limit=80) or comms.AUTOMATIC
        lines.append(
            f"  {comms.utc(e.at, seconds=True)}  {clean(e.kind, limit=30)}:"
            f" {clean(e.text, limit=NOTE_LIMIT)} ({who})"
        )
    return "\n".join(lines) + "\n"
