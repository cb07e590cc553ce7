"""The verification bar: what the console is verifying right now, on every screen.

It sits in the screen's flow just above the footer, not docked: two widgets docked to
the bottom overlap, and the footer hid the bar's last line ("recovered" never showed at
120 columns, bench/drill.py).

After an action the engine follows its target until it recovers or a deadline passes
(``engine/verify.py``); this one-line-per-watch bar sits above the footer of each
screen so the engineer sees "◷ verifying demo.rollback · prediction-service: waiting on
check DOWN (12 s in, 4 min left)" wherever they went, and then how it ended.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from oncall_console.text import clean


class WatchBar(Static):
    DEFAULT_CSS = """
    WatchBar {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
        display: none;
    }
    WatchBar.-shown { display: block; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: tuple[str, ...] = ()

    def show(self, lines: Sequence[str]) -> None:
        """Repaint only when the words changed (a slow SSH link)."""
        lines = tuple(lines)
        if lines == self._lines:
            return
        self._lines = lines
        self.set_class(bool(lines), "-shown")
        text = Text()
        for n, line in enumerate(lines[-3:]):
            if n:
                text.append("\n")
            style = "bold" if line.startswith(("✗", "◷")) else ""
            text.append(clean(line, limit=300), style=style)
        self.update(text)
