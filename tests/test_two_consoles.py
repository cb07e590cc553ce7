"""Two consoles, one truth: a shared PostgreSQL store and one Redis bus.

A note typed on one console shows on the other within a second (the bus carries the
news, the store the data); both try the same action on the same target and exactly
one runs, the other is told who holds the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.model import ActionRequest, Outcome
from oncall_console.ui.flow import run_action_flow
from oncall_console.ui.messages import RunAction
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]


def console(stack: Stack, dsn: str, env: str, name: str) -> Engine:
    data: dict[str, Any] = {
        "console": {"environment": env, "operator": name},
        "store": {"url": dsn},
        "bus": {"redis_url": stack.redis.url, "timeout": "2s"},
        "backends": {
            "ops": {
                "type": "shell",
                "allowlist": [sys.executable],
                # An action that takes a moment, so the other console meets its lock.
                "commands": {
                    "drain-queue": {
                        "title": "Drain the job queue",
                        "argv": [sys.executable, "-c", "import time; time.sleep(2)"],
                        "timeout": 30,
                    }
                },
            }
        },
    }
    engine = Engine(from_dict(data, env={}))
    engine.console_id = engine.bus.console = engine.runner.console = f"{name}-bastion:1"
    return engine


@contextlib.contextmanager
def as_app(app: Any) -> Iterator[None]:
    from textual._context import active_app

    token = active_app.set(app)
    try:
        yield
    finally:
        active_app.reset(token)


async def eventually(what: str, condition: Any, timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_a_note_travels_and_the_lock_is_shared(healthy_stack: Stack) -> None:
    db = f"team_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(healthy_stack.postgres.admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    dsn = healthy_stack.postgres.dsn_for(db)
    env = "two-" + uuid.uuid4().hex[:6]
    alex, sam = console(healthy_stack, dsn, env, "alex"), console(healthy_stack, dsn, env, "sam")
    await alex.start(poll=False)
    await sam.start(poll=False)
    try:
        assert alex.bus.connected and sam.bus.connected
        incident = await alex.incident_service.declare("Checkout 5xx after deploy", "SEV2")
        await eventually(
            "the incident on sam's console",
            lambda: any(i.id == incident.id for i in sam.incidents()),
        )

        note = "Rolled back checkout to v41; watching the error rate"
        await alex.incident_service.note(incident.id, note)

        def sam_sees_note() -> bool:
            found = next((i for i in sam.incidents() if i.id == incident.id), None)
            return found is not None and any(e.text == note for e in found.timeline)

        took = await eventually("alex's note on sam's console", sam_sees_note, timeout=1.0)
        print(f"\ntimeline note alex -> sam: {took * 1000:.0f} ms")

        request = ActionRequest("ops", "drain-queue", {})
        first = await alex.runner.prepare(request)
        second = await sam.runner.prepare(request)
        running = asyncio.create_task(alex.runner.execute(first, "y"))
        await eventually("alex's intent in the trail", lambda: bool(alex.runner._holders))
        refused = await sam.runner.execute(second, "y")
        assert refused.outcome is Outcome.REFUSED
        assert (
            refused.message == "drain-queue is locked by alex on alex-bastion:1 (ops.drain-queue)"
        )
        assert (await running).outcome is Outcome.SUCCEEDED
        trail = await sam.store.audit()
        assert [(r.kind, r.operator, r.outcome) for r in trail] == [
            ("intent", "alex", "outcome unknown"),
            ("result", "alex", "succeeded"),
        ]
    finally:
        await alex.stop()
        await sam.stop()


async def test_two_apps_see_each_other(healthy_stack: Stack) -> None:
    """The same with two running TUIs (two Pilot apps on one event loop): a note typed on
    alex's incident screen appears on sam's, sam sees alex there (presence), and when both
    confirm the same action, sam's console says who holds the lock."""
    from textual.widgets import DataTable, Input

    from oncall_console.ui.app import OncallApp
    from oncall_console.ui.screens.actions import ConfirmAction
    from oncall_console.ui.screens.incident import IncidentScreen
    from oncall_console.ui.screens.prompts import TextPrompt

    db = f"team_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(healthy_stack.postgres.admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    dsn = healthy_stack.postgres.dsn_for(db)
    env = "apps-" + uuid.uuid4().hex[:6]
    alex_app = OncallApp(console(healthy_stack, dsn, env, "alex"))
    sam_app = OncallApp(console(healthy_stack, dsn, env, "sam"))

    def timeline(app: OncallApp) -> str:
        table = app.screen.query_one("#incident-timeline", DataTable)
        return "\n".join(
            " ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)
        )

    async with alex_app.run_test(size=(100, 30)) as alex, sam_app.run_test(size=(100, 30)) as sam:
        await eventually(
            "both on the bus",
            lambda: alex_app.engine.bus.connected and sam_app.engine.bus.connected,
        )
        incident = await alex_app.engine.incident_service.declare("Queue backlog", "SEV2")
        await eventually(
            "the incident on sam's console",
            lambda: sam_app.engine.incident_service.cached(incident.id) is not None,
        )
        # Two apps in one process: Textual finds "the app" of a new screen or worker in
        # a context variable, so each is set to its own app while it is touched here.
        with as_app(alex_app):
            await alex_app.push_screen(IncidentScreen(incident.id))
        with as_app(sam_app):
            await sam_app.push_screen(IncidentScreen(incident.id))
        await alex.pause()
        await sam.pause()
        sam_screen = sam_app.screen
        await eventually(
            "alex present on sam's incident screen",
            lambda: "alex" in str(sam_screen.query_one("#incident-presence").render()),
        )

        await alex.press("n")
        assert isinstance(alex_app.screen, TextPrompt)
        alex_app.screen.query_one(Input).value = "Scaled the workers to 6"
        start = time.monotonic()  # enter on alex's note -> the note on sam's screen
        await alex.press("enter")
        while "Scaled the workers to 6" not in timeline(sam_app):
            assert time.monotonic() - start < 1.0, "the note did not reach sam within 1 s"
            await sam.pause(0.005)
        print(
            f"\nnote typed on alex's screen -> sam's screen: {(time.monotonic() - start) * 1000:.0f} ms"
        )

        # Both confirm the same action; alex's runs, sam's console names the holder.
        request = ActionRequest("ops", "drain-queue", {})
        spec = alex_app.engine.runner.spec_for(request)
        results: dict[str, bool] = {}

        values = {p.name: p.default for p in spec.params if p.default not in (None, "")}

        async def run(app: OncallApp, name: str) -> None:
            # The one action flow, as any screen starts it (ui/messages.py: RunAction).
            result = await run_action_flow(
                app, RunAction("ops", backend="ops", spec=spec, values=values)
            )
            results[name] = result is not None and result.outcome is Outcome.SUCCEEDED

        with as_app(alex_app):
            alex_app.dashboard.run_worker(run(alex_app, "alex"))
        await eventually("alex's confirm", lambda: isinstance(alex_app.screen, ConfirmAction))
        await alex.press("y")
        await eventually("alex holds the lock", lambda: bool(alex_app.engine.runner._holders))
        with as_app(sam_app):
            sam_app.dashboard.run_worker(run(sam_app, "sam"))
        await eventually("sam's confirm", lambda: isinstance(sam_app.screen, ConfirmAction))
        await sam.press("y")
        await eventually("sam's answer", lambda: "sam" in results)
        assert results["sam"] is False
        told = [n.message for n in sam_app._notifications]
        assert any("locked by alex on alex-bastion:1" in m for m in told), told
        await eventually("alex's action done", lambda: "alex" in results, timeout=30)
        assert results["alex"] is True
