"""What the console's tables share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from rich.padding import Padding
from rich.style import Style
from rich.text import Text, TextType
from textual._types import SegmentLines
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.renderables.styled import Styled
from textual.widgets import DataTable, OptionList
from textual.widgets._data_table import CellCacheKey
from textual.widgets.data_table import CellType, ColumnKey, Row, RowKey

from oncall_console.ui.widgets.cells import cell_line
from oncall_console.ui.widgets.toasts import place_toasts

VIM_TABLE = [
    Binding("j", "cursor_down", "Down", show=False, id="table.down"),
    Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    Binding("g", "scroll_top", "Top", show=False, id="table.top"),
    Binding("G", "scroll_bottom", "Bottom", show=False, id="table.bottom"),
]
"""j / k / g / G move as they do in vim, less, k9s and lazygit."""


class VimOptionList(OptionList):
    """An option list that also moves with j / k / g / G."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("g", "first", "First", show=False, id="list.first"),
        Binding("G", "last", "Last", show=False, id="list.last"),
    ]


class KeyedTable(DataTable[Text]):
    """A row-cursor table whose rows are known by key (a check name, an alert fingerprint)."""

    BINDINGS = VIM_TABLE

    _one_line_rows = True
    """Every row is one line high, so a row's y is its index (see ``update_cell``)."""
    _labelled_rows = False
    """A row was added with a label: the label column may take width (see ``update_cell``)."""
    _cell_only = False
    """Inside ``update_cell``: DataTable's whole-table ``refresh()`` is left out."""

    _layout = 0
    """Moves when rows come, go or change places; a cell's new value does not move it."""
    _order_at: tuple[int, int] | None = None
    _order_cache: list[Row]
    _lines_at: tuple[int, int] | None = None
    _lines_cache: list[tuple[RowKey, int]]

    CACHED_SCREENS = 3
    """DataTable keeps 1,000 rendered rows and lines and 10,000 rendered cells. With
    10,000 checks whose ages change every second, those caches filled for minutes: the
    console's RSS rose 8 MB and kept rising an hour into a shift (benchmark 5b, with the
    app: +6.4 MB/h -> +0.4 MB/h, 177 -> 169 MB). Here they hold this many screens of
    rows (at least 64 rows), and grow with the table's height."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache_rows(64)

    def add_column(
        self,
        label: TextType,
        *,
        width: int | None = None,
        key: str | None = None,
        default: CellType | None = None,
    ) -> ColumnKey:
        """A column whose label is plain text: DataTable reads a str as Rich markup, and
        that reading loaded Rich's 3,600 emoji codes before the first frame (~3 ms)."""
        text = Text(label) if isinstance(label, str) else label
        return super().add_column(text, width=width, key=key, default=default)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """DataTable's (Textual 8.2), with a one-line cell drawn by ``cells.cell_line``
        where it can (issue #14: ~0.1 -> ~0.015 ms a cell). tests/test_cells.py pins
        DataTable's source: carry any change of Textual's over to here."""
        is_header_cell = row_index == -1
        is_row_label_cell = column_index == -1
        is_fixed_style_cell = (
            not is_header_cell
            and not is_row_label_cell
            and (row_index < self.fixed_rows or column_index < self.fixed_columns)
        )
        row_key = self._header_row_key if is_header_cell else self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cell_cache_key: CellCacheKey = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cell_cache_key)
        if cached is not None:
            return cached
        base_style += Style.from_meta({"row": row_index, "column": column_index})
        row_label, row_cells = self._get_row_renderables(row_index)
        if is_row_label_cell:
            cell = row_label if row_label is not None else ""
        else:
            cell = row_cells[column_index]
        component_style, post_style = self._get_styles_to_render_cell(
            is_header_cell,
            is_row_label_cell,
            is_fixed_style_cell,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        console = self.app.console
        if is_header_cell:
            row_height = self.header_height
            options = self.app.console_options.update_dimensions(width, row_height)
        else:
            # An auto-height row whose height is not measured yet is not given one.
            row = self.rows[row_key]  # type: ignore[index]
            if row.auto_height and row.height == 0:
                row_height = 0
                options = self.app.console_options.update_width(width)
            else:
                row_height = row.height
                options = self.app.console_options.update_dimensions(width, row_height)
        line = None
        if row_height == 1:  # one line high: no wrapping
            options = options.update(no_wrap=True)
            line = cell_line(
                console,
                cell,
                width,
                self.cell_padding,
                base_style + component_style,
                post_style,
                justify=options.justify,
                overflow=options.overflow,
            )
        if line is not None:
            lines: SegmentLines = [line]
        else:
            lines = console.render_lines(
                Styled(
                    Padding(cell, (0, self.cell_padding)),
                    pre_style=base_style + component_style,
                    post_style=post_style,
                ),
                options,
            )
        self._cell_render_cache[cell_cache_key] = lines
        return lines

    def _cache_rows(self, rows: int) -> None:
        for cache in (self._row_render_cache, self._row_renderable_cache, self._line_cache):
            cache.maxsize = rows
        self._cell_render_cache.maxsize = rows * max(8, len(self.columns))

    def on_resize(self) -> None:
        rows = self.CACHED_SCREENS * self.size.height
        if rows > self._line_cache.maxsize:
            self._cache_rows(rows)

    _widths: tuple[int, ...] = ()
    """The column widths rows were last measured at (see ``_update_dimensions``)."""

    def _update_dimensions(self, new_rows: Any) -> None:
        """DataTable measures new rows when its queue is idle, and keeps each rendered
        row under a key that leaves the column widths out. A paint that came between
        ``add_row`` and that idle cached rows cut at the header's widths, and a table of
        fixed size (ours: no resize follows) drew them so until the row changed: an
        alert read "Dis…" for as long as it fired (a CI run, issue #14). When the widths
        move, rows are drawn again."""
        super()._update_dimensions(new_rows)
        widths = (
            self._row_label_column_width,
            *(column.get_render_width(self) for column in self.columns.values()),
        )
        if widths != self._widths:
            self._widths = widths
            self._update_count += 1  # in every render cache's key
            self.refresh()

    def add_row(
        self,
        *cells: CellType,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        if height != 1:
            self._one_line_rows = False
        if label is not None:
            self._labelled_rows = True
        self._layout += 1
        return super().add_row(*cells, height=height, key=key, label=label)

    def remove_row(self, row_key: RowKey | str) -> None:
        self._layout += 1
        super().remove_row(row_key)

    def sort(
        self,
        *columns: ColumnKey | str,
        key: Callable[[Any], Any] | None = None,
        reverse: bool = False,
    ) -> Self:
        self._layout += 1
        return super().sort(*columns, key=key, reverse=reverse)

    def clear(self, columns: bool = False) -> Self:
        self._layout += 1
        return super().clear(columns)

    # DataTable keeps the row order and the line -> row map under a counter that every
    # cell update moves, so after each update the next paint rebuilt both for every row:
    # with 10,000 checks a list of 10,000 rows per frame, most of the console's core
    # while results streamed in (py-spy). Here they are kept until a row comes, goes or
    # moves. Pinned: tests/test_tables.py test_a_cell_update_keeps_the_row_order_cached.

    @property
    def ordered_rows(self) -> list[Row]:
        at = (self.row_count, self._layout)
        if self._order_at != at:
            self._order_cache = DataTable.ordered_rows.fget(self)  # type: ignore[attr-defined]
            self._order_at = at
        return self._order_cache

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        if not self._one_line_rows:
            return DataTable._y_offsets.fget(self)  # type: ignore[attr-defined]
        at = (self.row_count, self._layout)
        if self._lines_at != at:
            self._lines_cache = [(row.key, 0) for row in self.ordered_rows]
            self._lines_at = at
        return self._lines_cache

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        place_toasts(self)  # toasts leave the selected row visible

    def on_focus(self) -> None:
        self.call_after_refresh(place_toasts, self)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Text,
        *,
        update_width: bool = False,
    ) -> None:
        """Change one cell and repaint that cell only.

        DataTable's own ``update_cell`` repaints the whole table, so a latency that moved
        from 3 ms to 5 ms sent every visible row to the terminal again (issue #6: bytes).
        And its ``refresh_coordinate`` finds the cell's y by rebuilding the list of all
        rows, whose cache the update has just invalidated: a poll cycle of 1,000 checks
        cost 1,000 x 1,000 row lookups on the event loop (issue #6, benchmark 3). Rows
        here are one line each, so y is the row's index and off-screen cells cost nothing.

        Public API only: DataTable's ``update_cell`` stores the value (and raises
        ``CellDoesNotExist``); the whole-table ``refresh()`` it ends with is left out (see
        ``refresh``), and the cell's region is refreshed instead. A test pins that what
        reaches ``DataTable.refresh`` is that one region (tests/test_tables.py).
        """
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=True)
            return
        self._cell_only = True
        try:
            super().update_cell(row_key, column_key, value)
        finally:
            self._cell_only = False
        y = self.get_row_index(row_key)  # constant time: a key -> index map
        x = self.get_column_index(column_key)
        if not self._one_line_rows or (self._labelled_rows and self.show_row_labels):
            self.refresh_coordinate(Coordinate(y, x))  # walks the rows: correct, not fast
            return
        top = y + (self.header_height if self.show_header else 0)
        columns = self.ordered_columns
        left = sum(c.get_render_width(self) for c in columns[:x])
        region = Region(left, top, columns[x].get_render_width(self), 1)
        # Off-screen cells refresh nothing; they are drawn from the data when scrolled to.
        if self.window_region.overlaps(region):
            self.refresh(region.translate(-self.scroll_offset))

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._cell_only and not regions and not layout and not recompose:
            return self  # update_cell refreshes the cell's region itself
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
