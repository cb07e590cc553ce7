from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from oncall_console.backends.demo import demo_config_dict
from oncall_console.bus import LocalBus
from oncall_console.bus.redis import RedisBus
from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.model import ActionRequest, Outcome

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]


def engine(tmp_path: Path, redis_url: str, env: str) -> Engine:
    data = demo_config_dict()
    data["store"] = {"url": str(tmp_path / "shared.sqlite3")}
    data["console"]["environment"] = env
    data["bus"] = {"redis_url": redis_url, "timeout": "1s"}
    e = Engine(from_dict(data, env={}))
    return e


async def test_two_engines_see_each_others_actions(tmp_path, stack):
    url = stack.redis.url
    env = "t-" + uuid.uuid4().hex[:6]
    a, b = engine(tmp_path, url, env), engine(tmp_path, url, env)
    b.console_id = b.bus.console = "other:1"  # same pid in one process
    assert isinstance(a.bus, RedisBus) and a.runner.locks is a.bus
    await a.start(poll=False)
    await b.start(poll=False)
    try:
        assert a.bus.connected and b.bus.connected
        v = b.version
        prepared = await a.runner.prepare(
            ActionRequest("demo", "restart", {"service": "api-gateway"})
        )
        result = await a.runner.execute(
            prepared, prepared.target if "Type" in prepared.confirm_prompt else "y"
        )
        assert result.outcome is Outcome.SUCCEEDED, result.message
        began = time.monotonic()
        while b.version == v and time.monotonic() - began < 2:
            await asyncio.sleep(0.01)
        assert b.version > v
        # Presence is stamped with the receiver's clock, not the sender's: consoles on
        # two bastions may disagree by more than the time it is shown for.
        b.clock = lambda: 1_000.0
        a.announce("presence", incident="42", step="rollback")
        began = time.monotonic()
        while not b.presence and time.monotonic() - began < 2:
            await asyncio.sleep(0.01)
        assert b.presence[a.console_id]["incident"] == "42"
        assert b.presence[a.console_id]["at"] == 1_000.0
    finally:
        await a.stop()
        await b.stop()


async def test_without_redis_the_store_keeps_the_locks(tmp_path):
    data = demo_config_dict()
    data["store"] = {"url": ":memory:"}
    e = Engine(from_dict(data, env={}))
    assert isinstance(e.bus, LocalBus) and e.runner.locks is e.store
    await e.start(poll=False)
    prepared = await e.runner.prepare(ActionRequest("demo", "restart", {"service": "api-gateway"}))
    assert (
        await e.runner.execute(
            prepared, prepared.target if "Type" in prepared.confirm_prompt else "y"
        )
    ).outcome is Outcome.SUCCEEDED
    await e.stop()
