"""The embedded store: one SQLite file in WAL mode, used from one dedicated thread.

sqlite3 blocks, so every call runs on a single worker thread: writes are
serialised there and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.store.schema import MIGRATIONS

T = TypeVar("T")
COLUMNS = AUDIT_COLUMNS
# Built once from constant column names; values are always bound parameters.
INSERT_AUDIT = (
    "INSERT INTO audit (" + ", ".join(COLUMNS) + ") VALUES (" + ", ".join("?" * len(COLUMNS)) + ")"
)
SELECT_AUDIT = "SELECT " + ", ".join(COLUMNS) + " FROM audit WHERE at >= ? ORDER BY id"
SELECT_HEAD = "SELECT entries, hash FROM audit_head WHERE one = 1"
MOVE_HEAD = "UPDATE audit_head SET entries = ?, hash = ? WHERE one = 1"
STORE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
"""The store's clock in Unix seconds, read by SQLite itself (locks expire by it)."""


class SqliteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="oncall-sqlite")
        self._db: sqlite3.Connection | None = None
        self._closed = False

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._db is None:
                raise RuntimeError("store is not open")
            return fn(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def open(self) -> None:
        def connect() -> None:
            if self.path != ":memory:":
                create_private(Path(self.path))
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # an intent is on disk before the action runs
            db.execute("PRAGMA foreign_keys=ON")
            self._db = db
            self._migrate(db)

        await asyncio.get_running_loop().run_in_executor(self._pool, connect)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, statements, _ in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        """Close the file; safe to call twice."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=True)

    async def schema_version(self) -> int:
        return await self._call(
            lambda db: db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        )

    async def append_audit(self, values: dict[str, Any]) -> AuditRecord:
        def append(db: sqlite3.Connection) -> AuditRecord:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes too
            try:
                head = db.execute(SELECT_HEAD).fetchone()
                last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
                record = next_audit_record(values, chain_from(head, last))
                db.execute(INSERT_AUDIT, tuple(getattr(record, c) for c in COLUMNS))
                db.execute(MOVE_HEAD, (record.id, record.hash))  # a missing head stays missing
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return record

        return await self._call(append)

    async def audit_head(self) -> tuple[int, str] | None:
        def read(db: sqlite3.Connection) -> tuple[int, str] | None:
            row = db.execute(SELECT_HEAD).fetchone()
            return (int(row[0]), str(row[1])) if row else None

        return await self._call(read)

    async def audit(self, since: float | None = None) -> list[AuditRecord]:
        def read(db: sqlite3.Connection) -> list[AuditRecord]:
            rows = db.execute(
                SELECT_AUDIT, (since if since is not None else float("-inf"),)
            ).fetchall()
            return [AuditRecord(*r) for r in rows]

        return await self._call(read)

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None:
        """Expiry is judged by the store's clock (SQLite's, on the one machine the file
        lives on), never by ``now``: a console whose clock is ahead cannot take a lock
        another still holds, nor one whose clock is behind write a lock born expired."""

        def take(db: sqlite3.Connection) -> str | None:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    f"SELECT holder, expires_at > {STORE_NOW} FROM locks WHERE key = ?", (key,)
                ).fetchone()
                if row and row[1] and row[0] != holder:
                    db.execute("ROLLBACK")
                    return str(row[0])
                db.execute(
                    "INSERT INTO locks (key, holder, expires_at)"
                    f" VALUES (?, ?, {STORE_NOW} + ?) ON CONFLICT (key)"
                    " DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                    (key, holder, float(ttl)),
                )
                db.execute("COMMIT")
                return None
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._call(take)

    async def release_lock(self, key: str, holder: str) -> None:
        await self._call(
            lambda db: db.execute("DELETE FROM locks WHERE key = ? AND holder = ?", (key, holder))
        )

    async def save_step(self, progress: StepProgress) -> None:
        p = progress

        def save(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO runbook_progress (runbook, scope, step, done, operator, at, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (runbook, scope, step) DO UPDATE SET"
                " done = excluded.done, operator = excluded.operator, at = excluded.at,"
                " note = excluded.note",
                (p.runbook, p.scope, p.step, int(p.done), p.operator, p.at, p.note),
            )

        await self._call(save)

    async def steps(self, runbook: str, scope: str) -> dict[str, StepProgress]:
        def read(db: sqlite3.Connection) -> dict[str, StepProgress]:
            rows = db.execute(
                "SELECT runbook, scope, step, done, operator, at, note FROM runbook_progress"
                " WHERE runbook = ? AND scope = ?",
                (runbook, scope),
            ).fetchall()
            return progress_by_step(rows)

        return await self._call(read)

    # --- incidents (migration 3; SQL in store/incidents.py) ---------------------------------

    async def create_incident(
        self,
        values: dict[str, Any],
        operator: str,
        at: float,
        prefix: str = "INC",
        entries: Sequence[TimelineRecord] = (),
    ) -> IncidentRecord:
        return await self._call(
            lambda db: inc.sqlite_create(db, values, operator, at, prefix, entries)
        )

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
        return await self._call(
            lambda db: inc.sqlite_update(db, incident_id, values, operator, at, kind, text, check)
        )

    async def add_timeline(self, entry: TimelineRecord) -> TimelineRecord | None:
        return await self._call(lambda db: inc.sqlite_add_timeline(db, entry))

    async def incidents(
        self, open_only: bool = False, since: float | None = None
    ) -> list[IncidentRecord]:
        return await self._call(lambda db: inc.sqlite_incidents(db, open_only, since))

    async def incident(self, incident_id: str) -> IncidentRecord | None:
        return await self._call(lambda db: inc.sqlite_incident(db, incident_id))

    async def timeline(self, incident_id: str) -> list[TimelineRecord]:
        return await self._call(lambda db: inc.sqlite_timeline(db, incident_id))

    async def incident_for_group(self, group_key: str) -> IncidentRecord | None:
        return await self._call(lambda db: inc.sqlite_for_group(db, group_key))


def create_private(path: Path) -> None:
    """Create the store's file 0600 (its folder 0700) when it does not exist yet, whatever
    the umask: the trail names operators, targets and what they ran. SQLite gives the
    -wal and -shm files the mode of the database file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return  # an existing store keeps the mode it has
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
