"""Write only what changed: a narrower partial update for Textual's compositor.

Textual repaints a changed region of a widget by writing that widget's line from the
widget's left edge to the end of the region (``ChopsUpdate.render_segments`` crops the
right end only). For one table cell or the header clock that means the whole line
before it: a 120-column dashboard sent ~2.4 KB/s, mostly unchanged text. Over a slow
SSH link that is the difference between calm and sluggish.

``install()`` replaces that one method with one that also skips, on the left, the
whole segments that end before the changed region. It never splits a segment (so a
wide character is never cut in half) and writes exactly the cells the original writes
from that point on; tests/test_partial.py replays both on a terminal emulator and
compares the screens. If Textual changes shape, ``install()`` leaves it alone.

A whole-screen update (a dialog opening or closing, a screen pushed) is written line by
line, and Textual sent each such frame whole, again and again: opening the actions
dialog in the demo at 120x40 sent four 26 KB frames, three of them the same. ``install``
also replaces ``LayoutUpdate.render_segments`` with one that skips the lines the
terminal already shows.

Both follow, per console, what the terminal shows: each line of the last whole-screen
frame (its text, and the strips it was drawn from), and once a partial update touches a
line, its cells (character, SGR codes, link; the right half of a wide character marked).
A partial update or a whole frame then writes only the cells that differ, widened so
that no wide character is cut; a cell whose wide character was half overwritten is
unknown and written next time. At start-up Textual sends the same screen three times
over (two partial updates of every line, then a whole frame): 96 KB in the demo's first
3 s, 28 KB now. Everything is forgotten on a resize, a resume after a stop, and on
ctrl+l (:func:`forget`, for a terminal something else wrote on).

Whatever they write, neighbouring segments of one style go out as one run (``_render``):
Textual hands a sparkline or a dimmed line over one segment a cell.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from rich.cells import cell_len, get_character_cell_size
from rich.color import ColorSystem
from rich.segment import Segment
from textual.strip import Strip

_installed = False
textual_render_segments: Any = None
"""Textual's own method, kept for comparison (tests) once ``install()`` replaced it."""


def render_segments(self: Any, console: Any) -> str:
    """``ChopsUpdate.render_segments``, cropped on the left at a segment boundary, and
    on a line the terminal is known to show, only the cells that differ from it."""
    from textual._compositor import Control

    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    chops = self.chops
    chop_ends = self.chop_ends
    shown = _shown.get(console)
    rows = shown.rows if shown is not None else {}

    for y, x1, x2 in self.spans:
        line = chops[y]
        ends = chop_ends[y]
        if shown is not None:
            shown.texts.pop(y, None)  # the line's text is no longer the whole frame's
        for end, (x, strip) in zip(ends, line.items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            skip = 0
            if x < x1:
                for segment in strip:
                    width = cell_len(segment.text)
                    if x + skip + width > x1:
                        break
                    skip += width
            strip = strip.crop(skip, min(end, x2) - x)
            at = x + skip
            row = _row(rows, y, console)
            cells = _cells(strip, console) if row is not None else None
            if row is None or cells is None or at + len(cells) > len(row):
                rows.pop(y, None)  # written as it comes; what the line shows is not known
                append(move_to(at, y).segment.text)
                append(_render(strip, console))
                continue
            _write_changed(append, console, y, at, strip, cells, row)
    # No line feed between lines, as Textual writes: every write starts from an absolute
    # cursor move, and a line feed where a skipped line left the cursor on the bottom row
    # would scroll the whole screen.
    return "".join(sequences)


WIDE = object()
"""The right half of a double-width character, in a row of cells."""
UNKNOWN = object()
"""A cell the terminal may show differently from what was written (equal to nothing
that is written, so it is written again)."""


def _write_changed(
    append: Any, console: Any, y: int, at: int, strip: Any, cells: list[object], row: list[object]
) -> None:
    """Write the cells of ``strip`` (at column ``at`` of line ``y``; ``cells`` are its
    cells) that differ from ``row``, what the terminal shows; then update ``row``."""
    from textual._compositor import Control

    changed = _changed(row, at, cells)
    if changed is not None:
        d1, d2 = changed
        w1, w2 = at + d1, at + d2
        # Writing over one half of a wide character blanks the other half on the
        # terminal: that cell is not known any more (written next time).
        if w1 > 0 and row[w1] is WIDE:
            row[w1 - 1] = UNKNOWN
        if w2 < len(row) and row[w2] is WIDE:
            row[w2] = UNKNOWN
        append(Control.move_to(w1, y).segment.text)
        append(_render(strip.crop(d1, d2), console))
    row[at : at + len(cells)] = cells


def _render(strip: Any, console: Any) -> str:
    """``strip.render``, with neighbouring segments of one style written as one run:
    Textual's cells often come one segment each (a sparkline, a dimmed screen), and each
    segment is written as its SGR codes, its text and a reset: ~40 bytes a cell."""
    merged: list[Segment] = []
    last: Segment | None = None
    count = 0
    for segment in strip:
        count += 1
        if (
            last is not None
            and segment.style == last.style
            and not segment.control
            and not last.control
        ):
            last = merged[-1] = Segment(last.text + segment.text, last.style)
        else:
            merged.append(segment)
            last = segment
    if len(merged) == count:
        return str(strip.render(console))
    return str(Strip(merged, strip.cell_length).render(console))


def _cells(strip: Any, console: Any) -> list[object] | None:
    """What the terminal shows after ``strip`` is written: one entry per cell, a
    character with its SGR codes and link, or WIDE for a wide character's right half.
    None for what cannot be followed cell by cell (zero-width characters, controls)."""
    system = console._color_system or ColorSystem.TRUECOLOR
    out: list[object] = []
    extend = out.extend
    for text, style, control in strip:
        if control:
            return None
        if style is None:
            key: tuple[str, str | None] = ("", None)
        else:
            ansi = style._ansi
            if ansi is None:
                ansi = Strip.render_ansi(style, system)
            key = (ansi, style._link)
        if text.isascii() and text.isprintable():
            extend([(ch, key) for ch in text])
            continue
        for ch in text:
            width = get_character_cell_size(ch)
            if width == 1:
                out.append((ch, key))
            elif width == 2:
                out.append((ch, key))
                out.append(WIDE)
            else:
                return None
    return out


def _changed(row: list[object], at: int, cells: list[object]) -> tuple[int, int] | None:
    """The cells of ``cells`` (written at ``at``) that differ from ``row``: (first, end)
    offsets into ``cells``, widened so that no wide character is cut; None if none."""
    n = len(cells)
    d1 = 0
    while d1 < n and cells[d1] == row[at + d1]:
        d1 += 1
    if d1 == n:
        return None
    d2 = n
    while cells[d2 - 1] == row[at + d2 - 1]:
        d2 -= 1
    if cells[d1] is WIDE:  # its left half is written too (_cells puts one before it)
        d1 -= 1
    if d2 < n and cells[d2] is WIDE:
        d2 += 1
    return d1, d2


class _Shown:
    """What a console's terminal shows: for a screen of ``size``, line y -> the text last
    written for it whole (``texts``) and its cells (``rows``: a list, or the tuple of
    strips it was drawn from, turned into cells only when a partial update comes)."""

    __slots__ = ("rows", "size", "texts")

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.texts: dict[int, str] = {}
        self.rows: dict[int, Any] = {}


def _row(rows: dict[int, Any], y: int, console: Any) -> list[object] | None:
    row = rows.get(y)
    if row is None or isinstance(row, list):
        return row
    cells = _cells(Strip.join(row), console)  # the strips a whole frame drew the line from
    if cells is None:
        rows.pop(y, None)
    else:
        rows[y] = cells
    return cells


_shown: WeakKeyDictionary[Any, _Shown] = WeakKeyDictionary()
textual_layout_segments: Any = None
"""Textual's ``LayoutUpdate.render_segments``, kept for comparison (tests)."""


def layout_segments(self: Any, console: Any) -> str:
    """``LayoutUpdate.render_segments`` without what the terminal shows already: a
    line written whole before is skipped when its text is the same; a line a partial
    update changed since is compared cell by cell, and only the cells that differ are
    written. Each write starts from an absolute cursor move, so nothing around it moves."""
    from textual._compositor import Control

    region = self.region
    shown = _shown.get(console)
    if shown is None:
        shown = _shown[console] = _Shown()
    if region.x or region.y:  # a part of the screen: written whole, and not remembered
        for y in range(region.y, region.y + region.height):
            shown.texts.pop(y, None)
            shown.rows.pop(y, None)
        return str(textual_layout_segments(self, console))
    if shown.size != (region.width, region.height):
        shown.size = (region.width, region.height)
        shown.texts.clear()
        shown.rows.clear()
    sequences: list[str] = []
    append = sequences.append
    texts = shown.texts
    rows = shown.rows
    move_to = Control.move_to
    for y, line in enumerate(self.strips):
        text = "".join([_render(strip, console) for strip in line])
        if texts.get(y) == text:
            continue
        texts[y] = text
        old = _row(rows, y, console) if y in rows else None
        if old is not None:
            whole = Strip.join(line)
            cells = _cells(whole, console)
            if cells is not None and len(cells) == len(old):
                _write_changed(append, console, y, 0, whole, cells, old)
                continue
        rows[y] = tuple(line)  # its cells made only if a partial update comes
        append(move_to(0, y).segment.text)
        append(text)
    return "".join(sequences)


def forget(console: Any) -> None:
    """The terminal may not show the last frame any more (resized, handed to another
    program and back, written on): the next whole-screen frame is written whole."""
    _shown.pop(console, None)


_KEEP: Any = object()
_borders: WeakKeyDictionary[Any, dict[str, object]] = WeakKeyDictionary()


def set_border(widget: Any, *, title: object = _KEEP, subtitle: object = _KEEP) -> None:
    """Set a panel's border title and subtitle, only when they change.

    Textual repaints the whole widget, its children too, on every assignment of either,
    the same text or not: the once-a-second "probed by" subtitle sent the Health panel,
    border and rows, to the terminal each second (~8 KB/s over SSH without tmux). Use
    this wherever a title is set again while the screen is live."""
    shown = _borders.setdefault(widget, {})
    for name, value in (("border_title", title), ("border_subtitle", subtitle)):
        if value is _KEEP or (name in shown and shown[name] == value):
            continue
        shown[name] = value
        setattr(widget, name, value)


def install() -> bool:
    """Use the narrower update; False (and nothing changed) if Textual is not as expected."""
    global _installed, textual_render_segments, textual_layout_segments
    if _installed:
        return True
    try:
        from textual._compositor import ChopsUpdate, Control, LayoutUpdate  # noqa: F401
    except ImportError:
        return False
    original = getattr(ChopsUpdate, "render_segments", None)
    init = ChopsUpdate.__init__.__code__.co_varnames[:4]
    if (
        original is None
        or original.__code__.co_varnames[:2] != ("self", "console")
        or init != ("self", "chops", "spans", "chop_ends")
    ):
        return False
    textual_render_segments = original
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]
    layout = getattr(LayoutUpdate, "render_segments", None)
    if (
        layout is not None
        and layout.__code__.co_varnames[:2] == ("self", "console")
        and LayoutUpdate.__init__.__code__.co_varnames[:3] == ("self", "strips", "region")
    ):
        textual_layout_segments = layout
        LayoutUpdate.render_segments = layout_segments  # type: ignore[method-assign]
    _installed = True
    return True
