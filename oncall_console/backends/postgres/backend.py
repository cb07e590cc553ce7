"""The ``postgres`` backend: the plugin class (connections, the probe's round trip, actions)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from pydantic import BaseModel

from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.backends.postgres import actions as pg_actions
from oncall_console.backends.postgres import inspect as pg_inspect
from oncall_console.backends.postgres.options import PostgresCheckParams, PostgresOptions
from oncall_console.backends.postgres.probe import (
    PostgresProbe,
    Refused,
    abandon_when_cancelled,
    describe,
)
from oncall_console.backends.postgres.readonly_sql import NotReadOnly, read_only_problem
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    Confirm,
    DetailTable,
    Inspection,
    InspectView,
    Outcome,
    ParamSpec,
)
from oncall_console.text import clean

T = TypeVar("T")


class DiagnosticFailed(Exception):
    """A diagnostic the server refused or stopped; the message is one clean line."""


class PostgresBackend(PostgresProbe, Backend):
    """PostgreSQL health (connections, long queries, replication, size) and remediation."""

    TYPE = "postgres"
    DIAGNOSES = frozenset({"sql"})
    DESCRIPTION = "PostgreSQL: connections, long queries, replication lag, size; safe remediation"
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS, Capability.INSPECT})
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
        """A runbook's SQL diagnostic: checked here (``readonly_sql``), then run in a
        transaction the server holds READ ONLY, with the statement and lock timeouts.

        Both, whoever calls: the server refuses every write, and the check refuses what
        a read-only transaction still allows (ending sessions, reloading settings, SQL
        run from text...). ``standard_conforming_strings`` is set so the server reads
        quotes as the check did. At most 50 rows come back."""
        if language != "sql":
            return await super().diagnose(language, text)
        why = read_only_problem(text)
        if why:
            raise NotReadOnly(f"not run: {why}")
        timeout_ms = str(self.options.statement_timeout_ms)
        try:
            async with self.action_connection() as conn, conn.transaction():
                await conn.execute("SET TRANSACTION READ ONLY")  # first: before any query
                await conn.execute(
                    "SELECT set_config('statement_timeout', %s, true),"
                    " set_config('lock_timeout', %s, true),"
                    " set_config('idle_in_transaction_session_timeout', %s, true),"
                    " set_config('standard_conforming_strings', 'on', true)",
                    (timeout_ms, timeout_ms, timeout_ms),
                )
                cur = await conn.execute(sql.SQL(text))
                columns = tuple(clean(d.name, limit=60) for d in (cur.description or ()))
                rows = await cur.fetchmany(50) if cur.description else []
        except Refused as exc:
            raise DiagnosticFailed(self._redact(str(exc))) from None
        except psycopg.Error as exc:  # the server's refusal, or its statement timeout
            raise DiagnosticFailed(self._redact(describe(exc))) from None
        return DetailTable(
            "Result",
            columns or ("result",),
            tuple(tuple(clean(v, limit=200) if v is not None else "NULL" for v in r) for r in rows),
        )

    # --- looking closer ---------------------------------------------------------------------

    def inspect_views(self, check: CheckSpec) -> list[InspectView]:
        return list(pg_inspect.VIEWS)

    async def inspect(self, check: CheckSpec, view: str) -> Inspection:
        """Sessions by state, or the longest queries: on the probes' connection (a server
        out of connections still answers it), read-only, with the statement timeout."""
        if view not in {v.id for v in pg_inspect.VIEWS}:
            raise ValueError(f"no view {view!r}")
        timeout_ms = self.options.statement_timeout_ms
        try:
            async with self._lock:
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect(self.options.connect_timeout)
                conn = self._conn
                try:
                    tables = await abandon_when_cancelled(
                        conn, pg_inspect.look(conn, view, timeout_ms)
                    )
                except BaseException:
                    await self._discard()  # any doubt about the session: the next is fresh
                    raise
        except Refused as exc:
            raise DiagnosticFailed(self._redact(str(exc))) from None
        except psycopg.Error as exc:
            raise DiagnosticFailed(self._redact(describe(exc))) from None
        return Inspection(view, self.context.clock(), tables=tables, note=self._server())

    # --- health -----------------------------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        params = check.params
        if not isinstance(params, PostgresCheckParams):
            try:
                params = PostgresCheckParams.model_validate(params or {})
            except Exception as exc:  # probe never raises: everything is a result
                return self._down(check, describe(exc))
        return await self.probe_with(check, params)

    def _now(self) -> float:
        return self.context.clock()

    def actions(self) -> list[ActionSpec]:
        pid = ParamSpec(
            "pid",
            "int",
            help="Server process id (pg_stat_activity.pid)",
            minimum=1,
            maximum=pg_actions.MAX_PID,
        )
        schema = ParamSpec("schema", "identifier", help="Schema", required=False, default="public")
        return [
            ActionSpec(
                id="terminate-backend",
                title="Terminate one session (pg_terminate_backend)",
                params=(pid,),
                target_param="pid",
            ),
            ActionSpec(
                id="cancel-query",
                title="Cancel the running query of one session (pg_cancel_backend)",
                params=(pid,),
                target_param="pid",
            ),
            ActionSpec(
                id="terminate-idle",
                title="Terminate sessions idle for longer than N minutes",
                params=(
                    ParamSpec(
                        "state",
                        "choice",
                        help="idle, or idle-in-transaction (holding a transaction open)",
                        default="idle",
                        choices=tuple(pg_actions.IDLE_STATES),
                    ),
                    ParamSpec(
                        "older_than_minutes",
                        "int",
                        help="Only sessions in that state for longer than this (0: all of them, now)",
                        default=10,
                        minimum=0,
                        maximum=1440,
                    ),
                    ParamSpec(
                        "database",
                        "identifier",
                        help="Only sessions on this database",
                        required=False,
                    ),
                ),
                target_param="database",
            ),
            ActionSpec(
                id="vacuum-analyze",
                title="VACUUM (ANALYZE) one table",
                params=(ParamSpec("table", "identifier", help="Table name"), schema),
                target_param="table",
            ),
            ActionSpec(
                id="reindex-concurrently",
                title="Rebuild one index without blocking writes (REINDEX CONCURRENTLY)",
                params=(ParamSpec("index", "identifier", help="Index name"), schema),
                target_param="index",
                dangerous=True,
                confirm=Confirm.TYPE_TARGET,
            ),
        ]

    async def preview(self, request: ActionRequest) -> str:
        # No preview, no action: a refusal or a failure to look stops it before confirmation.
        try:
            async with self.action_connection() as conn:
                plan = await pg_actions.plan(self._action_env(conn), request)
        except Refused as exc:
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
        except Refused as exc:
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
