"""Look closer on the real stack (issue #15, point 9): from the TUI, `l` in the detail
view of the PostgreSQL and Redis checks shows their sessions and slowlog, live."""

from __future__ import annotations

import pytest

from oncall_console.ui.screens.closer import CloserScreen
from oncall_console.ui.screens.detail import DetailScreen
from oncall_console.ui.widgets.health import HealthTable
from tests.support.console import console, until
from tests.support.stack import Stack
from tests.test_help_keys import screen_text
from tests.test_live_console import dev_config, hanging

__all__ = ["dev_config", "hanging"]  # fixtures

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]


async def look_closer(app, pilot, check: str, views: tuple[str, str], words: str) -> None:
    health = app.screen.query_one(HealthTable)
    health.focus()
    health.move_cursor(row=health.get_row_index(check))
    await pilot.press("enter")
    await until(pilot, "the detail", lambda: isinstance(app.screen, DetailScreen))
    await pilot.press("l")
    await until(pilot, "look closer", lambda: isinstance(app.screen, CloserScreen))
    screen = app.screen
    for i, view in enumerate(views):
        if i:
            await pilot.press("tab")
        await until(pilot, f"{check} {view}", lambda view=view: view in screen.found)
        assert screen.errors[view] == "", screen.errors[view]
        await pilot.pause()
        if not i:
            assert words in screen_text(app)
    await pilot.press("escape", "escape")
    await until(pilot, "the dashboard", lambda: app.screen is app.dashboard)


async def test_l_looks_closer_at_postgres_and_redis(healthy_stack: Stack, dev_config):
    app = console(dev_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(
            pilot, "checks answered", lambda: all(c.last for c in app.engine.checks.values())
        )
        await look_closer(app, pilot, "postgres", ("sessions", "queries"), "Sessions by state")
        await look_closer(app, pilot, "redis", ("slowlog", "bigkeys"), "Slowlog")
