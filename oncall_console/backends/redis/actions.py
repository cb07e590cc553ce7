"""The ``redis`` backend's actions (declared by ``RedisBackend.actions()``): what each one
previews and what it does.

- ``bgsave``: BGSAVE, then wait a little for it to finish and report how it ended.
- ``delete-keys``: SCAN ... MATCH in steps of ``delete_batch``, UNLINK each batch;
  at most ``delete_max_keys`` keys per run. How far a pattern reaches is decided by
  reading it as Redis does (:func:`reach`), not by its spelling: one made of ``*`` and
  ``?`` only (``*``, ``?*``, ``*?``) matches every key and is refused: that is flushdb.
  One with no literal character (``[a-z]*``, ``[^x]*``, ``???``) could match every key:
  its pattern must be typed to confirm it (``RedisBackend.confirmation_for``), and
  while the runner cannot ask for that per request it is refused too. Only a pattern
  with a literal character (``session:*``, ``*:tmp``) is confirmed with y/n.
- ``config-set``: CONFIG SET of a setting from ``config_set_allowlist``, read back after.
- ``flushdb``: FLUSHDB ASYNC of the backend's own database; dangerous, so the
  person types the database number.

Key names come from the server: they are cleaned before they are shown.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from oncall_console.backends.redis.health import as_int
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    Outcome,
)
from oncall_console.text import clean

SAMPLE_KEYS = 10
BGSAVE_WAIT = 10.0
"""Seconds a bgsave run waits for the snapshot to finish before it reports "still running"."""


@dataclass(frozen=True)
class Limits:
    """The options an action needs, and where it acts."""

    batch: int
    max_keys: int
    allowlist: tuple[str, ...]
    db: int
    server: str
    backend: str
    typed_per_request: bool = False
    """The runner asks the backend how to confirm each request (``confirmation_for``),
    so a pattern that could match every key can be confirmed by typing it."""


def key_text(key: bytes | str) -> str:
    """A key name as it may be shown: decoded, no escapes or controls, bounded."""
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return clean(text, limit=200)


class Reach(enum.Enum):
    """How many keys a glob pattern may match, read as Redis reads it."""

    SOME = "some"
    """It has a literal character: only keys with that character there."""
    ANY = "any"
    """No literal character, but a class or a fixed length: it could match every key."""
    ALL = "all"
    """Only ``*`` and ``?``, with a ``*``: every key (of at least that many bytes)."""


def reach(pattern: str) -> Reach:
    """How far ``pattern`` reaches, read with the rules of Redis's ``stringmatchlen``
    (on the pattern's UTF-8 bytes): ``\\x`` is the literal x (a final ``\\`` is itself);
    ``[...]`` is one character of a class: ``^`` first negates it, ``\\`` escapes, ``a-z``
    is a range whose end may be ``]``, a ``]`` right after ``[`` or ``^`` ends it, and an
    unclosed one runs to the end. A class that admits a single character still counts
    as a class: when in doubt, the pattern is taken to reach further."""
    p = pattern.encode("utf-8", "surrogatepass")
    literal = star = klass = False
    i, n = 0, len(p)
    while i < n:
        c = p[i : i + 1]
        if c == b"*":
            star, i = True, i + 1
        elif c == b"?":
            i += 1
        elif c == b"[":
            klass, i = True, i + 1
            if p[i : i + 1] == b"^":
                i += 1
            while i < n:
                if p[i : i + 1] == b"\\" and n - i >= 2:
                    i += 2
                elif p[i : i + 1] == b"]":
                    i += 1
                    break
                elif n - i >= 3 and p[i + 1 : i + 2] == b"-":
                    i += 3
                else:
                    i += 1
        elif c == b"\\":
            literal, i = True, i + 2
        else:
            literal, i = True, i + 1
    if literal:
        return Reach.SOME
    if star and not klass:
        return Reach.ALL
    return Reach.ANY


def _refusal(pattern: str, lim: Limits) -> str:
    shown = clean(pattern, limit=60)
    if reach(pattern) is Reach.ALL:
        return (
            f"{shown!r} matches every key of db {lim.db}: use the flushdb action to empty"
            " the database"
        )
    return (
        f"{shown!r} has no literal character and could match every key of db {lim.db}: it"
        " must be typed to confirm, which this console cannot ask for; use a pattern with a"
        " literal part (session:*), or the flushdb action"
    )


def refused(pattern: str, lim: Limits) -> str:
    """Why ``pattern`` may not be deleted by this action ('' when it may)."""
    found = reach(pattern)
    if found is Reach.ALL or (found is Reach.ANY and not lim.typed_per_request):
        return _refusal(pattern, lim)
    return ""


async def preview(client: aioredis.Redis, lim: Limits, request: ActionRequest) -> str:
    p = request.params
    where = f"{lim.server} db {lim.db}"
    if request.action == "bgsave":
        info = await client.info("persistence")
        return "\n".join(
            [
                f"BGSAVE on {lim.server}: write a snapshot of every database to disk, in the "
                "background (the server forks; it keeps serving).",
                _persistence(info),
            ]
        )
    if request.action == "delete-keys":
        pattern = str(p.get("pattern") or "")
        if not pattern:
            raise ActionInvalid("pattern: required")
        if why := refused(pattern, lim):
            raise ActionInvalid(why)
        count, sample, capped = await _count(client, pattern, lim)
        lines = [
            f"SCAN MATCH {clean(pattern)!r} COUNT {lim.batch} on {where}, then UNLINK the keys "
            f"found, {lim.batch} at a time (at most {lim.max_keys:,} keys in one run).",
        ]
        if reach(pattern) is Reach.ANY:
            lines.append(
                "this pattern has no literal character: it could match every key, so it is"
                " typed to confirm"
            )
        if capped:
            lines.append(
                f"matching now: at least {count:,} keys (counting stopped at delete_max_keys;"
                f" a run deletes {lim.max_keys:,} and stops)"
            )
        elif count == 0:
            lines.append("matching now: no keys; nothing would be deleted")
        else:
            lines.append(f"matching now: {count:,} key" + ("" if count == 1 else "s"))
        if sample:
            lines.append(f"sample ({len(sample)}):")
            lines += [f"  {k}" for k in sample]
        return "\n".join(lines)
    if request.action == "config-set":
        name, value = str(p.get("parameter")), str(p.get("value"))
        if name not in lim.allowlist:
            raise ActionInvalid(f"{clean(name, limit=60)!r} is not in config_set_allowlist")
        current = await _config_value(client, name)
        return (
            f"CONFIG SET {name} {clean(value)!r} on {lim.server}\n"
            f"{name}: {current} → {clean(value)}"
        )
    if request.action == "flushdb":
        keys = await client.dbsize()
        return (
            f"FLUSHDB ASYNC on {where}: deletes every key of database {lim.db} "
            f"({keys:,} now). Other databases are untouched. This cannot be undone."
        )
    raise ActionInvalid(f"unknown action {clean(request.action, limit=40)!r}")


async def run(
    client: aioredis.Redis, lim: Limits, request: ActionRequest
) -> tuple[Outcome, str, str]:
    """(outcome, message, output) of one action; exceptions are the caller's to report."""
    p = request.params
    if request.action == "bgsave":
        return await _bgsave(client, lim)
    if request.action == "delete-keys":
        pattern = str(p.get("pattern") or "")
        if not pattern:
            return Outcome.REFUSED, "pattern: required", ""
        if why := refused(pattern, lim):
            return Outcome.REFUSED, why, ""
        return await _delete(client, pattern, lim)
    if request.action == "config-set":
        name, value = str(p.get("parameter")), str(p.get("value"))
        if name not in lim.allowlist:
            return Outcome.REFUSED, f"{clean(name, limit=60)!r} is not in config_set_allowlist", ""
        before = await _config_value(client, name)
        try:
            await client.config_set(name, value)
        except rexc.ResponseError as exc:
            return Outcome.FAILED, f"CONFIG SET {name} refused by the server: {exc}", ""
        after = await _config_value(client, name)
        return Outcome.SUCCEEDED, f"{name}: {before} → {after}", ""
    if request.action == "flushdb":
        if str(p.get("database")) != str(lim.db):
            return Outcome.REFUSED, f"this backend uses database {lim.db}", ""
        keys = await client.dbsize()
        await client.flushdb(asynchronous=True)
        return Outcome.SUCCEEDED, f"flushed database {lim.db} on {lim.server} ({keys:,} keys)", ""
    return Outcome.REFUSED, f"unknown action {clean(request.action, limit=40)!r}", ""


async def _count(client: aioredis.Redis, pattern: str, lim: Limits) -> tuple[int, list[str], bool]:
    """Read-only: how many keys match (up to max_keys), and a sample of them."""
    seen: set[bytes] = set()
    sample: list[str] = []
    async for key in client.scan_iter(match=pattern, count=lim.batch):
        if key in seen:
            continue  # SCAN may return a key twice
        seen.add(key)
        if len(sample) < SAMPLE_KEYS:
            sample.append(key_text(key))
        if len(seen) >= lim.max_keys:
            return len(seen), sample, True
    return len(seen), sample, False


async def _delete(client: aioredis.Redis, pattern: str, lim: Limits) -> tuple[Outcome, str, str]:
    seen: set[bytes] = set()
    batch: list[bytes] = []
    deleted = batches = 0
    capped = False
    sample: list[str] = []

    async def flush() -> None:
        nonlocal deleted, batches
        if batch:
            deleted += int(await client.unlink(*batch))
            batches += 1
            batch.clear()

    async for key in client.scan_iter(match=pattern, count=lim.batch):
        if key in seen:
            continue
        seen.add(key)
        batch.append(key)
        if len(sample) < SAMPLE_KEYS:
            sample.append(key_text(key))
        if len(batch) >= lim.batch:
            await flush()
        if len(seen) >= lim.max_keys:
            capped = True
            break
    await flush()
    message = (
        f"unlinked {deleted:,} key{'' if deleted == 1 else 's'} matching {clean(pattern)!r} "
        f"in {batches} batch{'' if batches == 1 else 'es'} of at most {lim.batch}"
    )
    if capped:
        message += f"; stopped at delete_max_keys ({lim.max_keys:,}): run it again for the rest"
    output = "\n".join(sample)
    return Outcome.SUCCEEDED, message, output


async def _bgsave(client: aioredis.Redis, lim: Limits) -> tuple[Outcome, str, str]:
    before = await client.info("persistence")
    started = time.monotonic()
    try:
        answer = await client.bgsave()
    except rexc.ResponseError as exc:
        return Outcome.FAILED, f"BGSAVE refused by the server: {exc}", ""
    said = clean(answer.decode() if isinstance(answer, bytes) else answer, limit=80)
    said = "background saving started" if said in ("True", "OK") else said.lower()
    # A scheduled save waits for an AOF rewrite; a started one is forked by now.
    scheduled = "scheduled" in said
    info = before
    while time.monotonic() - started < BGSAVE_WAIT:
        info = await client.info("persistence")
        running = as_int(info.get("rdb_bgsave_in_progress")) == 1
        if not running and not (scheduled and _saves(info) == _saves(before)):
            break
        await asyncio.sleep(0.1)
    took = time.monotonic() - started
    output = _persistence(info)
    if as_int(info.get("rdb_bgsave_in_progress")) == 1 or (
        scheduled and _saves(info) == _saves(before)
    ):
        return Outcome.SUCCEEDED, f"{said}; still running after {took:.0f} s", output
    if info.get("rdb_last_bgsave_status") == "err":
        return Outcome.FAILED, f"{said}, then failed: see the log of {lim.server}", output
    return Outcome.SUCCEEDED, f"{said}; snapshot written in {took:.1f} s", output


def _saves(info: dict[str, Any]) -> int:
    """Background saves so far (Redis 7), else the time of the last one."""
    return as_int(info.get("rdb_saves", info.get("rdb_last_save_time")))


def _persistence(info: dict[str, Any]) -> str:
    last = as_int(info.get("rdb_last_save_time"))
    age = f"{max(0, time.time() - last) / 60:.0f} min ago" if last else "never"
    parts = [
        f"last snapshot: {age}",
        f"changes since: {as_int(info.get('rdb_changes_since_last_save')):,}",
        f"last background save: {clean(info.get('rdb_last_bgsave_status', 'unknown'), limit=20)}",
    ]
    if as_int(info.get("rdb_bgsave_in_progress")):
        parts.append("a background save is running now")
    return " · ".join(parts)


async def _config_value(client: aioredis.Redis, name: str) -> str:
    try:
        got = await client.config_get(name)
    except rexc.ResponseError as exc:
        return clean(f"(cannot read: {exc})", limit=120)
    for key, value in got.items():
        k = key.decode() if isinstance(key, bytes) else str(key)
        if k.lower() == name:
            return clean(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
    return "(unknown)"
