"""Small modal questions: pick one of a few choices, or type one line."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from oncall_console.text import clean
from oncall_console.ui.widgets.steady import SteadyInput


class ChoicePrompt(ModalScreen[str | None]):
    """One of ``choices`` (value, label); the current one is highlighted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], current: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box") as box:
            box.border_title = Content(clean(self.title_text, limit=60))
            box.border_subtitle = "enter choose · esc cancel"
            options = OptionList(
                *(Option(Text(label), id=value) for value, label in self.choices), id="picker"
            )
            yield options

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        values = [value for value, _ in self.choices]
        if self.current in values:
            picker.highlighted = values.index(self.current)
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextPrompt(ModalScreen[str | None]):
    """One line of text; enter submits, escape cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="text.cancel")]

    def __init__(self, title: str, label: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="params-box") as box:
            box.border_title = Content(clean(self.title_text, limit=60))
            box.border_subtitle = "enter save · esc cancel"
            yield Label(Text(self.label))
            yield SteadyInput(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class YesNoPrompt(ModalScreen[bool]):
    """Say what is about to happen, then y does it; n or esc does nothing."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="yesno.yes"),
        Binding("n", "answer(False)", "No", id="yesno.no"),
        Binding("escape", "answer(False)", "Cancel", id="yesno.cancel"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="params-box") as box:
            box.border_title = Content(clean(self.title_text, limit=70))
            box.border_subtitle = "y yes · n / esc no"
            yield Static(Text(clean(self.text, limit=600, single_line=False)))  # wraps
            yield Label(Text("y = yes   n / esc = no", style="bold"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
