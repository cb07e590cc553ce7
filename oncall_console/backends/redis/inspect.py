"""The ``redis`` backend's closer looks (issue #15, point 9): the slowlog, and the
biggest keys of a sample. Read-only and bounded: ``SLOWLOG GET`` reads a fixed number
of entries; big keys come from ``SCAN`` (never ``KEYS``) and ``MEMORY USAGE`` in
pipelined batches, stopped by a key count and a time budget, whichever comes first.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from oncall_console.durations import format_age
from oncall_console.model import DetailTable, InspectView
from oncall_console.text import clean

VIEWS = (InspectView("slowlog", "Slowlog"), InspectView("bigkeys", "Big keys"))
SLOWLOG_ENTRIES = 50
SCAN_BATCH = 200
"""Keys asked of one SCAN (its COUNT hint), and measured in one pipelined round trip."""
MAX_KEYS = 2000
"""Keys measured in one look at most."""
BUDGET_S = 0.5
"""Seconds one look at big keys may spend scanning (a busy server is not held longer)."""
TOP = 20


def _text(value: Any, limit: int = 200) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return clean(value if value is not None else "", limit=limit)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


async def slowlog(client: aioredis.Redis, now: float) -> tuple[DetailTable, str]:
    """The last slow commands, newest first (what ``SLOWLOG GET`` says)."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.slowlog_get(SLOWLOG_ENTRIES)
        pipe.slowlog_len()
        entries, total = await pipe.execute()
    rows = tuple(
        (
            str(e.get("id", "")),
            f"{format_age(now - float(e.get('start_time') or now))} ago",
            f"{int(e.get('duration') or 0) / 1000:.1f}",
            _text(e.get("command"), 300),
            _text(e.get("client_address"), 60) or "—",
            _text(e.get("client_name"), 60) or "—",
        )
        for e in entries
    )
    columns = ("ID", "When", "ms", "Command", "Client", "Name")
    note = f"{len(rows)} of {int(total)} entries"
    return DetailTable("Slowlog", columns, rows), note


async def big_keys(
    client: aioredis.Redis,
    *,
    max_keys: int = MAX_KEYS,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[DetailTable, str]:
    """The biggest keys of a sample: SCAN in batches, each measured with MEMORY USAGE
    (and TYPE) in one round trip, until ``max_keys`` or ``budget_s`` run out."""
    started = clock()
    cursor, seen = 0, 0
    biggest: list[tuple[int, bytes, str]] = []
    while True:
        cursor, keys = await client.scan(cursor=cursor, count=SCAN_BATCH)
        keys = keys[: max_keys - seen]
        if keys:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.memory_usage(key, samples=5)
                    pipe.type(key)
                replies = await pipe.execute()
            for i, key in enumerate(keys):
                size, kind = replies[2 * i], replies[2 * i + 1]
                if size is None:
                    continue  # gone between SCAN and MEMORY USAGE
                item = (int(size), key, _text(kind, 20))
                if len(biggest) < TOP:
                    heapq.heappush(biggest, item)
                else:
                    heapq.heappushpop(biggest, item)
            seen += len(keys)
        if cursor == 0 or seen >= max_keys or clock() - started >= budget_s:
            break
    complete = cursor == 0
    total = int(await client.dbsize())
    rows = tuple(
        (_text(key, 200), kind, _size(size)) for size, key, kind in sorted(biggest, reverse=True)
    )
    how = "every key" if complete else f"a sample of {seen:,} of {total:,} keys"
    note = f"{how} · SCAN + MEMORY USAGE in {(clock() - started) * 1000:.0f} ms"
    return DetailTable("Big keys", ("Key", "Type", "Memory"), rows), note
