"""The fault suite (issue #6): what the on-call engineer sees when a server fails under them.

Each server of the real stack (PostgreSQL, Redis, Prometheus, Alertmanager and an HTTP
target, node-exporter) is killed, hung (SIGSTOP, then SIGCONT) and restarted while the
console polls it, and kmock's Kubernetes API answers 403, 500 and garbage. For every case:

- nothing escapes: no app exception, no errored worker, no poll loop ended, no traceback
  logged, no unhandled thread exception;
- the keyboard still answers while the server is away (a focus key moves the focus);
- the affected rows show DOWN or STALE within two poll intervals (plus one screen tick:
  stale is computed when the screen repaints);
- they come back by themselves once the server does, with no key pressed.

The figures (fault -> screen, back -> screen) are printed with -s and summed up at the end
of the module; the case count is the number of parametrized ids.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.worker import WorkerState

from oncall_console.model import Status
from oncall_console.ui.app import OncallApp
from oncall_console.ui.widgets.alerts import AlertsTable
from oncall_console.ui.widgets.sli import SliCard
from tests.support.console import console, glyph, until
from tests.support.stack import Server, Stack, write_dev_config
from tests.test_kubernetes_backend import DEPLOYMENTS, PODS, deployment, pod

pytestmark = [
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

INTERVAL = 1.0  # poll interval of every check, SLI and alert feed here
TIMEOUT = 0.5  # of each probe
REFRESH = 0.25  # the screen's tick
PROMISE = 2 * INTERVAL + REFRESH  # "down or stale within two intervals", as the screen shows it
BACK = 30.0  # deadline to recover: Prometheus rediscovers its targets ~5 s after a restart
CASE_LIMIT = 90.0  # a case that hangs fails here, with the stack of what it waited on

AWAY = (Status.DOWN, Status.STALE)
GOOD = (Status.OK, Status.DEGRADED)


@dataclass(frozen=True)
class Target:
    """A server of the stack and the rows of the console that depend on it."""

    server: str  # the attribute of Stack
    checks: tuple[str, ...]
    slis: tuple[str, ...] = ()
    feed: str | None = None  # an alert source whose "source down" notice shows


TARGETS = {
    "postgres": Target("postgres", ("postgres",)),
    "redis": Target("redis", ("redis",)),
    "prometheus": Target(
        "prometheus",
        ("scrape-targets", "prometheus-ready"),
        slis=("pg-pool", "redis-memory", "api-errors", "scrape-time"),
    ),
    "alertmanager": Target("alertmanager", ("alertmanager", "alertmanager-ready"), feed="am"),
    "http": Target("node_exporter", ("node-exporter",)),
}
FAULTS = ("kill", "hang", "restart")
K8S_FAULTS = ("403", "500", "not-json", "truncated-json")


@pytest.fixture(scope="module")
def figures() -> Iterator[list[str]]:
    """One line per case, printed as a table when the module is done (with -s)."""
    lines: list[str] = []
    yield lines
    if lines:
        print(f"\n--- fault suite: {len(lines)} cases ---")
        print("\n".join(lines))


# --- reading the screen ----------------------------------------------------------------------


def sli_shown(app: OncallApp, name: str) -> Status | None:
    """The status word an SLI card shows (as last synced by the screen)."""
    for card in app.screen.query(SliCard):
        if card.state.spec.name == name:
            head = card.render().plain.splitlines()[0]
            for status in Status:
                if head.endswith(f"{status.glyph} {status.label}") or head.endswith(status.glyph):
                    return status
    return None


def notices(app: OncallApp) -> set[str]:
    table = app.screen.query_one(AlertsTable)
    return {str(key.value) for key in table.rows if str(key.value).startswith("notice:")}


def away_rows(app: OncallApp, target: Target) -> dict[str, bool]:
    """Each affected row: does the screen show it DOWN or STALE (a notice: is it up)?"""
    away_glyphs = {s.glyph for s in AWAY}
    found = {check: glyph(app, check) in away_glyphs for check in target.checks}
    found |= {f"sli {sli}": sli_shown(app, sli) in AWAY for sli in target.slis}
    if target.feed:
        found[f"{target.feed} source down"] = f"notice:{target.feed}:feed" in notices(app)
    return found


def back_rows(app: OncallApp, target: Target, since: float) -> dict[str, bool]:
    """Each affected row: good on screen again, from a result taken after ``since``.

    An SLI is back when it reads without error again; its value is the system's business
    (a scrape that took 900 ms while Prometheus hung stays critical for a while).
    """
    engine = app.engine
    good_glyphs = {s.glyph for s in GOOD}
    found = {
        check: glyph(app, check) in good_glyphs
        and (engine.checks[check].last or _never).at >= since
        for check in target.checks
    }
    for sli in target.slis:
        state = engine.slis[sli]
        found[f"sli {sli}"] = (
            state.error is None
            and (state.at or 0.0) >= since
            and sli_shown(app, sli) not in (Status.STALE, Status.UNKNOWN, None)
        )
    if target.feed:
        found[f"{target.feed} source down"] = (
            f"notice:{target.feed}:feed" not in notices(app)
            and (engine.feeds[target.feed].at or 0.0) >= since
        )
    return found


class _Never:
    at = 0.0


_never = _Never()


# --- what must never happen --------------------------------------------------------------------


def nothing_escaped(app: OncallApp, caplog: pytest.LogCaptureFixture) -> None:
    """No exception in the app, no errored worker, every poll loop alive, no traceback logged."""
    assert app._exception is None, repr(app._exception)
    errored = [w.name for w in app.workers if w.state is WorkerState.ERROR]
    assert not errored, f"workers errored: {errored}"
    ended = [t.get_name() for t in app.engine.poller._tasks if t.done()]
    assert not ended, f"poll loops ended (no more results, no recovery): {ended}"
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, "\n".join(f"{r.name}: {r.getMessage()}" for r in logged)


async def keyboard_answers(app: OncallApp, pilot: Any) -> None:
    """Focus keys move the focus while a server is away: the UI never waits on it."""
    for key, panel in (("3", "alerts"), ("1", "health")):
        await pilot.press(key)
        await until(pilot, f"key {key} focuses {panel}", lambda p=panel: _focused(app) == p, 2.0)


def _focused(app: OncallApp) -> str | None:
    return app.focused.id if app.focused is not None else None


# --- server x fault on the real stack ----------------------------------------------------------


@pytest.fixture
def stack_config(healthy_stack: Stack, tmp_path: Path) -> Path:
    return write_dev_config(
        healthy_stack,
        tmp_path / "config.dev.toml",
        interval=INTERVAL,
        timeout=TIMEOUT,
        refresh=REFRESH,
    )


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", list(TARGETS))
async def test_a_server_failing_under_the_console(
    name: str,
    fault: str,
    healthy_stack: Stack,
    stack_config: Path,
    caplog: pytest.LogCaptureFixture,
    figures: list[str],
) -> None:
    target = TARGETS[name]
    server: Server = getattr(healthy_stack, target.server)
    app = console(stack_config)
    try:
        async with asyncio.timeout(CASE_LIMIT), app.run_test(size=(120, 40)) as pilot:
            await rows_until(
                pilot, "every affected row good first", lambda: back_rows(app, target, 0), BACK
            )
            if fault == "restart":
                figure = await restart_mid_poll(app, pilot, target, server)
            else:
                figure = await break_and_mend(app, pilot, target, server, fault)
            nothing_escaped(app, caplog)
        figures.append(f"{name:<13} {fault:<8} {figure}")
        print(f"\n{name} {fault}: {figure}")
    finally:
        if server.paused:
            server.resume()  # a stopped server must never outlive its test
        healthy_stack.ensure_running()


async def rows_until(
    pilot: Any, what: str, rows: Callable[[], dict[str, bool]], timeout: float
) -> dict[str, float]:
    """Wait until every row holds; returns the seconds until each first did."""
    start = time.monotonic()
    first: dict[str, float] = {}

    def every_row() -> bool:
        now = rows()
        for row, holds in now.items():
            if holds:
                first.setdefault(row, time.monotonic() - start)
        return all(now.values())

    try:
        await until(pilot, what, every_row, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; rows: {rows()}") from None
    return first


def spread(first: dict[str, float], offset: float = 0.0) -> str:
    """``1.17 s`` for one row, ``0.29-1.87 s`` for several."""
    low, high = min(first.values()) + offset, max(first.values()) + offset
    return f"{high:.2f} s" if len(first) == 1 else f"{low:.2f}-{high:.2f} s"


async def break_and_mend(
    app: OncallApp, pilot: Any, target: Target, server: Server, fault: str
) -> str:
    """Kill or hang the server: away on screen in time, keys answer; then back by itself."""
    began = time.monotonic()
    if fault == "kill":
        await asyncio.to_thread(server.kill)
    else:
        server.pause(tree=True)  # PostgreSQL's sessions too: the whole server hangs
    try:
        offset = time.monotonic() - began
        away = await rows_until(
            pilot, f"{target.server} {fault} on screen", lambda: away_rows(app, target),
            PROMISE - offset,
        )  # fmt: skip
        for check in target.checks:  # a clear reason on every DOWN row
            last = app.engine.checks[check].last
            if last is not None and last.status is Status.DOWN:
                assert last.summary and "\n" not in last.summary, last.summary
                assert "Traceback" not in last.summary, last.summary
        await keyboard_answers(app, pilot)
    finally:
        if fault == "hang":
            server.resume()
    if fault == "kill":
        await asyncio.to_thread(server.restart)
    since = time.time()
    back = await rows_until(
        pilot, f"{target.server} back", lambda: back_rows(app, target, since), BACK
    )
    return f"away on screen {spread(away, offset)}, back on screen {spread(back)}"


async def restart_mid_poll(app: OncallApp, pilot: Any, target: Target, server: Server) -> str:
    """Restart the server between two polls: whatever shows meanwhile, it comes back alone."""
    first = target.checks[0]
    seen = app.engine.checks[first].version
    await until(pilot, "a fresh poll", lambda: app.engine.checks[first].version > seen)
    began = time.monotonic()
    restart = asyncio.create_task(asyncio.to_thread(server.restart))
    blip = False

    def restarted() -> bool:
        nonlocal blip
        blip |= any(away_rows(app, target).values())
        return restart.done()

    await until(pilot, f"{target.server} restarted", restarted, BACK)
    await restart
    restart_s = time.monotonic() - began
    await keyboard_answers(app, pilot)
    since = time.time()
    back = await rows_until(
        pilot, f"{target.server} back", lambda: back_rows(app, target, since), BACK
    )
    shown = "DOWN shown meanwhile" if blip else "no DOWN shown"
    return f"restart took {restart_s:.2f} s ({shown}), back on screen {spread(back)}"


# --- the Kubernetes API answering badly (kmock) ------------------------------------------------


def k8s_config(path: Path, host: str) -> Path:
    path.write_text(
        f"""
[console]
environment = "kmock"
refresh = {REFRESH}

[poller]
interval = {INTERVAL}
timeout = 1

[store]
url = "{path.parent / "store.sqlite3"}"

[backends.k8s]
type = "kubernetes"
host = "{host}"
namespaces = ["prod"]
timeout = 1

[checks.workloads]
backend = "k8s"
kind = "workloads"

[checks.api]
backend = "k8s"
kind = "deployment"
name = "api"
""",
        encoding="utf-8",
    )
    return path


FORBIDDEN = {
    "kind": "Status",
    "status": "Failure",
    "reason": "Forbidden",
    "code": 403,
    "message": 'deployments.apps is forbidden: User "system:serviceaccount:ops:console"'
    ' cannot list resource "deployments" in API group "apps" in the namespace "prod"',
}
ANSWERS: dict[str, tuple[tuple[Any, ...], str]] = {
    # fault -> (what kmock answers, how the reason starts on screen)
    "403": ((403, FORBIDDEN), "forbidden: deployments.apps is forbidden"),
    "500": ((500, b"<html>upstream\n down</html>"), "HTTP 500 Internal Server Error"),
    "not-json": ((b"\x00\x1b[2Jnot json at all",), "unreadable answer from the API server"),
    "truncated-json": (
        (b'{"kind": "DeploymentList", "items": [{"metadata": {"name": "ap',),
        "unreadable answer from the API server",
    ),
}


@pytest.fixture
def cluster(kmock: Any) -> tuple[Any, dict[str, threading.Event]]:
    """One healthy deployment; each bad answer armed behind an event, for every prod read."""
    kmock.objects[DEPLOYMENTS, "prod", "api"] = deployment(
        "api", "prod", replicas=2, ready=2, revision=1, image="registry/api:1",
        labels={"app": "api"},
    )  # fmt: skip
    for n in (1, 2):
        kmock.objects[PODS, "prod", f"api-{n}"] = pod(f"api-{n}", "prod", "api")
    armed = {}
    for fault, (answer, _) in ANSWERS.items():
        armed[fault] = threading.Event()
        reaction = kmock[re.compile(r".*/namespaces/prod/.*")][armed[fault]]
        for part in answer:
            reaction = reaction << part
    return kmock, armed


def reason(app: OncallApp, check: str) -> str:
    last = app.engine.checks[check].last
    return last.summary if last else ""


@pytest.mark.parametrize("fault", K8S_FAULTS)
async def test_the_kubernetes_api_answering_badly(
    fault: str,
    cluster: tuple[Any, dict[str, threading.Event]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    figures: list[str],
) -> None:
    kmock, armed = cluster
    app = console(k8s_config(tmp_path / "k8s.toml", str(kmock.url).rstrip("/")))
    checks = ("workloads", "api")

    def on_screen(status: Status, since: float = 0.0) -> Callable[[], dict[str, bool]]:
        return lambda: {
            f"{c}: {reason(app, c)}": glyph(app, c) == status.glyph
            and (app.engine.checks[c].last or _never).at >= since
            for c in checks
        }

    async with asyncio.timeout(CASE_LIMIT), app.run_test(size=(120, 40)) as pilot:
        await rows_until(pilot, "k8s rows OK", on_screen(Status.OK), BACK)
        began, since = time.monotonic(), time.time()
        armed[fault].set()
        await rows_until(pilot, f"k8s {fault} DOWN", on_screen(Status.DOWN, since), PROMISE)
        away = time.monotonic() - began
        expected = ANSWERS[fault][1]
        for c in checks:
            line = reason(app, c)
            assert expected in line, line
            assert "\n" not in line and "Traceback" not in line and "\x1b" not in line, line
        await keyboard_answers(app, pilot)
        armed[fault].clear()
        since, mended = time.time(), time.monotonic()
        await rows_until(pilot, "k8s rows back", on_screen(Status.OK, since), BACK)
        back = time.monotonic() - mended
        nothing_escaped(app, caplog)
    figure = f"away on screen {away:.2f} s, back on screen {back:.2f} s"
    figures.append(f"{'kubernetes':<13} {fault:<8} {figure}")
    print(f"\nkubernetes {fault}: {figure}; reason: {expected}…")
