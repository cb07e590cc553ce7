"""Durable state: SQLite by default, PostgreSQL for a team. See base.Store."""

from __future__ import annotations

import os
from pathlib import Path

from oncall_console.store.base import AuditRecord, ChainReport, StepProgress, Store
from oncall_console.store.faults import StoreCorrupt, StoreDenied, StoreError, StoreFull

__all__ = [
    "AuditRecord",
    "ChainReport",
    "StepProgress",
    "Store",
    "StoreCorrupt",
    "StoreDenied",
    "StoreError",
    "StoreFull",
    "default_sqlite_path",
    "open_store",
]


def default_sqlite_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "oncall-console" / "oncall.sqlite3"


def open_store(url: str, password: str | None = None) -> Store:
    """``sqlite:///abs/path``, ``sqlite://:memory:``, a bare path, or ``postgresql://…``."""
    if url.startswith(("postgresql://", "postgres://")):
        from oncall_console.store.postgres import PostgresStore

        return PostgresStore(url, password)
    from oncall_console.store.sqlite import SqliteStore

    if url.startswith("sqlite://"):
        url = url.removeprefix("sqlite://")
        url = url[1:] if url.startswith("/:memory:") else url
    return SqliteStore(url or ":memory:")
