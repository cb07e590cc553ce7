"""Issue #16, what an adversarial review broke in the store, each reproduced against the
real stores (a SQLite file, the stack's real PostgreSQL) and now harmless:

8.  locks expired by each console's own clock (a console 95 s ahead took a held lock);
10. store faults (disk full, corrupt, read-only) said something else, and reading needed
    a store that could be written;
11. the audit chain could be cut at its end unseen, and the SQLite file was 0644.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from oncall_console.store import Store, open_store

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
