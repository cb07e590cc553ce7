"""A table cell drawn the short way is drawn exactly as Rich draws it (ui/widgets/cells.py)."""

from __future__ import annotations

import hashlib
import inspect

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.renderables.styled import Styled
from textual.widgets import DataTable

from oncall_console.ui.widgets.cells import cell_line

CONSOLE = Console(width=120, height=40, color_system="truecolor", force_terminal=True)

STYLES = st.sampled_from(
    [
        Style(),
        Style(color="red"),
        Style(bold=True),
        Style(color="#112233", bgcolor="yellow", italic=True),
        Style(reverse=True, underline=True),
        Style.from_meta({"row": 3, "column": 1}),
    ]
)
# Words, spaces, wide and combining characters, and what must go Rich's way.
PRINTABLE = st.sampled_from([*"ab Z9-·…✓", "界", "é", "e\u0301"])
ANY = st.one_of(PRINTABLE, st.sampled_from(["\t", "\n", "\x1b", "\xa0"]))


@st.composite
def cells(draw: st.DrawFn, chars: st.SearchStrategy[str] = PRINTABLE) -> Text:
    plain = "".join(draw(st.lists(chars, max_size=16)))
    spans = []
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):  # most cells: one style
        start = draw(st.integers(0, len(plain)))
        end = draw(st.integers(start, len(plain)))
        spans.append(Span(start, end, draw(STYLES)))
    return Text(
        plain
        + draw(st.sampled_from(["", "", " ", "  "])),  # trailing spaces (a line break made plain)
        style=draw(STYLES),
        justify=draw(st.sampled_from([None, "default", "left", "right", "center", "full"])),
        overflow=draw(st.sampled_from([None, "fold", "crop", "ellipsis"])),
        spans=spans,
    )


def rich_line(
    console: Console,
    cell: object,
    width: int,
    padding: int,
    pre_style: Style,
    post_style: Style,
) -> list[Segment]:
    """Rich's way, as DataTable draws a one-line cell (for the tests' comparison)."""
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    lines = console.render_lines(
        Styled(Padding(cell, (0, padding)), pre_style=pre_style, post_style=post_style), options
    )
    return lines[0]


def rendered(segments: list[Segment]) -> str:
    return "".join(s.style.render(s.text) if s.style else s.text for s in segments)


@settings(max_examples=600, deadline=None)
@given(
    cell=st.one_of(cells(), cells(ANY)),
    width=st.integers(1, 30),
    padding=st.integers(0, 2),
    pre=STYLES,
    post=STYLES,
)
@example(Text("svc-001", style="red"), 20, 1, Style(bgcolor="black"), Style())
@example(Text("12 ms", justify="right"), 9, 1, Style(), Style(bold=True))
@example(Text(""), 5, 1, Style(), Style())
@example(Text("界界", justify="center"), 6, 1, Style(), Style())
@example(Text("界界界", overflow="ellipsis"), 6, 1, Style(), Style())
@example(Text("connections at 96 % of max", style="red"), 20, 1, Style(), Style())
@example(Text("disk full on db-1 ", overflow="ellipsis"), 19, 1, Style(), Style())
@example(Text("cafe\u0301 ", spans=[Span(0, 6, Style(reverse=True))]), 7, 1, Style(), Style())
def test_a_cell_drawn_the_short_way_is_drawn_as_rich_draws_it(
    cell: Text, width: int, padding: int, pre: Style, post: Style
) -> None:
    short = cell_line(CONSOLE, cell.copy(), width, padding, pre, post)
    if short is None:
        return  # Rich's way: nothing to compare
    assert short == rich_line(CONSOLE, cell.copy(), width, padding, pre, post)


def test_the_usual_cells_take_the_short_way() -> None:
    """The comparison above means something only if the short way is taken: the cells the
    console's tables hold are."""
    usual = (Text("svc-001", style="red"), Text("12 ms", justify="right"), Text(""))
    for cell in (*usual, Text("a reason longer than its column", overflow="ellipsis")):
        assert cell_line(CONSOLE, cell, 20, 1, Style(), Style()) is not None
    odd = (Text("a b", no_wrap=False), Text("ab", end="xy"), Text("x" * 30, overflow="ignore"))
    for cell in (Text("a\nb"), Text("a\tb"), *odd, "plain str"):
        assert cell_line(CONSOLE, cell, 20, 1, Style(), Style()) is None


def test_the_cell_is_left_as_it_was() -> None:
    cell = Text("ok", style="green", justify="left")
    before = (cell.plain, list(cell.spans), cell.style)
    cell_line(CONSOLE, cell, 10, 1, Style(), Style())
    assert (cell.plain, list(cell.spans), cell.style) == before


def test_datatable_draws_a_cell_as_keyed_table_expects() -> None:
    """``KeyedTable._render_cell`` is DataTable's with the drawing swapped: if Textual's
    changes, read the new one and carry the change over, then update this hash."""
    source = inspect.getsource(DataTable._render_cell)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == PINNED


PINNED = "56c87899a3bfc4da"
