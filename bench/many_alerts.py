#!/usr/bin/env python3
"""Many alerts: 10,000 alerts in a real Alertmanager, fetched, drawn and filtered.

A real Alertmanager (the test suite's, tests/support/stack_servers.py) on a free
port is fed N alerts through POST /api/v2/alerts (distinct labels, endsAt an hour
away so they stay active for the run). Then, in the same run:

- fetch: the alertmanager backend's ``alerts()`` (HTTP + JSON + our parse and
  cleaning) against the floor (the same GET with httpx and ``json.loads`` only): the
  first fetch, the same again with nothing changed, and again after ``--churn``;
- UI: the console in a 120x40 pty we own, on that Alertmanager; a filter
  keystroke -> the end of the first frame whose panel title shows the new filter
  (the title is set from the table's count, so that frame has the filtered rows).
  Once with the alerts static, once while a share of them (``--churn``, 10 %) is
  re-POSTed with a new endsAt every poll interval, as Prometheus resends alerts.

    .venv/bin/python bench/many_alerts.py [--runs 5] [--alerts 10000] [--churn 0.1]
        [--before REV] [--after REV]

``--before REV`` measures that commit too (``git archive`` into a temp dir, first on
PYTHONPATH; or a directory holding a tree), interleaved with the working tree run for
run: before -> after. ``--after REV`` measures that instead of the working tree (which
may hold other people's work in progress).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# --before's tree (on PYTHONPATH, for the --fetch-only child) must stay ahead of this one.
_FIRST = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
sys.path[:0] = [*_FIRST, str(ROOT), str(ROOT / "bench")]

from _pty import PtyApp, machine, percentile, publish  # noqa: E402

from oncall_console.backends.alertmanager import AlertmanagerBackend  # noqa: E402
from oncall_console.backends.alertmanager.options import AlertmanagerOptions  # noqa: E402
from oncall_console.backends.base import BackendContext  # noqa: E402
from tests.support.stack_servers import AlertmanagerServer, missing_binaries  # noqa: E402

OUT = ROOT / "bench" / "results" / "many_alerts.md"
NAMES = ["NodeDiskFilling", "HighErrorRate", "PodCrashLooping", "CheckoutLatencyHigh"]
SEVERITIES = ["critical", "warning", "info", "page"]
TYPED = "host-01234"  # one keystroke at a time; the last one leaves one alert
POLL = 5.0
"""The console's alert feed interval here, and the churn's."""


def alert_body(n: int, ends: str) -> dict[str, object]:
    return {
        "labels": {
            "alertname": NAMES[n % len(NAMES)],
            "instance": f"host-{n:05d}",
            "service": f"svc-{n % 97:02d}",
            "severity": SEVERITIES[n % len(SEVERITIES)],
        },
        "annotations": {"summary": f"disk 91% full on host-{n:05d} (/var/lib/data)"},
        "endsAt": ends,
    }


def post(url: str, numbers: range, batch: int = 1000) -> None:
    """POST alerts ``numbers``, ending an hour from now (to the millisecond: a resend
    changes endsAt and updatedAt, as Prometheus's do)."""
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="milliseconds")
    for first in range(numbers.start, numbers.stop, batch):
        body = [alert_body(n, ends) for n in range(first, min(numbers.stop, first + batch))]
        req = urllib.request.Request(
            f"{url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=30).read()


def feed(url: str, count: int) -> float:
    """POST ``count`` alerts; returns seconds until the API lists them all."""
    start = time.perf_counter()
    post(url, range(count))
    while len(httpx.get(f"{url}/api/v2/alerts", timeout=30).json()) < count:
        time.sleep(0.2)
    return time.perf_counter() - start


class Churn:
    """Re-POSTs the next ``share`` of ``count`` alerts (round robin) at each ``step()``."""

    def __init__(self, url: str, count: int, share: float) -> None:
        self.url, self.count = url, count
        self.size = max(1, round(count * share))
        self.next = 0

    def step(self) -> None:
        first = self.next
        post(self.url, range(first, min(self.count, first + self.size)))
        self.next = 0 if first + self.size >= self.count else first + self.size

    def every(self, seconds: float) -> threading.Event:
        """Steps in a thread every ``seconds`` until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(seconds):
                self.step()

        threading.Thread(target=loop, daemon=True).start()
        return stop


FETCHES = ("floor", "backend", "again", "churn", "parse")


async def fetch_times(url: str, runs: int, churn: Churn | None) -> dict[str, list[float]]:
    """Floor (GET + json.loads) and the backend (GET + JSON + parse): a first fetch, the
    same again, and again after a churn step; interleaved."""
    times: dict[str, list[float]] = {k: [] for k in FETCHES}
    with ThreadPoolExecutor(2) as pool:
        backend = AlertmanagerBackend(
            "am", AlertmanagerOptions(url=url, timeout=60), BackendContext(executor=pool)
        )
        async with httpx.AsyncClient(timeout=60) as client:
            params = backend._alert_params()
            for _ in range(runs):
                t = time.perf_counter()
                raw = (await client.get(f"{url}/api/v2/alerts", params=params)).content
                doc = json.loads(raw)
                times["floor"].append(time.perf_counter() - t)
                t = time.perf_counter()
                alerts = await backend.alerts()
                times["backend"].append(time.perf_counter() - t)
                t = time.perf_counter()
                await backend.alerts()
                times["again"].append(time.perf_counter() - t)
                if churn is not None:
                    churn.step()
                    t = time.perf_counter()
                    await backend.alerts()
                    times["churn"].append(time.perf_counter() - t)
                t = time.perf_counter()
                parsed = [backend._alert(item) for item in doc]
                times["parse"].append(time.perf_counter() - t)
                assert len(alerts) == len(parsed) == len(doc)
        await backend.close()
    return times


def fetch_in(
    code: Path | None, url: str, runs: int, args: argparse.Namespace
) -> dict[str, list[float]]:
    """fetch_times() in a child running ``code`` (None: this tree)."""
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    out = subprocess.run(
        [
            *(sys.executable, __file__, "--fetch-only", url, "--runs", str(runs)),
            *("--alerts", str(args.alerts), "--churn", str(args.churn)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return json.loads(out)


def console_config(url: str, path: Path) -> Path:
    path.write_text(
        '[console]\nenvironment = "bench"\nrefresh = 1.0\n\n'
        f"[poller]\ninterval = {POLL:g}\n\n"
        f'[store]\nurl = "{path.parent / "store.sqlite3"}"\n\n'
        f'[backends.am]\ntype = "alertmanager"\nurl = "{url}"\ntimeout = 30\n'
        'group_by = ["alertname", "instance"]\n\n'
        '[checks.alertmanager]\nbackend = "am"\n',
        encoding="utf-8",
    )
    return path


def ui_times(
    config: Path, code: Path | None, out: dict[str, list[float]], churn: Churn | None
) -> None:
    """Launch -> alerts drawn; then '/' and TYPED typed one key at a time, three times
    (with ``churn`` stepping every poll interval meanwhile)."""
    argv = [sys.executable, "-m", "oncall_console", "run", "--config", str(config)]
    env = {"PYTHONPATH": str(code)} if code else None
    # from the config's folder: `python -m` puts the working directory ahead of PYTHONPATH,
    # and --before's tree must win over this checkout
    with PtyApp(argv, env=env, cwd=str(config.parent)) as app:
        start = time.perf_counter()
        drawn = app.wait_text("disk 91% full on host-", timeout=60)
        out["first"].append(drawn.end - start)
        stop = churn.every(POLL) if churn else None
        try:
            filter_keys(app, out)
        finally:
            if stop is not None:
                stop.set()


def filter_keys(app: PtyApp, out: dict[str, list[float]]) -> None:
    for _ in range(3):  # the feed polls every 5 s: some keys land during a fetch
        time.sleep(1.0)
        app.write(b"3")  # / filters the focused panel: the alerts (untimed)
        time.sleep(0.3)
        t = app.write(b"/")
        app.wait_text("ilter alerts: name", after=t, timeout=10.0)
        for k in range(1, len(TYPED) + 1):
            t = app.write(TYPED[k - 1].encode())
            frame = app.wait_text(f'match "{TYPED[:k]}"', after=t, timeout=10.0)
            out["key"].append(frame.end - t)
            time.sleep(0.15)  # a fast typist: ~7 keys a second
        t = app.write(b"\x1b")
        frame = app.wait_screen(
            lambda s: "Incidents & alerts" in s and 'match "' not in s, after=t, timeout=10.0
        )
        out["escape"].append(frame.end - t)


def tree(rev: str, into: Path) -> Path:
    """A directory as it is, or a commit unpacked into ``into``."""
    if Path(rev).is_dir():
        return Path(rev).resolve()
    into.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument(
        "--churn",
        type=float,
        default=0.1,
        metavar="SHARE",
        help="alerts re-POSTed every poll interval in the churn runs (0: static only)",
    )
    parser.add_argument("--before", metavar="REV", help="also measure this commit (or tree)")
    parser.add_argument("--after", metavar="REV", help="this commit (or tree), not the checkout")
    parser.add_argument("--fetch-only", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fetch_only:
        churn = Churn(args.fetch_only, args.alerts, args.churn) if args.churn else None
        print(json.dumps(asyncio.run(fetch_times(args.fetch_only, args.runs, churn))))
        return
    if any("alertmanager" in m for m in missing_binaries()):
        sys.exit("alertmanager is needed (scripts/debian-packages.txt)")
    with tempfile.TemporaryDirectory(prefix="bench-am-") as tmp:
        codes: dict[str, Path | None] = {}
        if args.before:
            codes["before"] = tree(args.before, Path(tmp) / "before")
        codes["after"] = tree(args.after, Path(tmp) / "after") if args.after else None
        server = AlertmanagerServer(Path(tmp) / "alertmanager")
        server.start(retry_ports=True)
        try:
            fed = feed(server.url, args.alerts)
            config = console_config(server.url, Path(tmp) / "bench.toml")
            churn = Churn(server.url, args.alerts, args.churn) if args.churn else None
            fetch: Results = {name: {k: [] for k in FETCHES} for name in codes}
            ui: Results = {name: {k: [] for k in UI + UI_CHURN} for name in codes}
            for _ in range(args.runs):  # interleaved: both see the same machine
                for name, code in codes.items():
                    for k, v in fetch_in(code, server.url, 1, args).items():
                        fetch[name][k] += v
                    ui_times(config, code, ui[name], None)
                    if churn is not None:
                        churned: dict[str, list[float]] = {k: [] for k in UI}
                        ui_times(config, code, churned, churn)
                        for k, v in churned.items():
                            ui[name][f"{k}_churn"] += v
        finally:
            server.stop()
    write(args, fed, fetch, ui)


Results = dict[str, dict[str, list[float]]]
UI = ("first", "key", "escape")
UI_CHURN = tuple(f"{k}_churn" for k in UI)


def ms(x: float) -> str:
    return f"{x * 1000:,.0f} ms"


def write(args: argparse.Namespace, fed: float, fetch: Results, ui: Results) -> None:
    names = list(fetch)
    multi = len(names) > 1
    label = (lambda n: f" ({n})") if multi else (lambda n: "")
    floor = statistics.median([x for n in names for x in fetch[n]["floor"]])
    churn = f"{args.churn:.0%}"
    lines = [
        "## 6. Many alerts",
        "",
        f"{args.alerts:,} alerts in a real Alertmanager (fed through POST /api/v2/alerts in"
        f" {fed:.1f} s), {args.runs} runs"
        + (
            f", {args.before} (before) and {args.after or 'the working tree'} (after) interleaved"
            if multi
            else ""
        )
        + f". Machine: {machine()}.",
        "",
        "Fetch, in a child process per run:",
        "",
        "| what | median | min | max | vs floor |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| GET + json.loads (httpx, the floor) | {ms(floor)} | | | 1.00× |",
    ]
    fetch_rows = [
        ("backend", "backend `alerts()`: GET + JSON + parse + clean, first fetch"),
        ("again", "the same again, nothing changed"),
        ("churn", f"again after {churn} of the alerts were re-POSTed"),
        ("parse", "parse + clean alone (already decoded)"),
    ]
    for key, what in fetch_rows:
        for n in names:
            v = fetch[n][key]
            if not v:
                continue
            med = statistics.median(v)
            lines.append(
                f"| {what}{label(n)} | {ms(med)} | {ms(min(v))} | {ms(max(v))} |"
                f" {med / floor:.2f}× |"
            )
    lines += [
        "",
        f"Console in a 120×40 pty we own (keys written to the pty master, the alert feed"
        f" polling every {POLL:g} s so that some keys land during a fetch; a frame is the"
        " block between Textual's synchronized-output marks, which we tell it we support);"
        f" static: nothing changes, churn: {churn} of the alerts re-POSTed with a new endsAt"
        f" every {POLL:g} s:",
        "",
        "| what | p50 | p95 | max | samples |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    ui_rows = [
        ("first", "launch → alerts drawn"),
        ("key", "filter keystroke → frame with the filtered rows, static"),
        ("key_churn", "filter keystroke → frame with the filtered rows, churn"),
        ("escape", f"escape (all {args.alerts:,} back) → frame, static"),
        ("escape_churn", f"escape (all {args.alerts:,} back) → frame, churn"),
    ]
    for key, what in ui_rows:
        for n in names:
            v = ui[n][key]
            if not v:
                continue
            lines.append(
                f"| {what}{label(n)} | {ms(statistics.median(v))} | {ms(percentile(v, 95))} |"
                f" {ms(max(v))} | {len(v)} |"
            )
    worst = {
        mode: percentile(ui["after"][key], 95)
        for key, mode in (("key", "static"), ("key_churn", "churn"))
        if ui["after"][key]
    }
    met = all(p95 <= 0.1 for p95 in worst.values())
    lines += [
        "",
        f"Target: filter keystroke → frame ≤ 100 ms: **{'met' if met else 'missed'}**"
        f" (p95 {' / '.join(f'{ms(p)} {mode}' for mode, p in worst.items())}).",
        "",
    ]
    publish(OUT, lines)


if __name__ == "__main__":
    main()
