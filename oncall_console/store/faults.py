"""Store faults say what they are: one line that names the store and the fault.

``store /var/lib/oncall/oncall.sqlite3: the disk is full (database or disk is full)``
rather than what a half-failed transaction said last ("cannot rollback - no transaction
is active") or a generic error. A full disk, a corrupt file, a file or a database the
console may not write, each is its own class, so that callers can say more: ``audit
verify`` calls a corrupt store a broken chain; reading goes on where writing cannot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3


class StoreError(Exception):
    """A fault of the store itself. ``str()`` is one line: the store, the fault, and the
    database's own words in brackets."""

    kind = "fault"

    def __init__(self, where: str, what: str, detail: str = "") -> None:
        self.where, self.what, self.detail = where, what, detail
        line = f"store {where}: {what}"
        if detail and detail.lower() not in what.lower():
            line += f" ({detail})"
        super().__init__(" ".join(line.split()))


class StoreFull(StoreError):
    """No room left: the disk (or the database server's disk) is full."""

    kind = "full"


class StoreCorrupt(StoreError):
    """The file is damaged or is not a store: nothing in it can be vouched for."""

    kind = "corrupt"


class StoreDenied(StoreError):
    """The console may not write (or read) it: permissions, a read-only file system or
    database, a role without the grant."""

    kind = "denied"


def sqlite_fault(path: str, exc: sqlite3.Error, *, writing: bool = False) -> StoreError:
    """The fault behind a SQLite error on the file at ``path``. SQLite's codes name most;
    for an I/O error (e.g. no room to size the shared-memory file) the file system is
    asked whether it is full or read-only."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    said = str(exc)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StoreCorrupt(path, "the file is corrupt or not a store", said)
    if name.startswith("SQLITE_FULL"):
        return StoreFull(path, "the disk is full", said)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(path, "busy: another process holds its lock", said)
    if name.startswith(("SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        found = _file_system(path, writing or name.startswith("SQLITE_READONLY"))
        if found is not None:
            return found[0](path, found[1], said)
        if name.startswith("SQLITE_READONLY"):
            return StoreDenied(path, "cannot be written", said)
        if name.startswith("SQLITE_CANTOPEN"):
            return StoreError(path, "cannot be opened", said)
        return StoreError(path, "disk I/O error", f"{said}, {name}")
    return StoreError(path, said or name or type(exc).__name__)


def os_fault(path: str, exc: OSError) -> StoreError:
    """The fault behind an OS error while preparing the file (its folder, its creation)."""
    where = exc.filename or path
    why = exc.strerror or str(exc)
    if exc.errno in (28, 122):  # ENOSPC, EDQUOT
        return StoreFull(path, "the disk is full", f"{where}: {why}")
    if exc.errno in (1, 13, 30):  # EPERM, EACCES, EROFS
        return StoreDenied(path, "cannot be created", f"{where}: {why}")
    return StoreError(path, "cannot be created", f"{where}: {why}")


def _file_system(path: str, writing: bool) -> tuple[type[StoreError], str] | None:
    """What the file system says about ``path``: full, read-only, or not ours to use."""
    file = Path(path)
    folder = file.parent
    try:
        fs = os.statvfs(folder)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return StoreDenied, "read-only file system"
    if fs.f_bavail * fs.f_frsize < 64 * 1024:
        return StoreFull, "the disk is full"
    for f in (file, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.exists() and not os.access(f, os.R_OK | (os.W_OK if writing else 0)):
            return StoreDenied, f"permission denied ({f.name})"
    if not file.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return StoreDenied, f"permission denied (cannot create it in {folder})"
    return None
