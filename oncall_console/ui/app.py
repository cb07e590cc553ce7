"""The Textual application: owns the engine's lifecycle and the refresh tick.

Given an engine, it opens on the dashboard (or the war room). Given a sketch and a way
to load the config instead, it paints the dashboard's frame first, then validates the
config and builds the engine in a worker; the dashboard then goes live, or the app exits
with the config's error for the CLI to print (issue #6: first frame).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from oncall_console.configfile import ConfigError, Sketch, default_path
from oncall_console.ui import partial
from oncall_console.ui.screens.dashboard import Dashboard
from oncall_console.ui.themes import DEFAULT_THEME, builtin_dir, load_themes

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig
    from oncall_console.engine import Engine
    from oncall_console.ui.screens.warroom import WarRoom

EXIT_CONFIG = 2
"""The app's return code when the config it loaded was refused (the CLI's usage code)."""

partial.install()  # write only the cells that changed (see ui/partial.py)


FREEZE_AFTER = 3.0
"""Seconds after start-up (first results painted) when the start-up heap is frozen."""


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
        engine: Engine | None = None,
        *,
        sketch: Sketch | None = None,
        load: Callable[[], LoadedConfig] | None = None,
        clock: Callable[[], float] = time.time,
        poll: bool = True,
        themes_dir: Path | None = None,
        mode: Literal["console", "war-room"] = "console",
        dwell: float = 15.0,
    ) -> None:
        """Either ``engine``, or ``sketch`` and ``load`` (called in a thread; it may raise
        ConfigError, which ends the app with ``startup_error`` set). The war room needs
        the engine."""
        # The wall's look is read for the wall only: the console's first frame skips it.
        super().__init__(css_path=self.CSS_PATH if mode == "war-room" else "console.tcss")
        if (engine is None) == (load is None or sketch is None):
            raise ValueError("give an engine, or a sketch and a load function")
        if engine is None and mode == "war-room":
            raise ValueError("the war room starts on an engine")
        self.clock = clock
        self.poll = poll
        self._engine: Engine | None = engine
        self._load = load
        self.startup_error: BaseException | None = None
        """Why the console could not start (a ConfigError, say); the CLI reports it."""
        if engine is not None:
            console = engine.loaded.config.console
            sketch = Sketch(theme=console.theme, themes_dir=console.themes_dir)
        assert sketch is not None
        user_dir = themes_dir or sketch.themes_dir or default_path().parent / "themes"
        loaded = load_themes(builtin_dir(), user_dir)
        self.theme_problems = loaded.problems
        self.theme_order: list[str] = []
        for theme in loaded.themes.values():
            self.register_theme(theme)
            self.theme_order.append(theme.name)
        wanted = sketch.theme
        if wanted not in self.available_themes:
            self.theme_problems.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.war_room: WarRoom | None = None
        self.dashboard = Dashboard(engine, sketch=sketch)
        if mode == "war-room":
            from oncall_console.ui.screens.warroom import WarRoom

            # The wall screen: WarRoom refuses an engine that is not read-only.
            self.war_room = WarRoom(self.engine, dwell=dwell)
            self.use_command_palette = False  # nothing to offer on a read-only wall
        self._sync_pending = False
        self._first_sync_done = False
        self.theme = wanted

    @property
    def engine(self) -> Engine:
        """The engine (while the console is starting there is none yet: see ``ready``)."""
        if self._engine is None:
            raise RuntimeError("the console is still starting")
        return self._engine

    @property
    def ready(self) -> bool:
        """True once the config is validated and the engine built."""
        return self._engine is not None

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
        if self.ready:
            await self._start()

    def on_ready(self, _event: events.Ready) -> None:
        # Ready: the first frame has gone to the terminal. Only now does the slow part of
        # start-up begin (in a thread: the console keeps its keys and clock meanwhile).
        if not self.ready:
            self._load_engine()

    @work(thread=True, exclusive=True, group="config", name="load config", exit_on_error=False)
    def _load_engine(self) -> Engine:
        """Validate the config and build the engine, off the event loop."""
        assert self._load is not None
        loaded = self._load()
        from oncall_console.engine import Engine

        return Engine(loaded)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "config":
            return
        if event.state is WorkerState.SUCCESS and self.is_running:  # not if q came first
            self._engine = worker.result
            await self.dashboard.attach(self.engine)
            await self._start()
        elif event.state is WorkerState.ERROR:
            # Textual leaves the terminal as it found it; the CLI then prints the error.
            self.startup_error = worker.error
            self.exit(return_code=EXIT_CONFIG if isinstance(worker.error, ConfigError) else 1)

    async def _start(self) -> None:
        """Start the engine and keep the main screen current (the engine is there now)."""
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
        if not self.is_headless:  # tests run many apps in one process: not theirs to freeze
            self.set_timer(FREEZE_AFTER, self.freeze_heap)

    def freeze_heap(self) -> None:
        """Move what start-up built (modules, classes, widgets, the config) out of the
        cyclic collector's way. Its full collections walked all ~115,000 of those objects
        every few seconds, 60-130 ms on the UI thread on a loaded machine: a key landing in
        one waited for it (bench/many_alerts.py: filter p95 124 -> 82 ms). One collection
        first, so no garbage is frozen. The price: a cycle that exists now and is dropped
        later (a dialog open at that moment) is never collected; bounded, once."""
        gc.collect()
        gc.freeze()

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
        if self._engine is not None:
            await self._engine.stop()

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
        if not self.is_running or not self.ready:  # shutting down, or still starting
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
        if screen is self.dashboard and self.ready:
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
