#!/usr/bin/env python3
"""Bytes to the terminal: steady-state bytes per second in a 120x40 tmux pane at 1 s
refresh, and the bytes of start-up (the first seconds after launch).

Each app runs in its own tmux server (120x40), started a moment after ``tmux pipe-pane
-o`` began copying everything it writes to its pty into a file: the file's size at
``STARTUP`` seconds after launch is the start-up; its growth over the measured window,
after a warm-up, the steady state. Our console (the demo, and a config of real loopback
HTTP checks) next to htop (``-d 10``) and btop (``update_ms = 1000``), all at a 1 s
refresh, interleaved run for run so that all see the same machine. ``--before PATH``
also runs our two cases from another checkout (its directory first on ``sys.path``).

    .venv/bin/python bench/terminal_bytes.py [--runs 3] [--seconds 30] [--warmup 10]
        [--before PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _pty import kill_tmux, machine, publish  # noqa: E402
from latency_server import LatencyServers  # noqa: E402

OUT = ROOT / "bench" / "results" / "terminal_bytes.md"
PY = sys.executable
CHECKS = 20
TARGET = 2048  # bytes per second
STARTUP = 3.0
"""Seconds after launch counted as start-up."""
LEAD = 0.5
DIALOG_SETTLE = 2.0
"""Seconds after ``a`` counted as the dialog's opening."""
"""Seconds the pane waits before it runs the app, so that the pipe sees its first byte."""


def loopback_config(ports: list[int], path: Path) -> Path:
    lines = [
        '[console]\nenvironment = "bench"\nrefresh = 1.0\n',
        "[poller]\ninterval = 5\n",
        f'[store]\nurl = "{path.parent / "store.sqlite3"}"\n',
        '[backends.web]\ntype = "http"\n',
    ]
    for n in range(CHECKS):
        port = ports[n % len(ports)]
        lines.append(
            f'[checks.svc-{n:02d}]\nbackend = "web"\nurl = "http://127.0.0.1:{port}/{n}"\n'
        )
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@contextlib.contextmanager
def piped(
    argv: list[str], env: dict[str, str], tmp: Path, cwd: Path | None
) -> Iterator[tuple[list[str], Callable[[], int], float]]:
    """The app in a 120x40 pane of its own tmux server, everything it writes piped into
    a file from its launch: (the tmux command, the file's size now, the launch time)."""
    sock = f"tb{time.monotonic_ns()}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    envs = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    cmd = f"sleep {LEAD}; exec env {envs} {shlex.join(argv)}"
    out = tmp / f"{sock}.bytes"
    where = ["-c", str(cwd)] if cwd else []
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40", *where, cmd], check=True)
    launched = time.perf_counter() + LEAD
    try:
        subprocess.run([*tmux, "pipe-pane", "-o", f"cat >> {shlex.quote(str(out))}"], check=True)
        yield tmux, lambda: out.stat().st_size if out.exists() else 0, launched
    finally:
        subprocess.run([*tmux, "pipe-pane"], capture_output=True)  # stop piping
        kill_tmux(tmux)  # and wait for the console to be gone


def wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.perf_counter()))


def measure(
    argv: list[str],
    env: dict[str, str],
    warmup: float,
    seconds: float,
    tmp: Path,
    cwd: Path | None = None,
) -> tuple[float, float]:
    """(bytes written in the first ``STARTUP`` s, bytes per second over ``seconds`` after
    ``warmup``)."""
    with piped(argv, env, tmp, cwd) as (_, size, launched):
        wait_until(launched + STARTUP)
        startup = size()
        wait_until(launched + warmup)
        before, start = size(), time.perf_counter()
        time.sleep(seconds)
        after, elapsed = size(), time.perf_counter() - start
        return float(startup), (after - before) / elapsed


def dialog(
    argv: list[str], env: dict[str, str], warmup: float, tmp: Path, cwd: Path | None = None
) -> float:
    """Bytes written from ``a`` (the actions dialog of the selected row) until it has
    settled (``DIALOG_SETTLE`` s), after ``warmup``."""
    with piped(argv, env, tmp, cwd) as (tmux, size, launched):
        wait_until(launched + warmup)
        before = size()
        subprocess.run([*tmux, "send-keys", "a"], check=True)
        time.sleep(DIALOG_SETTLE)
        return float(size() - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--before", type=Path, help="another checkout of ours, run alongside")
    args = parser.parse_args()
    for tool in ("tmux", "htop", "btop"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (apt-get install tmux htop btop)")
    with (
        tempfile.TemporaryDirectory(prefix="bench-bytes-") as tmpdir,
        LatencyServers(2, 5.0) as ports,
    ):
        tmp = Path(tmpdir)
        home = tmp / "home"
        (home / ".config" / "btop").mkdir(parents=True)
        (home / ".config" / "btop" / "btop.conf").write_text("update_ms = 1000\n")
        base = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".state"),
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "LANG": "C.UTF-8",
        }
        config = loopback_config(ports, tmp / "loopback.toml")
        cases = {
            "oncall-console demo": [PY, "-m", "oncall_console", "demo"],
            f"oncall-console, {CHECKS} loopback HTTP checks": [
                PY,
                "-m",
                "oncall_console",
                "run",
                "--config",
                str(config),
            ],
            "htop -d 10": ["htop", "-d", "10"],
            "btop (update_ms = 1000)": ["btop", "--utf-force"],
        }
        where: dict[str, Path | None] = dict.fromkeys(cases)
        if args.before:
            for name in [n for n in cases if n.startswith("oncall")]:
                cases[f"before: {name}"] = cases[name]
                where[f"before: {name}"] = args.before.resolve()
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        dialogs: dict[str, list[float]] = {
            name: [] for name in cases if name.endswith("oncall-console demo")
        }
        for _ in range(args.runs):
            for name, argv in cases.items():
                results[name].append(
                    measure(argv, base, args.warmup, args.seconds, tmp, where[name])
                )
            for name in dialogs:
                dialogs[name].append(dialog(cases[name], base, args.warmup, tmp, where[name]))
    write(args, results, dialogs)


def write(
    args: argparse.Namespace,
    results: dict[str, list[tuple[float, float]]],
    dialogs: dict[str, list[float]],
) -> None:
    steady = {name: [b for _, b in v] for name, v in results.items()}
    startup = {name: [b for b, _ in v] for name, v in results.items()}
    htop = statistics.median(steady["htop -d 10"]) or 1.0
    htop_start = statistics.median(startup["htop -d 10"]) or 1.0
    before = f" `--before` {args.before}," if args.before else ""
    lines = [
        "## 4. Bytes to the terminal",
        "",
        f"`python bench/terminal_bytes.py --runs {args.runs} --seconds {args.seconds:g}"
        f" --warmup {args.warmup:g}{' --before ' + str(args.before) if args.before else ''}`"
        f" — 120×40 tmux pane, 1 s refresh, everything the app writes through `tmux"
        f" pipe-pane -o` from its launch: start-up = the first {STARTUP:g} s, steady state ="
        f" {args.seconds:g} s after a {args.warmup:g} s warm-up;{before} {args.runs} runs"
        f" interleaved. Machine: {machine()}.",
        "",
        f"| app | median bytes/s | min | max | vs htop | start-up bytes (first {STARTUP:g} s)"
        " | start-up vs htop |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, v in steady.items():
        med, first = statistics.median(v), statistics.median(startup[name])
        lines.append(
            f"| {name} | {med:,.0f} | {min(v):,.0f} | {max(v):,.0f} | {med / htop:.2f}×"
            f" | {first:,.0f} | {first / htop_start:.1f}× |"
        )
    ours = max(statistics.median(v) for k, v in steady.items() if k.startswith("oncall"))
    lines += [
        "",
        f"Opening a dialog (the demo, `a` on the selected row after the warm-up; bytes"
        f" over {DIALOG_SETTLE:g} s, one per run): "
        + "; ".join(
            f"{name} {statistics.median(v):,.0f} B (min {min(v):,.0f}, max {max(v):,.0f})"
            for name, v in dialogs.items()
        )
        + ".",
    ]
    lines += [
        "",
        f"Target ≤ 2 KB/s (2,048 B/s): **{'met' if ours <= TARGET else 'missed'}**"
        f" (worst of ours {ours:,.0f} B/s).",
        "",
        *NOTES,
        "",
    ]
    publish(OUT, lines)


NOTES = [
    "- Before -> after, the demo at 120x40 (the same measure): 6.8 KB/s (every changed "
    "table cell repainted the whole table) -> 3.4 KB/s (cell-level repaint, the header "
    "clock's own cells, SLI lines that changed, 5 s age steps; 38db95e) -> 1.1 KB/s "
    "(ui/partial.py: Textual wrote each changed line from the widget's left edge; now only "
    "the segments that changed; c0ee28f).",
    "- The demo changes 11 latencies and 4 sparklines every 2 s on purpose; a real fleet of "
    "20 checks at 1 s refresh sends a few hundred bytes a second.",
    "- Fixed in the sixth #14 session (before = 95980e6): every full sync set the Health "
    'panel\'s "probed by" subtitle (shared probes, a390068), to "" without a bus, and '
    "Textual repaints a widget whole, border and rows, on any title assignment: the panel "
    "went to the terminal each second (~8 KB/s; this fragment, last run before that "
    "change, did not see it). Titles are now set only when they change "
    "(`partial.set_border`). Start-up: the verification bar, mounted into the screen "
    "after the first frame, made Textual repaint every cell once more; it is composed with "
    "the frame now, and the filter lines are mounted with the engine, in one batch with "
    "the SLI cards. A dialog: under a modal screen Textual repaints every cell for any "
    "change of the screen beneath, and the dashboard's footer composes its keys again as "
    'the dialog comes (so that q reads "Back"): four whole screens to open the actions '
    'dialog. A footer kept quiet underneath halved that (58 KB) but left "q Quit" '
    "under the dialog; it was taken back, so the two trees send the same here.",
    "- Fixed in the eighth #14 session (before = a762faf): read frame by frame in a pty we "
    "own, opening the actions dialog was four whole 26 KB frames, three of them the same. "
    "`ui/partial.py` now remembers each line of the last whole-screen frame and writes a "
    "line of the next one only where it differs (a partial update forgets its lines; a "
    "resize, a resume and ctrl+l forget all): 110 KB -> 38 KB to open it; in that pty, "
    "closing it 56 -> 47 KB, the detail view 109 -> 60 KB to open and 81 -> 47 KB to "
    "close. The first whole frame of a dialog stays: the dim of the screen beneath "
    "changes every cell.",
    "- Fixed in the ninth #14 session (before = ed43420, the table's before rows): read "
    "frame by frame on pyte, start-up sent the screen three times over (two partial "
    "updates of every line, then a whole frame, none changing a cell), and a partial "
    "update made the line diff forget its lines. `ui/partial.py` now follows each line's "
    "cells once a partial update touches it, and every update writes only the cells that "
    "differ (no wide character cut). Start-up 91.7 -> 28.2 KB (demo) and 102.6 -> 21.7 "
    "KB (20 checks); steady state 1,227 -> 557 B/s (demo) and "
    "261 -> 236 B/s; opening the actions "
    "dialog 37.5 -> 26.3 KB. In a pty (2 s windows, ~2.4 KB of them live updates): "
    "closing it 46.9 -> 25.9 KB, the detail view 56.0 -> 23.6 KB to open and 31.9 -> "
    "26.9 KB to close. What a dialog still costs is its first frame: the dim changes "
    "every cell.",
    "- Fixed in the tenth #14 session (before = 252423c, the table's before rows): a "
    "dialog no longer dims the dashboard beneath it (the dim recoloured every cell, "
    "opening and closing), and neighbouring segments of one style go out as one SGR run "
    "(a sparkline came one segment, ~40 bytes, a cell). Opening the actions dialog 26.2 "
    "-> 6.2 KB; in a pty (bench/_pty.py, 3 demo runs x 2 dialogs, 0.3 s after it shows): "
    "26.2 -> 17.2 KB with the merge alone, 6.3 KB with both, closing it 24.8 -> 11.5 KB. "
    "Start-up 28.4 -> 26.8 KB (demo), 21.7 -> 20.3 KB (20 checks); steady state unchanged "
    "in the demo (552 -> 554 B/s), 238 -> 221 B/s with 20 checks.",
]


if __name__ == "__main__":
    main()
