"""The Textual application: owns the engine's lifecycle and the refresh tick."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from oncall_console.config import default_path
from oncall_console.engine import Engine
from oncall_console.ui import partial
from oncall_console.ui.screens.dashboard import Dashboard
from oncall_console.ui.themes import DEFAULT_THEME, builtin_dir, load_themes

if TYPE_CHECKING:
    from oncall_console.ui.screens.warroom import WarRoom

partial.install()  # write only the cells that changed (see ui/partial.py)


class OncallApp(App[None]):
    CSS_PATH = ["console.tcss", "warroom.tcss"]
    TITLE = "oncall-console"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave the console (polling stops)"),
        Binding("t", "cycle_theme", "Theme", id="theme", tooltip="Next theme"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Show every key"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        poll: bool = True,
        themes_dir: Path | None = None,
        mode: Literal["console", "war-room"] = "console",
        dwell: float = 15.0,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.clock = clock
        self.poll = poll
        cfg = engine.loaded.config
        user_dir = themes_dir or cfg.console.themes_dir or default_path().parent / "themes"
        loaded = load_themes(builtin_dir(), user_dir)
        self.theme_problems = loaded.problems
        self.theme_order: list[str] = []
        for theme in loaded.themes.values():
            self.register_theme(theme)
            self.theme_order.append(theme.name)
        wanted = cfg.console.theme
        if wanted not in self.available_themes:
            self.theme_problems.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.dashboard = Dashboard(engine)
        # The wall screen: WarRoom refuses an engine that is not read-only.
        self.war_room: WarRoom | None = None
        if mode == "war-room":
            from oncall_console.ui.screens.warroom import WarRoom

            self.war_room = WarRoom(engine, dwell=dwell)
        if self.war_room is not None:
            self.use_command_palette = False  # nothing to offer on a read-only wall
        self._sync_pending = False
        self._first_sync_done = False
        self.theme = wanted

    @property
    def main_screen(self) -> Dashboard | WarRoom:
        """The screen the app starts on and the tick keeps current."""
        return self.war_room if self.war_room is not None else self.dashboard

    def get_default_screen(self) -> Screen[None]:
        return self.main_screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the wall the app answers to quit only; the screen has its own three keys.
        if self.war_room is not None:
            return action == "quit"
        return True

    async def on_mount(self) -> None:
        if self.engine.loaded.config.keys:
            self.set_keymap(self.engine.loaded.config.keys)
        for problem in self.theme_problems:
            self.notify(problem, title="Theme", severity="warning", timeout=10, markup=False)
        if self.poll:
            self.engine.subscribe(self._engine_changed)
        await self.engine.start(poll=self.poll)
        if self.engine.store_error:
            self.notify(
                f"{self.engine.store_error}. Health keeps updating; actions are refused until it is back.",
                title="Store unavailable",
                severity="error",
                timeout=30,
                markup=False,
            )
        self.run_worker(self._offer_shift_checklist(), group="startup")
        for record in self.engine.unfinished:
            self.notify(
                f"{record.action} on {record.target} by {record.operator or 'someone'}: the console "
                "stopped before its result was recorded. Check the target by hand.",
                title="Outcome unknown",
                severity="warning",
                timeout=60,
                markup=False,
            )
        if self.poll:
            self.set_interval(self.engine.loaded.config.console.refresh, self.tick)
        else:
            await self.engine.poll_once()
        self.main_screen.sync(force=True)

    async def _offer_shift_checklist(self) -> None:
        """At the start of a shift, offer its checklist once, unless today's is under way."""
        from oncall_console.runbooks import ShiftMoment

        library = await self.engine.runbooks.ready()
        found = library.for_shift(ShiftMoment.START)
        if not found or self.engine.read_only or self.engine.store_error or self.engine.is_demo:
            return  # the demo is a tour, not a shift: s / e are there when wanted
        try:
            done = await self.engine.runbooks.progress(found[0], self.dashboard.shift_scope())
        except Exception:
            return
        if not done:
            self.notify(
                f"Press s for the start-of-shift checklist ({found[0].title}); e at the end.",
                title="New shift",
                timeout=15,
                markup=False,
            )

    async def on_unmount(self) -> None:
        await self.engine.stop()

    def _engine_changed(self) -> None:
        # Coalesce a burst of results into one repaint shortly after the first of them.
        if not self._sync_pending:
            self._sync_pending = True
            # The first result is painted at once; later bursts share one repaint.
            if self._first_sync_done:
                self.set_timer(0.05, self._flush_sync)
            else:
                self._first_sync_done = True
                self.call_later(self._flush_sync)

    def _flush_sync(self) -> None:
        self._sync_pending = False
        self._first_sync_done = False
        self.tick()

    def tick(self) -> None:
        # Dolphie's rule: no refresh work while a modal is on top. While the app shuts
        # down, results still arrive and the screen stack may already be empty.
        if not self.is_running:  # shutting down: the screens' widgets are being removed
            return
        stack = self.screen_stack
        if stack and stack[-1] is self.main_screen:
            self.main_screen.sync()
        elif stack and getattr(stack[-1], "LIVE", False):  # the incident screen is live too
            stack[-1].sync()  # type: ignore[attr-defined]

    def _open_runbook(self, runbook: Any) -> None:
        from oncall_console.ui.screens.runbook import RunbookScreen

        self.push_screen(RunbookScreen(runbook, "shift"))

    def action_cycle_theme(self) -> None:
        order = self.theme_order or [self.theme]
        nxt = order[(order.index(self.theme) + 1) % len(order)] if self.theme in order else order[0]
        self.theme = nxt
        self.notify(f"Theme: {nxt}", timeout=2, markup=False)

    def action_help(self) -> None:
        self.action_show_help_panel()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is self.dashboard:
            yield SystemCommand(
                "Refresh now",
                "Poll every check, SLI and alert source",
                self.dashboard.action_refresh,
            )
            yield SystemCommand(
                "Detail", "Everything known about the selected row", self.dashboard.action_detail
            )
            for moment in ("start", "end"):
                yield SystemCommand(
                    f"{moment.title()}-of-shift checklist",
                    f"Walk today's {moment}-of-shift runbook",
                    lambda m=moment: self.dashboard.action_shift(m),
                )
            if not self.engine.read_only:
                yield SystemCommand(
                    "Run an action", "Remediate the selected check", self.dashboard.action_actions
                )
            for rb in self.engine.runbooks.library.all():
                yield SystemCommand(
                    f"Runbook: {rb.title}",
                    f"Walk {rb.id} (progress saved for this shift)",
                    lambda rb=rb: self._open_runbook(rb),
                )
            for name in self.theme_order:
                yield SystemCommand(
                    f"Theme: {name}",
                    "Switch the colour theme",
                    lambda n=name: setattr(self, "theme", n),
                )
