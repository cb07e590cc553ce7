"""The war room: a read-only wall screen of big digits, incident clocks and cycling panels.

Read-only by construction: the screen refuses an engine that could run actions, and it
has no binding that reaches one (left / right / p here, quit on the app).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Static

from oncall_console.durations import format_age
from oncall_console.engine.state import CheckState, SliState
from oncall_console.fmt import number
from oncall_console.model import Alert, Direction, Incident, IncidentStatus, SliReading, Status
from oncall_console.ui.render import colour, plain, severity_text, status_style, status_word
from oncall_console.ui.widgets.bigstat import BigStat
from oncall_console.ui.widgets.header import ConsoleHeader, format_clock

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall, View

PANELS = (("overview", "SLIs & incidents"), ("health", "Health"), ("alerts", "Alerts"))
SLI_TILES = 4
CLOCKS = 3
CARDS = 5
ALERT_ROWS = 20


class WarRoom(Screen[None]):
    """Large and calm: what is wrong, since when, and how bad, for a room to read."""

    AUTO_FOCUS = ""  # nothing to focus: the keys below belong to the screen
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide"), (170, "-huge")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding(
            "left",
            "previous_panel",
            "Previous",
            id="warroom.previous",
            tooltip="Show the previous panel (the dwell starts again)",
        ),
        Binding(
            "right",
            "next_panel",
            "Next",
            id="warroom.next",
            tooltip="Show the next panel (the dwell starts again)",
        ),
        Binding("p", "toggle_pause", "Pause", id="warroom.pause", tooltip="Stop or resume cycling"),
    ]

    def __init__(self, oncall: OnCall, *, dwell: float = 15.0) -> None:
        if not oncall.settings.read_only:
            raise ValueError("the war room is read-only: build its engine with read_only = true")
        if dwell <= 0:
            raise ValueError("the war room's dwell must be a positive number of seconds")
        super().__init__()
        self.oncall = oncall
        self.dwell = dwell
        """Seconds each panel stays before the next one."""
        self.paused = False
        """Cycling stopped by the person at the keyboard."""
        self.panel = 0
        """Index into PANELS of the panel on show."""
        self._shown_at: float | None = None
        self._seen_version = -1
        self._seen_second = -1
        self._facts: dict[str, object] = {}
        self._groups: dict[str, list[CheckState]] = {}
        for state in oncall.checks():
            self._groups.setdefault(state.spec.group or "checks", []).append(state)

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="wr-header")
        with Horizontal(id="wr-strip"):
            yield Static(id="wr-tabs")
            yield Static(id="wr-cycle")
        with Horizontal(id="wr-clocks", classes="wr-box") as clocks:
            clocks.border_title = "Incident clocks"
            for n in range(CLOCKS):
                yield BigStat(id=f"wr-clock-{n}", classes="wr-clock")
            yield Static(id="wr-calm")
        with ContentSwitcher(id="wr-panels", initial=PANELS[0][0]):
            with Vertical(id="overview"):
                if self.oncall.slis():
                    with Horizontal(id="wr-slis", classes="wr-box") as slis:
                        slis.border_title = "Worst SLIs"
                        for n in range(min(SLI_TILES, len(self.oncall.slis()))):
                            yield BigStat(id=f"wr-sli-{n}", classes="wr-sli")
                with Vertical(id="wr-cards", classes="wr-box") as cards:
                    cards.border_title = "Active incidents"
                    for n in range(CARDS):
                        yield Static(id=f"wr-card-{n}", classes="wr-card")
                    yield Static(id="wr-cards-more")
            with Vertical(id="health", classes="wr-box") as health:
                health.border_title = "Health"
                for group, states in self._groups.items():
                    yield Static(Text(plain(group, 60).plain.upper()), classes="wr-group-name")
                    with Grid(classes="wr-group"):
                        for state in states:
                            yield Static(id=f"wr-tile-{state.spec.name}", classes="wr-tile")
            with Vertical(id="alerts", classes="wr-box") as alerts:
                alerts.border_title = "Alerts"
                yield Static(id="wr-alerts")
        yield Footer()

    def on_mount(self) -> None:
        header = self.query_one(ConsoleHeader)
        settings = self.oncall.settings
        header.environment = settings.environment
        header.operator = settings.operator
        header.demo = settings.demo
        header.read_only = True
        # The signal comes once the new theme's variables are in place; watch_theme is too early.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.sync(force=True)

    # --- keeping the picture current ------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Advance the cycle when the dwell is up, and update only what changed."""
        now = self.app.clock()
        second = int(now)
        if not force and self.oncall.version == self._seen_version and second == self._seen_second:
            return
        view = self.oncall.view(now)
        self._seen_version, self._seen_second = view.version, second
        if self._shown_at is None:
            self._shown_at = now
        elif not self.paused and now - self._shown_at >= self.dwell:
            self._show(self.panel + 1, now)
        v = self.app.theme_variables
        header = self.query_one(ConsoleHeader)
        header.clock_text = format_clock(now, self.oncall.settings.utc)
        header.overall = view.overall(now)
        incidents = [i for i in view.incidents if i.status is not IncidentStatus.RESOLVED]
        with self.app.batch_update():
            self._sync_strip(v)
            self._sync_clocks(incidents, now, v)
            self._sync_slis(now, v)
            self._sync_cards(incidents, now, v)
            self._sync_health(view, now, v)
            self._sync_alerts(view, now, v)

    def _theme_changed(self, theme: Theme) -> None:
        self.restyle()

    def restyle(self) -> None:
        """Recolour everything (after a theme change)."""
        self._facts.clear()
        for stat in self.query(BigStat):
            stat.forget()
        self.sync(force=True)

    def _changed(self, key: str, facts: object) -> bool:
        """True (and remembered) when ``facts`` differ from what ``key`` last showed."""
        if key in self._facts and self._facts[key] == facts:
            return False
        self._facts[key] = facts
        return True

    def _sync_strip(self, v: Mapping[str, str]) -> None:
        if self._changed("strip", (self.panel, self.paused)):
            tabs = Text(no_wrap=True, overflow="ellipsis")
            for n, (_, title) in enumerate(PANELS):
                on = n == self.panel
                tabs.append(
                    f" {title} ", Style(bold=True, reverse=True) if on else colour(v, "muted")
                )
                tabs.append(" ")
            self.query_one("#wr-tabs", Static).update(tabs)
            cycle = (
                Text("⏸ paused · p resumes ", style=Style(bold=True))
                if self.paused
                else Text(f"next panel every {self.dwell:g} s ", style=colour(v, "muted"))
            )
            self.query_one("#wr-cycle", Static).update(cycle)

    def _sync_clocks(self, incidents: list[Incident], now: float, v: Mapping[str, str]) -> None:
        for n in range(CLOCKS):
            stat = self.query_one(f"#wr-clock-{n}", BigStat)
            _display(stat, n < len(incidents))
            if n < len(incidents):
                i = incidents[n]
                sev = f"sev{int(i.severity)}"
                stat.show(
                    incident_clock(now - i.opened_at),
                    Text.assemble(plain(i.id, 40), (" open for", colour(v, "muted"))),
                    Text.assemble(severity_text(i.severity, v), " ", plain(i.title, 200)),
                    v.get(sev),
                )
        calm = self.query_one("#wr-calm", Static)
        _display(calm, not incidents)
        if self._changed("calm", not incidents) and not incidents:
            calm.update(Text("No open incidents", style=status_style(v, Status.OK)))
        extra = len(incidents) - CLOCKS
        if self._changed("clocks-more", extra):
            band = self.query_one("#wr-clocks")
            band.border_subtitle = f"+{extra} more under Active incidents" if extra > 0 else ""

    def _sync_slis(self, now: float, v: Mapping[str, str]) -> None:
        for n, state in enumerate(worst_slis(self.oncall.slis(), now, SLI_TILES)):
            status = state.status(now)
            reading = worst_reading(state.readings.values(), state.spec.thresholds.direction)
            value = big_number(reading.value if reading else None, plain(state.spec.unit, 12).plain)
            under = status_word(status, v)
            if reading is not None and len(state.readings) > 1 and reading.series:
                under.append_text(Text(" · ")).append_text(plain(reading.series, 60))
            if reading is not None and reading.budget_remaining is not None:
                under.append(f" · budget {reading.budget_remaining * 100:.0f}%")
            if state.error:
                under.append_text(Text(" · ")).append_text(plain(state.error, 120))
            elif reading is not None and reading.value is None and reading.note:
                under.append_text(Text(" · ")).append_text(plain(reading.note, 120))
            under.no_wrap, under.overflow = True, "ellipsis"
            self.query_one(f"#wr-sli-{n}", BigStat).show(
                value,
                Text(plain(state.spec.label, 80).plain, style=Style(bold=True)),
                under,
                v.get(f"status-{status.value}"),
            )

    def _sync_cards(self, incidents: list[Incident], now: float, v: Mapping[str, str]) -> None:
        for n in range(CARDS):
            card = self.query_one(f"#wr-card-{n}", Static)
            _display(card, n < len(incidents))
            if n >= len(incidents):
                continue
            i = incidents[n]
            age = format_age(now - i.opened_at, coarse=True)
            due = self._due_step(i.id, now)
            facts = (i.id, i.severity, i.title, i.status, i.commander, len(i.alerts), age, due)
            if self._changed(f"card-{n}", facts):
                card.update(incident_card(i, age, v, due))
                card.styles.border = ("round", Color.parse(v.get(f"sev{int(i.severity)}", "red")))
        _display(self.query_one("#wr-cards"), bool(incidents))  # the clocks band says "none"
        more = self.query_one("#wr-cards-more", Static)
        extra = len(incidents) - CARDS
        _display(more, extra > 0)
        if self._changed("cards-more", extra) and extra > 0:
            more.update(Text(f"… and {extra} more open incidents", style=colour(v, "muted")))

    def _due_step(self, incident_id: str, now: float) -> str:
        """The most urgent step due on a stored incident (the wall shows, never acts)."""
        service = self.oncall.incidents
        record = service.cached(incident_id)
        if record is None:
            return ""
        steps = service.steps(record, now)
        # Coarse on purpose: the countdown would repaint the card every second.
        return next((s.short for s in steps if s.urgent), "")

    def _sync_health(self, view: View, now: float, v: Mapping[str, str]) -> None:
        for state in view.checks:
            name = state.spec.name
            status = state.status(now)
            calm = status is Status.OK
            # What is wrong, for a check that is not OK; nothing that flickers every poll.
            why = "" if calm or state.last is None else state.last.summary
            facts = (status, state.spec.label, why)
            if not self._changed(f"tile-{name}", facts):
                continue
            tile = self.query_one(f"#wr-tile-{name}", Static)
            tone = status_style(v, status)
            body = Text(no_wrap=True, overflow="ellipsis")
            body.append(f"{status.glyph} ", tone + Style(bold=True))
            label = plain(state.spec.label, 60).plain
            body.append(label, Style(bold=True) + (Style() if calm else tone))
            body.append("\n")
            body.append(status.label, tone)
            if why:
                body.append(" · ", colour(v, "muted"))
                body.append_text(Text(plain(why, 120).plain, style=colour(v, "muted")))
            tile.update(body)
            # The frame's colour comes from CSS (so a short terminal can drop the frame).
            tile.set_class(not calm, "-bad")
            tile.set_class(status is Status.DOWN, "-down")

    def _sync_alerts(self, view: View, now: float, v: Mapping[str, str]) -> None:
        alerts = view.alerts
        feeds = sorted(self.oncall.feed_errors().items())
        facts = (
            tuple(
                (a.fingerprint, a.severity, a.name, a.summary, a.state, _age(now - a.starts_at))
                for a in alerts[:ALERT_ROWS]
            ),
            len(alerts),
            tuple(feeds),
        )
        if self._changed("alerts", facts):
            self.query_one("#wr-alerts", Static).update(alerts_table(alerts, feeds, now, v))

    # --- panels -----------------------------------------------------------------------------

    def _show(self, index: int, now: float) -> None:
        self.panel = index % len(PANELS)
        self._shown_at = now
        self.query_one(ContentSwitcher).current = PANELS[self.panel][0]
        self._sync_strip(self.app.theme_variables)

    def action_next_panel(self) -> None:
        self._show(self.panel + 1, self.app.clock())

    def action_previous_panel(self) -> None:
        self._show(self.panel - 1, self.app.clock())

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._shown_at = self.app.clock()  # resuming gives the panel a full dwell
        self._sync_strip(self.app.theme_variables)


# --- what the tiles say (pure: engine data in, Rich Text out) ------------------------------


def incident_clock(seconds: float) -> str:
    """Time since an incident opened as ``HH:MM:SS`` (hours keep counting past a day)."""
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def big_number(value: float | None, unit: str) -> str:
    """A value for ``Digits``: no space before the unit (a space there is three cells wide)."""
    if value is None:
        return "--"
    return number(value) + unit


def worst_slis(states: Iterable[SliState], now: float, limit: int) -> list[SliState]:
    """The ``limit`` worst SLIs; config order breaks ties, so equal ones do not swap places."""
    return sorted(states, key=lambda s: -s.status(now).rank)[:limit]


def worst_reading(readings: Iterable[SliReading], direction: Direction) -> SliReading | None:
    """The series that is worst off: worst status, then furthest the bad way."""

    def badness(r: SliReading) -> tuple[int, float]:
        value = r.value if r.value is not None else 0.0
        return (r.status.rank, value if direction is Direction.LOWER_IS_BETTER else -value)

    return max(readings, key=badness, default=None)


def incident_card(incident: Incident, age: str, v: Mapping[str, str], next_step: str = "") -> Text:
    """Two lines: severity, id and title; then status, commander, age and linked alerts;
    a third with the step the policy says is due, when one is."""
    head = Text.assemble(
        severity_text(incident.severity, v),
        "  ",
        (plain(incident.id, 40).plain, Style(bold=True)),
        "  ",
        plain(incident.title, 300),
    )
    facts = [incident.status.value.upper(), f"open {age}"]
    if incident.commander:
        facts.insert(1, f"commander {plain(incident.commander, 80).plain}")
    if incident.alerts:
        facts.append(f"{len(incident.alerts)} alert{'s' if len(incident.alerts) != 1 else ''}")
    line = Text(" · ".join(facts), style=colour(v, "muted"))
    lines = [head, line]
    if next_step:
        lines.append(Text(f"▶ {next_step}", style=Style(bold=True, reverse=True)))
    body = Text("\n").join(lines)
    body.no_wrap, body.overflow = True, "ellipsis"
    return body


def _display(widget: Widget, shown: bool) -> None:
    if widget.display != shown:  # only a real change touches the layout
        widget.display = shown


def _age(seconds: float) -> str:
    # Stepped by five seconds, so a list of fresh alerts does not repaint every second.
    return format_age(seconds, coarse=True)


def alerts_table(
    alerts: list[Alert], feeds: list[tuple[str, str]], now: float, v: Mapping[str, str]
) -> Table | Text:
    """Active alerts, worst first, and any source that is down; every cell is plain text."""
    if not alerts and not feeds:
        return Text("No active alerts", style=status_style(v, Status.OK))
    table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
    table.add_column("Sev", no_wrap=True, header_style=colour(v, "muted"))
    table.add_column("Age", no_wrap=True, justify="right", header_style=colour(v, "muted"))
    table.add_column("Alert", no_wrap=True, header_style=colour(v, "muted"))
    table.add_column("Summary", ratio=1, no_wrap=True, header_style=colour(v, "muted"))
    table.add_column("State", no_wrap=True, header_style=colour(v, "muted"))
    for source, error in feeds:
        table.add_row(
            Text("ERR", style=status_style(v, Status.DOWN) + Style(bold=True)),
            Text(""),
            Text(f"{plain(source, 80).plain} down", style=Style(bold=True)),
            plain(error, 300),
            Text("source down"),
        )
    for a in alerts[:ALERT_ROWS]:
        table.add_row(
            severity_text(a.severity, v),
            Text(_age(now - a.starts_at)),
            Text(plain(a.name, 80).plain, style=Style(bold=True)),
            plain(a.summary, 300),
            Text(a.state.value),
        )
    if len(alerts) > ALERT_ROWS:
        table.add_row(Text(""), Text(""), Text(f"… and {len(alerts) - ALERT_ROWS} more"))
    return table
