"""Probes shared by the consoles of a team (issue #14, point 2).

Ten engineers open the console in a war room: without this, a struggling service gets
ten times the health probes at the worst moment. Consoles on one Redis bus elect one
of them to poll the checks:

- **The lease.** A Redis key (``…:lock:lease:probes``, through the bus's lock script:
  ``SET NX PX``, extended by the same holder, compare-and-delete on release). Every
  console tries to take or extend it every third of its time to live; the holder polls,
  the others follow. The TTL is the shortest check interval (at least 2 s), so a
  console that dies loses the lease within one interval and another takes it within
  a third more; its checks older than their interval are probed at once. The lease is
  renewed from the same event loop that polls, so a console whose loop hangs stops
  renewing and loses it too; when it wakes it finds another holder and follows.
- **Results.** The holder publishes each check's (already redacted) result on the
  bus as a ``result`` event; a follower records it as it came, with its own ``at``
  (the UI shows its age) and who probed it (the detail view's ``probed by``). A result
  older than the one a console has is ignored; a malformed one is dropped.
- **Fallback.** When the bus is down, or the lease cannot be read, every console
  polls on its own again (``alone``), exactly as without a bus.
- **What is not shared.** Actions, their locks, the audit trail, verification
  re-probes after an action, SLIs and alert feeds stay per console. ``r`` on a
  follower probes its own checks once (an engineer who asks, gets).

``[bus] share_probes = false`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from dataclasses import replace
from typing import Any

from oncall_console.bus.base import BusUnavailable, Event
from oncall_console.model import CheckResult, Status
from oncall_console.model.health import DetailTable, SubStatus
from oncall_console.tasks import stop_tasks

LEASE = "lease:probes"
KIND = "result"
MAX_TEXT = 4000
"""Longest string field accepted from another console (a summary, a detail, a cell)."""


class ProbeSharing:
    """One console's part in sharing probes: its role, the lease loop, the results."""

    def __init__(self, engine: Any, *, enabled: bool) -> None:
        """``engine``: the Engine (engine/core.py) whose checks, poller and bus these are
        (not imported here: core imports this module)."""
        self.engine = engine
        self.bus = engine.bus
        self.enabled = enabled and bool(engine.checks)
        self.role = "alone"
        """alone (polls, no team), leader (polls for the team) or follower."""
        self.holder = ""
        """Who polls for the team (this console when leader; empty when alone)."""
        intervals = [s.spec.interval for s in engine.checks.values()]
        self.ttl = max(2.0, min(intervals, default=10.0))
        self.renew = self.ttl / 3
        self.received = 0
        self.malformed = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        if self.enabled:
            engine.poller.gate = self.polls
            engine.poller.on_result = self.publish
            self.bus.subscribe(self._on_event)

    @property
    def console(self) -> str:
        return self.engine.console_id

    def polls(self) -> bool:
        """Does this console probe its checks on their intervals now?"""
        return self.role != "follower"

    # --- the lease ---------------------------------------------------------------------

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="lease")

    async def stop(self) -> None:
        """Stop taking the lease; give it back when held (another console takes over at
        its next try, not after the TTL)."""
        self._stopping = True
        task, self._task = self._task, None
        await stop_tasks([task])
        if self.role == "leader":
            with contextlib.suppress(Exception):
                await self.bus.release_lock(LEASE, self.console)
        self.role, self.holder = "alone", ""

    async def _loop(self) -> None:
        while not self._stopping:  # a lost cancel costs one turn (see oncall_console.tasks)
            await self.tick()
            await asyncio.sleep(self.renew)

    async def tick(self) -> None:
        """Take or extend the lease once, and take the role that follows."""
        if not self.bus.connected:
            self._become("alone", "")
            return
        try:
            other = await self.bus.acquire_lock(LEASE, self.console, self.ttl, self.engine.clock())
        except BusUnavailable:
            self._become("alone", "")
            return
        if other is None:
            self._become("leader", self.console)
        else:
            self._become("follower", other)

    def _become(self, role: str, holder: str) -> None:
        if (role, holder) == (self.role, self.holder):
            return
        was, self.role, self.holder = self.role, role, holder
        if was == "follower" and role != "follower":
            # This console polls again: what the old holder left older than its interval
            # is probed now, not at its next slot.
            now = self.engine.clock()
            for name, state in self.engine.checks.items():
                if state.last is None or now - state.last.at >= state.spec.interval:
                    self.engine.poller.wake_check(name)
        self.engine._changed()

    # --- results -------------------------------------------------------------------------

    def publish(self, result: CheckResult) -> None:
        """The poller's hook after each probe: the holder tells the team."""
        if self.role != "leader":
            return
        for tables in (True, False):  # too large with its tables: without them
            try:
                self.bus.post(self.bus.event(KIND, result=encode(result, tables=tables)))
                return
            except (TypeError, ValueError):
                continue

    def _on_event(self, event: Event) -> None:
        if event.kind != KIND or self.role != "follower":
            return
        try:
            result = decode(event.payload.get("result"))
        except (TypeError, ValueError, KeyError):
            self.malformed += 1
            return
        state = self.engine.checks.get(result.check)
        if state is None or (state.last is not None and state.last.at >= result.at):
            return
        details = {**result.details, "probed by": event.origin}
        state.record(replace(result, details=details))
        self.received += 1
        self.engine._changed()


def encode(result: CheckResult, *, tables: bool = True) -> str:
    """The wire form of a result: one JSON string (bus payloads are flat)."""
    return json.dumps(
        {
            "check": result.check,
            "status": result.status.value,
            "summary": result.summary,
            "latency_ms": result.latency_ms,
            "at": result.at,
            "details": result.details,
            "subs": [[s.name, s.status.value, s.detail] for s in result.substatuses],
            "error": result.error,
            "tables": [[t.title, list(t.columns), [list(r) for r in t.rows]] for t in result.tables]
            if tables
            else [],
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def decode(raw: object) -> CheckResult:
    """A result from another console; ValueError / TypeError / KeyError for anything that
    is not one (every field's type checked, every string bounded)."""
    if not isinstance(raw, str):
        raise TypeError("not a string")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("not an object")
    latency = data["latency_ms"]
    if latency is not None:
        latency = _number(latency)
    error = data["error"]
    return CheckResult(
        check=_text(data["check"]),
        status=Status(data["status"]),
        summary=_text(data["summary"]),
        latency_ms=latency,
        at=_number(data["at"]),
        details={_text(k): _text(v) for k, v in _dict(data["details"]).items()},
        substatuses=tuple(
            SubStatus(_text(n), Status(s), _text(d)) for n, s, d in _list(data["subs"])
        ),
        error=None if error is None else _text(error),
        tables=tuple(
            DetailTable(
                _text(title),
                tuple(_text(c) for c in _list(columns)),
                tuple(tuple(_text(cell) for cell in _list(row)) for row in _list(rows)),
            )
            for title, columns, rows in _list(data["tables"])
        ),
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value[:MAX_TEXT]


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("not a finite number")
    return float(value)


def _dict(value: object) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise TypeError("not an object")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


__all__ = ["KIND", "LEASE", "ProbeSharing", "decode", "encode"]
