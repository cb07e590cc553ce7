"""The bus contract: what one console tells the others, and the per-target locks they share.

An event is a nudge, never the truth: "incident 42 has a new timeline entry", "action 17
finished". The store stays the source of truth; a console that may have missed events
(its Redis went away) is told to *resync*: re-read the store, rather than being replayed
anything stale.

Two implementations keep the contract:

- :class:`LocalBus` (here): in-process. A console alone works with no loss of features;
  consoles in one process (tests, a demo) can share a :class:`LocalHub`.
- :class:`~oncall_console.bus.redis.RedisBus`: Redis pub/sub on one channel, and locks
  with ``SET NX PX``.

Decisions the callers rely on:

- ``publish`` never raises for a transport problem and never hangs: it returns False
  (the event is dropped, not queued). It raises ``TypeError`` / ``ValueError`` only for
  an event that could never be sent (a payload value that is not a scalar, too large).
  ``post`` is the same without waiting (for the action path and for sync code): one
  sender task publishes posted events in order.
- ``acquire_lock`` / ``release_lock`` have the store's signature, so the ActionRunner can
  take either; when the lock service cannot be reached they raise :class:`BusUnavailable`
  (bounded in time) and the runner refuses the action.
- Callbacks run on the event loop; an event a console published itself is not echoed
  back to it. A failing callback is logged and does not stop the others.
- Payload text is data, passed through unchanged: cleaning it for a terminal is the UI's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from oncall_console.tasks import within
from oncall_console.urls import check_redis_url  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

Scalar = str | int | float | bool | None
Payload = dict[str, Scalar]

KINDS = frozenset({"timeline", "incident", "presence", "action", "refresh", "result"})
"""Kinds the engine publishes. A received event of another kind (a newer console) is still
delivered; listeners ignore kinds they do not know."""

MAX_EVENT_BYTES = 64 * 1024
"""Largest serialised event; a bigger one is refused on publish and dropped on receipt."""

MAX_OUTBOX = 1000
"""Events waiting to be sent by ``post``; beyond that, new ones are dropped."""

_MAX_KIND = 64
_MAX_ID = 128

EventCallback = Callable[["Event"], Awaitable[None] | None]
ResyncCallback = Callable[[], Awaitable[None] | None]
StatusCallback = Callable[[bool], Awaitable[None] | None]


class MalformedEvent(ValueError):
    """A message on the channel that is not an event of ours; the reader drops it."""


class BusUnavailable(Exception):
    """The shared bus (and its locks) cannot be reached; the message says why, in one line,
    never with a secret in it."""


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a console tells the others. Serialised as one JSON object."""

    kind: str
    """timeline | incident | presence | action | refresh (see KINDS)."""
    payload: Payload
    """Flat: string keys, scalar values (e.g. ``{"incident": "42", "entry": "..."}``)."""
    origin: str
    """The console that published it (``host:pid``)."""
    at: float
    """When it was published (epoch seconds, the publisher's clock)."""
    id: str = field(default_factory=new_id)
    """Unique per event (uuid4 hex)."""

    def to_json(self) -> str:
        """The wire form. TypeError / ValueError for an event that could never be sent."""
        _check_payload(self.payload, TypeError)
        if not isinstance(self.kind, str) or not 0 < len(self.kind) <= _MAX_KIND:
            raise ValueError(f"event kind must be a short non-empty string, not {self.kind!r}")
        data = json.dumps(
            {
                "kind": self.kind,
                "payload": self.payload,
                "origin": self.origin,
                "at": self.at,
                "id": self.id,
            },
            separators=(",", ":"),
            allow_nan=False,
        )
        if len(data) > MAX_EVENT_BYTES:
            raise ValueError(f"event too large ({len(data)} bytes, at most {MAX_EVENT_BYTES})")
        return data

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """Parse the wire form; MalformedEvent for anything that is not one of our events.

        Unknown top-level keys are ignored (a newer console may add some)."""
        if len(raw) > MAX_EVENT_BYTES:
            raise MalformedEvent(f"too large ({len(raw)} bytes)")
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            data = json.loads(text, parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise MalformedEvent(f"not JSON: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise MalformedEvent("not a JSON object")
        kind, payload, origin = data.get("kind"), data.get("payload"), data.get("origin")
        at, id_ = data.get("at"), data.get("id")
        if not isinstance(kind, str) or not 0 < len(kind) <= _MAX_KIND:
            raise MalformedEvent("no kind")
        if not isinstance(origin, str):
            raise MalformedEvent("no origin")
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
            raise MalformedEvent("no time")
        if not isinstance(id_, str) or not 0 < len(id_) <= _MAX_ID:
            raise MalformedEvent("no id")
        if not isinstance(payload, dict):
            raise MalformedEvent("payload is not an object")
        _check_payload(payload, MalformedEvent)
        return cls(kind, payload, origin, float(at), id_)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _check_payload(payload: object, error: type[Exception]) -> None:
    if not isinstance(payload, dict):
        raise error("payload must be a dict")
    for key, value in payload.items():
        if not isinstance(key, str):
            raise error(f"payload key {key!r} is not a string")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise error(f"payload[{key!r}] must be a string, number, bool or None")
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"payload[{key!r}] is not a finite number")


class Bus:
    """What every bus implements. ``start`` never raises for a connection problem: it
    records it in ``connected`` / ``last_error`` and keeps trying in the background."""

    def __init__(self, console: str, *, clock: Callable[[], float] = time.time) -> None:
        self.console = console
        """This console's id (the engine's ``host:pid``); events from it are not echoed."""
        self.clock = clock
        self.connected = False
        """Can this console reach the others now?"""
        self.last_error = ""
        """Why not, in one line (empty while connected)."""
        self.received = 0
        """Events delivered from other consoles."""
        self.malformed = 0
        """Messages on the channel that were not events (dropped)."""
        self.dropped = 0
        """Posted events that could not be sent."""
        self._outbox: deque[Event] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._on_event: list[EventCallback] = []
        self._on_resync: list[ResyncCallback] = []
        self._on_status: list[StatusCallback] = []
        self._pending: set[asyncio.Future[Any]] = set()

    # --- what the engine calls ---------------------------------------------------------------

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def publish(self, event: Event) -> bool:
        """Send to the other consoles. False (quickly) when it could not be sent."""
        raise NotImplementedError

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None:
        """Take ``key`` for ``holder`` for ``ttl`` seconds. None if taken (or already ours:
        re-entrant, the expiry is extended); else who holds it. BusUnavailable if unreachable."""
        raise NotImplementedError

    async def release_lock(self, key: str, holder: str) -> None:
        """Release ``key`` if ``holder`` still holds it; someone else's lock is left alone."""
        raise NotImplementedError

    def post(self, event: Event) -> None:
        """Publish without waiting; posted events are sent in order by one task. An event
        that could never be sent raises here (TypeError / ValueError); one that cannot be
        sent now, or beyond MAX_OUTBOX waiting, is dropped and counted in ``dropped``."""
        event.to_json()
        if len(self._outbox) >= MAX_OUTBOX:
            self.dropped += 1
            return
        self._outbox.append(event)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait (at most ``timeout`` s) until every posted event has been sent or dropped."""
        sender = self._sender
        if sender is not None and not sender.done():
            with contextlib.suppress(TimeoutError):
                await within(asyncio.shield(sender), timeout)

    async def _send(self) -> None:
        while self._outbox:
            event = self._outbox.popleft()
            try:
                sent = await self.publish(event)
            except Exception:
                log.exception("bus: publishing a posted event failed")
                sent = False
            if not sent:
                self.dropped += 1

    def event(self, kind: str, payload: Payload | None = None, **more: Scalar) -> Event:
        """A new event from this console, stamped with its id and the time."""
        return Event(kind, {**(payload or {}), **more}, self.console, self.clock())

    def subscribe(self, callback: EventCallback) -> None:
        """Call ``callback(event)`` on the event loop for every event from another console."""
        self._on_event.append(callback)

    def on_resync(self, callback: ResyncCallback) -> None:
        """Call ``callback()`` after a reconnection: events may have been missed, re-read
        the store."""
        self._on_resync.append(callback)

    def on_status(self, callback: StatusCallback) -> None:
        """Call ``callback(connected)`` whenever ``connected`` changes."""
        self._on_status.append(callback)

    async def __aenter__(self) -> Bus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- for implementations -----------------------------------------------------------------

    def _deliver(self, event: Event) -> None:
        if event.origin == self.console:
            return  # our own, back from the channel
        self.received += 1
        for callback in list(self._on_event):
            self._call(callback, event)

    def _resync(self) -> None:
        for callback in list(self._on_resync):
            self._call(callback)

    def _set_connected(self, connected: bool, error: str = "") -> None:
        self.last_error = "" if connected else error
        if connected != self.connected:
            self.connected = connected
            for callback in list(self._on_status):
                self._call(callback, connected)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                future = asyncio.ensure_future(result)
                self._pending.add(future)
                future.add_done_callback(self._finished)
        except Exception:
            log.exception("bus callback %r failed", callback)

    def _finished(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("bus callback failed", exc_info=future.exception())

    async def _cancel_pending(self) -> None:
        """For ``close``, after ``flush``: drop what is still waiting, stop the callbacks."""
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None
        self.dropped += len(self._outbox)
        self._outbox.clear()
        for future in list(self._pending):
            future.cancel()
        self._pending.clear()


class LocalHub:
    """What LocalBus instances in one process share: each other, and the locks."""

    def __init__(self) -> None:
        self.buses: list[LocalBus] = []
        self.locks: dict[str, tuple[str, float]] = {}
        """key -> (holder, expires_at), in the callers' clock."""


class LocalBus(Bus):
    """In-process: the default when no Redis is configured. A console alone loses nothing;
    consoles that share a ``hub`` see each other's events and locks.

    Locks expire by the ``now`` the caller passes, exactly like the store's locks. Every
    method runs without awaiting in between, so it is atomic on the event loop.
    """

    def __init__(
        self,
        console: str = "local",
        *,
        hub: LocalHub | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(console, clock=clock)
        self.hub = hub or LocalHub()

    async def start(self) -> None:
        if self not in self.hub.buses:
            self.hub.buses.append(self)
        self._set_connected(True)

    async def close(self) -> None:
        await self.flush()
        if self in self.hub.buses:
            self.hub.buses.remove(self)
        self.connected, self.last_error = False, "closed"  # no callbacks while closing
        await self._cancel_pending()

    async def publish(self, event: Event) -> bool:
        data = event.to_json()  # the same checks as on the wire, so a bad payload shows here
        loop = asyncio.get_running_loop()
        for bus in self.hub.buses:
            if bus is not self:
                # A decoded copy, delivered later: like Redis, never re-entrant, never shared.
                loop.call_soon(bus._deliver, Event.from_json(data))
        return True

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None:
        current = self.hub.locks.get(key)
        if current is not None and current[1] > now and current[0] != holder:
            return current[0]
        self.hub.locks[key] = (holder, now + ttl)
        return None

    async def release_lock(self, key: str, holder: str) -> None:
        current = self.hub.locks.get(key)
        if current is not None and current[0] == holder:
            del self.hub.locks[key]
