"""The alertmanager backend against the stack's real Alertmanager (and Prometheus).

Alerts are posted straight to Alertmanager's API, each test with its own
``oncall_test`` label value, and resolved again when the test ends. Silences go
through the action runner, the one path the console has to a backend's ``run``.
Pure parsing (matchers, timestamps, odd alert objects) is tested without servers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from oncall_console.backends.alertmanager import AlertmanagerBackend
from oncall_console.backends.alertmanager.client import AlertmanagerError, parse_time
from oncall_console.backends.alertmanager.matchers import MatcherError, parse_matchers
from oncall_console.backends.alertmanager.options import AlertmanagerOptions
from oncall_console.backends.base import BackendContext
from oncall_console.config import from_dict
from oncall_console.engine import ActionRefused, ActionRunner, Engine
from oncall_console.model import (
    ActionRequest,
    AlertState,
    CheckSpec,
    Outcome,
    Severity,
    Status,
)
from oncall_console.store.audit import MemoryAuditLog
from tests.support.stack import Stack
from tests.support.stack_config import SERVICE_DOWN

MakeBackend = Callable[..., AlertmanagerBackend]


# --- helpers ---------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Poster:
    """Posts alerts to the real Alertmanager and resolves them again at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.run = uuid.uuid4().hex[:10]
        self.sent: list[dict[str, Any]] = []

    def post(self, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
        now = time.time()
        alert = {
            "labels": {"oncall_test": self.run, **labels},
            "annotations": annotations or {},
            "startsAt": _iso(now - 30),
            "endsAt": _iso(now + 600),
        }
        httpx.post(f"{self.url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
        self.sent.append(alert)

    def resolve_all(self) -> None:
        if not self.sent:
            return
        ended = [{**a, "endsAt": _iso(time.time() - 1)} for a in self.sent]
        try:
            httpx.post(f"{self.url}/api/v2/alerts", json=ended, timeout=5)
        except httpx.HTTPError:
            pass  # Alertmanager was stopped by the test: its alerts are gone anyway

    def expire_my_silences(self) -> None:
        try:
            silences = httpx.get(f"{self.url}/api/v2/silences", timeout=5).json()
            for s in silences:
                mine = any(m.get("value", "").find(self.run) >= 0 for m in s.get("matchers", []))
                if mine and s["status"]["state"] != "expired":
                    httpx.delete(f"{self.url}/api/v2/silence/{s['id']}", timeout=5)
        except httpx.HTTPError:
            pass


async def eventually(what: str, probe: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """Await ``probe()`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await probe()
        except AlertmanagerError as exc:
            last = exc
        if last and not isinstance(last, AlertmanagerError):
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.25)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as pool:
        yield pool


@pytest.fixture
async def make(executor: ThreadPoolExecutor) -> AsyncIterator[MakeBackend]:
    made: list[AlertmanagerBackend] = []

    def build(
        url: str, name: str = "am", read_only: bool = False, **opts: Any
    ) -> AlertmanagerBackend:
        options = AlertmanagerOptions.model_validate({"url": url, **opts})
        context = BackendContext(executor=executor, read_only=read_only)
        backend = AlertmanagerBackend(name, options, context)
        made.append(backend)
        return backend

    yield build
    for b in made:
        await b.close()


@pytest.fixture
def am(stack: Stack) -> Iterator[Poster]:
    """The running Alertmanager (restarted if a failed test left it stopped)."""
    if not stack.alertmanager.running:
        stack.alertmanager.start()
    poster = Poster(stack.alertmanager.url)
    yield poster
    poster.expire_my_silences()
    poster.resolve_all()


def _runner(
    backend: AlertmanagerBackend,
    operator: str = "alice",
    *,
    read_only: bool = False,
    audit: MemoryAuditLog | None = None,
) -> ActionRunner:
    return ActionRunner(
        {backend.name: backend},
        audit or MemoryAuditLog(),
        operator=operator,
        read_only=read_only,
        clock=time.time,
    )


def _mine(alerts: list[Any], run: str) -> list[Any]:
    return [a for a in alerts if a.labels.get("oncall_test") == run]


# --- pure parsing ------------------------------------------------------------------------------


def test_matchers_in_alertmanager_syntax_round_trip() -> None:
    text = r'alertname="HighErrorRate", service=~"api|web",env!="dev",pod!~"canary-.*",q="a\"b\\c"'
    matchers = parse_matchers(text)
    assert [m.render() for m in matchers] == [
        'alertname="HighErrorRate"',
        'service=~"api|web"',
        'env!="dev"',
        'pod!~"canary-.*"',
        r'q="a\"b\\c"',
    ]
    assert matchers[4].value == 'a"b\\c'
    assert parse_matchers(",".join(m.render() for m in matchers)) == matchers
    # regexes are anchored at both ends, as Alertmanager anchors them
    assert matchers[1].matches_value("api") and not matchers[1].matches_value("api-canary")
    assert matchers[3].matches_value("web-1") and not matchers[3].matches_value("canary-7")
    assert matchers[2].matches({}) and not parse_matchers('x="y"')[0].matches({})
    assert parse_matchers(r'q=~"\\++"')[0].matches_value("++")  # escaped plus, not possessive


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no matchers given"),
        ("alertname=HighErrorRate", "double quotes"),
        ("alertname='HighErrorRate'", "double quotes"),
        ('{alertname="x"', "expected a label name"),
        ('alertname="x",', "followed by another matcher"),
        ('alertname="x" service="y"', "expected a comma"),
        ('alertname=="x"', "double quotes"),
        ('alertname<"x"', "expected =, !=, =~ or !~"),
        ('="x"', "expected a label name"),
        ('""="x"', "must not be empty"),
        ('alertname="x', "no closing quote"),
        (r'alertname="a\tb"', "unknown escape"),
        ('service=~"(api"', "regex of service is invalid"),
        ('service=~"(?=api)"', "does not support"),
        ('alertname=~".*"', "must not match the empty string"),
        ('alertname!="x"', "must not match the empty string"),
    ],
)
def test_matchers_outside_the_syntax_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers(text)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", 1714557600.0),
        ("2024-05-01T10:00:00.123456789Z", 1714557600.123456789),
        ("2024-05-01T12:00:00.5+02:00", 1714557600.5),
        ("2024-05-01t10:00:00z", 1714557600.0),
        ("0001-01-01T00:00:00Z", 0.0),
        ("yesterday", 0.0),
        ("2024-13-45T10:00:00Z", 0.0),
        (None, 0.0),
        (1714557600, 0.0),
    ],
)
def test_timestamps_from_rfc3339_with_nanoseconds_or_nothing(text: Any, expected: float) -> None:
    assert parse_time(text) == pytest.approx(expected, abs=1e-6)


def test_options_validate_severities_durations_and_urls() -> None:
    opts = AlertmanagerOptions(url="http://am:9093/", severity_map={"Page": "P1"})
    assert opts.url == "http://am:9093"
    assert opts.severity_map["page"] == "SEV1"  # laid over the built-in words
    assert opts.severity_map["ticket"] == "SEV3"
    assert opts.silence_max_duration == 86400.0
    two_hours = {"url": "http://am", "silence_max_duration": "2h"}
    assert AlertmanagerOptions.model_validate(two_hours).silence_max_duration == 7200
    bad: list[dict[str, Any]] = [
        {"url": "am:9093"},
        {"url": "http://am", "severity_map": {"page": "urgent"}},
        {"url": "http://am", "default_severity": "SEV9"},
        {"url": "http://am", "silence_max_duration": "forever"},
        {"url": "http://am", "token_env": "A", "token_file": "/b"},
        {"url": "http://am", "surely_not_a_key": 1},
    ]
    for case in bad:
        with pytest.raises(ValidationError):
            AlertmanagerOptions.model_validate(case)


async def test_a_missing_token_is_one_line_naming_the_reference(
    make: MakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONCALL_TEST_AM_TOKEN", raising=False)
    backend = make("http://127.0.0.1:9", token_env="ONCALL_TEST_AM_TOKEN")
    with pytest.raises(AlertmanagerError, match="environment variable ONCALL_TEST_AM_TOKEN"):
        await backend.alerts()


async def test_alert_objects_missing_everything_still_map(make: MakeBackend) -> None:
    backend = make("http://127.0.0.1:9")
    odd = backend._alert({"labels": {"severity": "weird"}, "startsAt": "not a time"})
    assert odd is not None
    assert odd.name == "(no alertname)" and odd.severity is Severity.SEV3
    assert odd.starts_at == 0.0 and odd.summary == "" and odd.fingerprint.startswith("labels:")
    assert backend._alert(["not", "a", "dict"]) is None
    nested = backend._alert({"labels": {"alertname": "X"}, "annotations": {"n": {"deep": 1}}})
    assert nested is not None and nested.annotations == {"n": '{"deep": 1}'}


# --- alerts from the real Alertmanager ---------------------------------------------------------


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_alerts_map_severity_group_summary_and_state(am: Poster, make: MakeBackend) -> None:
    am.post(
        {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
        {"summary": "5xx above 5 %", "runbook_url": "https://runbooks.example.com/5xx"},
    )
    am.post({"alertname": "Paging", "severity": "P1"}, {"description": "only a description"})
    am.post({"alertname": "Custom", "severity": "page"})
    am.post({"alertname": "Unknown", "severity": "catastrophic"})
    am.post({"alertname": "NoSeverity"})
    backend = make(am.url, name="am-main", group_by=["alertname", "service"])
    began = time.time()

    alerts = {a.name: a for a in _mine(await backend.alerts(), am.run)}

    assert set(alerts) == {"HighErrorRate", "Paging", "Custom", "Unknown", "NoSeverity"}
    high = alerts["HighErrorRate"]
    assert high.severity is Severity.SEV2
    assert high.summary == "5xx above 5 %"
    assert high.runbook_url == "https://runbooks.example.com/5xx"
    assert high.group == "alertname=HighErrorRate · service=api"
    assert high.state is AlertState.ACTIVE and high.source == "am-main"
    assert began - 35 < high.starts_at < began - 25  # posted as 30 s ago; ms precision
    assert len(high.fingerprint) == 16
    assert alerts["Paging"].severity is Severity.SEV1  # the label value is itself an alias
    assert alerts["Paging"].summary == "only a description"
    assert alerts["Paging"].group == "alertname=Paging"
    assert alerts["Custom"].severity is Severity.SEV1  # default map: page -> SEV1
    assert alerts["Unknown"].severity is Severity.SEV3  # default_severity
    assert alerts["NoSeverity"].severity is Severity.SEV3

    remapped = make(
        am.url,
        name="am-other",
        severity_map={"critical": "P1", "catastrophic": "SEV2"},
        default_severity="P4",
    )
    again = {a.name: a for a in _mine(await remapped.alerts(), am.run)}
    assert again["HighErrorRate"].severity is Severity.SEV1
    assert again["Unknown"].severity is Severity.SEV2
    assert again["NoSeverity"].severity is Severity.SEV4
    assert again["HighErrorRate"].fingerprint == high.fingerprint

    routed = make(am.url, name="am-routed", receiver_filter="nu.l")  # the stack's receiver
    assert len(_mine(await routed.alerts(), am.run)) == 5
    elsewhere = make(am.url, name="am-elsewhere", receiver_filter="pager")
    assert _mine(await elsewhere.alerts(), am.run) == []

    capped = make(am.url, name="am-capped", max_alerts=2)
    few = await capped.alerts()
    assert len(few) == 3 and few[-1].name == "AlertFeedTruncated"
    assert "the 2 most severe are shown" in few[-1].summary


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_the_groups_endpoint_gives_each_alert_once_in_its_routes_group(
    am: Poster, make: MakeBackend
) -> None:
    am.post({"alertname": "GroupedDiskFull", "instance": "db-1", "severity": "critical"})
    am.post({"alertname": "GroupedDiskFull", "instance": "db-2", "severity": "warning"})
    backend = make(am.url, name="am-groups", read_groups=True)

    async def both() -> list[Any] | None:
        found = _mine(await backend.alerts(), am.run)
        return found if len(found) == 2 else None

    alerts = {a.labels["instance"]: a for a in await eventually("both alerts", both, 20)}
    # The stack's route groups by alertname and instance: that is the group shown.
    assert alerts["db-1"].group == "alertname=GroupedDiskFull · instance=db-1"
    assert alerts["db-1"].severity is Severity.SEV2 and alerts["db-2"].severity is Severity.SEV3
    flat = {a.fingerprint for a in _mine(await make(am.url, name="am-flat").alerts(), am.run)}
    assert flat == {a.fingerprint for a in alerts.values()}


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_remote_markup_escapes_and_newlines_come_back_as_plain_text(
    am: Poster, make: MakeBackend
) -> None:
    hostile = "[bold]loud[/bold] \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07copied line1\nline2"
    am.post(
        {"alertname": "Hostile", "service": hostile, "severity": "warning"},
        {"summary": hostile, "description": "x" * 5000},
    )
    backend = make(am.url, group_by=["alertname", "service"])
    [alert] = _mine(await backend.alerts(), am.run)
    expected = "[bold]loud[/bold] red copied line1 line2"
    assert alert.labels["service"] == expected
    assert alert.summary == expected
    assert alert.group == f"alertname=Hostile · service={expected}"
    assert len(alert.annotations["description"]) <= 1000
    for text in (*alert.labels.values(), *alert.annotations.values(), alert.summary):
        assert "\x1b" not in text and "\x07" not in text and "\n" not in text
        assert "ZXZpbA" not in text


# --- silences through the action runner ---------------------------------------------------------


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_silence_then_expire_through_the_runner(am: Poster, make: MakeBackend) -> None:
    am.post({"alertname": "HighErrorRate", "service": "api", "severity": "critical"})
    am.post({"alertname": "HighErrorRate", "service": "api-canary", "severity": "critical"})
    backend = make(am.url)
    audit = MemoryAuditLog()
    runner = _runner(backend, operator="alice", audit=audit)
    matchers = f'alertname="HighErrorRate",oncall_test="{am.run}",service=~"api|web"'

    prepared = await runner.prepare(
        ActionRequest(
            "am",
            "silence",
            {"matchers": matchers, "duration": "30m", "comment": f"deploy {am.run}"},
        )
    )
    preview = prepared.preview
    assert f"POST {am.url}/api/v2/silences" in preview
    assert '"createdBy": "alice"' in preview and f'"comment": "deploy {am.run}"' in preview
    assert '"isRegex": true' in preview and '"value": "api|web"' in preview
    assert "Matches 1 alert firing now" in preview  # anchored: api-canary does not match
    assert "service=api," in preview and "api-canary" not in preview

    result = await runner.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED, result.message
    silence_id = result.output
    assert str(uuid.UUID(silence_id)) == silence_id and silence_id in result.message
    [entry] = audit.entries()
    assert entry.outcome is Outcome.SUCCEEDED and entry.operator == "alice"

    [silence] = [s for s in await backend.silences() if s.id == silence_id]
    assert silence.created_by == "alice" and silence.comment == f"deploy {am.run}"
    assert silence.state == "active" and silence.source == "am"
    assert silence.matchers == (
        'alertname="HighErrorRate"',
        f'oncall_test="{am.run}"',
        'service=~"api|web"',
    )
    assert 29 * 60 < silence.ends_at - time.time() <= 30 * 60

    async def states() -> dict[str, AlertState] | None:
        found = {a.labels["service"]: a.state for a in _mine(await backend.alerts(), am.run)}
        return found if found.get("api") is AlertState.SUPPRESSED else None

    # Alertmanager agrees with the local matching: only the anchored match is muted
    assert await eventually("the alert suppressed", states, 5) == {
        "api": AlertState.SUPPRESSED,
        "api-canary": AlertState.ACTIVE,
    }
    shown = make(am.url, name="am-unsilenced", include_silenced=False)
    assert [a.labels["service"] for a in _mine(await shown.alerts(), am.run)] == ["api-canary"]

    expire = await runner.prepare(ActionRequest("am", "expire-silence", {"silence_id": silence_id}))
    assert f"DELETE {am.url}/api/v2/silence/{silence_id}" in expire.preview
    assert 'service=~"api|web"' in expire.preview and f"deploy {am.run}" in expire.preview
    assert "by alice" in expire.preview
    done = await runner.execute(expire, "y")
    assert done.outcome is Outcome.SUCCEEDED, done.message
    assert silence_id not in {s.id for s in await backend.silences()}

    async def active_again() -> bool:
        return all(a.state is AlertState.ACTIVE for a in _mine(await backend.alerts(), am.run))

    await eventually("the alert active again", active_again, 5)
    with pytest.raises(ActionRefused, match="already expired"):
        await runner.prepare(ActionRequest("am", "expire-silence", {"silence_id": silence_id}))


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_bad_requests_are_refused_before_anything_is_posted(
    am: Poster, make: MakeBackend
) -> None:
    backend = make(am.url, silence_max_duration="24h")
    runner = _runner(backend)
    before = len(httpx.get(f"{am.url}/api/v2/silences", timeout=5).json())
    good = {"matchers": f'oncall_test="{am.run}"', "duration": "1h", "comment": "maintenance"}

    # refused by the runner's parameter validation
    for params, says in [
        ({**good, "comment": ""}, "comment: required"),
        ({**good, "matchers": ""}, "matchers: required"),
        ({**good, "comment": "ok\x1b[31m"}, "comment: control characters"),
        ({**good, "surprise": "x"}, "unknown parameter 'surprise'"),
    ]:
        with pytest.raises(ActionRefused, match=says):
            await runner.prepare(ActionRequest("am", "silence", params))
    with pytest.raises(ActionRefused, match="silence_id: required"):
        await runner.prepare(ActionRequest("am", "expire-silence", {}))

    # refused by the backend's preview: the runner refuses before any confirmation
    missing = str(uuid.uuid4())
    for action, params, says in [
        ("silence", {**good, "matchers": "alertname=HighErrorRate"}, "must be in double quotes"),
        ("silence", {**good, "matchers": 'alertname=~".*"'}, "must not match the empty string"),
        ("silence", {**good, "duration": "48h"}, "48h is longer than the maximum 24h"),
        ("silence", {**good, "duration": "soon"}, "duration: 'soon' is not a duration"),
        ("silence", {**good, "duration": "10s"}, "at least 1m"),
        ("silence", {**good, "comment": "   "}, "comment: required"),
        ("expire-silence", {"silence_id": "not-a-uuid"}, "is not a silence id"),
        ("expire-silence", {"silence_id": "1234"}, "is not a silence id"),
        ("expire-silence", {"silence_id": missing}, f"no silence with id {missing}"),
    ]:
        with pytest.raises(ActionRefused) as info:
            await runner.prepare(ActionRequest("am", action, params))
        assert says in str(info.value), says

    nobody = _runner(backend, operator="")
    with pytest.raises(ActionRefused, match="a silence needs an author"):
        await nobody.prepare(ActionRequest("am", "silence", good))

    with pytest.raises(ActionRefused, match="read-only"):  # the runner, before any backend
        await _runner(backend, read_only=True).prepare(ActionRequest("am", "silence", good))

    assert len(httpx.get(f"{am.url}/api/v2/silences", timeout=5).json()) == before


# --- many sources, failures, health ---------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_two_backends_on_one_server_are_deduplicated_by_the_engine(am: Poster) -> None:
    am.post({"alertname": "Twice", "severity": "warning"})
    loaded = from_dict(
        {
            "console": {"operator": "alice"},
            "backends": {
                "am-a": {"type": "alertmanager", "url": am.url},
                "am-b": {"type": "alertmanager", "url": am.url + "/"},
            },
        }
    )
    engine = Engine(loaded)
    try:
        await engine.poll_once()
        assert engine.feed_errors() == {}
        per_feed = {name: _mine(f.alerts, am.run) for name, f in engine.feeds.items()}
        assert {name: [a.name for a in found] for name, found in per_feed.items()} == {
            "am-a": ["Twice"],
            "am-b": ["Twice"],
        }
        assert per_feed["am-a"][0].fingerprint == per_feed["am-b"][0].fingerprint
        merged = _mine(engine.alerts(), am.run)
        assert [a.name for a in merged] == ["Twice"]
        ids = [s.id for s in engine.silences()]
        assert len(ids) == len(set(ids))
    finally:
        await engine.stop()


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_health_reports_ready_version_and_cluster(am: Poster, make: MakeBackend) -> None:
    backend = make(am.url)
    check = CheckSpec("alertmanager", "am", interval=5, timeout=5)
    result = await backend.probe(check)
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("ready · v0.") and "cluster disabled" in result.summary
    assert result.latency_ms is not None and result.details["cluster"] == "disabled"


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_something_that_is_not_alertmanager_is_one_clean_line(
    stack: Stack, make: MakeBackend
) -> None:
    # node-exporter answers every path with its HTML landing page
    with pytest.raises(AlertmanagerError) as info:
        await make(stack.node_exporter.url).alerts()
    message = str(info.value)
    assert "answer is not JSON (text/html" in message and "<html>" in message
    assert "\n" not in message and len(message) <= 300
    with pytest.raises(AlertmanagerError, match="HTTP 404"):
        await make(stack.prometheus.url).silences()


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_stopped_alertmanager_fails_fast_then_recovers(
    stack: Stack, am: Poster, make: MakeBackend
) -> None:
    backend = make(am.url, timeout=30)
    assert isinstance(await backend.alerts(), list)  # the pooled connection is open
    stack.alertmanager.stop()
    try:
        began = time.monotonic()
        with pytest.raises(AlertmanagerError) as info:
            await backend.alerts()
        assert time.monotonic() - began < 10  # refused at once, not after the 30 s timeout
        message = str(info.value)
        assert message == f"GET {am.url}/api/v2/alerts: connection refused"
        probe = await backend.probe(CheckSpec("alertmanager", "am", interval=5, timeout=3))
        assert probe.status is Status.DOWN and "connection refused" in probe.summary
    finally:
        stack.alertmanager.start()
    am.post({"alertname": "AfterRestart", "severity": "info"})
    [alert] = _mine(await backend.alerts(), am.run)
    assert alert.name == "AfterRestart" and alert.severity is Severity.SEV4


@pytest.mark.integration
@pytest.mark.xdist_group("stack")
async def test_a_prometheus_rule_reaches_the_console(
    healthy_stack: Stack, make: MakeBackend
) -> None:
    stack = healthy_stack
    backend = make(stack.alertmanager.url, group_by=["alertname", "job"])

    async def service_down() -> Any:
        found = [
            a
            for a in await backend.alerts()
            if a.name == SERVICE_DOWN and a.labels.get("job") == "node"
        ]
        return found[0] if found else None

    stack.node_exporter.stop()
    try:
        alert = await eventually("ServiceDown for node-exporter", service_down, 30)
    finally:
        stack.node_exporter.start()
    assert alert.severity is Severity.SEV2  # severity="critical"
    assert alert.summary == "node is not answering scrapes"
    assert alert.runbook_url.endswith("/service-down")
    assert alert.group == "alertname=ServiceDown · job=node"
    assert alert.state is AlertState.ACTIVE

    async def resolved() -> bool:
        return await service_down() is None

    await eventually("ServiceDown resolved", resolved, 20)
    stack.wait_for_targets_up()
