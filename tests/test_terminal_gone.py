"""The terminal going away under the console (ui/terminal.py): it leaves as ``q`` does,
with 129, its first poll's child stopped, on SIGHUP and on a terminal closed without
one. A console left on a closed pty used to run on at ~35 % of a core, reading EOF."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bench import _pty as procs
from bench._pty import PtyApp
from oncall_console.ui import terminal
from tests.support.httpserver import serve
from tests.support.stack_server import wait_until

SIZE = {"COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}


def _console(tmp_path: Path, url: str) -> PtyApp:
    """A console with one slow HTTP check (its first poll's child still probing)."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\nurl = "{tmp_path / "s.sqlite3"}"\n\n[backends.web]\ntype = "http"\n\n'
        f'[checks.slow]\nbackend = "web"\nurl = "{url}"\ntimeout = 20\n\n'
        f'[checks.up]\nbackend = "web"\nurl = "{url.rsplit("/", 1)[0]}/healthy"\n'
    )
    argv = [sys.executable, "-m", "oncall_console", "run", "-c", str(path)]
    return PtyApp(argv, env=SIZE)


def _running(term: PtyApp) -> list[int]:
    """Wait for the console's frame and its first poll's child; the child's PIDs."""
    children = wait_until("the first poll's child", lambda: procs.children(term.proc.pid), 30, 0.02)
    term.wait_text("Incidents & alerts", 30)
    return children


def test_a_console_whose_terminal_is_closed_leaves_and_takes_its_child(tmp_path):
    with serve() as server, _console(tmp_path, server.url("/hang")) as term:
        children = _running(term)
        term._stop = True
        os.close(term.master)  # the other end goes; nobody sends a SIGHUP
        term.master = os.open(os.devnull, os.O_RDONLY)  # for close() to close
        assert term.proc.wait(30) == terminal.HUNG_UP
        wait_until("the child gone", lambda: all(not procs.alive(c) for c in children), 30, 0.05)


@pytest.mark.parametrize("number", [signal.SIGHUP, signal.SIGTERM])
def test_a_hangup_or_a_stop_leaves_cleanly(tmp_path, number):
    """SIGHUP's default ended the console where it stood: an action running then was
    neither stopped nor audited as interrupted (the next console said 'outcome
    unknown'). Both now leave as q does, the child stopped by PID."""
    with serve() as server, _console(tmp_path, server.url("/hang")) as term:
        children = _running(term)
        wait_until("the engine's store", (tmp_path / "s.sqlite3").exists, 30, 0.02)
        term.proc.send_signal(number)
        assert term.proc.wait(30) == terminal.SIGNALS[number]
        wait_until("the child gone", lambda: all(not procs.alive(c) for c in children), 30, 0.05)


def test_a_closed_pty_is_hung_up_and_an_open_one_is_not():
    master, slave = os.openpty()
    try:
        assert not terminal.hung_up(slave)
        os.close(master)
        master = -1
        assert terminal.hung_up(slave)
    finally:
        os.close(slave)
        if master >= 0:
            os.close(master)
    assert terminal.hung_up(slave)  # closed: not a terminal at all


def test_a_hangup_as_linux_sends_it_leaves(tmp_path):
    """When a terminal hangs up, Linux sends its session's leader SIGHUP, then SIGCONT.
    Textual takes any SIGCONT for the end of a Ctrl+Z and starts its terminal threads
    again: one started once the console had stopped reading input read the dead terminal
    for ever, and the console, its work done, never exited, at ~95 % of a core (found
    after a benchmark's ``tmux kill-server``). SIGCONTs keep coming here until it is gone."""
    with serve() as server, _console(tmp_path, server.url("/hang")) as term:
        _running(term)
        term.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while term.proc.poll() is None and time.monotonic() < deadline:
            term.proc.send_signal(signal.SIGCONT)
            time.sleep(0.002)  # a stream of them, through every step of the exit
        assert term.proc.wait(10) == terminal.HUNG_UP


def test_a_stop_and_a_continue_still_suspend_and_resume(tmp_path):
    """What SIGCONT is for: after a SIGTSTP (``kill -TSTP``; Ctrl+Z in a shell) the console
    gives the terminal back and stops; on SIGCONT (``fg``) it takes the terminal again and
    answers keys."""
    with serve() as server, _console(tmp_path, server.url("/healthy")) as term:
        _running(term)
        term.proc.send_signal(signal.SIGTSTP)
        wait_until("stopped", lambda: (procs._stat(term.proc.pid) or ["?"])[0] == "T", 30, 0.01)
        before = term.total_bytes
        term.proc.send_signal(signal.SIGCONT)
        wait_until("the terminal taken again", lambda: term.total_bytes > before, 30, 0.01)
        term.wait_text("Incidents & alerts", 30)
        term.write(b"q")
        assert term.proc.wait(30) == 0
