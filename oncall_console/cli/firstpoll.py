"""The first poll in a child process, forked before Textual is imported (issue #14).

The parent imports Textual and paints the first frame on one core while the child, on
the other, validates the same config, probes every check once and sends each result
back on a pipe (``engine/prefetch.py`` says what it does and never does). The parent
reads the pipe on its event loop (:meth:`FirstPoll.drain`), shows the results on the
frame and seeds its engine with them.

The child cannot outlive its use: it dies with its parent (``PR_SET_PDEATHSIG``), by an
alarm after :data:`DEADLINE` seconds whatever it is waiting for, and the parent kills
and reaps it by PID once its engine is running or when the console ends. It has no
terminal (stdin, stdout and stderr are /dev/null) and ends with ``os._exit``: nothing
of the parent's (atexit handlers, buffered output) runs twice. What crosses the pipe is
pickled ``model.Early`` records (each unpickled by calling its classes), read only from
the child this process forked.

``ONCALL_FIRST_POLL=0`` turns it off (the console then starts as before).

For ``run`` the child reads the config's sketch (``engine/prefetch.py``: no pydantic
schema on the way to the first probe), and backends whose client library is slow to
import (``OWN_PROCESS``: psycopg, redis) are probed each in a process of its own, forked
by the child, so their imports overlap instead of queueing. Every process writes whole
records of at most ``PIPE_BUF`` bytes (atomic on a pipe: records never interleave); the
child waits for and reaps its own children, which die with it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from oncall_console.tasks import within

Emit = Callable[[Any], None]
Job = Callable[[Emit], None]

FIRST_POLL_MAX = 1000
"""Checks beyond which the console starts without the first poll's child: with 10,000
the child's results (one pickle each, each batch shown on the frame) held the frame
back longer than they helped."""
DEADLINE = 30
"""Seconds the child may live, whatever a probe is waiting for."""
FRAME_WAIT = 1.0
"""Seconds after the fork until which what the first frame cannot show waits, at most,
for the console's first frame (:func:`wait_for_frame`)."""
_HEADER = struct.Struct("!I")


class FirstPoll:
    """The parent's end: the child's PID and the pipe's read end (non-blocking)."""

    def __init__(self, pid: int, fd: int, go: int = -1) -> None:
        self.pid = pid
        self._fd = fd
        self._go = go  # the write end of the pipe the rest of the first poll waits on
        self._buffer = b""
        self.done = False
        """The child has closed its end: everything it will send has been read."""
        self._reaped = False

    @classmethod
    def start(cls, job: Job) -> FirstPoll | None:
        """Fork the child, which runs ``job(emit)`` (:func:`probe_sketch`); None when
        turned off or when the system refuses a fork or a pipe (the console then simply
        starts without it)."""
        if os.environ.get("ONCALL_FIRST_POLL", "1").strip() in {"0", "false", "no", "off"}:
            return None
        try:
            read_end, write_end = os.pipe()
            go_read, go_write = os.pipe()
        except OSError:
            return None
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            for fd in (read_end, write_end, go_read, go_write):
                os.close(fd)
            return None
        if pid == 0:  # the child: never returns
            os.close(read_end)
            os.close(go_write)
            code = 1
            try:
                _child(job, write_end, parent, go_read)
                code = 0
            except BaseException:  # a refused config, a backend's error: the parent says
                pass
            finally:
                os._exit(code)
        os.close(write_end)
        os.close(go_read)
        os.set_blocking(read_end, False)
        return cls(pid, read_end, go_write)

    def fileno(self) -> int:
        return self._fd

    def go(self) -> None:
        """The console's first frame is painted: the rest of the first poll may start.
        Closing this end wakes every process of the child's that waits on the pipe
        (:func:`wait_for_frame`). Safe to call twice."""
        if self._go >= 0:
            os.close(self._go)
            self._go = -1

    def drain(self) -> list[Any]:
        """Every whole result the pipe holds now (``Early`` records); sets :attr:`done`
        at the end of the stream. Never blocks."""
        if self._fd < 0:
            return []
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.done = True
                break
            self._buffer += chunk
        items: list[Any] = []
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, offset)
            end = offset + _HEADER.size + size
            if len(buffer) < end:
                break
            with contextlib.suppress(Exception):  # a torn record is dropped, not raised
                items.append(pickle.loads(buffer[offset + _HEADER.size : end]))
            offset = end
        self._buffer = buffer[offset:]
        return items

    def close(self) -> None:
        """Stop the child (by its PID) and reap it; close the pipes. Safe to call twice."""
        self.go()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._reaped:
            self._reaped = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)


# --- the earliest fork: before argparse and the CLI's imports --------------------------

_early: dict[str, Any] = {}
_RUN_VALUES = {"-c": "config", "--config": "config", "--theme": "theme"}
_DEMO_VALUES = {"--seed": "seed", "--speed": "speed", "--theme": "theme"}


def _early_args(argv: list[str]) -> tuple[str, dict[str, str]] | None:
    """("run" | "demo", {option: value}) when ``argv`` plainly opens the console (no
    abbreviations, nothing unknown); None otherwise (the CLI then forks later, if at all)."""
    words = list(argv)
    command = "run"
    if words and words[0] in ("run", "demo"):
        command = words.pop(0)
    elif words and not words[0].startswith("-"):
        return None
    values = _RUN_VALUES if command == "run" else _DEMO_VALUES
    found: dict[str, str] = {}
    while words:
        word = words.pop(0)
        name, eq, value = word.partition("=")
        if word == "--read-only":
            found["read_only"] = "yes"
            continue
        if name not in values or (name == "-c" and eq):
            return None
        if not eq:
            if not words or words[0].startswith("-"):
                return None
            value = words.pop(0)
        found[values[name]] = value
    return command, found


def start_early(argv: list[str]) -> None:
    """Fork the first poll before anything else is imported (``cli.main``'s first step):
    the console's own arguments are read plainly here, and :func:`take_early` gives the
    child to the command that was asked for the same (any other is stopped). Never
    raises: whatever goes wrong here, the command finds and reports it itself."""
    with contextlib.suppress(Exception):
        _start_early(argv)


def _start_early(argv: list[str]) -> None:
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return
    parsed = _early_args(argv)
    if parsed is None:
        return
    command, found = parsed
    if command == "demo":
        try:
            seed, speed = int(found.get("seed", "7")), float(found.get("speed", "1.0"))
        except ValueError:
            return
        key: tuple[Any, ...] = ("demo", seed, speed)
        poll = FirstPoll.start(probe_demo(seed, speed))
    else:
        from oncall_console.configfile import ConfigError, Sketch, discover, parse, read_text

        path = discover(found.get("config"))
        try:
            text = read_text(path)
            data = parse(text, str(path))
        except ConfigError:
            return  # the command says so, located
        _early["document"] = (str(path), text, data)
        if Sketch.of(data).checks > FIRST_POLL_MAX:
            return
        key = ("run", str(path))
        poll = FirstPoll.start(probe_sketch(lambda: data, path))
    if poll is not None:
        _early["poll"] = (key, poll)


def take_early(*key: Any) -> FirstPoll | None:
    """The child :func:`start_early` forked for ``key``; one forked for anything else
    is stopped and reaped."""
    found = _early.pop("poll", None)
    if found is None:
        return None
    if found[0] == key:
        return found[1]
    found[1].close()
    return None


def early_document(path: str) -> tuple[str, dict[str, Any]] | None:
    """(text, TOML document) of ``path`` as :func:`start_early` read it, once: the
    command validates the very text the child probes, and does not read and parse it
    again (200 checks: ~10 ms before Textual's import)."""
    found = _early.pop("document", None)
    return (found[1], found[2]) if found is not None and found[0] == path else None


def close_early() -> None:
    """Stop an early child no command took (a usage error, ``--help``)."""
    found = _early.pop("poll", None)
    if found is not None:
        found[1].close()


_go_fd = -1
"""In the child and the processes it forks: the read end of the pipe the parent closes
once its first frame is painted (:meth:`FirstPoll.go`)."""
_go_deadline = 0.0
"""In the child: when (``time.monotonic()``) the waiting ends, painted or not."""


def wait_for_frame() -> None:
    """Until the console has painted its first frame, or :data:`FRAME_WAIT` seconds after
    the fork (at once outside a first poll). What the first frame cannot show waits here:
    the backends of the other checks (their imports, their probes, and what the probed
    servers do to answer them took CPU from the frame: test stack, first real result, 15
    launches each, interleaved: 1.55x the bare app with them beside the frame, 1.37x with
    only the first row's process before it) and the first backend's checks below the
    fold (:func:`_screenful`). They start as soon as the frame is on the terminal."""
    if _go_fd >= 0:
        with contextlib.suppress(OSError, ValueError):
            select.select([_go_fd], [], [], max(0.0, _go_deadline - time.monotonic()))


async def frame_painted() -> None:
    """:func:`wait_for_frame` on a running event loop."""
    import asyncio

    if _go_fd < 0:
        return
    loop = asyncio.get_running_loop()
    painted = loop.create_future()
    try:
        loop.add_reader(_go_fd, lambda: painted.done() or painted.set_result(None))
    except (OSError, ValueError):
        return
    try:
        await within(painted, max(0.0, _go_deadline - time.monotonic()))
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(_go_fd)


_screen_rows = 50
"""In the child: the terminal's height, the most health rows the first frame can show."""


def _child(job: Job, fd: int, parent: int, go: int = -1) -> None:
    global _go_fd, _go_deadline, _screen_rows
    _go_fd, _go_deadline = go, time.monotonic() + FRAME_WAIT
    with contextlib.suppress(OSError):
        _screen_rows = max(10, os.get_terminal_size(1).lines)
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's ctrl+c is the parent's
    _limits()
    if os.getppid() != parent:  # the parent is already gone
        return
    import gc

    gc.disable()  # seconds to live, no cycles worth collecting: imports go ~7 % faster

    def emit(early: Any) -> None:
        data = pickle.dumps(early, protocol=pickle.HIGHEST_PROTOCOL)
        if _HEADER.size + len(data) > select.PIPE_BUF:  # the details stay for the engine
            import dataclasses

            result = dataclasses.replace(early.result, details={}, tables=(), substatuses=())
            data = pickle.dumps(dataclasses.replace(early, result=result))
            if _HEADER.size + len(data) > select.PIPE_BUF:
                return  # not atomic: the engine probes this one itself
        os.write(fd, _HEADER.pack(len(data)) + data)  # <= PIPE_BUF: whole or not at all
        # A result is on its way (the first row's, in that row's process): the frame
        # comes first now. After the first, a no-op (one getpriority call).
        _nice_to(LATER_NICE)

    job(emit)


def _limits() -> None:
    """The deadline and the parent's death end this process, whatever it waits for."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(DEADLINE)
    _die_with_parent()


def probe_demo(seed: int, speed: float) -> Job:
    """The demo's job: its config's sketch, built in the child (the simulation is not
    imported by the parent before its first frame)."""

    def document() -> dict[str, Any]:
        from oncall_console.cli.common import demo_data

        return demo_data(seed, speed)

    return probe_sketch(document, Path("<demo>"), env={})


def probe_sketch(
    document: Callable[[], dict[str, Any]], path: Path, env: Mapping[str, str] | None = None
) -> Job:
    """The job for a TOML document (``document()``, called in the child): its sketch, no
    schema (see the top). ``env``: the overrides the config applies (default: ours)."""

    def job(emit: Emit) -> None:
        import copy

        from oncall_console.configfile import apply_env
        from oncall_console.engine.prefetch import OWN_PROCESS, PLAIN, preload, read_sketch

        data = copy.deepcopy(document())
        apply_env(data, os.environ if env is None else env)  # as the config does
        groups, settings = read_sketch(data)
        here = [g for g in groups if g.kind not in OWN_PROCESS]  # probed in this process
        others = [[g] for g in groups if g.kind in OWN_PROCESS]  # each in a process of its own

        def fork(batch: list[Any]) -> int | None:
            with contextlib.suppress(OSError):
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        _limits()
                        _run_sketch(batch, settings, path, emit, groups[0])
                        code = 0
                    except BaseException:
                        pass
                    finally:
                        os._exit(code)
                return pid
            return None

        # A backend with a plain reading (prefetch.PLAIN) needs no pydantic: its process
        # is forked before the preload, which the test stack's PostgreSQL row waited for.
        plain = [b for b in others if b[0].kind in PLAIN]
        children = [fork(b) for b in plain]
        full = [b for b in others if b[0].kind not in PLAIN]
        if any(groups[0] in b for b in plain):
            # The first row's process is forked: what is left here (the preload, the
            # rest) yields to it and waits for the console's frame.
            _nice_to(LATER_NICE)
            wait_for_frame()
        if full:  # what every other process needs, imported once before their forks
            preload()
        children += [fork(b) for b in full]
        try:
            if here:
                _run_sketch(here, settings, path, emit, groups[0])
        finally:
            for pid in children:
                if pid is not None:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, 0)

    return job


LATER_NICE = 19
"""Niceness of the processes that probe no backend of the config's first check: the
console's frame and the top rows come first, the rest take what CPU is left (measured:
with all at 0, the test stack's first frame went from ~1.9x to ~3.3x the bare app's).
The first poll's own process yields too once the first row's process is forked: its
preload (pydantic, ~100 ms) ran at 0 beside the console's Textual import. Test stack,
first real result, interleaved at load ~2: preload at 0 and the rest at 5: 2.36x; the
preload at 5 too: 1.97x; all of it at 19: 1.77x (the 200-check case, one process:
unchanged). The rest come once the frame is painted and the console idles.
Every process yields too once it has sent its first result: the first row's went on
probing the others at 0 beside the frame (200 checks and the test stack, 26 launches
each, interleaved: the quarter-fastest launches 345 -> 319 ms and 372 -> 324 ms)."""


def _run_sketch(
    batch: list[Any], settings: dict[str, Any], path: Path, emit: Emit, first: Any
) -> None:
    import asyncio

    if first not in batch:
        _nice_to(LATER_NICE)
        wait_for_frame()
    from oncall_console.engine.prefetch import sketch_results

    config_dir = str(path.parent)  # as the config resolves relative paths
    now, later = _screenful(batch, first)

    async def run() -> None:
        async def after_frame() -> None:
            await frame_painted()
            await sketch_results(later, settings, config_dir, emit)

        await asyncio.gather(
            sketch_results(now, settings, config_dir, emit), *([after_frame()] if later else [])
        )

    asyncio.run(run())


def _screenful(batch: list[Any], first: Any) -> tuple[list[Any], list[Any]]:
    """(what is probed at once, what waits for the frame): the first check's backend's
    first screenful of checks (as many as the terminal has lines) at once; its other
    checks and the batch's other backends once the frame is painted. With 200 HTTP
    checks, the 160 below the fold were probed, answered, sent and read beside the frame."""
    from dataclasses import replace

    if first not in batch:
        return batch, []
    rows = _screen_rows
    head = replace(first, checks=first.checks[:rows])
    rest = [replace(first, checks=first.checks[rows:])] if len(first.checks) > rows else []
    return [head], rest + [g for g in batch if g != first]


def _nice_to(level: int) -> None:
    """At least this niceness (a forked process inherits its parent's)."""
    with contextlib.suppress(OSError):
        now = os.nice(0)
        if level > now:
            os.nice(level - now)


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent ends (a dropped SSH session)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
