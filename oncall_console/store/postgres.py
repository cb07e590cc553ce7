"""The shared store: PostgreSQL, so a team's consoles see one audit trail and one
set of runbook progress. Appends serialise on a transaction-level advisory lock."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import psycopg.conninfo

from oncall_console.store import incidents as inc
from oncall_console.store.base import (
    AUDIT_COLUMNS,
    AuditRecord,
    StepProgress,
    Store,
    chain_from,
    next_audit_record,
    progress_by_step,
)
from oncall_console.store.faults import StoreCorrupt, StoreDenied, StoreError, StoreFull
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.store.schema import LATEST, MIGRATIONS
from oncall_console.tasks import within

COLUMNS = AUDIT_COLUMNS
INSERT_AUDIT = (
    "INSERT INTO audit ("
    + ", ".join(COLUMNS)
    + ") VALUES ("
    + ", ".join(["%s"] * len(COLUMNS))
    + ")"
)
SELECT_AUDIT = "SELECT " + ", ".join(COLUMNS) + " FROM audit WHERE at >= %s ORDER BY id"
SELECT_HEAD = "SELECT entries, hash FROM audit_head WHERE one = 1"
MOVE_HEAD = "UPDATE audit_head SET entries = %s, hash = %s WHERE one = 1"
LOCK_KEY = 0x0C0A11  # one advisory lock for the audit chain and for migrations
STORE_NOW = "extract(epoch from clock_timestamp())::float8"
"""The server's clock in Unix seconds (locks expire by it, not by a console's clock)."""


class PostgresStore(Store):
    def __init__(self, dsn: str, password: str | None = None, connect_timeout: float = 5) -> None:
        self.dsn = dsn
        self.password = password
        self.connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()  # one connection: one statement at a time
        self.call_timeout = max(10.0, connect_timeout * 2)
        """No store call waits longer: a hung (e.g. SIGSTOPped) server fails it instead."""
        self.where = where(dsn)
        """The database, as faults name it: no user, no password."""

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            kwargs: dict[str, Any] = {"connect_timeout": int(max(1, self.connect_timeout))}
            if self.password:
                kwargs["password"] = self.password
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, application_name="oncall-console store", **kwargs
            )
        return self._conn

    async def open(self) -> None:
        """Connect; migrate only when the schema is behind. A current store is opened
        without writing, so a role that may only read (or a read-only standby) reads."""
        async with self._lock:
            conn = await self._connection()
            if await _version(conn) >= LATEST:
                return
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
                cur = await conn.execute("SELECT max(version) FROM schema_version")
                row = await cur.fetchone()
                current = (row[0] if row else None) or 0
                for version, _, statements in MIGRATIONS:
                    if version > current:
                        for statement in statements:
                            await conn.execute(statement)
                        await conn.execute(
                            "INSERT INTO schema_version (version) VALUES (%s)", (version,)
                        )

    async def close(self) -> None:
        """Close; a hung server (or a statement stuck on it) cannot hold this up."""
        try:
            await within(self._lock.acquire(), self.call_timeout)
        except TimeoutError:
            await self._drop()
            return
        try:
            await self._drop()
        finally:
            self._lock.release()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await within(conn.close(), 2)

    async def schema_version(self) -> int:
        async with self._lock:
            conn = await self._connection()
            cur = await conn.execute("SELECT max(version) FROM schema_version")
            row = await cur.fetchone()
            return int(row[0]) if row and row[0] is not None else 0

    async def append_audit(self, values: dict[str, Any]) -> AuditRecord:
        async with self._lock:
            conn = await self._connection()
            async with conn.transaction():
                # Consoles on other machines append too: the lock makes id + chain atomic.
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                cur = await conn.execute(SELECT_HEAD)
                head = await cur.fetchone()
                cur = await conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                last = await cur.fetchone()
                record = next_audit_record(values, chain_from(head, last))
                await conn.execute(INSERT_AUDIT, tuple(getattr(record, c) for c in COLUMNS))
                await conn.execute(MOVE_HEAD, (record.id, record.hash))  # missing stays missing
            return record

    async def audit_head(self) -> tuple[int, str] | None:
        async with self._lock:
            conn = await self._connection()
            cur = await conn.execute(SELECT_HEAD)
            row = await cur.fetchone()
            return (int(row[0]), str(row[1])) if row else None

    async def audit(self, since: float | None = None) -> list[AuditRecord]:
        async with self._lock:
            conn = await self._connection()
            cur = await conn.execute(SELECT_AUDIT, (since if since is not None else float("-inf"),))
            return [AuditRecord(*r) for r in await cur.fetchall()]

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None:
        async with self._lock:
            conn = await self._connection()
            # Expiry by the server's clock, never the console's ``now`` (see Store).
            cur = await conn.execute(
                "INSERT INTO locks (key, holder, expires_at)"
                f" VALUES (%s, %s, {STORE_NOW} + %s::float8) ON CONFLICT (key)"
                " DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                f" WHERE locks.expires_at <= {STORE_NOW} OR locks.holder = excluded.holder"
                " RETURNING holder",
                (key, holder, float(ttl)),
            )
            if await cur.fetchone():
                return None
            cur = await conn.execute("SELECT holder FROM locks WHERE key = %s", (key,))
            row = await cur.fetchone()
            return str(row[0]) if row else "someone"

    async def release_lock(self, key: str, holder: str) -> None:
        async with self._lock:
            conn = await self._connection()
            await conn.execute("DELETE FROM locks WHERE key = %s AND holder = %s", (key, holder))

    async def save_step(self, progress: StepProgress) -> None:
        p = progress
        async with self._lock:
            conn = await self._connection()
            await conn.execute(
                "INSERT INTO runbook_progress (runbook, scope, step, done, operator, at, note)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (runbook, scope, step) DO UPDATE"
                " SET done = excluded.done, operator = excluded.operator, at = excluded.at,"
                " note = excluded.note",
                (p.runbook, p.scope, p.step, p.done, p.operator, p.at, p.note),
            )

    async def steps(self, runbook: str, scope: str) -> dict[str, StepProgress]:
        async with self._lock:
            conn = await self._connection()
            cur = await conn.execute(
                "SELECT runbook, scope, step, done, operator, at, note FROM runbook_progress"
                " WHERE runbook = %s AND scope = %s",
                (runbook, scope),
            )
            return progress_by_step(await cur.fetchall())

    # --- incidents (migration 3; SQL in store/incidents.py) ---------------------------------

    async def create_incident(
        self,
        values: dict[str, Any],
        operator: str,
        at: float,
        prefix: str = "INC",
        entries: Sequence[TimelineRecord] = (),
    ) -> IncidentRecord:
        async with self._lock:
            conn = await self._connection()
            return await inc.pg_create(conn, values, operator, at, prefix, entries)

    async def update_incident(
        self,
        incident_id: str,
        values: dict[str, Any],
        operator: str,
        at: float,
        *,
        kind: str = "",
        text: str = "",
        check: Callable[[IncidentRecord], None] | None = None,
    ) -> IncidentRecord:
        async with self._lock:
            conn = await self._connection()
            return await inc.pg_update(conn, incident_id, values, operator, at, kind, text, check)

    async def add_timeline(self, entry: TimelineRecord) -> TimelineRecord | None:
        async with self._lock:
            return await inc.pg_add_timeline(await self._connection(), entry)

    async def incidents(
        self, open_only: bool = False, since: float | None = None
    ) -> list[IncidentRecord]:
        async with self._lock:
            return await inc.pg_incidents(await self._connection(), open_only, since)

    async def incident(self, incident_id: str) -> IncidentRecord | None:
        async with self._lock:
            return await inc.pg_incident(await self._connection(), incident_id)

    async def timeline(self, incident_id: str) -> list[TimelineRecord]:
        async with self._lock:
            return await inc.pg_timeline(await self._connection(), incident_id)

    async def incident_for_group(self, group_key: str) -> IncidentRecord | None:
        async with self._lock:
            return await inc.pg_for_group(await self._connection(), group_key)


async def _version(conn: psycopg.AsyncConnection[Any]) -> int:
    """The schema's version, by reading alone (0 for a new database)."""
    cur = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    row = await cur.fetchone()
    if not (row and row[0]):
        return 0
    cur = await conn.execute("SELECT max(version) FROM schema_version")
    row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def where(dsn: str) -> str:
    """``postgresql://host:port/dbname`` of a DSN, without its user or password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except Exception:
        return "postgresql"
    host, port = str(info.get("host") or "localhost"), str(info.get("port") or "")
    return f"postgresql://{host}{':' + port if port else ''}/{info.get('dbname') or ''}"


# SQLSTATEs that are faults of the store itself (others: the caller's error, or the
# connection's, which errors.describe already words well).
_FAULTS: dict[str, tuple[type[StoreError], str]] = {
    "53100": (StoreFull, "the database server's disk is full"),
    "42501": (StoreDenied, "permission denied"),
    "25006": (StoreDenied, "the database is read-only"),
    "XX001": (StoreCorrupt, "the database is corrupt"),
    "XX002": (StoreCorrupt, "an index is corrupt"),
    "58030": (StoreError, "disk I/O error on the database server"),
}


def pg_fault(where: str, exc: psycopg.Error) -> StoreError | None:
    found = _FAULTS.get(exc.sqlstate or "")
    if found is None:
        return None
    said = exc.diag.message_primary or str(exc)
    return found[0](where, found[1], said.splitlines()[0] if said else "")


def _bounded(method: Any) -> Any:
    """At most ``call_timeout``. Not ``asyncio.wait_for``: a cancelled psycopg call asks the
    server to cancel the query and waits for it, and a hung server never answers (wait_for
    waited with it). On timeout the socket is closed first, so the call ends at once."""

    @functools.wraps(method)
    async def call(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        task = asyncio.ensure_future(method(self, *args, **kwargs))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.call_timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done:
            try:
                return task.result()
            except psycopg.Error as exc:
                fault = pg_fault(self.where, exc)
                if fault is None:
                    raise
                raise fault from exc
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()  # nothing left to cancel on the server: psycopg gives up
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        if task.done() and not task.cancelled():
            task.exception()  # the broken connection's error: expected, and retrieved here
        await self._drop()  # the next call reconnects
        raise TimeoutError(f"the PostgreSQL store did not answer in {self.call_timeout:g} s")

    return call


# Every public call is bounded in time; a timed-out connection is dropped and reopened.
for _name, _method in list(vars(PostgresStore).items()):
    if not _name.startswith("_") and _name != "close" and asyncio.iscoroutinefunction(_method):
        setattr(PostgresStore, _name, _bounded(_method))
