"""Text fields whose cursor does not blink.

Each blink repaints the whole field, twice a second: the runbook picker's search line
sent ~2 KB/s to the terminal while it was open (120 columns, the dashboard's own
steady state is ~1.2 KB/s), which a slow SSH link pays in full. A steady cursor also
shows where typing goes in a screenshot or a snapshot."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Input


class SteadyInput(Input):
    """An ``Input`` whose cursor stays on."""

    cursor_blink = reactive(False, init=False)
