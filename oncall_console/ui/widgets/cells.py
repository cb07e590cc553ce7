"""One table cell drawn without Rich's general path, where that path changes nothing.

DataTable draws a cell as ``console.render_lines(Styled(Padding(cell, (0, pad)),
pre_style, post_style), width)``: a renderable protocol, two passes that split, crop
and pad lines, a generator per layer. For the cells the console's tables hold (one
line of ``Text`` that fits its column) that is ~0.1 ms a cell, and the first frame of
a full health table draws ~100 of them (issue #14: ~10-20 ms of it, more than the bare
Textual app spends drawing its whole frame). ``cell_line`` makes the same segments
with Rich's own Text methods (justification, cutting, span styles) in ~0.015 ms; anything else
(a line break, a tab, a control character, another renderable, a row higher than one
line) returns None and goes the general way.

tests/test_cells.py checks, on generated cells, that both ways give equal segments.
``KeyedTable._render_cell`` is DataTable's with the drawing swapped; a test pins the
source of DataTable's so that a Textual upgrade that changes it is looked at.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.containers import Lines
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

_JUSTIFY = {"default", "left", "right", "center", "full"}
_ONE_STYLE = {"default", "left", "right"}
_CUT = {"fold", "crop", "ellipsis"}
"""How a line too long for its cell is cut (``ignore`` is left to Rich's crop)."""
_NULL = Style.null()


def cell_line(
    console: Console,
    cell: object,
    width: int,
    padding: int,
    pre_style: Style,
    post_style: Style,
    justify: str | None = None,
    overflow: str | None = None,
) -> list[Segment] | None:
    """The one line of segments that ``render_lines(Styled(Padding(cell, (0, padding)),
    pre_style, post_style), width, height=1, no_wrap)`` would make, or None where that
    is not known to be so (the caller then takes Rich's way). ``justify`` is the
    console options' own, and ``overflow`` (None in Textual's)."""
    if type(cell) is not Text or cell.no_wrap is False or cell.end not in ("", "\n"):
        return None  # another renderable; a cell that asks to wrap; an end Rich would draw
    plain = cell.plain
    inner = width - 2 * padding
    if inner < 1 or not plain.isprintable():
        return None  # not printable: a line break, a tab or another control character
    how = cell.justify or justify or "default"
    fold = cell.overflow or overflow or "fold"
    fits = cell_len(plain) <= inner
    if how not in _JUSTIFY or (not fits and fold not in _CUT):
        return None
    if fits and plain and not cell.spans and how in _ONE_STYLE:
        # One style over all of it: the one segment Text.render makes of the justified line.
        if how == "left":
            plain += " " * (inner - cell_len(plain))
        elif how == "right":  # Lines.justify: rstrip, then pad on the left
            plain = plain.rstrip()
            plain = " " * (inner - cell_len(plain)) + plain
        style = console.get_style(cell.style, default=_NULL) if cell.style else None
        segments = [Segment(plain, style)]
    else:  # Text.wrap's steps for one line that is not wrapped
        line = cell.copy()  # (Text.wrap strips trailing spaces only where it wraps)
        lines = Lines([line])
        if how != "default":
            lines.justify(console, inner, justify=how, overflow=fold)  # type: ignore[arg-type]
        line.truncate(inner, overflow=fold)  # type: ignore[arg-type]
        segments = list(Text("\n").join(lines).render(console))
    used = sum(cell_len(s.text) for s in segments)
    if used > inner:  # not seen: Rich would crop what this does not
        return None
    blank = console.get_style("none")
    if used < inner:
        segments.append(Segment(" " * (inner - used), blank))
    if padding:
        edge = Segment(" " * padding, blank)
        segments = [edge, *segments, edge]
    add_post = post_style if post_style else None
    out = []
    for text, style, _control in segments:
        style = pre_style + style if pre_style else style
        if add_post is not None:
            style = style + add_post if style else add_post
        out.append(Segment(text, style))
    return out
