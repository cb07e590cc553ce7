"""The ``postgres`` backend's actions (declared by ``PostgresBackend.actions()``): planned
read-only, then run.

Every statement is psycopg SQL with bound parameters, and identifiers go through
``sql.Identifier``: nothing is built from strings. A plan reads what it can
without changing anything (the session a pid names, the idle sessions that match,
the table or index and its size) and renders the exact statement that a run
executes, values inlined by psycopg's own quoting for the person to read.

Safety rules hold inside the executed statement too, not only in the plan: a
terminate or cancel never touches this console's own sessions, nor a superuser's
unless ``allow_superuser_termination`` is set, nor anything but a client backend,
however the sessions changed between preview and confirmation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.numeric import Int4

from oncall_console.durations import format_age
from oncall_console.model import ActionRequest, Outcome
from oncall_console.text import clean

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
MAX_PID = 2**31 - 1
SAMPLES = 10
Statement = sql.SQL | sql.Composed

IDLE_STATES = {"idle": "idle", "idle-in-transaction": "idle in transaction"}


@dataclass(frozen=True)
class Env:
    """What a plan or a run gets from the backend: a connection of its own and the rules."""

    conn: psycopg.AsyncConnection[Any]
    own_pids: frozenset[int]
    allow_superuser: bool
    statement_timeout_ms: int


@dataclass
class Plan:
    """What a run would execute, and what it would affect as far as can be read now."""

    statement: Statement | None = None
    params: dict[str, Any] = field(default_factory=dict)
    sql_text: str = ""
    lines: list[str] = field(default_factory=list)
    headline: str = ""
    """The blast radius in one line ("44 session(s) idle … match now"), shown first: at
    80x24 the confirm dialog shows the top of the preview, and the SQL is long."""
    refusal: str | None = None
    """Why it must not run at all (the run is REFUSED)."""
    failure: str | None = None
    """Why it cannot work (no such session, table or index: the run FAILS)."""

    def text(self) -> str:
        head = []
        if self.refusal:
            head = [f"refused: {self.refusal}", ""]
        elif self.failure:
            head = [f"would fail: {self.failure}", ""]
        body = [self.headline, ""] if self.headline else []
        body += [self.sql_text] if self.sql_text else []
        if self.lines:
            body += ["", *self.lines]
        return "\n".join(head + body).strip()


class _BadParam(Exception):
    pass


def _pids(env: Env) -> list[Int4]:
    """Our own pids as an int4[] parameter (plain ints would pick the smallest int type)."""
    return [Int4(p) for p in sorted(env.own_pids)]


def _ident(params: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    text = str(value)
    if not IDENTIFIER.match(text):
        raise _BadParam(f"{name}: {clean(text, limit=60)!r} is not a valid identifier")
    return text


def _int(params: dict[str, Any], name: str, lo: int, hi: int, default: int | None = None) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or value is None:
        raise _BadParam(f"{name}: expected a whole number")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise _BadParam(f"{name}: expected a whole number") from None
    if not lo <= n <= hi:
        raise _BadParam(f"{name}: must be between {lo} and {hi}")
    return n


async def read(env: Env, query: Statement | str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a read-only transaction with the configured statement timeout."""
    conn = env.conn
    async with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        await cur.execute("SET TRANSACTION READ ONLY")
        await cur.execute(
            "SELECT set_config('statement_timeout', %s, true)", (str(env.statement_timeout_ms),)
        )
        await cur.execute(query, params)
        return await cur.fetchall()


def exact(env: Env, statement: Statement, params: dict[str, Any]) -> str:
    """The statement as the server runs it, values quoted by psycopg, for a person to read."""
    if not params:
        return statement.as_string(env.conn)
    return psycopg.AsyncClientCursor(env.conn).mogrify(statement, params)


async def plan(env: Env, request: ActionRequest) -> Plan:
    planner = _PLANNERS.get(request.action)
    if planner is None:
        return Plan(refusal=f"no action {request.action!r}")
    try:
        return await planner(env, request.params)
    except _BadParam as exc:
        return Plan(refusal=str(exc))


async def execute(env: Env, request: ActionRequest, p: Plan) -> tuple[Outcome, str, str]:
    """(outcome, message, output) of running a plan made on this same connection."""
    if p.refusal:
        return Outcome.REFUSED, p.refusal, ""
    if p.failure:
        return Outcome.FAILED, p.failure, ""
    runner = _RUNNERS[request.action]
    return await runner(env, request.params, p)


# --- one session by pid ---------------------------------------------------------------------

_SESSION = sql.SQL(
    """SELECT a.pid, a.usename, a.datname, a.state, a.backend_type,
       coalesce(r.rolsuper, false) AS superuser,
       extract(epoch FROM now() - coalesce(a.state_change, a.backend_start))::float8 AS in_state_s,
       left(a.query, 200) AS query
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.pid = %(pid)s"""
)

# The guards again, inside the statement that sends the signal.
_SIGNAL_ONE = sql.SQL(
    """SELECT a.pid, {fn}(a.pid) AS signalled
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.pid = %(pid)s
  AND a.backend_type = 'client backend'
  AND a.pid <> ALL(%(own)s)
  AND (%(allow_superuser)s OR NOT coalesce(r.rolsuper, false))"""
)


def _session_line(row: dict[str, Any]) -> str:
    return (
        f"pid {row['pid']} · user {clean(row['usename'] or '—', limit=63)}"
        f" · database {clean(row['datname'] or '—', limit=63)}"
        f" · {clean(row['state'] or row['backend_type'] or '—', limit=40)}"
        f" for {format_age(row['in_state_s'])}"
        f" · {clean(row['query'] or '', limit=200)!r}"
    )


def _guard_one(
    env: Env, pid: int, row: dict[str, Any] | None, verb: str
) -> tuple[str | None, str | None]:
    """(refusal, failure) for signalling ``pid``."""
    if pid in env.own_pids:
        return f"pid {pid} is this console's own session", None
    if row is None:
        return None, f"no session with pid {pid}"
    if row["backend_type"] != "client backend":
        return f"pid {pid} is a {clean(row['backend_type'], limit=40)}, not a client session", None
    if row["superuser"] and not env.allow_superuser:
        return (
            f"pid {pid} belongs to superuser {clean(row['usename'] or '', limit=63)!r}: "
            f"{verb} superuser sessions needs allow_superuser_termination",
            None,
        )
    return None, None


def _signal_planner(fn: str, verb: str) -> Any:
    async def planner(env: Env, params: dict[str, Any]) -> Plan:
        pid = _int(params, "pid", 1, MAX_PID)
        statement = _SIGNAL_ONE.format(fn=sql.SQL(fn))  # one of two names fixed below
        args = {"pid": pid, "own": _pids(env), "allow_superuser": env.allow_superuser}
        rows = await read(env, _SESSION, {"pid": pid})
        row = rows[0] if rows else None
        refusal, failure = _guard_one(env, pid, row, verb)
        lines = [_session_line(row)] if row else []
        if row and fn == "pg_cancel_backend" and row["state"] != "active":
            lines.append("it is not running a query now: cancelling does nothing")
        return Plan(
            statement, args, exact(env, statement, args), lines, refusal=refusal, failure=failure
        )

    return planner


def _signal_runner(done: str, missed: str) -> Any:
    async def runner(env: Env, params: dict[str, Any], p: Plan) -> tuple[Outcome, str, str]:
        assert p.statement is not None
        async with env.conn.cursor() as cur:
            await cur.execute(p.statement, p.params)
            rows = await cur.fetchall()
        pid = p.params["pid"]
        if rows and rows[0][1]:
            return Outcome.SUCCEEDED, done.format(pid=pid), "\n".join(p.lines)
        return Outcome.FAILED, missed.format(pid=pid), ""

    return runner


# --- idle sessions ----------------------------------------------------------------------------

_IDLE_SELECTION = sql.SQL(
    """SELECT a.pid, a.usename, a.datname, a.state,
       extract(epoch FROM now() - a.state_change)::float8 AS in_state_s
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.backend_type = 'client backend'
  AND a.state = %(state)s
  AND a.state_change < now() - make_interval(mins => %(minutes)s)
  AND (%(database)s::text IS NULL OR a.datname = %(database)s::text)
  AND a.pid <> ALL(%(own)s)
  AND (%(allow_superuser)s OR NOT coalesce(r.rolsuper, false))"""
)
_IDLE_TERMINATE = sql.SQL(
    "SELECT s.pid, s.usename, s.datname, s.in_state_s, pg_terminate_backend(s.pid) AS signalled\n"
    "FROM ({selection}) AS s"
).format(selection=_IDLE_SELECTION)
_IDLE_SAMPLE = sql.SQL("{selection}\nORDER BY a.state_change LIMIT {n}").format(
    selection=_IDLE_SELECTION, n=sql.Literal(SAMPLES)
)
_IDLE_COUNT = sql.SQL("SELECT count(*) AS n FROM ({selection}) AS s").format(
    selection=_IDLE_SELECTION
)


def _idle_line(row: dict[str, Any]) -> str:
    return (
        f"pid {row['pid']} · user {clean(row['usename'] or '—', limit=63)}"
        f" · database {clean(row['datname'] or '—', limit=63)}"
        f" · for {format_age(row['in_state_s'])}"
    )


async def _plan_terminate_idle(env: Env, params: dict[str, Any]) -> Plan:
    state_key = str(params.get("state") or "idle")
    if state_key not in IDLE_STATES:
        raise _BadParam(f"state: must be one of {', '.join(IDLE_STATES)}")
    args = {
        "state": IDLE_STATES[state_key],
        "minutes": _int(params, "older_than_minutes", 0, 1440, default=10),
        "database": _ident(params, "database"),
        "own": _pids(env),
        "allow_superuser": env.allow_superuser,
    }
    count = (await read(env, _IDLE_COUNT, args))[0]["n"]
    samples = await read(env, _IDLE_SAMPLE, args) if count else []
    where = f" on database {args['database']}" if args["database"] else ""
    headline = f"{count} session(s) {args['state']} for over {args['minutes']} min{where} match now"
    lines = [_idle_line(r) for r in samples]
    if count > len(samples):
        lines.append(f"… and {count - len(samples)} more")
    if not env.allow_superuser:
        lines.append("superuser sessions are left alone (allow_superuser_termination is off)")
    return Plan(_IDLE_TERMINATE, args, exact(env, _IDLE_TERMINATE, args), lines, headline=headline)


async def _run_terminate_idle(
    env: Env, params: dict[str, Any], p: Plan
) -> tuple[Outcome, str, str]:
    async with env.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_IDLE_TERMINATE, p.params)
        rows = await cur.fetchall()
    done = [r for r in rows if r["signalled"]]
    output = "\n".join(_idle_line(r) for r in done)
    message = f"terminated {len(done)} of {len(rows)} matching {p.params['state']} session(s)"
    return Outcome.SUCCEEDED, message, output


# --- maintenance ------------------------------------------------------------------------------

_TABLE_INFO = sql.SQL(
    """SELECT c.relkind, pg_size_pretty(pg_total_relation_size(c.oid)) AS size,
       s.n_live_tup, s.n_dead_tup, s.last_vacuum, s.last_autovacuum,
       s.last_analyze, s.last_autoanalyze
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE n.nspname = %(schema)s AND c.relname = %(name)s AND c.relkind IN ('r', 'm', 'p', 't')"""
)
_INDEX_INFO = sql.SQL(
    """SELECT t.relname AS table_name, pg_size_pretty(pg_relation_size(c.oid)) AS size,
       i.indisvalid AS valid, n.nspname IN ('pg_catalog', 'information_schema') AS system
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_class t ON t.oid = i.indrelid
WHERE n.nspname = %(schema)s AND c.relname = %(name)s AND c.relkind IN ('i', 'I')"""
)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value is not None else "never"


def _table_lines(row: dict[str, Any]) -> list[str]:
    return [
        f"size {row['size']} · live rows {row['n_live_tup'] or 0} · dead rows {row['n_dead_tup'] or 0}",
        f"last vacuum {_when(row['last_vacuum'])} · autovacuum {_when(row['last_autovacuum'])}",
        f"last analyze {_when(row['last_analyze'])} · autoanalyze {_when(row['last_autoanalyze'])}",
    ]


async def _plan_vacuum(env: Env, params: dict[str, Any]) -> Plan:
    schema, table = _ident(params, "schema", "public"), _ident(params, "table")
    if table is None:
        raise _BadParam("table: required")
    statement = sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema or "public", table))
    rows = await read(env, _TABLE_INFO, {"schema": schema, "name": table})
    p = Plan(statement, {}, exact(env, statement, {}))
    if not rows:
        p.failure = f"no table {schema}.{table}"
    else:
        p.lines = _table_lines(rows[0])
        p.lines.append("runs outside a transaction; reads and writes go on meanwhile")
    return p


async def _run_vacuum(env: Env, params: dict[str, Any], p: Plan) -> tuple[Outcome, str, str]:
    assert p.statement is not None
    async with env.conn.cursor() as cur:
        await cur.execute(p.statement)
    schema, table = _ident(params, "schema", "public"), _ident(params, "table")
    rows = await read(env, _TABLE_INFO, {"schema": schema, "name": table})
    after = _table_lines(rows[0]) if rows else []
    return Outcome.SUCCEEDED, f"vacuumed and analyzed {schema}.{table}", "\n".join(after)


async def _plan_reindex(env: Env, params: dict[str, Any]) -> Plan:
    schema, index = _ident(params, "schema", "public"), _ident(params, "index")
    if index is None:
        raise _BadParam("index: required")
    statement = sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(
        sql.Identifier(schema or "public", index)
    )
    p = Plan(statement, {}, exact(env, statement, {}))
    if env.conn.info.server_version < 120000:
        p.refusal = "REINDEX CONCURRENTLY needs PostgreSQL 12 or later"
        return p
    rows = await read(env, _INDEX_INFO, {"schema": schema, "name": index})
    if not rows:
        p.failure = f"no index {schema}.{index}"
        return p
    row = rows[0]
    if row["system"]:
        p.refusal = "system catalog indexes cannot be reindexed concurrently"
        return p
    p.lines = [
        f"index {schema}.{index} on table {clean(row['table_name'], limit=63)}"
        f" · size {row['size']} · {'valid' if row['valid'] else 'INVALID'}",
        "builds a new copy beside the old one (needs that much disk), then swaps them;",
        f"if stopped half way, an invalid index {index}_ccnew may be left behind to drop",
    ]
    return p


async def _run_reindex(env: Env, params: dict[str, Any], p: Plan) -> tuple[Outcome, str, str]:
    assert p.statement is not None
    async with env.conn.cursor() as cur:
        await cur.execute(p.statement)
    schema, index = _ident(params, "schema", "public"), _ident(params, "index")
    rows = await read(env, _INDEX_INFO, {"schema": schema, "name": index})
    output = f"size {rows[0]['size']} · valid {rows[0]['valid']}" if rows else ""
    return Outcome.SUCCEEDED, f"reindexed {schema}.{index} concurrently", output


_PLANNERS: dict[str, Any] = {
    "terminate-backend": _signal_planner("pg_terminate_backend", "terminating"),
    "cancel-query": _signal_planner("pg_cancel_backend", "cancelling queries of"),
    "terminate-idle": _plan_terminate_idle,
    "vacuum-analyze": _plan_vacuum,
    "reindex-concurrently": _plan_reindex,
}
_RUNNERS: dict[str, Any] = {
    "terminate-backend": _signal_runner(
        "terminated pid {pid} (1 session)",
        "pid {pid} was not terminated: gone, or no longer eligible",
    ),
    "cancel-query": _signal_runner(
        "cancelled the query of pid {pid}",
        "pid {pid} was not signalled: gone, or no longer eligible",
    ),
    "terminate-idle": _run_terminate_idle,
    "vacuum-analyze": _run_vacuum,
    "reindex-concurrently": _run_reindex,
}
