"""Incidents and their timelines in the store: the records, and the SQL of both dialects.

An incident row changes (status, severity, commander…); its timeline only grows. Every
change to the row appends one timeline entry in the same transaction, so the timeline is
the history of the row. Ids (``INC-1001``, ``INC-1002``…) come from a counter row that
is incremented inside the creating transaction: two consoles never get the same id.

The SQL is written once with ``?`` placeholders; PostgreSQL gets ``%s`` (``pg()``).
Column names in dynamic statements come only from the constant lists below; values are
always bound parameters.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

ID_PREFIX = "INC"
FIRST_NUMBER = 1001
"""Migration 3 seeds the counter with 1000."""
RESOLVED = "resolved"

ONCE_PREFIXES = ("alert:", "audit:")
"""Timeline refs with these prefixes are unique per (incident, kind, ref): writing the
same one twice (two consoles, or one console polling twice) keeps the first."""


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r} in the store")
        self.incident_id = incident_id


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One incident as stored. Text fields are data typed by people or sent by sources."""

    id: str
    number: int
    title: str
    severity: int
    """1 (SEV1, the worst) to 4."""
    status: str
    """investigating, identified, monitoring or resolved."""
    commander: str
    opened_at: float
    resolved_at: float | None
    acknowledged_at: float | None
    runbook: str
    """Id of the runbook being walked for this incident, or ""."""
    group_key: str
    """Alerts whose group (or fingerprint) equals this attach to the incident."""
    impact: str
    """Who or what is hurt, in words for a status page."""
    affected: str
    """Which services or systems are affected."""
    updated_at: float
    """When the row or its timeline last changed (the latest time written)."""
    revision: int = 0
    """Counts every write to the row or its timeline: a cache compares it."""

    @property
    def is_open(self) -> bool:
        return self.status != RESOLVED


@dataclass(frozen=True, slots=True)
class TimelineRecord:
    """One timeline entry. ``id`` is assigned by the store (0 before it is written)."""

    incident_id: str
    at: float
    kind: str
    text: str
    operator: str = ""
    """Who did it; "" for entries written automatically (alerts)."""
    ref: str = ""
    """What it refers to: ``alert:FINGERPRINT#N``, ``audit:ID``, ``step:RUNBOOK/STEP``."""
    id: int = 0


INCIDENT_COLUMNS = tuple(f.name for f in fields(IncidentRecord))
TIMELINE_COLUMNS = tuple(f.name for f in fields(TimelineRecord))
CREATABLE = (
    "title",
    "severity",
    "status",
    "commander",
    "opened_at",
    "acknowledged_at",
    "runbook",
    "group_key",
    "impact",
    "affected",
)
UPDATABLE = (
    "status",
    "severity",
    "commander",
    "title",
    "impact",
    "affected",
    "runbook",
    "group_key",
    "acknowledged_at",
    "resolved_at",
)
"""In the order changes are described in the timeline."""
_SEVERITY_LABEL = {1: "SEV1", 2: "SEV2", 3: "SEV3", 4: "SEV4"}


# --- statements (``?`` placeholders) --------------------------------------------------------

SELECT_INCIDENT = "SELECT " + ", ".join(INCIDENT_COLUMNS) + " FROM incidents"
SELECT_TIMELINE = (
    "SELECT " + ", ".join(TIMELINE_COLUMNS) + " FROM timeline WHERE incident_id = ? ORDER BY at, id"
)
INSERT_INCIDENT = (
    "INSERT INTO incidents ("
    + ", ".join(INCIDENT_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * len(INCIDENT_COLUMNS))
    + ")"
)
_TL_INSERT_COLUMNS = TIMELINE_COLUMNS[:-1]  # all but id
INSERT_TIMELINE = (
    "INSERT INTO timeline ("
    + ", ".join(_TL_INSERT_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * len(_TL_INSERT_COLUMNS))
    + ") ON CONFLICT DO NOTHING"
)
TOUCH = (
    "UPDATE incidents SET revision = revision + 1,"
    " updated_at = CASE WHEN updated_at < ? THEN ? ELSE updated_at END WHERE id = ?"
)
NEXT_NUMBER = "UPDATE incident_counter SET value = value + 1 WHERE name = 'incident'"
FOR_GROUP = (
    SELECT_INCIDENT + " WHERE group_key = ? AND status <> 'resolved'"
    " ORDER BY opened_at DESC, number DESC LIMIT 1"
)


def pg(sql: str) -> str:
    """The PostgreSQL spelling of a ``?`` statement (none of ours contains ``%``)."""
    return sql.replace("?", "%s")


def select_incidents(open_only: bool, since: float | None) -> tuple[str, tuple[Any, ...]]:
    where, args = [], []
    if open_only:
        where.append("status <> 'resolved'")
    if since is not None:
        where.append("updated_at >= ?")
        args.append(since)
    sql = SELECT_INCIDENT + (" WHERE " + " AND ".join(where) if where else "")
    return sql + " ORDER BY opened_at DESC, number DESC", tuple(args)


# --- pure helpers shared by both dialects ---------------------------------------------------


def incident_id(number: int, prefix: str = ID_PREFIX) -> str:
    return f"{prefix}-{number}"


def new_row(number: int, values: Mapping[str, Any], at: float, prefix: str) -> dict[str, Any]:
    unknown = set(values) - set(CREATABLE)
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))} on a new incident")
    if not str(values.get("title", "")).strip():
        raise ValueError("an incident needs a title")
    row: dict[str, Any] = {
        "id": incident_id(number, prefix),
        "number": number,
        "title": "",
        "severity": 3,
        "status": "investigating",
        "commander": "",
        "opened_at": at,
        "resolved_at": None,
        "acknowledged_at": None,
        "runbook": "",
        "group_key": "",
        "impact": "",
        "affected": "",
        "updated_at": at,
        "revision": 0,
    }
    row.update(values)
    row["severity"] = int(row["severity"])
    if row["severity"] not in _SEVERITY_LABEL:
        raise ValueError(f"severity must be 1-4 (SEV1-SEV4), not {row['severity']!r}")
    return row


def declared_text(row: Mapping[str, Any]) -> str:
    parts = [f"declared {_SEVERITY_LABEL[row['severity']]}: {row['title']}"]
    if row.get("commander"):
        parts.append(f"commander {row['commander']}")
    return "; ".join(parts)


def _show(column: str, value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if column == "severity":
        return _SEVERITY_LABEL.get(int(value), str(value))
    return str(value)


def plan_update(
    current: IncidentRecord, values: Mapping[str, Any], kind: str = "", text: str = ""
) -> tuple[dict[str, Any], str, str] | None:
    """(the columns that change, timeline kind, timeline text), or None if nothing changes."""
    unknown = set(values) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))} of an incident")
    if "severity" in values:
        values = {**values, "severity": int(values["severity"])}
        if values["severity"] not in _SEVERITY_LABEL:
            raise ValueError(f"severity must be 1-4 (SEV1-SEV4), not {values['severity']!r}")
    changes = {c: values[c] for c in UPDATABLE if c in values and getattr(current, c) != values[c]}
    if not changes:
        return None
    described = [
        f"{c.replace('_', ' ')} {_show(c, getattr(current, c))} → {_show(c, v)}"
        for c, v in changes.items()
        if c not in ("acknowledged_at", "resolved_at")
    ]
    if not kind:
        kind = next(
            (k for k in ("status", "severity", "commander") if k in changes),
            "acknowledged" if "acknowledged_at" in changes else "update",
        )
    return changes, kind, text or "; ".join(described) or kind


def set_clause(changes: Mapping[str, Any]) -> str:
    """``a = ?, b = ?, updated_at = ?`` from allow-listed column names only."""
    assert set(changes) <= set(UPDATABLE)
    return ", ".join([*(f"{c} = ?" for c in changes), "updated_at = ?"])


def is_once(ref: str) -> bool:
    return ref.startswith(ONCE_PREFIXES)


def new_incident(
    number: int,
    values: Mapping[str, Any],
    operator: str,
    at: float,
    prefix: str,
    entries: Sequence[TimelineRecord],
) -> tuple[dict[str, Any], list[TimelineRecord]]:
    """A new incident's row, and the timeline it starts with: its "declared" entry, then
    ``entries`` (moved to the new id)."""
    row = new_row(number, values, at, prefix)
    declared = TimelineRecord(row["id"], at, "declared", declared_text(row), operator)
    return row, [declared, *(replace(e, incident_id=row["id"]) for e in entries)]


def planned_update(
    current: IncidentRecord,
    incident: str,
    values: Mapping[str, Any],
    operator: str,
    at: float,
    kind: str,
    text: str,
    check: Callable[[IncidentRecord], None] | None,
) -> tuple[str, tuple[Any, ...], TimelineRecord] | None:
    """``check`` the row read inside the transaction (it may raise to refuse), then the
    UPDATE (``?`` placeholders), its arguments and the timeline entry that tells it; None
    when nothing changes."""
    if check is not None:
        check(current)
    plan = plan_update(current, values, kind, text)
    if plan is None:
        return None
    changes, k, t = plan
    sql = "UPDATE incidents SET " + set_clause(changes) + " WHERE id = ?"
    return sql, (*changes.values(), at, incident), TimelineRecord(incident, at, k, t, operator)


# --- SQLite (called on the store's worker thread) ------------------------------------------


def _sqlite_tx(db: sqlite3.Connection, fn: Callable[[], Any]) -> Any:
    db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes too
    try:
        out = fn()
        db.execute("COMMIT")
        return out
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back itself (a full disk): keep its error
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise


def _sqlite_one(db: sqlite3.Connection, incident: str) -> IncidentRecord | None:
    row = db.execute(SELECT_INCIDENT + " WHERE id = ?", (incident,)).fetchone()
    return IncidentRecord(*row) if row else None


def _sqlite_append(db: sqlite3.Connection, e: TimelineRecord) -> TimelineRecord | None:
    cur = db.execute(INSERT_TIMELINE, tuple(getattr(e, c) for c in _TL_INSERT_COLUMNS))
    if cur.rowcount != 1:
        return None
    db.execute(TOUCH, (e.at, e.at, e.incident_id))
    return TimelineRecord(
        e.incident_id, e.at, e.kind, e.text, e.operator, e.ref, cur.lastrowid or 0
    )


def sqlite_create(
    db: sqlite3.Connection,
    values: Mapping[str, Any],
    operator: str,
    at: float,
    prefix: str,
    entries: Sequence[TimelineRecord] = (),
) -> IncidentRecord:
    def create() -> IncidentRecord:
        db.execute(NEXT_NUMBER)
        number = db.execute("SELECT value FROM incident_counter WHERE name = 'incident'")
        row, timeline = new_incident(
            int(number.fetchone()[0]), values, operator, at, prefix, entries
        )
        db.execute(INSERT_INCIDENT, tuple(row[c] for c in INCIDENT_COLUMNS))
        for e in timeline:
            _sqlite_append(db, e)
        created = _sqlite_one(db, row["id"])
        assert created is not None
        return created

    result: IncidentRecord = _sqlite_tx(db, create)
    return result


def sqlite_update(
    db: sqlite3.Connection,
    incident: str,
    values: Mapping[str, Any],
    operator: str,
    at: float,
    kind: str,
    text: str,
    check: Callable[[IncidentRecord], None] | None,
) -> IncidentRecord:
    def update() -> IncidentRecord:
        current = _sqlite_one(db, incident)
        if current is None:
            raise IncidentNotFound(incident)
        planned = planned_update(current, incident, values, operator, at, kind, text, check)
        if planned is None:
            return current
        sql, args, entry = planned
        db.execute(sql, args)
        _sqlite_append(db, entry)
        updated = _sqlite_one(db, incident)
        assert updated is not None
        return updated

    result: IncidentRecord = _sqlite_tx(db, update)
    return result


def sqlite_add_timeline(db: sqlite3.Connection, entry: TimelineRecord) -> TimelineRecord | None:
    def add() -> TimelineRecord | None:
        if _sqlite_one(db, entry.incident_id) is None:
            raise IncidentNotFound(entry.incident_id)
        return _sqlite_append(db, entry)

    result: TimelineRecord | None = _sqlite_tx(db, add)
    return result


def sqlite_incidents(
    db: sqlite3.Connection, open_only: bool, since: float | None
) -> list[IncidentRecord]:
    sql, args = select_incidents(open_only, since)
    return [IncidentRecord(*r) for r in db.execute(sql, args).fetchall()]


def sqlite_incident(db: sqlite3.Connection, incident: str) -> IncidentRecord | None:
    return _sqlite_one(db, incident)


def sqlite_timeline(db: sqlite3.Connection, incident: str) -> list[TimelineRecord]:
    rows = db.execute(SELECT_TIMELINE, (incident,)).fetchall()
    return [TimelineRecord(*r) for r in rows]


def sqlite_for_group(db: sqlite3.Connection, group_key: str) -> IncidentRecord | None:
    if not group_key:
        return None
    row = db.execute(FOR_GROUP, (group_key,)).fetchone()
    return IncidentRecord(*row) if row else None


# --- PostgreSQL (an autocommit connection; the caller holds the store's lock) --------------


async def _pg_one(
    conn: psycopg.AsyncConnection[Any], incident: str, lock: bool = False
) -> IncidentRecord | None:
    sql = SELECT_INCIDENT + " WHERE id = ?" + (" FOR UPDATE" if lock else "")
    cur = await conn.execute(pg(sql), (incident,))
    row = await cur.fetchone()
    return IncidentRecord(*row) if row else None


async def _pg_append(
    conn: psycopg.AsyncConnection[Any], e: TimelineRecord
) -> TimelineRecord | None:
    cur = await conn.execute(
        pg(INSERT_TIMELINE) + " RETURNING id", tuple(getattr(e, c) for c in _TL_INSERT_COLUMNS)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await conn.execute(pg(TOUCH), (e.at, e.at, e.incident_id))
    return TimelineRecord(e.incident_id, e.at, e.kind, e.text, e.operator, e.ref, int(row[0]))


async def pg_create(
    conn: psycopg.AsyncConnection[Any],
    values: Mapping[str, Any],
    operator: str,
    at: float,
    prefix: str,
    entries: Sequence[TimelineRecord] = (),
) -> IncidentRecord:
    async with conn.transaction():
        # the counter row's lock makes the number atomic across consoles
        cur = await conn.execute(NEXT_NUMBER + " RETURNING value")
        got = await cur.fetchone()
        assert got is not None, "migration 3 seeds the incident counter"
        row, timeline = new_incident(int(got[0]), values, operator, at, prefix, entries)
        await conn.execute(pg(INSERT_INCIDENT), tuple(row[c] for c in INCIDENT_COLUMNS))
        for e in timeline:
            await _pg_append(conn, e)
        created = await _pg_one(conn, row["id"])
    assert created is not None
    return created


async def pg_update(
    conn: psycopg.AsyncConnection[Any],
    incident: str,
    values: Mapping[str, Any],
    operator: str,
    at: float,
    kind: str,
    text: str,
    check: Callable[[IncidentRecord], None] | None,
) -> IncidentRecord:
    async with conn.transaction():
        current = await _pg_one(conn, incident, lock=True)
        if current is None:
            raise IncidentNotFound(incident)
        planned = planned_update(current, incident, values, operator, at, kind, text, check)
        if planned is None:
            return current
        sql, args, entry = planned
        await conn.execute(pg(sql), args)
        await _pg_append(conn, entry)
        updated = await _pg_one(conn, incident)
    assert updated is not None
    return updated


async def pg_add_timeline(
    conn: psycopg.AsyncConnection[Any], entry: TimelineRecord
) -> TimelineRecord | None:
    async with conn.transaction():
        if await _pg_one(conn, entry.incident_id) is None:
            raise IncidentNotFound(entry.incident_id)
        return await _pg_append(conn, entry)


async def pg_incidents(
    conn: psycopg.AsyncConnection[Any], open_only: bool, since: float | None
) -> list[IncidentRecord]:
    sql, args = select_incidents(open_only, since)
    cur = await conn.execute(pg(sql), args)
    return [IncidentRecord(*r) for r in await cur.fetchall()]


async def pg_incident(conn: psycopg.AsyncConnection[Any], incident: str) -> IncidentRecord | None:
    return await _pg_one(conn, incident)


async def pg_timeline(conn: psycopg.AsyncConnection[Any], incident: str) -> list[TimelineRecord]:
    cur = await conn.execute(pg(SELECT_TIMELINE), (incident,))
    return [TimelineRecord(*r) for r in await cur.fetchall()]


async def pg_for_group(conn: psycopg.AsyncConnection[Any], group_key: str) -> IncidentRecord | None:
    if not group_key:
        return None
    cur = await conn.execute(pg(FOR_GROUP), (group_key,))
    row = await cur.fetchone()
    return IncidentRecord(*row) if row else None
