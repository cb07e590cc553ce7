"""bench/_pty.py, the terminal the pty tests and benchmarks read the console through.

Asking "does the screen show X" of one frame's bytes failed in CI: the console writes
only the cells that changed (ui/partial.py), and on a loaded machine its first, whole
frame was drawn before it read our answer to the synchronized-output query, so that
frame had no marks; no later frame held the panel title again. The screen is asked now."""

from __future__ import annotations

import sys

import pytest

from bench._pty import SYNC_END, SYNC_START, PtyApp

# A child that writes a line outside any frame, then a frame that changes two cells of it,
# then waits for its stdin to close.
WRITER = f"""
import os, sys, time
out = sys.stdout.buffer
out.write(b"\\x1b[2J\\x1b[1;1HIncidents & alerts")
out.flush()
time.sleep(0.3)
out.write({SYNC_START!r} + b"\\x1b[1;11H# " + {SYNC_END!r})
out.flush()
sys.stdin.read()
"""


def test_text_written_outside_any_frame_is_on_the_screen():
    with PtyApp([sys.executable, "-c", WRITER], cols=40, rows=5) as term:
        state = term.wait_text("Incidents & alerts", timeout=10)
        assert state.data in (b"", SYNC_START + b"\x1b[1;11H# " + SYNC_END)


def test_a_frame_that_wrote_two_cells_shows_the_whole_line():
    with PtyApp([sys.executable, "-c", WRITER], cols=40, rows=5) as term:
        frame = term.wait_text("Incidents # alerts", timeout=10)
        assert frame.data.startswith(SYNC_START)  # the frame that made it so
        assert b"Incidents" not in frame.data
        # the screen before that frame is not what it shows now
        with pytest.raises(TimeoutError):
            term.wait_text("Incidents & alerts", timeout=0.5, after=frame.end + 0.001)


def test_a_console_whose_terminal_answers_late_is_seen_drawn():
    """The CI failure itself: the sync answer comes after the first frame."""
    argv = [sys.executable, "-m", "oncall_console", "demo"]
    env = {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", "ONCALL_FIRST_POLL": "0"}
    with PtyApp(argv, env=env, sync_reply_after=3.0) as term:
        term.wait_text("Incidents & alerts", timeout=30)
        term.write(b"q")
        assert term.proc.wait(10) == 0
