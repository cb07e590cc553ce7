"""Stopping the console's own tasks, and waiting with a time limit without losing a cancel.

A cancel could be lost on Python 3.11: the task was marked "cancelling" and ran on (seen
in the Redis client under load, about one stop in a hundred; the HTTP poller's loops on
1,000 checks), and an ``await task`` after one ``cancel()`` waited for ever. The cause is
``asyncio.wait_for`` before 3.12 (CPython gh-86296): when the task waiting in it is
cancelled in the same turn of the loop as the awaited work completes, it returns the
result and drops the cancel. The console waits with a limit through :func:`within`
(``asyncio.timeout``, which counts cancels) and never calls ``asyncio.wait_for`` (a test
keeps it so). Libraries may still do it; so every stop of a task the console owns goes
through :func:`stop_tasks` (cancel again while the task runs on, give up after a bound,
naming what did not stop), and loops that must end also check a flag of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def within(work: Awaitable[T], timeout: float | None) -> T:
    """``await work``, raising TimeoutError after ``timeout`` seconds (None: no limit).

    ``asyncio.wait_for`` without its lost cancel (see the module's note): the work runs
    in the calling task under ``asyncio.timeout``, so a cancel of the caller always ends
    it, and a timeout cancels the work and waits for it to finish, as wait_for did."""
    if timeout is None:
        return await work
    async with asyncio.timeout(max(0.0, timeout)):
        return await work


async def stop_tasks(
    tasks: Iterable[asyncio.Future[object] | None],
    *,
    within: float = 5.0,
    again: float | None = 0.25,
) -> set[asyncio.Future[object]]:
    """Cancel ``tasks`` (None entries and the calling task are skipped), cancel again every
    ``again`` seconds while any runs on, and return after ``within`` seconds at most.

    ``again=None``: one cancel only, for work whose clean-up must not be cut short (an
    action writing its audit result and giving its lock back).

    Returns the tasks still running (logged by name); their results and exceptions are
    retrieved, so nothing is reported later as never retrieved."""
    current = asyncio.current_task()
    owned = [t for t in tasks if t is not None and t is not current]
    pending = {t for t in owned if not t.done()}
    deadline = time.monotonic() + within
    for task in pending:
        task.cancel()
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _, pending = await asyncio.wait(
            pending, timeout=left if again is None else min(again, left)
        )
        if again is not None:
            for task in pending:
                task.cancel()
    for task in owned:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the stop is what the caller asked for
    if pending:
        names = ", ".join(sorted(_name(t) for t in pending))
        log.warning("still running %.1f s after being cancelled: %s", within, names)
    return pending


def _name(task: asyncio.Future[object]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
