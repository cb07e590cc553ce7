"""`?`: the console's own keys, this screen's first, then everywhere, then the other
screens, each with its id for ``[keys]``; the table movement keys last. Scrolls by
keyboard (j/k, arrows, page keys, g/G); esc, ? or q close it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

MOVES = (
    ("↑ ↓ / k j", "move in a list or table"),
    ("g / G", "first / last row"),
    ("pgup pgdn", "a page up / down"),
    ("tab / shift+tab", "next / previous panel or field"),
    ("enter", "open the selected row"),
    ("ctrl+p", "the command palette: every command, its key, search by words"),
)


KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "escape": "esc",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "full_stop": ".",
    "comma": ",",
    "minus": "-",
    "plus": "+",
}
"""Textual's key names, as the engineer presses them."""


def key_name(binding: Binding, keymap: Mapping[str, str]) -> str:
    """The key as the engineer presses it (a [keys] remap wins)."""
    keys = keymap.get(binding.id or "", binding.key)
    names = []
    for key in keys.split(","):
        key = key.strip()
        names.append(KEY_NAMES.get(key, key))
    return " ".join(names)


def rows_of(
    bindings: Iterable[BindingType], keymap: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    out = []
    for b in bindings:
        if not isinstance(b, Binding) or not b.description:
            continue
        what = b.tooltip or b.description
        out.append((key_name(b, keymap), what, b.id or ""))
    return out


class HelpScreen(ModalScreen[None]):
    """Every key of the console, this screen's first."""

    DEFAULT_CSS = """
    #help-box {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="help.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="help.up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="help.pagedown"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="help.pageup"),
        Binding("g,home", "edge(0)", "Top", show=False, id="help.top"),
        Binding("G,end", "edge(1)", "Bottom", show=False, id="help.bottom"),
    ]

    def __init__(
        self,
        sections: list[tuple[str, list[tuple[str, str, str]]]],
    ) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = Content("Keys")
            box.border_subtitle = "j/k scroll · esc close"
            box.can_focus = True
            yield Static(self._body(), id="help-body")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def _body(self) -> Group:
        """One grid per section under its title line: a title in the key column widened it
        to ~22 columns and squeezed the descriptions at 80 columns."""
        sections = [(title, rows) for title, rows in self.sections if rows]
        moves = [(key, what, "") for key, what in MOVES]
        parts: list[Any] = []
        for title, rows in [*sections, ("Moving", moves)]:
            parts.append(Text(title, style="bold reverse"))
            table = Table.grid(padding=(0, 2))
            table.add_column(no_wrap=True, style="bold")
            table.add_column(ratio=1)
            table.add_column(no_wrap=True, style="dim")
            for key, what, ident in rows:
                table.add_row(Text(key), Text(what), Text(ident))
            parts += [table, Text("")]
        parts.append(Text('Remap any key by its id in [keys] of the config, e.g. quit = "ctrl+q".'))
        return Group(*parts)

    def action_scroll(self, step: int) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_relative(y=step, animate=False)

    def action_page(self, step: int) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        box.scroll_relative(y=step * max(1, box.size.height - 2), animate=False)

    def action_edge(self, end: int) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        (box.scroll_end if end else box.scroll_home)(animate=False)
