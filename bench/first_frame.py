#!/usr/bin/env python3
"""1. First frame in a real 120x40 pty (tmux): time from launch until the console's
own layout is painted ("first frame": the panels' titles are on screen) and until it
shows a real result ("first real result": a probe answered and painted). Medians of
several runs, our app next to a bare Textual app measured in the same run, interleaved.
The screen is read with ``capture-pane`` every 5 ms through one tmux control-mode client
(``_pty.TmuxControl``); ``--spawn`` adds the earlier observer (a tmux client spawned per
look, ~40 % of a CPU) and ``--stream`` one that reads the pane's bytes.

Cases: the bare hello-world; ``oncall-console demo`` (result marker: a ready count the
simulation computed); ``oncall-console run`` on a config of 200 HTTP checks against
bench/latency_server.py (5 ms; the real SQLite file store in a temp dir; result
marker: a check's "200 OK" row). ``--before REV`` adds both cases run from ``git
archive REV``, interleaved with the others, for a before -> after in one run.

Python's bytecode cache is warm for every case, as after any install (one untimed
run per case first, into a cache of the benchmark's own): a sandbox that sets
PYTHONDONTWRITEBYTECODE would otherwise recompile our modules on every launch.

    .venv/bin/python bench/first_frame.py [--runs 7] [--before REV] [--stream] [--spawn]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path += [str(ROOT / "bench")]
from _pty import TmuxControl, kill_tmux  # noqa: E402

PY = sys.executable
TARGET = 1.5  # first frame at most this many times the bare app's
FRAME = "Incidents & alerts"  # a panel title: the console's own layout is painted
NOTES = [
    "- First frame: the console's own layout is painted (header, the panels and their "
    "titles, the keys; the panels say how many checks and SLIs are starting). First real "
    "result: a probe answered and was painted. The issue's target names the first; the "
    "person at the keyboard also waits for the second, so both are here.",
    "- Python's bytecode cache is warm for every case, as after an install. This sandbox "
    "sets PYTHONDONTWRITEBYTECODE, and runs before this fragment recompiled our modules on "
    "every launch (~70 ms of each console start, none of the bare app's).",
    "- Why it was slow (bench/startup_trace.py, demo, before): Python + Textual's import "
    "(the bare app's whole first frame), then the pydantic config (~100 ms with pydantic's "
    "import), the engine (~35 ms), the backend and the validation, all before the first "
    "paint.",
    "- Fixed: on a terminal the console paints first. The CLI reads the TOML with tomllib "
    "into a sketch (no pydantic); the dashboard opens from it, keys shown but disabled; on "
    "Textual's Ready (first frame displayed) a worker thread validates the config and "
    "builds the engine, and the same screen goes live. A config the schema refuses still "
    "stops the console with the same located lines and exit code 2, after the terminal is "
    "restored. Also: config models no longer read their field docstrings at import "
    "(~8 ms), backend option models build their schema when first validated (~4 ms).",
    "- Earlier sessions: the first poll moved to a child process forked before Textual is "
    "imported (cli/firstpoll.py), then before argparse; the child read a sketch of the TOML "
    "through each backend's own models; postgres, redis and kubernetes probed from processes "
    "of their own; results that came before the dashboard was composed are in its first "
    "frame. At ec41896 -> 346c21e: first real result demo 1.99× -> 1.73×, 200 HTTP checks "
    "2.69× -> 2.30×, test stack 3.98× -> 2.48×.",
    "- This session (the *at 346c21e* rows are its start). Where the time went (a timeline "
    "of marks in each process and cProfile of the parent up to Textual's Ready): the child "
    "spent 250 ms of imports (pydantic, httpx, the backend's models) before a 5 ms HTTP "
    "probe, ~220 ms (pydantic, then psycopg) before the PostgreSQL one and ~250 ms before "
    "reading the demo's in-process simulation; the parent spent ~35-55 ms before Textual's "
    "import (argparse and its 14 commands, the TOML parsed twice) and parsed its whole "
    "stylesheet twice (the theme set in `__init__`).",
    "- Fixed: plain `demo`, `http` and `postgres` configs are read and probed by each "
    "backend's `sketch.py` without pydantic (or httpx), into the dicts the models would dump "
    "(the fingerprint the engine checks; tests keep them equal), with the backends' own "
    "probing code; a postgres process is forked before the pydantic preload the others "
    "share. Child's first result (loaded machine): HTTP 255 -> 115 ms, demo ~320 -> ~100 ms "
    "after its job started. The parent reads a plain `run`/`demo` argument list without "
    "argparse (~10 ms), parses the TOML once (~4-8 ms on 200 checks), skips the stylesheet's "
    "re-parse (~6 ms) and imports the actions' and inspections' models after the frame.",
    "- The fourth #14 session (before = 868fa4a in the table above): until the first frame "
    "is painted the health table takes only a screenful of rows, chosen as its sort places "
    "them (its sync before the paint: 200 rows 9.7 -> 2.3 ms); the first poll's own process "
    "yields (nice 19) once the first row's process is forked, before its pydantic preload, "
    "and so does every process that probes no backend of the first check (was 5). Still "
    "over 1.5x: 200 checks by 0.01x (3 ms: the TOML parse of 200 checks is 3.4 ms, the "
    "unpickling of their 200 first results 2.8 ms), the test stack by 0.07x.",
    "- The fifth #14 session (before = 079989e). Where the parent's time went beyond the bare "
    "app's (py-spy at 1 kHz, 6 launches each, 200 checks): App.run to the frame ~120 ms "
    "sampled against ~35 (layout and render ~23, compose and its styles ~17, mounting ~12), "
    "Textual's widget modules ~40 more, our modules ~47 (about a quarter of it dataclasses' "
    "methods compiled at import), the first poll's records ~19. Cut: the two filter inputs "
    "and the verification bar (hidden) are mounted after the frame; the other screens' "
    "look (220 of console.tcss's 303 lines) moved to screens.tcss, parsed before the first "
    "of them opens; the first poll's records unpickle by calling their classes, from the "
    "model (not the engine's prefetch module); the alerts' model (four frozen dataclasses) "
    "is imported when alerts come. Python function calls from launch to the "
    "frame (cProfile): 200 checks ~760k -> ~680k, test stack ~615k -> ~550k. Launched "
    "with the first poll off, the 200-check frame came ~50 ms sooner, ~28 ms of it the "
    "parent's own CPU (reading and showing the results): the rest is the children's "
    "probing on a machine shared with the tmux poller and the stack. Also: every first-poll "
    "process yields (nice 19) once it has sent its first result.",
    "- What the fifth session's figures say: this host (AMD EPYC; the earlier sessions' was "
    "an Intel Xeon) is much noisier: the bare app's launches range 197-348 ms, not 187-205, "
    "and with the capture-pane observer the same tree measured 1.37x, 1.48x and 1.66x for "
    "the demo in three runs of the session. That observer spawns a tmux client every 5 ms, "
    "~40 % of one of the two CPUs, while the console starts on both (its first poll on the "
    "second) and the bare app on one (the fourth session's last run, on the Intel host, quieter: 1.45x, 1.51x, 1.57x). With the streamed observer (same runs, no client "
    "spawned) every case is under 1.5x, before and after this session's changes; with "
    "capture-pane none of the console's is in this run.",
    "- The sixth #14 session (before = 95980e6) changed what start-up sends, not its "
    "first frame: the verification bar (one hidden Static) is composed with the frame "
    "again (mounted into the screen after it, it made Textual repaint every cell once "
    "more), the filter lines are mounted with the engine, and the tables draw rows again "
    "when a column widens after a paint. Where the 200-check frame's time goes, marked in "
    "one process (ms after the interpreter's start, 4 launches): our modules and the TOML "
    "before Textual ~24, Textual's import to ~145 (the bare app's: ~150-220 on this "
    "host), the dashboard's modules ~20, App.__init__ ~5, compose to mount ~20, the first "
    "render ~19 (a screenful of rows and borders; the bare app's ~1.5). What is left is "
    "drawing a full screen of data, spread over Textual's styles, compositor and strips.",
    "- The seventh #14 session (before = 3da36c4). Profiled first (bench/startup_trace.py "
    "now prints the parent's CPU beside its wall time): the parent's CPU to the frame was "
    "the same with the first poll and without it, its wall time 30-50 ms longer, off the "
    "CPU: on two cores the test stack's other backends (pydantic, redis-py, their probes) "
    "and the servers answering them (PostgreSQL's new backend, the exporters' /metrics) "
    "ran beside the frame. Test stack, 15 launches each, interleaved: 1.55x with all of "
    "it beside the frame, 1.37x with only the first row's process (PostgreSQL), 1.24x "
    "with no first poll. Fixed: what the first frame cannot show waits for it (the other "
    "backends' processes, and the first backend's checks beyond a screenful), until the "
    "parent closes a pipe on Textual's Ready or 1 s after the fork; tables' column labels "
    "are Text (DataTable read a str as markup and loaded Rich's emoji codes). Tried and "
    "left out: the children on SCHED_IDLE (the frame as slow, the result later), the "
    "children or the parent pinned to a CPU (within noise). Also found: a console now "
    "leaves cleanly on the SIGHUP that ending its tmux server sends (~0.3 s); the bench "
    "launched the next case beside that exit (the 200-check case measured 3.3x in one "
    "run) and now waits for the last console to be gone, by PID. What is left on this "
    "host: the PostgreSQL row is as late as psycopg's import (~90 ms of CPU in its "
    "process, ~20 of them importlib.metadata reading two version numbers), and the "
    "host's speed moves between launches (the bare app's CPU to its frame ranged "
    "170-270 ms in one series).",
    "- The eighth #14 session (before = a762faf). The observer: the screen was read by a "
    "`tmux capture-pane` client spawned every 5 ms, ~40 % of one of the two CPUs, which "
    "the console (two processes at start) felt more than the bare app (one); the same tree "
    "measured 1.64x / 1.97x / 1.93x with it and 1.29x / 1.38x / 1.27x streamed in one run "
    "at the session's start. It now keeps one tmux control-mode client and sends it capture-pane "
    "(`--spawn` still runs the old one). Profiled (cProfile from App.run to Ready, 200 "
    "checks): table cells were ~22 % of it, each drawn through Rich's general path "
    "(render_lines of Styled(Padding(Text))), ~0.1-0.13 ms a cell, 91-145 cells a frame; "
    "`ui/widgets/cells.py` draws a one-line Text cell with Rich's own Text methods in "
    "~0.015 ms (tests compare both ways on generated cells). What is left above the bare "
    "app: our 44 modules (~20 ms; Textual's own imports are the bare app's but for "
    "DataTable), compose, styles and layout of a full screen of data (~25 ms), the CSS "
    "parse of our stylesheet (~5 ms). Found on the way: a console that never ended after "
    "its tmux server was killed (the SIGCONT a hangup sends restarted Textual's input "
    "thread), at ~95 % of a core under a whole run; `kill_tmux` now kills and names what "
    "outlives its pane. In the table's run the tree before is not slower: the same tree "
    "measured 1.38x / 1.52x / 1.46x in a 21-run series 30 minutes earlier (streamed 1.38x "
    "/ 1.37x / 1.40x): on this host what is left of the target is the size of the spread "
    "between two series.",
    "- The ninth #14 session (before = a762faf, the eighth session's start): no change to "
    "start-up. This host was quiet (the bare app 168-209 ms in every series, against "
    "186-323 in the eighth session's, whose table, same command, read 1.40x / 1.50x / "
    "1.56x), and three series agree: 9 runs 1.31x / 1.37x / "
    "1.29x, the table's 21 runs 1.32x / 1.38x / 1.33x, 21 more runs right after "
    "(`--runs 21 --no-write --stream`) 1.33x / 1.40x / 1.34x (streamed 1.33x / 1.38x / "
    "1.32x). The tree before measures the same within 0.02x: the eighth session's cells "
    "(~35 ms of CPU a launch by cProfile) do not show end to end. Checked and left: the "
    "cyclic garbage collector runs 1.2-1.7 ms before the first frame (startup_trace.py "
    "now prints it); our modules before the frame ~25 ms self time under -X importtime "
    "(the dashboard's own module ~1.3 ms measured alone).",
]
HELLO = "textual hello-world"
STACK = "oncall-console, test stack"
STACK_MARKER = " connections ("  # the PostgreSQL row's reason: its connection count
MANY = "oncall-console, 200 HTTP checks"


@dataclass
class Case:
    argv: list[str]
    result: str  # text that shows a real result
    frame: str | None = FRAME  # text that shows the console's layout (None: same as result)
    cwd: Path = ROOT
    frames: list[float] = field(default_factory=list)
    results: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    """First real result with no bytecode cache (a fresh, empty cache each launch)."""
    spawned: list[float] = field(default_factory=list)
    """First real result seen by the earlier sessions' observer (``launch(spawn=True)``)."""
    streamed: list[float] = field(default_factory=list)
    """First real result seen in the pane's output stream (``launch_streamed``)."""


def write_200_checks(folder: Path, ports: list[int]) -> Path:
    """A config of 200 HTTP checks on the loopback latency servers."""
    lines = [
        "[backends.web]",
        'type = "http"',
        "",
        "[store]",
        f'url = "{folder / "oncall.sqlite3"}"',
        "",
    ]
    for i in range(200):
        lines += [
            f"[checks.svc-{i:03d}]",
            'backend = "web"',
            f'url = "http://127.0.0.1:{ports[i % len(ports)]}/svc-{i}/health"',
            "interval = 15",
            "",
        ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines))
    return path


def launch(
    case: Case, pycache: Path, timeout: float = 20.0, spawn: bool = False
) -> tuple[float, float]:
    """Seconds from launch to the frame marker and to the result marker, read off the
    screen (``capture-pane``) every 5 ms through one tmux control-mode client
    (``_pty.TmuxControl``), started with its tmux server before the clock. ``spawn``:
    the observer of the sessions before the eighth: a ``tmux capture-pane`` client
    spawned for every look, ~40 % of one of this machine's two CPUs."""
    tmux = ["tmux", "-L", f"ff{time.monotonic_ns()}", "-f", "/dev/null"]  # a server per run
    cmd = " ".join(f"'{a}'" for a in case.argv)
    env = ["-e", f"PYTHONPYCACHEPREFIX={pycache}", "-e", "PYTHONDONTWRITEBYTECODE="]
    observer = None if spawn else TmuxControl(tmux)
    size = ["-x", "120", "-y", "40", "-s", "app", "-c", str(case.cwd)]
    frame_at: float | None = None
    try:
        start = time.perf_counter()
        subprocess.run([*tmux, "new-session", "-d", *size, *env, cmd], check=True)
        while time.perf_counter() - start < timeout:
            if observer is None:
                screen = subprocess.run(
                    [*tmux, "capture-pane", "-p", "-t", "app"], capture_output=True, text=True
                ).stdout
            else:
                screen = observer.command("capture-pane -p -t app").decode(errors="replace")
            now = time.perf_counter() - start
            if frame_at is None and case.frame is not None and case.frame in screen:
                frame_at = now
            if case.result in screen:
                return (frame_at if frame_at is not None else now), now
            time.sleep(0.005)
        raise TimeoutError(f"{case.result!r} never appeared")
    finally:
        kill_tmux(tmux, target="app")  # and wait for the console to be gone
        if observer is not None:
            observer.close()


def launch_streamed(case: Case, pycache: Path, timeout: float = 20.0) -> float:
    """Seconds from launch to the result marker in the bytes the pane receives (tmux
    ``pipe-pane`` into a file this process reads every 2 ms). The ``capture-pane`` loop
    of :func:`launch` spawns a tmux client every 5 ms, ~40 % of one of this machine's
    two CPUs: a lighter observer beside it. The command waits for a key (``read``) so
    that the pipe is in place before its first byte."""
    tmux = ["tmux", "-L", f"fs{time.monotonic_ns()}", "-f", "/dev/null"]
    cmd = " ".join(f"'{a}'" for a in case.argv)
    env = ["-e", f"PYTHONPYCACHEPREFIX={pycache}", "-e", "PYTHONDONTWRITEBYTECODE="]
    marker = case.result.encode()
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        subprocess.run(
            [
                *tmux,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-c",
                str(case.cwd),
                *env,
                f"read go; exec {cmd}",
            ],
            check=True,
        )
        try:
            subprocess.run([*tmux, "pipe-pane", "-o", f"cat >> {out.name}"], check=True)
            start = time.perf_counter()
            subprocess.run([*tmux, "send-keys", "Enter"], check=True)
            seen = b""
            with open(out.name, "rb") as stream:
                while time.perf_counter() - start < timeout:
                    seen = seen[-len(marker) :] + stream.read()
                    if marker in seen:
                        return time.perf_counter() - start
                    time.sleep(0.002)
            raise TimeoutError(f"{case.result!r} never streamed")
        finally:
            kill_tmux(tmux)  # and wait for the console to be gone


def _when() -> str:
    """When and on what CPU (the sandbox's host changes between sessions)."""
    from report import _cpu

    return f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {_cpu()}"


def _ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.0f} ms"


def _x(times: list[float], base: float) -> str:
    return f"{statistics.median(times) / base:.2f}×"


def checkout(rev: str, folder: Path) -> Path:
    """The tree of ``rev`` in ``folder`` (git archive: the repository is not touched)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        capture_output=True,
        check=True,
    ).stdout
    folder.mkdir(parents=True)
    tar = folder / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(folder, filter="data")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", metavar="REV", help="also run the console at REV")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="also time each case with a lighter observer (tmux pipe-pane, no polling client)",
    )
    parser.add_argument(
        "--spawn",
        action="store_true",
        help="also time each case with the earlier observer (a tmux client spawned per look)",
    )
    parser.add_argument(
        "--no-stack", action="store_true", help="skip the test-stack case (needs its servers)"
    )
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    from _common import load, met, write_fragment
    from latency_server import LatencyServers

    loads = [load()]
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        ports = stack.enter_context(LatencyServers(4, 5.0))
        config = write_200_checks(Path(tmp), ports)
        demo = [PY, "-m", "oncall_console", "demo"]
        many = [PY, "-m", "oncall_console", "run", "-c", str(config)]
        cases = {
            HELLO: Case([PY, str(ROOT / "bench" / "hello.py")], "Hello, on-call", frame=None),
            "oncall-console demo": Case(demo, "1/1 ready"),
            MANY: Case(many, "200 OK"),
        }
        if not args.no_stack:
            sys.path.insert(0, str(ROOT))
            from tests.support.stack import Stack, write_dev_config

            servers = stack.enter_context(Stack())
            servers.wait_for_targets_up()
            dev = write_dev_config(servers, Path(tmp) / "config.dev.toml", interval=15)
            run_dev = [PY, "-m", "oncall_console", "run", "-c", str(dev)]
            cases[STACK] = Case(run_dev, STACK_MARKER)
        pairs: dict[str, str] = {}  # this tree's case -> the same case at --before
        if args.before:
            tree = checkout(args.before, Path(tmp) / "before")
            for name, short in (
                ("oncall-console demo", "demo"),
                (MANY, "200 HTTP checks"),
                (STACK, "test stack"),
            ):
                if name in cases:
                    pairs[name] = f"{short} at {args.before}"
                    cases[pairs[name]] = Case(cases[name].argv, cases[name].result, cwd=tree)
        pycache = Path(tmp) / "pycache"
        for case in cases.values():  # untimed: fills the bytecode cache
            launch(case, pycache)
        for run in range(args.runs):  # interleaved, so all see the same machine load
            for case in cases.values():
                frame, result = launch(case, pycache)
                case.frames.append(frame)
                case.results.append(result)
                # Cold: no bytecode cache at all (a fresh install's very first start).
                case.cold.append(launch(case, Path(tmp) / f"cold-{run}-{id(case)}")[1])
                if args.stream:
                    case.streamed.append(launch_streamed(case, pycache))
                if args.spawn:
                    case.spawned.append(launch(case, pycache, spawn=True)[1])
    loads.append(load())
    base = statistics.median(cases[HELLO].results)
    lines = [
        "## 1. First frame",
        "",
        f"`python bench/first_frame.py --runs {args.runs}"
        f"{f' --before {args.before}' if args.before else ''}"
        f"{' --stream' if args.stream else ''}{' --spawn' if args.spawn else ''}` — launch to "
        "the console's first frame and to its first real result, in a real 120×40 pty (tmux; "
        "its screen read with `capture-pane` every 5 ms through one control-mode client, "
        f"`tmux -C`), interleaved run by run. {_when()}; {loads[0]} at start, {loads[-1]} at "
        "end.",
        "",
        "| app | first frame (median) | ratio to bare app | first real result (median, "
        "min–max) | ratio to bare app | cold start: first real result (ratio to bare app "
        "cold) | result marker |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    cold_base = statistics.median(cases[HELLO].cold)
    for name, case in cases.items():
        frame, result = statistics.median(case.frames), statistics.median(case.results)
        cold = statistics.median(case.cold)
        lines.append(
            f"| {name} | {frame * 1000:.0f} ms | {frame / base:.2f}× | {result * 1000:.0f} ms "
            f"({min(case.results) * 1000:.0f}–{max(case.results) * 1000:.0f}) | "
            f"{result / base:.2f}× | {cold * 1000:.0f} ms ({cold / cold_base:.2f}×) | "
            f"`{case.result}` |"
        )
    lines += [
        "",
        f"Runs: {args.runs}, interleaved, each case warm (bytecode cached) and cold (an "
        f"empty cache) in turn. First frame marker: `{FRAME}` on screen (the bare app's "
        "first frame is its text).",
        "",
    ]
    for name, case in cases.items():
        if name == HELLO or name in pairs.values():
            continue
        frame = statistics.median(case.frames) / base
        result = statistics.median(case.results) / base
        lines.append(
            f"- Target ≤ {TARGET:g}× the bare app, {name}: first real result {result:.2f}× → "
            f"{met(result <= TARGET)}; first frame {frame:.2f}× → {met(frame <= TARGET)}."
        )
    if pairs:
        lines += [""]
        for name, before in pairs.items():
            now, then = cases[name], cases[before]
            lines.append(
                f"- Before -> after ({args.before} -> this tree, same run), {name}: first frame "
                f"{_ms(then.frames)} -> {_ms(now.frames)} ({_x(then.frames, base)} -> "
                f"{_x(now.frames, base)}); first real result {_ms(then.results)} -> "
                f"{_ms(now.results)} ({_x(then.results, base)} -> {_x(now.results, base)}); "
                f"cold {_ms(then.cold)} -> {_ms(now.cold)}."
            )
    extra = [
        (
            args.stream,
            "streamed",
            "The same runs, a lighter observer still (`--stream`): each case launched once "
            "more per run, its first real result timed in the bytes the pane receives (tmux "
            "`pipe-pane` into a file read every 2 ms).",
        ),
        (
            args.spawn,
            "spawned",
            "The same runs, the observer of the sessions before the eighth (`--spawn`): each "
            "case launched once more per run, its screen read by a `tmux capture-pane` client "
            "spawned every 5 ms, ~40 % of one of this machine's two CPUs (measured on an idle "
            "pane), taken from the console, which starts on two cores (its first poll on the "
            "second), more than from the bare app, which starts on one.",
        ),
    ]
    for wanted, attr, text in extra:
        if not wanted:
            continue
        extra_base = statistics.median(getattr(cases[HELLO], attr))
        lines += [
            "",
            text,
            "",
            f"| app | first real result, {attr} (median, min–max) | ratio to bare app |",
            "| --- | ---: | ---: |",
        ]
        for name, case in cases.items():
            times = getattr(case, attr)
            lines.append(
                f"| {name} | {statistics.median(times) * 1000:.0f} ms ({min(times) * 1000:.0f}–"
                f"{max(times) * 1000:.0f}) | {statistics.median(times) / extra_base:.2f}× |"
            )
    lines += ["", *NOTES]
    write_fragment(__file__, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
