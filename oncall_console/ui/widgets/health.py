"""The health panel: one row per check, only the cells that changed are updated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text

from oncall_console.durations import format_age
from oncall_console.engine.state import CheckState
from oncall_console.fmt import latency
from oncall_console.model import Status
from oncall_console.ui.render import plain, status_glyph, status_style
from oncall_console.ui.widgets.tables import KeyedTable

COLUMNS = (
    ("st", " "),
    ("check", "Check"),
    ("latency", "Latency"),
    ("age", "Age"),
    ("summary", "Summary"),
)


class HealthTable(KeyedTable):
    """Checks with status glyph and colour, latency, age of the last result, summary."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[str, tuple[object, ...]] = {}
        self._versions: dict[str, int] = {}  # check -> CheckState.version drawn

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def sync(
        self,
        states: Iterable[CheckState],
        now: float,
        variables: Mapping[str, str],
        full: bool = True,
    ) -> list[Status]:
        """Bring the table in line with the engine, touching only what changed; the
        statuses of the rows looked at are returned. ``full=False`` looks only at checks
        with a new result: results stream in (a repaint every 50 ms while they do), and
        walking 1,000 rows each time held keys back; ages and staleness move with the
        clock, so the once-a-second sync is full."""
        seen: set[str] = set()
        statuses: list[Status] = []
        versions = self._versions
        for state in states:
            name = state.spec.name
            seen.add(name)
            if not full and versions.get(name) == state.version:
                continue
            versions[name] = state.version
            status = state.status(now)
            statuses.append(status)
            last = state.last
            summary = last.summary if last else "waiting for first result"
            facts = (
                status,
                state.spec.label,
                latency(last.latency_ms) if last else "—",
                format_age(state.age(now), coarse=True),
                summary,
            )
            old = self._cells.get(name)
            if old == facts:
                continue
            cells = self._make_cells(facts, variables)
            if old is None:
                self.add_row(*cells, key=name)
            else:
                recolour = old[0] != facts[0]  # the status colours several cells
                for (col, _), before, after, cell in zip(COLUMNS, old, facts, cells, strict=True):
                    if recolour or before != after:
                        self.update_cell(name, col, cell)
            self._cells[name] = facts
        for gone in set(self._cells) - seen:
            self.remove_row(gone)
            del self._cells[gone]
            versions.pop(gone, None)
        return statuses

    def restyle(self, variables: Mapping[str, str]) -> None:
        """Re-colour every row (after a theme change)."""
        for name, facts in self._cells.items():
            for (col, _), cell in zip(COLUMNS, self._make_cells(facts, variables), strict=True):
                self.update_cell(name, col, cell)

    @staticmethod
    def _make_cells(facts: tuple[object, ...], variables: Mapping[str, str]) -> tuple[Text, ...]:
        status, label, lat, age, summary = facts
        style = status_style(variables, status)  # type: ignore[arg-type]
        return (
            status_glyph(status, variables),  # type: ignore[arg-type]
            plain(label, 40),
            Text(str(lat), justify="right"),
            Text(str(age), justify="right"),
            Text(plain(summary, 120).plain, style=style if status.rank >= 1 else "", no_wrap=True),  # type: ignore[attr-defined]
        )
