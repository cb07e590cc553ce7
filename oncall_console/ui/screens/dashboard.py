"""The one screen: health, SLIs, incidents and alerts.

It can open before the config is validated: from a :class:`Sketch` it paints its frame,
the panels saying how many checks and SLIs are starting, and :meth:`Dashboard.attach`
brings the engine later (issue #6: first frame). So this module imports no engine, no
pydantic and no screen that opens later; those are imported where they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Footer

from oncall_console.configfile import Sketch
from oncall_console.model import Status
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, OpenChecklist, OpenRunbook, RunAction
from oncall_console.ui.partial import set_border
from oncall_console.ui.screens.panel_filters import PanelFilters
from oncall_console.ui.widgets.alerts import AlertsTable, filter_title
from oncall_console.ui.widgets.header import ConsoleHeader, format_clock
from oncall_console.ui.widgets.health import HealthTable
from oncall_console.ui.widgets.sli import SliCard
from oncall_console.ui.widgets.watchbar import WatchBar

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall
    from oncall_console.engine.state import CheckState


ALERTS_TITLE = "Incidents & alerts"
COMPACT_WIDTH = 100
"""Terminal widths under which the dashboard is compact (console.tcss: -compact)."""


def _starting(count: int, what: str) -> str:
    if not count:
        return "starting…"
    return f"starting {count} {what}{'' if count == 1 else 's'}…"


class Dashboard(PanelFilters):
    BINDINGS = [
        HELP,  # first: the footer is cut from the right at 80 columns
        Binding(
            "a",
            "actions",
            "Actions",
            id="actions",
            tooltip="Actions of the focused row: a check, or the check an alert is about",
        ),
        Binding(
            "d", "detail", "Detail", id="detail", tooltip="Everything known about the selected row"
        ),
        Binding(
            "b",
            "runbook",
            "Runbook",
            id="runbook",
            tooltip="The runbook of the focused row, or a picker of all",
        ),
        # Not in the footer (polling is automatic): at 80 columns the filter key fits.
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="Poll everything now", show=False),
        Binding("h", "handoff", "Handoff", id="handoff", tooltip="The shift handoff report"),
        Binding(
            "i",
            "declare",
            "Declare",
            id="incident.declare",
            tooltip="Declare an incident from the selected alert",
        ),
        Binding(
            "A",
            "acknowledge",
            "Ack",
            id="incident.ack",
            show=False,
            tooltip="Acknowledge the selected incident (asks y)",
        ),
        Binding(
            "z",
            "silence",
            "Silence",
            id="alerts.silence",
            tooltip="Silence the selected alert (or folded group): duration, comment; asks y",
            show=False,  # the alerts panel says it: at 80 columns the footer keeps /
        ),
        Binding(
            "Z", "silences", "Silences", id="silences", show=False, tooltip="Silences in force"
        ),
        # S / E, not s / e: s is an incident's status (one meaning per key).
        Binding("S", "shift('start')", "Start shift", id="shift.start", show=False),
        Binding("E", "shift('end')", "End shift", id="shift.end", show=False),
        # Priority like /: a priority key is read ahead of the plain keys queued before it,
        # so "1/redis" in one burst opened the filter of the panel left behind.
        Binding(
            "1",
            "focus_panel('health', '1')",
            "Health",
            id="focus.health",
            show=False,
            priority=True,
        ),
        Binding(
            "2", "focus_panel('slis', '2')", "SLIs", id="focus.slis", show=False, priority=True
        ),
        Binding(
            "3",
            "focus_panel('alerts', '3')",
            "Alerts",
            id="focus.alerts",
            show=False,
            priority=True,
        ),
        Binding(
            "slash",
            "filter_alerts",
            "Filter",
            id="alerts.filter",
            tooltip="Filter the focused panel: checks by name or reason, alerts by name, "
            "label or summary (esc clears)",
            # Priority: handled before the keys typed after it, so "/disk" in one burst (a
            # paste, a slow link) lands in the filter; its letters reached the panel and
            # the "i" of "disk" asked to declare an incident.
            priority=True,
        ),
        Binding("w", "worst", "Worst", id="worst", show=False, tooltip="Jump to the worst check"),
        Binding(
            "B",
            "runbooks",
            "Runbooks",
            id="runbooks.all",
            show=False,
            tooltip="Every runbook, searchable by title (open any, e.g. a change procedure)",
        ),
        Binding(
            "R",
            "rules",
            "Rules",
            id="rules",
            show=False,
            tooltip="Alerting rules: thresholds, for, severity, state (read-only)",
        ),
        Binding(
            "left_square_bracket",
            "sli_range(-1)",
            "Shorter",
            id="slis.shorter",
            show=False,
            tooltip="SLI sparklines reach back less far (5m, 15m, 1h, 6h)",
        ),
        Binding(
            "right_square_bracket",
            "sli_range(1)",
            "Longer",
            id="slis.longer",
            show=False,
            tooltip="SLI sparklines reach back further (5m, 15m, 1h, 6h)",
        ),
        # The tables open their row on enter themselves; the SLIs panel has no rows, and
        # enter on it did nothing while d showed its detail.
        Binding(
            "enter",
            "detail",
            "Detail",
            id="slis.detail",
            show=False,
            tooltip="SLIs panel: each SLI's thresholds, value and error budget (as d)",
        ),
    ]

    def __init__(self, oncall: OnCall | None = None, *, sketch: Sketch | None = None) -> None:
        """Live on ``console``; or, without one, the frame from ``sketch`` until
        :meth:`attach`. Its keys are shown, and do nothing, until then."""
        super().__init__()
        self._oncall = oncall
        self.sketch = sketch or Sketch()
        self._seen_version = -1
        self._mark = 0  # the engine change log's mark at the last sync
        self._parts: tuple[ConsoleHeader, HealthTable, AlertsTable, list[SliCard]] | None = None
        self._seen_second = -1
        self._seen_slis: str | None = None
        self._sli_range = 300.0
        """Seconds the SLI sparklines reach back ([ / ] change it)."""
        self._first_states: dict[str, CheckState] = {}
        """Rows of the first poll's results, until the engine is attached."""
        self._first_early: list[Any] | None = []  # results before on_mount; None after

    def compose(self) -> ComposeResult:
        # With an engine everything is composed now; from a sketch the widgets the first
        # frame does not show wait for the engine (see _mount_deferred).
        now = self._oncall is not None
        yield ConsoleHeader(id="header")
        with Horizontal(id="top"):
            with Vertical(id="health-panel", classes="panel") as health:
                health.border_title = "Health"
                if now:
                    yield self._health_filter()
                yield HealthTable(id="health")
            with VerticalScroll(id="slis", classes="panel", can_focus=True) as slis:
                slis.border_title = "SLIs"
                if self._oncall is not None:
                    yield from self._sli_cards(self._oncall)
        with Vertical(id="alerts-panel", classes="panel") as alerts:
            alerts.border_title = ALERTS_TITLE
            alerts.border_subtitle = "z silence · Z silences"
            table = AlertsTable(counted=self._alerts_counted, id="alerts")
            if now:
                yield self._alerts_filter(table)
            yield table
        # Composed even from a sketch (one hidden Static): mounted later into the screen
        # itself, it made Textual repaint the whole screen once more.
        yield WatchBar()
        yield Footer()

    @staticmethod
    def _sli_cards(oncall: OnCall) -> list[SliCard]:
        return [SliCard(state, id=f"sli-{state.spec.name}") for state in oncall.slis()]

    @property
    def oncall(self) -> OnCall:
        if self._oncall is None:
            raise RuntimeError("the dashboard has no engine yet (the console is starting)")
        return self._oncall

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < COMPACT_WIDTH, "-compact")

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < COMPACT_WIDTH, "-compact")
        self.query_one(HealthTable).focus()
        # Colours come from theme variables, which are set after the theme changes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.restyle())
        if self._oncall is not None:
            self._slis_titled()
            self._show_engine()
            return
        sketch = self.sketch
        header = self.query_one(ConsoleHeader)
        header.environment = sketch.environment
        header.operator = sketch.who
        header.demo = sketch.demo
        header.read_only = sketch.read_only
        # Counts, not rows: 40 rows of names cost the first frame ~20 ms (a fifth of it).
        self._subtitle("#health-panel", _starting(sketch.checks, "check"))
        self._subtitle("#slis", _starting(sketch.slis, "SLI"))
        self.sync()
        early, self._first_early = self._first_early or [], None
        self.show_first(early)  # results that came before the frame are in it

    async def attach(self, oncall: OnCall) -> None:
        """The engine is built: the frame stays, the SLI cards come in, the rows go live.

        The filter lines the first frame left out are mounted here, in one batch with
        the SLI cards: mounted on their own right after the first frame, their panels
        went down a slow SSH link once more (~10 KB at 120x40)."""
        self._oncall = oncall
        with self.app.batch_update():
            await self._mount_deferred()
            self._subtitle("#health-panel", "")
            await self.query_one("#slis").mount_all(self._sli_cards(oncall))
            self._slis_titled()
            self._show_engine()
        self.refresh_bindings()

    def show_first(self, results: list[Any]) -> None:
        """Results of the first poll (``engine.api.Early``), while the engine is still
        being built: their rows come in as they arrive; the engine takes over on
        :meth:`attach`."""
        if self._oncall is not None or not results:
            return
        if self._first_early is not None:  # not composed yet: on_mount shows them
            return self._first_early.extend(results)
        from collections import deque

        from oncall_console.engine.state import CheckState

        states = self._first_states
        for early in results:
            state = states.get(early.spec.name)
            if state is None:
                state = states[early.spec.name] = CheckState(early.spec, deque(maxlen=1))
            state.record(early.result)
        now = self.app.clock()
        table = self.query_one(HealthTable)
        with self.app.batch_update():
            looked = table.sync(list(states.values()), now, self.app.theme_variables)
            header = self.query_one(ConsoleHeader)
            header.overall = Status.worst(looked)
            header.worst = table.worst() or ""
            self._subtitle("#health-panel", f"{len(states)} of {self.sketch.checks} checks in")

    def _subtitle(self, panel: str, text: str) -> None:
        set_border(self.query_one(panel), subtitle=text)

    def _show_engine(self) -> None:
        # Looked up once: a DOM query on every 50 ms sync was ~6 % of the console's core.
        self._parts = (
            self.query_one(ConsoleHeader),
            self.query_one(HealthTable),
            self.query_one(AlertsTable),
            list(self.query(SliCard)),
        )
        header = self._parts[0]
        settings = self.oncall.settings
        header.environment = settings.environment
        header.operator = settings.operator
        header.demo = settings.demo
        header.read_only = settings.read_only
        desk = self.oncall.incidents
        self.query_one(AlertsTable).know_owners(
            lambda i: desk.cached(i) is not None, self.oncall.incident_source
        )
        self.sync(force=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._oncall is None:
            return None  # starting: shown, disabled
        # A read-only console writes nothing: the keys are not offered.
        return not (action in ("declare", "acknowledge") and self._oncall.settings.read_only)

    # --- keeping the picture current ------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Update what changed since last time; cheap when nothing did."""
        now = self.app.clock()
        if self._oncall is None or self._parts is None:  # starting: only the clock moves
            header = self.query_one(ConsoleHeader)
            header.clock_text = format_clock(now, self.sketch.utc)
            return
        second = int(now)
        full = force or second != self._seen_second
        oncall = self.oncall
        if not full and oncall.version == self._seen_version:
            return
        view = oncall.view(now, checks=full)  # between full syncs: the changed ones only
        self._seen_version, self._seen_second = view.version, second
        variables = self.app.theme_variables
        header, table, alerts, cards = self._parts
        header.clock_text = format_clock(now, oncall.settings.utc)
        with self.app.batch_update():
            # Between the once-a-second full syncs only checks with a new result are
            # looked at; the header may get worse at once, better within the second.
            self._mark, changed = oncall.changed_checks(self._mark)
            looked = table.sync(view.checks, now, variables, full=full, changed=changed)
            header.overall = view.overall(now) if full else Status.worst([header.overall, *looked])
            header.worst = table.worst() or ""
            if full:  # shared probes: whose results these are (a console id: plain text)
                by = oncall.probed_by()
                by_text = Content(clean(f"probed by {by}", limit=60)) if by else ""
                set_border(self.query_one("#health-panel"), subtitle=by_text)
            for card in cards:
                card.sync(now)
            alerts.sync(
                list(view.incidents),
                list(view.alerts),
                {n.key: (n.label, n.text) for n in view.notices},
                now,
                variables,
            )

    def restyle(self) -> None:
        variables = self.app.theme_variables
        self.query_one(HealthTable).restyle(variables)
        self.query_one(AlertsTable).restyle(variables)
        for card in self.query(SliCard):
            card.refresh()
        self.query_one(ConsoleHeader).refresh()
        self.sync(force=True)

    # --- actions ----------------------------------------------------------------------------

    def action_focus_panel(self, which: str, char: str = "") -> None:
        if char and self._typed_into_field(char):
            return
        # At once, not on the next idle (Widget.focus): "3" then "i" typed together must
        # find the alerts panel focused, or i would act on the panel left behind.
        self.set_focus(self.query_one(f"#{which}"))

    def action_refresh(self) -> None:
        self.oncall.refresh()
        self.notify("Polling everything now", timeout=2)

    def action_detail(self) -> None:
        from oncall_console.ui.screens.detail import (
            DetailScreen,
            alert_detail,
            check_detail,
            sli_detail,
        )

        now = self.app.clock()
        oncall = self.oncall
        focused = self.focused
        if isinstance(focused, AlertsTable):
            key = focused.selected_key
            if key is None:
                return
            kind, _, ident = key.partition(":")
            if kind == "incident":
                if oncall.incidents.cached(ident) is not None:
                    from oncall_console.ui.screens.incident import IncidentScreen

                    self.app.push_screen(IncidentScreen(ident))  # ours: worked on here
                    return
                for i in oncall.incident_list():  # a source's: who owns it, how to take over
                    if i.id == ident:
                        self.run_worker(self._source_incident(i, now), group="source-incident")
            elif kind == "group":
                focused.toggle_group(ident)  # enter unfolds (and folds) a group of alerts
            elif kind == "alert":
                for a in oncall.alerts():
                    if a.fingerprint == ident:
                        self.app.push_screen(DetailScreen(f"Alert {a.name}", alert_detail(a, now)))
            return
        if focused is not None and focused.id == "slis":
            bodies = [sli_detail(card.state, now) for card in self.query(SliCard)]
            if bodies:
                self.app.push_screen(DetailScreen("SLIs", Group(*bodies)))
            return
        name = self.query_one(HealthTable).selected_key
        state = oncall.check(name or "")
        if state is not None:
            detail = DetailScreen(f"Check {name}", check_detail(state, now), check=state.spec.name)
            self.app.push_screen(detail)

    def selection(self) -> tuple[str, Any]:
        """What the engineer is looking at: the focused panel's selected row, as
        ("check", CheckState) / ("alert", Alert) / ("incident", Incident) /
        ("sli", None) / ("", None). Keys act on this and nothing else."""
        oncall = self.oncall
        focused = self.focused
        if isinstance(focused, HealthTable):
            state = oncall.check(focused.selected_key or "")
            return ("check", state) if state is not None else ("", None)
        if isinstance(focused, AlertsTable) and focused.selected_key:
            kind, _, ident = focused.selected_key.partition(":")
            if kind == "incident":
                found = next((i for i in oncall.incident_list() if i.id == ident), None)
                return ("incident", found) if found is not None else ("", None)
            fingerprint = focused.alert_key(focused.selected_key)  # an alert, or a group's worst
            alert = next((a for a in oncall.alerts() if a.fingerprint == fingerprint), None)
            return ("alert", alert) if alert is not None else ("", None)
        if focused is not None and focused.id == "slis":
            return ("sli", None)
        return ("", None)

    def action_runbook(self) -> None:
        """The runbook of the focused row, walked in its own scope; a picker when no
        runbook is sure (never a dead end)."""
        kind, row = self.selection()
        if kind == "check":
            self.post_message(OpenRunbook(check=row.spec.name))
        elif kind == "alert":
            self.post_message(OpenRunbook(alert=row.fingerprint))
        elif kind == "incident":
            self.post_message(OpenRunbook(row.id))
        else:
            self.post_message(OpenRunbook(every=True))  # the picker: every runbook

    def action_runbooks(self) -> None:
        """Every runbook, searchable by title: those no alert or check names too."""
        self.post_message(OpenRunbook(every=True))

    def action_handoff(self) -> None:
        from oncall_console.ui.screens.handoff import HandoffScreen

        self.app.push_screen(HandoffScreen())

    def action_rules(self) -> None:
        from oncall_console.ui.screens.rules import RulesScreen

        self.app.push_screen(RulesScreen())

    def action_shift(self, moment: str) -> None:
        self.post_message(OpenChecklist(moment))

    def action_worst(self) -> None:
        """w: to the worst check (the header names it)."""
        table = self.query_one(HealthTable)
        worst = table.worst()
        if worst is None:
            return
        if table.hides(worst):
            if table.status_of(worst) is Status.OK:  # nothing is wrong: the filter stays
                return
            # The filter hides the failing check: cleared, so w always gets there.
            self._clear_health_filter()
        self.set_focus(table)
        table.select(worst)

    def action_sli_range(self, step: int) -> None:
        """[ / ]: the SLI sparklines' time range, one of RANGES, for every card."""
        from oncall_console.ui.widgets.sparkline import RANGES, range_label

        at = RANGES.index(self._sli_range) if self._sli_range in RANGES else 0
        self._sli_range = RANGES[max(0, min(len(RANGES) - 1, at + step))]
        for card in self.query(SliCard):
            card.set_range(self._sli_range)
        self._slis_titled()
        self.notify(f"SLI sparklines: last {range_label(self._sli_range)}", timeout=2)

    def _slis_titled(self) -> None:
        from oncall_console.ui.widgets.sparkline import range_label

        panel = self.query_one("#slis")
        set_border(panel, title=f"SLIs · last {range_label(self._sli_range)}", subtitle="[ ] range")

    def _alerts_counted(self, matched: int, total: int, query: str) -> None:
        panel = self.query_one("#alerts-panel")
        set_border(panel, title=filter_title(ALERTS_TITLE, matched, total, query))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self._oncall is not None:  # enter on a first-frame row: no engine yet (crashed)
            self.action_detail()

    def action_actions(self) -> None:
        """The actions of what the engineer is looking at: the selected check, or the
        check the selected alert is about; the dialog names it."""
        oncall = self.oncall
        kind, row = self.selection()
        state, subject = None, ""
        if kind == "check":
            state, subject = row, row.spec.label
        elif kind in ("alert", "incident"):
            alerts = (
                [row]
                if kind == "alert"
                else [a for a in oncall.alerts() if a.fingerprint in row.alerts]
            )
            for alert in alerts:
                state = oncall.check_for_alert(alert)
                if state is not None:
                    subject = f"{state.spec.label} (alert {alert.name})"
                    break
            if state is None:
                what = f"alert {row.name}" if kind == "alert" else row.id
                self.notify(
                    f"{what} names no check this console watches (by its service, deployment "
                    "or job labels): select the check in Health (1) and press a.",
                    timeout=8,
                )
                return
        else:
            self.notify(
                "Actions act on a check: select one in Health (1) or an alert (3).", timeout=5
            )
            return
        choices = oncall.actions_for(state.spec.backend, state.spec)
        if not choices and oncall.settings.read_only:
            self.notify("Read-only console: actions are refused.", severity="warning")
            return
        self.post_message(
            RunAction(
                subject,
                choices=choices,
                values={"target_name": _target_of(state.spec)},
                about=state.spec.name,
            )
        )


def _target_of(spec: Any) -> str:
    """The name an action's target parameter is prefilled with: the check's own target."""
    params = spec.params
    return str(getattr(params, "target", None) or spec.name)
