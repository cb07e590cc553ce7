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
terminal already shows: it remembers, per console, each line of the last whole-screen
frame and forgets the lines a partial update touches, all of them on a resize, a resume
after a stop, and on ctrl+l (:func:`forget`, for a terminal something else wrote on).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from rich.cells import cell_len

_installed = False
textual_render_segments: Any = None
"""Textual's own method, kept for comparison (tests) once ``install()`` replaced it."""


def render_segments(self: Any, console: Any) -> str:
    """``ChopsUpdate.render_segments``, cropped on the left at a segment boundary."""
    from textual._compositor import Control

    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    chops = self.chops
    chop_ends = self.chop_ends
    last_y = self.spans[-1][0]
    shown = _shown.get(console)
    if shown is not None:  # these lines differ from the last whole frame now
        for y, _x1, _x2 in self.spans:
            shown.lines.pop(y, None)

    for y, x1, x2 in self.spans:
        line = chops[y]
        ends = chop_ends[y]
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
            append(move_to(x + skip, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


class _Shown:
    """What a console's terminal shows of its last whole-screen frame: line y -> the
    text written for it, for a screen of ``size``."""

    __slots__ = ("lines", "size")

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.lines: dict[int, str] = {}


_shown: WeakKeyDictionary[Any, _Shown] = WeakKeyDictionary()
textual_layout_segments: Any = None
"""Textual's ``LayoutUpdate.render_segments``, kept for comparison (tests)."""


def layout_segments(self: Any, console: Any) -> str:
    """``LayoutUpdate.render_segments`` without the lines the terminal shows already.
    Each line is written from an absolute cursor move, so a line left out changes
    nothing around it."""
    from textual._compositor import Control

    region = self.region
    shown = _shown.get(console)
    if shown is None:
        shown = _shown[console] = _Shown()
    if region.x or region.y:  # a part of the screen: written whole, and not remembered
        for y in range(region.y, region.y + region.height):
            shown.lines.pop(y, None)
        return str(textual_layout_segments(self, console))
    if shown.size != (region.width, region.height):
        shown.size = (region.width, region.height)
        shown.lines.clear()
    sequences: list[str] = []
    append = sequences.append
    lines = shown.lines
    move_to = Control.move_to
    for y, line in enumerate(self.strips):
        text = "".join([strip.render(console) for strip in line])
        if lines.get(y) != text:
            lines[y] = text
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
