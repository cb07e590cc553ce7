"""A watchdog that ends the stack's servers if the process that started them dies.

Servers run in their own sessions, so a test run that is killed (a CI timeout, a
SIGKILL) would leave them running forever. One small helper process per Python
process reads "+ PID STARTTIME" / "- PID" lines on a pipe; when the pipe closes
without every server deregistered, it SIGKILLs the process group of each one that
is still the very process registered (same pid *and* same start time, so a reused
pid is never hit).
"""

from __future__ import annotations

import atexit
import signal
import subprocess
import sys
import threading
from pathlib import Path

_WATCHDOG = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
procs = {}
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 3 and parts[0] == "+":
        procs[int(parts[1])] = parts[2]
    elif len(parts) >= 2 and parts[0] == "-":
        procs.pop(int(parts[1]), None)
for pid, start in procs.items():
    try:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[19] == start:
                os.killpg(pid, signal.SIGKILL)
    except (OSError, IndexError):
        pass
"""

_lock = threading.Lock()
_proc: subprocess.Popen[str] | None = None


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/PID/stat), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _send(line: str) -> None:
    global _proc
    with _lock:
        if _proc is None or _proc.poll() is not None:
            _proc = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # survives a kill of our process group
                text=True,
            )
            atexit.register(_close)
        assert _proc.stdin is not None
        try:
            _proc.stdin.write(line + "\n")
            _proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass


def watch(pid: int) -> None:
    """Kill ``pid``'s process group should this process die before ``forget(pid)``."""
    started = start_time(pid)
    if started is not None:
        _send(f"+ {pid} {started}")


def forget(pid: int) -> None:
    _send(f"- {pid}")


def _close() -> None:
    """At a normal exit: close the pipe and let the watchdog finish (nothing left to kill)."""
    global _proc
    with _lock:
        proc, _proc = _proc, None
    if proc is None:
        return
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.send_signal(signal.SIGKILL)
        proc.wait()
