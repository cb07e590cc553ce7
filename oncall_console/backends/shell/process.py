"""What the ``shell`` backend runs and what it keeps of it: the plan, the output, the words.

A :class:`Plan` is exactly what will be executed (argv, environment, the secrets
to redact); the collector keeps the first bytes of each stream and learns of the
exit itself; the helpers below turn a finished run into what a person reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from dataclasses import dataclass, field
from typing import Any

from oncall_console.backends.shell.options import CommandSpec
from oncall_console.secrets import redact
from oncall_console.text import clean

SHOWN_OUTPUT = 19_000
"""Characters of stdout + stderr in a result (the runner shows at most 20 000)."""


@dataclass(frozen=True)
class Plan:
    """Exactly what will be executed."""

    key: str
    command: CommandSpec
    argv: tuple[str, ...]
    env: dict[str, str]
    secrets: tuple[str, ...]

    def render(self) -> str:
        c = self.command
        lines = [f"$ {join(self.argv)}"]
        lines.append(f"cwd: {quote(c.cwd) if c.cwd else '(the console’s)'}")
        shown = ["LANG=C.UTF-8", "PATH=(the console’s)"]
        shown += [f"{k}={quote(v)}" for k, v in c.env.items()]
        shown += [f"{k}=(from ${v}, not shown)" for k, v in c.env_from.items()]
        lines.append("env: " + " ".join(shown))
        codes = ", ".join(str(x) for x in c.allowed_exit_codes)
        lines.append(f"timeout: {c.timeout:g} s · success: exit {codes}")
        if c.read_only:
            lines.append("read-only diagnostic")
        return "\n".join(lines)


@dataclass
class Buffer:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)


class Collector(asyncio.SubprocessProtocol):
    """Keeps the first ``cap`` bytes of each stream, and says when the process exits.

    ``Process.wait()`` also waits for the pipes to close, which a background child can
    hold open forever; this protocol learns of the exit itself.
    """

    def __init__(self, cap: int) -> None:
        self.out = Buffer(cap)
        self.err = Buffer(cap)
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        (self.out if fd == 1 else self.err).add(bytes(data))

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


@dataclass
class Ran:
    code: int | None
    stdout: Buffer
    stderr: Buffer
    seconds: float
    timed_out: bool


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return clean(line.strip(), limit=200)
    return ""


def output_of(ran: Ran, secrets: tuple[str, ...]) -> str:
    """stdout, then stderr, cleaned, secrets redacted, within what the runner shows."""
    streams = []
    for label, buf in (("stdout", ran.stdout), ("stderr", ran.stderr)):
        text = clean(redact(buf.text(), *secrets), limit=10**9, single_line=False)
        note = ""
        if buf.truncated:
            note = f"[{label} truncated: kept {len(buf.data)} of {buf.total} bytes]"
        streams.append((label, text, note))
    (_, out, out_note), (_, err, err_note) = streams
    if len(out) + len(err) > SHOWN_OUTPUT:
        err_share = min(len(err), max(SHOWN_OUTPUT // 2, SHOWN_OUTPUT - len(out)))
        out_share = SHOWN_OUTPUT - err_share
        if len(out) > out_share:
            out, out_note = (
                out[:out_share],
                out_note or f"[stdout truncated: {len(out)} characters]",
            )
        if len(err) > err_share:
            err, err_note = (
                err[:err_share],
                err_note or f"[stderr truncated: {len(err)} characters]",
            )
    parts = [out.rstrip("\n")] if out else []
    if out_note:
        parts.append(out_note)
    if err or err_note:
        parts.append("--- stderr ---")
        if err:
            parts.append(err.rstrip("\n"))
        if err_note:
            parts.append(err_note)
    return "\n".join(parts)


def quote(item: str) -> str:
    """``shlex.quote``, except that what a terminal would not show is spelled out ($'...')."""
    if item.isprintable():
        return shlex.quote(item)
    out = []
    for c in item:
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "$'" + "".join(out) + "'"


def join(argv: Any) -> str:
    """``shlex.join`` for reading: one quoted word per argv item."""
    return " ".join(quote(str(a)) for a in argv)
