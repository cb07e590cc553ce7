"""Looking closer at PostgreSQL (issue #15, point 9), against the real server of the
integration stack: sessions by state and who holds them, the longest queries first,
read-only, cleaned, within the statement timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from oncall_console.backends.postgres import PostgresBackend
from oncall_console.backends.postgres.backend import DiagnosticFailed
from tests.support.stack import Stack
from tests.test_postgres_backend import backend, made, on_stack, spec, until

__all__ = ["made"]  # a fixture


async def test_it_offers_sessions_and_longest_queries() -> None:
    b = backend("postgresql://nobody@127.0.0.1:1/app")
    assert [v.id for v in b.inspect_views(spec())] == ["sessions", "queries"]
    with pytest.raises(ValueError, match="no view"):
        await b.inspect(spec(), "slowlog")


@on_stack
async def test_sessions_by_state_and_the_longest_query_first(
    stack: Stack, made: list[PostgresBackend]
) -> None:
    b = backend(stack.postgres.dsn, application_name="oncall-inspect")
    made.append(b)
    idle_tx = await psycopg.AsyncConnection.connect(
        stack.postgres.dsn, application_name="batch-job"
    )
    await idle_tx.execute("SELECT 1")  # a transaction left open: idle in transaction
    sleeper = await psycopg.AsyncConnection.connect(stack.postgres.dsn, autocommit=True)
    pid = sleeper.info.backend_pid
    task = asyncio.create_task(sleeper.execute("SELECT pg_sleep(30) /* [bold]\x1b[2Jslow */"))
    try:

        async def seen() -> Any:
            found = await b.inspect(spec(), "queries")
            rows = found.tables[0].rows
            return found if any(r[0] == str(pid) and r[3] == "active" for r in rows) else None

        found = await until("the sleeping query", seen)
        rows = found.tables[0].rows
        assert found.tables[0].columns[0] == "PID"
        mine = next(r for r in rows if r[0] == str(pid))
        assert mine[6].startswith("SELECT pg_sleep(30) /* [bold]") and "\x1b" not in mine[6]
        assert "idle in transaction" in {r[3] for r in rows}
        assert all(r[3] != "idle" for r in rows)  # idle sessions are not queries
        assert all(r[2] != "oncall-inspect" for r in rows)  # never our own session

        looked = await b.inspect(spec(), "sessions")
        states = {r[0]: r for r in looked.tables[0].rows}
        assert int(states["active"][1]) >= 1 and int(states["idle in transaction"][1]) >= 1
        assert int(states["all"][1]) == sum(int(r[1]) for k, r in states.items() if k != "all")
        holders = looked.tables[1].rows
        assert holders_row(holders)[:3] == ("idle in transaction", "postgres", "batch-job")
        assert looked.note.endswith("/app") or "127.0.0.1" in looked.note
    finally:
        await sleeper.cancel_safe()
        await asyncio.gather(task, return_exceptions=True)
        await sleeper.close()
        await idle_tx.close()


def holders_row(rows: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return next(r for r in rows if r[2] == "batch-job")


@on_stack
async def test_a_look_runs_read_only_and_within_the_statement_timeout(
    stack: Stack, made: list[PostgresBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    from oncall_console.backends.postgres import inspect as pg_inspect

    b = backend(stack.postgres.dsn, statement_timeout_ms=200)
    made.append(b)
    monkeypatch.setattr(pg_inspect, "QUERIES_SQL", "SELECT pg_sleep(5) WHERE %(top)s > 0")
    with pytest.raises(DiagnosticFailed, match="statement timed out"):
        await b.inspect(spec(), "queries")
    monkeypatch.setattr(
        pg_inspect, "QUERIES_SQL", "CREATE TABLE oncall_inspect_x (n int) -- %(top)s"
    )
    with pytest.raises(DiagnosticFailed, match="read-only transaction"):
        await b.inspect(spec(), "queries")
    monkeypatch.undo()
    found = await b.inspect(spec(), "queries")  # the connection after a failure is fresh
    assert found.tables[0].title == "Longest queries"


@on_stack
async def test_a_server_that_is_not_there_is_one_line() -> None:
    b = backend("postgresql://postgres@127.0.0.1:1/app")
    try:
        with pytest.raises(DiagnosticFailed) as info:
            await b.inspect(spec(), "sessions")
        assert "connection refused" in str(info.value) and "\n" not in str(info.value)
    finally:
        await b.close()
