"""The dashboard's filter lines (``/``: the Health panel by name or reason, else the
alerts) and the widgets its first frame leaves out.

A mixin of :class:`~oncall_console.ui.screens.dashboard.Dashboard`: it uses the
dashboard's ``oncall``, ``sync`` and ``_alerts_counted``. From a sketch (the console
still starting) the two filter lines are not composed with the first frame (issue
#14): they are mounted into their panels when the engine is attached.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.widget import MountError
from textual.widgets import Input

from oncall_console.ui.partial import set_border
from oncall_console.ui.screens.alert_keys import AlertPanelKeys
from oncall_console.ui.widgets.alert_filter import AlertFilter
from oncall_console.ui.widgets.alerts import AlertsTable, filter_title
from oncall_console.ui.widgets.health import HealthTable

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall


class PanelFilters(AlertPanelKeys):
    """``/`` and its two filter lines, mounted after the first frame."""

    _oncall: OnCall | None
    _deferred: asyncio.Event | None = None
    """Set once the widgets the first frame leaves out are mounted (_mount_deferred)."""

    def _health_filter(self) -> AlertFilter:
        return AlertFilter(
            on_change=self._health_filtered,
            placeholder="filter checks: name or reason (esc clears)",
            back_to="#health",
            id="health-filter",
        )

    def _alerts_filter(self, table: AlertsTable) -> AlertFilter:
        return AlertFilter(
            on_change=lambda text: table.set_filter(text, self.app.clock()),
            back_to="#alerts",
            id="alerts-filter",
        )

    async def _mount_deferred(self) -> None:
        """The two filter lines, hidden until used, mounted with the engine, not in the
        first frame: their styles, composition and mounting were ~10 ms of it (issue
        #14). Each goes into its panel, so Textual repaints that panel, not the whole
        screen. Idempotent; a caller that comes while they are being mounted waits."""
        if self._deferred is not None:
            await self._deferred.wait()
            return
        self._deferred = asyncio.Event()
        try:
            await self._mount_hidden()
        except MountError:  # the app is closing (a refused config): nothing to show
            pass
        finally:
            self._deferred.set()

    async def _mount_hidden(self) -> None:
        if not self.query("#health-filter"):
            await self.query_one("#health-panel").mount(
                self._health_filter(), before=self.query_one(HealthTable)
            )
        if not self.query("#alerts-filter"):
            table = self.query_one(AlertsTable)
            await self.query_one("#alerts-panel").mount(self._alerts_filter(table), before=table)

    def _typed_into_field(self, char: str) -> bool:
        """A priority key typed in a filter or a field is text: inserted there."""
        if isinstance(self.focused, Input):
            self.focused.insert_text_at_cursor(char)
            return True
        return False

    async def action_filter_alerts(self) -> None:
        """/ filters the focused panel: Health (by name or reason), else the alerts."""
        if self._typed_into_field("/"):
            return
        await self._mount_deferred()  # "/" while attach() is still mounting them
        if isinstance(self.focused, HealthTable):
            self.query_one("#health-filter", AlertFilter).open()
        else:
            self.query_one("#alerts-filter", AlertFilter).open()

    def _clear_health_filter(self) -> None:
        for box in self.query("#health-filter").results(AlertFilter):
            box.action_close()

    def _health_filtered(self, text: str) -> None:
        table = self.query_one(HealthTable)
        table.set_filter(text)
        if self._oncall is not None:
            self.sync(force=True)
        panel = self.query_one("#health-panel")
        shown, total = table.row_count, len(self.oncall.checks()) if self._oncall else 0
        set_border(panel, title=filter_title("Health", shown, total, text.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, AlertFilter):  # enter keeps the filter and walks the rows
            target = HealthTable if event.input.id == "health-filter" else AlertsTable
            self.set_focus(self.query_one(target))

    def on_alert_filter_closed(self, event: AlertFilter.Closed) -> None:
        target = HealthTable if event.filter_id == "health-filter" else AlertsTable
        self.set_focus(self.query_one(target))
