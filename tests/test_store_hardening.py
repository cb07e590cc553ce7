"""Issue #16, what an adversarial review broke in the store, each reproduced against the
real stores (a SQLite file, the stack's real PostgreSQL) and now harmless:

8.  locks expired by each console's own clock (a console 95 s ahead took a held lock);
10. store faults (disk full, corrupt, read-only) said something else, and reading needed
    a store that could be written;
11. the audit chain could be cut at its end unseen, and the SQLite file was 0644.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from oncall_console.model import ActionRequest, Outcome
from oncall_console.store import (
    StepProgress,
    Store,
    StoreDenied,
    StoreError,
    StoreFull,
    open_store,
)
from oncall_console.store.base import AUDIT_COLUMNS
from tests.conftest import need
from tests.test_action_runner import Ops, runner

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


# --- 10. store faults say what they are; reading needs no writing ---------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oncall_console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ONCALL_DEBUG": ""},
    )


def store_config(tmp_path: Path, url: Any) -> str:
    conf = tmp_path / "oncall.toml"
    conf.write_text(f'[store]\nurl = "{url}"\n')
    return str(conf)


async def new_trail(path: Path, entries: int = 2) -> None:
    """A store at ``path`` with an intent and its result (and more intents), closed."""
    s = open_store(str(path))
    await s.open()
    first = await s.append_audit(intent(1))
    await s.append_audit(
        {**intent(2), "kind": "result", "intent_id": first.id, "outcome": "succeeded"}
    )
    for n in range(3, entries + 1):
        await s.append_audit(intent(n))
    await s.close()


class SmallDisk:
    """A 1 MiB tmpfs of the test's own, to be filled for real."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write until the file system refuses a single byte more."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65536, 4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    where = tmp_path / "disk"
    where.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        why = done.stderr.strip() or f"mount exited {done.returncode}"
        mounted = done.returncode == 0
    except OSError as exc:
        why, mounted = str(exc), False
    need(mounted, f"a real full disk needs a tmpfs of our own (mount, as root): {why}")
    try:
        yield SmallDisk(where)
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


async def test_a_full_file_says_the_disk_is_full_not_cannot_rollback(tmp_path):
    """Portable (no root): SQLite's max_page_count makes the file full. Every write says
    so in one line naming the file; the old code said "cannot rollback - no transaction
    is active", SQLite having rolled the transaction back itself."""
    path = tmp_path / "oncall.sqlite3"
    await new_trail(path)
    s = open_store(str(path))
    await s.open()
    try:
        pages = await s._call(lambda db: db.execute("PRAGMA page_count").fetchone()[0])
        await s._call(lambda db: db.execute(f"PRAGMA max_page_count = {pages}"))
        big = "x" * 20_000
        writes = {
            "append_audit": lambda: s.append_audit(intent(3, preview=big)),
            "acquire_lock": lambda: s.acquire_lock(big, big, 60, time.time()),
            "save_step": lambda: s.save_step(StepProgress("rb", big, big, True, "alex", 1.0)),
            "create_incident": lambda: s.create_incident(
                {"title": big, "severity": 2, "status": "investigating"}, "alex", 1.0
            ),
        }
        for name, write in writes.items():
            with pytest.raises(StoreFull) as caught:
                await write()
            said = str(caught.value)
            assert said.startswith(f"store {path}: the disk is full"), (name, said)
            assert "rollback" not in said and "\n" not in said
        # What was there is all there, and reads on.
        assert [r.id for r in await s.audit()] == [1, 2]
        assert (await s.verify_audit()).ok
    finally:
        await s.close()


@pytest.mark.integration
async def test_a_full_disk_mid_action_says_so_and_reading_goes_on(small_disk, tmp_path):
    path = small_disk.path / "oncall.sqlite3"
    s = open_store(str(path))
    await s.open()
    await s.append_audit(intent(1))
    small_disk.fill()
    try:
        # An action now: refused before it runs, and the reason is the disk.
        backend = Ops()
        r = runner(backend, s)
        result = await r.execute(
            await r.prepare(ActionRequest("ops", "restart", {"service": "api"})), "y"
        )
        assert result.outcome is Outcome.REFUSED and backend.ran == []
        assert f"store {path}: the disk is full" in result.message, result.message
        assert "rollback" not in result.message
        with pytest.raises(StoreFull, match="the disk is full"):
            await s.append_audit(intent(2))
        assert [r.id for r in await s.audit()] == [1] and (await s.verify_audit()).ok
    finally:
        await s.close()


@pytest.mark.integration
async def test_a_store_on_a_full_disk_opens_and_reads(small_disk, tmp_path):
    """Closed cleanly (its WAL and shared-memory files gone), then the disk fills: the old
    open could not even read (no room for the shared-memory file: "disk I/O error",
    exit 70). Now reading works and writing says why not, until there is room again."""
    path = small_disk.path / "oncall.sqlite3"
    await new_trail(path, entries=3)
    assert sorted(p.name for p in small_disk.path.iterdir()) == ["oncall.sqlite3"]
    small_disk.fill()
    conf = store_config(tmp_path, path)
    listed = cli("audit", "list", "--config", conf)
    assert listed.returncode == 0, listed.stderr
    assert "#1 " in listed.stdout and "pg.terminate-idle app: succeeded" in listed.stdout
    assert "#3 " in listed.stdout and "pg.terminate-idle app: outcome unknown" in listed.stdout
    verified = cli("audit", "verify", "--config", conf)
    assert verified.returncode == 0, verified.stderr
    assert "audit chain ok: 3 entries" in verified.stdout
    incidents = cli("incident", "list", "--config", conf)
    assert incidents.returncode == 0, incidents.stderr

    s = open_store(str(path))
    await s.open()
    try:
        assert isinstance(s.degraded, StoreFull)  # read alone, call by call
        assert len(await s.audit()) == 3 and await s.incidents() == []
        with pytest.raises(StoreFull, match=f"store {path}: the disk is full"):
            await s.append_audit(intent(4))
        small_disk.free()  # room again: the same store writes, no restart needed
        await s.append_audit(intent(4))
        assert s.degraded is None
        report = await s.verify_audit()
        assert report.ok and report.entries == 4
    finally:
        await s.close()


@pytest.mark.integration
async def test_a_read_only_file_system_is_read_and_named(small_disk, tmp_path):
    path = small_disk.path / "oncall.sqlite3"
    await new_trail(path, entries=3)
    small_disk.remount("ro")
    try:
        conf = store_config(tmp_path, path)
        listed = cli("audit", "list", "--config", conf)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count("pg.terminate-idle app:") == 2
        verified = cli("audit", "verify", "--config", conf)
        assert verified.returncode == 0, verified.stderr
        assert "audit chain ok: 3 entries" in verified.stdout
        s = open_store(str(path))
        await s.open()
        try:
            assert len(await s.audit()) == 3
            with pytest.raises(StoreDenied, match=f"store {path}: read-only file system"):
                await s.append_audit(intent(4))
        finally:
            await s.close()
    finally:
        small_disk.remount("rw")


def run_as_another_user(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a child that is not root (nobody), so that file modes apply; its
    result (or its exception, as 'Type: message') comes back as JSON. Unprivileged
    already: in this process."""
    if os.geteuid() != 0:
        try:
            return fn()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                out: Any = fn()
            except Exception as exc:
                out = f"{type(exc).__name__}: {exc}"
            os.write(write, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else "the child said nothing"


def test_a_store_this_user_may_read_but_not_write(tmp_path):
    """A store shared read-only (another user's file, 0644 in a folder we cannot write):
    the audit reads and verifies; a write names the file and says why it cannot."""
    folder = Path(tempfile.mkdtemp(prefix="oncall-shared-", dir="/tmp"))
    try:
        path = folder / "oncall.sqlite3"
        asyncio.run(new_trail(path, entries=3))
        path.chmod(0o644)
        folder.chmod(0o755 if os.geteuid() == 0 else 0o555)

        async def use() -> Any:
            s = open_store(str(path))
            try:
                await s.open()
                got: dict[str, Any] = {"entries": len(await s.audit())}
                got["verify"] = (await s.verify_audit()).ok
                got["incidents"] = await s.incidents()
                try:
                    await s.append_audit(intent(4))
                    got["write"] = "written?!"
                except StoreError as exc:
                    got["write"] = f"{type(exc).__name__}: {exc}"
                return got
            finally:
                await s.close()

        got = run_as_another_user(lambda: asyncio.run(use()))
        assert isinstance(got, dict), got
        assert got["entries"] == 3 and got["verify"] is True and got["incidents"] == []
        assert got["write"].startswith(f"StoreDenied: store {path}: permission denied"), got

        path.chmod(0o600)  # and one we may not even read: one line, naming it
        said = run_as_another_user(lambda: asyncio.run(use()))
        assert said == (
            f"StoreDenied: store {path}: permission denied (oncall.sqlite3)"
            " (unable to open database file)"
        )
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def corrupt(path: Path, how: str) -> None:
    """Damage a closed store: its header, or the pages of its audit table."""
    if how == "header":
        with path.open("r+b") as f:
            f.write(b"this is not a SQLite file at all" * 4)
        return
    db = sqlite3.connect(path)
    page = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'audit'").fetchone()[0]
    db.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page)
        f.write(bytes(range(256)) * (page // 256))


@pytest.mark.parametrize("how", ["header", "audit pages"])
async def test_a_corrupt_store_is_a_broken_chain_exit_2(tmp_path, how):
    path = tmp_path / "oncall.sqlite3"
    await new_trail(path, entries=3)
    corrupt(path, how)
    conf = store_config(tmp_path, path)
    verified = cli("audit", "verify", "--config", conf)
    assert verified.returncode == 2, verified.stderr
    said = verified.stderr.strip()
    assert said.startswith("audit chain BROKEN: the store is corrupt: ") and "\n" not in said
    assert str(path) in said
    listed = cli("audit", "list", "--config", conf)
    assert listed.returncode == 2
    said = listed.stderr.strip()
    assert said.startswith(f"error: store {path}: the file is corrupt") and "\n" not in said


@pytest.mark.integration
async def test_a_postgresql_role_that_may_only_read_reads(healthy_stack):
    dsn = fresh_database(healthy_stack)
    await new_trail_at(dsn)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    as_reader = dsn.replace("://postgres@", f"://{role}@")
    s = open_store(as_reader)
    await s.open()  # the old open took the migration lock and created tables: refused
    try:
        assert [r.id for r in await s.audit()] == [1, 2]
        assert (await s.verify_audit()).ok
        assert await s.incidents() == []
        with pytest.raises(StoreDenied) as caught:
            await s.append_audit(intent(3))
        host = healthy_stack.postgres.host_port
        said = str(caught.value)
        assert said.startswith(f"store postgresql://{host}/") and ": permission denied (" in said
        assert role not in said  # the database is named, not who connects
    finally:
        await s.close()


async def new_trail_at(dsn: str) -> None:
    s = open_store(dsn)
    await s.open()
    first = await s.append_audit(intent(1))
    await s.append_audit(
        {**intent(2), "kind": "result", "intent_id": first.id, "outcome": "succeeded"}
    )
    await s.close()
