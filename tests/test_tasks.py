"""Stopping the console's own tasks (oncall_console/tasks.py) when a cancel is lost.

On Python 3.11 a cancel that lands in a library's own waiting can be lost: the task runs
on. Seen twice in CI, both as a test that waited for ever at a stop (a Redis fault test
under load, and the shared-probes takeover test in ``b.stop()``). Here the loss is made
on purpose, so these fail on one cancel and an ``await task``."""

from __future__ import annotations

import asyncio

import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.tasks import stop_tasks, within

pytestmark = pytest.mark.timeout(30)


def swallowing(cancels: int, ticks: list[int], release: asyncio.Event | None = None):
    """A loop that loses its first ``cancels`` cancels (as when one lands in a library's
    wait and is dropped there), counting its turns in ``ticks``; ends when ``release``
    is set."""

    async def loop() -> None:
        lost = 0
        while release is None or not release.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if lost >= cancels:
                    raise
                lost += 1
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
            ticks.append(1)

    return loop()


async def test_a_task_that_loses_a_cancel_is_cancelled_again_and_stops() -> None:
    ticks: list[int] = []
    task = asyncio.create_task(swallowing(2, ticks), name="lease")
    await asyncio.sleep(0.05)
    left = await asyncio.wait_for(stop_tasks([task, None], again=0.02), 10)
    assert left == set() and task.cancelled()


async def test_one_that_never_stops_is_named_and_left_after_the_bound(caplog) -> None:
    ticks: list[int] = []
    release = asyncio.Event()
    task = asyncio.create_task(swallowing(10**9, ticks, release), name="stubborn")
    try:
        left = await asyncio.wait_for(stop_tasks([task], within=0.3, again=0.05), 10)
        assert left == {task} and not task.done()
        assert "stubborn" in caplog.text
    finally:
        release.set()
        await task


async def test_again_none_lets_the_clean_up_finish() -> None:
    """An action's clean-up (its audit result, its lock) must not be cut short by a
    second cancel."""
    cleaned: list[str] = []

    async def action() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.2)  # writing the audit result, giving the lock back
            cleaned.append("audit written")

    task = asyncio.create_task(action())
    await asyncio.sleep(0.01)
    assert await stop_tasks([task], within=5, again=None) == set()
    assert cleaned == ["audit written"]
    task = asyncio.create_task(action())
    await asyncio.sleep(0.01)
    await stop_tasks([task], within=5, again=0.02)  # what re-cancelling would do to it
    assert cleaned == ["audit written"]


async def test_the_lease_loop_stops_though_its_cancel_is_lost(tmp_path) -> None:
    data = {
        "store": {"url": str(tmp_path / "s.sqlite3")},
        "bus": {"redis_url": "redis://127.0.0.1:1/0", "timeout": "1s"},
        "backends": {"web": {"type": "http"}},
        "checks": {"api": {"backend": "web", "url": "http://127.0.0.1:1/", "interval": 1}},
    }
    e = Engine(from_dict(data, env={}))
    assert e.sharing.enabled
    lost = {"n": 0}
    inside = asyncio.Event()

    async def tick() -> None:  # the cancels that land in it are lost (the first 50)
        try:
            inside.set()
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            lost["n"] += 1
            if lost["n"] > 50:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]

    e.sharing.tick = tick  # type: ignore[method-assign]
    e.sharing.renew = 0.0
    e.sharing.start()
    await inside.wait()  # the stop comes while a tick is out
    task = e.sharing._task
    assert task is not None
    try:
        await asyncio.wait_for(e.sharing.stop(), 10)
        assert lost["n"] >= 1  # the loss happened
        assert task.done()  # and the loop ended: one cancel and an ``await`` waited for ever
    finally:
        while not task.done():  # the test's own clean-up, on a tree where the stop failed
            task.cancel()
            await asyncio.sleep(0.01)


# --- the cause: asyncio.wait_for before 3.12 (CPython gh-86296) -----------------------


async def _cancelled_in_the_turn_the_work_completes(wait) -> str:
    """The caller is cancelled in the same turn of the loop as its awaited work ends (a
    probe answering as the console quits): did the cancel reach it?"""

    async def caller() -> str:
        work = asyncio.get_running_loop().create_future()
        me = asyncio.current_task()
        assert me is not None

        def both() -> None:
            work.set_result("answer")
            me.cancel()

        asyncio.get_running_loop().call_soon(both)
        await wait(work, 10)
        return "ran on"

    try:
        return await asyncio.create_task(caller())
    except asyncio.CancelledError:
        return "cancelled"


async def test_within_keeps_the_cancel_that_wait_for_drops() -> None:
    import sys

    if sys.version_info < (3, 12):  # the loss itself, so the test below can fail
        assert await _cancelled_in_the_turn_the_work_completes(asyncio.wait_for) == "ran on"
    assert await _cancelled_in_the_turn_the_work_completes(within) == "cancelled"


async def test_within_times_out_and_cancels_the_work() -> None:
    ended: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    with pytest.raises(TimeoutError):
        await within(slow(), 0.01)
    assert ended == ["cancelled"]
    assert await within(asyncio.sleep(0, "now"), None) == "now"
    done = asyncio.get_running_loop().create_future()
    done.set_result("done")
    assert await within(done, -1) == "done"  # no time left, but nothing to wait for


def test_the_console_never_calls_asyncio_wait_for() -> None:
    """Every wait with a limit goes through tasks.within (see its module's note)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "oncall_console"
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "asyncio"
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "asyncio"
                and any(a.name == "wait_for" for a in node.names)
            ):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert found == [], "use oncall_console.tasks.within: " + ", ".join(found)
