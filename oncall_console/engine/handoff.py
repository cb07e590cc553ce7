"""The shift handoff report: one Markdown document built from the store and the live
sources, for the next person on call. No Textual here; the CLI and the TUI share it,
and it reads everything through the front door (``engine/api.py``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oncall_console.durations import format_age
from oncall_console.fmt import latency, number
from oncall_console.model import Status
from oncall_console.text import clean

if TYPE_CHECKING:
    from oncall_console.oncall.api import OnCall


def md(text: object, limit: int = 300) -> str:
    """Remote text made safe inside a Markdown line: no escapes, no structure it can start."""
    s = clean(text, limit=limit)
    for ch in "\\`*_[]<>#|":
        s = s.replace(ch, "\\" + ch)
    return s


def when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


@dataclass
class HandoffOptions:
    since: float
    """Start of the shift (epoch seconds)."""
    now: float
    silences_within: float = 12 * 3600.0
    """Silences that expire within this many seconds are listed."""
    notes: str = ""


async def build_report(oncall: OnCall, opts: HandoffOptions) -> str:
    """The report. The engine must have polled at least once and have its store open."""
    out: list[str] = [
        f"# Shift handoff: {md(oncall.settings.environment, 80)}",
        "",
        f"- Shift: {when(opts.since)} → {when(opts.now)} ({format_age(opts.now - opts.since)})",
        f"- Written by: {md(oncall.settings.operator, 80)}",
        f"- Overall now: {oncall.overall(opts.now).glyph} {oncall.overall(opts.now).label}",
        "",
    ]
    out += _incidents(oncall, opts)
    out += _health(oncall, opts)
    out += await _actions(oncall, opts)
    out += await _runbooks(oncall, opts)
    out += _alerts(oncall, opts)
    out += _silences(oncall, opts)
    out += _slos(oncall, opts)
    out += ["## Notes for the next person", ""]
    out += [
        clean(opts.notes, limit=20_000, single_line=False) if opts.notes.strip() else "_None._",
        "",
    ]
    return "\n".join(out)


def _incidents(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    incidents = oncall.incident_list()
    open_ = [i for i in incidents if i.status.value != "resolved"]
    out = ["## Open incidents", ""]
    if not open_:
        out.append("_None._")
    for i in open_:
        out.append(
            f"- **{i.severity.label} {md(i.id, 40)}** {md(i.title)} — {i.status.value}, open "
            f"{format_age(opts.now - i.opened_at)}, commander {md(i.commander or 'none', 60)}"
        )
        record = oncall.incidents.cached(i.id)
        if record is not None:  # ours: the policy says what is due next
            steps = oncall.incidents.steps(record, opts.now)
            for step in steps[:2]:
                out.append(f"  - **next:** {md(step.text, 200)}")
        for entry in i.timeline[-3:]:
            out.append(f"  - {when(entry.at)} {md(entry.kind, 30)}: {md(entry.text)}")

    def resolved_at(i: object) -> float:
        record = oncall.incidents.cached(i.id)  # type: ignore[attr-defined]
        if record is not None and record.resolved_at is not None:
            return record.resolved_at
        return i.opened_at  # type: ignore[attr-defined]  # a source's: when it opened

    resolved = [
        i for i in incidents if i.status.value == "resolved" and resolved_at(i) >= opts.since
    ]
    out += ["", "## Resolved this shift", ""]
    out += [f"- {i.severity.label} {md(i.id, 40)} {md(i.title)}" for i in resolved] or ["_None._"]
    return [*out, ""]


def _health(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    bad = [c for c in oncall.checks() if c.status(opts.now) is not Status.OK]
    out = ["## Not healthy now", ""]
    if not bad:
        out.append("_Every check is OK._")
    for c in bad:
        st = c.status(opts.now)
        summary = c.last.summary if c.last else "no result"
        lat = latency(c.last.latency_ms) if c.last else "—"
        out.append(f"- {st.glyph} {st.label} **{md(c.spec.label, 80)}** ({lat}): {md(summary)}")
    return [*out, ""]


async def _actions(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    out = ["## Actions run this shift", ""]
    try:
        records = await oncall.audit(opts.since)
    except Exception as exc:
        return [*out, f"_The audit trail could not be read: {md(exc)}_", ""]
    results = {r.intent_id: r for r in records if r.kind == "result"}
    verified = {r.intent_id: r for r in records if r.kind == "verify"}
    intents = [r for r in records if r.kind == "intent"]
    if not intents:
        out.append("_None._")
    for r in intents:
        done = results.get(r.id)
        outcome = done.outcome if done else "OUTCOME UNKNOWN — check the target"
        out.append(
            f"- {when(r.at)} {md(r.operator, 60)}: `{md(r.backend, 40)}.{md(r.action, 40)}` "
            f"on {md(r.target, 80)} → {md(outcome, 60)}"
            + (f" ({md(done.message, 200)})" if done and done.message else "")
        )
        check = verified.get(r.id)
        if check is not None:  # how verification ended: recovered, or not (and what next)
            out.append(f"  - verified: {md(check.message, 300)}")
        elif (
            done is not None
            and done.outcome == "succeeded"
            and any(w.audit_id == r.id and not w.done for w in oncall.watches())
        ):
            out.append("  - verifying now: the target has not recovered yet")
    return [*out, ""]


async def _runbooks(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    out = ["## Runbooks in progress", ""]
    try:
        progress = await oncall.runbooks.steps_since(opts.since)
        if progress is None:  # the store keeps no history of steps
            return []
    except Exception as exc:
        return [*out, f"_Progress could not be read: {md(exc)}_", ""]
    by_walk: dict[tuple[str, str], list] = {}
    for p in progress:
        by_walk.setdefault((p.runbook, p.scope), []).append(p)
    shown = 0
    for (rb_id, scope), steps in sorted(by_walk.items()):
        runbook = oncall.runbooks.library.get(rb_id)
        total = len(runbook.steps) if runbook else 0
        done = sum(1 for s in steps if s.done)
        if runbook and done >= total:
            continue  # finished walks are not handed over
        last = max(steps, key=lambda s: s.at)
        title = runbook.title if runbook else rb_id
        next_step = next(
            (
                s.text
                for s in (runbook.steps if runbook else ())
                if s.id not in {x.step for x in steps if x.done}
            ),
            "",
        )
        out.append(
            f"- **{md(title, 100)}** for {md(scope, 60)}: {done}/{total or '?'} done, last by "
            f"{md(last.operator, 60)} at {when(last.at)}"
            + (f"; next: {md(next_step, 200)}" if next_step else "")
        )
        shown += 1
    if not shown:
        out.append("_None._")
    return [*out, ""]


def _alerts(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    alerts = oncall.alerts()
    out = ["## Alerts firing now", ""]
    out += [
        f"- {a.severity.label} **{md(a.name, 100)}** ({a.state.value}, {format_age(opts.now - a.starts_at)}): "
        f"{md(a.summary)}"
        for a in alerts
    ] or ["_None._"]
    return [*out, ""]


def _silences(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    soon = [s for s in oncall.silences() if s.ends_at - opts.now <= opts.silences_within]
    out = [f"## Silences expiring in the next {format_age(opts.silences_within)}", ""]
    out += [
        f"- `{md(', '.join(s.matchers), 200)}` ends in {format_age(s.ends_at - opts.now)} "
        f"(by {md(s.created_by, 60)}: {md(s.comment, 200)})"
        for s in soon
    ] or ["_None._"]
    return [*out, ""]


def _slos(oncall: OnCall, opts: HandoffOptions) -> list[str]:
    out = ["## SLOs and error budget", ""]
    rows = 0
    for s in oncall.slis():
        for r in s.readings.values():
            if r.budget_remaining is None and r.burn_rate is None:
                continue
            budget = "—" if r.budget_remaining is None else f"{r.budget_remaining * 100:.1f} % left"
            burn = "" if r.burn_rate is None else f", burning {r.burn_rate:.1f}× (1 h)"
            series = f" {{{md(r.series, 80)}}}" if r.series else ""
            out.append(
                f"- {r.status.glyph} **{md(s.spec.label, 80)}**{series}: {number(r.value, s.spec.unit)}, "
                f"{budget}{burn}"
            )
            rows += 1
    if not rows:
        out.append("_No SLO is configured._")
    return [*out, ""]
