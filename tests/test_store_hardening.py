"""Issue #16, what an adversarial review broke in the store, each reproduced against the
real stores (a SQLite file, the stack's real PostgreSQL) and now harmless:

8.  locks expired by each console's own clock (a console 95 s ahead took a held lock);
10. store faults (disk full, corrupt, read-only) said something else, and reading needed
    a store that could be written;
11. the audit chain could be cut at its end unseen, and the SQLite file was 0644.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from oncall_console.store import Store, open_store
from oncall_console.store.base import AUDIT_COLUMNS

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


def fresh_database(stack: Any) -> str:
    name = f"store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return stack.postgres.dsn_for(name)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[str, Store, Any]]:
    """(kind, an open store, where it is: the SQLite file's path or the database's DSN)."""
    if request.param == "sqlite":
        path = tmp_path / "oncall.sqlite3"
        s = open_store(str(path))
        await s.open()
        yield "sqlite", s, path
        await s.close()
        return
    dsn = fresh_database(request.getfixturevalue("healthy_stack"))
    s = open_store(dsn)
    await s.open()
    yield "postgres", s, dsn
    await s.close()


# --- 8. locks expire by the store's clock --------------------------------------------------


async def test_a_console_whose_clock_is_ahead_cannot_take_a_held_lock(store):
    _, s, where = store
    other = open_store(str(where))  # a second console on the same store
    await other.open()
    try:
        now = time.time()
        assert await s.acquire_lock("pg/app", "alex on a", ttl=60, now=now) is None
        # b's clock is 95 s ahead: by it, alex's lock ran out 35 s ago. It still holds.
        assert await other.acquire_lock("pg/app", "sam on b", ttl=60, now=now + 95) == "alex on a"
        await s.release_lock("pg/app", "alex on a")
        # b's clock 95 s behind: by a's clock b's lock would be born expired. It holds.
        assert await other.acquire_lock("pg/app", "sam on b", ttl=60, now=now - 95) is None
        assert await s.acquire_lock("pg/app", "alex on a", ttl=60, now=now) == "sam on b"
        # Expiry is still expiry, whatever the consoles' clocks say.
        assert await s.acquire_lock("pg/db", "alex on a", ttl=0.3, now=now + 3600) is None
        assert await other.acquire_lock("pg/db", "sam on b", ttl=60, now=now - 3600) == "alex on a"
        await asyncio.sleep(0.5)
        assert await other.acquire_lock("pg/db", "sam on b", ttl=60, now=now - 3600) is None
    finally:
        await other.close()


# --- 11. the chain is anchored at its head; the SQLite file is private ----------------------


def as_attacker(kind: str, where: Any, *statements: str) -> None:
    """Someone with the file (or the database's owner role) goes behind the triggers."""
    if kind == "sqlite":
        db = sqlite3.connect(where, isolation_level=None)
        try:
            for statement in statements:
                db.execute(statement)
        finally:
            db.close()
        return
    with psycopg.connect(where, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def drop_audit_triggers(kind: str) -> list[str]:
    if kind == "sqlite":
        return ["DROP TRIGGER audit_no_delete", "DROP TRIGGER audit_no_update"]
    return ["ALTER TABLE audit DISABLE TRIGGER USER"]


def drop_head_triggers(kind: str) -> list[str]:
    if kind == "sqlite":
        return ["DROP TRIGGER audit_head_no_delete", "DROP TRIGGER audit_head_forward"]
    return ["ALTER TABLE audit_head DISABLE TRIGGER USER"]


async def test_a_cut_at_the_end_of_the_chain_is_detected(store):
    kind, s, where = store
    for n in range(1, 6):
        await s.append_audit(intent(n))
    assert (await s.verify_audit()).ok
    as_attacker(kind, where, *drop_audit_triggers(kind), "DELETE FROM audit WHERE id > 3")
    report = await s.verify_audit()
    assert not report.ok
    assert report.problem == "the trail ends at entry 3 but its head at 5: entries 4-5 were cut"
    # The console goes on appending: the gap stays visible, it is not written over.
    await s.append_audit(intent(6))
    report = await s.verify_audit()
    assert not report.ok and report.problem == "entry 4 is missing (found id 6)"


async def test_a_cut_of_one_entry_and_the_whole_trail_are_detected(store):
    kind, s, where = store
    for n in range(1, 3):
        await s.append_audit(intent(n))
    as_attacker(kind, where, *drop_audit_triggers(kind), "DELETE FROM audit WHERE id = 2")
    assert (await s.verify_audit()).problem.endswith("entry 2 was cut")
    as_attacker(kind, where, "DELETE FROM audit")
    report = await s.verify_audit()
    assert not report.ok and report.problem.endswith("entries 1-2 were cut")


async def test_cutting_the_head_too_is_detected(store):
    kind, s, where = store
    for n in range(1, 4):
        await s.append_audit(intent(n))
    # Moving the head back is refused by its own trigger...
    if kind == "sqlite":
        with pytest.raises(sqlite3.DatabaseError, match="only moves forward"):
            as_attacker(kind, where, "UPDATE audit_head SET entries = 1")
    else:
        with pytest.raises(psycopg.errors.RaiseException, match="only moves forward"):
            as_attacker(kind, where, "UPDATE audit_head SET entries = 1")
    # ...and deleting it behind that trigger leaves no head, which is a cut too.
    as_attacker(
        kind,
        where,
        *drop_audit_triggers(kind),
        *drop_head_triggers(kind),
        "DELETE FROM audit WHERE id = 3",
        "DELETE FROM audit_head",
    )
    report = await s.verify_audit()
    assert not report.ok and "audit head is missing" in report.problem
    await s.append_audit(intent(4))  # appends go on; the head is not quietly recreated
    assert "audit head is missing" in (await s.verify_audit()).problem


async def test_intent_result_and_verify_entries_reach_the_head(store):
    _, s, where = store
    first = await s.append_audit(intent(1))
    await s.append_audit({**intent(2), "kind": "result", "intent_id": first.id, "outcome": "ok"})
    await s.append_audit(
        {**intent(3), "kind": "verify", "intent_id": first.id, "outcome": "recovered"}
    )
    other = open_store(str(where))  # a second console appends to the same chain
    await other.open()
    try:
        await asyncio.gather(*(x.append_audit(intent(n)) for n in range(10) for x in (s, other)))
        assert await other.audit_head() == (23, (await s.audit())[-1].hash)
    finally:
        await other.close()
    report = await s.verify_audit()
    assert report.ok and report.entries == 23, report.problem


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_trail_from_before_the_head_is_anchored_where_it_ends(kind, tmp_path, request):
    """A store at schema 3 (entries, no head) is migrated: its head is its last entry."""
    from oncall_console.store.base import chain_from, next_audit_record
    from oncall_console.store.schema import MIGRATIONS

    records = []
    for n in range(1, 4):
        last = (records[-1].id, records[-1].hash) if records else None
        records.append(next_audit_record(intent(n), chain_from(None, last)))
    columns = ", ".join(AUDIT_COLUMNS)
    if kind == "sqlite":
        where: Any = tmp_path / "old.sqlite3"
        db = sqlite3.connect(where, isolation_level=None)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, statements, _ in MIGRATIONS[:3]:
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        for r in records:
            values = tuple(getattr(r, c) for c in AUDIT_COLUMNS)
            db.execute(f"INSERT INTO audit ({columns}) VALUES ({', '.join('?' * 16)})", values)
        db.close()
    else:
        where = fresh_database(request.getfixturevalue("healthy_stack"))
        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            for version, _, statements in MIGRATIONS[:3]:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
            for r in records:
                values = tuple(getattr(r, c) for c in AUDIT_COLUMNS)
                conn.execute(
                    f"INSERT INTO audit ({columns}) VALUES ({', '.join(['%s'] * 16)})", values
                )
    s = open_store(str(where))
    await s.open()
    try:
        assert await s.audit_head() == (3, records[-1].hash)
        assert (await s.verify_audit()).ok
        as_attacker(kind, where, *drop_audit_triggers(kind), "DELETE FROM audit WHERE id = 3")
        assert (await s.verify_audit()).problem.endswith("entry 3 was cut")
    finally:
        await s.close()


@pytest.mark.integration
async def test_postgresql_refuses_truncate_of_the_append_only_tables(healthy_stack):
    """TRUNCATE skips row triggers: each append-only table has a statement trigger too."""
    where = fresh_database(healthy_stack)
    s = open_store(where)
    await s.open()
    try:
        await s.append_audit(intent(1))
        for table in ("audit", "audit_head", "timeline"):
            with pytest.raises(psycopg.errors.RaiseException, match=r"append-only|moves forward"):
                as_attacker("postgres", where, f"TRUNCATE {table} CASCADE")
        assert (await s.verify_audit()).ok
    finally:
        await s.close()


async def test_the_sqlite_files_are_created_private_whatever_the_umask(tmp_path):
    folder = tmp_path / "state" / "oncall-console"
    path = folder / "oncall.sqlite3"
    old = os.umask(0o022)
    try:
        s = open_store(str(path))
        await s.open()
        await s.append_audit(intent(1))  # the -wal and -shm exist while it is open
        try:
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
            assert files == {
                "oncall.sqlite3": 0o600,
                "oncall.sqlite3-wal": 0o600,
                "oncall.sqlite3-shm": 0o600,
            }
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        finally:
            await s.close()
    finally:
        os.umask(old)
