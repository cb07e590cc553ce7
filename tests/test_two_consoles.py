"""Two consoles, one truth: a shared PostgreSQL store and one Redis bus.

A note typed on one console shows on the other within a second (the bus carries the
news, the store the data); both try the same action on the same target and exactly
one runs, the other is told who holds the lock.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import psycopg
import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.model import ActionRequest, Outcome
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
