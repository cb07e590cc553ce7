"""The handoff screen: the shift report as the next person will read it, notes
typed in place, written to a file or copied over SSH (OSC 52)."""

from __future__ import annotations

import os
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
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "oncall-console" / "handoffs"


def draft_path() -> Path:
    """The notes being typed, kept as they are typed (private to the user)."""
    return handoff_dir() / "notes-draft.md"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by the user only; errors are not fatal."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        pass  # the notes are still on screen; the draft is a safety net


def write_new(folder: Path, stem: str, text: str) -> Path:
    """``stem``.md in ``folder``, or ``stem``-2.md, -3 … : an existing file is never
    overwritten (opened with O_EXCL)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = folder / (f"{stem}.md" if n == 1 else f"{stem}-{n}.md")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    raise OSError(17, "too many handoff files with that name")


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
        notes.cursor_blink = False  # a blink repaints the whole field (widgets/steady.py)
        notes.border_title = "Notes for the next person (ctrl+r to put them in)"
        yield notes
        yield WatchBar()
        yield Footer()

    def on_mount(self) -> None:
        notes = self.query_one(TextArea)
        draft = draft_path()
        try:  # notes typed before a crash (or a closed SSH session) come back
            notes.text = draft.read_text(encoding="utf-8")
        except OSError:
            pass
        # The notes have the keys: letters are typed, not taken as commands (a "t" in
        # "watch" changed the theme when the report had the focus).
        notes.focus()
        notes.move_cursor(notes.document.end)
        self.action_rebuild()
        self.run_worker(self._offer_end_of_shift(), group="offer")

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Every change is on disk at once: a crash loses nothing typed."""
        write_private(draft_path(), event.text_area.text)

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

    @work(exclusive=True, group="handoff")
    async def action_save(self) -> None:
        """Write what is on screen now: the report rebuilt with the notes as typed, to a
        new file (a second save in the same minute gets its own name, never overwrites)."""
        now = self.app.clock()
        notes = self.query_one(TextArea).text
        opts = HandoffOptions(since=now - self.shift_hours * 3600, now=now, notes=notes)
        self.report = await build_report(oncall_of(self), opts)
        self.query_one("#handoff-text", Static).update(Text(self.report))
        try:
            path = write_new(
                handoff_dir(),
                time.strftime("handoff-%Y%m%d-%H%M%S", time.localtime(now)),
                self.report,
            )
        except OSError as exc:
            self.notify(f"not written: {clean(exc.strerror or str(exc))}", severity="error")
            return
        self.notify(f"Written to {path}", timeout=6)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.report)
        self.notify("Copied to your clipboard (OSC 52).", timeout=3)
