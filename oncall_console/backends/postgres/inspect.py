"""The ``postgres`` backend's closer looks (issue #15, point 9): the sessions by state
(and who holds them), and the longest-running queries. Read-only: each look is one
SELECT over ``pg_stat_activity`` inside a READ ONLY transaction with a local
``statement_timeout``; the rows are cleaned here.
"""

from __future__ import annotations

from typing import Any

import psycopg

from oncall_console.durations import format_age
from oncall_console.model import DetailTable, InspectView
from oncall_console.text import clean

VIEWS = (InspectView("sessions", "Sessions"), InspectView("queries", "Longest queries"))
TOP = 30
"""Rows of the longest queries, and of who holds the sessions."""

# How long a session has been in its state: an active query since it started, an open
# transaction since it began, an idle session since it went idle.
_ACTIVITY = """
WITH act AS (
    SELECT pid, usename, application_name, datname, state, wait_event_type, wait_event,
           backend_type, query,
           extract(epoch FROM now() - CASE
               WHEN state IN ('active', 'fastpath function call') THEN query_start
               WHEN state LIKE 'idle in transaction%%' THEN coalesce(xact_start, state_change)
               ELSE state_change END)::float8 AS seconds
    FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
)
"""

SESSIONS_SQL = (
    _ACTIVITY
    + """
SELECT 'state' AS part, coalesce(state, 'unknown') AS state, NULL::text AS usename,
       NULL::text AS application_name, NULL::text AS datname, count(*)::int AS n,
       max(seconds) AS seconds,
       (count(*) FILTER (WHERE wait_event_type IS NOT NULL AND state = 'active'))::int AS waiting
FROM act GROUP BY 2
UNION ALL
(SELECT 'who', coalesce(state, 'unknown'), usename, application_name, datname,
        count(*)::int, max(seconds), 0
 FROM act GROUP BY 2, 3, 4, 5 ORDER BY 6 DESC, 7 DESC NULLS LAST LIMIT %(top)s)
"""
)

QUERIES_SQL = (
    _ACTIVITY
    + """
SELECT pid, usename, application_name, state,
       concat_ws(':', wait_event_type, wait_event) AS waiting, seconds, left(query, 500) AS query
FROM act
WHERE state IS DISTINCT FROM 'idle'
ORDER BY seconds DESC NULLS LAST
LIMIT %(top)s
"""
)


def _c(value: Any, limit: int = 63) -> str:
    return clean(value if value is not None else "", limit=limit)


def _age(seconds: Any) -> str:
    return format_age(float(seconds)) if seconds is not None else "—"


def sessions(rows: list[dict[str, Any]]) -> tuple[DetailTable, ...]:
    """Sessions by state, then who holds them (user, application, database): pure."""
    states = sorted((r for r in rows if r["part"] == "state"), key=lambda r: -r["n"])
    who = [r for r in rows if r["part"] == "who"]
    total = sum(r["n"] for r in states)
    by_state = [
        (_c(r["state"], 40), str(r["n"]), _age(r["seconds"]), str(r["waiting"])) for r in states
    ]
    by_state.append(("all", str(total), "", ""))
    holders = tuple(
        (
            _c(r["state"], 40),
            _c(r["usename"]),
            _c(r["application_name"]) or "—",
            _c(r["datname"]),
            str(r["n"]),
            _age(r["seconds"]),
        )
        for r in who
    )
    return (
        DetailTable("Sessions by state", ("State", "Sessions", "Longest", "Waiting"), by_state),
        DetailTable(
            "Who holds them",
            ("State", "User", "Application", "Database", "Sessions", "Longest"),
            holders,
        ),
    )


def queries(rows: list[dict[str, Any]]) -> tuple[DetailTable, ...]:
    """The longest-running statements and open transactions, longest first: pure."""
    out = tuple(
        (
            str(r["pid"]),
            _c(r["usename"]),
            _c(r["application_name"]) or "—",
            _c(r["state"], 40),
            _c(r["waiting"], 60) or "—",
            _age(r["seconds"]),
            _c(r["query"], 500),
        )
        for r in rows
    )
    columns = ("PID", "User", "Application", "State", "Waiting on", "Running", "Query")
    return (DetailTable("Longest queries", columns, out),)


async def look(
    conn: psycopg.AsyncConnection[Any], view: str, statement_timeout_ms: int
) -> tuple[DetailTable, ...]:
    """One look on ``conn``, pipelined: BEGIN READ ONLY, the timeout, the SELECT, COMMIT."""
    query, shape = {"sessions": (SESSIONS_SQL, sessions), "queries": (QUERIES_SQL, queries)}[view]
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    async with conn.pipeline(), conn.transaction():
        await cur.execute("SET TRANSACTION READ ONLY")
        await cur.execute(
            "SELECT set_config('statement_timeout', %s, true)", (str(statement_timeout_ms),)
        )
        await cur.execute(query, {"top": TOP})
    return shape(await cur.fetchall())
