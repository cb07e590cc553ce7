"""What one ``postgres`` probe reads (one SELECT over the statistics views) and how it is judged.

Status is the worst of: the share of ``max_connections`` in use (client backends,
our own included: every one of them holds a slot), any long-running session
(DEGRADED) and, on a replica, the replay lag. :func:`judge` is pure: no IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oncall_console.durations import format_age
from oncall_console.model import DetailTable, Status
from oncall_console.text import clean

if TYPE_CHECKING:
    from oncall_console.backends.postgres.options import PostgresCheckParams

STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")
LONG_ROWS = 50  # rows of the long-running table; the count covers them all

# One statement over the statistics views; both parameters are bound.
PROBE_SQL = """
WITH act AS (
    SELECT pid, usename, state, query, backend_type,
           extract(epoch FROM now() - CASE
               WHEN state IN ('active', 'fastpath function call') THEN query_start
               ELSE coalesce(xact_start, query_start) END)::float8 AS seconds
    FROM pg_stat_activity
    WHERE backend_type = 'client backend'
), long AS (
    SELECT pid, usename, state, seconds, left(query, 200) AS query
    FROM act
    WHERE pid <> pg_backend_pid()
      AND state IN ('active', 'fastpath function call',
                    'idle in transaction', 'idle in transaction (aborted)')
      AND seconds > %(long_s)s
)
SELECT
    current_setting('server_version') AS version,
    current_setting('server_version_num')::int AS version_num,
    current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int AS superuser_reserved,
    coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
    pg_backend_pid() AS own_pid,
    (SELECT count(*) FROM act)::int AS connections,
    (SELECT coalesce(json_object_agg(st, n), '{}'::json) FROM (
        SELECT coalesce(state, 'unknown') AS st, count(*) AS n FROM act GROUP BY 1) s
    ) AS by_state,
    (SELECT count(*) FROM long)::int AS long_count,
    (SELECT coalesce(json_agg(l), '[]'::json) FROM (
        SELECT * FROM long ORDER BY seconds DESC LIMIT %(long_rows)s) l
    ) AS long_rows,
    pg_is_in_recovery() AS in_recovery,
    CASE WHEN pg_is_in_recovery() THEN
        CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
             ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
    END AS lag_s,
    (SELECT count(*) FROM pg_stat_replication)::int AS replicas,
    coalesce(%(db)s::text, current_database()) AS db,
    d.oid IS NOT NULL AS db_found,
    CASE WHEN has_database_privilege(d.oid, 'CONNECT')
              OR pg_has_role('pg_read_all_stats', 'USAGE')
         THEN pg_database_size(d.oid) END AS db_bytes,
    CASE WHEN d.oid IS NOT NULL AND (has_database_privilege(d.oid, 'CONNECT')
              OR pg_has_role('pg_read_all_stats', 'USAGE'))
         THEN pg_size_pretty(pg_database_size(d.oid)) END AS db_size
FROM (SELECT 1) AS one
LEFT JOIN pg_database d ON d.datname = coalesce(%(db)s::text, current_database())
"""


@dataclass
class Facts:
    """What one probe read from the server (the columns of PROBE_SQL)."""

    version: str
    version_num: int
    max_connections: int
    superuser_reserved: int
    reserved: int
    own_pid: int
    connections: int
    by_state: dict[str, int]
    long_count: int
    long_rows: list[dict[str, Any]]
    in_recovery: bool
    lag_s: float | None
    replicas: int
    db: str
    db_found: bool
    db_bytes: int | None
    db_size: str | None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Judged:
    status: Status
    summary: str
    details: dict[str, str]
    tables: tuple[DetailTable, ...]


def judge(f: Facts, p: PostgresCheckParams) -> Judged:
    """Status, summary, details and tables from the facts: pure, no IO."""
    statuses = [Status.OK]
    ratio = f.connections / f.max_connections if f.max_connections > 0 else 0.0
    pct = ratio * 100
    conn_note = f"{f.connections}/{f.max_connections} connections ({pct:.0f} %)"
    if ratio > p.pool_critical:
        statuses.append(Status.CRITICAL)  # it answers: a threshold, not an outage
        conn_note += f" > {p.pool_critical * 100:g} %"
    elif ratio > p.pool_warning:
        statuses.append(Status.DEGRADED)
        conn_note += f" > {p.pool_warning * 100:g} %"
    notes = [conn_note]
    if f.long_count:
        statuses.append(Status.DEGRADED)
        plural = "query" if f.long_count == 1 else "queries"
        notes.append(f"{f.long_count} long {plural}")
    else:
        notes.append("0 long queries")
    if f.in_recovery:
        if f.lag_s is None:
            statuses.append(Status.DEGRADED)
            notes.append("replica, nothing replayed yet")
        else:
            lag_note = f"replica lag {format_age(f.lag_s)}"
            if f.lag_s > p.replication_lag_critical_s:
                statuses.append(Status.CRITICAL)
                lag_note += f" > {p.replication_lag_critical_s:g} s"
            elif f.lag_s > p.replication_lag_warning_s:
                statuses.append(Status.DEGRADED)
                lag_note += f" > {p.replication_lag_warning_s:g} s"
            notes.append(lag_note)
    db = clean(f.db, limit=80)
    if not f.db_found:
        statuses.append(Status.DEGRADED)
        notes.append(f"database {db!r} not found")
    elif f.db_size is not None:
        notes.append(clean(f.db_size, limit=40))

    usable = max(0, f.max_connections - f.superuser_reserved - f.reserved)
    details = {
        "version": clean(f.version, limit=80),
        "server_version_num": str(f.version_num),
        "role": "replica" if f.in_recovery else "primary",
        "connections": str(f.connections),
        "max_connections": str(f.max_connections),
        "connections_pct": f"{pct:.1f}",
        "superuser_reserved_connections": str(f.superuser_reserved),
        "reserved_connections": str(f.reserved),
        "available_to_non_superusers": str(usable),
        "long_queries": str(f.long_count),
        "long_query_threshold_s": f"{p.long_query_seconds:g}",
        "replicas": str(f.replicas),
        "database": db,
        "backend_pid": str(f.own_pid),
    }
    for state, n in sorted(f.by_state.items()):
        details[f"connections_{clean(state, limit=40).replace(' ', '_')}"] = str(n)
    for state in STATES:
        details.setdefault(f"connections_{state.replace(' ', '_')}", "0")
    if f.in_recovery:
        details["replication_lag_s"] = "unknown" if f.lag_s is None else f"{f.lag_s:.1f}"
    if f.db_bytes is not None:
        details["database_size_bytes"] = str(f.db_bytes)
        details["database_size"] = clean(f.db_size or "", limit=40)
    details.update(f.extra)

    long_rows = tuple(
        (
            str(r.get("pid", "")),
            clean(r.get("usename") or "", limit=63),
            clean(r.get("state") or "", limit=40),
            format_age(float(r.get("seconds") or 0)),
            clean(r.get("query") or "", limit=200),
        )
        for r in f.long_rows
    )
    states = [*STATES, *sorted(s for s in f.by_state if s not in STATES)]
    state_rows = tuple(
        (
            clean(s, limit=40),
            str(f.by_state.get(s, 0)),
            f"{(f.by_state.get(s, 0) / f.max_connections * 100) if f.max_connections else 0:.0f} %",
        )
        for s in states
    )
    tables = (
        DetailTable(
            "Long-running queries", ("pid", "user", "state", "running", "query"), long_rows
        ),
        DetailTable("Connections by state", ("state", "connections", "of max"), state_rows),
    )
    return Judged(Status.worst(statuses), " · ".join(notes), details, tables)
