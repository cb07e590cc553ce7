"""A big number for a wall screen: a caption, the value in Textual's ``Digits``, a line under it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color
from textual.widget import Widget
from textual.widgets import Digits, Static


def _key(text: Text) -> tuple[object, ...]:
    # Text.__eq__ ignores the base style, and a colour change must repaint.
    return (text.plain, str(text.style), tuple(text.spans))


class BigStat(Widget):
    """One number to read from across the room, and what it means.

    ``show`` repaints only the parts whose facts changed: a ticking clock redraws
    its digits and leaves the caption and the line under it alone.
    """

    DEFAULT_CSS = """
    BigStat { height: auto; width: 1fr; }
    BigStat > .-caption { height: 1; width: 1fr; }
    BigStat > Digits { width: 1fr; }
    BigStat > .-under { height: 1; width: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._caption: tuple[object, ...] = ()
        self._under: tuple[object, ...] = ()
        self._colour: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="-caption")
        yield Digits(classes="-value")
        yield Static(classes="-under")

    @property
    def value(self) -> str:
        """What the digits show now."""
        return self.query_one(Digits).value

    @property
    def caption(self) -> str:
        return str(self._caption[0]) if self._caption else ""

    @property
    def under(self) -> str:
        return str(self._under[0]) if self._under else ""

    def show(self, value: str, caption: Text, under: Text, colour: str | None = None) -> None:
        """Show ``value`` in big digits (coloured ``colour``), ``caption`` above, ``under`` below.

        ``value`` is our own formatting (digits, separators, a unit); captions are Rich
        ``Text`` already cleaned by the caller, so nothing here is parsed as markup.
        """
        digits = self.query_one(Digits)
        if digits.value != value:
            digits.update(value)
        if colour != self._colour:
            self._colour = colour
            digits.styles.color = Color.parse(colour) if colour else None
        if (key := _key(caption)) != self._caption:
            self._caption = key
            self.query_one(".-caption", Static).update(caption)
        if (key := _key(under)) != self._under:
            self._under = key
            self.query_one(".-under", Static).update(under)

    def forget(self) -> None:
        """Drop what was shown so that the next ``show`` repaints it all (after a theme change)."""
        self._caption, self._under, self._colour = (), (), None
        self.query_one(Digits).styles.color = None
