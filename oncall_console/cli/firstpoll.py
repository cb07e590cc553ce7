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
pickled ``Early`` records, read only from the child this process forked.

``ONCALL_FIRST_POLL=0`` turns it off (the console then starts as before).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig

DEADLINE = 30
"""Seconds the child may live, whatever a probe is waiting for."""
_HEADER = struct.Struct("!I")


class FirstPoll:
    """The parent's end: the child's PID and the pipe's read end (non-blocking)."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._buffer = b""
        self.done = False
        """The child has closed its end: everything it will send has been read."""
        self._reaped = False

    @classmethod
    def start(cls, load: Callable[[], LoadedConfig]) -> FirstPoll | None:
        """Fork the child; None when turned off or when the system refuses a fork or
        a pipe (the console then simply starts without it)."""
        if os.environ.get("ONCALL_FIRST_POLL", "1").strip() in {"0", "false", "no", "off"}:
            return None
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return None
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # the child: never returns
            os.close(read_end)
            code = 1
            try:
                _child(load, write_end, parent)
                code = 0
            except BaseException:  # a refused config, a backend's error: the parent says
                pass
            finally:
                os._exit(code)
        os.close(write_end)
        os.set_blocking(read_end, False)
        return cls(pid, read_end)

    def fileno(self) -> int:
        return self._fd

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
        """Stop the child (by its PID) and reap it; close the pipe. Safe to call twice."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._reaped:
            self._reaped = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)


def _child(load: Callable[[], LoadedConfig], fd: int, parent: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's ctrl+c is the parent's
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(DEADLINE)
    _die_with_parent()
    if os.getppid() != parent:  # the parent is already gone
        return
    import asyncio
    import gc

    gc.disable()  # seconds to live, no cycles worth collecting: imports go ~7 % faster
    # Not through engine.api: its import (the action runner, runbooks, verification:
    # ~45 ms) is nothing the first poll uses (tests/test_front_door.py names this one).
    from oncall_console.engine.prefetch import first_results

    loaded = load()

    def emit(early: object) -> None:
        data = pickle.dumps(early, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(fd, view) :]

    asyncio.run(first_results(loaded, emit))


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent ends (a dropped SSH session)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
