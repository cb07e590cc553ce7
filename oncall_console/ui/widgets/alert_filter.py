"""The alerts panel's filter line: type to narrow, enter to keep, escape to clear and close."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class AlertFilter(Input):
    """A one-line filter over the alerts panel, hidden until ``/`` opens it."""

    BINDINGS = [
        Binding("escape", "close", "Clear filter", id="alerts.filter.close", show=False),
    ]

    DEFAULT_CSS = """
    AlertFilter, AlertFilter:focus { display: none; height: 1; border: none; padding: 0 1; }
    AlertFilter.-open { display: block; }
    """

    class Closed(Message):
        """The filter was cleared and closed (escape)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            placeholder="filter alerts: name, label or summary (esc clears)",
            **kwargs,  # type: ignore[arg-type]
        )

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self.post_message(self.Closed())
