"""The alerts panel's filter line: type to narrow, enter to keep, escape to clear and close."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.message import Message

from oncall_console.ui.widgets.steady import SteadyInput


class AlertFilter(SteadyInput):
    """A one-line filter over the alerts panel, hidden until ``/`` opens it."""

    BINDINGS = [
        # Priority: run as the app reads the key, so the focus is back on the panel before
        # the next key of the same burst is dispatched (enter then w, over tmux or SSH).
        Binding(
            "escape", "close", "Clear filter", id="alerts.filter.close", show=False, priority=True
        ),
        Binding(
            "enter", "submit", "Keep filter", id="alerts.filter.keep", show=False, priority=True
        ),
    ]

    DEFAULT_CSS = """
    AlertFilter, AlertFilter:focus { display: none; height: 1; border: none; padding: 0 1; }
    AlertFilter.-open { display: block; }
    """

    class Closed(Message):
        """The filter was cleared and closed (escape)."""

        def __init__(self, filter_id: str | None) -> None:
            super().__init__()
            self.filter_id = filter_id

    def __init__(
        self,
        on_change: Callable[[str], None] | None = None,
        placeholder: str = "filter alerts: name, label or summary (esc clears)",
        back_to: str | None = None,
        **kwargs: object,
    ) -> None:
        """``on_change(text)`` is called as the text changes, while the key is handled;
        ``back_to`` is the widget (a query) that takes the focus on enter and escape."""
        super().__init__(placeholder=placeholder, **kwargs)  # type: ignore[arg-type]
        self._on_change = on_change
        self._back_to = back_to

    def _give_back_focus(self) -> None:
        # While the key is handled, not on the message it posts: the keys typed right
        # after enter (tmux: enter then w in one burst) went into the filter as text.
        if self._back_to is not None:
            self.screen.set_focus(self.screen.query_one(self._back_to))

    async def action_submit(self) -> None:
        await super().action_submit()
        self._give_back_focus()

    def watch_value(self, value: str) -> None:
        # Not on Input.Changed: after that message's hop the filtered rows came one frame
        # (16.7 ms at 60 fps) after the typed letter; called here, both are in one frame.
        if self._on_change is not None:
            self._on_change(value)

    def open(self) -> None:
        self.add_class("-open")
        # Shown and focused now, not on the next refresh (the class's display) or idle
        # (Widget.focus): the letters typed right after "/" must find it focused.
        self.display = True
        self.screen.set_focus(self)

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self.display = False
        self._give_back_focus()
        self.post_message(self.Closed(self.id))
