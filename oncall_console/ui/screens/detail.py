"""A read-only detail view of one check, SLI, alert or incident: plain text only."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from oncall_console.durations import format_age
from oncall_console.engine.state import CheckState, SliState
from oncall_console.fmt import latency, number
from oncall_console.model import Alert, Incident
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, oncall_of
from oncall_console.ui.render import detail_table
from oncall_console.ui.screens.closer import CloserScreen


def _kv(lines: list[tuple[str, str]]) -> Text:
    # Keys are remote too (label names, detail keys, series): cleaned like the values.
    lines = [(clean(k, limit=60), v) for k, v in lines]
    width = max((len(k) for k, _ in lines), default=0)
    out = Text()
    for k, v in lines:
        out.append(f"{k:<{width}}  ", style="bold")
        out.append(clean(v, limit=2000, single_line=False))
        out.append("\n")
    return out


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def check_detail(state: CheckState, now: float) -> RenderableType:
    last = state.last
    lines = [
        ("check", state.spec.name),
        ("backend", state.spec.backend),
        ("status", state.status(now).label),
        ("summary", last.summary if last else "no result yet"),
        ("latency", latency(last.latency_ms) if last else "—"),
        ("checked", f"{format_age(state.age(now))} ago" if last else "never"),
        ("last good", f"{format_age(now - state.last_ok_at)} ago" if state.last_ok_at else "never"),
        ("every", f"{state.spec.interval:g} s, timeout {state.spec.timeout:g} s"),
    ]
    if last and last.error:
        lines.append(("error", last.error))
    if state.spec.runbook:
        lines.append(("runbook", state.spec.runbook))
    if last:
        lines += [(f"· {s.name}", f"{s.status.label} {s.detail}".strip()) for s in last.substatuses]
        lines += [(k, v) for k, v in last.details.items()]
    text = _kv(lines)
    recent = Text("\nrecent results\n", style="bold")
    for r in state.history.recent(12):
        recent.append(f"{_clock(r.at)}  {r.status.glyph} {r.status.label:<5} ")
        recent.append(f"{latency(r.latency_ms):>7}  ")
        recent.append(clean(r.summary, limit=200))
        recent.append("\n")
    tables = [Group(Text(""), detail_table(t)) for t in (last.tables if last else ())]
    return Group(text, *tables, recent)


def sli_detail(state: SliState, now: float) -> Text:
    spec, t = state.spec, state.spec.thresholds
    lines = [
        ("sli", spec.label),
        ("status", state.status(now).label),
        (
            "thresholds",
            f"target {number(t.target)} · warning {number(t.warning)} · critical {number(t.critical)} {spec.unit}",
        ),
        ("good when", "lower" if t.direction.value == "down" else "higher"),
    ]
    if state.error:
        lines.append(("error", state.error))
    if spec.slo:
        lines.append(("slo", f"{spec.slo.objective * 100:g}% over {format_age(spec.slo.window)}"))
    for r in state.readings.values():
        extra = ""
        if r.budget_remaining is not None:
            extra += f" · budget left {r.budget_remaining * 100:.1f}%"
        if r.burn_rate is not None:
            extra += f" · burn {r.burn_rate:.2f}×"
        lines.append((r.series or "value", f"{number(r.value, spec.unit)} {r.status.label}{extra}"))
    return _kv(lines)


def alert_detail(alert: Alert, now: float) -> Text:
    lines = [
        ("alert", alert.name),
        ("severity", alert.severity.label),
        ("state", alert.state.value),
        ("firing for", format_age(now - alert.starts_at)),
        ("source", alert.source),
        ("summary", alert.summary),
    ]
    if alert.runbook_url:
        lines.append(("runbook", alert.runbook_url))
    lines += [(f"label {k}", v) for k, v in sorted(alert.labels.items())]
    lines += [(f"note {k}", v) for k, v in sorted(alert.annotations.items())]
    return _kv(lines)


def incident_detail(incident: Incident, now: float) -> Text:
    text = _kv(
        [
            ("incident", incident.id),
            ("title", incident.title),
            ("severity", incident.severity.label),
            ("status", incident.status.value),
            ("open for", format_age(now - incident.opened_at)),
            ("commander", incident.commander or "—"),
        ]
    )
    text.append("\ntimeline\n", style="bold")
    for e in incident.timeline:
        text.append(f"{_clock(e.at)}  {clean(e.kind, limit=20):<10} ")
        text.append(clean(e.text, limit=500))
        if e.operator:
            text.append(f"  ({clean(e.operator, limit=40)})")
        text.append("\n")
    return text


class DetailScreen(ModalScreen[None]):
    """Everything known about one row. Escape closes it; on a check whose backend can
    look closer (events, a log tail, sessions, a slowlog), ``l`` opens that, live."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="detail.close"),
        HELP,
        Binding(
            "l",
            "look_closer",
            "Look closer",
            id="detail.closer",
            tooltip="Events and log tail, sessions, slowlog… of the check, live (read-only)",
        ),
    ]

    def __init__(self, title: str, body: RenderableType, *, check: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.check = check
        """The check shown, when it is one: what ``l`` looks closer at."""

    def compose(self) -> ComposeResult:
        views = oncall_of(self).inspect_views(self.check) if self.check else []
        with VerticalScroll(id="detail-box") as box:
            box.border_title = Content(clean(self.title_text, limit=80))  # a str is markup
            if views:
                names = " · ".join(clean(v.title, limit=20).lower() for v in views)
                box.border_subtitle = Content(f"l look closer: {names} · esc close")
            else:
                box.border_subtitle = "esc close"
            yield Static(self.body, id="detail-body")

    def action_look_closer(self) -> None:
        views = oncall_of(self).inspect_views(self.check) if self.check else []
        if not views:
            what = "for this check" if self.check else "here: l works in a check's detail"
            self.notify(f"Nothing to look closer at {what}.", timeout=3)
            return
        self.app.push_screen(CloserScreen(self.check, views))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
