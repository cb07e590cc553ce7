"""Choosing an action, filling its parameters, and confirming it after the preview."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from oncall_console.model import ActionResult, ActionSpec, Outcome, Status
from oncall_console.text import clean

if TYPE_CHECKING:
    from oncall_console.engine.api import ActionPlan

from oncall_console.engine.api import ActionRefused


class ActionPicker(ModalScreen[tuple[str, ActionSpec] | None]):
    """A list of what can be done to the selected thing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="actions.cancel")]

    def __init__(self, subject: str, choices: list[tuple[str, ActionSpec]]) -> None:
        super().__init__()
        self.subject = subject
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box") as box:
            box.border_title = Content(f"Actions · {clean(self.subject, limit=40)}")
            box.border_subtitle = "enter choose · esc cancel"
            yield OptionList(
                *(
                    Option(
                        Text(f"{spec.title}{'  (dangerous)' if spec.dangerous else ''}"), id=str(n)
                    )
                    for n, (_, spec) in enumerate(self.choices)
                ),
                id="picker",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ParamsForm(ModalScreen["ActionPlan | None"]):
    """One input per parameter, prefilled; enter on the last one submits. The values go
    through ``check`` (the engine's policy): the form closes with the plan, or stays
    open and shows the refusal."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="params.cancel")]

    def __init__(
        self,
        spec: ActionSpec,
        values: dict[str, Any],
        *,
        subject: str = "",
        check: Callable[[dict[str, Any]], Awaitable[ActionPlan]],
    ) -> None:
        super().__init__()
        self.spec = spec
        self.values = values
        self.subject = subject
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="params-box") as box:
            # The subject first: the title may be cut, what it acts on must not be.
            title = f"{self.subject} · {self.spec.title}" if self.subject else self.spec.title
            box.border_title = Content(clean(title, limit=70))
            box.border_subtitle = "enter next/submit · esc cancel"
            for p in self.spec.params:
                if p.kind == "text" and self.values.get(p.name):
                    # Several lines (a status message) cannot be edited in one line: shown.
                    lines = str(self.values[p.name]).count("\n") + 1
                    yield Label(Text(f"{p.name} — {lines} lines, shown in the preview"))
                    continue
                hint = p.help or p.kind
                if p.minimum is not None or p.maximum is not None:
                    hint += f" ({p.minimum}..{p.maximum})"
                yield Label(Text(f"{p.name} — {hint}"))
                value = self.values.get(p.name, p.default)
                yield Input(value="" if value is None else str(value), id=f"param-{p.name}")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
            return
        kept = {
            p.name: self.values[p.name]
            for p in self.spec.params
            if p.kind == "text" and self.values.get(p.name)
        }
        filled = kept | {i.id.removeprefix("param-"): i.value for i in inputs if i.id}
        filled = {k: v for k, v in filled.items() if v != ""}
        try:
            plan = await self.check(filled)
        except ActionRefused as exc:
            self.notify(clean(str(exc), limit=300), title="Refused", severity="error", markup=False)
            return
        self.dismiss(plan)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmAction(ModalScreen[str | None]):
    """Shows exactly what will be done; y/n, or type the target's name if dangerous."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("y", "answer('y')", "Yes, run it", id="confirm.yes", show=False),
        Binding("n", "decline", "No", id="confirm.no", show=False),
    ]

    def __init__(
        self,
        plan: ActionPlan,
        *,
        subject: str = "",
        live: Callable[[], list[tuple[str, Status, str]]] | None = None,
    ) -> None:
        super().__init__()
        self.prepared = plan
        self.subject = subject
        self.live = live
        """The target's state now (its check, the SLIs it moves): shown, refreshed."""
        self.typed = bool(plan.typed_target)
        """The plan says so: the target's name is typed, y and n are letters."""

    def compose(self) -> ComposeResult:
        p = self.prepared
        with Vertical(id="confirm-box") as box:
            title = f"{self.subject} · {p.spec.title}" if self.subject else p.spec.title
            box.border_title = Content(f"Confirm · {clean(title, limit=70)}")
            box.border_subtitle = "esc cancel"
            with VerticalScroll(id="confirm-preview"):
                yield Static(Text(clean(p.preview, limit=20_000, single_line=False)))
            if p.lock_holder:
                yield Label(Text(f"Locked now by {clean(p.lock_holder, limit=80)}", style="bold"))
            if self.typed:
                yield Label(Text(f"Dangerous. Type {p.typed_target} to run it:", style="bold"))
                yield Input(placeholder=p.typed_target, id="confirm-input")
            else:
                yield Label(Text("Run it?  y = yes   n / esc = no", style="bold"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the target's name is being typed, y and n are letters, not answers.
        return not (self.typed and action in ("answer", "decline"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)

    def action_decline(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def result_text(result: ActionResult) -> Text:
    ok = result.outcome is Outcome.SUCCEEDED
    text = Text(f"{'✓' if ok else '✗'} {result.outcome.value}: ", style="bold")
    text.append(clean(result.message, limit=300))
    if result.before or result.after:
        text.append(f"\nbefore: {clean(result.before, limit=200)}")
        text.append(f"\nafter:  {clean(result.after, limit=200)}")
    return text
