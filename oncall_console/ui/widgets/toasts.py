"""Toasts never cover the selected row (issue #15, point 7).

Textual stacks toasts at the bottom right. At 80x24 that is the alerts panel, so a toast
hid the very row a key would act on. The focused table says where its cursor row is on
the screen; the toasts go to the other half (``ToastRack.-top`` in console.tcss)."""

from __future__ import annotations

from textual.css.query import NoMatches
from textual.widgets import DataTable
from textual.widgets._toast import ToastRack  # the rack each screen holds


def cursor_y(table: DataTable[object]) -> int | None:
    """The screen line of the table's cursor row (None when it is not laid out)."""
    region = table.content_region
    if not table.is_mounted or not region.height or not table.row_count:
        return None
    header = table.header_height if table.show_header else 0
    return region.y + header + table.cursor_row - round(table.scroll_y)


def place_toasts(table: DataTable[object]) -> None:
    """Put the screen's toasts in the half its focused table's cursor row is not in."""
    if not table.has_focus:
        return
    y = cursor_y(table)
    if y is None:
        return
    screen = table.screen
    try:
        rack = screen.get_child_by_type(ToastRack)
    except NoMatches:
        return
    rack.set_class(y >= screen.size.height // 2, "-top")
