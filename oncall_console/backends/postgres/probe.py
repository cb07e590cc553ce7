"""One ``postgres`` probe without the backend class: connect (again when the session
was lost), the round trip, the judging, the result. No pydantic here: the console's
backend (``backend.py``) and the first poll's plain reading (``sketch.py``, issue #14)
both run it; ``options`` and the parameters are read by attribute.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from oncall_console import errors, secrets
from oncall_console.backends.postgres.health import LONG_ROWS, PROBE_SQL, Facts, judge
from oncall_console.model import CheckResult, CheckSpec, Status
from oncall_console.text import clean

if TYPE_CHECKING:
    from typing import TypeAlias

    from oncall_console.backends.postgres.options import PostgresCheckParams

    Params: TypeAlias = "PostgresCheckParams | Any"

T = TypeVar("T")


class Refused(Exception):
    """Settings that cannot work (a missing secret): reported as is."""


async def abandon_when_cancelled(
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


class PostgresProbe:
    """The probe's side of a postgres backend. The class using it sets ``options`` (dsn,
    password_env / password_file, connect_timeout, application_name,
    statement_timeout_ms), ``_conn``, ``_lock``, ``_password``, and says what time it is."""

    options: Any
    _conn: psycopg.AsyncConnection[Any] | None
    _lock: asyncio.Lock
    _password: str | None

    def _now(self) -> float:
        raise NotImplementedError

    async def _connect(self, timeout: float) -> psycopg.AsyncConnection[Any]:
        opts = self.options
        try:
            self._password = secrets.resolve("password", opts.password_env, opts.password_file)
        except secrets.SecretMissing as exc:
            raise Refused(str(exc)) from None
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
            raise Refused(f"timed out connecting after {limit:g} s") from None

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def probe_with(self, check: CheckSpec, params: Params) -> CheckResult:
        """``check`` probed with ``params`` (validated); never raises: everything is a
        result."""
        try:
            async with asyncio.timeout(check.timeout):
                facts, latency_ms = await self._sample(params, check.timeout)
        except TimeoutError:
            return self._down(check, f"timed out after {check.timeout:g} s")
        except Refused as exc:
            return self._down(check, str(exc))
        except Exception as exc:  # probe never raises: everything is a result
            return self._down(check, describe(exc))
        j = judge(facts, params)
        return CheckResult(
            check=check.name,
            status=j.status,
            summary=self._redact(j.summary),
            latency_ms=latency_ms,
            at=self._now(),
            details={k: self._redact(v) for k, v in j.details.items()},
            tables=j.tables,
        )

    def _down(self, check: CheckSpec, line: str) -> CheckResult:
        line = self._redact(clean(line, limit=300))
        return CheckResult(
            check=check.name,
            status=Status.DOWN,
            summary=line,
            at=self._now(),
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

    async def _sample(self, p: Params, timeout: float) -> tuple[Facts, float]:
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
                    row = await abandon_when_cancelled(conn, self._round_trip(conn, p))
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

    async def _round_trip(self, conn: psycopg.AsyncConnection[Any], p: Params) -> dict[str, Any]:
        """BEGIN READ ONLY, statement_timeout, the SELECT, COMMIT: one simple query, one
        round trip, the values bound client-side (ClientCursor quotes them).

        Not a pipeline: a probe cancelled by its timeout left psycopg's pipeline exit
        suspended on a closed connection, and its clean-up raised when the garbage
        collector finished it ("Exception ignored in BasePipeline._exit_gen")."""
        cur = psycopg.AsyncClientCursor(conn, row_factory=psycopg.rows.dict_row)
        query = (
            "BEGIN READ ONLY;"
            " SELECT set_config('statement_timeout', %(timeout)s, true) AS timeout;"
            f" {PROBE_SQL.strip()};"
            " COMMIT"
        )
        await cur.execute(
            query,
            {
                "timeout": str(self.options.statement_timeout_ms),
                "long_s": p.long_query_seconds,
                "long_rows": LONG_ROWS,
                "db": p.database,
            },
        )
        while cur.description is None or cur.description[0].name != "version":
            if not cur.nextset():
                raise psycopg.DataError("the probe query returned no row")
        row = await cur.fetchone()
        if row is None:
            raise psycopg.DataError("the probe query returned no row")
        return row

    # --- actions ----------------------------------------------------------------------------


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
