#!/usr/bin/env python3
"""Regenerate screenshots/*.svg from the demo on a fixed clock (same picture every run).

Run after a UI change:  .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.demoapp import demo_app, settle  # noqa: E402

OUT = ROOT / "screenshots"


async def shoot(
    name: str, size: tuple[int, int], *, keys: tuple[str, ...] = (), row: str = "", **kw
) -> None:
    app = demo_app(at=90, **kw)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if row:
            table = app.screen.query_one("#health")
            table.move_cursor(row=table.get_row_index(row))
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        app.save_screenshot(str(OUT / f"{name}.svg"))
    print(f"wrote screenshots/{name}.svg")


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    for theme in ("oncall-dark", "oncall-light", "oncall-high-contrast"):
        await shoot(f"dashboard-{theme.removeprefix('oncall-')}", (120, 40), theme=theme)
    await shoot("dashboard-80x24", (80, 24))
    await shoot("detail-check", (100, 30), keys=("enter",), row="prediction-service")
    await shoot("confirm-rollback", (100, 30), keys=("a", "enter"), row="prediction-service")
    await shoot("runbook", (120, 40), keys=("b", "down", "down", "down"), row="prediction-service")
    await shoot_incident()


async def shoot_incident() -> None:
    """The incident screen 16 minutes after declaring, as tests/test_snapshots.py has it."""
    from textual.widgets import Input

    from tests.support.demoapp import select_first_alert

    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        select_first_alert(app)
        await pilot.press("i")  # it says what it will declare: y declares
        await pilot.pause()
        await pilot.press("y")
        for _ in range(200):
            if type(app.screen).__name__ == "IncidentScreen":
                break
            await pilot.pause(0.01)
        await pilot.pause()
        await pilot.press("A")  # acknowledge (asks y), take command (asks y), a note
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one(Input).value = "pods crash-looping since the 07:58 rollout"
        await pilot.press("enter")
        await pilot.pause()
        app.fixed_clock.advance(16 * 60)
        app.screen.sync()
        app.clear_notifications()
        await pilot.pause()
        app.save_screenshot(str(OUT / "incident.svg"))
    print("wrote screenshots/incident.svg")


if __name__ == "__main__":
    asyncio.run(main())
