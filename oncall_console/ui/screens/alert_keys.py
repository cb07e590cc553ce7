"""The alerts panel's own keys on the dashboard (issue #15, point 6): silence the selected
alert (z), the silences in force (Z), acknowledge the selected incident (A), declare an
incident from the selected alert (i), and a source's incident with who owns it and how
to take it over (enter, then t).

A mixin of :class:`~oncall_console.ui.screens.dashboard.Dashboard`: it uses the
dashboard's ``selection()`` and ``oncall``, and starts actions the one way, by posting
``RunAction``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from oncall_console.ui.render import notify_error
from oncall_console.ui.widgets.alerts import AlertsTable

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall


class AlertPanelKeys(Screen[None]):
    """z, Z and A on the alerts panel; a source's incident opened from it."""

    @property
    def oncall(self) -> OnCall:
        raise NotImplementedError

    def selection(self) -> tuple[str, Any]:
        raise NotImplementedError

    def sync(self, force: bool = False) -> None:
        raise NotImplementedError

    async def action_declare(self) -> None:
        """An incident from the selected alert, once the engineer has read what it will
        declare: its group's later alerts attach to it."""
        kind, row = self.selection()
        if kind == "incident":
            self.notify(f"{row.id} is already declared: enter opens it.", timeout=5)
            return
        if kind != "alert":
            self.notify(
                "Declaring starts from an alert: select one in the alerts panel (3).", timeout=5
            )
            return
        self.run_worker(self._declare(row), exclusive=True, group="declare")

    async def _declare(self, alert: Any) -> None:
        from oncall_console.ui.screens.prompts import YesNoPrompt

        oncall = self.oncall
        group = [a for a in oncall.alerts() if alert.group and a.group == alert.group]
        more = f"; {len(group) - 1} more alerts of its group attach" if len(group) > 1 else ""
        yes = await self.app.push_screen_wait(
            YesNoPrompt(
                f"Declare an incident · alert {alert.name}",
                f"Declare a {alert.severity.label} incident from {alert.name}: "
                f"{alert.summary}{more}. Then its screen opens.",
            )
        )
        if not yes:
            self.notify("Not declared.", timeout=3)
            return
        try:
            incident = await oncall.incidents.declare(from_alert=alert)
        except Exception as exc:
            notify_error(self, "Not declared", exc)
            return
        await oncall.incidents.refresh()
        self.notify(f"{incident.id} declared ({incident.title})", title="Incident", timeout=6)
        self.sync(force=True)
        from oncall_console.ui.screens.incident import IncidentScreen

        self.app.push_screen(IncidentScreen(incident.id))

    def palette_commands(self) -> list[tuple[str, str, Any]]:
        """(title with its key, help, callback) for the command palette."""
        out = [
            ("Runbooks  (B)", "Every runbook, searchable by title", self.action_runbooks),
            ("Alert rules  (R)", "Rules, thresholds and state, read-only", self.action_rules),
            ("Silences in force  (Z)", "Every silence now; X expires one", self.action_silences),
            ("SLI range: longer  (])", "5m, 15m, 1h, 6h", lambda: self.run_action("sli_range(1)")),
            (
                "SLI range: shorter  ([)",
                "6h, 1h, 15m, 5m",
                lambda: self.run_action("sli_range(-1)"),
            ),
        ]
        if not self.oncall.settings.read_only:
            out += [
                ("Silence the alert  (z)", "The selected alert or group", self.action_silence),
                ("Acknowledge  (A)", "The selected incident, after a y", self.action_acknowledge),
            ]
        return out

    async def _source_incident(self, incident: Any, now: float) -> None:
        from oncall_console.ui.screens.incident import IncidentScreen
        from oncall_console.ui.screens.source_incident import SourceIncidentScreen, take_over

        source = self.oncall.incident_source(incident.id)
        if await self.app.push_screen_wait(SourceIncidentScreen(incident, source, now)) != "take":
            return
        taken = await take_over(self, incident, source)
        if taken is not None:
            self.sync(force=True)
            self.app.push_screen(IncidentScreen(taken))

    def action_silence(self) -> None:
        """z: silence what the selected alert row stands for (an alert, a folded group)."""
        from oncall_console.ui.screens.silences import silence_ask

        table = self.focused
        kind, row = self.selection()
        if kind != "alert" or not isinstance(table, AlertsTable):
            self.notify("Silencing starts from an alert: select one in the alerts panel (3).")
            return
        group = table.group_of(table.selected_key)
        alerts = group or [row]
        subject = f"alert {row.name} ×{len(alerts)}" if group else f"alert {row.name}"
        ask = silence_ask(self.oncall, alerts, subject)
        if isinstance(ask, str):
            self.notify(ask, timeout=6)
            return
        ask.reply_to = self
        self.post_message(ask)

    def action_acknowledge(self) -> None:
        """A on an incident row: acknowledge it here (asks y; the toast names it)."""
        kind, row = self.selection()
        if kind != "incident":
            self.notify("A acknowledges an incident; an alert is silenced (z) or declared (i).")
        elif self.oncall.incidents.cached(row.id) is None:
            self.notify(f"{row.id} is a source's: enter says who owns it, t takes it over.")
        else:
            self.run_worker(self._acknowledge(row.id), group="incident", exclusive=True)

    async def _acknowledge(self, incident_id: str) -> None:
        from oncall_console.ui.screens.incident import acknowledge

        if await acknowledge(self, incident_id):
            await self.oncall.incidents.refresh()
            self.sync(force=True)

    def action_silences(self) -> None:
        from oncall_console.ui.screens.silences import SilencesScreen

        self.app.push_screen(SilencesScreen())

    def on_action_finished(self, event: Any) -> None:
        if event.succeeded:  # a silence: the alerts' state and the list come with a poll
            self.oncall.refresh()
