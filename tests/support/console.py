"""Driving the real console in tests: build the app from a config file, wait on the screen.

    app = console(path)
    async with app.run_test(size=(120, 40)) as pilot:
        took = await until(pilot, "redis DOWN", lambda: glyph(app, "redis") == Status.DOWN.glyph)

``until`` waits with the app running (never a fixed sleep) and returns how long it took,
so fault tests can report the figure without asserting on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oncall_console.config import load
from oncall_console.engine import Engine
from oncall_console.model import Status
from oncall_console.ui.app import OncallApp
from oncall_console.ui.widgets.health import HealthTable


def console(path: Path, extra: str = "") -> OncallApp:
    """The app on the config at ``path`` (``extra`` TOML appended first), no user themes."""
    if extra:
        path.write_text(path.read_text() + "\n" + extra)
    loaded = load(path, env={})
    return OncallApp(Engine(loaded), themes_dir=path.parent / "no-themes")


async def until(
    pilot: Any, what: str, condition: Callable[[], bool], timeout: float = 20.0
) -> float:
    """Wait (with the app running) until ``condition`` holds; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await pilot.pause(0.05)
    return time.monotonic() - start


def glyph(app: OncallApp, check: str) -> str:
    """The status glyph the health table shows for ``check``."""
    return app.screen.query_one(HealthTable).get_cell(check, "st").plain


def status_of(app: OncallApp, check: str) -> Status:
    """The engine's status of ``check`` now (stale included)."""
    return app.engine.checks[check].status(app.clock())
