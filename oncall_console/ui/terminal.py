"""The terminal going away under the console: a dropped SSH session, a closed tmux pane,
a killed terminal emulator, a supervisor's stop.

The console then leaves the way ``q`` leaves: the engine stops, an action that is
running is cancelled and its interrupted result audited (``engine/actions.py``), the
first poll's and probe workers' processes are stopped by PID. Without this, SIGHUP's
default ended the process where it stood (the next console reported the action's
outcome as unknown), and a terminal closed without a SIGHUP (a pty whose other end was
closed by a process that was not its session's: a harness, a multiplexer killed hard)
left the console running on a dead terminal, ~35 % of a core spent reading its EOF.
Worse, Textual's writer thread died on the first write that failed (EIO), its queue of
30 writes filled, and the console froze on the next write, before anything could see
that the terminal was gone: :func:`tolerant` keeps that thread alive. And the SIGCONT
Linux sends after a hangup's SIGHUP made Textual start its terminal threads again,
during the exit: :func:`tolerant` resumes only after a stop of its own (Ctrl+Z).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.driver import Driver

CHECK_EVERY = 2.0
"""Seconds between two looks at the terminal (one ``tcgetattr`` call)."""
SIGNALS = {signal.SIGTERM: 143, signal.SIGHUP: 129}
"""Signal -> the console's exit code (128 + the signal, as a shell reports it)."""
HUNG_UP = 129


class _App(Protocol):
    def exit(self, result: object = None, return_code: int = 0) -> None: ...

    def set_interval(self, interval: float, callback: object) -> object: ...


def watch(app: _App, fd: int | None = None) -> None:
    """Leave cleanly on SIGTERM or SIGHUP, and once the terminal on ``fd`` (default:
    stdin) is gone. Only for a console on a real terminal, from its event loop."""
    loop = asyncio.get_running_loop()
    for number, code in SIGNALS.items():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(number, lambda code=code: app.exit(return_code=code))
    if fd is None:
        try:
            fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
        except (OSError, ValueError):
            return
    if fd >= 0 and os.isatty(fd):

        def look() -> None:
            if hung_up(fd):
                app.exit(return_code=HUNG_UP)

        app.set_interval(CHECK_EVERY, look)


def tolerant(driver: type[Driver]) -> type[Driver]:
    """``driver`` whose terminal file shrugs off a failed write (see the top)."""

    class Tolerant(driver):  # type: ignore[valid-type,misc]
        _stopped = False
        """This process stopped itself (Ctrl+Z): the next SIGCONT is the ``fg``."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            file = getattr(self, "_file", None)  # what LinuxDriver's writer thread writes to
            if file is not None:
                self._file = _GoneFile(file)

        def _sigtstp_application(self, *args: Any) -> None:
            self._stopped = True  # before: the SIGCONT may be handled inside this call
            super()._sigtstp_application(*args)

        def _sigcont_application(self, *args: Any) -> None:
            """Textual takes every SIGCONT for the end of a Ctrl+Z and enters its terminal
            mode again, threads and all. Linux sends one right after a hangup's SIGHUP:
            handled during the console's exit, it left an input thread reading the dead
            terminal for ever (the process never ended, at ~95 % of a core), or threw
            tracebacks from the interpreter's shutdown. Only a stop of our own resumes."""
            if not self._stopped:
                return
            super()._sigcont_application(*args)
            # A `bg` resumes nothing (Textual stops again in the background): the `fg`
            # after it must still count. App.suspend() resumes on its own.
            thread = getattr(self, "_key_thread", None)
            resumed = thread is not None and thread.is_alive()
            self._stopped = bool(getattr(self, "_auto_restart", True)) and not resumed

        def resume_application_mode(self) -> None:
            from oncall_console.ui import partial

            partial.forget(self._app.console)  # the terminal was another program's meanwhile
            super().resume_application_mode()

    Tolerant.__name__ = Tolerant.__qualname__ = f"Tolerant{driver.__name__}"
    return Tolerant


class _GoneFile:
    """A terminal file whose writes and flushes, once one has failed, go nowhere."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return int(self._file.write(text))
            except (OSError, ValueError):
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def hung_up(fd: int) -> bool:
    """Whether the terminal on ``fd`` is gone: once its other end is closed, Linux answers
    every terminal request on it with EIO (and a closed or reused fd is not one)."""
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError):
        return True
    return False
