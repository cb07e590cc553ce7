"""The console's side of the probe workers (``worker.py``): batches of checks out, results
in, a worker that died reported and replaced.

When: ``[poller] workers`` (``BackendContext.workers``): ``"auto"`` hands a backend's
cycle to one worker once it has :data:`AUTO_MIN_CHECKS` checks, one more per
:data:`AUTO_CHECKS_PER_WORKER` (at most one per CPU), a number N to N workers whatever
the count, 0 never. Not with a proxy variable set (httpx carries
those probes, in the console) nor while the token cannot be read (each probe says so).

A worker probes up to :data:`WORKER_CONCURRENCY` checks at once, and at most the
backend's ``max_connections`` at once to one origin: the console's ``[poller]
concurrency`` (64) would make 10,000 checks at 5 ms take 781 ms whatever the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from oncall_console.backends.base import Backend
from oncall_console.backends.http.connections import HttpConnections, SetupError
from oncall_console.backends.http.frames import Frames
from oncall_console.backends.http.judge import ProbeParams
from oncall_console.backends.http.probe import Origin, origin_of
from oncall_console.backends.http.worker import WorkerSetup
from oncall_console.model import CheckResult, CheckSpec, Status, SubStatus

AUTO_MIN_CHECKS = 1000
"""``workers = "auto"``: a backend with at least this many checks gets a worker."""
AUTO_CHECKS_PER_WORKER = 5000
"""``workers = "auto"``: one more worker per this many checks, at most one per CPU (10,000
checks on 2 CPUs, quiet: one worker 645 ms a cycle, two 552 ms; bench/poll_cycle.py)."""
WORKER_CONCURRENCY = 512
"""Probes in flight at once in one worker (each origin: at most ``max_connections``)."""
WORKER_MODULE = "oncall_console.backends.http.worker"
"""What the worker process runs (python -m)."""
FLUSH_SECONDS = 0.002
"""Sends to a worker (and its results back) wait this long to go as one message: the
console's loops ask for a probe or two per loop tick, and each message costs a wake-up
of the other process (~30 us of the sender's CPU)."""
_ENV_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
"""(Where the CAs are, SSL_CERT_FILE or SSL_CERT_DIR included, comes in WorkerSetup.)"""
_ROOT = str(Path(__file__).resolve().parents[3])
"""The folder holding this ``oncall_console``: the worker imports the same code."""

Deliver = Callable[[int, "CheckResult | BaseException"], None]


class ProbeWorkerDied(Exception):
    """The worker process ended (or its pipe broke) before answering."""


def worker_env() -> dict[str, str]:
    """The worker's environment: a few variables by name, so that no secret the console's
    environment holds (a token, a password) is in ``/proc/<worker>/environ``."""
    env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)
    return env


class ProbeWorker:
    """One worker process and its pipe."""

    def __init__(self, name: str, setup: WorkerSetup, token: str | None) -> None:
        self.name = name
        self.setup = setup
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: IO[bytes] | None = None
        """What the worker writes to stderr: a file of its own, never the terminal (the
        console's screen would keep it); its last line says why a worker died."""
        self.frames: Frames | None = None
        self.dead = False
        self.answered = False
        """It sent results at least once (one that never did cannot run here)."""
        self._ids: dict[str, tuple[CheckSpec, int]] = {}
        self._next = 0
        self._waiting: dict[int, list[tuple[Deliver, int, CheckSpec, float]]] = {}
        """Who waits for each check's next answer (asks before it is sent share it)."""
        self._sent: set[int] = set()
        """Checks whose probe has gone to the worker and not yet come back."""
        self._again: dict[int, list[tuple[Deliver, int, CheckSpec, float]]] = {}
        """Asks that came after the check's probe was sent: the answer to a request that
        left before them is not theirs (an action's verification would read the state
        from before the action), so the check is probed again once it is back."""
        self._batch: list[int] = []
        self._new: list[tuple[int, CheckSpec]] = []
        self._flush_soon = False
        self.clock: Callable[[], float] = time.time

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self) -> None:
        mine, theirs = socket.socketpair()
        self.stderr = tempfile.TemporaryFile(prefix="oncall-probe-worker-")  # noqa: SIM115 (closed in stop)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    WORKER_MODULE,
                    str(theirs.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=(theirs.fileno(),),
                env=worker_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
            )
        except BaseException:  # no worker: nothing will use these, and stop() may not come
            self.stderr.close()
            self.stderr = None
            mine.close()
            raise
        finally:
            theirs.close()
        loop = asyncio.get_running_loop()
        _, self.frames = await loop.create_unix_connection(
            lambda: Frames(self._on_message, self._lost), sock=mine
        )
        self.frames.send(("setup", self.setup, self.token, WORKER_CONCURRENCY))

    def submit(self, specs: Sequence[tuple[int, CheckSpec]], deliver: Deliver) -> None:
        """Ask for these checks (``(i, spec)``: ``deliver(i, ...)`` gets each result); sent
        within FLUSH_SECONDS, with the specs the worker has not seen yet."""
        now = time.perf_counter()
        for i, spec in specs:
            known = self._ids.get(spec.name)
            if known is None or known[0] is not spec:
                known = self._ids[spec.name] = (spec, self._next)
                self._next += 1
                self._new.append((known[1], spec))
            wid = known[1]
            if wid in self._sent:
                self._again.setdefault(wid, []).append((deliver, i, spec, now))
                continue
            waiting = self._waiting.get(wid)
            if waiting is None:
                waiting = self._waiting[wid] = []
                self._batch.append(wid)
            waiting.append((deliver, i, spec, now))
        if self.dead:
            self._fail_all()
        else:
            self._flush_later()

    def _flush_later(self) -> None:
        if not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        new, self._new = self._new, []
        batch, self._batch = self._batch, []
        if self.frames is None:
            return
        if new:
            self.frames.send(("specs", *_plain(new)))
        if batch:
            self._sent.update(batch)
            self.frames.send(("probe", batch))

    def _on_message(self, message: Any) -> None:
        if message[0] != "results":
            return
        self.answered = True
        clock = self.clock()
        waiting = self._waiting
        for item in message[1]:
            self._sent.discard(item[0])
            who = waiting.pop(item[0], None)
            self._ask_again(item[0])
            if not who:
                continue
            spec = who[0][2]
            if item[1] is None:
                error = item[2]
                late = (time.perf_counter() - who[0][3]) * 1000
                result = CheckResult(spec.name, Status.DOWN, error, late, clock, error=error)
            else:
                _, status, summary, latency, details, subs, error = item
                result = CheckResult(
                    spec.name,
                    Status(status),
                    summary,
                    latency,
                    clock,
                    details,
                    tuple(SubStatus(n, Status(s), d) for n, s, d in subs) if subs else (),
                    error,
                )
            for deliver, i, _, _ in who:
                deliver(i, result)

    def _ask_again(self, wid: int) -> None:
        again = self._again.pop(wid, None)
        if again:
            self._waiting[wid] = again
            self._batch.append(wid)
            self._flush_later()

    def _lost(self, exc: Exception | None) -> None:
        self.dead = True
        self.frames = None
        self._fail_when_reaped(0)

    def _fail_when_reaped(self, tries: int) -> None:
        """Fail its checks once its exit status is known (the pipe closes first), so the
        line says how it ended; at most ~0.5 s later."""
        if self.proc is not None and self.proc.poll() is None and tries < 25:
            asyncio.get_running_loop().call_later(0.02, self._fail_when_reaped, tries + 1)
            return
        self._fail_all()

    def _fail_all(self) -> None:
        how = ""
        if self.proc is not None and (code := self.proc.poll()) is not None:
            how = f" (signal {-code})" if code < 0 else f" (exit code {code})"
        if last := self.last_words():
            how += f": {last}"
        waiting, self._waiting = self._waiting, {}
        for wid, who in self._again.items():
            waiting.setdefault(wid, []).extend(who)
        self._again, self._sent = {}, set()
        self._batch, self._new = [], []
        died = ProbeWorkerDied(f"probe worker died{how}")
        for who in waiting.values():
            for deliver, i, _, _ in who:
                deliver(i, died)

    def last_words(self) -> str:
        """The last line the worker wrote to its stderr (at most 200 characters)."""
        if self.stderr is None:
            return ""
        try:
            size = self.stderr.seek(0, os.SEEK_END)
            self.stderr.seek(max(0, size - 4096))
            tail = self.stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return lines[-1][:200] if lines else ""

    async def stop(self) -> None:
        """Close the pipe, then SIGTERM the worker by its PID (SIGKILL after 2 s)."""
        frames, self.frames = self.frames, None
        if frames is not None and frames.transport is not None:
            frames.transport.close()
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 2.0
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                await asyncio.to_thread(proc.wait)
        self.dead = True
        self._fail_all()
        stderr, self.stderr = self.stderr, None
        if stderr is not None:
            stderr.close()


def _plain(
    specs: list[tuple[int, CheckSpec]],
) -> tuple[list[tuple[int, CheckSpec]], dict[str, Origin]]:
    """The checks as the worker takes them: parameters as plain data, and each URL's
    origin parsed here (the worker imports neither pydantic nor httpx). Only what a probe
    reads (name, timeout, parameters), and equal parts as one object, which pickle sends
    once: 1,060 -> 790 bytes a check in the worker (10,000 checks: 10.6 -> 7.9 MB)."""
    plain, origins = [], {}
    same: dict[Any, Any] = {}

    def one(value: Any) -> Any:
        return same.setdefault(value, value)

    for wid, spec in specs:
        params = ProbeParams.of(spec.params)
        params = replace(
            params,
            expect_status=one(params.expect_status),
            degraded_status=one(params.degraded_status),
        )
        plain.append((wid, replace(spec, title="", group="", runbook="", params=params)))
        for url in (params.url, params.ready_url):
            if url is not None and url not in origins:
                with contextlib.suppress(Exception):  # the worker says it is not a URL
                    o = origin_of(url)
                    origins[url] = replace(
                        o, scheme=one(o.scheme), host=one(o.host), host_header=one(o.host_header)
                    )
    return plain, origins


@functools.cache
def _cpus() -> int:
    """Asked once: ``_worker_count`` runs for every scheduled probe."""
    return os.cpu_count() or 1


class BatchProbes(HttpConnections):
    """The ``http`` backend's batches: a big backend's checks go to its probe workers."""

    _workers: list[ProbeWorker] | None = None
    _starting: asyncio.Lock | None = None
    _workers_broken = False
    _checks = 0
    """The backend's checks, as the poller last said (``probes_in_batches``)."""

    def _worker_count(self, checks: int) -> int:
        wanted = self.context.workers
        if wanted == "auto":
            if checks < AUTO_MIN_CHECKS:
                return 0
            return max(1, min(_cpus(), -(-checks // AUTO_CHECKS_PER_WORKER)))
        return int(wanted)

    def probes_in_batches(self, checks: int) -> bool:
        self._checks = checks  # the backend's, which the worker count follows
        if self._worker_count(checks) <= 0 or self._workers_broken:
            return False
        if not self._token_read or self._token_error:
            return False  # in the console, which retries reading it and says why not
        try:
            self._probe_client()  # reads the proxy variables
        except SetupError:
            return False
        return not self._proxies

    async def probe_batch(self, checks: Sequence[CheckSpec], deliver: Deliver) -> None:
        try:
            # As many workers as the backend's checks call for, not this batch's: a
            # scheduled probe of one check stopped the second worker the first cycle
            # started (and the next cycle started it again).
            count = self._worker_count(max(self._checks, len(checks)))
            workers = await self._running_workers(count or 1)
        except OSError:
            # no process to be had (limits, no memory): probed here, as without workers
            await Backend.probe_batch(self, checks, deliver)
            return
        shards: list[list[tuple[int, CheckSpec]]] = [[] for _ in workers]
        for i, spec in enumerate(checks):
            shards[hash(spec.name) % len(workers)].append((i, spec))
        for worker, shard in zip(workers, shards, strict=True):
            if shard:
                worker.submit(shard, deliver)

    async def _running_workers(self, count: int) -> list[ProbeWorker]:
        """``count`` live workers holding the current token: a dead one replaced (one
        caller at a time: concurrent scheduled probes must not start one each)."""
        workers = self._workers
        if workers and len(workers) == count and all(self._fit(w) for w in workers):
            return workers
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            return await self._replace_workers(count)

    def _fit(self, worker: ProbeWorker) -> bool:
        return not worker.dead and worker.token == self._token

    async def _replace_workers(self, count: int) -> list[ProbeWorker]:
        old = self._workers or []
        keep = [w for w in old if self._fit(w)][:count]
        for w in old:
            if w not in keep:
                await w.stop()  # reaps a dead one
                if w.dead and not w.answered:
                    # it died before its first answer (it cannot start here): the
                    # checks it held said so; from now on they are probed in the console
                    self._workers_broken = True
        if self._workers_broken:
            self._workers = keep
            raise OSError("the probe worker cannot start here")
        while len(keep) < count:
            w = ProbeWorker(self.name, self._worker_setup(), self._token)
            w.clock = self.context.clock
            self._workers = keep  # a start that fails leaves only live ones behind
            await w.start()
            keep.append(w)
        self._workers = keep
        return keep

    def _worker_setup(self) -> WorkerSetup:
        return WorkerSetup.of(self.options, self._cas())

    @property
    def worker_pids(self) -> list[int]:
        """The running workers' process ids (tests and benchmarks look at them)."""
        return [w.pid for w in self._workers or [] if w.pid is not None and not w.dead]

    async def close(self) -> None:
        workers, self._workers = self._workers or [], None
        for w in workers:
            await w.stop()
        await super().close()
