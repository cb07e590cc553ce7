"""The health panel: one row per check, only the cells that changed are updated."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping

from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets.data_table import ColumnKey

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


COMPACT_BELOW = 56
"""Table widths under which the latency column folds and names are cut."""
COMPACT_NAME = 16


ADD_PER_SYNC = 500
"""New rows added in one sync; the rest follow in batches, keys answered in between."""

BULK_REMOVE = 64
"""Rows removed in one sync past which the table is built again from those that stay."""

SORT_ALWAYS = 1000
"""Rows up to which the table is re-sorted worst-first on every sync, not once a second."""
SHARED_TEXTS = 4096
"""Distinct shared cells a table keeps made (HealthTable._texts); past this it starts anew."""


class HealthTable(KeyedTable):
    """Checks with status glyph and colour, latency, age of the last result, and the
    reason (the summary), which takes the width the other columns leave. Worst first;
    ``/`` narrows the rows to those whose name or reason contain the typed text."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[str, tuple[object, ...]] = {}
        self._versions: dict[str, int] = {}  # check -> CheckState.version drawn
        self._arrived = 1 << 40  # rows not yet placed by a full sync stand after the rest
        self._order: dict[str, int] = {}
        """Each check's place among equals: as configured once a full sync has seen it
        (until then, in the order it came). A dict, not a
        list: ``name in list`` on every row of every sync was quadratic, ~50 million
        comparisons a second with 10,000 checks (the console could not answer keys)."""
        self._query = ""
        self._hidden: set[str] = set()
        self._unsorted = False
        self._worst: str | None = None
        self._worst_dirty = True
        self._synced_full = True
        self._states: dict[str, CheckState] = {}
        self._leaving: list[str] = []
        self._pending: dict[str, CheckState] = {}  # new rows waiting for the next batch
        self._adding = False
        self._variables: Mapping[str, str] = {}
        self._select_later: str | None = None
        self._chosen = False  # the engineer moved the cursor: it follows its check
        self._placing = False
        self._name_cells: dict[str, Text] = {}
        """Each row's name cell, the object the table holds (the sort knows rows by it)."""
        self._texts: dict[tuple[object, ...], Text] = {}
        """Cells equal across rows (glyph, latency, age, reason) as one Text each, not one a
        row (a Text is ~290 bytes: 10,000 rows kept ~40,000 equal ones, #14 point 3). The
        table only draws a cell's Text; nothing changes one once made."""
        self._now = 0.0
        self.compact = False
        self._painted = False  # the first frame with rows is on the screen
        self._painting = False

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual's layout pass sets each widget's size, then draws the frame, then
        # delivers Resize: fitted on Resize, the first frame at 80x24 showed the wide
        # table (a latency column, the reason cut to 're') and the next one the compact
        # one. Fitted here (and only here: every Resize follows such a change), the
        # frame is drawn with the columns it will keep.
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if changed and self.is_mounted:
            self._fit_reason()
        return changed

    def _fit_reason(self) -> None:
        """The reason column takes what the others leave (it said 're' at 80x24). On a
        narrow panel (80x24: the health panel is ~44 columns) the table goes compact:
        the latency column folds away (the detail view has it) and long names are cut,
        so the reason keeps about 20 columns."""
        if "summary" not in self.columns:
            return
        self._compact_to(self.scrollable_content_region.width < COMPACT_BELOW)
        others = sum(
            c.get_render_width(self) for key, c in self.columns.items() if key.value != "summary"
        )
        free = self.scrollable_content_region.width - others - 2 * self.cell_padding
        column = self.columns[ColumnKey("summary")]
        width = max(12, free)
        if column.width != width or column.auto_width:
            column.auto_width = False
            column.width = width
            # DataTable has no public call to re-measure after a column's width changes;
            # this flag is its own way. Pinned: tests/test_help_keys.py
            # test_the_reason_takes_the_free_width_of_a_wide_terminal fails if it stops working.
            self._require_update_dimensions = True
            self.refresh()

    def _compact_to(self, compact: bool) -> None:
        latency = self.columns[ColumnKey("latency")]
        check = self.columns[ColumnKey("check")]
        if compact:
            longest = max((len(str(facts[1])) for facts in self._cells.values()), default=0)
            name_width = min(max(longest, len("Check")), COMPACT_NAME)
            if self.compact and check.width == name_width:
                return
            latency.label, latency.auto_width, latency.width = Text(""), False, 0
            check.auto_width, check.width = False, name_width
            self._require_update_dimensions = True
        elif self.compact:
            latency.label, latency.auto_width = Text("Latency"), True
            check.auto_width = True
        if compact != self.compact:
            self.compact = compact
            self._require_update_dimensions = True

    def set_filter(self, text: str) -> None:
        """Show only the checks whose name, title or reason contain ``text`` (any case);
        the next sync applies it (the dashboard syncs at once)."""
        self._query = text.strip().casefold()
        self._versions.clear()  # look at every row again

    def _shown(self, name: str, facts: tuple[object, ...]) -> bool:
        if not self._query:
            return True
        return self._query in f"{name} {facts[1]} {facts[4]}".casefold()

    def worst(self) -> str | None:
        """The name of the worst check, shown or hidden by the filter: the header pairs it
        with the overall status (with `/` hiding the failing check, it said "DOWN" and
        named a healthy row). Looked for again after a sync that changed rows; past
        SORT_ALWAYS rows only after the full (once a second) sync, like the order:
        walking 10,000 rows on every 50 ms sync was half a core."""
        if self._worst_dirty and (
            self._synced_full or len(self._cells) <= SORT_ALWAYS or self._worst is None
        ):
            self._worst_dirty = False
            place = self._order
            self._worst = min(
                self._cells,
                key=lambda name: (-self._cells[name][0].rank, place.get(name, 0)),  # type: ignore[attr-defined]
                default=None,
            )
        return self._worst

    def hides(self, name: str) -> bool:
        """Is this check's row hidden by the filter?"""
        return name in self._hidden

    def status_of(self, name: str) -> Status | None:
        """The status this check's row was last drawn with."""
        facts = self._cells.get(name)
        return None if facts is None else facts[0]  # type: ignore[return-value]

    def select(self, name: str) -> None:
        """The cursor to this check's row, now or as soon as its batch is added."""
        if name in self._cells and name not in self._hidden and name not in self._pending:
            self.move_cursor(row=self.get_row_index(name), animate=False)
            self._select_later = None
        else:
            self._select_later = name

    def sync(
        self,
        states: Iterable[CheckState],
        now: float,
        variables: Mapping[str, str],
        full: bool = True,
        changed: Iterable[CheckState] | None = None,
    ) -> list[Status]:
        """Bring the table in line with the engine, touching only what changed; the
        statuses of the rows looked at are returned.

        ``full=False`` looks only at ``changed`` (the checks with a new result, from the
        engine's change log; without it, at every check whose version moved): results
        stream in, a sync every 50 ms while they do. The once-a-second full sync walks
        every check for what the clock alone changes: a row gone stale is rebuilt, the
        others are left as they are, and the ages are redrawn for the rows on screen
        only (and for rows scrolled to, as they come into view). With 10,000 checks,
        rebuilding every row each second held the event loop for longer than a second."""
        statuses: list[Status] = []
        self._now, self._variables = now, variables
        added = 0
        if full or changed is None:
            seen: set[str] = set()
            todo: Iterable[CheckState] = states
        else:
            todo = changed
        moved = False
        versions = self._versions
        cells = self._cells
        order = self._order
        screen: set[str] | None = None
        if not self._painted:
            todo = list(todo)
            screen = self._first_screen(todo, now)
        for index, state in enumerate(todo):
            name = state.spec.name
            if full or changed is None:
                seen.add(name)
                # Rows come as their results do; among equals they stand as configured
                # (the engine's order), which the full sync gives.
                if order.get(name, index) != index:
                    moved = True
                order[name] = index
            old = cells.get(name)
            if old is None:  # a new row: a few hundred a sync, the rest a moment later
                if screen is not None:  # before the first paint: a screenful
                    if name not in screen:
                        self._pending[name] = state
                        continue
                    self._pending.pop(name, None)
                elif added >= ADD_PER_SYNC or name in self._pending:
                    self._pending[name] = state
                    continue
                added += 1
            # Unchanged: the same record (the first poll's rows are other records) at the
            # same version.
            if (
                old is not None
                and versions.get(name) == state.version
                and self._states.get(name) is state
            ):
                if not full:
                    continue
                status = state.status(now)
                if status is old[0]:  # the clock changed only the age: see _refresh_ages
                    continue
            else:
                status = state.status(now)
            versions[name] = state.version
            statuses.append(status)
            moved = self._put(name, state, status, now, variables, old) or moved
        if full or changed is None:
            for gone in set(cells) - seen:
                if gone not in self._hidden:
                    self._leaving.append(gone)
                self._hidden.discard(gone)
                del cells[gone]
                self._name_cells.pop(gone, None)
                versions.pop(gone, None)
                del self._order[gone]
                self._states.pop(gone, None)
        if self._leaving:
            self._remove_rows(self._leaving)
            self._leaving = []
        if screen is not None and not self._painting:
            self._painting = True
            self.call_after_refresh(self._painted_first)
        elif self._pending and not self._adding and self._painted:
            self._adding = True
            self.set_timer(0.01, self._add_pending)
        self._unsorted = self._unsorted or moved
        self._synced_full = full
        if statuses or full:
            self._worst_dirty = True
        # Re-sorted on every sync up to SORT_ALWAYS rows; past that once a second (the full
        # sync): with 10,000 checks a sort on each 50 ms sync was a third of a core.
        if self._unsorted and (full or len(cells) <= SORT_ALWAYS):
            self._unsorted = False
            self._sort_worst_first()
            if self.compact:  # new rows: the cut names may have room to grow
                self._compact_to(True)
        if full:
            self._refresh_ages()
        return statuses

    def _put(
        self,
        name: str,
        state: CheckState,
        status: Status,
        now: float,
        variables: Mapping[str, str],
        old: tuple[object, ...] | None,
    ) -> bool:
        """One check's row made current; True when the order may have changed."""
        if name not in self._order:  # until a full sync says where it is configured
            self._order[name] = self._arrived = self._arrived + 1
        self._states[name] = state
        last = state.last
        facts = (
            status,
            state.spec.label,
            # interned: a few hundred distinct strings, kept by 10,000 rows' facts (1 MB)
            sys.intern(latency(last.latency_ms)) if last else "—",
            sys.intern(format_age(state.age(now), coarse=True)),
            last.summary if last else "waiting for first result",
        )
        shown = self._shown(name, facts)
        if old == facts and shown == (name not in self._hidden):
            return False
        self._cells[name] = facts
        if not shown:
            if name not in self._hidden and old is not None:
                self._leaving.append(name)
            self._hidden.add(name)
            return False
        cells = self._make_cells(facts, variables, self._texts)
        if old is None or name in self._hidden:
            self._hidden.discard(name)
            self.add_row(*cells, key=name)
            self._name_cells[name] = cells[1]
            if name == self._select_later:
                self.call_after_refresh(self.select, name)
            return True
        recolour = old[0] != facts[0]  # the status colours several cells
        for (col, _), before, after, cell in zip(COLUMNS, old, facts, cells, strict=True):
            if recolour or before != after:
                self.update_cell(name, col, cell)
                if col == "check":
                    self._name_cells[name] = cell
        return recolour

    def _first_screen(self, todo: list[CheckState], now: float) -> set[str]:
        """Until the first frame is painted, the new rows it can show: those among a
        screenful of all rows, worst first, then as configured, as the sort will place
        them (200 rows composed before the first paint held the first result back ~25
        ms; the rest come right after it)."""
        ranked = sorted(
            (-state.status(now).rank, n, state.spec.name) for n, state in enumerate(todo)
        )
        room = max(self.size.height, self.app.size.height)
        return {name for _, _, name in ranked[:room] if name not in self._cells}

    def _painted_first(self) -> None:
        self._painted = True
        if self._pending:
            self._add_pending()

    def _add_pending(self) -> None:
        """The next rows of a large start (10,000 checks: adding every row in one sync
        held the console for ~1 s when the engine came in; now keys are answered between
        the batches)."""
        self._adding = False
        states = list(self._pending.values())
        self._pending.clear()
        if states:
            self.sync(states, self._now, self._variables, full=False, changed=states)

    def _remove_rows(self, names: list[str]) -> None:
        """Rows out of the table: a few one by one; many (a filter typed over 10,000
        checks) by building the table again from the rows that stay. DataTable renumbers
        every row on each removal, so removing 9,000 of 10,000 rows one by one held the
        console for 92 s."""
        if len(names) <= BULK_REMOVE:
            for name in names:
                self.remove_row(name)
            return
        leaving = set(names)
        selected = self.selected_key
        staying = [row.key for row in self.ordered_rows if row.key.value not in leaving]
        kept = [(key, self.get_row(key)) for key in staying]
        self.clear()
        for key, cells in kept:
            self.add_row(*cells, key=key.value)
        if selected is not None and selected not in leaving:
            self._place_cursor(selected)

    def _place_cursor(self, name: str) -> None:
        """The cursor back on a check's row after the rows moved (not the engineer's move)."""
        self._placing = True
        try:
            self.move_cursor(row=self.get_row_index(name), animate=False)
        finally:
            self._placing = False

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if not self._placing and old != new:
            self._chosen = True

    def _refresh_ages(self) -> None:
        """The age cells of the rows on screen, as of the last sync's clock (ages move
        in coarse steps). Rows off screen keep an older age until they are scrolled to:
        their data is not drawn, and redrawing 10,000 ages a second was most of a core."""
        if not self.row_count:
            return
        top = int(self.scroll_y)
        height = max(1, self.scrollable_content_region.height)
        now = self._now
        for row in self.ordered_rows[top : top + height + 1]:
            name = row.key.value
            state = self._states.get(name or "")
            facts = self._cells.get(name or "")
            if state is None or facts is None:
                continue
            age = sys.intern(format_age(state.age(now), coarse=True))
            if age != facts[3]:
                self._cells[name] = (*facts[:3], age, facts[4])  # type: ignore[index]
                self.update_cell(name, "age", _right(self._texts, age))  # type: ignore[arg-type]

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if int(old) != int(new):
            self._refresh_ages()

    def _sort_worst_first(self) -> None:
        """Worst first, then as configured; the cursor stays on the same check. Only
        when a status changed or a row came: an unchanged order repaints nothing."""
        place = self._order
        wanted = sorted(
            (k.value for k in self.rows),
            key=lambda name: (-self._cells[name][0].rank, place.get(name, 0)),  # type: ignore[attr-defined]
        )
        current = [row.key.value for row in self.ordered_rows]
        if wanted == current:
            return
        selected = self.selected_key
        # Each row's place, known by its name cell (the very object the table holds): no
        # cell lookup per row (10,000 get_cell calls were a third of a 100 ms sort).
        names = self._name_cells
        place_of = {id(names[name]): n for n, name in enumerate(wanted)}
        self.sort("check", key=lambda cell: place_of.get(id(cell), 0))
        # The cursor follows its check once the engineer has moved it; until then it stays
        # on the top row, the worst. (At start-up every row is "waiting" and sorts above
        # the answered ones: the first row's check sank to row ~9,600 of 10,000 and took
        # the view with it, the failing checks off screen.)
        if selected is not None and selected in place and self._chosen:
            self._place_cursor(selected)

    def restyle(self, variables: Mapping[str, str]) -> None:
        """Re-colour every row (after a theme change)."""
        for name, facts in self._cells.items():
            if name in self._hidden:
                continue
            cells = self._make_cells(facts, variables, self._texts)
            for (col, _), cell in zip(COLUMNS, cells, strict=True):
                self.update_cell(name, col, cell)
            self._name_cells[name] = cells[1]

    @staticmethod
    def _make_cells(
        facts: tuple[object, ...],
        variables: Mapping[str, str],
        texts: dict[tuple[object, ...], Text] | None = None,
    ) -> tuple[Text, ...]:
        """A row's cells; those equal across rows come from ``texts`` (a table's)."""
        status, label, lat, age, summary = facts
        style = status_style(variables, status)  # type: ignore[arg-type]
        texts = {} if texts is None else texts
        marked = style if status.rank >= 1 else ""  # type: ignore[attr-defined]
        return (
            _shared(texts, ("glyph", status, style), lambda: status_glyph(status, variables)),  # type: ignore[arg-type]
            plain(label, 40),
            _right(texts, str(lat)),
            _right(texts, str(age)),
            _shared(
                texts,
                ("reason", str(summary), marked),
                lambda: Text(plain(summary, 120).plain, style=marked, no_wrap=True),
            ),
        )


def _shared(
    texts: dict[tuple[object, ...], Text], key: tuple[object, ...], make: Callable[[], Text]
) -> Text:
    if key not in texts:
        if len(texts) >= SHARED_TEXTS:  # ages and latencies come and go
            texts.clear()
        texts[key] = make()
    return texts[key]


def _right(texts: dict[tuple[object, ...], Text], text: str) -> Text:
    return _shared(texts, ("right", text), lambda: Text(text, justify="right"))
