"""Issue #16, finding 6: a runbook's SQL diagnostic must not change anything, however written.

The reviewer's attack: a ```` ```sql backend=pg ```` block reading
``SELECT "pg_terminate_backend"(pid)`` passed the read-only check (quoted identifiers
were blanked before it looked for function names), and the ``g`` key ran it, with no
confirmation and no audit entry, in a read-only console: another session was killed.

Here, against the stack's real PostgreSQL, a victim session is opened and every spelling
of that call is sent down the console's diagnostic path (``OnCall.runbooks.diagnose``,
what ``g`` does) of a read-only console, and straight to the backend's ``diagnose``
(which checks again): each is refused and the victim lives. Writes the check cannot see
(inside a function) are refused by the server's READ ONLY transaction, and a runaway
diagnostic is stopped by its statement timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import psycopg
import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.engine.api import OnCall
from oncall_console.engine.runbooks import DiagnosticRefused
from oncall_console.runbooks import SqlBlock
from oncall_console.runbooks.lint import read_only_problem
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

VICTIM = "oncall_hardening_victim"
TABLE = "oncall_hardening_sql"

KILLS = {
    "quoted": 'SELECT "pg_terminate_backend"({pid})',
    "schema-qualified": "SELECT pg_catalog.pg_terminate_backend({pid})",
    "quoted and qualified": 'SELECT "pg_catalog"."pg_terminate_backend"({pid})',
    "upper case": "SELECT PG_TERMINATE_BACKEND({pid})",
    "mixed case": "SELECT Pg_Terminate_Backend({pid})",
    "comment-split": "SELECT pg_terminate_backend/* a comment */({pid})",
    "line comment-split": "SELECT pg_terminate_backend -- a comment\n({pid})",
    "hidden after a CR": "SELECT 1 -- the rest is a comment?\r, pg_terminate_backend({pid})",
    "U& escape": 'SELECT U&"pg_\\0074erminate_backend"({pid})',
    "U& long escape": 'SELECT u&"\\+000070g\\+00005Fterminate_backend"({pid})',
    "U& UESCAPE": "SELECT U&\"pg_!0074erminate_backend\" UESCAPE '!' ({pid})",
    "via a CTE": 'WITH k AS (SELECT "pg_terminate_backend"({pid}) AS gone) SELECT * FROM k',
    "via a subquery": 'SELECT * FROM (SELECT "pg_terminate_backend"({pid})) AS s',
    "scalar subquery": 'SELECT (SELECT "pg_terminate_backend"({pid}))',
    "in FROM": "SELECT * FROM pg_terminate_backend({pid})",
    "in FROM, quoted": 'SELECT * FROM pg_catalog."pg_terminate_backend"({pid})',
    "lateral": 'SELECT * FROM pg_stat_activity a, LATERAL "pg_terminate_backend"({pid}) t',
    "from the activity view": (
        'SELECT "pg_terminate_backend"(pid) FROM pg_stat_activity'
        f" WHERE application_name = '{VICTIM}'"
    ),
    "after a dollar string": 'SELECT $q$ harmless $q$, "pg_terminate_backend"({pid})',
    "after an E string": "SELECT E'\\'', \"pg_terminate_backend\"({pid})",
    "SQL run from text": (
        "SELECT query_to_xml('SELECT pg_terminate_backend({pid})', true, false, '')"
    ),
    "SQL run from text, quoted": (
        "SELECT \"query_to_xml\"('SELECT pg_terminate_backend({pid})', true, false, '')"
    ),
}
"""Each spelling ends the victim's session when run as it is (the superuser may)."""


@pytest.fixture
def pg(stack: Stack) -> Stack:
    stack.ensure_running()
    return stack


def admin(stack: Stack) -> psycopg.Connection[Any]:
    return psycopg.connect(stack.postgres.dsn, autocommit=True, connect_timeout=5)


@pytest.fixture
def victim(pg: Stack) -> Iterator[tuple[psycopg.Connection[Any], int]]:
    conn = psycopg.connect(
        pg.postgres.dsn, autocommit=True, connect_timeout=5, application_name=VICTIM
    )
    yield conn, conn.info.backend_pid
    conn.close()


def alive(stack: Stack, pid: int) -> bool:
    with admin(stack) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return row.fetchone() == (1,)


@pytest.fixture
async def console(pg: Stack) -> AsyncIterator[Engine]:
    """A read-only console with one postgres backend, as a bastion's war room runs it."""
    loaded = from_dict(
        {
            "console": {"operator": "alice", "read_only": True},
            "backends": {
                "pg": {"type": "postgres", "dsn": pg.postgres.dsn, "statement_timeout_ms": 2000}
            },
        }
    )
    engine = Engine(loaded)
    yield engine
    await engine.stop()


@pytest.mark.parametrize("how", sorted(KILLS))
async def test_no_spelling_of_pg_terminate_backend_kills_a_session(
    pg: Stack, victim: tuple[psycopg.Connection[Any], int], console: Engine, how: str
) -> None:
    conn, pid = victim
    text = KILLS[how].format(pid=pid)
    assert console.read_only
    said = await refusal(OnCall(console).runbooks.diagnose(SqlBlock(text, "pg", 1)))  # `g`
    assert alive(pg, pid), f"{how}: the diagnostic path killed the victim"
    assert "changes state or reaches outside" in said
    said = await refusal(console.backends["pg"].diagnose("sql", text))  # it checks again
    assert alive(pg, pid), f"{how}: the backend's diagnose killed the victim"
    assert "changes state or reaches outside" in said
    assert conn.execute("SELECT 1").fetchone() == (1,)


async def refusal(diagnostic: Awaitable[object]) -> str:
    """What the refusal said; '' when the diagnostic ran."""
    try:
        await diagnostic
    except Exception as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("how", sorted(KILLS))
def test_the_runbook_linter_refuses_them_too(how: str) -> None:
    why = read_only_problem(KILLS[how].format(pid=12345))
    assert why is not None and "changes state or reaches outside" in why


@pytest.fixture
def table(pg: Stack) -> Iterator[None]:
    with admin(pg) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (n int)")
        conn.execute(f"INSERT INTO {TABLE} VALUES (1), (2)")
        conn.execute(
            f"CREATE OR REPLACE FUNCTION {TABLE}_write() RETURNS int LANGUAGE plpgsql AS"
            f" $$ BEGIN DELETE FROM {TABLE}; RETURN 0; END $$"
        )
        conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {TABLE}_seq")
    yield
    with admin(pg) as conn:
        conn.execute(f"DROP FUNCTION IF EXISTS {TABLE}_write()")
        conn.execute(f"DROP SEQUENCE IF EXISTS {TABLE}_seq")
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


def rows(pg: Stack) -> int:
    with admin(pg) as conn:
        found = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return found[0] if found else -1


@pytest.mark.parametrize(
    "text",
    [
        f"WITH d AS (DELETE FROM {TABLE} RETURNING n) SELECT count(*) FROM d",
        f"SELECT * INTO {TABLE}_copy FROM {TABLE}",
        f"EXPLAIN (ANALYZE) DELETE FROM {TABLE}",
        f'EXPLAIN ("analyze") SELECT {TABLE}_write()',
        f"SELECT * FROM {TABLE} FOR UPDATE",
        f"SELECT nextval('{TABLE}_seq')",
        "SELECT set_config('transaction_read_only', 'off', true)",
        f"SELECT 1; DELETE FROM {TABLE}",
        f"DELETE FROM {TABLE}",
    ],
)
async def test_a_read_only_console_refuses_writes_before_the_server(
    pg: Stack, table: None, console: Engine, text: str
) -> None:
    with pytest.raises(DiagnosticRefused, match="not run"):
        await OnCall(console).runbooks.diagnose(SqlBlock(text, "pg", 1))
    assert rows(pg) == 2


async def test_what_the_check_cannot_see_the_server_refuses(
    pg: Stack, table: None, console: Engine
) -> None:
    # A write inside a function is invisible to any check of the text: the transaction
    # the server holds READ ONLY refuses it.
    with pytest.raises(
        DiagnosticRefused, match=r"^cannot execute DELETE in a read-only transaction"
    ):
        await OnCall(console).runbooks.diagnose(SqlBlock(f"SELECT {TABLE}_write()", "pg", 1))
    assert rows(pg) == 2
    backend = console.backends["pg"]
    shown = await backend.diagnose("sql", "SHOW transaction_read_only")
    assert shown.rows == (("on",),)
    limits = await backend.diagnose(
        "sql",
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
        " current_setting('standard_conforming_strings')",
    )
    assert limits.rows == (("2s", "2s", "on"),)


async def test_a_runaway_diagnostic_is_stopped_by_the_server(pg: Stack) -> None:
    loaded = from_dict(
        {
            "console": {"operator": "alice", "read_only": True},
            "backends": {
                "pg": {"type": "postgres", "dsn": pg.postgres.dsn, "statement_timeout_ms": 200}
            },
        }
    )
    engine = Engine(loaded)
    try:
        block = SqlBlock("SELECT count(*) FROM generate_series(1, 10000000000)", "pg", 1)
        with pytest.raises(DiagnosticRefused, match=r"^statement timed out on the server"):
            await OnCall(engine).runbooks.diagnose(block)
    finally:
        await engine.stop()


async def test_ordinary_diagnostics_still_run(pg: Stack, console: Engine) -> None:
    oncall = OnCall(console)
    for text in (
        "SELECT state, count(*) FROM pg_stat_activity GROUP BY 1 ORDER BY 1",
        "SELECT pid, pg_blocking_pids(pid), now() - query_start AS age FROM pg_stat_activity",
        "SELECT datname, stats_reset, pg_size_pretty(pg_database_size(datname))"
        " FROM pg_stat_database WHERE datname IS NOT NULL",
        'SELECT "pg_terminate_backend" FROM (SELECT 1 AS "pg_terminate_backend") AS named',
        "SELECT 'pg_terminate_backend(1)' AS just_text",
        "SHOW max_connections",
        "EXPLAIN SELECT * FROM pg_stat_activity",
    ):
        table = await oncall.runbooks.diagnose(SqlBlock(text, "pg", 1))
        assert table.rows, text
