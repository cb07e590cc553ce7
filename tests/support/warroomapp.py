"""The war room on the demo platform and a fixed clock: the same picture every run."""

from __future__ import annotations

from pathlib import Path

from oncall_console.cli import demo_config
from oncall_console.engine import Engine
from oncall_console.ui.app import OncallApp
from tests.support.demoapp import EPOCH, FixedClock


def war_room_app(
    at: float = 90.0, *, dwell: float = 15.0, theme: str = "oncall-high-contrast"
) -> OncallApp:
    """The wall screen ``at`` seconds into the demo's scripted incident, not polling by itself."""
    clock = FixedClock(at)
    loaded = demo_config(seed=7, speed=1.0, read_only=True, start=EPOCH)
    loaded.config.console.utc = True
    loaded.config.console.theme = theme
    loaded.config.console.operator = "alex"
    engine = Engine(loaded, clock=clock)
    app = OncallApp(
        engine,
        clock=clock,
        poll=False,
        themes_dir=Path("/nonexistent"),
        mode="war-room",
        dwell=dwell,
    )
    app.fixed_clock = clock  # type: ignore[attr-defined]
    return app


async def settle_war_room(pilot: object) -> None:
    """Wait until the first poll has landed on the wall (not a fixed sleep), then repaint it all."""
    app = pilot.app  # type: ignore[attr-defined]
    for _ in range(500):
        if (
            all(c.last is not None for c in app.engine.checks.values())
            and app.war_room._seen_version == app.engine.version
        ):
            break
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    else:
        raise TimeoutError("the demo never finished its first poll")
    app.war_room.sync(force=True)
    await pilot.pause()  # type: ignore[attr-defined]
    app.screen.refresh(layout=True)
    await pilot.pause()  # type: ignore[attr-defined]
