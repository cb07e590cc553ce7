"""What the console's tables share."""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey


class KeyedTable(DataTable[Text]):
    """A row-cursor table whose rows are known by key (a check name, an alert fingerprint)."""

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
        self.refresh_coordinate(Coordinate(y, x))
