"""Issue #16, finding 7: a key pattern that could match every key is never confirmed by y/n.

The reviewer's attack: ``delete-keys`` with the pattern ``?*`` emptied Redis on a plain
y/n (only a pattern of ``*`` alone was refused), while ``flushdb``, which does the same,
asks for the database to be typed. Here, against the stack's real Redis, every pattern
with no literal character is refused or asks for itself to be typed (never y/n), one
made of ``*`` and ``?`` only points to flushdb, and a pattern with a literal part
(``session:*``) still runs on y/n. How far a pattern reaches is read as Redis reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from oncall_console.backends.base import Backend, BackendContext
from oncall_console.backends.redis import RedisBackend
from oncall_console.backends.redis.options import RedisOptions
from oncall_console.engine.actions import ActionRefused, ActionRunner
from oncall_console.model import ActionRequest, Confirm, Outcome
from oncall_console.store.audit import MemoryAuditLog
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

DB = 7  # test_redis_backend.py uses 8 and 9
KEYS = {"session:1": 1, "session:2": 2, "user:1": 3, "a": 4, "1x": 5, "_z": 6, "]x": 7}

EVERY_KEY = ["?*", "*?", "**?**", "??*", "*??*"]
"""Only ``*`` and ``?``: every key (every key this long)."""
ANY_KEY = ["[a-z]*", "[^x]*", "[^]*", "[a-]x]*", "*[a-z]*", "[0-9a-z_]*", "?", "[*", "[s]*"]
"""No literal character: each could match every key of some database."""
SOME_KEYS = ["session:*", "*:*", "*1", "\\**", "[]x]*"]
"""A literal character each (``\\*`` is the character ``*``; ``[]`` is an empty class)."""


@pytest.fixture
def db(stack: Stack) -> Iterator[redis.Redis]:
    server = stack.redis
    if server.paused:
        server.resume()
    elif not server.running:
        server.restart()
    client = redis.Redis(host="127.0.0.1", port=server.port, db=DB, socket_timeout=5)
    client.flushdb()
    client.mset(KEYS)
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
async def backend(stack: Stack, db: redis.Redis) -> AsyncIterator[RedisBackend]:
    pool = ThreadPoolExecutor(1)
    options = RedisOptions.model_validate({"url": f"redis://{stack.redis.host_port}/{DB}"})
    made = RedisBackend("cache", options, BackendContext(executor=pool))
    await made.start()
    yield made
    await made.close()
    pool.shutdown()


def runner(backend: RedisBackend) -> ActionRunner:
    return ActionRunner(
        {"cache": backend}, MemoryAuditLog(), operator="alice", read_only=False, clock=lambda: 0
    )


def delete(pattern: str) -> ActionRequest:
    return ActionRequest("cache", "delete-keys", {"pattern": pattern})


def keys(db: redis.Redis) -> set[str]:
    return {k.decode() for k in db.keys("*")}  # type: ignore[union-attr]


@pytest.mark.parametrize("pattern", EVERY_KEY + ANY_KEY)
async def test_a_pattern_that_could_match_every_key_is_never_confirmed_with_y(
    backend: RedisBackend, db: redis.Redis, pattern: str
) -> None:
    """The attack, through the runner as it is: refused, or the pattern typed; never y/n."""
    run = runner(backend)
    try:
        plan = await run.prepare(delete(pattern))
    except ActionRefused as exc:
        assert "could match every key" in str(exc) or "flushdb" in str(exc)
    else:
        assert plan.confirm is Confirm.TYPE_TARGET and plan.typed_target == pattern
        for answer in ("y", "yes", "cache", str(DB)):
            result = await run.execute(plan, answer)
            assert result.outcome is Outcome.REFUSED, result.message
    assert keys(db) == set(KEYS)


@pytest.mark.parametrize("pattern", EVERY_KEY)
async def test_every_key_is_the_flushdb_action(
    backend: RedisBackend, db: redis.Redis, pattern: str
) -> None:
    with pytest.raises(ActionRefused, match="matches every key of db 7: use the flushdb action"):
        await runner(backend).prepare(delete(pattern))
    result = await backend.run(delete(pattern))  # the backend alone refuses as much
    assert result.outcome is Outcome.REFUSED and "use the flushdb action" in result.message
    assert keys(db) == set(KEYS)


@pytest.mark.parametrize("pattern", ANY_KEY)
def test_the_backend_asks_for_the_pattern_typed(backend: RedisBackend, pattern: str) -> None:
    assert backend.confirmation_for(delete(pattern)) is Confirm.TYPE_TARGET


@pytest.mark.parametrize("pattern", SOME_KEYS)
def test_a_literal_character_needs_no_more_than_the_spec(
    backend: RedisBackend, pattern: str
) -> None:
    assert backend.confirmation_for(delete(pattern)) is None
    assert backend.confirmation_for(ActionRequest("cache", "bgsave", {})) is None


async def test_a_literal_prefix_still_runs_on_y(backend: RedisBackend, db: redis.Redis) -> None:
    run = runner(backend)
    plan = await run.prepare(delete("session:*"))
    assert plan.confirm is Confirm.YES_NO
    result = await run.execute(plan, "y")
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert keys(db) == set(KEYS) - {"session:1", "session:2"}


@pytest.fixture
def runner_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine as it will be: the contract declares ``Backend.confirmation_for`` and
    the runner's plan asks for the target typed when the backend says so (what
    ``engine/actions.py`` needs; a no-op once it does it itself)."""
    monkeypatch.setattr(Backend, "confirmation_for", lambda self, request: None, raising=False)
    prepare = ActionRunner.prepare

    async def asking(self: ActionRunner, request: ActionRequest) -> Any:
        plan = await prepare(self, request)
        asked = self.backends[request.backend].confirmation_for(plan.request)  # type: ignore[attr-defined]
        if asked is Confirm.TYPE_TARGET:
            plan = dataclasses.replace(plan, confirm=Confirm.TYPE_TARGET)
        return plan

    monkeypatch.setattr(ActionRunner, "prepare", asking)


async def test_once_the_runner_asks_the_pattern_is_typed_to_confirm(
    runner_asks: None, backend: RedisBackend, db: redis.Redis
) -> None:
    run = runner(backend)
    plan = await run.prepare(delete("[a-z]*"))
    assert plan.confirm is Confirm.TYPE_TARGET and plan.confirm_prompt == "Type '[a-z]*' to confirm"
    assert "no literal character: it could match every key" in plan.preview
    assert "matching now: 4 keys" in plan.preview
    for answer in ("y", "yes", "[a-z]", ""):
        assert (await run.execute(plan, answer)).outcome is Outcome.REFUSED
    assert keys(db) == set(KEYS)
    result = await run.execute(plan, "[a-z]*")
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert keys(db) == {"1x", "_z", "]x"}
    with pytest.raises(ActionRefused, match="use the flushdb action"):
        await run.prepare(delete("?*"))  # every key is still flushdb's
    plan = await run.prepare(delete("_*"))
    assert plan.confirm is Confirm.YES_NO
