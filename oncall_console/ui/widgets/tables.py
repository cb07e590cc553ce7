"""What the console's tables share."""

from __future__ import annotations

from rich.text import Text, TextType
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, CellType, ColumnKey, RowKey


class KeyedTable(DataTable[Text]):
    """A row-cursor table whose rows are known by key (a check name, an alert fingerprint)."""

    _one_line_rows = True
    """Every row is one line high, so a row's y is its index (see ``update_cell``)."""

    def add_row(
        self,
        *cells: CellType,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        if height != 1:
            self._one_line_rows = False
        return super().add_row(*cells, height=height, key=key, label=label)

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
        """
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=True)
            return
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        y = self._row_locations.get(row)
        x = self._column_locations.get(column)
        if y is None or x is None:
            raise CellDoesNotExist(f"No cell exists for row_key={row!r}, column_key={column!r}.")
        self._data[row][column] = value
        self._update_count += 1  # the key of DataTable's render caches
        if not self._one_line_rows:
            self.refresh_coordinate(Coordinate(y, x))
            return
        top = y + (self.header_height if self.show_header else 0)
        columns = self.ordered_columns
        left = self._row_label_column_width + sum(c.get_render_width(self) for c in columns[:x])
        # Off-screen cells refresh nothing; they are drawn from the data when scrolled to.
        self._refresh_region(Region(left, top, columns[x].get_render_width(self), 1))
