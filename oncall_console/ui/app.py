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
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from oncall_console.configfile import ConfigError, Sketch, default_path
from oncall_console.ui import partial, terminal
from oncall_console.ui.firstpoll import FirstPollReader, FirstResults
from oncall_console.ui.messages import OpenChecklist, OpenRunbook, RunAction
from oncall_console.ui.notices import PlainNotices
from oncall_console.ui.screens.dashboard import Dashboard
from oncall_console.ui.styles import LazyStylesheet
from oncall_console.ui.themes import DEFAULT_THEME, builtin_dir, load_themes

if TYPE_CHECKING:
    from textual.driver import Driver

    from oncall_console.config import LoadedConfig
    from oncall_console.engine import Engine
    from oncall_console.engine.api import OnCall
    from oncall_console.ui.screens.warroom import WarRoom

EXIT_CONFIG = 2
"""The app's return code when the config it loaded was refused (the CLI's usage code)."""

partial.install()  # write only the cells that changed (see ui/partial.py)

FIRST_POLL_WAIT = 0.5
"""Seconds after the first frame the config's validation waits, at most, for the first
poll's child to finish (its results are painted meanwhile)."""
FREEZE_AFTER = 3.0
"""Seconds after start-up (first results painted) when the start-up heap is frozen."""
WALL_KEYS = {"quit", "back_or_quit", "quit_asking", "redraw"}
GC_THRESHOLDS = (50_000, 20, 100)
"""The cyclic collector's thresholds once the start-up heap is frozen (see freeze_heap)."""


class OncallApp(PlainNotices, LazyStylesheet):
    CSS_PATH = ["console.tcss", "screens.tcss", "warroom.tcss"]
    TITLE = "oncall-console"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        # `?` first: at 80 columns the footer is cut from the right, and help must show.
        Binding(
            "question_mark", "help", "Help", id="help", tooltip="Every key, this screen's first"
        ),
        # q: "Quit" on the dashboard, "Back" on a sub-screen (check_action shows one).
        Binding(
            "q", "back_or_quit", "Quit", id="quit", tooltip="Leave the console (polling stops)"
        ),
        Binding(
            "q", "back_or_quit('back')", "Back", id="back", tooltip="Back to the screen before"
        ),
        Binding(
            "ctrl+q",
            "quit_asking",
            "Quit",
            id="quit.anywhere",
            show=False,
            tooltip="Leave the console from any screen (asks first)",
        ),
        # ctrl+t, not t: t is "take command" on the incident screen (one meaning per key).
        Binding("ctrl+t", "cycle_theme", "Theme", id="theme", show=False, tooltip="Next theme"),
        Binding(
            "ctrl+l", "redraw", "Redraw", id="redraw", show=False, tooltip="Paint it all again"
        ),
    ]

    def __init__(
        self,
        engine: Engine | OnCall | None = None,
        *,
        sketch: Sketch | None = None,
        load: Callable[[], LoadedConfig] | None = None,
        clock: Callable[[], float] = time.time,
        poll: bool = True,
        themes_dir: Path | None = None,
        mode: Literal["console", "war-room"] = "console",
        dwell: float = 15.0,
        first_poll: FirstResults | None = None,
    ) -> None:
        """Either ``engine`` (the front door, or an engine to put one around), or ``sketch``
        and ``load`` (called in a thread; it may raise ConfigError, which ends the app with
        ``startup_error`` set). The war room needs the engine. ``first_poll``: the
        results of a first poll run elsewhere while this app starts (cli/firstpoll.py),
        shown as they come and given to the engine."""
        # The wall's look is read for the wall only: the console's first frame skips it.
        super().__init__(css_path=self.CSS_PATH if mode == "war-room" else "console.tcss")
        if (engine is None) == (load is None or sketch is None):
            raise ValueError("give an engine, or a sketch and a load function")
        if engine is None and mode == "war-room":
            raise ValueError("the war room starts on an engine")
        self.clock = clock
        self.poll = poll
        self._oncall: OnCall | None = _front_door(engine) if engine is not None else None
        self._load = load
        self._first = FirstPollReader(first_poll, self.dashboard_first) if first_poll else None
        self.startup_error: BaseException | None = None
        """Why the console could not start (a ConfigError, say); the CLI reports it."""
        self.told_due: set[tuple[str, str]] = set()
        """(incident, step) already told: each due step is told once per console."""
        if self._oncall is not None:
            settings = self._oncall.settings
            sketch = Sketch(theme=settings.theme, themes_dir=settings.themes_dir)
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
        self.dashboard = Dashboard(self._oncall, sketch=sketch)
        if mode == "war-room":
            from oncall_console.ui.screens.warroom import WarRoom

            # The wall screen: WarRoom refuses a console that is not read-only.
            self.war_room = WarRoom(self.oncall, dwell=dwell)
            self.use_command_palette = False  # nothing to offer on a read-only wall
        self._sync_pending = False
        self._first_sync_done = False
        self._loading = False
        self.live = False
        """True once the engine is started and the main screen shows it (after ready)."""
        # Textual's watcher queues a parse of the whole stylesheet (see refresh_css); it
        # runs only if the theme is not Textual's default already.
        self._theme_parse_pending = wanted != self.theme
        self.theme = wanted

    @property
    def oncall(self) -> OnCall:
        """The front door to the engine (while the console is starting there is none yet:
        see ``ready``). Screens reach it with ``ui.messages.oncall_of``."""
        if self._oncall is None:
            raise RuntimeError("the console is still starting")
        return self._oncall

    @property
    def engine(self) -> Engine:
        """The engine behind the front door: for tests and benchmarks that look inside.
        The UI itself uses :attr:`console` only (tests/test_layers.py checks it)."""
        return self.oncall._engine

    @property
    def ready(self) -> bool:
        """True once the config is validated and the engine built."""
        return self._oncall is not None

    @property
    def main_screen(self) -> Dashboard | WarRoom:
        """The screen the app starts on and the tick keeps current."""
        return self.war_room if self.war_room is not None else self.dashboard

    def get_driver_class(self) -> type[Driver]:
        return terminal.tolerant(super().get_driver_class())  # a terminal that goes away

    def get_default_screen(self) -> Screen[None]:
        return self.main_screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the wall the app answers to q, ctrl+q and ctrl+l; the screen has its own keys.
        if self.war_room is not None and action not in WALL_KEYS:
            return False
        if action == "back_or_quit":  # one q, labelled for where the engineer is
            on_main = self.screen is self.main_screen or len(self.screen_stack) <= 1
            return on_main if parameters == () else not on_main
        return True

    async def on_mount(self) -> None:
        if not self.is_headless:  # a dropped SSH session, a closed pane: leave cleanly
            terminal.watch(self)
        if self.ready:
            await self._start()
        elif self._first is not None:
            self._first.start()

    def dashboard_first(self, results: list[Any]) -> None:
        if not self.ready:
            self.dashboard.show_first(results)

    def on_ready(self, _event: events.Ready) -> None:
        self._theme_parse_pending = False  # drawn: a theme change re-parses from now on
        # The CLI turns the collector off for start-up; freeze_heap turns it back on.
        # Whatever happens to start-up, it is on again within a few intervals.
        self.set_timer(FREEZE_AFTER * 4, gc.enable)
        # Ready: the first frame has gone to the terminal. Only now does the slow part of
        # start-up begin (in a thread: the console keeps its keys and clock meanwhile).
        # While the first poll's child is still probing, its results come first: the
        # validation's imports (pydantic, psycopg, redis: ~300 ms of one core, and the
        # GIL) would hold back the painting of every result that arrives meanwhile.
        if not self.ready:
            first = self._first
            if first is not None:
                first.frame_painted()
            if first is not None and first.running:
                first.on_done = self._begin_load
                self.set_timer(FIRST_POLL_WAIT, self._begin_load)
            else:
                self._begin_load()

    def _begin_load(self) -> None:
        if not self._loading and not self.ready and self.is_running:
            self._loading = True
            self._load_engine()

    @work(thread=True, exclusive=True, group="config", name="load config", exit_on_error=False)
    def _load_engine(self) -> OnCall:
        """Validate the config and build the engine, off the event loop."""
        assert self._load is not None
        loaded = self._load()
        from oncall_console.engine.api import OnCall

        return OnCall.build(loaded)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "config":
            return
        if event.state is WorkerState.SUCCESS and self.is_running:  # not if q came first
            self._oncall = worker.result
            if self._first is not None:  # what the first poll found: the engine's now
                self.oncall.seed(self._first.take())
            await self.dashboard.attach(self.oncall)
            await self._start()
        elif event.state is WorkerState.ERROR:
            # Textual leaves the terminal as it found it; the CLI then prints the error.
            self.startup_error = worker.error
            self.exit(return_code=EXIT_CONFIG if isinstance(worker.error, ConfigError) else 1)

    async def _start(self) -> None:
        """Start the engine and keep the main screen current (the engine is there now)."""
        oncall = self.oncall
        self.screens_css()
        if oncall.settings.keys:
            from oncall_console.ui.keyalias import expand

            self.set_keymap(expand(oncall.settings.keys))
        for problem in self.theme_problems:
            self.notify(problem, title="Theme", severity="warning", timeout=10)
        if self.poll:
            oncall.subscribe(self._engine_changed)
        await oncall.start(poll=self.poll)
        if oncall.store_error:
            self.notify(
                f"{oncall.store_error}. Health keeps updating; actions are refused until it is back.",
                title="Store unavailable",
                severity="error",
                timeout=30,
            )
        self.run_worker(self._offer_shift_checklist(), group="startup")
        for record in oncall.unfinished:
            self.notify(
                f"{record.action} on {record.target} by {record.operator or 'someone'}: the console "
                "stopped before its result was recorded. Check the target by hand.",
                title="Outcome unknown",
                severity="warning",
                timeout=60,
            )
        if self.poll:
            self.set_interval(oncall.settings.refresh, self.tick)
        else:
            await oncall.poll_once()
        self.main_screen.sync(force=True)
        self.live = True
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
        # And run it less often: with 10,000 checks each result lives one interval, long
        # enough to reach the oldest generation at the default thresholds, so full
        # collections of 70-200 ms came every few seconds. 50,000 allocations between
        # young collections let most results die young (pauses over 20 ms in 80 keys:
        # 8 and 14 -> 2 and 3; cursor p95 47 / 60 -> 14 / 55 ms, pty runs interleaved).
        gc.set_threshold(*GC_THRESHOLDS)
        gc.enable()  # the CLI turns it off for start-up (cli/console.py)

    async def _offer_shift_checklist(self) -> None:
        """At the start of a shift, offer its checklist once, unless today's is under way."""
        from oncall_console.engine.api import shift_scope
        from oncall_console.runbooks import ShiftMoment

        oncall = self.oncall
        library = await oncall.runbooks.ready()
        found = library.for_shift(ShiftMoment.START)
        settings = oncall.settings
        if not found or settings.read_only or oncall.store_error or settings.demo:
            return  # the demo is a tour, not a shift: S / E are there when wanted
        try:
            done = await oncall.runbooks.progress(found[0], shift_scope(self.clock()))
        except Exception:
            return
        if not done:
            self.notify(
                f"Press S for the start-of-shift checklist ({found[0].title}); E at the end.",
                title="New shift",
                timeout=15,
            )

    async def on_unmount(self) -> None:
        if self._oncall is not None:
            await self._oncall.stop()

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
        if self.war_room is None:
            self.prompt_due(self.clock())
            self.show_watches()

    def show_watches(self) -> None:
        """The verification bar of the screen on top (and of the dashboard beneath)."""
        from oncall_console.ui.widgets.watchbar import WatchBar

        now = self.clock()
        lines = [w.line(now) for w in self.oncall.watches(now)]
        # The bars are looked for only when the words or the screen on top changed: a DOM
        # query on every 50 ms tick was ~10 % of the console's core with 10,000 checks.
        shown = (lines, self.screen)
        if shown == getattr(self, "_watches_shown", None):
            return
        self._watches_shown = shown
        for screen in {self.screen, self.dashboard}:
            for bar in screen.query(WatchBar):
                bar.show(lines)

    MIN_SIZE = (80, 24)
    """The smallest terminal the console is laid out for."""

    def on_resize(self, event: events.Resize) -> None:
        """Below 80x24 the panels do not fit: say so once, instead of a header that
        scrolls away without a word."""
        partial.forget(self.console)  # the terminal may have redrawn or reflowed its lines
        width, height = event.size
        small = width < self.MIN_SIZE[0] or height < self.MIN_SIZE[1]
        if small and not getattr(self, "_told_small", False):
            self._told_small = True
            self.notify(
                f"Terminal too small: {width}×{height}. The console is laid out for at least "
                f"{self.MIN_SIZE[0]}×{self.MIN_SIZE[1]}; some panels are cut.",
                title="Too small",
                severity="warning",
                timeout=30,
            )
        elif not small:
            self._told_small = False

    def sync_now(self) -> None:
        """Repaint the main screen at once (after an action, say)."""
        if self.ready and self.is_running:
            self.main_screen.sync(force=True)

    def prompt_due(self, now: float) -> None:
        """Tell, once, when an open incident's next step falls due (escalate, acknowledge,
        post an update), wherever the operator is looking; the incident screen says more."""
        desk = self.oncall.incidents
        for incident in self.oncall.incident_list():
            record = desk.cached(incident.id)
            if record is None or not record.is_open:
                continue
            for step in desk.steps(record, now):
                key = (record.id, step.key)
                if step.urgent and key not in self.told_due:
                    self.told_due.add(key)
                    self.notify(
                        step.text,
                        title=f"{record.id}: due (enter on it for the incident screen)",
                        severity="warning",
                        timeout=20,
                    )

    # --- what screens ask for (ui/messages.py) ------------------------------------------

    def on_run_action(self, message: RunAction) -> None:
        """The one action flow, whichever screen asked; one at a time."""
        message.stop()
        self._action_flow(message)

    @work(exclusive=True, group="action")
    async def _action_flow(self, ask: RunAction) -> None:
        from oncall_console.ui.flow import run_action_flow

        await run_action_flow(self, ask)

    def on_open_runbook(self, message: OpenRunbook) -> None:
        message.stop()
        self._open_runbook_of(message)

    @work(exclusive=True, group="runbook-picker")
    async def _open_runbook_of(self, ask: OpenRunbook) -> None:
        """The row's runbook, walked in the row's scope (an incident's steps and actions go
        on its timeline); a picker when none is sure, remembered for the scope."""
        from oncall_console.ui.screens.pickers import LINK, RunbookPicker
        from oncall_console.ui.screens.runbook import RunbookScreen

        oncall = self.oncall
        await oncall.runbooks.ready()
        scope, started, what = "", None, ""
        if ask.incident:
            incident = next((i for i in oncall.incident_list() if i.id == ask.incident), None)
            if incident is None:
                return
            scope, started, what = incident.id, incident.opened_at, incident.id
        elif ask.alert:
            alert = next((a for a in oncall.alerts() if a.fingerprint == ask.alert), None)
            if alert is None:
                return
            scope, started, what = f"alert {alert.name}", alert.starts_at, f"alert {alert.name}"
        elif ask.every or not ask.check:
            scope = "shift"  # the list of every runbook: walked for the shift
        else:
            scope, what = f"check {ask.check}", f"check {ask.check}"
        choice = oncall.choose_runbook(incident=ask.incident, alert=ask.alert, check=ask.check)
        runbook = choice.sure
        if runbook is None:
            if not (choice.guesses or choice.rest or choice.link):
                self.notify("No runbook is configured ([runbooks] dirs).", timeout=6)
                return
            title = f"No runbook names {what}: pick one" if what else "Every runbook"
            picked = await self.push_screen_wait(RunbookPicker(title, choice))
            if picked is None:
                return
            if picked == LINK:
                self.copy_to_clipboard(choice.link)
                self.notify(
                    f"Copied (OSC 52): {choice.link}",
                    title="Runbook link",
                    timeout=15,
                )
                return
            runbook = picked  # type: ignore[assignment]
            if what:
                oncall.remember_runbook(scope, runbook.id)
        elif ask.incident:
            oncall.remember_runbook(scope, runbook.id)  # the incident names what it walks
        self.push_screen(RunbookScreen(runbook, scope, started_at=started, labels=choice.labels))

    def on_open_checklist(self, message: OpenChecklist) -> None:
        message.stop()
        from oncall_console.engine.api import shift_scope
        from oncall_console.runbooks import ShiftMoment

        when = ShiftMoment.START if message.moment == "start" else ShiftMoment.END
        found = self.oncall.runbooks.library.for_shift(when)
        if not found:
            self.notify(f"No {when.value} runbook is configured.", timeout=4)
            return
        from oncall_console.ui.screens.runbook import RunbookScreen

        self.push_screen(RunbookScreen(found[0], shift_scope(self.clock())))

    def _open_runbook(self, runbook: Any) -> None:
        from oncall_console.ui.screens.runbook import RunbookScreen

        self.push_screen(RunbookScreen(runbook, "shift"))

    def action_redraw(self) -> None:
        partial.forget(self.console)
        self.screen.refresh()

    def action_cycle_theme(self) -> None:
        order = self.theme_order or [self.theme]
        nxt = order[(order.index(self.theme) + 1) % len(order)] if self.theme in order else order[0]
        self.theme = nxt
        self.notify(f"Theme: {nxt}", timeout=2)

    def action_help(self) -> None:
        """The console's own keys, this screen's first (ui/screens/help.py)."""
        from oncall_console.ui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        from oncall_console.ui.screens.closer import CloserScreen
        from oncall_console.ui.screens.detail import DetailScreen
        from oncall_console.ui.screens.handoff import HandoffScreen
        from oncall_console.ui.screens.help import rows_of
        from oncall_console.ui.screens.incident import IncidentScreen
        from oncall_console.ui.screens.runbook import RunbookScreen
        from oncall_console.ui.screens.silences import SilencesScreen

        keymap = dict(self.oncall.settings.keys) if self.ready else {}
        screens = [
            ("Dashboard", Dashboard),
            ("Incident screen", IncidentScreen),
            ("Runbook screen", RunbookScreen),
            ("Handoff screen", HandoffScreen),
            ("Silences", SilencesScreen),
            ("Detail view", DetailScreen),
            ("Look closer", CloserScreen),
        ]
        here = type(self.screen)
        sections = [
            (f"{name} (here)", rows_of(cls.BINDINGS, keymap))
            for name, cls in screens
            if cls is here
        ]
        sections.append(("Everywhere", rows_of(self.BINDINGS, keymap)))
        sections += [
            (name, rows_of(cls.BINDINGS, keymap)) for name, cls in screens if cls is not here
        ]
        return sections

    def action_back_or_quit(self, _label: str = "") -> None:
        """q: back from a sub-screen (as esc), leave the console from the main screen."""
        if len(self.screen_stack) > 1 and self.screen is not self.main_screen:
            self.pop_screen()
        else:
            self.exit()

    async def action_quit_asking(self) -> None:
        """ctrl+q: leave from anywhere; from a sub-screen, after a y."""
        if self.screen is self.main_screen:
            self.exit()
            return
        self.run_worker(self._ask_quit(), group="quit", exclusive=True)

    async def _ask_quit(self) -> None:
        from oncall_console.ui.screens.prompts import YesNoPrompt

        if await self.push_screen_wait(
            YesNoPrompt("Leave the console?", "Polling stops; nothing in progress is lost.")
        ):
            self.exit()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette: every command with its key, actions findable by the words of
        their titles ("roll" finds the rollback); ui/palette.py lists them."""
        yield from super().get_system_commands(screen)
        if screen is self.dashboard and self.ready:
            from oncall_console.ui.palette import dashboard_commands

            yield from dashboard_commands(self, self.dashboard)


def _front_door(engine: Engine | OnCall) -> OnCall:
    """The front door around ``engine`` (given one already, that one)."""
    from oncall_console.engine.api import OnCall

    return engine if isinstance(engine, OnCall) else OnCall(engine)
