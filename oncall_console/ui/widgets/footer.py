"""The key line at the bottom of every screen: Textual's footer, quiet underneath.

A screen under a dialog still has its bindings updated (its focus goes, ``q``'s label
follows the top screen), and Textual's footer composes its keys again for each. Under a
modal screen Textual repaints every cell for any change of the screen beneath (it
cannot tell which cells the dimmed background shows), so opening the actions dialog
sent four whole screens down the link (~26 KB each at 120x40) where two carry it.
This footer leaves its keys as they are while its screen is not on top, and composes
them once when it is again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer as TextualFooter

if TYPE_CHECKING:
    from textual.screen import Screen


class Footer(TextualFooter):
    _stale = False
    """Bindings changed while the screen was underneath."""

    def on_mount(self) -> None:
        super().on_mount()
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def on_unmount(self) -> None:
        super().on_unmount()
        self.app.screen_change_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and self.screen is not self.app.screen:
            self._bindings_ready = True  # as Textual's own: composed when shown again
            self._stale = True
            return
        super().bindings_changed(screen)

    def _screen_changed(self, screen: Screen) -> None:
        if self._stale and self.is_attached and screen is self.screen:
            self._stale = False
            self.call_after_refresh(self.recompose)
