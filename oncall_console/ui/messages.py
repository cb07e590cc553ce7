"""How a screen asks the app for something: it posts one of these messages.

No screen calls another screen's methods. A screen posts a message; it bubbles to the
app (``OncallApp``), which owns the one action flow (``ui/flow.py``) and opens the
runbook and checklist screens. Replies come back as messages too
(:class:`ActionFinished`), posted to the widget that asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.message import Message
from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall
    from oncall_console.model import ActionResult, ActionSpec


HELP = Binding(
    "question_mark", "app.help", "Help", id="help", tooltip="Every key, this screen's first"
)
"""`?` on every screen, first in its footer (at 80 columns the footer is cut from the right)."""


def oncall_of(node: MessagePump) -> OnCall:
    """The front door, from any widget or screen of the running app."""
    return node.app.oncall  # type: ignore[attr-defined, no-any-return]


@dataclass(frozen=True)
class StepRef:
    """A runbook step an action was started from: ticked when the action succeeds."""

    runbook: Any
    scope: str
    step: str


class RunAction(Message):
    """Start the action flow: pick (when ``spec`` is None) → params → preview → confirm →
    run → result. ``subject`` names what the action is for in every dialog title."""

    def __init__(
        self,
        subject: str,
        *,
        backend: str = "",
        spec: ActionSpec | None = None,
        choices: list[tuple[str, ActionSpec]] | None = None,
        values: dict[str, Any] | None = None,
        ask: tuple[str, ...] = (),
        scope: str = "",
        step: StepRef | None = None,
        reply_to: MessagePump | None = None,
        about: str = "",
    ) -> None:
        super().__init__()
        self.subject = subject
        self.backend = backend
        self.spec = spec
        self.choices = choices or []
        self.values = dict(values or {})
        self.ask = ask
        self.scope = scope
        self.step = step
        self.reply_to = reply_to
        self.about = about
        """The check the action is about (the row it came from): verification follows it."""


class ActionFinished(Message):
    """The flow ended: ``result`` is None when it was cancelled or refused."""

    def __init__(self, result: ActionResult | None, scope: str = "") -> None:
        super().__init__()
        self.result = result
        self.scope = scope

    @property
    def succeeded(self) -> bool:
        from oncall_console.model import Outcome

        return self.result is not None and self.result.outcome is Outcome.SUCCEEDED


class OpenRunbook(Message):
    """Open the runbook of a row: an incident (the one set on it, else the one its alerts
    name), an alert (by fingerprint) or a check. When none is sure, a picker offers the
    best guesses first, then every runbook: never a dead end."""

    def __init__(
        self, incident: str = "", *, alert: str = "", check: str = "", every: bool = False
    ) -> None:
        super().__init__()
        self.incident = incident
        self.alert = alert
        self.check = check
        self.every = every
        """The list of every runbook, searchable by title (whatever the selection)."""


class OpenChecklist(Message):
    """Open the start- or end-of-shift checklist (``moment``: start | end)."""

    def __init__(self, moment: str) -> None:
        super().__init__()
        self.moment = moment
