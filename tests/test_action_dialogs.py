"""The action dialogs as an engineer meets them at 3 a.m. (issue #13).

The params form fits its parameters (a choice is a list, a flag a checkbox, a number is
checked as it is typed), marks the focused field with a character, keeps what was typed
through a refusal (its words beside the field it names), submits with enter on the last
field or ctrl+s from any, and applies keys in the order they were typed even when they
arrive together, as over a slow SSH link ("editing older_than_minutes did not take").

The confirm dialog shows the target's state now (refreshed every second), what
verification will watch after the run, the lock holder and a recent run, above a preview
that scrolls, with the answer line always on screen at 80x24.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widgets import Checkbox, Input, OptionList, Select, Static

from oncall_console.engine.api import ActionPlan, ActionRefused
from oncall_console.model import ActionRequest, ActionSpec, Confirm, ParamSpec, Status
from oncall_console.model.params import validate_param
from oncall_console.ui.messages import RunAction
from oncall_console.ui.screens.actions import FOCUS_MARK, ActionPicker, ConfirmAction, ParamsForm
from tests.support.demoapp import demo_app, settle
from tests.support.terminal import Terminal

UI = Path(__file__).resolve().parent.parent / "oncall_console" / "ui"
CSS = [str(UI / "console.tcss"), str(UI / "screens.tcss")]

# A PostgreSQL-like action with one parameter of each kind the form draws differently.
SPEC = ActionSpec(
    id="terminate-idle",
    title="Terminate sessions idle for longer than N minutes",
    params=(
        ParamSpec(
            "state",
            "choice",
            help="idle, or idle-in-transaction (holding a transaction open)",
            default="idle",
            choices=("idle", "idle-in-transaction"),
        ),
        ParamSpec(
            "older_than_minutes",
            "int",
            help="Only sessions in that state for longer than this (0: all of them, now)",
            default=10,
            minimum=0,
            maximum=1440,
        ),
        ParamSpec(
            "include_superusers",
            "bool",
            help="Also end superuser sessions",
            required=False,
            default=False,
        ),
        ParamSpec("database", "identifier", help="Only sessions on this database", required=False),
    ),
    target_param="database",
)
STEP_VALUES = {"state": "idle-in-transaction", "older_than_minutes": 10}
"""What a runbook step hands the form (database-connection-exhaustion.md)."""


class Policy:
    """The engine's check() for SPEC: the one parameter rule, then a plan whose preview
    quotes the values; or the refusal it is told to raise. Records what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.refusal: ActionRefused | None = None

    async def __call__(self, values: dict[str, Any]) -> ActionPlan:
        self.seen.append(dict(values))
        if self.refusal is not None:
            raise self.refusal
        params = {p.name: validate_param(p, values.get(p.name)) for p in SPEC.params}
        preview = (
            f"terminate sessions {params['state']} for over {params['older_than_minutes']} min"
        )
        request = ActionRequest("pg", SPEC.id, params, "alex")
        return ActionPlan(request, SPEC, params, str(params["database"] or "pg"), preview)


class FormApp(App[None]):
    """The form alone over an empty screen, with the console's stylesheet."""

    CSS_PATH = CSS

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.policy = Policy()
        self.values = dict(STEP_VALUES if values is None else values)
        self.result: Any = "open"

    def on_mount(self) -> None:
        self.push_screen(
            ParamsForm(SPEC, dict(self.values), subject="pg", check=self.policy), self._form_closed
        )

    def _form_closed(self, plan: Any) -> None:
        self.result = plan


KEY_CHARACTERS = {"tab": "\t", "backspace": "\x7f", "enter": "\r", "ctrl+s": "\x13"}


async def burst(pilot: Any, *keys: str) -> None:
    """Keys as a slow SSH link delivers them: all in one read, none waited for."""
    for key in keys:
        pilot.app.post_message(events.Key(key, KEY_CHARACTERS.get(key, key)))
    for _ in range(4):
        await pilot.pause()


def screen_text(app: App[Any]) -> str:
    """Every character the compositor would send for the current screen, line by line."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip if not seg.control) for strip in strips)


def beside(form: ParamsForm, name: str) -> str:
    """The message shown on the same line as the field, to its right."""
    field = form.fields[name]
    message = field.parent.query_one(".param-msg", Static)
    assert message.region.y == field.region.y and message.region.x >= field.region.right
    return str(message.render())


def bottom(form: ParamsForm) -> str:
    line = form.query_one("#params-message", Static)
    return str(line.render()) if line.display else ""


def line_of(text: str, words: str) -> str:
    return next(line for line in text.splitlines() if words in line)


async def wait_for(pilot: Any, condition: Any, what: str, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


# --- the picker -------------------------------------------------------------------------


async def test_the_picker_marks_the_highlighted_action_with_a_character():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        picked: list[Any] = []
        choices = [("demo", SPEC), ("demo", replace(SPEC, id="other", title="Restart a pod"))]
        app.push_screen(ActionPicker("pg", choices), picked.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ActionPicker), "the picker")
        await pilot.pause()
        shown = screen_text(app)
        assert f"{FOCUS_MARK} 1 Terminate sessions idle" in shown
        assert f"{FOCUS_MARK} 2 Restart a pod" not in shown
        await pilot.press("down")
        shown = screen_text(app)
        assert f"{FOCUS_MARK} 2 Restart a pod" in shown
        assert f"{FOCUS_MARK} 1 Terminate sessions idle" not in shown
        await pilot.press("enter")
        assert picked == [choices[1]]


async def test_a_digit_picks_the_nth_action_in_one_key():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        picked: list[Any] = []
        choices = [("demo", SPEC), ("demo", replace(SPEC, id="other", title="Restart a pod"))]
        app.push_screen(ActionPicker("pg", choices), picked.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ActionPicker), "the picker")
        await pilot.press("9")  # no ninth action: nothing happens
        await pilot.press("2")
        assert picked == [choices[1]]


# --- the params form --------------------------------------------------------------------


async def test_each_kind_gets_its_own_field():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        assert isinstance(form, ParamsForm)
        state = form.fields["state"]
        assert isinstance(state, Select) and state.value == "idle-in-transaction"
        age = form.fields["older_than_minutes"]
        assert isinstance(age, Input) and age.type == "integer" and age.value == "10"
        flag = form.fields["include_superusers"]
        assert isinstance(flag, Checkbox) and flag.value is False
        assert isinstance(form.fields["database"], Input)
        assert "[ ] no" in screen_text(app)

        # The choice's list holds its choices and nothing else: nothing to mistype.
        await pilot.press("down")
        assert state.expanded
        listed = state.query_one(OptionList)
        assert [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)] == [
            "idle",
            "idle-in-transaction",
        ]
        await pilot.press("escape")
        assert not state.expanded and app.screen is form

        # The flag: space toggles, and it says so in words, not only in colour.
        await pilot.press("tab", "tab", "space")
        assert flag.has_focus and flag.value is True
        assert "[x] yes" in screen_text(app)


async def test_a_choice_is_picked_by_keyboard_and_enter_goes_on():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        state = form.fields["state"]
        assert state.has_focus
        await pilot.press("down")  # opens the list on the current choice
        await pilot.press("up", "enter")  # enter picks in the open list
        assert state.value == "idle" and not state.expanded
        assert state.has_focus and app.screen is form
        await pilot.press("enter")  # on the closed list: the next field
        assert form.fields["older_than_minutes"].has_focus
        assert app.result == "open"


async def test_a_number_is_checked_as_it_is_typed_the_message_beside_it():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        age = form.fields["older_than_minutes"]
        await pilot.press("tab", *"99999")
        assert age.value == "99999"
        assert beside(form, "older_than_minutes") == "✗ must be at most 1440"
        await pilot.press("ctrl+u")
        assert beside(form, "older_than_minutes") == "empty: the default 10 is used"
        await pilot.press("-", "1")
        assert beside(form, "older_than_minutes") == "✗ must be at least 0"
        await pilot.press("ctrl+u", "2", "x", "0")  # not a digit: not taken
        assert age.value == "20"
        assert beside(form, "older_than_minutes") == ""
        assert app.result == "open" and form.fields["older_than_minutes"].has_focus


async def test_the_focused_field_is_marked_by_a_character_not_only_by_colour():
    assert FOCUS_MARK.strip() and FOCUS_MARK.isprintable()
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        shown = screen_text(app)
        assert f"{FOCUS_MARK} state" in line_of(shown, "state  idle, or")
        assert FOCUS_MARK not in line_of(shown, "older_than_minutes")
        await pilot.press("tab")
        shown = screen_text(app)
        assert f"{FOCUS_MARK} older_than_minutes" in line_of(shown, "older_than_minutes")
        assert FOCUS_MARK not in line_of(shown, "state  idle, or")
        # The label is reversed too (an attribute NO_COLOR keeps), not recoloured.
        label = app.screen.fields["older_than_minutes"].parent.parent.query_one(".param-label")
        assert isinstance(label.content, Text)
        assert any("reverse" in str(span.style) for span in label.content.spans)
        # While the choice's list is open, its field keeps the mark.
        await pilot.press("shift+tab", "down")
        assert app.screen.fields["state"].expanded
        assert f"{FOCUS_MARK} state" in line_of(screen_text(app), "state  idle, or")


async def test_a_refusal_keeps_the_form_and_everything_typed_the_words_beside_the_field():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        await pilot.press("down", "up", "enter")  # state: idle
        await pilot.press("tab", *"99999", "tab", "space", "tab", *"app")
        await pilot.press("ctrl+s")
        await pilot.pause()
        # The engine's rule refused older_than_minutes: the form is still here, the words
        # beside that field, the cursor back in it, and nothing typed is lost.
        assert app.screen is form and app.result == "open"
        assert app.policy.seen[-1]["older_than_minutes"] == "99999"
        assert beside(form, "older_than_minutes") == "✗ must be at most 1440"
        assert form.fields["older_than_minutes"].has_focus
        assert form.filled() == {
            "state": "idle",
            "older_than_minutes": "99999",
            "include_superusers": True,
            "database": "app",
        }
        assert bottom(form) == ""

        # A refusal that names a field the form has: beside it, that field focused.
        app.policy.refusal = ActionRefused("database: no such database 'app'", param="database")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert beside(form, "database") == "✗ no such database 'app'"
        assert form.fields["database"].has_focus and app.screen is form

        # A refusal that names none: at the bottom, in plain words (remote text: no markup).
        app.policy.refusal = ActionRefused("pg is locked by [b]sam[/b] \x1b[2J now")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert bottom(form) == "✗ Refused: pg is locked by [b]sam[/b]  now"
        assert "[b]sam[/b]" in screen_text(app) and "\x1b" not in screen_text(app)
        assert app.screen is form and form.filled()["database"] == "app"

        # Corrected, it goes through with every value as typed.
        app.policy.refusal = None
        form.set_focus(form.fields["older_than_minutes"])
        await pilot.press("ctrl+u", "3", "0", "ctrl+s")
        await wait_for(pilot, lambda: app.result != "open", "the form closed")
        assert app.result.params == {
            "state": "idle",
            "older_than_minutes": 30,
            "include_superusers": True,
            "database": "app",
        }


async def test_ctrl_s_submits_from_any_field_enter_from_the_last_esc_cancels():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.fields["state"].has_focus
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.result != "open", "ctrl+s submitted")
        assert app.policy.seen == [
            {
                "state": "idle-in-transaction",
                "older_than_minutes": "10",
                "include_superusers": False,
            }
        ]
        assert isinstance(app.result, ActionPlan)

    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        await pilot.press("enter", "enter", "enter")
        assert form.fields["database"].has_focus and app.result == "open"
        await pilot.press("enter")  # the last field
        await wait_for(pilot, lambda: app.result != "open", "enter on the last field submitted")
        assert app.result.params["older_than_minutes"] == 10

    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", "5", "escape")
        assert app.result is None and app.policy.seen == []


async def test_editing_older_than_minutes_takes():
    """The 3 a.m. report: the preview still said 10. Keys typed after a tab arrive in one
    read over a slow link; Textual ran the field's backspaces after the digit that
    followed them (bindings run once the key has bubbled up to the app), and the tab
    after the keys meant for the next field: the digit went to the wrong field or was
    erased, the emptied field fell back to the default."""
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        spec = app.oncall.spec_for("demo", "terminate-idle")

        def ask() -> RunAction:
            """As the runbook step starts it (its params, older_than_minutes asked)."""
            return RunAction(
                "PostgreSQL",
                backend="demo",
                spec=spec,
                values={"older_than_minutes": 10},
                ask=("older_than_minutes",),
            )

        # Key by key.
        app.dashboard.post_message(ask())
        await wait_for(pilot, lambda: isinstance(app.screen, ParamsForm), "the form")
        assert app.screen.fields["older_than_minutes"].value == "10"
        await pilot.press("tab", "2", "0", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmAction), "the confirm")
        plan = app.screen.prepared
        assert plan.params["older_than_minutes"] == 20 and "over 20 min" in plan.preview
        await pilot.press("n")
        await app.workers.wait_for_complete()

        # All at once, as a slow SSH link delivers them.
        app.dashboard.post_message(ask())
        await wait_for(pilot, lambda: isinstance(app.screen, ParamsForm), "the form again")
        form = app.screen
        await burst(pilot, "tab", "backspace", "backspace", "7")
        assert form.fields["older_than_minutes"].value == "7"
        assert form.fields["database"].value == "postgres"
        await burst(pilot, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmAction), "the confirm again")
        plan = app.screen.prepared
        assert plan.params["older_than_minutes"] == 7 and "over 7 min" in plan.preview
        await pilot.press("n")
        await app.workers.wait_for_complete()


async def test_keys_typed_at_once_land_in_order_and_in_the_field_they_were_meant_for():
    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.screen
        await burst(pilot, "tab", "backspace", "backspace", "5", "tab", "space", "tab", "d", "b")
        assert form.filled() == {
            "state": "idle-in-transaction",
            "older_than_minutes": "5",
            "include_superusers": True,
            "database": "db",
        }
        # A value typed and submitted in the same read is the value submitted.
        form.set_focus(form.fields["older_than_minutes"])
        await pilot.pause()
        await burst(pilot, "backspace", "4", "5", "ctrl+s")
        await wait_for(pilot, lambda: app.result != "open", "submitted")
        assert app.policy.seen[-1]["older_than_minutes"] == "45"


def open_alert_actions(console: Terminal) -> str:
    """3 then a, until the alert's actions dialog is on screen; the screen then.

    Keys written before the app reads them are lost, so the pair is written again, but
    only when the screen shows no dialog at all: a digit written into an open actions
    dialog picks an action (CI once opened "Expire a silence now" that way)."""
    for _ in range(10):
        console.press("3", "a")
        try:
            console.wait_for("an actions dialog", "Actions ·", 5.0)
        except AssertionError:
            continue  # the keys were lost: no dialog came
        try:
            return console.wait_for("the alert's", "Terminate idle database connections", 5.0)
        except AssertionError:  # Health's row's: "3" was lost, "a" was not
            console.press("\x1b")  # before the next key (ESC 3 reads as alt+3)
            console.wait_for("no dialog", lambda s: "Actions ·" not in s, 10.0)
    raise AssertionError(f"the alert's actions never opened; the screen:\n{console.screen()}")


def test_the_form_and_the_confirm_over_a_real_terminal_without_colour():
    """The demo on a pty at 80x24 with NO_COLOR: the mark is on screen as a character;
    keys written in one go (tab, two backspaces, a digit) edit the field they were
    meant for; the confirm dialog says what is watched after the run."""
    with Terminal("alex", ["demo"], env={"NO_COLOR": "1"}, cols=80, rows=24) as console:
        console.wait_for("the dashboard", "Incidents & alerts")
        # The alerts panel: its one alert at start-up, DiskUsageHigh, is about PostgreSQL,
        # whose actions begin with terminating idle connections.
        shown = open_alert_actions(console)
        assert "PostgreSQL (alert DiskUsageHigh)" in shown and "Roll back" not in shown
        console.press("\r")
        shown = console.wait_for("the form", "older_than_minutes")
        assert f"{FOCUS_MARK} database" in shown
        console.press("\t\x7f\x7f7")  # one write: as a slow link delivers them
        shown = console.wait_for(
            "the age field focused", lambda s: f"{FOCUS_MARK} older_than_minutes" in s
        )
        assert "postgres" in shown
        console.press("\r")
        shown = console.wait_for("the confirm dialog", "over 7 min")
        assert "After the run: " in shown and "Run it?" in shown
        assert "Now: " in shown
        console.press("n")
        console.wait_for("the dialog closed", lambda s: "Run it?" not in s)


# --- the confirm dialog -----------------------------------------------------------------


async def rollback_plan(app: Any) -> ActionPlan:
    oncall = app.oncall
    request = oncall.request("demo", "rollback", {"service": "prediction-service"})
    return await oncall.prepare(request, about="prediction-service")


async def open_confirm(pilot: Any, plan: ActionPlan, live: Any = None) -> ConfirmAction:
    app = pilot.app
    answers: list[str | None] = []
    app.push_screen(ConfirmAction(plan, subject="prediction-service", live=live), answers.append)
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmAction), "the confirm dialog")
    await pilot.pause()
    screen = app.screen
    screen.answers = answers  # type: ignore[attr-defined]
    return screen


def static_text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_the_confirm_shows_the_target_now_refreshed_every_second():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app)
        rows = [("check prediction-service", Status.DOWN, "readiness failing: 0/3 ready")]
        await open_confirm(pilot, plan, live=lambda: list(rows))
        shown = screen_text(app)
        assert "Now: ✗ DOWN  check prediction-service · readiness failing: 0/3 ready" in shown
        lines = shown.splitlines()
        now = next(i for i, line in enumerate(lines) if "Now: " in line)
        assert now < next(i for i, line in enumerate(lines) if "preview" in line)

        rows[0] = ("check prediction-service", Status.OK, "3/3 ready")
        rows.append(("SLI API error rate", Status.CRITICAL, "2.4% · budget 12% left"))
        await wait_for(pilot, lambda: "SLI API error rate" in screen_text(app), "the refresh", 3)
        shown = screen_text(app)
        assert "Now: ✓ OK    check prediction-service · 3/3 ready" in shown
        assert "! CRIT  SLI API error rate · 2.4% · budget 12% left" in shown
        await pilot.press("escape")

        # The engine's own reading of the target.
        await open_confirm(pilot, plan, live=lambda: app.oncall.live_state(plan))
        now_line = line_of(screen_text(app), "Now: ")
        assert f"{Status.DOWN.glyph} {Status.DOWN.label}" in now_line
        assert "check prediction-service" in now_line


async def test_the_confirm_says_what_is_watched_after_the_run():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app)
        assert plan.watch == ("check prediction-service", "alert PredictionServiceDown")
        screen = await open_confirm(pilot, plan)
        assert static_text(screen, "#confirm-watch") == (
            "After the run: watching check prediction-service, alert PredictionServiceDown"
            " for up to 5 min"
        )
        await pilot.press("escape")

        screen = await open_confirm(
            pilot, replace(plan, watch=("SLI API error rate",), watch_for=90)
        )
        assert static_text(screen, "#confirm-watch").endswith("SLI API error rate for up to 2 min")
        await pilot.press("escape")

        screen = await open_confirm(pilot, replace(plan, watch=(), check=""))
        assert static_text(screen, "#confirm-watch") == (
            "After the run: nothing to watch (no check is linked)"
        )


async def test_the_confirm_warns_of_a_recent_run_and_names_the_lock_holder():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app)
        screen = await open_confirm(pilot, plan)
        assert not screen.query("#confirm-recent") and not screen.query("#confirm-lock")
        await pilot.press("escape")

        plan = replace(
            plan,
            recent="this ran 2 min ago by alex (succeeded)",
            lock_holder="sam on sam-bastion:1 (demo/rollback)",
        )
        screen = await open_confirm(pilot, plan)
        warning = screen.query_one("#confirm-recent", Static)
        assert str(warning.render()) == "this ran 2 min ago by alex (succeeded) — run it again?"
        assert isinstance(warning.content, Text) and "bold" in str(warning.content.style)
        assert static_text(screen, "#confirm-lock") == (
            "Locked now by sam on sam-bastion:1 (demo/rollback)"
        )
        shown = screen_text(app)
        assert shown.index("run it again?") < shown.index("preview")
        # The answer is as it was: y runs it.
        await pilot.press("y")
        assert screen.answers == ["y"]


async def test_the_confirm_fits_80x24_the_preview_scrolls_the_answer_stays():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app)
        long = replace(
            plan,
            preview="\n".join(f"UPDATE line {n}" for n in range(200)),
            recent="this ran 2 min ago by alex (succeeded)",
            lock_holder="sam on sam-bastion:1 (demo/rollback)",
        )
        rows = [(f"SLI number {n}", Status.DEGRADED, "past warn") for n in range(6)]
        screen = await open_confirm(pilot, long, live=lambda: rows)
        shown = screen_text(app)
        assert "Run it?  y = yes   n / esc = no" in shown
        assert "… and 2 more" in shown and "SLI number 4" not in shown
        box = screen.query_one("#confirm-box")
        answer = screen.query_one("#confirm-answer")
        assert box.region.bottom <= 24 and answer.region.bottom < box.region.bottom
        preview = screen.query_one("#confirm-preview")
        assert preview.max_scroll_y > 0 and preview.has_focus
        await pilot.press("pagedown")
        assert preview.scroll_y > 0
        assert "Run it?  y = yes   n / esc = no" in screen_text(app)
        await pilot.press("escape")

        # Typed: the field to type in is on screen too, and y is a letter there.
        typed = replace(long, confirm=Confirm.TYPE_TARGET)
        screen = await open_confirm(pilot, typed, live=lambda: rows)
        field = screen.query_one("#confirm-input", Input)
        assert (
            field.has_focus
            and field.region.bottom <= screen.query_one("#confirm-box").region.bottom
        )
        assert "Dangerous. Type prediction-service to run it:" in screen_text(app)
        await pilot.press("y")
        assert app.screen is screen and field.value == "y"
        # Typed at once, with a correction: the field holds what was typed, in order.
        await burst(pilot, "backspace", *"prediction-servicx", "backspace", "e", "enter")
        await wait_for(pilot, lambda: screen.answers, "the answer")
        assert screen.answers == ["prediction-service"]


async def test_remote_text_in_the_confirm_stays_plain():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = replace(
            await rollback_plan(app),
            preview="[link=x]y[/link] \x1b[2J gone",
            recent="[red]x[/] \x1b]52;c;aGk=\x07ran",
            lock_holder="[b]sam[/b]",
            watch=("alert [blink]Down[/]",),
        )
        live = [("check [i]p[/i]", Status.DOWN, "\x1b[31mred[/] \x07")]
        await open_confirm(pilot, plan, live=lambda: live)
        shown = screen_text(app)
        for literal in (
            "[link=x]y[/link]",
            "[red]x[/]",
            "[b]sam[/b]",
            "[blink]Down[/]",
            "[i]p[/i]",
        ):
            assert literal in shown, literal
        assert "\x1b" not in shown and "\x07" not in shown


# --- the look, pinned at 80x24 ----------------------------------------------------------
# Over a blank screen: the dialog alone (the dashboard behind one is pinned in
# tests/test_snapshots.py).


def test_params_form_at_80x24(snap_compare):
    async def open_form(pilot):
        await settle(pilot)
        await pilot.app.push_screen(Screen())
        form = ParamsForm(SPEC, dict(STEP_VALUES), subject="PostgreSQL", check=Policy())
        pilot.app.push_screen(form)
        await pilot.pause()
        await pilot.press("tab", *"99999")
        await pilot.pause()

    assert snap_compare(demo_app(at=90), terminal_size=(80, 24), run_before=open_form)


def test_confirm_dialog_at_80x24(snap_compare):
    async def open_dialog(pilot):
        await settle(pilot)
        app = pilot.app
        plan = replace(await rollback_plan(app), recent="this ran 2 min ago by alex (succeeded)")
        await app.push_screen(Screen())
        live = lambda: app.oncall.live_state(plan)  # noqa: E731
        app.push_screen(ConfirmAction(plan, subject="prediction-service", live=live))
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(demo_app(at=90), terminal_size=(80, 24), run_before=open_dialog)


async def test_the_confirm_reads_the_blast_radius_again_while_it_is_open(monkeypatch):
    """Sessions, keys, pods: the count moves while the engineer reads; the preview is
    read from the backend again every few seconds (OnCall.repreview)."""
    from oncall_console.ui.screens import actions as dialogs

    monkeypatch.setattr(dialogs, "PREVIEW_EVERY", 0.05)
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app)
        counts = iter(range(44, 0, -1))

        async def repreview() -> str:
            return f"{next(counts)} session(s) idle match now\n\nSELECT ..."

        app.push_screen(ConfirmAction(plan, subject="pg", repreview=repreview))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmAction), "the dialog")
        await wait_for(pilot, lambda: "session(s) idle match now" in screen_text(app), "read", 3)
        first = line_of(screen_text(app), "match now")
        await wait_for(pilot, lambda: line_of(screen_text(app), "match now") != first, "moved", 3)
        await pilot.press("escape")
