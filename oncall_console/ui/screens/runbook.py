"""Walking a runbook: phases and steps with check marks, live diagnostics, actions
behind the confirm dialog, an escalation timer, progress saved in the store."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from oncall_console.durations import format_age
from oncall_console.engine.api import ActionRefused, DiagnosticRefused
from oncall_console.runbooks import (
    ActionBlock,
    PromqlBlock,
    ReferenceBlock,
    Runbook,
    SqlBlock,
    Step,
)
from oncall_console.store import StepProgress
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, ActionFinished, RunAction, StepRef, oncall_of
from oncall_console.ui.render import notify_error
from oncall_console.ui.screens.detail import detail_table
from oncall_console.ui.screens.incident import PRESENCE_EVERY, announce_presence, present_on
from oncall_console.ui.widgets.tables import VimOptionList
from oncall_console.ui.widgets.watchbar import WatchBar


class RunbookScreen(Screen[None]):
    """One runbook for one scope (an incident, an alert, a check, or a shift)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="runbook.back"),
        HELP,  # first: the footer is cut from the right at 80 columns
        Binding("space", "tick", "Done", id="runbook.toggle", tooltip="Tick or untick the step"),
        Binding(
            "x", "run_action", "Run action", id="runbook.action", tooltip="Run the step's action"
        ),
        Binding(
            "r",
            "diagnose",
            "Run query",
            id="runbook.diagnose",
            tooltip="Run the step's read-only queries (g is the first step)",
        ),
        Binding("c", "copy", "Copy", id="runbook.copy", tooltip="Copy the step's command (OSC 52)"),
    ]

    def __init__(self, runbook: Runbook, scope: str, *, started_at: float | None = None) -> None:
        super().__init__()
        self.runbook = runbook
        self.scope = scope
        self.started_at = started_at
        self.progress: dict[str, StepProgress] = {}
        self.results: dict[int, RenderableType] = {}
        self._escalation_told = False
        self._presence_timer: Timer | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A read-only console ticks nothing and runs no action: the keys are not offered.
        if action in ("tick", "run_action") and oncall_of(self).settings.read_only:
            return False
        return True

    def compose(self) -> ComposeResult:
        yield Static(id="runbook-head")
        with Horizontal(id="runbook-body"):
            yield VimOptionList(id="runbook-steps")
            with VerticalScroll(id="runbook-detail", classes="panel") as detail:
                detail.border_title = "Step"
                yield Static(id="runbook-step")
        yield WatchBar()
        yield Footer()

    async def on_mount(self) -> None:
        if self.started_at is None:
            self.started_at = self.app.clock()
        self.progress = await oncall_of(self).runbooks.progress(self.runbook, self.scope)
        self._fill()
        self.query_one(OptionList).focus()
        self.set_interval(1.0, self._tick)
        self.set_interval(PRESENCE_EVERY, self._presence)
        self._tick()

    # --- the picture -------------------------------------------------------------------------

    def _fill(self) -> None:
        steps = self.query_one(OptionList)
        highlighted = steps.highlighted
        steps.clear_options()
        for phase in self.runbook.all_phases():
            title = phase.title if phase.id != "intro" else "Before you start"
            steps.add_option(Option(Text(clean(title, limit=80), style="bold"), disabled=True))
            for step in phase.steps:
                steps.add_option(Option(self._step_label(step), id=step.id))
        if highlighted is not None:
            steps.highlighted = highlighted
        else:
            first = next((i for i, o in enumerate(steps.options) if not o.disabled), None)
            steps.highlighted = first
        self._show_step()

    def _step_label(self, step: Step) -> Text:
        done = self.progress.get(step.id)
        mark = "[x]" if done and done.done else "[ ]"
        label = Text("  " * step.depth + mark + " ", style="bold" if done and done.done else "")
        label.append(clean(step.text, limit=200), style="dim" if done and done.done else "")
        kinds = {type(b) for b in step.blocks}
        if ActionBlock in kinds:
            label.append("  ▶", style="bold")
        if kinds & {PromqlBlock, SqlBlock}:
            label.append("  ?")
        return label

    def _tick(self) -> None:
        now = self.app.clock()
        rb = self.runbook
        done = sum(1 for s in rb.steps if (p := self.progress.get(s.id)) and p.done)
        head = Text(
            f" {clean(rb.title, limit=80)} ",
            style="bold reverse",
            no_wrap=True,
            overflow="ellipsis",
        )
        if rb.severity:
            head.append(f" {rb.severity.label}", style="bold")
        elapsed = now - (self.started_at or now)
        # The clock that matters first: escalation, then progress, then where this is.
        if rb.escalate_after_minutes:
            left = rb.escalate_after_minutes * 60 - elapsed
            if left > 0:
                head.append(f"  escalate in {int(left // 60)}:{int(left % 60):02d}")
            else:
                head.append("  ESCALATE NOW ", style="bold reverse")
                if not self._escalation_told:
                    self._escalation_told = True
                    self.notify(
                        f"{rb.escalate_after_minutes} min without resolution: engage the next "
                        "level of the escalation policy.",
                        title="Escalation due",
                        severity="warning",
                        timeout=30,
                        markup=False,
                    )
        head.append(
            f"  {done}/{len(rb.steps)} done  ·  {clean(self.scope, limit=40)}  ·  open {format_age(elapsed)}"
        )
        others = present_on(oncall_of(self), self.scope, now)
        if others:
            head.append(f"  ·  also here: {'; '.join(others)}")
        self.query_one("#runbook-head", Static).update(head)

    def selected(self) -> Step | None:
        steps = self.query_one(OptionList)
        if steps.highlighted is None:
            return None
        option = steps.get_option_at_index(steps.highlighted)
        return self.runbook.step(option.id) if option.id else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_step()
        # Tell the other consoles where this one is, once the cursor rests (presence).
        if self._presence_timer is not None:
            self._presence_timer.stop()
        self._presence_timer = self.set_timer(0.5, self._presence)

    def _presence(self) -> None:
        step = self.selected()
        doing = f"runbook {self.runbook.id}" + (f": {clean(step.text, limit=60)}" if step else "")
        announce_presence(oncall_of(self), self.scope, doing)

    def on_unmount(self) -> None:
        announce_presence(oncall_of(self), "", "")

    def _show_step(self) -> None:
        step = self.selected()
        body = self.query_one("#runbook-step", Static)
        if step is None:
            body.update(Text(clean(self.runbook.intro.text, limit=4000, single_line=False)))
            return
        parts: list[RenderableType] = [Text(clean(step.text, limit=500), style="bold")]
        done = self.progress.get(step.id)
        if done and done.done:
            parts.append(Text(f"done by {clean(done.operator, limit=40)}", style="dim"))
        if step.note:
            parts.append(Text(clean(step.note, limit=4000, single_line=False)))
        for block in step.blocks:
            parts.append(Text(""))
            parts.append(self._block(block))
        body.update(Group(*parts))

    def _block(self, block: Any) -> RenderableType:
        if isinstance(block, ActionBlock):
            title = block.title or block.key
            params = ", ".join(f"{k}={v}" for k, v in block.params.items())
            text = Text(f"▶ action: {clean(title, limit=80)}  (x to run)\n", style="bold")
            text.append(clean(f"{block.key}({params})", limit=300))
            return text
        if isinstance(block, PromqlBlock | SqlBlock):
            language = "promql" if isinstance(block, PromqlBlock) else "sql"
            query = block.query if isinstance(block, PromqlBlock) else block.sql
            head = Text(f"? {language} diagnostic  (g to run)\n", style="bold")
            head.append(clean(query, limit=2000, single_line=False))
            result = self.results.get(block.line)
            return Group(head, result) if result is not None else head
        assert isinstance(block, ReferenceBlock)
        text = Text(
            f"$ reference{f' ({block.language})' if block.language else ''}  (c to copy; never run here)\n",
            style="bold",
        )
        text.append(clean(block.text, limit=4000, single_line=False))
        return text

    # --- commands ----------------------------------------------------------------------------

    async def action_tick(self) -> None:
        step = self.selected()
        if step is not None:
            await self._set_done(step, not ((p := self.progress.get(step.id)) and p.done))

    async def _set_done(self, step: Step, done: bool) -> None:
        try:
            self.progress[step.id] = await oncall_of(self).runbooks.mark(
                self.runbook, self.scope, step.id, done
            )
        except Exception as exc:
            self.notify(
                f"progress not saved: {clean(str(exc), limit=200)}", severity="error", markup=False
            )
            return
        self._fill()

    def action_copy(self) -> None:
        step = self.selected()
        refs = [b for b in (step.blocks if step else ()) if isinstance(b, ReferenceBlock)]
        if not refs:
            self.notify("No command to copy in this step.", timeout=3)
            return
        self.app.copy_to_clipboard(refs[0].text)  # OSC 52: works over SSH in most terminals
        self.notify("Copied to your clipboard (OSC 52).", timeout=3)

    @work(exclusive=True, group="diagnostic")
    async def action_diagnose(self) -> None:
        step = self.selected()
        blocks = [b for b in (step.blocks if step else ()) if isinstance(b, PromqlBlock | SqlBlock)]
        if not blocks:
            self.notify("No query in this step.", timeout=3)
            return
        for block in blocks:
            try:
                table = await oncall_of(self).runbooks.diagnose(block)
            except DiagnosticRefused as exc:
                self.results[block.line] = Text(f"✗ {clean(str(exc), limit=500)}", style="bold")
            else:
                self.results[block.line] = detail_table(table)
        self._show_step()

    def action_run_action(self) -> None:
        step = self.selected()
        blocks = [b for b in (step.blocks if step else ()) if isinstance(b, ActionBlock)]
        if not blocks:
            self.notify("No action in this step.", timeout=3)
            return
        block = blocks[0]
        oncall = oncall_of(self)
        try:
            spec = oncall.spec_for(block.backend, block.action)
        except ActionRefused as exc:
            notify_error(self, "Refused", exc)
            return
        assert step is not None
        self.post_message(
            RunAction(
                f"{self.runbook.title} · {step.text}",
                backend=block.backend,
                spec=spec,
                values=dict(block.params),
                ask=block.ask,
                scope=self.scope,
                step=StepRef(self.runbook, self.scope, step.id),
                reply_to=self,
            )
        )

    async def on_action_finished(self, message: ActionFinished) -> None:
        """The step's action ran (the flow ticked it): show the tick."""
        if message.succeeded:
            self.progress = await oncall_of(self).runbooks.progress(self.runbook, self.scope)
            self._fill()
