"""Stopping the console's own tasks: cancel, and do not trust one cancel to be enough.

A cancel that lands inside a library's own waiting can be lost on Python 3.11: the task
is marked "cancelling" and runs on (seen in the Redis client under load, about one stop
in a hundred; the HTTP poller's loops on 1,000 checks). An ``await task`` after one
``cancel()`` then waits for ever, and the console cannot quit. Every stop of a task the
console owns goes through :func:`stop_tasks`: cancel again while the task runs on, and
give up after a bound, naming what did not stop. Loops that must end also check a flag
of their own, so a lost cancel costs one turn of the loop, not the quit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)


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
