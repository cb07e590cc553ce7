"""The Redis bus: events on one pub/sub channel, and per-target locks, shared by a team.

- Channel ``oncall-console:<environment>:events``; lock keys
  ``oncall-console:<environment>:lock:<key>``. Consoles of different environments sharing
  one Redis do not see each other.
- A reader task holds one subscribed connection. When it fails (Redis stopped, restarted,
  paused: a PING unanswered within ``timeout``), ``connected`` turns False and the reader
  reconnects by itself, with a bounded, jittered backoff, for as long as the bus is open.
  Once back it replays nothing: it calls the resync callbacks (re-read the store), and if
  this console dropped events meanwhile it publishes one ``refresh`` so the others re-read
  too.
- ``publish`` while disconnected returns False at once (dropped, not queued).
- Locks: an atomic script does ``SET key holder NX PX ttl`` and, when the key is already
  held by the same holder, extends it (``PEXPIRE``): re-entrant. Release deletes the key
  only if it still holds our holder (compare-and-delete). Expiry is Redis's own clock; the
  ``now`` argument of the Locks contract is not used here.
- Every call is bounded in time: socket and connect timeouts plus an overall deadline.
  A lock call that cannot reach Redis raises BusUnavailable; the runner then refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff

from oncall_console.bus.base import Bus, BusUnavailable, Event, MalformedEvent, check_redis_url
from oncall_console.errors import describe
from oncall_console.secrets import SecretMissing, redact, resolve
from oncall_console.tasks import within
from oncall_console.text import clean

log = logging.getLogger(__name__)

# KEYS[1] lock key; ARGV[1] holder, ARGV[2] ttl in ms. nil: taken (or already ours, and
# extended); else the current holder.
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return false
end
return holder
"""

# Compare-and-delete: 1 if it was ours and is gone, 0 if it was not ours (left alone).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisBus(Bus):
    def __init__(
        self,
        url: str,
        *,
        console: str,
        environment: str = "production",
        username: str | None = None,
        password_env: str | None = None,
        password_file: str | None = None,
        timeout: float = 2.0,
        ping_interval: float = 5.0,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``timeout`` bounds every call (and how long an unanswered PING is tolerated);
        ``ping_interval`` is how often an idle reader checks that Redis still answers;
        reconnection waits ``backoff_min`` doubling up to ``backoff_max`` seconds."""
        super().__init__(console, clock=clock)
        self.url = check_redis_url(url)
        parts = urlsplit(url)
        self.address = f"{parts.hostname}:{parts.port or 6379}"
        self.username = username
        self.password_env = password_env
        self.password_file = password_file
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.backoff_min = backoff_min
        self.backoff_max = max(backoff_min, backoff_max)
        self.prefix = f"oncall-console:{environment}"
        self.channel = f"{self.prefix}:events"
        self.client_name = "oncall-console:" + re.sub(r"[^A-Za-z0-9:._-]", "_", console)[:100]
        """Shown by ``CLIENT LIST``: which console a connection belongs to."""
        self.reconnects = 0
        """How many times the reader came back after losing Redis."""
        self._password: str | None = None
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._dropped_while_down = False

    def lock_key(self, key: str) -> str:
        return f"{self.prefix}:lock:{key}"

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe (bounded by ``timeout``) and start the reader. Never raises for a
        connection or secret problem: ``connected`` False and ``last_error`` say why, and the
        reader keeps trying."""
        if self._reader is not None:
            return
        self._closing = False
        pubsub: tuple[aioredis.Redis, PubSub] | None = None
        try:
            pubsub = await self._subscribe()
            self._set_connected(True)
        except Exception as exc:
            self._set_connected(False, self._describe(exc))
        self._reader = asyncio.create_task(self._read(pubsub), name=f"bus-reader {self.channel}")

    async def close(self) -> None:
        """Send what was posted (bounded by ``timeout``), stop the reader, disconnect."""
        await _within(self.flush(self.timeout), self.timeout * 2)
        self._closing = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await _within(reader, self.timeout)
        client, self._client = self._client, None
        if client is not None:
            await _within(client.aclose(), self.timeout)
        self.connected, self.last_error = False, "closed"  # no callbacks while closing
        await self._cancel_pending()

    # --- events ------------------------------------------------------------------------------

    async def publish(self, event: Event) -> bool:
        data = event.to_json()  # TypeError / ValueError: this event could never be sent
        if self._closing or not self.connected:
            self._dropped_while_down = True
            return False
        try:
            async with asyncio.timeout(self.timeout):
                await self._commands().publish(self.channel, data)
        except Exception as exc:
            self.last_error = self._describe(exc)
            self._dropped_while_down = True
            return False
        return True

    # --- locks -------------------------------------------------------------------------------

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None:
        ttl_ms = max(1, round(ttl * 1000))
        found = await self._script(ACQUIRE, self.lock_key(key), holder, ttl_ms)
        if found is None:
            return None
        return found.decode("utf-8", "replace") if isinstance(found, bytes) else str(found)

    async def release_lock(self, key: str, holder: str) -> None:
        await self._script(RELEASE, self.lock_key(key), holder)

    async def holder(self, key: str) -> str | None:
        """Who holds ``key`` now (None: nobody); BusUnavailable if unreachable."""
        try:
            async with asyncio.timeout(self.timeout):
                found = await self._commands().get(self.lock_key(key))
        except Exception as exc:
            raise BusUnavailable(self._unreachable(exc)) from None
        if found is None:
            return None
        return found.decode("utf-8", "replace") if isinstance(found, bytes) else str(found)

    async def _script(self, script: str, key: str, *args: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                # EVAL (not EVALSHA): nothing to re-load after Redis restarts.
                return await self._commands().eval(script, 1, key, *args)
        except Exception as exc:
            raise BusUnavailable(self._unreachable(exc)) from None

    # --- connections -------------------------------------------------------------------------

    def _resolve_password(self) -> str | None:
        self._password = resolve("password", self.password_env, self.password_file)
        return self._password

    def _new_client(self, retry: Retry, max_connections: int) -> aioredis.Redis:
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=max_connections,
            timeout=self.timeout,
            username=self.username,
            password=self._resolve_password(),
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=retry,
            client_name=self.client_name,
        )
        return aioredis.Redis.from_pool(pool)

    def _commands(self) -> aioredis.Redis:
        """The client for publish and locks; one quick retry (a pooled connection may be
        from before a Redis restart). Lock scripts are safe to retry: re-entrant / idempotent."""
        if self._client is None:
            self._client = self._new_client(Retry(ExponentialBackoff(cap=0.2, base=0.02), 1), 8)
        return self._client

    async def _subscribe(self) -> tuple[aioredis.Redis, PubSub]:
        """A client of its own (no retries: a failure must reach the reader) subscribed to
        the channel, the subscription confirmed."""
        client = self._new_client(Retry(NoBackoff(), 0), 1)
        pubsub = client.pubsub()
        try:
            async with asyncio.timeout(self.timeout):
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=self.timeout)
                    if message is not None and message["type"] == "subscribe":
                        break
        except BaseException:
            await self._discard((client, pubsub))
            raise
        return client, pubsub

    async def _discard(self, conn: tuple[aioredis.Redis, PubSub]) -> None:
        client, pubsub = conn
        with contextlib.suppress(Exception):
            await within(pubsub.aclose(), self.timeout)
        with contextlib.suppress(Exception):
            await within(client.aclose(), self.timeout)

    async def _read(self, conn: tuple[aioredis.Redis, PubSub] | None) -> None:
        """The reader: listen; when the connection fails, reconnect with backoff, forever."""
        delay = self.backoff_min
        while not self._closing:
            if conn is None:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff_max)
                try:
                    conn = await self._subscribe()
                except Exception as exc:
                    self._set_connected(False, self._describe(exc))
                    continue
                delay = self.backoff_min
                self.reconnects += 1
                self._set_connected(True)
                log.info("bus %s: reconnected to %s", self.channel, self.address)
                await self._back()
            try:
                await self._listen(conn[1])
            except Exception as exc:
                self._set_connected(False, self._describe(exc))
                log.info("bus %s: lost %s: %s", self.channel, self.address, self.last_error)
            finally:
                await self._discard(conn)
                conn = None

    async def _back(self) -> None:
        """After a reconnection: nothing stale is replayed; everyone re-reads the store."""
        self._resync()
        if self._dropped_while_down:
            self._dropped_while_down = False
            await self.publish(self.event("refresh", reason="reconnected"))

    async def _listen(self, pubsub: PubSub) -> None:
        """Deliver messages until the connection fails (raises; never returns normally)."""
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.ping_interval
        ping_sent: float | None = None
        poll = min(1.0, self.ping_interval)
        while True:
            message = await pubsub.get_message(timeout=poll)
            now = loop.time()
            if message is not None:
                ping_sent = None  # anything at all from Redis: it is alive
                if message["type"] == "message":
                    self._received(message["data"])
                continue
            if ping_sent is not None and now - ping_sent > self.timeout:
                raise TimeoutError("no answer to PING")
            if ping_sent is None and now >= next_ping:
                async with asyncio.timeout(self.timeout):
                    await pubsub.ping()  # the answer comes back as a "pong" message
                ping_sent, next_ping = now, now + self.ping_interval

    def _received(self, data: Any) -> None:
        try:
            event = Event.from_json(data if isinstance(data, bytes | str) else str(data))
        except MalformedEvent as exc:
            self.malformed += 1
            log.debug("bus %s: dropped a malformed message: %s", self.channel, exc)
            return
        self._deliver(event)

    # --- messages ----------------------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            text = f"no answer from {self.address} within {self.timeout:g} s"
        elif isinstance(exc, SecretMissing):
            text = str(exc)
        else:
            text = describe(exc, secrets=[self._password])
            if self.address not in text:
                text = f"{self.address}: {text}"
        return clean(redact(text, self._password), limit=300)

    def _unreachable(self, exc: BaseException) -> str:
        return f"the Redis bus is unreachable ({self._describe(exc)})"


async def _within(work: Any, timeout: float) -> None:
    """Wait for ``work`` at most ``timeout`` seconds, then go on regardless.

    Unlike ``asyncio.wait_for`` this never waits for a cancelled task to agree to stop:
    a client stuck on a paused server must not hang a console's shutdown.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        return
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
