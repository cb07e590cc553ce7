"""KeyedTable.update_cell: one cell stored through DataTable's public update_cell, and
only that cell's region repainted, placed without walking the rows.

These tests pin what the widget relies on in Textual (any 8.x): that
``DataTable.update_cell`` ends in a bare whole-table ``refresh()`` (KeyedTable leaves it
out and refreshes the cell instead), and where a one-line row's cell stands. If Textual
changes either, a test here fails rather than the console repainting every row (or the
wrong cell) on each poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Offset, Region
from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from oncall_console.ui.widgets.tables import KeyedTable

WIDTHS = {"a": 6, "b": 10, "c": 8}
ROWS = 200


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table = KeyedTable(cursor_type="row")
        for key, width in WIDTHS.items():
            table.add_column(key, key=key, width=width)
        for n in range(ROWS):
            table.add_row(*(Text(f"{k}{n}") for k in WIDTHS), key=f"r{n}")
        yield table


def cell_region(table: KeyedTable, row: int, column: str) -> Region:
    """Where the cell stands on the widget, by DataTable's own (slow) reckoning."""
    x = list(WIDTHS).index(column)
    return table._get_cell_region((row, x)).translate(-table.scroll_offset)  # type: ignore[arg-type]


@pytest.fixture
async def mounted() -> AsyncIterator[tuple[KeyedTable, Pilot[None]]]:
    """A table of ROWS rows in a 60x20 app, settled, and the app's pilot."""
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        yield app.query_one(KeyedTable), pilot


@pytest.fixture
def refreshed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Region, ...], dict]]:
    """Every call that reaches DataTable.refresh (past KeyedTable's own)."""
    calls: list[tuple[tuple[Region, ...], dict]] = []
    original = DataTable.refresh

    def spy(self, *regions, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((regions, kwargs))
        return original(self, *regions, **kwargs)

    monkeypatch.setattr(DataTable, "refresh", spy)
    return calls


async def test_one_cell_is_stored_and_only_its_region_repainted(mounted, refreshed):
    table, pilot = mounted
    refreshed.clear()
    table.update_cell("r3", "b", Text("new"))
    assert refreshed == [
        ((cell_region(table, 3, "b"),), {"repaint": True, "layout": False, "recompose": False})
    ]
    assert refreshed[0][0][0] == Region(6 + 2, 1 + 3, 10 + 2, 1)  # cell padding 1 a side
    assert table.get_cell("r3", "b").plain == "new"
    await pilot.pause()
    assert "new" in table.render_line(1 + 3).text


async def test_an_off_screen_cell_repaints_nothing_and_is_drawn_when_scrolled_to(
    mounted, refreshed
):
    table, pilot = mounted
    refreshed.clear()
    table.update_cell("r150", "c", Text("later"))
    assert refreshed == []
    table.scroll_to(y=140, animate=False)
    await pilot.pause()
    assert table.scroll_offset == Offset(0, 140)
    refreshed.clear()
    table.update_cell("r145", "a", Text("seen"))
    assert [r for r, _ in refreshed] == [(cell_region(table, 145, "a"),)]
    assert refreshed[0][0][0].y == 1 + 145 - 140
    table.scroll_to(y=145, animate=False)
    await pilot.pause()
    assert "later" in table.render_line(1 + 150 - 145).text


async def test_placing_a_cell_does_not_walk_the_rows(mounted, monkeypatch):
    table, _ = mounted

    def walked(self):  # type: ignore[no-untyped-def]
        raise AssertionError("update_cell walked every row")

    monkeypatch.setattr(DataTable, "ordered_rows", property(walked))
    table.update_cell("r7", "c", Text("fast"))
    monkeypatch.undo()
    assert table.get_cell("r7", "c").plain == "fast"


async def test_a_missing_cell_is_refused_and_width_updates_repaint_the_table(mounted, refreshed):
    table, _ = mounted
    with pytest.raises(CellDoesNotExist):
        table.update_cell("nope", "a", Text("x"))
    with pytest.raises(CellDoesNotExist):
        table.update_cell("r1", "nope", Text("x"))
    refreshed.clear()
    table.update_cell("r1", "a", Text("a much longer value"), update_width=True)
    assert [r for r, _ in refreshed] == [()]  # DataTable's own whole-table refresh
    assert table.get_cell("r1", "a").plain == "a much longer value"


async def test_a_cell_update_keeps_the_row_order_cached(mounted, monkeypatch):
    """DataTable rebuilds its row order and its line -> row map after every cell update
    (both are cached under a counter each update moves): with 10,000 checks, a list of
    10,000 rows per frame. KeyedTable keeps them until a row comes, goes or moves."""
    table, pilot = mounted
    rows, offsets = table.ordered_rows, table._y_offsets

    def walked(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the row order was rebuilt after a cell update")

    monkeypatch.setattr(DataTable, "ordered_rows", property(walked))
    for n in range(20):
        table.update_cell(f"r{n}", "a", Text(f"new{n}"))
    assert table.ordered_rows is rows and table._y_offsets is offsets
    await pilot.pause()  # a frame is painted from them
    assert "new1" in table.render_line(1 + 1).text
    monkeypatch.undo()

    def order() -> list[str]:  # DataTable's own reckoning, uncached
        return [row.key.value for row in DataTable.ordered_rows.fget(table)]  # type: ignore[attr-defined]

    table.sort("a", key=lambda text: text.plain, reverse=True)
    assert [r.key.value for r in table.ordered_rows] == order()
    assert [key.value for key, _ in table._y_offsets] == order()
    table.remove_row("r5")
    table.add_row(*(Text("zz") for _ in WIDTHS), key="added")
    assert [r.key.value for r in table.ordered_rows] == order()
    assert len(table._y_offsets) == ROWS and table._y_offsets[-1][0].value == "added"
    table.clear()
    assert table.ordered_rows == [] and table._y_offsets == []


async def test_render_caches_hold_a_few_screens_not_a_thousand_rows():
    # DataTable's 1,000-row / 10,000-cell caches filled for minutes at 10,000 checks whose
    # ages change every second: RSS +8 MB and a creep an hour into a shift (bench 5b).
    app = TableApp()
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one(KeyedTable)
        for n in range(ROWS):  # every row drawn once, each with a new value
            table.update_cell(f"r{n}", "a", Text(f"new{n}"))
            table.move_cursor(row=n)
            if n % 10 == 0:
                await pilot.pause()
        await pilot.pause()
        small = table._line_cache.maxsize
        assert small < ROWS and len(table._line_cache) <= small
        assert len(table._cell_render_cache) <= table._cell_render_cache.maxsize < 10 * ROWS
        await pilot.resize_terminal(40, 60)  # a taller screen: the caches grow with it
        await pilot.pause()
        assert table._line_cache.maxsize > small


class FixedTableApp(App[None]):
    """One table of fixed size, as the console's panels are: a row coming in resizes
    nothing, so no resize event redraws it."""

    CSS = "KeyedTable { height: 1fr; width: 1fr; }"

    def compose(self) -> ComposeResult:
        table = KeyedTable(cursor_type="row")
        table.add_column("Sev", key="sev")
        table.add_column("What", key="what")
        yield table


def line_text(table: KeyedTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


async def test_a_row_painted_before_it_was_measured_is_drawn_again_at_its_widths():
    # DataTable measures new rows when its queue is idle. A paint in between (a loaded
    # CI run) cached the row cut at the header's widths, and a fixed-size table showed
    # "SEV  Dis…" for as long as the alert fired: the test looking for DiskUsageHigh
    # never saw it.
    app = FixedTableApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(KeyedTable)
        await pilot.pause()
        table.add_row(Text("SEV4"), Text("DiskUsageHigh: postgres volume"), key="a")
        assert "DiskUsageHigh" not in line_text(table, 1)  # painted before the idle
        await pilot.pause()
        assert [c.content_width for c in table.ordered_columns] == [4, 30]
        assert "SEV4  DiskUsageHigh: postgres volume" in line_text(table, 1)
