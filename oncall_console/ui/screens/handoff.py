"""The handoff screen: the shift report as the next person will read it, notes
typed in place, written to a file or copied over SSH (OSC 52)."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea

from oncall_console.engine.api import shift_scope
from oncall_console.engine.handoff import HandoffOptions, build_report
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, OpenChecklist, oncall_of
from oncall_console.ui.widgets.watchbar import WatchBar


def handoff_dir() -> Path:
    import os

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "oncall-console" / "handoffs"


class HandoffScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="handoff.back"),
        HELP,  # first: the footer is cut from the right at 80 columns
        Binding(
            "ctrl+r", "rebuild", "Rebuild", id="handoff.rebuild", tooltip="Rebuild with the notes"
        ),
        Binding(
            "ctrl+s", "save", "Write file", id="handoff.save", tooltip="Write the report to a file"
        ),
        # priority: the notes' TextArea binds ctrl+y (redo) and would take the key
        Binding(
            "ctrl+y",
            "copy",
            "Copy",
            id="handoff.copy",
            tooltip="Copy the report (OSC 52)",
            priority=True,
        ),
        Binding(
            "ctrl+g",
            "end_of_shift",
            "End-of-shift list",
            id="handoff.end",
            tooltip="Walk the end-of-shift checklist",
        ),
    ]

    def __init__(self, shift_hours: float = 12.0) -> None:
        super().__init__()
        self.shift_hours = shift_hours
        self.report = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="handoff-report", classes="panel") as box:
            box.border_title = "Shift handoff"
            yield Static(id="handoff-text")
        notes = TextArea(id="handoff-notes", soft_wrap=True)
        notes.border_title = "Notes for the next person (ctrl+r to put them in)"
        yield notes
        yield WatchBar()
        yield Footer()

    def on_mount(self) -> None:
        self.action_rebuild()
        self.run_worker(self._offer_end_of_shift(), group="offer")

    async def _offer_end_of_shift(self) -> None:
        """Handing over is the moment for the end-of-shift checklist: offer it, once,
        unless today's is done."""
        from oncall_console.runbooks import ShiftMoment

        library = await oncall_of(self).runbooks.ready()
        found = library.for_shift(ShiftMoment.END)
        if not found:
            return
        try:
            progress = await oncall_of(self).runbooks.progress(
                found[0], shift_scope(self.app.clock())
            )
        except Exception:
            return
        done = sum(1 for s in found[0].steps if (p := progress.get(s.id)) and p.done)
        if done < len(found[0].steps):
            self.notify(
                f"ctrl+g walks the end-of-shift checklist ({done}/{len(found[0].steps)} done).",
                title="Before you hand over",
                timeout=10,
                markup=False,
            )

    def action_end_of_shift(self) -> None:
        self.post_message(OpenChecklist("end"))

    @work(exclusive=True, group="handoff")
    async def action_rebuild(self) -> None:
        now = self.app.clock()
        notes = self.query_one(TextArea).text
        opts = HandoffOptions(since=now - self.shift_hours * 3600, now=now, notes=notes)
        self.report = await build_report(oncall_of(self), opts)
        self.query_one("#handoff-text", Static).update(Text(self.report))

    def action_save(self) -> None:
        folder = handoff_dir()
        path = folder / time.strftime("handoff-%Y%m%d-%H%M.md", time.localtime(self.app.clock()))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(self.report, encoding="utf-8")
        except OSError as exc:
            self.notify(
                f"not written: {clean(exc.strerror or str(exc))}", severity="error", markup=False
            )
            return
        self.notify(f"Written to {path}", timeout=6, markup=False)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.report)
        self.notify("Copied to your clipboard (OSC 52).", timeout=3)
