"""The embedded store: one SQLite file in WAL mode, used from one dedicated thread.

sqlite3 blocks, so every call runs on a single worker thread: writes are
serialised there and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from oncall_console.store import incidents as inc
from oncall_console.store.base import (
    AUDIT_COLUMNS,
    AuditRecord,
    ChainReport,
    StepProgress,
    Store,
    chain_from,
    next_audit_record,
    progress_by_step,
)
from oncall_console.store.faults import (
    StoreCorrupt,
    StoreError,
    os_fault,
    sqlite_fault,
)
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.store.schema import LATEST, MIGRATIONS

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
        self.degraded: StoreError | None = None
        """Why the file could not be opened as usual (e.g. the disk is full: no room for
        its shared-memory file), so that it is read alone, call by call; None when not."""

    async def _call(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """``fn`` on the worker thread; a SQLite error becomes the StoreError it is."""

        def run() -> T:
            if self._db is None and self.degraded is None:
                raise RuntimeError("store is not open")
            try:
                if self.degraded is not None and not self._recover():
                    if write:
                        raise self.degraded
                    with self._alone() as db:
                        return fn(db)
                assert self._db is not None
                return fn(self._db)
            except sqlite3.Error as exc:
                raise sqlite_fault(self.path, exc, writing=write) from exc

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def open(self) -> None:
        """Open the file; update its schema only when it is behind (reading writes
        nothing). A file that cannot be opened as usual but can be read is read alone
        (``degraded``); one that cannot be read raises the StoreError it is."""
        await asyncio.get_running_loop().run_in_executor(self._pool, self._open)

    def _open(self) -> None:
        if self.path == ":memory:":
            self._db = self._connect()
            return
        try:
            create_private(Path(self.path))
        except OSError as exc:
            raise os_fault(self.path, exc) from None
        try:
            self._db = self._connect()
            return
        except sqlite3.Error as exc:
            fault = sqlite_fault(self.path, exc, writing=True)
            if isinstance(fault, StoreCorrupt):
                raise fault from exc
        try:  # e.g. no room for the shared-memory file: read it alone, without one
            with self._alone() as db:
                version = _version(db)
        except sqlite3.Error as exc:
            raise fault from exc
        if version < LATEST:
            raise StoreError(
                self.path,
                f"its schema is behind ({version} < {LATEST}) and it cannot be written",
                fault.what,
            )
        self.degraded = fault

    def _connect(self) -> sqlite3.Connection:
        """The shared connection: WAL, synchronous; migrated only when behind."""
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")  # an intent is on disk before the action runs
            db.execute("PRAGMA foreign_keys=ON")
            if _version(db) < LATEST:
                self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _recover(self) -> bool:
        """In degraded mode: open as usual again if that works now (room again)."""
        try:
            self._db = self._connect()
        except sqlite3.Error:
            return False
        self.degraded = None
        return True

    @contextlib.contextmanager
    def _alone(self) -> Iterator[sqlite3.Connection]:
        """A private connection for one call, that reads only and writes nothing: in
        exclusive locking mode SQLite keeps the WAL index in this process and needs no
        shared-memory file (a full disk has no room for one); failing that (a folder or
        file system we may not write), the file as it is, when no WAL holds anything
        beyond it. Either holds the file for this one call only."""
        db = self._read_alone()
        try:
            yield db
        finally:
            db.close()

    def _read_alone(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=2, isolation_level=None)
        try:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA query_only=ON")
            _version(db)  # the first read takes the lock: it fails here if it is to fail
            return db
        except sqlite3.Error:
            db.close()
            wal = Path(f"{self.path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise  # the newest entries are in the WAL: not read without its index
        from urllib.parse import quote

        uri = "file:" + quote(os.path.abspath(self.path)) + "?mode=ro&immutable=1"
        db = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
        try:
            _version(db)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")  # kept in the file: set once, when created
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
            rollback(db)
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
                rollback(db)
                raise
            return record

        return await self._call(append, write=True)

    async def verify_audit(self) -> ChainReport:
        """The file's own integrity first (a damaged page anywhere is a corrupt store),
        then the chain and its head."""

        def check(db: sqlite3.Connection) -> str:
            rows = db.execute("PRAGMA quick_check").fetchall()
            return "" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])

        try:
            damage = await self._call(check)
        except StoreCorrupt as exc:
            return ChainReport(False, 0, f"the store is corrupt: {exc}")
        if damage:
            return ChainReport(False, 0, f"the store is corrupt: store {self.path}: {damage}")
        return await super().verify_audit()

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
                    rollback(db)
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
                rollback(db)
                raise

        return await self._call(take, write=True)

    async def release_lock(self, key: str, holder: str) -> None:
        await self._call(
            lambda db: db.execute("DELETE FROM locks WHERE key = ? AND holder = ?", (key, holder)),
            write=True,
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

        await self._call(save, write=True)

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
            lambda db: inc.sqlite_create(db, values, operator, at, prefix, entries), write=True
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
            lambda db: inc.sqlite_update(db, incident_id, values, operator, at, kind, text, check),
            write=True,
        )

    async def add_timeline(self, entry: TimelineRecord) -> TimelineRecord | None:
        return await self._call(lambda db: inc.sqlite_add_timeline(db, entry), write=True)

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


def _version(db: sqlite3.Connection) -> int:
    """The file's schema version, by reading alone (0 for a new, empty file)."""
    if not db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone():
        return 0
    return int(db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)


def rollback(db: sqlite3.Connection) -> None:
    """Roll back what is left of a failed transaction, without hiding why it failed:
    SQLite has often rolled it back itself (a full disk), and ROLLBACK would then raise
    "cannot rollback - no transaction is active" in place of the disk's error."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
