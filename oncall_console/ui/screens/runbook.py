"""Walking a runbook: phases and steps with check marks, live diagnostics, actions
behind the confirm dialog, an escalation timer, progress saved in the store."""

from __future__ import annotations

from dataclasses import replace
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
    Block,
    Phase,
    PromqlBlock,
    ReferenceBlock,
    Runbook,
    SqlBlock,
    Step,
)
from oncall_console.runbooks.body import SQL_LANGUAGES
from oncall_console.runbooks.placeholders import (
    copyable,
    fill,
    kubectl_get_pods,
    pieces,
    promql_like,
)
from oncall_console.runbooks.prose import prose
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
            "x",
            "run_action",
            "Run action",
            id="runbook.action",
            tooltip="Run the step's action (steps marked ▶ have one)",
        ),
        Binding(
            "r",
            "diagnose",
            "Run query",
            id="runbook.diagnose",
            tooltip="Run the step's read-only queries (steps marked ? have them)",
        ),
        Binding(
            "c",
            "copy",
            "Copy",
            id="runbook.copy",
            tooltip="Copy the selection's command (marked $ or ?), placeholders filled (OSC 52;"
            " again: the next)",
        ),
    ]

    def __init__(
        self,
        runbook: Runbook,
        scope: str,
        *,
        started_at: float | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.runbook = runbook
        self.scope = scope
        self.started_at = started_at
        self.labels = dict(labels or {})
        """The alert's (or check's) labels: they fill $NAMESPACE, ${POD}, <pod> in commands."""
        self._copied: tuple[str, int] = ("", -1)
        self.progress: dict[str, StepProgress] = {}
        self.results: dict[int, RenderableType] = {}
        self._escalation_told = False
        self._presence_timer: Timer | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A read-only console ticks nothing and runs no action: the keys are not offered.
        return not (action in ("tick", "run_action") and oncall_of(self).settings.read_only)

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
            # A heading is a row too: its prose and code show on the right when it is picked.
            steps.add_option(Option(self._phase_label(phase), id=f"{PHASE}{phase.id}"))
            for step in phase.steps:
                steps.add_option(Option(self._step_label(step), id=step.id))
        if highlighted is not None:
            steps.highlighted = highlighted
        else:
            first = next(
                (i for i, o in enumerate(steps.options) if not (o.id or "").startswith(PHASE)), 0
            )
            steps.highlighted = first if steps.option_count else None
        self._show_step()

    def _phase_label(self, phase: Phase) -> Text:
        title = phase.title if phase.id != "intro" else "Before you start"
        indent = "  " * max(0, min(phase.level, 4) - 2)
        label = Text(indent + clean(title, limit=80), style="bold")
        blocks = [x for x in phase.parts if not isinstance(x, str)]
        if blocks:
            label.append(f"  $×{len(blocks)}" if len(blocks) > 1 else "  $")
        return label

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
        if ReferenceBlock in kinds:
            label.append("  $")
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
                    )
        progress = f"{done}/{len(rb.steps)} done" if rb.steps else "no steps: read it"
        head.append(
            f"  {progress}  ·  {clean(self.scope, limit=40)}  ·  open {format_age(elapsed)}"
        )
        others = present_on(oncall_of(self), self.scope, now)
        if others:
            head.append(f"  ·  also here: {'; '.join(others)}")
        self.query_one("#runbook-head", Static).update(head)

    def selected(self) -> Step | None:
        chosen = self._selection()
        return chosen if isinstance(chosen, Step) else None

    def _selection(self) -> Step | Phase | None:
        steps = self.query_one(OptionList)
        if steps.highlighted is None:
            return None
        option_id = steps.get_option_at_index(steps.highlighted).id or ""
        if option_id.startswith(PHASE):
            wanted = option_id.removeprefix(PHASE)
            return next((p for p in self.runbook.all_phases() if p.id == wanted), None)
        return self.runbook.step(option_id) if option_id else None

    def _none_here(self, what: str, mark: str) -> None:
        """x or r where there is nothing to run: say where there is (a heading's steps)."""
        chosen = self._selection()
        here = (
            f"{clean(chosen.title, limit=60)} is a heading with no {what}"
            if isinstance(chosen, Phase)
            else f"This step has no {what}"
        )
        self.notify(f"{here}; the steps marked {mark} have one.", timeout=4)

    def _blocks(self) -> list[Block]:
        """The blocks of the selected step or heading, in order."""
        chosen = self._selection()
        if isinstance(chosen, Step):
            return list(chosen.blocks)
        if isinstance(chosen, Phase):
            return [x for x in chosen.parts if not isinstance(x, str)]
        return []

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
        chosen = self._selection()
        body = self.query_one("#runbook-step", Static)
        detail = self.query_one("#runbook-detail")
        if isinstance(chosen, Phase):
            detail.border_title = "Section"
            body.update(Group(*self._phase_parts(chosen)))
            return
        detail.border_title = "Step"
        step = chosen
        if step is None:
            body.update(styled(self.runbook.intro.text))
            return
        title = styled(step.markdown or step.text, base="bold")
        parts: list[RenderableType] = [title if title.plain else Text(step.text, style="bold")]
        done = self.progress.get(step.id)
        if done and done.done:
            parts.append(Text(f"done by {clean(done.operator, limit=40)}", style="dim"))
        if step.note:
            parts.append(styled(step.note))
        for block in step.blocks:
            parts.append(Text(""))
            parts.append(self._block(block))
        body.update(Group(*parts))

    def _phase_parts(self, phase: Phase) -> list[RenderableType]:
        title = phase.title if phase.id != "intro" else self.runbook.title
        parts: list[RenderableType] = [Text(clean(title, limit=200), style="bold")]
        for part in phase.parts:
            parts.append(Text(""))
            parts.append(styled(part) if isinstance(part, str) else self._block(part))
        if phase.steps:
            n = len(phase.steps)
            parts += [Text(""), Text(f"{n} step{'s' if n > 1 else ''} below (space ticks one)")]
        elif len(parts) == 1:
            parts.append(Text("(nothing under this heading)", style="dim"))
        return parts

    def _command(self, text: str) -> Text:
        """A command as written, with placeholders filled from the labels (underlined)
        or, when no label answers them, marked (reverse) to be filled by hand."""
        out = Text()
        for piece in pieces(clean(text, limit=4000, single_line=False), self.labels):
            style = {"filled": "underline", "unknown": "reverse"}.get(piece.kind, "")
            out.append(piece.text, style=style)
        return out

    def _block(self, block: Any) -> RenderableType:
        if isinstance(block, ActionBlock):
            title = block.title or block.key
            params = ", ".join(f"{k}={v}" for k, v in block.params.items())
            why = self._action_unavailable(block)
            how = f"not run here: {clean(why, limit=300)}" if why else "x to run"
            text = Text(f"▶ action: {clean(title, limit=80)}  ({how})\n", style="bold")
            text.append(clean(f"{block.key}({params})", limit=300))
            return text
        if isinstance(block, PromqlBlock | SqlBlock):
            language = "promql" if isinstance(block, PromqlBlock) else "sql"
            query = block.query if isinstance(block, PromqlBlock) else block.sql
            why = oncall_of(self).runbooks.unavailable(block)
            how = f"c to copy; not run here: {why}" if why else "r to run"
            head = Text(f"? {language} diagnostic  ({clean(how, limit=300)})\n", style="bold")
            head.append(self._command(query))
            result = self.results.get(block.line)
            return Group(head, result) if result is not None else head
        assert isinstance(block, ReferenceBlock)
        query = _query_of(block)
        why = oncall_of(self).runbooks.unavailable(query) if query is not None else ""
        how = (
            "never run here"
            if query is None
            else f"not run here: {clean(why, limit=300)}"
            if why
            else "r runs it read-only"
        )
        text = Text(f"$ {block.language or 'command'}  (c to copy; {how})\n", style="bold")
        text.append(self._command(block.text))
        result = self.results.get(block.line)
        return Group(text, result) if result is not None else text

    def _action_unavailable(self, block: ActionBlock) -> str:
        """Why ``x`` cannot run the block's action in this console ("" when it can)."""
        oncall = oncall_of(self)
        if oncall.settings.read_only:
            return "this console is read-only"
        try:
            oncall.spec_for(block.backend, block.action)
        except ActionRefused as exc:
            return str(exc)
        return ""

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
            self.notify(f"progress not saved: {clean(str(exc), limit=200)}", severity="error")
            return
        self._fill()

    def action_copy(self) -> None:
        """The selection's first command; pressed again, the next one."""
        texts = [_text_of(b) for b in self._blocks() if not isinstance(b, ActionBlock)]
        if not texts:
            self.notify("Nothing to copy here.", timeout=3)
            return
        chosen = self._selection()
        where = f"{type(chosen).__name__}:{getattr(chosen, 'id', '')}"
        last_where, last = self._copied
        n = (last + 1) % len(texts) if last_where == where else 0
        self._copied = (where, n)
        found = pieces(copyable(texts[n]), self.labels)
        filled = "".join(p.text for p in found)
        todo = [p.text for p in found if p.kind == "unknown"]
        self.app.copy_to_clipboard(filled)  # OSC 52: works over SSH in most terminals
        which = f" {n + 1} of {len(texts)}" if len(texts) > 1 else ""
        still = f"; fill in {', '.join(dict.fromkeys(todo))}" if todo else ""
        self.notify(clean(f"Copied command{which} (OSC 52){still}.", limit=200), timeout=4)

    @work(exclusive=True, group="diagnostic")
    async def action_diagnose(self) -> None:
        blocks = [q for b in self._blocks() if (q := _query_of(b)) is not None]
        # PromQL and kubectl get the labels' values (plain names only); SQL never: no
        # string-built SQL.
        blocks = [
            replace(b, query=fill(b.query, self.labels))
            if isinstance(b, PromqlBlock)
            else replace(b, text=fill(b.text, self.labels))
            if isinstance(b, ReferenceBlock)
            else b
            for b in blocks
        ]
        if not blocks:
            self._none_here("query", "?")
            return
        runbooks = oncall_of(self).runbooks
        whys = [runbooks.unavailable(b) for b in blocks]
        if all(whys):  # the step says so already; say it where the eyes are too
            self.notify(
                clean(f"Not run here: {whys[0]}. c copies it.", limit=300),
                title="Cannot run this query",
                severity="warning",
                timeout=6,
            )
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
            self._none_here("action", "▶")
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
                about=self.labels.get("check", ""),  # the check it was opened for: verified
            )
        )

    async def on_action_finished(self, message: ActionFinished) -> None:
        """The step's action ran (the flow ticked it): show the tick."""
        if message.succeeded:
            self.progress = await oncall_of(self).runbooks.progress(self.runbook, self.scope)
            self._fill()


PHASE = "\x00phase:"
"""Option ids of headings (never a step id: those are slugs)."""

STYLE_OF = {"bold": "bold", "italic": "italic", "code": "underline", "link": "underline"}


def styled(markdown: str, base: str = "") -> Text:
    """Prose as a Rich Text: plain text with styles, never markup (the file is data)."""
    text = Text()
    for span in prose(markdown):
        words = [STYLE_OF[w] for w in span.style.split() if w in STYLE_OF]
        style = " ".join(dict.fromkeys([base, *words] if base else words))
        text.append(span.text, style=style)
    return text


def _query_of(block: Block) -> PromqlBlock | SqlBlock | ReferenceBlock | None:
    """A block the console can run read-only: a query, a plain ```sql block (on the
    config's one postgres backend; the engine refuses it unless it is read-only), or
    PromQL written in a shell fence (on the first prometheus backend), or one ``kubectl
    get pods`` (the config's one kubernetes backend lists the pods; no kubectl runs)."""
    if isinstance(block, PromqlBlock | SqlBlock):
        return block
    if isinstance(block, ReferenceBlock) and block.language in SQL_LANGUAGES:
        return SqlBlock(block.text, "", block.line)
    if isinstance(block, ReferenceBlock) and (query := promql_like(block.text)):
        return PromqlBlock(query, block.line)  # PromQL in a bash fence, as some write it
    if isinstance(block, ReferenceBlock) and (command := kubectl_get_pods(block.text)):
        return ReferenceBlock("kubectl", command, block.line)  # the kubernetes backend reads
    return None


def _text_of(block: Block) -> str:
    if isinstance(block, ReferenceBlock):
        return block.text
    if isinstance(block, PromqlBlock):
        return block.query
    if isinstance(block, SqlBlock):
        return block.sql
    return ""  # an action runs with x, through the confirm dialog: nothing to paste
