"""Look closer at a check without leaving the console (issue #15, point 9), the way k9s
users do: a Kubernetes workload's events and its pods' log tail, PostgreSQL's sessions
and longest queries, Redis's slowlog and big keys. Read-only.

The views are the check's backend's (``OnCall.inspect_views``); each look goes through
the front door (``OnCall.inspect``: bounded by a timeout, redacted) in a worker, and is
taken again every few seconds while the screen is open, never two at once. ``p`` pauses
the refresh, ``f`` (or ``s``, k9s's autoscroll) follows the end of a log, ``/`` keeps
only the lines or rows that contain what is typed. Everything remote is shown as plain
text, cleaned again here.
"""

from __future__ import annotations

import time
from dataclasses import replace

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from oncall_console.engine.api import InspectRefused
from oncall_console.model import Inspection, InspectView
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, oncall_of
from oncall_console.ui.render import detail_table
from oncall_console.ui.widgets.steady import SteadyInput

REFRESH = 2.0
"""Seconds between two looks while the screen is open and not paused."""
MAX_LINES = 2000
"""Lines of a log kept on screen (a look brings a few hundred)."""


def matches(text: str, query: str) -> bool:
    return query.lower() in text.lower()


class CloserScreen(Screen[None]):
    """The closer looks at one check: one tab per view, live."""

    DEFAULT_CSS = """
    CloserScreen #closer-tabs, CloserScreen #closer-status { height: 1; padding: 0 1; }
    CloserScreen #closer-body { height: 1fr; padding: 0 1; }
    CloserScreen #closer-search { display: none; }
    """

    BINDINGS = [
        HELP,  # first: the footer is cut from the right at 80 columns
        Binding("escape", "back", "Back", id="closer.back", tooltip="Clear the search, or go back"),
        Binding("tab", "next_view(1)", "Next view", show=False, id="closer.next"),
        Binding("shift+tab", "next_view(-1)", "Previous view", show=False, id="closer.previous"),
        Binding("p", "pause", "Pause", id="closer.pause", tooltip="Pause or resume the refresh"),
        # f only: s is an incident's status elsewhere (one meaning per key).
        Binding("f", "follow", "Follow", id="closer.follow", tooltip="Follow the end of a log"),
        # A priority binding: run before the keys typed after it are dispatched, so that
        # "/GET" in one burst (a paste, a slow link) lands whole in the search box.
        Binding(
            "slash",
            "search",
            "Search",
            id="closer.search",
            tooltip="Keep matching lines",
            priority=True,
        ),
        Binding("r", "refresh", "Refresh", show=False, id="refresh", tooltip="Look again now"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="closer.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="closer.up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="closer.pagedown"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="closer.pageup"),
        Binding("g,home", "edge(0)", "Top", show=False, id="closer.top"),
        Binding("G,end", "edge(1)", "Bottom", show=False, id="closer.bottom"),
        *(
            Binding(str(n), f"view({n - 1})", f"View {n}", show=False, id=f"closer.view{n}")
            for n in range(1, 10)
        ),
    ]

    def __init__(self, check: str, views: list[InspectView], first: str = "") -> None:
        super().__init__()
        self.check = check
        self.views = views
        self.current = next((i for i, v in enumerate(views) if v.id == first), 0)
        self.paused = False
        self.follow = True
        self.query_text = ""
        self.found: dict[str, Inspection] = {}
        """view id -> the last look that answered."""
        self.errors: dict[str, str] = {}
        """view id -> why the last look failed ('' when it answered)."""
        self.matched: tuple[int, int] | None = None
        """With a search: (lines or rows that match, all of them)."""
        self.looks = 0
        """Looks that came back (answered or failed): tests wait on it."""
        self._busy = False
        self._timer: Timer | None = None

    @property
    def view(self) -> InspectView:
        return self.views[self.current]

    def compose(self) -> ComposeResult:
        yield Static(id="closer-tabs")
        yield Static(id="closer-status")
        with VerticalScroll(id="closer-body") as body:
            body.can_focus = True
            yield Static(id="closer-content")
        yield SteadyInput(placeholder="search: lines containing…", id="closer-search")
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#closer-body"))
        self._paint()
        self.action_refresh()
        self._timer = self.set_interval(REFRESH, self._tick)

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()

    # --- looking --------------------------------------------------------------------------

    def _tick(self) -> None:
        if not self.paused:
            self.action_refresh()

    def action_refresh(self) -> None:
        if not self._busy:  # never two looks at once: a slow source only slows itself
            self._busy = True
            self._look(self.view.id)

    @work(group="closer-look")
    async def _look(self, view: str) -> None:
        try:
            found = await oncall_of(self).inspect(self.check, view)
        except InspectRefused as exc:
            self.errors[view] = str(exc)
        except Exception as exc:  # a bug must not end the console (a worker's error would)
            self.errors[view] = clean(f"unexpected error: {type(exc).__name__}: {exc}", limit=300)
        else:
            self.found[view], self.errors[view] = found, ""
        finally:
            self._busy = False
            self.looks += 1
        self._paint()
        if self.view.id not in self.found and self.view.id not in self.errors:
            self.action_refresh()  # the view was switched during that look: its first look

    # --- painting -------------------------------------------------------------------------

    def _paint(self) -> None:
        self._paint_tabs()
        view = self.view
        found = self.found.get(view.id)
        error = self.errors.get(view.id, "")
        body = self.query_one("#closer-content", Static)
        self.matched = None
        body.update(Text("") if found is None else self._body(view, found))
        status = Text()
        if error:
            status.append("✗ ", style="bold")
            status.append(clean(error, limit=300), style="bold reverse")
            if found is not None:
                status.append(f"  (showing {self._clock(found.at)})")
        elif found is None:
            status.append("looking…")
        else:
            status.append(f"{self._clock(found.at)}  ")
            status.append(clean(found.note, limit=200))
        if self.matched is not None:
            status.append(f"  ·  {self.matched[0]} of {self.matched[1]} match", style="bold")
        self.query_one("#closer-status", Static).update(status)
        if found is not None and view.log and self.follow:
            self.call_after_refresh(self._to_end)

    def _to_end(self) -> None:
        self.query_one("#closer-body", VerticalScroll).scroll_end(animate=False)

    def _paint_tabs(self) -> None:
        tabs = Text()
        tabs.append(clean(self.check, limit=40), style="bold")
        tabs.append("  ")
        for i, v in enumerate(self.views):
            label = f" {i + 1} {clean(v.title, limit=30)} "
            tabs.append(label, style="bold reverse" if i == self.current else "")
        tabs.append("  ")
        tabs.append("⏸ paused" if self.paused else f"⟳ {REFRESH:g}s", style="bold")
        if self.view.log:
            tabs.append("  follow " + ("on" if self.follow else "off"))
        if self.query_text:
            tabs.append("  /")
            tabs.append(clean(self.query_text, limit=40), style="bold")
        self.query_one("#closer-tabs", Static).update(tabs)

    def _body(self, view: InspectView, found: Inspection) -> RenderableType:
        q = self.query_text
        if view.log or found.lines:
            lines = [clean(line, limit=2000) for line in found.lines[-MAX_LINES:]]
            shown = [line for line in lines if not q or matches(line, q)]
            if q:
                self.matched = (len(shown), len(lines))
            text = Text("\n".join(shown) if shown else "", no_wrap=False)
            if q:
                text.highlight_words([q], style="reverse", case_sensitive=False)
                if not shown:
                    text = Text(f"no line contains {q!r}")
            return text
        parts: list[RenderableType] = []
        for table in found.tables:
            rows = table.rows
            if q:
                rows = tuple(r for r in rows if any(matches(cell, q) for cell in r))
                done, total = self.matched or (0, 0)
                self.matched = (done + len(rows), total + len(table.rows))
            parts.append(detail_table(replace(table, rows=rows)))
            parts.append(Text(""))
        if not parts:
            parts.append(Text("nothing found"))
        return Group(*parts)

    def _clock(self, at: float) -> str:
        utc = oncall_of(self).settings.utc  # as the header shows the time ([console] utc)
        return time.strftime("%H:%M:%S", (time.gmtime if utc else time.localtime)(at))

    # --- keys -----------------------------------------------------------------------------

    def action_next_view(self, step: int) -> None:
        self.action_view((self.current + step) % len(self.views))

    def action_view(self, index: int) -> None:
        if index >= len(self.views) or index == self.current:
            return
        self.current = index
        self.query_one("#closer-body", VerticalScroll).scroll_home(animate=False)
        self._paint()
        self.action_refresh()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._paint_tabs()  # says "paused" (no toast: it would cover the search box)

    def action_follow(self) -> None:
        if not self.view.log:
            self.notify("Follow is for a log tail", timeout=2)
            return
        self.follow = not self.follow
        self._paint_tabs()
        if self.follow:
            self._to_end()

    def action_search(self) -> None:
        box = self.query_one("#closer-search", Input)
        if self.focused is box:
            box.insert_text_at_cursor("/")  # a "/" typed in the search is text
            return
        box.display = True  # an inline style: applied now, so it can take the focus now
        box.value = self.query_text
        # At once, not on the next idle (Widget.focus): "/" and the letters typed after
        # it in one burst (a paste, a slow link) must all reach the search.
        self.set_focus(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_text = event.value
        self._paint()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#closer-search", Input).display = False
        self.set_focus(self.query_one("#closer-body"))

    def action_back(self) -> None:
        box = self.query_one("#closer-search", Input)
        if box.display or self.query_text:
            box.display = False
            box.value = ""
            self.query_text = ""
            self.set_focus(self.query_one("#closer-body"))
            self._paint()
            return
        self.dismiss(None)

    def action_scroll(self, step: int) -> None:
        if step < 0:
            self._stop_following()
        self.query_one("#closer-body", VerticalScroll).scroll_relative(y=step, animate=False)

    def action_page(self, step: int) -> None:
        if step < 0:
            self._stop_following()
        body = self.query_one("#closer-body", VerticalScroll)
        body.scroll_relative(y=step * max(1, body.size.height - 1), animate=False)

    def action_edge(self, end: int) -> None:
        body = self.query_one("#closer-body", VerticalScroll)
        if end:
            body.scroll_end(animate=False)
        else:
            self._stop_following()
            body.scroll_home(animate=False)

    def _stop_following(self) -> None:
        """Moving up in a followed log stops following it (as less +F and k9s do)."""
        if self.view.log and self.follow:
            self.follow = False
            self._paint_tabs()
