"""A screen the app repaints on engine changes, like the dashboard (``sync``)."""

from __future__ import annotations

from textual.screen import Screen


class LiveScreen(Screen[None]):
    """The app calls ``sync`` on the live screen on top after each engine change."""

    LIVE = True
    composed = False
    """Set first thing in the screen's ``on_mount``: its widgets are all there."""

    @property
    def whole(self) -> bool:
        """Whether this screen's widgets are all there, for its ``sync``: composed, and
        still on the app's stack (once popped, its widgets are being taken down). An
        engine change repainted the screen on top while it was still being composed, and
        a console ended with NoMatches."""
        if not self.composed:
            return False
        try:
            return self in self.app.screen_stack
        except Exception:  # no app any more
            return False

    def sync(self, force: bool = False) -> None:
        raise NotImplementedError
