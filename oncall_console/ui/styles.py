"""The console's stylesheet at start-up: parsed once for the first frame, and only what
that frame shows (issue #14). A base of :class:`~oncall_console.ui.app.OncallApp`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App


class LazyStylesheet(App[None]):
    SCREENS_CSS = Path(__file__).parent / "screens.tcss"
    """Every screen's look but the dashboard's: parsed after the first frame (see
    :meth:`screens_css`); the wall reads it with the rest."""

    _theme_parse_pending = False
    """The theme set in the app's ``__init__`` queued a re-parse (see refresh_css)."""

    def screens_css(self) -> None:
        """Add the other screens' look to the stylesheet, once: before the first of them
        is pushed, or when the engine arrives. Its 220 lines were ~6 ms of the first
        frame's parse (issue #14). Parsed alone (the rest comes from the parse cache)
        and applied to nothing now: its selectors name only those screens' widgets,
        which get their styles when they mount."""
        if self.stylesheet.has_source(str(self.SCREENS_CSS)):  # read already (the wall's)
            return
        self.stylesheet.read(self.SCREENS_CSS)
        self.stylesheet.parse()

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        self.screens_css()
        return super().push_screen(screen, *args, **kwargs)

    def switch_screen(self, screen: Any) -> Any:
        self.screens_css()
        return super().switch_screen(screen)

    def refresh_css(self, animate: bool = True) -> None:
        # The theme set in __init__ queues a refresh that re-parses the whole stylesheet
        # before anything has been parsed or drawn (~6 ms of the first frame, issue #14);
        # the first parse only needs the theme's variables. Later refreshes (a theme
        # change, ctrl+t) re-parse as Textual does.
        if self._theme_parse_pending:
            self._theme_parse_pending = False
            self.stylesheet.set_variables(self.get_css_variables())
            return
        super().refresh_css(animate)
