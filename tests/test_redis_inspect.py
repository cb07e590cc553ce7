"""Looking closer at Redis (issue #15, point 9), against the real Redis of the test
stack: the slowlog, newest first and cleaned; big keys from a SCAN bounded by a key
count and a time budget (never KEYS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from oncall_console.backends.redis import inspect as redis_inspect
from tests.test_redis_backend import _check, _config, db, make, server

__all__ = ["db", "make", "server"]  # fixtures

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]


@pytest.fixture
def slow_everything(db: redis.Redis) -> Iterator[None]:
    """Every command goes to the slowlog while the test runs; restored after."""
    before = _config(db, "slowlog-log-slower-than")
    db.config_set("slowlog-log-slower-than", 0)
    db.slowlog_reset()
    yield
    db.config_set("slowlog-log-slower-than", before)
    db.slowlog_reset()


async def test_it_offers_the_slowlog_and_big_keys(make: Any) -> None:
    b = await make()
    assert [v.id for v in b.inspect_views(_check())] == ["slowlog", "bigkeys"]
    with pytest.raises(ValueError, match="no view"):
        await b.inspect(_check(), "logs")


async def test_the_slowlog_newest_first_and_cleaned(
    make: Any, db: redis.Redis, slow_everything: None
) -> None:
    db.set("player:\x1b[31m[bold]1", "x")
    db.get("leaderboard:2027")
    b = await make()
    found = await b.inspect(_check(), "slowlog")
    table = found.tables[0]
    commands = [row[3] for row in table.rows]
    assert "SET player:[bold]1 x" in commands  # the escape gone, the markup literal
    assert not any("\x1b" in c for c in commands)
    ids = [int(row[0]) for row in table.rows]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert commands.index("GET leaderboard:2027") < next(
        i for i, c in enumerate(commands) if c.startswith("SET player:")
    )
    assert "entries" in found.note and "\n" not in found.note


async def test_big_keys_biggest_first_from_a_bounded_scan(make: Any, db: redis.Redis) -> None:
    db.set("small", "x")
    db.set("big", "x" * 200_000)
    db.rpush("mid", *["y" * 100] * 200)
    for i in range(300):
        db.set(f"filler:{i}", i)
    b = await make()
    found = await b.inspect(_check(), "bigkeys")
    rows = found.tables[0].rows
    assert rows[0][:2] == ("big", "string") and rows[0][2].endswith("KiB")
    assert rows[1][:2] == ("mid", "list")
    assert len(rows) == redis_inspect.TOP
    assert found.note.split(" · ")[1].startswith("every key")

    # A budget of keys: a sample, said as such, never the whole keyspace in one look.
    sample_table, note = await redis_inspect.big_keys(b.client(), max_keys=50)
    assert note.startswith("a sample of 50 of 303 keys")
    assert 0 < len(sample_table.rows) <= redis_inspect.TOP

    # A time budget: one batch and no more.
    ticks = iter(range(100))
    _, note = await redis_inspect.big_keys(b.client(), budget_s=0.5, clock=lambda: next(ticks))
    sampled = int(note.removeprefix("a sample of ").split(" ")[0].replace(",", ""))
    assert 0 < sampled < 303


async def test_never_keys(make: Any, db: redis.Redis, slow_everything: None) -> None:
    db.set("k", "v")
    b = await make()
    await b.inspect(_check(), "bigkeys")
    names = {entry["command"].split(b" ")[0].upper() for entry in db.slowlog_get(128)}
    assert b"SCAN" in names and b"MEMORY" in names and b"KEYS" not in names


async def test_a_server_not_there_is_one_line(make: Any) -> None:
    from tests.support.stack import free_port

    b = await make(url=f"redis://127.0.0.1:{free_port()}/9", socket_timeout=1)
    with pytest.raises(RuntimeError, match="connection refused"):
        await b.inspect(_check(), "slowlog")
