"""The one screen: health, SLIs, incidents and alerts.

It can open before the config is validated: from a :class:`Sketch` it paints its frame,
the panels saying how many checks and SLIs are starting, and :meth:`Dashboard.attach`
brings the engine later (issue #6: first frame). So this module imports no engine, no
pydantic and no screen that opens later; those are imported where they are used.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Group
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from oncall_console.configfile import Sketch
from oncall_console.model import ActionRequest, ActionSpec, Outcome, Status
from oncall_console.ui.render import notify_error
from oncall_console.ui.widgets.alert_filter import AlertFilter
from oncall_console.ui.widgets.alerts import AlertsTable, filter_title
from oncall_console.ui.widgets.header import ConsoleHeader, format_clock
from oncall_console.ui.widgets.health import HealthTable
from oncall_console.ui.widgets.sli import SliCard

if TYPE_CHECKING:
    from oncall_console.engine import Engine
    from oncall_console.runbooks import ActionBlock
    from oncall_console.ui.app import OncallApp


ALERTS_TITLE = "Incidents & alerts"


def _starting(count: int, what: str) -> str:
    if not count:
        return "starting…"
    return f"starting {count} {what}{'' if count == 1 else 's'}…"


class Dashboard(Screen[None]):
    BINDINGS = [
        Binding(
            "a",
            "actions",
            "Actions",
            id="actions",
            tooltip="Run a remediation action on the selected check",
        ),
        Binding(
            "d", "detail", "Detail", id="detail", tooltip="Everything known about the selected row"
        ),
        Binding(
            "b", "runbook", "Runbook", id="runbook", tooltip="Open the runbook for the selected row"
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
        Binding("s", "shift('start')", "Start shift", id="shift.start", show=False),
        Binding("e", "shift('end')", "End shift", id="shift.end", show=False),
        Binding("1", "focus_panel('health')", "Health", id="focus.health", show=False),
        Binding("2", "focus_panel('slis')", "SLIs", id="focus.slis", show=False),
        Binding("3", "focus_panel('alerts')", "Alerts", id="focus.alerts", show=False),
        Binding(
            "slash",
            "filter_alerts",
            "Filter",
            id="alerts.filter",
            tooltip="Filter the alerts by name, label or summary (esc clears)",
        ),
    ]

    app: OncallApp

    def __init__(self, engine: Engine | None = None, *, sketch: Sketch | None = None) -> None:
        """Live on ``engine``; or, without one, the frame from ``sketch`` until
        :meth:`attach`. Its keys are shown, and do nothing, until then."""
        super().__init__()
        self._engine = engine
        self.sketch = sketch or Sketch()
        self._seen_version = -1
        self._seen_second = -1
        self._seen_slis: str | None = None
        self.told_due: set[tuple[str, str]] = set()
        """(incident, step) already told: each due step is told once per console."""

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        with Horizontal(id="top"):
            with Vertical(id="health-panel", classes="panel") as health:
                health.border_title = "Health"
                yield HealthTable(id="health")
            with VerticalScroll(id="slis", classes="panel", can_focus=True) as slis:
                slis.border_title = "SLIs"
                if self._engine is not None:
                    yield from self._sli_cards(self._engine)
        with Vertical(id="alerts-panel", classes="panel") as alerts:
            alerts.border_title = ALERTS_TITLE
            table = AlertsTable(counted=self._alerts_counted, id="alerts")
            yield AlertFilter(
                on_change=lambda text: table.set_filter(text, self.app.clock()), id="alerts-filter"
            )
            yield table
        yield Footer()

    @staticmethod
    def _sli_cards(engine: Engine) -> list[SliCard]:
        return [SliCard(state, id=f"sli-{state.spec.name}") for state in engine.slis.values()]

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the dashboard has no engine yet (the console is starting)")
        return self._engine

    def on_mount(self) -> None:
        self.query_one(HealthTable).focus()
        # Colours come from theme variables, which are set after the theme changes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.restyle())
        if self._engine is not None:
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

    async def attach(self, engine: Engine) -> None:
        """The engine is built: the frame stays, the SLI cards come in, the rows go live."""
        self._engine = engine
        self._subtitle("#health-panel", "")
        self._subtitle("#slis", "")
        await self.query_one("#slis").mount_all(self._sli_cards(engine))
        self._show_engine()
        self.refresh_bindings()

    def _subtitle(self, panel: str, text: str) -> None:
        self.query_one(panel).border_subtitle = text

    def _show_engine(self) -> None:
        header = self.query_one(ConsoleHeader)
        header.environment = self.engine.loaded.config.console.environment
        header.operator = self.engine.loaded.operator
        header.demo = self.engine.is_demo
        header.read_only = self.engine.read_only
        self.sync(force=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True if self._engine is not None else None  # None: shown, disabled

    # --- keeping the picture current ------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Update what changed since last time; cheap when nothing did."""
        now = self.app.clock()
        if self._engine is None:  # starting: only the clock moves
            header = self.query_one(ConsoleHeader)
            header.clock_text = format_clock(now, self.sketch.utc)
            return
        second = int(now)
        full = force or second != self._seen_second
        if not full and self.engine.version == self._seen_version:
            return
        self._seen_version, self._seen_second = self.engine.version, second
        variables = self.app.theme_variables
        header = self.query_one(ConsoleHeader)
        header.clock_text = format_clock(now, self.engine.loaded.config.console.utc)
        with self.app.batch_update():
            # Between the once-a-second full syncs only checks with a new result are
            # looked at; the header may get worse at once, better within the second.
            looked = self.query_one(HealthTable).sync(
                self.engine.checks.values(), now, variables, full=full
            )
            header.overall = (
                self.engine.overall(now) if full else Status.worst([header.overall, *looked])
            )
            for card in self.query(SliCard):
                card.sync(now)
            self.query_one(AlertsTable).sync(
                self.engine.incidents(),
                self.engine.alerts(),
                self.notices(),
                now,
                variables,
            )
        self.prompt_due(now)

    def prompt_due(self, now: float) -> None:
        """Tell, once, when an open incident's next step falls due (escalate, acknowledge,
        post an update), wherever the operator is looking; the incident screen says more."""
        service = self.engine.incident_service
        for record in list(service.records.values()):
            if not record.is_open:
                continue
            for step in service.steps(record, now):
                key = (record.id, step.key)
                if step.urgent and key not in self.told_due:
                    self.told_due.add(key)
                    self.notify(
                        step.text,
                        title=f"{record.id}: due (enter on it for the incident screen)",
                        severity="warning",
                        timeout=20,
                        markup=False,
                    )

    def notices(self) -> dict[str, tuple[str, str]]:
        """Rows that are not alerts but need eyes: sources down, actions of unknown outcome."""
        found = {
            f"{src}:feed": ("source down", f"{src}: {err}")
            for src, err in self.engine.feed_errors().items()
        }
        if self.engine.store_error:
            found["store:error"] = ("store down", f"store: {self.engine.store_error}")
        bus = self.engine.bus
        if not bus.connected and bus.last_error and bus.last_error != "closed":
            # Otherwise it looks like a working console that nobody else is using.
            found["bus:down"] = (
                "bus down",
                f"bus: {bus.last_error} (other consoles' changes arrive each poll, not live)",
            )
        for r in self.engine.unfinished:
            found[f"audit:{r.id}"] = (
                "outcome unknown",
                f"{r.action} {r.target} by {r.operator or 'someone'} (audit #{r.id}): check it by hand",
            )
        return found

    def restyle(self) -> None:
        variables = self.app.theme_variables
        self.query_one(HealthTable).restyle(variables)
        self.query_one(AlertsTable).restyle(variables)
        for card in self.query(SliCard):
            card.refresh()
        self.query_one(ConsoleHeader).refresh()
        self.sync(force=True)

    # --- actions ----------------------------------------------------------------------------

    def action_focus_panel(self, which: str) -> None:
        self.query_one(f"#{which}").focus()

    def action_refresh(self) -> None:
        self.engine.refresh()
        self.notify("Polling everything now", timeout=2)

    def action_detail(self) -> None:
        from oncall_console.ui.screens.detail import (
            DetailScreen,
            alert_detail,
            check_detail,
            incident_detail,
            sli_detail,
        )

        now = self.app.clock()
        focused = self.focused
        if isinstance(focused, AlertsTable):
            key = focused.selected_key
            if key is None:
                return
            kind, _, ident = key.partition(":")
            if kind == "incident":
                if self.engine.incident_service.cached(ident) is not None:
                    from oncall_console.ui.screens.incident import IncidentScreen

                    self.app.push_screen(IncidentScreen(ident))  # ours: worked on here
                    return
                for i in self.engine.incidents():  # a source's incident: read only
                    if i.id == ident:
                        self.app.push_screen(
                            DetailScreen(f"Incident {i.id}", incident_detail(i, now))
                        )
            elif kind == "group":
                focused.toggle_group(ident)  # enter unfolds (and folds) a group of alerts
            elif kind == "alert":
                for a in self.engine.alerts():
                    if a.fingerprint == ident:
                        self.app.push_screen(DetailScreen(f"Alert {a.name}", alert_detail(a, now)))
            return
        if focused is not None and focused.id == "slis":
            bodies = [sli_detail(card.state, now) for card in self.query(SliCard)]
            if bodies:
                self.app.push_screen(DetailScreen("SLIs", Group(*bodies)))
            return
        name = self.query_one(HealthTable).selected_key
        if name and name in self.engine.checks:
            self.app.push_screen(
                DetailScreen(f"Check {name}", check_detail(self.engine.checks[name], now))
            )

    def action_runbook(self) -> None:
        """The runbook for the selected alert, incident or check, walked in its own scope."""
        service = self.engine.runbooks
        focused = self.focused
        runbook, scope, started = None, "", None
        if isinstance(focused, AlertsTable) and focused.selected_key:
            kind, _, ident = focused.selected_key.partition(":")
            fingerprint = focused.alert_key(focused.selected_key)
            if fingerprint is not None:  # an alert, or a group: its worst alert
                alert = next(
                    (a for a in self.engine.alerts() if a.fingerprint == fingerprint), None
                )
                if alert is not None:
                    runbook, scope, started = (
                        service.for_alert(alert),
                        f"alert {alert.name}",
                        alert.starts_at,
                    )
            elif kind == "incident":
                self.open_incident_runbook(ident)
                return
        else:
            name = self.query_one(HealthTable).selected_key
            if name:
                runbook, scope = service.for_check(name), f"check {name}"
        if runbook is None:
            self.notify("No runbook is linked to this row.", timeout=4)
            return
        from oncall_console.ui.screens.runbook import RunbookScreen  # not on the start-up path

        self.app.push_screen(RunbookScreen(runbook, scope, started_at=started))

    def open_incident_runbook(self, incident_id: str) -> None:
        """The incident's runbook (the one set on it, else the first its alerts name),
        walked in the incident's scope: steps and actions go on its timeline."""
        library = self.engine.runbooks.library
        incident = next((i for i in self.engine.incidents() if i.id == incident_id), None)
        if incident is None:
            return
        record = self.engine.incident_service.cached(incident_id)
        runbook = library.get(record.runbook) if record is not None and record.runbook else None
        if runbook is None:
            alerts = {a.fingerprint: a.name for a in self.engine.alerts()}
            names = [alerts.get(fp, fp) for fp in incident.alerts]
            if record is not None and record.title:
                names.append(record.title.partition(":")[0])
            runbook = next((r for n in names if (r := library.for_alert(n))), None)
        if runbook is None:
            self.notify(f"No runbook is linked to {incident_id}.", timeout=4, markup=False)
            return
        if record is not None and record.runbook != runbook.id:
            # The incident now names the runbook it is walked with (timeline, handoff).
            self.run_worker(self.engine.incident_service.set_runbook(incident_id, runbook.id))
        from oncall_console.ui.screens.runbook import RunbookScreen

        self.app.push_screen(RunbookScreen(runbook, incident_id, started_at=incident.opened_at))

    async def action_declare(self) -> None:
        """An incident from the selected alert: its group's later alerts attach to it."""
        table = self.query_one(AlertsTable)
        fingerprint = table.alert_key(table.selected_key)  # an alert, or a group's worst
        alert = (
            next((a for a in self.engine.alerts() if a.fingerprint == fingerprint), None)
            if fingerprint is not None
            else None
        )
        if alert is None:
            self.notify(
                "Select an alert in the alerts panel (3) to declare its incident.", timeout=5
            )
            return
        try:
            incident = await self.engine.incident_service.declare(from_alert=alert)
        except Exception as exc:
            notify_error(self, "Not declared", exc)
            return
        await self.engine.incident_service.refresh()
        self.notify(
            f"{incident.id} declared ({incident.title})", title="Incident", timeout=6, markup=False
        )
        self.sync(force=True)
        from oncall_console.ui.screens.incident import IncidentScreen

        self.app.push_screen(IncidentScreen(incident.id))

    def action_handoff(self) -> None:
        from oncall_console.ui.screens.handoff import HandoffScreen

        self.app.push_screen(HandoffScreen())

    def shift_scope(self) -> str:
        """Shift checklists are kept per day, so tomorrow's shift starts with a clean list."""
        return "shift " + time.strftime("%Y-%m-%d", time.localtime(self.app.clock()))

    def action_shift(self, moment: str) -> None:
        from oncall_console.runbooks import ShiftMoment

        when = ShiftMoment.START if moment == "start" else ShiftMoment.END
        found = self.engine.runbooks.library.for_shift(when)
        if not found:
            self.notify(f"No {when.value} runbook is configured.", timeout=4)
            return
        from oncall_console.ui.screens.runbook import RunbookScreen

        self.app.push_screen(RunbookScreen(found[0], self.shift_scope()))

    # --- the alerts filter ------------------------------------------------------------------

    def action_filter_alerts(self) -> None:
        self.query_one(AlertFilter).open()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, AlertFilter):  # enter keeps the filter and walks the rows
            self.query_one(AlertsTable).focus()

    def on_alert_filter_closed(self, event: AlertFilter.Closed) -> None:
        self.query_one(AlertsTable).focus()

    def _alerts_counted(self, matched: int, total: int, query: str) -> None:
        panel = self.query_one("#alerts-panel")
        panel.border_title = filter_title(ALERTS_TITLE, matched, total, query)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_actions(self) -> None:
        if self.engine.read_only:
            self.notify("Read-only console: actions are refused.", severity="warning")
            return
        name = self.query_one(HealthTable).selected_key
        state = self.engine.checks.get(name or "")
        if state is None:
            return
        choices = self.engine.runner.available(state.spec.backend)
        if not choices:
            self.notify(f"No actions for {name}.", severity="warning", markup=False)
            return
        self.run_action_flow(state.spec.label, choices, _target_of(state.spec))

    @work(exclusive=True, group="action")
    async def run_action_flow(self, subject: str, choices: list[Any], target: str) -> None:
        from oncall_console.ui.screens.actions import ActionPicker

        picked = await self.app.push_screen_wait(ActionPicker(subject, choices))
        if picked is None:
            return
        backend, spec = picked
        # The check's own name fills the target only when the target is a name (a service,
        # a deployment); every other parameter is asked for, so patterns can be typed.
        target_spec = next((p for p in spec.params if p.name == spec.target_param), None)
        values: dict[str, Any] = {}
        if target_spec is not None and target_spec.kind == "name":
            values[spec.target_param] = target
        await self.confirm_and_run(backend, spec, values, ask=())

    @work(exclusive=True, group="action")
    async def run_runbook_action(
        self, block: ActionBlock, on_done: Any = None, scope: str = ""
    ) -> None:
        """A runbook's action block: same path, its params as the suggestion."""
        from oncall_console.engine import ActionRefused

        try:
            spec = self.engine.runner.spec_for(ActionRequest(block.backend, block.action))
        except ActionRefused as exc:
            notify_error(self, "Refused", exc)
            return
        ok = await self.confirm_and_run(
            block.backend, spec, dict(block.params), ask=block.ask, scope=scope
        )
        if on_done is not None:
            await on_done(ok)

    async def confirm_and_run(
        self,
        backend: str,
        spec: ActionSpec,
        values: dict[str, Any],
        ask: tuple[str, ...],
        scope: str = "",
    ) -> bool:
        """Params (when any is missing or asked) -> preview -> confirm -> run. True if it ran."""
        from oncall_console.engine import ActionRefused
        from oncall_console.ui.screens.actions import ConfirmAction, ParamsForm, result_text

        if ask or any(p.name not in values for p in spec.params):
            filled = await self.app.push_screen_wait(ParamsForm(spec, values))
            if filled is None:
                return False
            values = {k: v for k, v in filled.items() if v != ""}
        request = ActionRequest(backend, spec.id, values, self.engine.loaded.operator)
        try:
            prepared = await self.engine.runner.prepare(request)
        except ActionRefused as exc:
            notify_error(self, "Refused", exc)
            return False
        answer = await self.app.push_screen_wait(ConfirmAction(prepared))
        if answer is None:
            self.notify("Cancelled: nothing was done.", timeout=3)
            return False
        # Run inside the incident's scope (when there is one): the timeline records it.
        result = await self.engine.execute(prepared, answer, scope=scope)
        ok = result.outcome is Outcome.SUCCEEDED
        self.notify(
            result_text(result).plain,
            title=spec.title,
            severity="information" if ok else "error",
            timeout=10,
            markup=False,
        )
        self.sync(force=True)
        return ok


def _target_of(spec: Any) -> str:
    """The name an action's target parameter is prefilled with: the check's own target."""
    params = spec.params
    return str(getattr(params, "target", None) or spec.name)
