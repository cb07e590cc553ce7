"""The probe worker: an ``http`` backend's probes in a process of their own.

At 10,000 checks one core is not enough for the probes and the console (a probe costs
~0.1 ms of CPU in the console's process: the lean client, the judging, the poller's
tasks and the event loop around them). The engine hands a big ``http`` backend's
cycle to this process (``pool.py`` starts it and talks to it; ``[poller] workers``
says when): it runs the SAME probe code (``judge.py``, ``probe.py``, ``wire.py``) on
its own event loop (uvloop when installed: its transports and timers are C), with a
concurrency of its own, and sends results back as plain tuples, a batch every 2 ms.

It imports only what probing needs: no pydantic, no httpx, no UI (a test checks). Each
worker is a fresh interpreter that holds what it imported all shift; the console sends
what it validated and parsed as plain data (:class:`WorkerSetup`, ``ProbeParams``, each
URL's ``Origin``).

The pipe is a socketpair whose end is passed as a file descriptor; every message is
a 4-byte length and a pickle (both ends are this package, started by this package):

- parent -> worker: ``("setup", WorkerSetup, token, limit)``, ``("specs", [(id,
  CheckSpec with ProbeParams), ...], {url: Origin})``, ``("probe", [id, ...])``;
- worker -> parent: ``("results", [(id, status, summary, latency_ms, details,
  substatuses, error) | (id, None, error), ...])``.

The token comes over the pipe, never on the command line or in the environment.
The worker dies with its parent: ``PR_SET_PDEATHSIG`` (Linux) and, everywhere, the
end of the pipe.

    python -m oncall_console.backends.http.worker FD PARENT_PID
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
import signal
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oncall_console.backends.http.frames import Frames
from oncall_console.backends.http.judge import CheckProbe, SetupError
from oncall_console.backends.http.probe import (
    Origin,
    ProbeClient,
    ProbeError,
    probe_headers,
    tls_context,
)
from oncall_console.errors import describe

FLUSH_SECONDS = 0.002
"""Results wait this long to go back as one message (pool.py says why)."""


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What the worker's client needs of the backend's validated options."""

    headers: Mapping[str, str]
    """Every probe's headers (User-Agent, Accept, the configured ones)."""
    max_connections: int
    """Probes in flight at once to one origin."""
    max_body_bytes: int
    verify_tls: bool
    cafile: str | None
    capath: str | None
    """Where the CAs come from, as the console chose (connections.py)."""

    @classmethod
    def of(cls, options: Any, cas: tuple[str | None, str | None]) -> WorkerSetup:
        """From the backend's options, read by attribute (the validated model, or the
        first poll's plain reading), and the CAs chosen for them."""
        return cls(
            headers=probe_headers(options.user_agent, options.headers),
            max_connections=options.max_connections,
            max_body_bytes=options.max_body_bytes,
            verify_tls=options.verify_tls,
            cafile=cas[0],
            capath=cas[1],
        )


# --- the worker's side --------------------------------------------------------------------


class _Probes(CheckProbe):
    """judge.py's probing on the worker's own client, with the URLs the console parsed."""

    def __init__(self, setup: WorkerSetup, token: str | None, limit: int) -> None:
        self.setup = setup
        self._token = token
        self.limit = limit
        self.origins: dict[str, Origin] = {}
        self.client: ProbeClient | None = None
        self.error: str | None = None

    def _probe_client(self) -> ProbeClient:
        if self.error is not None:
            raise SetupError(self.error)
        if self.client is None:
            s = self.setup
            try:
                tls = tls_context(s.verify_tls, s.cafile, s.capath)
            except (OSError, ssl.SSLError) as exc:
                self.error = f"TLS: cannot load ca_file {s.cafile}: {exc}"
                raise SetupError(self.error) from exc
            # the client's slots are the worker's own concurrency; max_connections bounds
            # each origin here (pump)
            self.client = ProbeClient(
                tls=tls,
                headers=s.headers,
                max_connections=self.limit,
                max_body_bytes=s.max_body_bytes,
                origins=self.origin,
            )
        return self.client

    def origin(self, url: str) -> Origin:
        found = self.origins.get(url)
        if found is None:  # the console could not parse it (config validation did)
            raise ProbeError(f"not an http(s) URL: {url}")
        return found

    def _now(self) -> float:
        return time.time()  # days left on a certificate (each result is stamped by pool.py)

    def _body_cap(self) -> int:
        return self.setup.max_body_bytes

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


class _Worker:
    """Probes what the parent asks for: at most ``limit`` at once, and at most the
    backend's ``max_connections`` at once to any one origin (a struggling service is
    not hammered because it has many checks)."""

    def __init__(self, frames_done: asyncio.Future[None]) -> None:
        self.frames: Frames | None = None
        self.done = frames_done
        self.probes: _Probes | None = None
        self.specs: dict[int, Any] = {}
        self.origin_of: dict[int, tuple[str, str, int]] = {}
        self.queues: dict[tuple[str, str, int], deque[int]] = {}
        self.running: dict[tuple[str, str, int], int] = {}
        self.in_flight = 0
        self.limit = 256
        self.per_origin = 100
        self.out: list[tuple[Any, ...]] = []
        self.flush_soon = False
        self.tasks: set[asyncio.Task[None]] = set()

    def on_message(self, message: Any) -> None:
        kind = message[0]
        if kind == "probe":
            for i in message[1]:
                key = self.origin_of[i]
                q = self.queues.get(key)
                if q is None:
                    q = self.queues[key] = deque()
                q.append(i)
            self.pump()
        elif kind == "specs":
            assert self.probes is not None  # setup comes first
            self.probes.origins.update(message[2])
            keys = {k: k for k in self.origin_of.values()}  # one tuple per origin
            for i, spec in message[1]:
                self.specs[i] = spec
                o = self.probes.origins.get(spec.params.url)
                key = (o.scheme, o.host, o.port) if o else ("", "", 0)
                self.origin_of[i] = keys.setdefault(key, key)
        elif kind == "setup":
            self.setup(*message[1:])

    def setup(self, setup: WorkerSetup, token: str | None, limit: int) -> None:
        # the parent read the token (from its environment or file); nothing is read here
        self.probes = _Probes(setup, token, limit)
        # What a probe allocates (futures, a task's frames, responses, result tuples) is
        # freed by reference counting; the cyclic collector's young pass every 700
        # allocations was ~10-15 % of the worker's CPU at 10,000 checks. The set-up's
        # objects are frozen out of it, and it runs every 50,000 allocations.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        self.limit = limit
        self.per_origin = setup.max_connections

    def pump(self) -> None:
        """Start lanes while there is room: per origin up to ``per_origin``, in all up to
        ``limit``. A lane is one task probing its origin's queue one check after another
        (no task per probe: at 10,000 checks their set-up was a tenth of the worker)."""
        loop = asyncio.get_running_loop()
        for key, q in list(self.queues.items()):
            lanes = self.running.get(key, 0)
            start = min(self.per_origin - lanes, len(q), self.limit - self.in_flight)
            for _ in range(max(0, start)):
                task = loop.create_task(self.lane(key, q))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            if start > 0:
                self.running[key] = lanes + start
                self.in_flight += start
            if self.in_flight >= self.limit:
                return

    async def lane(self, key: tuple[str, str, int], q: deque[int]) -> None:
        try:
            while q:
                await self.probe(q.popleft())
        finally:
            self.running[key] -= 1
            self.in_flight -= 1
            if not q and self.queues.get(key) is q:
                del self.queues[key]
        if self.queues:
            self.pump()  # room for another origin's queue

    async def probe(self, i: int) -> None:
        spec = self.specs[i]
        out: tuple[Any, ...]
        try:
            # no timeout of its own: each request of the probe has the check's (judge.py);
            # the console's backstop is that timeout plus engine/batch.py's QUEUE_GRACE
            assert self.probes is not None
            r = await self.probes.probe_with(spec, spec.params)
            subs = tuple((s.name, s.status.value, s.detail) for s in r.substatuses)
            out = (i, r.status.value, r.summary, r.latency_ms, r.details, subs, r.error)
        except Exception as exc:  # as the poller does: one clean line
            out = (i, None, describe(exc, spec.timeout))
        self.out.append(out)
        if not self.flush_soon:
            self.flush_soon = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self.flush_soon = False
        out, self.out = self.out, []
        if out and self.frames is not None:
            self.frames.send(("results", out))

    def lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _serve(fd: int) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    worker = _Worker(done)
    sock = socket.socket(fileno=fd)
    _, frames = await loop.create_unix_connection(
        lambda: Frames(worker.on_message, worker.lost), sock=sock
    )
    worker.frames = frames
    loop.add_signal_handler(signal.SIGTERM, lambda: worker.lost(None))
    await done  # the parent closed its end (or died): nothing more to do
    if worker.probes is not None:
        with contextlib.suppress(Exception):
            await worker.probes.aclose()


def die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies (Linux); the pipe's end covers the rest."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


def main() -> None:
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C in the console's terminal is its own
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(fd))
    else:
        uvloop.run(_serve(fd))


if __name__ == "__main__":
    main()
