"""Issue #16, finding 5: a broken Alertmanager answer must never resolve incident alerts.

The reviewer's attack: with an incident open on a firing alert, make the alert feed
answer an empty 200 body, ``null``, or more alerts than ``max_alerts``; each was read as
"no alerts" (or as "the alert is gone") and wrote a permanent "no longer firing" entry
on the incident. Here the console runs on the stack's real Alertmanager, behind a small
proxy that shows it only this test's alerts and, on command, answers as a broken or
misbehaving one would. A well-formed, complete answer still resolves (the control).
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.model import Alert
from tests.support.stack import Stack
from tests.test_alertmanager_backend import Poster

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

RESOLVED = "alert resolved"
BROKEN = {
    "empty": (200, b""),
    "blank": (200, b" \r\n"),
    "null": (200, b"null"),
    "nulls": (200, b"[null]"),
    "numbers": (200, b"[1, 2, 3]"),
}
"""Answers a broken Alertmanager (or what stands in front of it) gives with a 200."""


class Proxy:
    """Forwards to the real Alertmanager, showing only one test run's alerts (its
    ``oncall_test`` label); ``mode`` set to a key of BROKEN answers alert lists so."""

    def __init__(self, upstream: str, run: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.run = run
        self.mode = "pass"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body, ctype = proxy.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str) -> tuple[int, bytes, str]:
        if path.startswith("/api/v2/alerts") and self.mode != "pass":
            status, body = BROKEN[self.mode]
            return status, body, "application/json"
        if path.startswith("/api/v2/alerts"):
            only_mine = urllib.parse.urlencode({"filter": f'oncall_test="{self.run}"'})
            path += ("&" if "?" in path else "?") + only_mine
        try:
            with urllib.request.urlopen(self.upstream + path, timeout=5) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "")

    def alerts(self) -> list[dict[str, Any]]:
        """What the console is shown now (in "pass" mode), in the server's order."""
        got = httpx.get(f"{self.url}/api/v2/alerts", params={"active": "true"}, timeout=5)
        got.raise_for_status()
        return got.json()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def am(stack: Stack) -> Iterator[Poster]:
    if not stack.alertmanager.running:
        stack.alertmanager.start()
    poster = Poster(stack.alertmanager.url)
    yield poster
    poster.resolve_all()


@pytest.fixture
def proxy(am: Poster) -> Iterator[Proxy]:
    p = Proxy(am.url, am.run)
    yield p
    p.close()


@pytest.fixture
async def console(proxy: Proxy, tmp_path: Path) -> AsyncIterator[Any]:
    """A read-write console on the proxy, its store a SQLite file; ``max_alerts`` as asked."""
    made: list[Engine] = []

    async def build(max_alerts: int = 1000) -> Engine:
        loaded = from_dict(
            {
                "console": {"operator": "alice"},
                "backends": {
                    "am": {"type": "alertmanager", "url": proxy.url, "max_alerts": max_alerts}
                },
                "store": {"url": f"sqlite:///{tmp_path / 'oncall.sqlite3'}"},
            }
        )
        engine = Engine(loaded)
        made.append(engine)
        await engine.start(poll=False)
        assert engine.store_error == ""
        return engine

    yield build
    for engine in made:
        await engine.stop()


async def mine(engine: Engine, name: str, timeout: float = 15.0) -> Alert:
    """Poll until the alert named ``name`` is in the console's feed."""
    deadline = time.monotonic() + timeout
    while True:
        await engine.poll_once()
        found = [a for a in engine.alerts() if a.name == name]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"{name} never reached the console: {engine.feed_errors()}")
        await asyncio.sleep(0.2)


async def kinds(engine: Engine, incident_id: str) -> list[str]:
    return [e.kind for e in await engine.incident_service.timeline(incident_id)]


@pytest.mark.parametrize("mode", sorted(BROKEN))
async def test_a_broken_answer_is_an_error_and_resolves_nothing(
    am: Poster, proxy: Proxy, console: Any, mode: str
) -> None:
    engine = await console()
    am.post({"alertname": "HardeningFeedBroken", "severity": "critical"})
    firing = await mine(engine, "HardeningFeedBroken")
    incident = await engine.incident_service.declare(from_alert=firing)
    await engine.sync_incidents()

    proxy.mode = mode
    await engine.poll_once()
    for _ in range(3):
        await engine.sync_incidents()
    assert RESOLVED not in await kinds(engine, incident.id)
    error = engine.feed_errors().get("am", "")
    assert "expected a list of alerts" in error or "is not an alert" in error, error
    assert [a.name for a in engine.alerts()] == ["HardeningFeedBroken"]  # kept, not emptied

    # The control: the alert really resolves, a well-formed answer says so, and it is written.
    proxy.mode = "pass"
    am.resolve_all()
    deadline = time.monotonic() + 15
    while RESOLVED not in await kinds(engine, incident.id):
        assert time.monotonic() < deadline, "a resolved alert was never written resolved"
        await engine.poll_once()
        await engine.sync_incidents()
        await asyncio.sleep(0.2)
    assert engine.feed_errors() == {}


async def test_a_feed_cut_at_max_alerts_resolves_nothing_it_did_not_show(
    am: Poster, proxy: Proxy, console: Any
) -> None:
    engine = await console(max_alerts=1)
    am.post({"alertname": "HardeningFeedCut", "severity": "warning"})
    firing = await mine(engine, "HardeningFeedCut")
    incident = await engine.incident_service.declare(from_alert=firing)
    await engine.sync_incidents()

    # A more severe alert fires: a console that shows one alert (max_alerts = 1) keeps the
    # critical one and no longer sees the incident's warning. It still fires.
    am.post({"alertname": "HardeningFeedOther", "severity": "critical"})
    assert firing.fingerprint in [a["fingerprint"] for a in proxy.alerts()]
    await engine.poll_once()
    shown = [a.name for a in engine.alerts()]
    assert "AlertFeedTruncated" in shown and "HardeningFeedCut" not in shown
    assert "HardeningFeedOther" in shown
    assert engine.feed_errors() == {}
    for _ in range(3):
        await engine.sync_incidents()
    assert RESOLVED not in await kinds(engine, incident.id)
