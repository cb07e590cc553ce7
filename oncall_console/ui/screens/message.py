"""The status message of an incident (initial, update, resolved): shown, copied over
SSH (OSC 52), marked posted, or posted through an ``[incidents] post_to`` webhook as an
ordinary action (the one action flow: previewed, confirmed, audited)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from oncall_console.incidents.comms import severity_label
from oncall_console.store.incidents import IncidentRecord
from oncall_console.text import clean
from oncall_console.ui.messages import ActionFinished, RunAction, oncall_of
from oncall_console.ui.screens.prompts import ChoicePrompt


class MessageScreen(ModalScreen[None]):
    """A status message (initial / update / resolved) from the incident: copy or post."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="message.close"),
        Binding(
            "c", "copy", "Copy", id="message.copy", tooltip="Copy with OSC 52 (works over SSH)"
        ),
        Binding(
            "y",
            "posted",
            "Mark posted",
            id="message.posted",
            tooltip="You posted it: restarts the update clock",
        ),
        Binding(
            "p",
            "post",
            "Post",
            id="message.post",
            tooltip="Send through a webhook in [incidents] post_to",
        ),
        Binding("1", "kind('initial')", "Initial", id="message.initial", show=False),
        Binding("2", "kind('update')", "Update", id="message.update", show=False),
        Binding("3", "kind('resolved')", "Resolved", id="message.resolved", show=False),
    ]

    def __init__(self, incident_id: str) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.kind = ""
        self.text = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="message-box") as box:
            box.border_subtitle = (
                "1 initial · 2 update · 3 resolved · c copy · y posted · p post · esc"
            )
            with VerticalScroll(id="message-scroll"):
                yield Static(id="message-text")

    async def on_mount(self) -> None:
        await self.render_kind("")

    async def render_kind(self, kind: str) -> None:
        try:
            self.kind, self.text = await oncall_of(self).incidents.message(self.incident_id, kind)
        except Exception as exc:
            self.notify(clean(str(exc), limit=200), severity="error")
            return
        self.query_one("#message-box").border_title = Content(
            f"{self.kind} message · {clean(self.incident_id, limit=40)}"
        )
        self.query_one("#message-text", Static).update(Text(self.text))

    async def action_kind(self, kind: str) -> None:
        await self.render_kind(kind)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify(
            "Copied (OSC 52). Press y once it is posted: the update clock restarts.", timeout=6
        )

    async def action_posted(self) -> None:
        await self._mark_posted()
        self.dismiss(None)

    async def _mark_posted(self) -> None:
        try:
            await oncall_of(self).incidents.posted(self.incident_id, self.kind)
        except Exception as exc:
            self.notify(clean(str(exc), limit=200), severity="error")
            return
        self.notify(f"{self.kind} message recorded as posted.", timeout=4)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("posted", "post") and oncall_of(self).settings.read_only:
            return False
        if action == "post" and not oncall_of(self).settings.post_to:
            return None  # shown disabled: nothing to post to
        return True

    @work(exclusive=True, group="message")
    async def action_post(self) -> None:
        targets = list(oncall_of(self).settings.post_to)
        if not targets:
            self.notify("No webhook in [incidents] post_to.", timeout=5)
            return
        target = targets[0]
        if len(targets) > 1:
            picked = await self.app.push_screen_wait(
                ChoicePrompt("Post to", [(t, t) for t in targets])
            )
            if picked is None:
                return
            target = picked
        backend, _, action = target.partition(".")
        try:
            spec = oncall_of(self).spec_for(backend, action)
        except Exception as exc:
            self.notify(
                f"{target}: {clean(str(exc), limit=200)}",
                title="Not posted",
                severity="error",
                timeout=8,
            )
            return
        values = message_values(
            spec,
            oncall_of(self).incidents.cached(self.incident_id),
            self.incident_id,
            self.kind,
            self.text,
        )
        self.post_message(
            RunAction(
                f"{self.kind} message · {self.incident_id}",
                backend=backend,
                spec=spec,
                values=values,
                scope=self.incident_id,
                reply_to=self,
            )
        )

    async def on_action_finished(self, message: ActionFinished) -> None:
        """The post went through the action flow: recorded as posted when it ran."""
        if message.succeeded:
            await self._mark_posted()
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


MESSAGE_PARAMS = ("message", "text", "body")


def message_values(
    spec: Any, record: IncidentRecord | None, incident_id: str, kind: str, text: str
) -> dict[str, Any]:
    """Fill a webhook's parameters from the incident: the message goes in the first of
    ``message`` / ``text`` / ``body`` it declares; status, severity, title, incident_id
    and kind where it declares them. The rest is asked for."""
    names = {p.name: p for p in spec.params}
    values: dict[str, Any] = {}
    slot = next((n for n in MESSAGE_PARAMS if n in names), None)
    if slot is not None:
        p = names[slot]
        values[slot] = (
            text
            if p.kind == "text"
            else " / ".join(line.strip() for line in text.splitlines() if line.strip())[:500]
        )
    known: dict[str, Any] = {"incident_id": incident_id, "kind": kind}
    if record is not None:
        known |= {
            "status": record.status,
            "severity": severity_label(record.severity),
            "title": clean(record.title, limit=200),
        }
    for name, value in known.items():
        p = names.get(name)
        if p is not None and (p.kind != "choice" or value in p.choices):
            values[name] = value
    for p in spec.params:  # defaults count as given: ask only for what is missing
        if p.name not in values and p.default not in (None, ""):
            values[p.name] = p.default
    return values
