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
    global _installed, textual_render_segments
    if _installed:
        return True
    try:
        from textual._compositor import ChopsUpdate, Control  # noqa: F401
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
    _installed = True
    return True
