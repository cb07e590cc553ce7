"""Incidents first, then active alerts: severity, what, state, age."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from oncall_console.durations import format_age
from oncall_console.model import Alert, Incident, Severity
from oncall_console.ui.render import colour, plain, severity_text
from oncall_console.ui.widgets.tables import KeyedTable

# "What" comes last but one: at 80 columns it is the one that gets cut, not the state.
COLUMNS = (
    ("sev", "Sev"),
    ("age", "Age"),
    ("state", "State"),
    ("what", "What"),
    ("source", "Source"),
)


class AlertsTable(KeyedTable):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, tuple[object, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def sync(
        self,
        incidents: list[Incident],
        alerts: list[Alert],
        notices: Mapping[str, tuple[str, str]],
        now: float,
        variables: Mapping[str, str],
    ) -> None:
        rows: dict[str, tuple[object, ...]] = {}
        for i in incidents:
            rows[f"incident:{i.id}"] = (
                i.severity,
                format_age(now - i.opened_at),
                i.status.value,
                f"{i.id} {i.title}",
                "incident",
            )
        for a in alerts:
            rows[f"alert:{a.fingerprint}"] = (
                a.severity,
                format_age(now - a.starts_at),
                a.state.value,
                f"{a.name}: {a.summary}" if a.summary else a.name,
                a.source,
            )
        for key, (state, text) in notices.items():
            rows[f"notice:{key}"] = (None, "", state, text, key.partition(":")[0])
        order = list(rows)
        if order != self._order:
            # Rows came or went: rebuild, keeping the cursor on the same key when possible.
            # Someone reading the list keeps their row; otherwise the top (worst) row is selected.
            keep = self.selected_key if self.has_focus else None
            self.clear()
            for key, facts in rows.items():
                self.add_row(*self._make_cells(facts, variables), key=key)
            self.move_cursor(row=order.index(keep) if keep in rows else 0)
        else:
            for key, facts in rows.items():
                old = self._rows.get(key)
                if old == facts:
                    continue
                for (col, _), before, after, cell in zip(
                    COLUMNS, old or (), facts, self._make_cells(facts, variables), strict=False
                ):
                    if before != after:
                        self.update_cell(key, col, cell)
        self._rows, self._order = rows, order

    def restyle(self, variables: Mapping[str, str]) -> None:
        """Force a rebuild on the next sync (after a theme change)."""
        self._order, self._rows = [], {}

    @staticmethod
    def _make_cells(facts: tuple[object, ...], variables: Mapping[str, str]) -> tuple[Text, ...]:
        sev, age, state, what, source = facts
        sev_cell = (
            severity_text(sev, variables)
            if isinstance(sev, Severity)
            else Text("ERR", style=colour(variables, "status-down"))
        )
        return (
            sev_cell,
            Text(str(age), justify="right"),
            plain(state, 30),
            plain(what, 200),
            plain(source, 40),
        )
