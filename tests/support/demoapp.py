"""A demo console on a fixed clock: the same picture every run (snapshots, Pilot tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from oncall_console.backends.demo import demo_config_dict
from oncall_console.cli import demo_config
from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.ui.app import OncallApp

EPOCH = 1_800_000_000.0  # a fixed wall clock: 2027-01-15 08:00:00 UTC


class FixedClock:
    def __init__(self, at: float) -> None:
        self.now = EPOCH + at

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def demo_app(
    at: float = 90.0,
    *,
    read_only: bool = False,
    theme: str = "oncall-dark",
    themes_dir: Path | None = None,
    keys: dict[str, str] | None = None,
    extra: Callable[[dict[str, Any]], None] | None = None,
) -> OncallApp:
    """The demo platform ``at`` seconds into its scripted incident, not polling by itself.
    ``extra`` may change the config document first (add a backend, a post_to)."""
    clock = FixedClock(at)
    if extra is None:
        loaded = demo_config(seed=7, speed=1.0, read_only=read_only, start=EPOCH)
    else:
        data = demo_config_dict(seed=7, speed=1.0)
        data["store"] = {"url": ":memory:"}
        data["backends"]["demo"]["start"] = EPOCH
        data["console"]["read_only"] = read_only
        extra(data)
        loaded = from_dict(data, filename="<demo>", env={})
    loaded.config.console.utc = True
    loaded.config.console.theme = theme
    loaded.config.console.operator = "alex"
    if keys:
        loaded.config.keys = keys
    engine = Engine(loaded, clock=clock)
    app = OncallApp(engine, clock=clock, poll=False, themes_dir=themes_dir or Path("/nonexistent"))
    app.fixed_clock = clock  # type: ignore[attr-defined]
    return app


async def settle(pilot: object) -> None:
    """Wait until the first poll has landed and the screen shows it (not a fixed sleep)."""
    app = pilot.app  # type: ignore[attr-defined]
    for _ in range(500):
        if (
            all(c.last is not None for c in app.engine.checks.values())
            and app.dashboard._seen_version == app.engine.version
        ):
            break
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    else:
        raise TimeoutError("the demo never finished its first poll")
    # The SLI sparklines' range comes from the source in a worker: wait for it too.
    from oncall_console.ui.widgets.sli import SliCard

    for _ in range(500):
        cards = list(app.dashboard.query(SliCard))
        if all(c.ranged is not None or not c._keeps_history for c in cards):
            break
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    else:
        raise TimeoutError("the SLI sparklines never got their range")
    app.dashboard.sync(force=True)
    await pilot.pause()  # type: ignore[attr-defined]
    # A full repaint, so the picture does not depend on which partial updates came first
    # (they split the same text into different segments).
    app.screen.refresh(layout=True)
    await pilot.pause()  # type: ignore[attr-defined]


def select_first_alert(app: OncallApp) -> None:
    """Focus the alerts panel with its cursor on the first alert row."""
    from oncall_console.ui.widgets.alerts import AlertsTable

    table = app.screen.query_one(AlertsTable)
    table.focus()
    keys = [k.value for k in table.rows]
    table.move_cursor(row=next(i for i, k in enumerate(keys) if k.startswith("alert:")))
