"""Kill the console between the audit intent and the result: the next start shows the
action as "outcome unknown" and the audit chain still verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from oncall_console.store import open_store

RUNNER = r"""
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.engine.actions import ActionRunner
from oncall_console.engine.audit import StoreAuditLog
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
