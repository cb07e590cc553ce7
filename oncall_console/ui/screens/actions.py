"""Choosing an action, filling its parameters, and confirming it after the preview.

The form fits each parameter's kind (a choice is a list, a flag a checkbox, a number is
checked as typed by the engine's own rule, ``model/params.py``, the message beside it);
the focused field is marked by a character (``▶``), so it shows with NO_COLOR; a refusal
keeps the form, its words beside the field it names, nothing typed lost. The confirm
dialog shows, above the preview (it scrolls; the answer line stays): the target's state
now (refreshed every second), what verification will watch, the lock, a recent run.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.validation import Number
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from oncall_console.model import ActionResult, ActionSpec, Outcome, ParamSpec, Status
from oncall_console.model.params import validate_param
from oncall_console.text import clean
from oncall_console.ui.render import FOCUS_MARK, status_word
from oncall_console.ui.widgets.steady import SteadyInput

if TYPE_CHECKING:
    from oncall_console.engine.api import ActionPlan

from oncall_console.engine.api import ActionRefused

_WIDGET_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

# The mixin is typed as a widget but has no Widget base: first in the bases, it would
# reset what the widget declares (can_focus).
if TYPE_CHECKING:
    _WidgetBase = Widget
else:
    _WidgetBase = object


from oncall_console.ui.screens.pickers import ActionPicker  # noqa: E402 - where it was

__all__ = ["FOCUS_MARK", "ActionPicker", "ConfirmAction", "ParamsForm", "result_text"]


class InOrder(_WidgetBase):
    """A field (mixin) that applies its own keys (backspace, ←, ctrl+u, space) as they come.

    Textual runs a widget's bindings only once the key has bubbled up to the app, while
    a printable key is applied at once. When keys arrive together (a slow SSH link
    delivers "backspace backspace 5" in one read) the 5 landed first and the backspaces
    then erased it: the field was left empty and the engine used the default. Here the
    field's own bindings run in its own queue, in the order the keys were typed."""

    async def _on_key(self, event: events.Key) -> None:
        # Only keys meant for this widget, not those bubbling up from a child (the open
        # list of a choice handles its own).
        for binding in self._bindings.key_to_bindings.get(event.key, ()) if self.has_focus else ():
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)


class FieldInput(InOrder, SteadyInput):
    """A one-line field whose editing keys apply in the order they were typed."""


class ChoiceField(InOrder, Select[str]):
    """A ``choice`` parameter: ↓ or space opens the list (enter picks in it); enter on
    the closed list goes to the next field, as in every other field of the form."""


class FlagField(InOrder, Checkbox):
    """A ``bool`` parameter: space toggles; ``[x] yes`` or ``[ ] no``, told apart without
    colour (the stock box is an X either way, coloured)."""

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:  # the name Checkbox reads
        return "x" if self.value else " "


def _without_name(name: str, message: str) -> str:
    """Beside its field, "older_than_minutes: must be at most 1440" says "must be at most
    1440"."""
    return message.removeprefix(f"{name}: ")


class ParamsForm(ModalScreen["ActionPlan | None"]):
    """One field per parameter, prefilled, each fit to its kind. Enter on the last field
    or ctrl+s from any submits; tab / shift+tab move; esc cancels. The values go through
    ``check`` (the engine's policy): the form closes with the plan, or stays open with
    the refusal beside the field it names (at the bottom when it names none)."""

    # Priority: the app runs these as the key comes, before it hands the next key to a
    # field, so keys typed after a tab or an enter land in the field they were meant for
    # (over a slow link several keys arrive at once).
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="params.cancel"),
        Binding("ctrl+s", "submit", "Submit", id="params.submit", priority=True),
        Binding("enter", "advance", "Next", id="params.next", show=False, priority=True),
        Binding("tab", "move(1)", "Next field", id="params.tab", show=False, priority=True),
        Binding("shift+tab", "move(-1)", "Back", id="params.back", show=False, priority=True),
    ]

    def __init__(
        self,
        spec: ActionSpec,
        values: dict[str, Any],
        *,
        subject: str = "",
        check: Callable[[dict[str, Any]], Awaitable[ActionPlan]],
        focus_first: str = "",
    ) -> None:
        super().__init__()
        self.focus_first = focus_first
        """The field the cursor starts in (the first otherwise)."""
        self.spec = spec
        self.values = values
        self.subject = subject
        self.check = check
        self.fields: dict[str, Widget] = {}
        """The editable widget of each parameter (a shown-only text has none)."""
        self._boxes: dict[str, Vertical] = {}
        self._marks: dict[str, Static] = {}
        self._labels: dict[str, Static] = {}
        self._messages: dict[str, Static] = {}
        self._checking = False
        # Set in compose; kept, not queried: a late refresh may come as the form closes.
        self._box: Vertical
        self._scroller: VerticalScroll
        self._bottom_line: Static

    # --- building ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="params-box") as box:
            self._box = box
            # The subject first: the title may be cut, what it acts on must not be.
            title = f"{self.subject} · {self.spec.title}" if self.subject else self.spec.title
            box.border_title = Content(clean(title, limit=70))
            box.border_subtitle = "tab move · enter next · ctrl+s submit · esc cancel"
            with VerticalScroll(id="params-fields", can_focus=False) as scroller:
                self._scroller = scroller
                for p in self.spec.params:
                    with Vertical(classes="param-field") as field:
                        self._boxes[p.name] = field
                        with Horizontal(classes="param-head"):
                            self._marks[p.name] = Static("", classes="param-mark")
                            yield self._marks[p.name]
                            self._labels[p.name] = Static(
                                self._label(p, focused=False), classes="param-label"
                            )
                            yield self._labels[p.name]
                        message = Static("", classes="param-msg")
                        self._messages[p.name] = message
                        if p.kind == "text" and self.values.get(p.name):
                            # Several lines (a status message) are not edited in one line.
                            yield message
                            continue
                        with Horizontal(classes="param-row"):
                            widget = self._widget(p)
                            self.fields[p.name] = widget
                            yield widget
                            yield message
            self._bottom_line = Static("", id="params-message")
            yield self._bottom_line

    def _widget(self, p: ParamSpec) -> Widget:
        value = self.values.get(p.name, p.default)
        wid = f"param-{p.name}" if _WIDGET_ID.match(p.name) else None
        if p.kind == "choice":
            current = "" if value is None else str(value)
            blank = current not in p.choices or not p.required or p.default is None
            return ChoiceField(
                [(Text(clean(c, limit=60)), c) for c in p.choices],
                value=current if current in p.choices else Select.NULL,
                allow_blank=blank,
                prompt="choose…",
                compact=True,
                id=wid,
            )
        if p.kind == "bool":
            try:
                on = bool(validate_param(p, value))
            except ActionRefused:
                on = False
            return FlagField("yes" if on else "no", on, compact=True, id=wid)
        # No placeholder: without colour it would read as a value; the message beside
        # an empty field says what empty means.
        text = "" if value is None else str(value)
        if p.kind == "int":
            return FieldInput(
                value=text,
                type="integer",
                validators=[Number(minimum=p.minimum, maximum=p.maximum)],
                valid_empty=p.default is not None or not p.required,
                compact=True,
                id=wid,
            )
        return FieldInput(value=text, compact=True, id=wid)

    def _label(self, p: ParamSpec, *, focused: bool) -> Text:
        text = Text()
        text.append(p.name, style="bold reverse" if focused else "bold")
        if p.kind == "text" and self.values.get(p.name):
            lines = str(self.values[p.name]).count("\n") + 1
            text.append(f"  {lines} lines, shown in the preview")
            return text
        hint = clean(p.help or p.kind, limit=200)
        if p.minimum is not None or p.maximum is not None:
            low = "" if p.minimum is None else p.minimum
            high = "" if p.maximum is None else p.maximum
            hint += f" ({low}..{high})"
        text.append(f"  {hint}", style="dim")
        return text

    def on_mount(self) -> None:
        for p in self.spec.params:
            if p.name in self.fields:
                self._show(p.name, self._local_message(p))
        self._mark()
        if self.focus_first in self.fields:  # a silence's comment, after its matchers
            self.set_focus(self.fields[self.focus_first])
        self.call_after_refresh(self._fit)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """The fields scroll, the message line under them stays on screen."""
        limit = int(self.size.height * 0.9) - self._box.styles.gutter.height
        bottom = self._bottom_line
        rest = bottom.outer_size.height if bottom.display else 0
        self._scroller.styles.max_height = max(3, limit - rest)

    # --- reading the fields ----------------------------------------------------------------

    def _raw(self, name: str) -> Any:
        """What the field holds now ("" when empty or nothing chosen)."""
        widget = self.fields[name]
        if isinstance(widget, Input):
            return widget.value
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else widget.value
        if isinstance(widget, Checkbox):
            return widget.value
        return ""

    def filled(self) -> dict[str, Any]:
        """The values as they stand (an empty field is left out: the engine applies the
        default, and the field says so)."""
        out: dict[str, Any] = {}
        for p in self.spec.params:
            if p.name in self.fields:
                value = self._raw(p.name)
                if value != "":
                    out[p.name] = value
            elif p.kind == "text" and self.values.get(p.name):
                out[p.name] = self.values[p.name]
        return out

    def _local_message(self, p: ParamSpec) -> Text:
        """The field's value against the one rule the engine will apply, as it is typed."""
        raw = self._raw(p.name)
        if raw == "" and p.default is not None:
            return Text(f"empty: the default {clean(p.default, limit=40)} is used", style="dim")
        if raw == "" and not p.required:
            return Text("empty: left out", style="dim")
        try:
            validate_param(p, raw)
        except ActionRefused as exc:
            return Text(f"✗ {_without_name(p.name, clean(str(exc), limit=200))}", style="bold")
        return Text("")

    def _show(self, name: str, message: Text) -> None:
        self._messages[name].update(message)
        self._messages[name].set_class(message.plain.startswith("✗"), "-error")

    def _spec(self, widget: Widget | None) -> ParamSpec | None:
        for p in self.spec.params:
            field = self._boxes.get(p.name)
            if widget is not None and field is not None and field in widget.ancestors_with_self:
                return p
        return None

    @on(Input.Changed)
    @on(Select.Changed)
    def _recheck(self, event: Input.Changed | Select.Changed) -> None:
        if (p := self._spec(event.control)) is not None:
            self._show(p.name, self._local_message(p))

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.checkbox.label = "yes" if event.value else "no"

    # --- focus: shown by a character, not only by colour ---------------------------------

    @on(events.DescendantFocus)
    @on(events.DescendantBlur)
    def _mark(self) -> None:
        here = self._spec(self.focused)
        for p in self.spec.params:
            on = here is not None and here.name == p.name
            self._marks[p.name].update(Text(FOCUS_MARK if on else "", style="bold"))
            self._labels[p.name].update(self._label(p, focused=on))
            self._boxes[p.name].set_class(on, "-focused")

    # --- moving and submitting -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # An open list (a choice) takes enter and tab itself: enter picks the option.
        focused = self.focused
        return not (
            action in ("advance", "move")
            and focused is not None
            and any(isinstance(a, Select) and a.expanded for a in focused.ancestors_with_self)
        )

    def _focused_index(self) -> tuple[list[Widget], int]:
        """The fields in order, and which one has the focus (-1: none)."""
        names, here = list(self.fields), self._spec(self.focused)
        index = names.index(here.name) if here and here.name in names else -1
        return list(self.fields.values()), index

    def action_move(self, step: int) -> None:
        """Tab / shift+tab: the next or previous field, focused now (not later)."""
        order, index = self._focused_index()
        if order:
            self.set_focus(order[(index + step) % len(order)])

    def action_advance(self) -> None:
        """Enter: the next field, or submit from the last one."""
        order, index = self._focused_index()
        if 0 <= index < len(order) - 1:
            self.set_focus(order[index + 1])
        else:
            self.action_submit()

    def action_submit(self) -> None:
        """Submit once every field has applied the keys already sent to it."""
        fields = list(self.fields.values())

        def after(n: int) -> None:
            if n < len(fields):
                fields[n].call_later(after, n + 1)
            else:
                # In the screen's own queue: a slow preview does not hold up the app.
                self.call_later(self._submit)

        after(0)

    async def _submit(self) -> None:
        if self._checking or not self.is_current:
            return
        self._checking = True
        self._bottom(Text("checking…", style="dim"))
        try:
            plan = await self.check(self.filled())
        except ActionRefused as exc:
            self._refused(exc)
            return
        finally:
            self._checking = False
        if self.is_current:
            self.dismiss(plan)

    def _refused(self, exc: ActionRefused) -> None:
        """Beside the field it names (focused), or at the bottom when it names none."""
        words = clean(str(exc), limit=300)
        if exc.param in self._messages:
            self._bottom(Text(""))
            self._show(exc.param, Text(f"✗ {_without_name(exc.param, words)}", style="bold"))
            if exc.param in self.fields:
                self.set_focus(self.fields[exc.param])
            return
        self._bottom(Text(f"✗ Refused: {words}", style="bold"))

    def _bottom(self, message: Text) -> None:
        """The line under the fields: shown only when it says something."""
        bottom = self._bottom_line
        bottom.update(message)
        bottom.display = bool(message.plain)
        bottom.set_class(message.plain.startswith("✗"), "-error")
        self.call_after_refresh(self._fit)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _span(seconds: float) -> str:
    """Verification's time limit as said in the dialog and the toast: "5 min"."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{max(1, round(seconds / 60))} min"


LIVE_ROWS = 4
"""The target's state shows at most this many rows (its check first), then "… N more"."""


PREVIEW_EVERY = 3.0
"""Seconds between reads of the preview while the confirm dialog is open."""


class ConfirmAction(ModalScreen[str | None]):
    """Shows exactly what will be done, and the target as it is now; y/n, or type the
    target's name if dangerous."""

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
        repreview: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        super().__init__()
        self.prepared = plan
        self.subject = subject
        self.live = live
        self.repreview = repreview
        """The backend's preview now: the blast radius (sessions, keys, pods) moves while
        the dialog is open, so it is read again every few seconds."""
        """The target's state now (its check, the SLIs it moves): shown, refreshed."""
        self.typed = bool(plan.typed_target)
        """The plan says so: the target's name is typed, y and n are letters."""
        self._shown_live: str | None = None
        self._shown_preview = clean(plan.preview, limit=20_000, single_line=False)
        # Set in compose; kept, not queried: a late refresh may come as the dialog closes.
        self._box: Vertical
        self._preview: VerticalScroll
        self._live_line: Static

    def compose(self) -> ComposeResult:
        p = self.prepared
        with Vertical(id="confirm-box") as box:
            self._box = box
            title = f"{self.subject} · {p.spec.title}" if self.subject else p.spec.title
            box.border_title = Content(f"Confirm · {clean(title, limit=70)}")
            box.border_subtitle = "esc cancel"
            if self.live is not None:
                self._live_line = Static("", id="confirm-live")
                yield self._live_line
            yield Static(self.watch_text(), id="confirm-watch")
            if p.lock_holder:
                yield Static(
                    Text(f"Locked now by {clean(p.lock_holder, limit=80)}", style="bold"),
                    id="confirm-lock",
                )
            if p.recent:
                yield Static(
                    Text(f"{clean(p.recent, limit=200)} — run it again?", style="bold"),
                    id="confirm-recent",
                )
            with VerticalScroll(id="confirm-preview") as preview:
                self._preview = preview
                preview.border_title = "preview"
                yield Static(
                    Text(clean(p.preview, limit=20_000, single_line=False)), id="confirm-text"
                )
            with Vertical(id="confirm-answer"):
                if self.typed:
                    target = clean(p.typed_target, limit=80)
                    yield Label(Text(f"Dangerous. Type {target} to run it:", style="bold"))
                    # No placeholder: without colour it would read as typed already.
                    yield FieldInput(id="confirm-input")
                else:
                    yield Label(Text("Run it?  y = yes   n / esc = no", style="bold"))

    def watch_text(self) -> Text:
        """What verification follows after the run, and for how long."""
        p = self.prepared
        text = Text("After the run: ", style="bold")
        if not p.watch:
            text.append("nothing to watch (no check is linked)")
            return text
        watched = ", ".join(clean(w, limit=80) for w in p.watch)
        text.append(f"watching {watched} for up to {_span(p.watch_for or 300)}")
        return text

    def live_text(self) -> Text:
        """The target's state now: one row per thing, status as glyph and word."""
        assert self.live is not None
        try:
            rows = list(self.live())
        except Exception as exc:  # a read of the engine's state; the dialog must stay
            return Text(f"Now: state unavailable: {clean(str(exc), limit=120)}", style="dim")
        if not rows:
            return Text("Now: nothing known about the target (no check is linked)", style="dim")
        variables = self.app.theme_variables
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, (what, status, detail) in enumerate(rows[:LIVE_ROWS]):
            if n:
                text.append("\n")
            text.append("Now: " if n == 0 else "     ", style="bold")
            word = status_word(status, variables)
            word.pad_right(8 - word.cell_len)
            text.append_text(word)
            text.append(clean(what, limit=80))
            if detail:
                text.append(f" · {clean(detail, limit=200)}")
        if len(rows) > LIVE_ROWS:
            text.append(f"\n     … and {len(rows) - LIVE_ROWS} more", style="dim")
        return text

    def on_mount(self) -> None:
        if self.typed:  # the answer is typed: the cursor waits there, not on the preview
            self.set_focus(self.query_one("#confirm-input", Input))
        if self.live is not None:
            self.refresh_live()
            self.set_interval(1.0, self.refresh_live)
        if self.repreview is not None:
            self.set_interval(PREVIEW_EVERY, self._refresh_preview)
        self.call_after_refresh(self._fit)

    @work(exclusive=True, group="repreview")
    async def _refresh_preview(self) -> None:
        """The preview as the backend sees it now; repainted only when it changed."""
        assert self.repreview is not None
        text = clean(await self.repreview(), limit=20_000, single_line=False)
        if text != self._shown_preview and self.is_attached:
            self._shown_preview = text
            self.query_one("#confirm-text", Static).update(Text(text))

    def refresh_live(self) -> None:
        """Read the target's state again; repaint only when it changed (slow links)."""
        text = self.live_text()
        if text.plain != self._shown_live:
            rows = self._shown_live.count("\n") if self._shown_live is not None else None
            self._shown_live = text.plain
            self._live_line.update(text)
            if rows is not None and rows != text.plain.count("\n"):
                self.call_after_refresh(self._fit)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """The preview takes what the box has left, so the answer line always shows."""
        box, preview = self._box, self._preview
        limit = int(self.size.height * 0.9) - box.styles.gutter.height
        rest = sum(c.outer_size.height for c in box.children if c is not preview)
        preview.styles.max_height = max(3, limit - rest - preview.styles.margin.height)

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
