"""The drill, end to end on the real stack, driven by keys as an engineer would:
a leaking client exhausts the PostgreSQL pool, the alert fires in Alertmanager and
reaches the dashboard, its runbook opens, the diagnostic shows who holds the
connections, "terminate idle sessions" runs through the confirm dialog, the
connections are gone, the alert resolves, and the audit trail verifies."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from textual.widgets import Input, OptionList

from oncall_console.config import load
from oncall_console.engine import Engine
from oncall_console.ui.app import OncallApp
from oncall_console.ui.screens.actions import ConfirmAction, ParamsForm
from oncall_console.ui.screens.runbook import RunbookScreen
from oncall_console.ui.widgets.alerts import AlertsTable
from tests.support.console import until
from tests.support.stack import Stack, write_dev_config

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

ROOT = Path(__file__).resolve().parent.parent
ALERT = "PostgresConnectionPoolHigh"
APP = "leaky-app"


def leaky_sessions(stack: Stack) -> int:
    with psycopg.connect(stack.postgres.dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (APP,)
        ).fetchone()[0]


def open_leak(stack: Stack) -> list[psycopg.Connection[Any]]:
    """A client that opens sessions as an ordinary role and leaves them idle."""
    with psycopg.connect(stack.postgres.dsn, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'leaky'").fetchone():
            admin.execute("CREATE ROLE leaky LOGIN")
        in_use = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchone()[0]
    dsn = stack.postgres.dsn_for("postgres")
    return [
        psycopg.connect(dsn, user="leaky", application_name=APP, autocommit=True)
        for _ in range(47 - in_use)  # 47 of 50: over the 90 % the alert watches
    ]


class Keys:
    """Presses keys and counts them: the note reports keystrokes, alert to verified action."""

    def __init__(self, pilot: Any) -> None:
        self.pilot, self.count = pilot, 0

    async def __call__(self, *keys: str) -> None:
        self.count += len(keys)
        await self.pilot.press(*keys)
        await self.pilot.pause()


def alert_row(app: OncallApp) -> int | None:
    table = app.dashboard.query_one(AlertsTable)
    for index, key in enumerate(table.rows):
        if table.get_cell(key, "what").plain.startswith(ALERT):
            return index
    return None


def rendered(*renderables: Any) -> str:
    import io

    from rich.console import Console

    console = Console(width=160, record=True, color_system=None, file=io.StringIO())
    for r in renderables:
        console.print(r)
    return console.export_text()


def downs_to(screen: RunbookScreen, words: str) -> list[str]:
    """The 'down' presses from the highlighted step to the one with ``words`` (headers are skipped)."""
    steps = screen.query_one(OptionList)
    options = steps.options
    target = next(i for i, o in enumerate(options) if o.id and words in str(o.prompt))
    here = steps.highlighted or 0
    return ["down"] * sum(1 for o in options[here + 1 : target + 1] if not o.disabled)


async def test_connection_exhaustion_drill(healthy_stack: Stack, tmp_path: Path) -> None:
    path = write_dev_config(healthy_stack, tmp_path / "config.dev.toml", interval=1.0)
    path.write_text(path.read_text() + f'\n[runbooks]\ndirs = ["{ROOT / "runbooks"}"]\n')
    app = OncallApp(Engine(load(path, env={})), themes_dir=tmp_path / "none")
    leak = open_leak(healthy_stack)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            keys = Keys(pilot)
            await until(pilot, f"{ALERT} on the dashboard", lambda: alert_row(app) is not None, 45)

            # Alert -> its runbook.
            await keys("3")
            await keys(*["down"] * alert_row(app))
            await keys("b")
            screen = app.screen
            assert (
                isinstance(screen, RunbookScreen)
                and screen.runbook.id == "database-connection-exhaustion"
            )

            # The diagnostic names the leaking application.
            await keys(*downs_to(screen, "Count sessions"))
            await keys("r")  # run the step's query (g goes to the first step)
            await app.workers.wait_for_complete()
            await pilot.pause()
            shown = rendered(*screen.results.values())
            assert APP in shown and "idle" in shown

            # Terminate the idle sessions: pick the age (0: all idle now), confirm, run.
            await keys(*downs_to(screen, "End idle sessions"))
            await keys("x")
            assert isinstance(app.screen, ParamsForm)
            await keys("enter")  # state: idle (suggested)
            age = app.screen.query_one("#param-older_than_minutes", Input)
            assert age.value == "30" and age.has_focus
            await keys("ctrl+u", "0", "enter", "enter")  # age 0; database: any
            assert isinstance(app.screen, ConfirmAction)
            assert "pg_terminate_backend" in app.screen.prepared.preview
            await keys("y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            print(
                f"\nkeystrokes from the alert on screen to a finished, verified action: {keys.count}"
            )

            # Real server state: the sessions are gone; the step ticked itself.
            assert leaky_sessions(healthy_stack) == 0
            step = next(s for s in screen.runbook.steps if "End idle sessions" in s.text)
            assert screen.progress[step.id].done
            # Back on the dashboard, the alert resolves.
            await keys("escape")
            assert app.screen is app.dashboard
            await until(pilot, f"{ALERT} resolved", lambda: alert_row(app) is None, 45)

            # The runbook was opened on the alert, so the action is verified on the alert's
            # check: the trail ends with what the verification saw, written once it has.
            async def trail() -> list[tuple[str, str, str]]:
                return [(r.kind, r.action, r.outcome) for r in await app.engine.store.audit()]

            deadline = time.monotonic() + 60
            while len(await trail()) < 3 and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert await trail() == [
                ("intent", "terminate-idle", "outcome unknown"),
                ("result", "terminate-idle", "succeeded"),
                ("verify", "terminate-idle", "recovered"),
            ]
            assert (await app.engine.store.verify_audit()).ok
    finally:
        for conn in leak:
            conn.close()
    verify = subprocess.run(
        [sys.executable, "-m", "oncall_console", "audit", "verify", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0 and "audit chain ok: 3 entries" in verify.stdout
