"""The store contract, run against SQLite and against the stack's real PostgreSQL:
append-only hash-chained audit, tamper detection, runbook progress, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from oncall_console.store import Store, open_store
from oncall_console.store.base import StepProgress
from oncall_console.store.schema import LATEST

pytestmark = pytest.mark.xdist_group("stack")


def intent(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "at": 1_800_000_000.0 + n,
        "kind": "intent",
        "intent_id": None,
        "operator": "alex",
        "ssh_client": "10.0.0.7",
        "console": "bastion:4242",
        "backend": "pg",
        "action": "terminate-idle",
        "target": "app",
        "params": '{"older_than_minutes":5}',
        "preview": "SELECT pg_terminate_backend(pid) …",
        "outcome": "outcome unknown",
        "message": "",
        **extra,
    }


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[str, Store, Any]]:
    if request.param == "sqlite":
        path = tmp_path / "oncall.sqlite3"
        s = open_store(str(path))
        await s.open()
        yield "sqlite", s, path
        await s.close()
        return
    stack = request.getfixturevalue("healthy_stack")  # an earlier fault test may have paused it
    name = f"store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # a fresh database per test
    dsn = stack.postgres.dsn_for(name)
    s = open_store(dsn)
    await s.open()
    yield "postgres", s, dsn
    await s.close()


async def test_migrations_are_applied_once_and_reopening_is_harmless(store):
    _, s, where = store
    assert await s.schema_version() == LATEST
    again = open_store(str(where))
    await again.open()
    assert await again.schema_version() == LATEST
    await again.close()


async def test_intent_then_result_chain_and_verify(store):
    _, s, _ = store
    first = await s.append_audit(intent(1))
    await s.append_audit(
        {**intent(2), "kind": "result", "intent_id": first.id, "outcome": "succeeded"}
    )
    records = await s.audit()
    assert [r.id for r in records] == [1, 2]
    assert records[1].prev_hash == records[0].hash
    report = await s.verify_audit()
    assert report.ok and report.entries == 2
    assert await s.unfinished() == []


async def test_an_intent_without_result_is_outcome_unknown(store):
    _, s, _ = store
    await s.append_audit(intent(1))
    left = await s.unfinished()
    assert [(r.id, r.action, r.operator) for r in left] == [(1, "terminate-idle", "alex")]


async def test_the_trail_refuses_updates_and_deletes(store):
    kind, s, where = store
    await s.append_audit(intent(1))
    if kind == "sqlite":
        db = sqlite3.connect(where)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit SET operator = 'mallory'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit")
        db.close()
    else:
        with psycopg.connect(where, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute("UPDATE audit SET operator = 'mallory'")
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute("DELETE FROM audit")


async def test_tampering_behind_the_triggers_is_detected(store):
    kind, s, where = store
    for n in range(1, 4):
        await s.append_audit(intent(n))
    if kind == "sqlite":
        db = sqlite3.connect(where)
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET operator = 'mallory' WHERE id = 2")
        db.commit()
        db.close()
    else:
        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
            conn.execute("UPDATE audit SET operator = 'mallory' WHERE id = 2")
    report = await s.verify_audit()
    assert not report.ok
    assert report.problem == "entry 2: hash does not match its content"


async def test_runbook_progress_is_saved_per_scope_and_overwritten(store):
    _, s, _ = store
    await s.save_step(StepProgress("db-pool", "INC-7", "check-pool", True, "alex", 1.0))
    await s.save_step(StepProgress("db-pool", "INC-7", "terminate", False, "alex", 2.0, "waiting"))
    await s.save_step(StepProgress("db-pool", "INC-7", "check-pool", False, "sam", 3.0))
    await s.save_step(StepProgress("db-pool", "INC-8", "check-pool", True, "kim", 4.0))
    steps = await s.steps("db-pool", "INC-7")
    assert {k: (v.done, v.operator) for k, v in steps.items()} == {
        "check-pool": (False, "sam"),
        "terminate": (False, "alex"),
    }
    assert steps["terminate"].note == "waiting"


async def test_two_consoles_appending_at_once_keep_one_valid_chain(store):
    import asyncio

    _, s, where = store
    other = open_store(str(where))
    await other.open()
    try:
        await asyncio.gather(*(x.append_audit(intent(n)) for n in range(40) for x in (s, other)))
    finally:
        await other.close()
    report = await s.verify_audit()
    assert report.ok and report.entries == 80


async def test_a_lock_is_held_until_released_or_expired(store):
    _, s, where = store
    other = open_store(str(where))
    await other.open()
    try:
        assert await s.acquire_lock("pg/app", "alex on a", ttl=60, now=100.0) is None
        assert await other.acquire_lock("pg/app", "sam on b", ttl=60, now=110.0) == "alex on a"
        assert await s.acquire_lock("pg/app", "alex on a", ttl=60, now=120.0) is None  # re-entrant
        await s.release_lock("pg/app", "alex on a")
        assert await other.acquire_lock("pg/app", "sam on b", ttl=0.3, now=130.0) is None
        # an expired lock (its console died) is taken over; expiry is by the store's clock
        await asyncio.sleep(0.5)
        assert await s.acquire_lock("pg/app", "alex on a", ttl=60, now=140.0) is None
    finally:
        await other.close()


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_a_hung_postgresql_store_fails_on_its_own_timeout(healthy_stack):
    """A call to a hung server is refused after call_timeout (then reconnects), not held
    up by psycopg asking the hung server to cancel the query."""
    name = f"store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(healthy_stack.postgres.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    s = open_store(healthy_stack.postgres.dsn_for(name))
    await s.open()
    s.call_timeout = 1.0
    healthy_stack.postgres.pause(tree=True)
    try:
        call = asyncio.ensure_future(s.incidents())
        done, _ = await asyncio.wait({call}, timeout=call_timeout_promise(s))
        assert call in done, "the store call outlived its timeout"
        with pytest.raises(TimeoutError, match="did not answer in 1 s"):
            call.result()
    finally:
        healthy_stack.postgres.resume()
    assert await s.incidents() == []  # back: the next call reconnects
    await s.close()


def call_timeout_promise(s: Any) -> float:
    """What the store promises: its call_timeout, plus a moment to drop the connection."""
    return s.call_timeout + 3.0
