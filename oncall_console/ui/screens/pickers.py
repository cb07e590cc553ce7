"""The runbook picker: when no runbook is sure, the best guesses first, then every
runbook, searchable by title; and the alert's own runbook link to copy over SSH."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from oncall_console.model import ActionSpec
from oncall_console.text import clean
from oncall_console.ui.render import FOCUS_MARK
from oncall_console.ui.widgets.steady import SteadyInput

if TYPE_CHECKING:
    from oncall_console.engine.api import RunbookChoice

LINK = "\x00link"
"""The option id of "copy the alert's runbook link" (never a runbook id: ids are slugs)."""


class RunbookPicker(ModalScreen["Runbook | str | None"]):
    """Dismisses with the runbook picked, ``LINK`` for the alert's runbook link, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="runbooks.cancel"),
        Binding("down", "move(1)", "Down", show=False, id="runbooks.down"),
        Binding("up", "move(-1)", "Up", show=False, id="runbooks.up"),
    ]

    def __init__(self, title: str, choice: RunbookChoice) -> None:
        super().__init__()
        self.title_text = title
        self.choice = choice
        self.runbooks = {r.id: r for r in [*choice.guesses, *choice.rest]}

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box") as box:
            box.border_title = Content(clean(self.title_text, limit=70))
            box.border_subtitle = "type to search · enter open · esc cancel"
            yield SteadyInput(placeholder="search runbooks by title", id="runbook-search")
            yield OptionList(id="runbook-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        words = query.casefold().split()
        guessed = {r.id for r in self.choice.guesses}
        if self.choice.link and not words:
            options.add_option(
                Option(
                    Text(f"↗ copy the alert's runbook link: {clean(self.choice.link, limit=60)}"),
                    id=LINK,
                )
            )
        for rb in [*self.choice.guesses, *self.choice.rest]:
            haystack = f"{rb.title} {rb.id} {' '.join(rb.tags)}".casefold()
            if words and not all(w in haystack for w in words):
                continue
            label = Text("★ " if rb.id in guessed else "  ", style="bold")
            label.append(clean(rb.title, limit=60))
            label.append(f"  {clean(rb.id, limit=40)}", style="dim")
            options.add_option(Option(label, id=rb.id))
        if options.option_count:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._pick(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option.id)

    def _pick(self, option_id: str | None) -> None:
        if option_id == LINK:
            self.dismiss(LINK)
        elif option_id in self.runbooks:
            self.dismiss(self.runbooks[option_id])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ActionPicker(ModalScreen[tuple[str, ActionSpec] | None]):
    """A list of what can be done to the selected thing. The highlighted one carries the
    ▶ mark: the list's highlight is a colour, gone with NO_COLOR."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="actions.cancel"),
        # One key picks: the Nth action (at 3 a.m. a count of downs is keys lost).
        *(
            Binding(str(n), f"pick({n - 1})", f"Action {n}", show=False, id=f"actions.pick{n}")
            for n in range(1, 10)
        ),
    ]

    def __init__(self, subject: str, choices: list[tuple[str, ActionSpec]]) -> None:
        super().__init__()
        self.subject = subject
        self.choices = choices

    def _prompt(self, n: int, highlighted: bool) -> Text:
        spec = self.choices[n][1]
        text = Text(f"{FOCUS_MARK} " if highlighted else "  ", style="bold")
        text.append(f"{n + 1} " if n < 9 else "  ", style="bold")
        text.append(f"{spec.title}{'  (dangerous)' if spec.dangerous else ''}")
        return text

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.choices):
            self.dismiss(self.choices[index])

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box") as box:
            box.border_title = Content(f"Actions · {clean(self.subject, limit=60)}")
            box.border_subtitle = "1-9 or enter choose · esc cancel"
            yield OptionList(
                *(Option(self._prompt(n, n == 0), id=str(n)) for n in range(len(self.choices))),
                id="picker",
            )

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        picker = event.option_list
        for n in range(picker.option_count):
            picker.replace_option_prompt_at_index(n, self._prompt(n, n == event.option_index))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)
