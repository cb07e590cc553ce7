"""The ``postgres`` backend: server health from one read-only round trip, and remediation.

A probe sends, in one pipelined round trip, a read-only transaction with a local
``statement_timeout`` and one SELECT over the statistics views: the server
version, client connections by state against ``max_connections``, the sessions
running longer than the threshold (an active query, or a transaction left idle),
replication lag on a replica, and the size of one database.

Status is the worst of: the share of ``max_connections`` in use (client backends,
our own included: every one of them holds a slot), any long-running session
(DEGRADED) and, on a replica, the replay lag. Anything that stops the round trip
(refused, authentication, timeout, a server going away) is DOWN with one clean
line; the next probe opens a fresh connection, so a server that comes back is
seen again without a restart.

Probes share one connection, opened lazily and reopened after any failure
(``psycopg_pool`` is not a dependency). Previews and actions open their own
short-lived connection, so a long VACUUM never holds up a probe; ``pool_size``
bounds how many connections the backend holds at once. The actions live in
``postgres_actions.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oncall_console import errors, secrets
from oncall_console.backends import postgres_actions as pg_actions
from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.durations import format_age
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    DetailTable,
    Outcome,
    Status,
)
from oncall_console.text import clean

T = TypeVar("T")

STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")
LONG_ROWS = 50  # rows of the long-running table; the count covers them all


class PostgresOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    dsn: str
    """libpq URI or key=value string, without a password: postgresql://user@host:5432/db."""
    password_env: str | None = None
    """Environment variable holding the password."""
    password_file: str | None = None
    """File holding the password, read at every (re)connect so a rotated one is picked up."""
    pool_size: int = Field(default=2, ge=2, le=20)
    """Most connections held at once: one for probes, the rest for previews and actions."""
    connect_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds to wait for a connection to be established."""
    statement_timeout_ms: int = Field(default=3000, ge=10, le=3_600_000)
    """Server-side limit on the probe's and the previews' queries (not on VACUUM/REINDEX)."""
    application_name: str = "oncall-console"
    """Shown in pg_stat_activity for every connection of the console."""
    allow_superuser_termination: bool = False
    """Let terminate and cancel actions signal superuser sessions."""

    @field_validator("dsn")
    @classmethod
    def _no_inline_password(cls, dsn: str) -> str:
        try:
            parts = conninfo_to_dict(dsn)
        except psycopg.Error:
            # libpq's message may quote the string, password and all: not repeated here.
            raise ValueError(
                "not a libpq connection string: write a URI such as "
                "postgresql://user@host:5432/db or key=value pairs"
            ) from None
        if parts.get("password"):
            raise ValueError(
                "the dsn must not contain a password: put it in an environment variable "
                "or a file and set password_env or password_file"
            )
        return dsn

    _one_source = model_validator(mode="after")(secrets.one_source_each)


class PostgresCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    pool_warning: float = Field(default=0.7, gt=0, le=1)
    """Connections in use above this share of max_connections are DEGRADED."""
    pool_critical: float = Field(default=0.9, gt=0, le=1)
    """Connections in use above this share of max_connections are DOWN."""
    long_query_seconds: float = Field(default=60.0, gt=0)
    """A query (or an open transaction left idle) running longer than this is DEGRADED."""
    replication_lag_warning_s: float = Field(default=30.0, ge=0)
    """On a replica, replay lag above this is DEGRADED."""
    replication_lag_critical_s: float = Field(default=300.0, ge=0)
    """On a replica, replay lag above this is DOWN."""
    database: str | None = None
    """Database whose size is reported (default: the one connected to)."""

    @model_validator(mode="after")
    def _ordered(self) -> PostgresCheckParams:
        if self.pool_warning > self.pool_critical:
            raise ValueError("pool_warning must not exceed pool_critical")
        if self.replication_lag_warning_s > self.replication_lag_critical_s:
            raise ValueError("replication_lag_warning_s must not exceed replication_lag_critical_s")
        return self


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
        statuses.append(Status.DOWN)
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
                statuses.append(Status.DOWN)
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


class _Refused(Exception):
    """Settings that cannot work (a missing secret): reported as is."""


async def _abandon_when_cancelled(
    conn: psycopg.AsyncConnection[Any], work: Coroutine[Any, Any, T]
) -> T:
    """Await ``work`` on ``conn``; cancelled (the probe's timeout), close the socket first.

    psycopg answers a cancellation by asking the server to cancel the query and waiting
    up to 10 s for it: a hung server would hold the probe that long, past its timeout.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        conn.pgconn.finish()  # nothing left to cancel on the server: psycopg gives up at once
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise


class PostgresBackend(Backend):
    """PostgreSQL health (connections, long queries, replication, size) and remediation."""

    TYPE = "postgres"
    DESCRIPTION = "PostgreSQL: connections, long queries, replication lag, size; safe remediation"
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS})
    Options = PostgresOptions
    CheckParams = PostgresCheckParams

    options: PostgresOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._action_slots = asyncio.Semaphore(max(1, self.options.pool_size - 1))
        self._action_pids: set[int] = set()
        self._password: str | None = None

    # --- connections ------------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to open yet: the first probe connects, so a down server delays nothing."""

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _connect(self, timeout: float) -> psycopg.AsyncConnection[Any]:
        opts = self.options
        try:
            self._password = secrets.resolve("password", opts.password_env, opts.password_file)
        except secrets.SecretMissing as exc:
            raise _Refused(str(exc)) from None
        limit = min(opts.connect_timeout, timeout)
        conninfo = make_conninfo(
            opts.dsn,
            password=self._password,
            connect_timeout=max(2, math.ceil(limit)),  # libpq's own floor is 2 s
            application_name=opts.application_name,
        )
        try:
            async with asyncio.timeout(limit):
                return await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, prepare_threshold=None
                )
        except TimeoutError:
            raise _Refused(f"timed out connecting after {limit:g} s") from None

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def own_pids(self) -> set[int]:
        """Server pids of this backend's own sessions: never terminated by its actions."""
        pids = set(self._action_pids)
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                pids.add(conn.info.backend_pid)
        return pids

    @contextlib.asynccontextmanager
    async def action_connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection of its own for one preview or action (autocommit), closed after.

        Cancelled (the runner's timeout), the running statement is cancelled on the
        server too, so "timed out" means stopped.
        """
        async with self._action_slots:
            conn = await self._connect(self.options.connect_timeout)
            pid = conn.info.backend_pid
            self._action_pids.add(pid)
            try:
                yield conn
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.cancel_safe(timeout=2))
                raise
            finally:
                self._action_pids.discard(pid)
                with contextlib.suppress(Exception):
                    await conn.close()

    async def diagnose(self, language: str, text: str) -> DetailTable:
        """A runbook's SQL diagnostic, in a READ ONLY transaction with the statement timeout."""
        if language != "sql":
            return await super().diagnose(language, text)
        async with self.action_connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            await conn.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                (str(self.options.statement_timeout_ms),),
            )
            # The statement comes from a runbook file, checked read-only by the engine;
            # the server refuses any write inside this READ ONLY transaction anyway.
            cur = await conn.execute(sql.SQL(text))
            columns = tuple(clean(d.name, limit=60) for d in (cur.description or ()))
            rows = await cur.fetchmany(50)
        return DetailTable(
            "Result",
            columns or ("result",),
            tuple(tuple(clean(v, limit=200) if v is not None else "NULL" for v in r) for r in rows),
        )

    # --- health -----------------------------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        try:
            params = check.params
            if not isinstance(params, PostgresCheckParams):
                params = PostgresCheckParams.model_validate(params or {})
            async with asyncio.timeout(check.timeout):
                facts, latency_ms = await self._sample(params, check.timeout)
        except TimeoutError:
            return self._down(check, f"timed out after {check.timeout:g} s")
        except _Refused as exc:
            return self._down(check, str(exc))
        except Exception as exc:  # probe never raises: everything is a result
            return self._down(check, describe(exc))
        j = judge(facts, params)
        return CheckResult(
            check=check.name,
            status=j.status,
            summary=self._redact(j.summary),
            latency_ms=latency_ms,
            at=self.context.clock(),
            details={k: self._redact(v) for k, v in j.details.items()},
            tables=j.tables,
        )

    def _down(self, check: CheckSpec, line: str) -> CheckResult:
        line = self._redact(clean(line, limit=300))
        return CheckResult(
            check=check.name,
            status=Status.DOWN,
            summary=line,
            at=self.context.clock(),
            details={"server": self._server()},
            error=line,
        )

    def _server(self) -> str:
        try:
            parts = conninfo_to_dict(self.options.dsn)
        except psycopg.Error:
            return ""
        host = parts.get("host") or parts.get("hostaddr") or "localhost"
        return clean(f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}", limit=200)

    def _redact(self, text: str) -> str:
        return secrets.redact(text, self._password)

    async def _sample(self, p: PostgresCheckParams, timeout: float) -> tuple[Facts, float]:
        async with self._lock:
            for attempt in (1, 2):
                reused = self._conn is not None and not self._conn.closed
                extra: dict[str, str] = {}
                try:
                    if not reused:
                        began = time.perf_counter()
                        self._conn = await self._connect(timeout)
                        extra["connect_ms"] = f"{(time.perf_counter() - began) * 1000:.1f}"
                    conn = self._conn
                    assert conn is not None
                    began = time.perf_counter()
                    row = await _abandon_when_cancelled(conn, self._round_trip(conn, p))
                    latency_ms = (time.perf_counter() - began) * 1000
                except BaseException as exc:
                    lost = self._conn is None or self._conn.broken or self._conn.closed
                    await self._discard()  # any doubt about the session: the next one is fresh
                    if (
                        reused
                        and attempt == 1
                        and lost
                        and isinstance(exc, psycopg.OperationalError)
                    ):
                        continue  # the server restarted since the last probe: one fresh try
                    raise
                return Facts(**row, extra=extra), latency_ms
        raise AssertionError("unreachable")

    async def _round_trip(
        self, conn: psycopg.AsyncConnection[Any], p: PostgresCheckParams
    ) -> dict[str, Any]:
        """BEGIN, read-only, statement_timeout, the SELECT, COMMIT: pipelined, one round trip."""
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        async with conn.pipeline(), conn.transaction():
            await cur.execute("SET TRANSACTION READ ONLY")
            await cur.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                (str(self.options.statement_timeout_ms),),
            )
            await cur.execute(
                PROBE_SQL,
                {"long_s": p.long_query_seconds, "long_rows": LONG_ROWS, "db": p.database},
            )
        row = await cur.fetchone()
        if row is None:
            raise psycopg.DataError("the probe query returned no row")
        return row

    # --- actions ----------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        return list(pg_actions.ACTIONS)

    async def preview(self, request: ActionRequest) -> str:
        # No preview, no action: a refusal or a failure to look stops it before confirmation.
        try:
            async with self.action_connection() as conn:
                plan = await pg_actions.plan(self._action_env(conn), request)
        except _Refused as exc:
            raise ActionInvalid(self._redact(f"cannot preview: {exc}")) from None
        except Exception as exc:
            raise ActionInvalid(self._redact(f"cannot preview: {describe(exc)}")) from None
        if plan.refusal:
            raise ActionInvalid(self._redact(plan.refusal))
        return self._redact(plan.text())

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock
        try:
            async with self.action_connection() as conn:
                env = self._action_env(conn)
                plan = await pg_actions.plan(env, request)
                if request.dry_run:
                    return ActionResult(
                        request, Outcome.DRY_RUN, "dry run: nothing was done", plan.text(), at=now()
                    )
                outcome, message, output = await pg_actions.execute(env, request, plan)
        except _Refused as exc:
            return ActionResult(request, Outcome.FAILED, self._redact(str(exc)), at=now())
        except Exception as exc:  # the runner's timeout (CancelledError) still goes through
            return ActionResult(request, Outcome.FAILED, self._redact(describe(exc)), at=now())
        return ActionResult(
            request,
            outcome,
            self._redact(message),
            self._redact(plan.text()),
            self._redact(output),
            at=now(),
        )

    def _action_env(self, conn: psycopg.AsyncConnection[Any]) -> pg_actions.Env:
        return pg_actions.Env(
            conn=conn,
            own_pids=frozenset(self.own_pids()),
            allow_superuser=self.options.allow_superuser_termination,
            statement_timeout_ms=self.options.statement_timeout_ms,
        )


_LIBPQ_PREFIX = re.compile(
    r'^(?:connection failed: )?connection to server at "([^"]*)"(?:[^,]*)?, port (\d+) failed: '
)


def describe(exc: BaseException) -> str:
    """One clean line for a failure: what libpq or the server said, minus the noise;
    anything else as :func:`oncall_console.errors.describe` words it."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "statement timed out on the server (statement_timeout_ms)"
    if not isinstance(exc, psycopg.Error):
        return errors.describe(exc)
    text = exc.diag.message_primary or str(exc) or type(exc).__name__
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    where = ""
    m = _LIBPQ_PREFIX.match(first)
    if m:
        where, first = f"{m.group(1)}:{m.group(2)}: ", first[m.end() :]
    first = first.removeprefix("connection failed: ").replace("FATAL:  ", "").strip()
    low = first.lower()
    if "connection refused" in low:
        first = "connection refused"
    elif "authentication failed" not in low and "password" in low:
        first = f"authentication failed: {first}"  # e.g. "no password supplied"
    elif "timeout expired" in low:
        first = "timed out connecting"
    elif "server closed the connection unexpectedly" in low or "terminating connection" in low:
        first = f"connection lost: {first}"
    return clean(f"{where}{first}", limit=300)
