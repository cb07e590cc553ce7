"""A console process on a terminal the test can read, as an engineer would.

    with Terminal("alex", ["run", "-c", str(config)]) as alex:
        alex.wait_for("the dashboard", "Incidents & alerts")
        alex.press("3", "i")
        screen = alex.wait_for("the incident screen", lambda s: "also here" in s)

``oncall-console`` runs on its own pty (bench/_pty.py's PtyApp: it answers Textual's
terminal queries and keeps every byte written); a terminal emulator (pyte) replays those
bytes, so a test asserts on the screen as it is now, not on bytes that were painted over.
Waits poll the screen until a condition holds or a timeout names what never came.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import pyte

from bench._pty import PtyApp

COLS, ROWS = 120, 40
KEYS = {"enter": b"\r", "escape": b"\x1b", "tab": b"\t", "backspace": b"\x7f"}
"""Names of keys that are not their own character, as a terminal sends them."""


class Terminal:
    """``python -m oncall_console ARGS`` on a fresh ``COLS`` x ``ROWS`` pty, read through pyte."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cols: int = COLS,
        rows: int = ROWS,
    ) -> None:
        self.name = name
        # COLUMNS / LINES would win over the pty's size (pytest-xdist's workers set them).
        size = {"COLUMNS": str(cols), "LINES": str(rows)}
        self.pty = PtyApp(
            [sys.executable, "-m", "oncall_console", *args],
            cols=cols,
            rows=rows,
            env={"TERM": "xterm-256color", **size, **(env or {})},
        )
        self._screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self._screen)
        self._fed = 0

    @property
    def pid(self) -> int:
        return self.pty.proc.pid

    def screen(self) -> str:
        """What the terminal shows now, one line per row (trailing blanks kept)."""
        raw = self.pty.raw
        end = len(raw)
        if end > self._fed:
            self._stream.feed(bytes(raw[self._fed : end]))
            self._fed = end
        return "\n".join(self._screen.display)

    def wait_for(
        self, what: str, shows: str | Callable[[str], object], timeout: float = 15.0
    ) -> str:
        """The screen once it ``shows`` (a text on it, or a condition on all of it)."""
        holds = (lambda s: shows in s) if isinstance(shows, str) else shows
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if holds(screen):
                return screen
            if self.pty.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name}'s console exited ({self.pty.proc.returncode}) before {what};"
                    f" its screen:\n{screen}\n{self._tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not within {timeout:g} s on {self.name}'s console: {what}; its screen:\n{screen}"
                )
            time.sleep(0.02)  # the poll's step; the deadline bounds the wait

    def frames(self) -> int:
        """How many synchronized-output frames the console has drawn so far."""
        return len(self.pty.frames)

    def press(self, *keys: str) -> None:
        """Each key in turn: a name from ``KEYS`` or the characters themselves."""
        for key in keys:
            self.pty.write(KEYS.get(key) or key.encode())

    def kill(self) -> int:
        """SIGKILL to the console's own pid (no chance to say goodbye); its exit status."""
        os.kill(self.pid, signal.SIGKILL)
        return self.pty.proc.wait(10)

    def close(self) -> None:
        """Stop the console by its process group (its own session), then close the pty."""
        self.pty.close()

    def _tail(self) -> str:
        """The last bytes written, for a console that died before its screen said why."""
        return bytes(self.pty.raw[-2000:]).decode(errors="replace")

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
