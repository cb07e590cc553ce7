"""Kill the console between the audit intent and the result: the next start shows the
action as "outcome unknown" and the audit chain still verifies."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from oncall_console.store import open_store

RUNNER = r"""
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.engine.actions import ActionRunner
from oncall_console.store.audit import StoreAuditLog
from oncall_console.model import ActionRequest, ActionSpec, ParamSpec
from oncall_console.store import open_store

class Stuck(Backend):
    TYPE = "stuck"
    CAPABILITIES = frozenset({Capability.ACTIONS})
    def actions(self):
        return [ActionSpec("restart", "Restart", (ParamSpec("service", "name"),), target_param="service")]
    async def preview(self, request):
        return "restart " + request.params["service"]
    async def run(self, request):
        print("running", flush=True)
        await asyncio.Event().wait()  # the action hangs; the console is killed meanwhile

async def main():
    store = open_store(sys.argv[1])
    await store.open()
    backend = Stuck("ops", NoParams(), BackendContext(executor=ThreadPoolExecutor(1)))
    runner = ActionRunner({"ops": backend}, StoreAuditLog(store, "test:1"), operator="alex",
                          read_only=False, clock=lambda: 1.0, timeout=600)
    prepared = await runner.prepare(ActionRequest("ops", "restart", {"service": "api"}))
    await runner.execute(prepared, "y")

asyncio.run(main())
"""


def test_a_kill_between_intent_and_result_leaves_outcome_unknown(tmp_path: Path) -> None:
    db = tmp_path / "oncall.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "running"  # the intent was written before this
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    async def inspect() -> tuple[list, bool]:
        store = open_store(str(db))
        await store.open()
        try:
            return await store.unfinished(), (await store.verify_audit()).ok
        finally:
            await store.close()

    unfinished, ok = asyncio.run(inspect())
    assert [(r.action, r.target, r.operator) for r in unfinished] == [("restart", "api", "alex")]
    assert ok


# --- 1,000 actions, killed at random ------------------------------------------------------------

ACTIONS = 1_000

LOOPER = r"""
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.engine.actions import ActionRunner
from oncall_console.store.audit import StoreAuditLog
from oncall_console.model import ActionRequest, ActionResult, ActionSpec, Outcome, ParamSpec
from oncall_console.store import open_store

class Fast(Backend):
    TYPE = "fast"
    CAPABILITIES = frozenset({Capability.ACTIONS})
    def actions(self):
        return [ActionSpec("restart", "Restart", (ParamSpec("service", "name"),), target_param="service")]
    async def preview(self, request):
        return "restart " + request.params["service"]
    async def run(self, request):
        await asyncio.sleep(0)
        return ActionResult(request, Outcome.SUCCEEDED, "restarted")

async def main():
    store = open_store(sys.argv[1])
    await store.open()
    trail = await store.audit()
    unknown = [r.id for r in await store.unfinished()]  # what the console shows at start
    print("start", sum(r.kind == "intent" for r in trail), *unknown, flush=True)
    backend = Fast("ops", NoParams(), BackendContext(executor=ThreadPoolExecutor(1)))
    runner = ActionRunner({"ops": backend}, StoreAuditLog(store, "crash:1"), operator="alex",
                          read_only=False, clock=lambda: 1.0, timeout=60, locks=store,
                          console="crash-test")
    for n in range(int(sys.argv[2])):
        prepared = await runner.prepare(ActionRequest("ops", "restart", {"service": f"svc-{n % 7}"}))
        result = await runner.execute(prepared, "y")
        print("done", result.outcome.value, flush=True)
    await store.close()

asyncio.run(main())
"""


def start_console(db: str, actions: int) -> tuple[subprocess.Popen[str], int, set[int]]:
    """A console that runs ``actions`` actions in a row; returns it with what it found at
    start: how many intents the trail holds, and the "outcome unknown" it reports."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOOPER, str(db), str(actions)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    word, intents, *unknown = proc.stdout.readline().split()
    assert word == "start"
    return proc, int(intents), {int(u) for u in unknown}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.xdist_group("stack")]),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store: a SQLite file, or a new database on the suite's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "oncall.sqlite3")
    stack = request.getfixturevalue("healthy_stack")
    name = f"crash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(stack.postgres.dsn_for(name))


def test_a_thousand_actions_killed_at_random_lose_nothing(store_url: str) -> None:
    db = store_url
    rng = random.Random(20_260_106)  # the same kills every run
    kills = completed = 0
    reports: list[set[int]] = []
    while True:
        proc, intents, unknown = start_console(db, ACTIONS)
        reports.append(unknown)
        if intents >= ACTIONS:
            proc.kill()
            proc.wait(timeout=10)
            break
        assert proc.stdout is not None
        try:
            # Let it run a random number of actions, then kill it wherever it is: before the
            # intent, between intent and result, inside a write, or while releasing the lock.
            for _ in range(rng.randint(1, 80)):
                line = proc.stdout.readline()
                if not line:
                    break
                assert line.split()[:2] == ["done", "succeeded"], line
                completed += 1
            # Not a wait for anything: a random instant inside the next action or two.
            time.sleep(rng.uniform(0, 0.01))
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        finally:
            proc.wait(timeout=10)

    async def inspect() -> tuple[list, object]:
        store = open_store(db)
        await store.open()
        try:
            return await store.audit(), await store.verify_audit()
        finally:
            await store.close()

    trail, report = asyncio.run(inspect())
    assert report.ok, report.problem
    assert [r.id for r in trail] == list(range(1, len(trail) + 1)), "ids are contiguous"
    intents = {r.id for r in trail if r.kind == "intent"}
    results = [r.intent_id for r in trail if r.kind == "result"]
    assert set(results) <= intents, "no result without its intent"
    assert len(results) == len(set(results)), "no intent has two results"
    unknown = intents - set(results)
    assert len(intents) >= ACTIONS
    assert len(results) >= completed, "every action the console saw finish has its result"
    # Each kill leaves at most the one action in flight without a result, and the next start
    # reports it; once reported it stays reported (nothing writes a result for it later).
    assert len(unknown) <= kills
    for before, after in itertools.pairwise(reports):
        assert before <= after and len(after - before) <= 1
    assert reports[-1] == unknown
    first_seen = [next(n for n, seen in enumerate(reports) if u in seen) for u in unknown]
    assert len(first_seen) == len(set(first_seen)), "each start reports one new unknown at most"
    print(f"\n{len(intents)} actions, {kills} kills, {len(unknown)} outcomes unknown")
