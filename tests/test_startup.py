"""Start-up as the engineer sees it: the console's frame is on screen before the config is
validated (issue #6, first frame), it goes live once the engine is built, and a refused
config still stops it with one located line and exit code 2, the terminal left clean."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench._pty import PtyApp
from oncall_console.cli import demo_config, demo_sketch
from oncall_console.config import ConfigError, ConsoleConfig, Problem
from oncall_console.configfile import Sketch
from oncall_console.ui.app import OncallApp
from oncall_console.ui.screens.actions import ActionPicker
from oncall_console.ui.screens.dashboard import Dashboard
from oncall_console.ui.screens.help import HelpScreen
from oncall_console.ui.widgets.alert_filter import AlertFilter
from oncall_console.ui.widgets.health import HealthTable
from oncall_console.ui.widgets.sli import SliCard
from oncall_console.ui.widgets.watchbar import WatchBar
from tests.support.demoapp import EPOCH, FixedClock

SIZE = (120, 40)


def starting_app(load, sketch: Sketch | None = None) -> OncallApp:
    """The console as the CLI opens it on a terminal: a sketch now, ``load`` in a thread."""
    clock = FixedClock(90.0)
    sketch = sketch or Sketch(environment="demo", operator="alex", demo=True, checks=11, slis=4)
    return OncallApp(
        sketch=sketch, load=load, clock=clock, poll=False, themes_dir=Path("/nonexistent")
    )


def held_demo() -> tuple[threading.Event, object]:
    """A demo config load that waits until the test lets it finish."""
    go = threading.Event()

    def load():
        assert go.wait(10), "the test never let the config load"
        loaded = demo_config(seed=7, speed=1.0, start=EPOCH)
        loaded.config.console.operator = "alex"
        loaded.config.console.utc = True
        return loaded

    return go, load


async def wait_for(pilot, condition, what: str, timeout: float = 10.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout:g} s: {what}"
        await pilot.pause(0.02)


async def test_the_frame_is_painted_while_the_config_loads_then_the_dashboard_goes_live():
    go, load = held_demo()
    app = starting_app(load)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, Dashboard) and not app.ready
        assert screen.query_one("#health-panel").border_subtitle == "starting 11 checks…"
        assert screen.query_one("#slis").border_subtitle == "starting 4 SLIs…"
        assert screen.query_one(HealthTable).row_count == 0
        # The keys are there but wait for the engine: "a" opens nothing yet.
        assert screen.check_action("actions", ()) is None
        await pilot.press("a")
        await pilot.pause()
        assert app.screen is screen

        go.set()
        await wait_for(pilot, lambda: app.ready, "the engine was built")
        await wait_for(pilot, lambda: screen.query_one(HealthTable).row_count == 11, "rows")
        assert app.screen is screen  # the same screen went live, nothing was swapped
        assert len(screen.query(SliCard)) == 4
        assert screen.query_one("#health-panel").border_subtitle == ""
        assert screen.check_action("actions", ()) is True
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ActionPicker)


async def test_the_filter_lines_come_with_the_engine_and_work_once_live(monkeypatch):
    """The two filter lines are not in the first frame (issue #14: their styles and
    mounting were ~10 ms of it). They are mounted into their panels with the engine, in
    the batch that brings the SLI cards: mounted on their own right after the frame,
    their panels were sent again down an SSH link. The verification bar is in the first
    frame: mounted later into the screen itself, it made Textual repaint the whole
    screen (~17 KB at 120x40). / filters the Health panel as ever."""
    composed: list[tuple[int, int]] = []
    on_mount = Dashboard.on_mount

    def counting(self):
        composed.append((len(self.query(AlertFilter)), len(self.query(WatchBar))))
        on_mount(self)

    monkeypatch.setattr(Dashboard, "on_mount", counting)
    go, load = held_demo()
    app = starting_app(load)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert composed == [(0, 1)]  # the first frame's widgets, as composed
        for _ in range(5):
            await pilot.pause()
        assert not screen.query(AlertFilter)  # still starting: not yet
        go.set()
        await wait_for(pilot, lambda: app.live, "the engine was started")
        assert len(screen.query(AlertFilter)) == 2 and len(screen.query(WatchBar)) == 1
        box = screen.query_one("#health-filter", AlertFilter)
        assert box.parent is screen.query_one("#health-panel") and not box.display
        table = screen.query_one(HealthTable)
        await wait_for(pilot, lambda: table.row_count == 11, "rows")
        await pilot.press("1", "/", "r", "e", "d", "i", "s")
        await wait_for(pilot, lambda: table.row_count < 11, "the filter narrowed the rows")
        assert box.value == "redis" and box.display
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 11, "escape cleared the filter")
        assert not box.display and screen.focused is table
        assert len(screen.query(AlertFilter)) == 2  # mounted once


async def test_the_other_screens_look_is_read_after_the_first_frame_before_they_open():
    """screens.tcss (dialogs, runbook, handoff, incident) is not parsed for the first
    frame (issue #14); the first screen pushed finds it there, as does the engine."""

    def read(app: OncallApp) -> bool:
        return any(path == str(OncallApp.SCREENS_CSS) for path, _ in app.stylesheet.source)

    go, load = held_demo()
    app = starting_app(load)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not read(app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help opened")
        assert read(app)
        go.set()
        await wait_for(pilot, lambda: app.live, "the engine was started")
    go, load = held_demo()
    app = starting_app(load)
    async with app.run_test(size=SIZE) as pilot:
        go.set()
        await wait_for(pilot, lambda: app.live, "the engine was started")
        assert read(app)


async def test_a_refused_config_ends_the_app_with_its_located_error():
    problem = Problem("/etc/oncall/config.toml", "checks.api.interval", "not a duration", 7)

    def load():
        raise ConfigError([problem])

    app = starting_app(load)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.startup_error is not None, "the error came back")
    assert app.return_code == 2
    assert isinstance(app.startup_error, ConfigError)
    assert app.startup_error.problems == [problem]


async def test_quitting_while_the_config_loads_leaves_at_once():
    go, load = held_demo()
    app = starting_app(load)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        go.set()  # the loading thread finishes after the app has gone: nothing breaks
    assert app.startup_error is None and not app.ready


# --- the sketch ------------------------------------------------------------------------


def test_the_sketch_reads_the_look_and_counts_leniently_with_environment_overrides():
    data = {
        "console": {"environment": "staging", "theme": 5, "read_only": "yes", "utc": True},
        "checks": {"api": {"backend": "web"}, "db": {"backend": "pg"}},
        "slis": {"latency": {"backend": "prom"}},
    }
    sketch = Sketch.of(data, env={"ONCALL_CONSOLE__THEME": '"oncall-light"'})
    assert sketch.environment == "staging" and sketch.utc
    assert sketch.theme == "oncall-light"  # from the environment, as validation will see it
    assert sketch.read_only is False  # "yes" is not a bool: left for validation to refuse
    assert (sketch.checks, sketch.slis) == (2, 1)
    assert "ONCALL_CONSOLE__THEME" not in str(data)  # the document itself is untouched
    assert data["console"]["theme"] == 5
    # An override that adds a check is counted, on a copy; without one nothing is copied
    # (issue #14: the copy of 200 checks was ~2 ms, twice) and the document is the same.
    before = copy.deepcopy(data)
    added = Sketch.of(data, env={"ONCALL_CHECKS__CACHE__BACKEND": '"redis"'})
    assert added.checks == 3 and data == before
    plain = Sketch.of(data, env={"ONCALL_CONSOLE_CONFIG": "/etc/x.toml", "HOME": "/root"})
    assert (plain.checks, plain.theme) == (2, Sketch().theme) and data == before


def test_the_sketch_defaults_are_the_config_defaults():
    defaults = ConsoleConfig()
    sketch = Sketch()
    assert (sketch.environment, sketch.theme, sketch.read_only, sketch.utc) == (
        defaults.environment,
        defaults.theme,
        defaults.read_only,
        defaults.utc,
    )


def test_the_demo_sketch_names_the_demo_environment():
    loaded = demo_config(seed=7, speed=1.0)
    assert demo_sketch().environment == loaded.config.console.environment
    assert demo_sketch().demo


def test_the_first_frame_imports_no_pydantic_and_no_engine():
    code = (
        "import sys, oncall_console.cli, oncall_console.ui.app;"
        "print(sorted(m for m in ('pydantic', 'oncall_console.config', "
        "'oncall_console.engine.core', 'oncall_console.backends.base', "
        "'oncall_console.model.alerts') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_first_polls_records_are_read_with_what_the_frame_imported():
    """A record of the first poll (``Early``) is unpickled by calling its classes, from
    modules the first frame has imported already: not the engine's prefetch module
    (hashlib, thread pools: ~3 ms), nor ``_dataclass_setstate`` per object (issue #14)."""
    code = (
        "import pickle, sys, oncall_console.cli, oncall_console.ui.app;"
        "data = sys.stdin.buffer.read();"
        "early = pickle.loads(data);"
        "print(early.spec.name, early.result.summary, early.result.details, early.target,"
        " 'oncall_console.engine.prefetch' in sys.modules)"
    )
    from oncall_console.engine.prefetch import Early
    from oncall_console.model import CheckResult, CheckSpec, Status

    early = Early(
        CheckSpec("api", "web", 15.0, 5.0, title="API"),
        CheckResult("api", Status.OK, "200 OK", 4.5, 1.0, {"via": "lb-1"}),
        "f00d",
    )
    data = pickle.dumps(early, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_dataclass_setstate" not in data and b"prefetch" not in data
    assert pickle.loads(data) == early
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert out.split() == ["api", "200", "OK", "{'via':", "'lb-1'}", "f00d", "False"]


# --- the command on a real terminal ------------------------------------------------------


def console_on_a_terminal(*args: str, env: dict[str, str] | None = None) -> PtyApp:
    """``oncall-console ARGS`` on a fresh 120x40 pty (bench/_pty.py: it answers Textual's
    terminal queries and keeps every byte written)."""
    # COLUMNS / LINES would win over the pty's size (pytest-xdist's workers set them).
    size = {"COLUMNS": "120", "LINES": "40"}
    return PtyApp(
        [sys.executable, "-m", "oncall_console", *args],
        env={"TERM": "xterm-256color", **size, **(env or {})},
    )


def written_until(term: PtyApp, text: bytes, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while text not in term.raw:
        assert time.monotonic() < deadline, f"{text!r} never written"
        time.sleep(0.02)
    return bytes(term.raw)


LEAVE_ALT_SCREEN = b"\x1b[?1049l"


def test_a_refused_config_on_a_terminal_is_one_located_line_after_the_screen_is_restored(
    tmp_path,
):
    config = tmp_path / "config.toml"
    config.write_text(
        '[backends.web]\ntype = "http"\n\n[checks.api]\nbackend = "web"\n'
        'url = "http://127.0.0.1:9/health"\ninterval = "soon"\n'
    )
    with console_on_a_terminal("run", "-c", str(config)) as term:
        out = written_until(term, b"checks.api.interval")
        assert term.proc.wait(10) == 2
    assert LEAVE_ALT_SCREEN in out  # the frame was painted, and the screen restored
    after = out.rsplit(LEAVE_ALT_SCREEN, 1)[1].decode()
    assert f"error: {config}:7:1: checks.api.interval:" in after
    assert "Traceback" not in out.decode(errors="replace")


def test_the_demo_on_a_terminal_paints_its_frame_then_its_results_and_quits_on_q():
    # Without the first poll on the second core (tests/test_first_poll.py), whose
    # results may already be in the first frame: the frame first, then the engine's.
    with console_on_a_terminal("demo", env={"ONCALL_FIRST_POLL": "0"}) as term:
        out = written_until(term, b"1/1 ready")
        term.write(b"q")
        assert term.proc.wait(10) == 0
    frame, result = out.find(b"Incidents & alerts"), out.find(b"1/1 ready")
    assert 0 <= frame < result
    assert b"starting" in out[:result]  # the frame came first, saying what is on its way


def test_the_demo_with_its_first_poll_shows_results_and_quits_on_q():
    with console_on_a_terminal("demo") as term:
        # The result may be in the first frame, whose rows come before the alerts
        # panel's title: read to the end of that frame, not to the result's bytes (a
        # CI run cut the frame there).
        term.wait_text("1/1 ready", timeout=30.0)
        out = bytes(term.raw)
        term.write(b"q")
        assert term.proc.wait(10) == 0
    assert b"Incidents & alerts" in out
