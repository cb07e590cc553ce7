"""The one-line header: where, who, badges, overall status and the clock."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.reactive import reactive
from textual.widget import Widget

from oncall_console.model import Status
from oncall_console.ui.render import colour, status_style


class ConsoleHeader(Widget):
    """Environment, operator, DEMO / READ-ONLY badges, worst status, clock."""

    DEFAULT_CSS = """
    ConsoleHeader { height: 1; width: 1fr; }
    """

    environment: reactive[str] = reactive("")
    """Environment name from config."""
    operator: reactive[str] = reactive("")
    """Who is at the keyboard."""
    demo: reactive[bool] = reactive(False)
    """Show the DEMO badge."""
    read_only: reactive[bool] = reactive(False)
    """Show the READ-ONLY badge."""
    overall: reactive[Status] = reactive(Status.UNKNOWN)
    """Worst status of everything watched."""
    worst: reactive[str] = reactive("")
    """The row the overall status comes from (w jumps to it), '' when all is well."""
    clock_text: reactive[str] = reactive("", repaint=False)
    """The time, already formatted (the app owns the clock)."""

    def watch_clock_text(self, old: str, new: str) -> None:
        # Every second: repaint the clock's own cells, not the whole line (bytes to the
        # terminal: ~60 a second instead of ~460).
        if len(old) != len(new):
            self.refresh()
        else:
            width = len(new) + 1  # and the space after it
            self.refresh(Region(max(0, self.size.width - width), 0, width, 1))

    def render(self) -> Text:
        v = self.app.theme_variables
        left = Text.assemble(
            (" oncall-console ", Style(bold=True, reverse=True)),
            " ",
            (self.environment, Style(bold=True)),
            " · ",
            self.operator,
        )
        if self.demo:
            left.append("  ")
            left.append(" DEMO ", colour(v, "badge-demo") + Style(bold=True, reverse=True))
        if self.read_only:
            left.append("  ")
            left.append(" READ-ONLY ", Style(bold=True, reverse=True))
        right = Text.assemble(
            (
                f"{self.overall.glyph} {self.overall.label}",
                status_style(v, self.overall) + Style(bold=True),
            ),
            (f" {self.worst[:24]} (w)" if self.worst and self.overall is not Status.OK else ""),
            "  ",
            self.clock_text,
            " ",
        )
        gap = max(1, self.size.width - left.cell_len - right.cell_len)
        return Text.assemble(left, " " * gap, right, no_wrap=True, overflow="crop")


def format_clock(now: float, utc: bool) -> str:
    t = time.gmtime(now) if utc else time.localtime(now)
    return time.strftime("%H:%M:%S", t) + (" UTC" if utc else time.strftime(" %Z", t))
