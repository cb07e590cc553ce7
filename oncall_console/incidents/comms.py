"""What the incident says to people: chat / status-page messages and the postmortem draft.

Pure functions of an incident, its timeline and (for the postmortem) the audit records.
Every piece of incident text is data typed by people or sent by alert sources: it is
cleaned (``text.clean``) everywhere, and escaped for Markdown in the postmortem, so a
title such as ``# [x] <script>`` stays a line of text and cannot add a heading, a
checkbox or HTML to the document.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

from oncall_console.model import IncidentStatus, Severity
from oncall_console.store.base import AuditRecord
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.text import clean

STATUS_WORDS = {
    IncidentStatus.INVESTIGATING: "We know something is wrong and are finding out why.",
    IncidentStatus.IDENTIFIED: "We have found the cause and are working on a fix.",
    IncidentStatus.MONITORING: "A fix is in place; we are watching that it holds.",
    IncidentStatus.RESOLVED: "The problem is fixed and the service is back to normal.",
}
TOLD_KINDS = (
    "status",
    "severity",
    "note",
    "action",
    "verify",
    "reopened",
    "resolved",
    "commander",
)
"""Timeline kinds worth repeating in an update message."""
COMMS_KIND = "comms"
"""The timeline kind that records a message was posted (resets the update clock)."""
PENDING = "still being assessed"
AUTOMATIC = "automatic"


# --- formatting helpers --------------------------------------------------------------------


def utc(at: float | None, *, seconds: bool = False, date: bool = True) -> str:
    if at is None:
        return "—"
    fmt = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M")
    return time.strftime(fmt, time.gmtime(at)) + " UTC"


def duration(seconds: float) -> str:
    """``45 min``, ``90 min``, ``2 h 05 min``, ``3 d 4 h``."""
    minutes = max(0, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def severity_label(value: int) -> str:
    try:
        return Severity(int(value)).label
    except ValueError:
        return f"SEV{clean(value, limit=4)}"


def status_of(incident: IncidentRecord) -> IncidentStatus:
    try:
        return IncidentStatus(incident.status)
    except ValueError:
        return IncidentStatus.INVESTIGATING


def plain(value: object, limit: int = 300) -> str:
    """One line of data, safe for a terminal, a chat message or a status page."""
    return clean(value, limit=limit).strip()


_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
_MD_LEADING = re.compile(r"^(?:(\d{1,9})([.)])|([#>+\-=]))")


def md_text(value: object, limit: int = 500) -> str:
    """Data as Markdown text that renders as itself: no emphasis, links, code, HTML,
    entities, table cells or task boxes; a leading ``#``, ``>``, ``-``, ``+``, ``=``
    or ``1.`` cannot start a heading, a quote or a list."""
    s = _MD_INLINE.sub(r"\\\1", plain(value, limit))
    m = _MD_LEADING.match(s)
    if m:
        s = f"{m.group(1)}\\{m.group(2)}{s[m.end() :]}" if m.group(1) else "\\" + s
    return s or "—"


def code_span(value: object, limit: int = 500) -> str:
    """Data as an inline code span, fenced with more backticks than it contains."""
    s = plain(value, limit)
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _who(entry: TimelineRecord) -> str:
    return plain(entry.operator, 80) or AUTOMATIC


def _last_comms_at(timeline: Sequence[TimelineRecord]) -> float | None:
    return max((e.at for e in timeline if e.kind == COMMS_KIND), default=None)


def _header(word: str, incident: IncidentRecord) -> list[str]:
    title = plain(incident.title)
    return [
        f"{word} · {severity_label(incident.severity)} · {plain(incident.id, 40)}",
        title,
        "",
    ]


def _facts(incident: IncidentRecord) -> list[str]:
    status = status_of(incident)
    lines = [
        f"Status: {status.value}. {STATUS_WORDS[status]}",
        f"Affected: {plain(incident.affected) or PENDING}",
        f"Impact: {plain(incident.impact, 500) or PENDING}",
    ]
    return lines


def _commander(incident: IncidentRecord) -> str:
    return f"Incident commander: {plain(incident.commander, 80) or 'not assigned yet'}"


def _next_update(next_update_at: float | None, now: float) -> str:
    if next_update_at is None:
        return "Next update: when there is news"
    return f"Next update: by {utc(next_update_at)} (in {duration(next_update_at - now)})"


# --- messages ----------------------------------------------------------------------------


def initial_message(
    incident: IncidentRecord,
    timeline: Sequence[TimelineRecord],
    *,
    now: float,
    next_update_at: float | None,
) -> str:
    """The first message: something is wrong, this is what we know, next update by when."""
    lines = _header("INCIDENT", incident)
    lines += _facts(incident)
    lines += [f"Started: {utc(incident.opened_at)}", _commander(incident)]
    fired = [e for e in timeline if e.kind in ("alert fired", "alert attached")]
    if fired:
        lines.append("Alerts: " + "; ".join(plain(e.text, 120) for e in fired[:5]))
    lines.append(_next_update(next_update_at, now))
    return "\n".join(lines) + "\n"


def update_message(
    incident: IncidentRecord,
    timeline: Sequence[TimelineRecord],
    *,
    now: float,
    next_update_at: float | None,
) -> str:
    """A progress update: status, impact, what changed since the last message."""
    lines = _header("INCIDENT UPDATE", incident)
    lines += _facts(incident)
    since = _last_comms_at(timeline)
    news = [e for e in timeline if e.kind in TOLD_KINDS and (since is None or e.at > since)][-6:]
    if news:
        lines.append("Since the last update:" if since is not None else "So far:")
        lines += [
            f"- {utc(e.at, date=False)} {plain(e.kind, 40)}: {plain(e.text, 300)}" for e in news
        ]
    lines += [
        f"Open for: {duration(now - incident.opened_at)} (since {utc(incident.opened_at)})",
        _commander(incident),
        _next_update(next_update_at, now),
    ]
    return "\n".join(lines) + "\n"


def resolved_message(
    incident: IncidentRecord, timeline: Sequence[TimelineRecord], *, now: float
) -> str:
    """The last message: fixed, for how long it lasted, what was done, what follows."""
    lines = _header("INCIDENT RESOLVED", incident)
    end = incident.resolved_at or now
    lines += _facts(incident)
    lines.append(
        f"Duration: {duration(end - incident.opened_at)} ({utc(incident.opened_at)} to {utc(end)})"
    )
    actions = [e for e in timeline if e.kind == "action"]
    if actions:
        lines.append("What we did:")
        lines += [f"- {plain(e.text, 300)}" for e in actions[-6:]]
    notes = [e for e in timeline if e.kind == "note"]
    if notes:
        lines.append(f"Last note: {plain(notes[-1].text, 500)}")
    lines += [
        _commander(incident),
        "Next: a postmortem will follow; this is the last update unless the problem returns.",
    ]
    return "\n".join(lines) + "\n"


def message_for(
    incident: IncidentRecord,
    timeline: Sequence[TimelineRecord],
    *,
    now: float,
    next_update_at: float | None,
) -> tuple[str, str]:
    """(kind, text): the message that fits now: initial, update or resolved."""
    if status_of(incident) is IncidentStatus.RESOLVED:
        return "resolved", resolved_message(incident, timeline, now=now)
    if _last_comms_at(timeline) is None:
        return "initial", initial_message(
            incident, timeline, now=now, next_update_at=next_update_at
        )
    return "update", update_message(incident, timeline, now=now, next_update_at=next_update_at)


# --- the postmortem draft -------------------------------------------------------------------

FILL = "_To fill in._"


def audit_ids(timeline: Iterable[TimelineRecord]) -> list[int]:
    """Intent ids of the audit records the timeline refers to (``audit:N``), in order."""
    out: list[int] = []
    for e in timeline:
        kind, _, value = e.ref.partition(":")
        if kind == "audit" and value.isdigit() and int(value) not in out:
            out.append(int(value))
    return out


def _action_lines(timeline: Sequence[TimelineRecord], actions: Sequence[AuditRecord]) -> list[str]:
    intents = {r.id: r for r in actions if r.kind == "intent"}
    results = {r.intent_id: r for r in actions if r.kind == "result"}
    lines: list[str] = []
    for n in audit_ids(timeline):
        intent = intents.get(n)
        if intent is None:
            lines.append(f"- Audit entry #{n}: not found in this store's audit trail.")
            continue
        result = results.get(n)
        outcome = result.outcome if result else "outcome unknown"
        where = f" from {code_span(intent.ssh_client, 60)}" if intent.ssh_client else ""
        lines.append(
            f"- {utc(intent.at, seconds=True)} · {code_span(f'{intent.backend}.{intent.action}')}"
            f" on {code_span(intent.target)}: **{md_text(outcome, 40)}**"
            f" · by {md_text(intent.operator, 80)}{where} · audit #{n}"
        )
        if intent.params and intent.params != "{}":
            lines.append(f"  - parameters: {code_span(intent.params)}")
        if result and result.message:
            lines.append(f"  - result: {md_text(result.message)}")
        if result:
            lines.append(f"  - finished {utc(result.at, seconds=True)}")
    return lines


def postmortem_markdown(
    incident: IncidentRecord,
    timeline: Sequence[TimelineRecord],
    actions: Sequence[AuditRecord] = (),
    *,
    now: float | None = None,
) -> str:
    """A postmortem draft in Markdown: the facts filled in from the store, the analysis
    left as sections and checklists for people to fill."""
    now = time.time() if now is None else now
    end = incident.resolved_at
    status = status_of(incident)
    acked = incident.acknowledged_at
    lines = [
        f"# Postmortem draft: {md_text(incident.id, 40)} · {md_text(incident.title, 300)}",
        "",
        f"_Drafted by oncall-console on {utc(now)} from the incident's timeline and the"
        " audit trail. Everything below the facts is for people to write._",
        "",
        f"- **Severity:** {severity_label(incident.severity)}",
        f"- **Status:** {status.value}",
        f"- **Incident commander:** {md_text(incident.commander, 80) if incident.commander else '—'}",
        f"- **Started:** {utc(incident.opened_at, seconds=True)}",
        f"- **Acknowledged:** {utc(acked, seconds=True) if acked else 'not recorded'}",
        f"- **Resolved:** {utc(end, seconds=True) if end else 'not yet'}",
        f"- **Duration:** {duration((end or now) - incident.opened_at)}"
        + ("" if end else " so far"),
    ]
    if incident.runbook:
        lines.append(f"- **Runbook:** {md_text(incident.runbook, 120)}")
    if incident.group_key:
        lines.append(f"- **Alert group:** {md_text(incident.group_key, 300)}")
    lines += [
        "",
        "## Summary",
        "",
        f"{md_text(incident.title, 300)}.",
        "",
        "_To fill in: what happened, in two or three sentences._",
        "",
        "## Impact",
        "",
        f"- **Affected:** {md_text(incident.affected) if incident.affected.strip() else FILL}",
        f"- **Impact:** {md_text(incident.impact) if incident.impact.strip() else FILL}",
        f"- **Users affected:** {FILL}",
        "",
        "## Timeline (UTC)",
        "",
    ]
    if timeline:
        lines += [
            f"- {utc(e.at, seconds=True)} · **{md_text(e.kind, 40)}** · {md_text(e.text)}"
            f" · _{md_text(_who(e), 80)}_"
            for e in timeline
        ]
    else:
        lines.append("- No entries.")
    lines += ["", "## Actions taken", ""]
    action_lines = _action_lines(timeline, actions)
    lines += action_lines or ["- No actions were run from the console for this incident."]
    lines += [
        "",
        "## Root cause",
        "",
        "_To fill in: the chain of causes (five whys or similar)._",
        "",
        "## Contributing factors",
        "",
        "- [ ] …",
        "",
        "## What went well",
        "",
        "- [ ] …",
        "",
        "## What went wrong",
        "",
        "- [ ] …",
        "",
        "## Follow-ups",
        "",
        "- [ ] Action: … · owner: … · due: …",
        "- [ ] Update the runbook with what we learned",
        "",
    ]
    return "\n".join(lines)
