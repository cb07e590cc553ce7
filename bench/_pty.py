"""A terminal we own: run an app in a pty, write keys, timestamp the frames it draws.

Textual brackets every frame in synchronized-output marks (``ESC[?2026h`` …
``ESC[?2026l``) once the terminal says it supports them, as kitty, WezTerm,
iTerm2, foot and recent tmux do. We answer its query, so each frame arrives as
one bracketed block and "keypress -> frame" is the time from writing the key to
the end of the first frame whose bytes show the key's effect, with no tmux or
capture-pane polling in between.

A frame's bytes are only what changed (ui/partial.py writes changed cells), and a
frame drawn before Textual reads our answer has no marks at all. So "does the screen
show X" is asked of the screen: ``wait_screen`` replays everything written, frame by
frame, into a terminal emulator (pyte) and tests its text after each frame.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYNC_QUERY = b"\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"  # "supported, currently off"
SYNC_START = b"\x1b[?2026h"
SYNC_END = b"\x1b[?2026l"


@dataclass
class Frame:
    start: float  # when its first byte was read
    end: float  # when its SYNC_END was read
    data: bytes
    upto: int = 0  # bytes of ``PtyApp.raw`` read when it ended: the screen after it


class PtyApp:
    """A child process on a fresh pty of ``cols`` x ``rows``; a thread reads all it writes."""

    def __init__(
        self,
        argv: Sequence[str],
        cols: int = 120,
        rows: int = 40,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        sync_reply_after: float = 0.0,
    ) -> None:
        """``sync_reply_after``: answer the synchronized-output query that late (seconds),
        as a loaded machine or a slow link does: the frames drawn until Textual reads the
        answer have no marks."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.total_bytes = 0
        self.raw = bytearray()  # everything, for a look when a marker never shows
        self.frames: list[Frame] = []
        self.last_read = 0.0  # when the last chunk was read
        self._sync_reply_after = sync_reply_after
        self._cols, self._rows = cols, rows
        self._screen: Any = None  # pyte's, made on the first wait_screen
        self._stream: Any = None
        self._fed = 0  # bytes of ``raw`` fed to it
        self._screened = 0  # frames fed to it
        self._state: Frame | None = None  # the frame after which it is as it is
        self._buf = b""
        self._frame_start: float | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            if SYNC_QUERY in chunk:
                self._answer_sync()
            with self._cond:
                self.last_read = now
                self.total_bytes += len(chunk)
                self.raw += chunk
                self._split(chunk, now)
                self._cond.notify_all()

    def _answer_sync(self) -> None:
        if self._sync_reply_after <= 0:
            os.write(self.master, SYNC_REPLY)
            return

        def late() -> None:
            with contextlib.suppress(OSError):
                os.write(self.master, SYNC_REPLY)

        timer = threading.Timer(self._sync_reply_after, late)
        timer.daemon = True
        timer.start()

    def _split(self, chunk: bytes, now: float) -> None:
        self._buf += chunk
        while True:
            if self._frame_start is None:
                i = self._buf.find(SYNC_START)
                if i < 0:  # keep only what may be the start of a start mark
                    n = len(SYNC_START) - 1
                    while n and not self._buf.endswith(SYNC_START[:n]):
                        n -= 1
                    self._buf = self._buf[len(self._buf) - n :]
                    return
                self._buf = self._buf[i:]
                self._frame_start = now
            j = self._buf.find(SYNC_END)
            if j < 0:
                return
            end = j + len(SYNC_END)
            upto = len(self.raw) - len(self._buf) + end
            self.frames.append(Frame(self._frame_start, now, self._buf[:end], upto))
            self._buf = self._buf[j + len(SYNC_END) :]
            self._frame_start = None

    def write(self, data: bytes) -> float:
        """Write ``data`` as typed input; returns the time just before the write."""
        t = time.perf_counter()
        os.write(self.master, data)
        return t

    def wait_frame(
        self, shows: Callable[[bytes], bool], after: float, timeout: float = 10.0
    ) -> Frame:
        """The first frame that started after ``after`` (or ended after it) and ``shows`` it."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._cond:
            while True:
                frames = self.frames
                for k in range(checked, len(frames)):
                    f = frames[k]
                    if f.end >= after and shows(f.data):
                        return f
                checked = len(frames)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no frame showed it in time")
                self._cond.wait(left)

    def screen_text(self) -> str:
        """The screen's lines as fed so far (hold ``_cond``)."""
        return "\n".join(self._screen.display) if self._screen is not None else ""

    def _feed_to(self, upto: int) -> None:
        if self._screen is None:
            import pyte  # a test and bench dependency, not the console's

            self._screen = pyte.Screen(self._cols, self._rows)
            self._stream = pyte.ByteStream(self._screen)
        if upto > self._fed:
            self._stream.feed(bytes(self.raw[self._fed : upto]))
            self._fed = upto

    def _screens(self) -> Iterator[Frame]:
        """Feed what was read to the screen frame by frame, yielding each state it reaches."""
        while self._screened < len(self.frames):
            f = self.frames[self._screened]
            self._screened += 1
            self._feed_to(f.upto)
            self._state = f
            yield f
        if self._frame_start is None:  # bytes outside any frame: all of them, once read
            upto = len(self.raw) - len(self._buf)  # not the part of a start mark
            if upto > self._fed:
                self._feed_to(upto)
                self._state = Frame(self.last_read, self.last_read, b"", upto)
                yield self._state

    def wait_screen(
        self, shows: Callable[[str], bool], after: float = 0.0, timeout: float = 10.0
    ) -> Frame:
        """The first frame ending after ``after`` once which the screen ``shows`` it.

        What is on the screen, not in one frame's bytes: text a frame left alone counts.
        Bytes written outside any frame (before Textual read our answer to its query)
        count once read: the frame returned for them is empty, ended at ``last_read``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            state = self._state
            if state is not None and state.end >= after and shows(self.screen_text()):
                return state
            while True:
                for state in self._screens():
                    if state.end >= after and shows(self.screen_text()):
                        return state
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the screen did not show it in time")
                self._cond.wait(left)

    def wait_text(self, text: str, timeout: float = 30.0, after: float = 0.0) -> Frame:
        """The first frame ending after ``after`` once which ``text`` is on the screen."""
        return self.wait_screen(lambda screen: text in screen, after, timeout)

    def close(self) -> None:
        self._stop = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(1)
        os.close(self.master)

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


def machine() -> str:
    """One line: CPU, cores, load, date: the fragment's header says where it ran."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores; load average {load}; {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def publish(out: Path, lines: list[str]) -> None:
    """Write the Markdown fragment that bench/report.py gathers, and show it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def kill_tmux(tmux: Sequence[str], timeout: float = 10.0, target: str = "") -> None:
    """Kill a tmux server and wait until every process its pane (``target``'s, or the
    current one's) ran is gone (by PID).

    A console leaves cleanly on the SIGHUP this sends (~0.3 s: its engine stops, its
    children are reaped); a benchmark that launched the next case at once measured that
    case beside the last one's exit. What outlives it by ``timeout`` is named on stderr
    and killed (a console that never ended once weighed on a whole run, unseen)."""
    pane = subprocess.run(
        [*tmux, "display", "-p", *(["-t", target] if target else []), "#{pane_pid}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = _descendants(int(pane)) if pane.isdigit() else []
    subprocess.run([*tmux, "kill-server"], capture_output=True)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.01)
    left = [pid for pid in tree if alive(pid)]
    if left:  # one left running would weigh on every launch after it
        print(f"kill_tmux: {left} outlived the pane by {timeout:g} s: killed", file=sys.stderr)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _parents() -> dict[int, list[int]]:
    """PPID -> the PIDs of its children (zombies included), from one look at /proc."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                found.setdefault(int(fields[1]), []).append(int(entry.name))
    return found


def children(pid: int) -> list[int]:
    """PIDs of the processes whose parent is ``pid`` (zombies included)."""
    return _parents().get(pid, [])


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    parents = _parents()
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += parents.get(found[-1], [])
    return found


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name, or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


class TmuxControl:
    """One tmux control-mode client (``tmux -C``) that runs commands and returns their
    output: a screen read by ``capture-pane`` without spawning a tmux client per look.
    A spawned client costs this machine ~5 ms of CPU; one every 5 ms took ~40 % of one
    of its two CPUs from the app being timed. The client attaches to a placeholder
    session of its own; the timed app runs in another session, which no client shows,
    so its size is the one it was created with. (tmux 3.3a's server dies when a control
    client creates a window itself: create sessions with a plain ``tmux`` command.)"""

    def __init__(self, tmux: Sequence[str]) -> None:
        subprocess.run(
            [*tmux, "new-session", "-d", "-x", "20", "-y", "5", "-s", "observer", "sleep 3600"],
            check=True,
        )
        self._proc = subprocess.Popen(
            [*tmux, "-C", "attach", "-t", "observer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdin, self._proc.stdout.fileno()
        self._buf = b""
        self.command("display-message -p ready")  # attached and answering

    def command(self, line: str, timeout: float = 10.0) -> bytes:
        """Run one tmux command; its output (what ``%begin`` … ``%end`` enclose)."""
        self._in.write(line.encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            block = self._block()
            if block is not None:
                return block
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out], [], [], left)[0]:
                raise TimeoutError(f"tmux did not answer {line!r}")
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                raise RuntimeError(f"tmux control client ended: {self._buf[-200:]!r}")
            self._buf += chunk

    def _block(self) -> bytes | None:
        """The next command's output if all of it is here. Notifications outside a
        block (``%sessions-changed``, …) are skipped; the attach's own empty block is
        skipped, since its ``%begin`` line ends in flag 0 where a command's has 1."""
        while True:
            start = self._buf.find(b"%begin ")
            if start < 0:
                return None
            head_end = self._buf.find(b"\n", start)
            if head_end < 0:
                return None
            ends = [self._buf.find(m, head_end) for m in (b"\n%end ", b"\n%error ")]
            end = min((e for e in ends if e >= 0), default=-1)
            if end < 0:  # (== head_end: an empty block, its %end right after %begin)
                return None
            tail = self._buf.find(b"\n", end + 1)
            if tail < 0:
                return None
            flags = self._buf[start:head_end].split()[-1]
            body = self._buf[head_end + 1 : end] if end > head_end else b""
            self._buf = self._buf[tail + 1 :]
            if flags == b"1":
                return body

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
