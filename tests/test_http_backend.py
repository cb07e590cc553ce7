"""The http backend against a real local server: status mapping, limits, TLS, secrets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from oncall_console.backends.base import BackendContext, Capability
from oncall_console.backends.http import HttpBackend
from oncall_console.model import CheckResult, CheckSpec, Status
from tests.support.httpserver import LocalServer, Pki, free_port, serve


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="module")
def ca_file(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> str:
    return pki.write_ca(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_good(pki: Pki) -> Iterator[LocalServer]:
    with serve(Pki.server_context(pki.good)) as s:
        yield s


@pytest.fixture(scope="module")
def tls_expiring(pki: Pki) -> Iterator[LocalServer]:
    with serve(Pki.server_context(pki.expiring)) as s:
        yield s


@pytest.fixture(scope="module")
def tls_untrusted(pki: Pki) -> Iterator[LocalServer]:
    with serve(Pki.server_context(pki.untrusted)) as s:
        yield s


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture
async def make(executor: ThreadPoolExecutor) -> AsyncIterator[Any]:
    """Build started backends from option keywords; all are closed afterwards."""
    made: list[HttpBackend] = []

    async def build(**options: Any) -> HttpBackend:
        backend = HttpBackend("web", HttpBackend.Options(**options), BackendContext(executor))
        await backend.start()
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.close()


async def probe(backend: HttpBackend, url: str, timeout: float = 3.0, **params: Any) -> CheckResult:
    spec = CheckSpec(
        name="api",
        backend="web",
        interval=10,
        timeout=timeout,
        params=HttpBackend.CheckParams(url=url, **params),
    )
    return await backend.probe(spec)


def text_of(result: CheckResult) -> str:
    """Everything a result would put on screen, to search for leaks."""
    parts = [result.summary, result.error or "", *result.details.keys(), *result.details.values()]
    for sub in result.substatuses:
        parts += [sub.name, sub.detail]
    return "\n".join(parts)


def test_declares_health_and_webhook_actions() -> None:
    assert HttpBackend.TYPE == "http"
    assert frozenset({Capability.HEALTH, Capability.ACTIONS}) == HttpBackend.CAPABILITIES
    assert HttpBackend.Options.model_fields["max_body_bytes"].description


@pytest.mark.parametrize(
    "params",
    [
        {"url": "ftp://example.com/"},
        {"url": "not a url"},
        {"url": "http://example.com/", "ready_url": "file:///etc/passwd"},
        {"url": "http://example.com/", "warning_ms": 2000, "critical_ms": 1000},
        {"url": "http://example.com/", "expect_status": [99]},
        {"url": "http://example.com/", "unknown": 1},
    ],
)
def test_bad_check_params_are_rejected(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HttpBackend.CheckParams(**params)


def test_options_reject_two_token_sources_and_tiny_body_limit() -> None:
    with pytest.raises(ValueError):
        HttpBackend.Options(token_env="A", token_file="/b")
    with pytest.raises(ValueError):
        HttpBackend.Options(max_body_bytes=10)


async def test_healthy_json_is_ok_with_substatuses(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/healthy"))
    assert result.status is Status.OK, result
    assert result.summary.startswith("200")
    assert {s.name: s.status for s in result.substatuses} == {
        "database": Status.OK,
        "redis": Status.OK,
        "queue": Status.OK,
    }
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert result.at > 0
    assert result.error is None


async def test_degraded_json_takes_the_worst_dependency(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/degraded"))
    subs = {s.name: s for s in result.substatuses}
    assert subs["database"].status is Status.OK
    assert subs["redis"].status is Status.DOWN
    assert subs["search"].status is Status.DEGRADED
    assert "slow replica" in subs["search"].detail
    assert result.status is Status.DOWN
    assert "redis unhealthy" in result.summary


async def test_500_is_down(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/500"))
    assert result.status is Status.DOWN
    assert result.summary.startswith("500")
    assert result.details["body"] == "Internal Server Error"


async def test_429_in_degraded_status_is_degraded(make: Any, server: LocalServer) -> None:
    backend = await make()
    assert (await probe(backend, server.url("/429"))).status is Status.DOWN
    result = await probe(backend, server.url("/429"), degraded_status=[429])
    assert result.status is Status.DEGRADED
    assert result.summary.startswith("429")


async def test_head_reads_no_body(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/degraded"), method="HEAD")
    assert result.status is Status.OK
    assert result.substatuses == ()


async def test_slow_over_warning_is_degraded(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/slow?ms=300"), warning_ms=100, critical_ms=5000)
    assert result.status is Status.DEGRADED
    assert result.latency_ms is not None and result.latency_ms > 100
    assert "slow" in result.summary


async def test_slow_over_critical_is_crit_and_says_critical(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/slow?ms=300"), warning_ms=50, critical_ms=100)
    assert result.status is Status.CRITICAL  # it answers, past the critical latency
    assert "critical" in result.summary


async def test_hang_times_out_as_down(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/hang"), timeout=0.5)
    assert result.status is Status.DOWN
    assert "timed out after 0.5 s" in result.summary
    assert result.error is not None


async def test_drip_body_is_bounded_by_the_timeout(make: Any, server: LocalServer) -> None:
    # Each byte arrives well inside a read timeout; only the overall deadline stops it.
    result = await probe(await make(), server.url("/drip"), timeout=1.2)
    assert result.status is Status.DOWN
    assert "timed out" in result.summary


async def test_huge_body_is_truncated_and_decided_by_the_code(
    make: Any, server: LocalServer
) -> None:
    backend = await make(max_body_bytes=4096)
    result = await probe(backend, server.url("/huge"), timeout=10)
    assert result.status is Status.OK
    assert "truncated" in result.summary
    assert result.details["body_bytes"] == "4096"
    # The abandoned connection is not reused: the next probe still works.
    assert (await probe(backend, server.url("/healthy"))).status is Status.OK


async def test_live_ready_pair_needs_both(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/live"), ready_url=server.url("/ready"))
    assert result.status is Status.DOWN
    assert result.summary.startswith("live 200 · ready 503")
    assert result.details["ready.http_status"].startswith("503")
    both_ok = await probe(await make(), server.url("/live"), ready_url=server.url("/healthy"))
    assert both_ok.status is Status.OK
    assert both_ok.summary == "live 200 · ready 200"


async def test_connection_refused_is_down(make: Any) -> None:
    result = await probe(await make(), f"http://127.0.0.1:{free_port()}/health")
    assert result.status is Status.DOWN
    assert result.summary == "connection refused"


async def test_remote_text_is_cleaned_and_markup_kept_literal(
    make: Any, server: LocalServer
) -> None:
    result = await probe(await make(), server.url("/markup"))
    shown = text_of(result)
    assert "\x1b" not in shown and "\x07" not in shown
    assert "SGVsbG8" not in shown  # the OSC payload goes with its escape
    assert "[bold red]x[/]" in result.details["json_status"]
    assert "[bold red]x[/]" in result.summary
    cache = next(s for s in result.substatuses if s.name == "cache")
    assert cache.detail.startswith("[bold red]boom[/]")
    assert {s.name for s in result.substatuses} == {"db", "cache"}


async def test_tls_good_cert_reports_days_left(
    make: Any, tls_good: LocalServer, ca_file: str
) -> None:
    result = await probe(await make(ca_file=ca_file), tls_good.url("/healthy"))
    assert result.status is Status.OK, result
    days = float(result.details["tls_expires_in"].split()[0])
    assert 88 < days <= 90


async def test_tls_expiring_in_two_days_is_crit(
    make: Any, tls_expiring: LocalServer, ca_file: str
) -> None:
    backend = await make(ca_file=ca_file)
    result = await probe(backend, tls_expiring.url("/healthy"))
    assert result.status is Status.CRITICAL  # still serving: a threshold; expired is DOWN
    assert "TLS certificate expires in" in result.summary
    assert float(result.details["tls_expires_in"].split()[0]) < 3
    # Under the warning threshold but above the critical one: degraded.
    result = await probe(backend, tls_expiring.url("/healthy"), cert_critical_days=1)
    assert result.status is Status.DEGRADED


async def test_tls_untrusted_ca_is_down(
    make: Any, tls_untrusted: LocalServer, ca_file: str
) -> None:
    result = await probe(await make(ca_file=ca_file), tls_untrusted.url("/healthy"))
    assert result.status is Status.DOWN
    assert result.summary.startswith("TLS: certificate verify failed")
    assert "\n" not in result.summary


async def test_tls_unverified_still_reads_expiry(make: Any, tls_untrusted: LocalServer) -> None:
    pytest.importorskip("cryptography")
    result = await probe(await make(verify_tls=False), tls_untrusted.url("/healthy"))
    assert result.status is Status.OK, result
    assert "tls_expires_in" in result.details


async def test_plain_http_has_no_tls_expiry(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/healthy"))
    assert "tls_expires_in" not in result.details


async def test_token_from_env_is_sent_and_never_shown(
    make: Any, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cret-token-value"
    monkeypatch.setenv("ONCALL_TEST_TOKEN", secret)
    backend = await make(token_env="ONCALL_TEST_TOKEN", headers={"X-Team": "sre"})
    for path in ("/healthy?tok", "/500?tok", "/ready?tok"):
        result = await probe(backend, server.url(path))
        assert secret not in text_of(result)
    seen = [r["headers"] for r in server.requests if r["path"] == "/healthy"]
    assert any(h.get("Authorization") == f"Bearer {secret}" for h in seen)
    assert any(h.get("X-Team") == "sre" and h.get("User-Agent") == "oncall-console" for h in seen)


async def test_token_from_file(make: Any, server: LocalServer, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("file-token-123\n")
    result = await probe(await make(token_file=str(token)), server.url("/live?file"))
    assert result.status is Status.OK
    seen = [r["headers"] for r in server.requests if r["path"] == "/live"]
    assert any(h.get("Authorization") == "Bearer file-token-123" for h in seen)


async def test_missing_token_env_is_down_naming_the_variable(
    make: Any, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONCALL_TEST_MISSING", raising=False)
    backend = await make(token_env="ONCALL_TEST_MISSING")
    result = await probe(backend, server.url("/healthy"))
    assert result.status is Status.DOWN
    assert "ONCALL_TEST_MISSING" in result.summary
    # Setting it later heals the check without a restart.
    monkeypatch.setenv("ONCALL_TEST_MISSING", "late-token")
    assert (await probe(backend, server.url("/healthy"))).status is Status.OK


async def test_missing_token_file_is_down_naming_the_path(
    make: Any, server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "nope"
    result = await probe(await make(token_file=str(path)), server.url("/healthy"))
    assert result.status is Status.DOWN
    assert str(path) in result.summary


async def test_probe_before_start_and_close_twice(
    executor: ThreadPoolExecutor, server: LocalServer
) -> None:
    backend = HttpBackend("web", HttpBackend.Options(), BackendContext(executor))
    assert (await probe(backend, server.url("/healthy"))).status is Status.OK
    await backend.close()
    await backend.close()
    fresh = HttpBackend("web", HttpBackend.Options(), BackendContext(executor))
    await fresh.close()  # never started: nothing to close, still fine


async def test_services_as_a_named_list(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/checks"), json_services_key="checks")
    assert [(s.name, s.status) for s in result.substatuses] == [
        ("db", Status.OK),
        ("disk", Status.DOWN),
    ]
    assert result.status is Status.DOWN


async def test_pair_names_each_sides_dependencies(make: Any, server: LocalServer) -> None:
    result = await probe(await make(), server.url("/healthy"), ready_url=server.url("/ready"))
    names = {s.name: s.status for s in result.substatuses}
    assert names["live.database"] is Status.OK
    assert names["ready.database"] is Status.DOWN


async def test_tls_hostname_mismatch_is_down(
    make: Any, tls_expiring: LocalServer, ca_file: str
) -> None:
    # The expiring leaf names only 127.0.0.1.
    url = f"https://localhost:{tls_expiring.port}/healthy"
    result = await probe(await make(ca_file=ca_file), url)
    assert result.status is Status.DOWN
    assert "certificate" in result.summary and "localhost" in result.summary


async def test_unreadable_ca_file_is_down_not_a_crash(
    make: Any, tls_good: LocalServer, tmp_path: Path
) -> None:
    result = await probe(await make(ca_file=str(tmp_path / "none.pem")), tls_good.url("/healthy"))
    assert result.status is Status.DOWN
    assert "ca_file" in result.summary


async def test_cancellation_propagates(make: Any, server: LocalServer) -> None:
    backend = await make()
    task = asyncio.create_task(probe(backend, server.url("/hang"), timeout=30))
    while not any(r["path"] == "/hang" for r in server.requests):
        await asyncio.sleep(0.01)  # wait for the request to reach the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    return monkeypatch


async def test_a_proxy_variable_is_honoured(
    make: Any, server: LocalServer, no_proxy_env: pytest.MonkeyPatch
) -> None:
    # Probes go out on the lean client, except where a proxy variable covers the URL
    # (as it did when httpx carried every probe): the test server plays the proxy.
    no_proxy_env.setenv("HTTP_PROXY", server.url(""))
    backend = await make()
    result = await probe(backend, "http://health.example.invalid/healthy")
    assert result.status is Status.OK, result.summary
    hosts = [r["headers"].get("Host") for r in server.requests if r["path"] == "/healthy"]
    assert "health.example.invalid" in hosts


async def test_no_proxy_sends_the_probe_direct(
    make: Any, server: LocalServer, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9/")  # nothing listens there
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    backend = await make()
    result = await probe(backend, server.url("/healthy"))
    assert result.status is Status.OK, result.summary


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"headers": {"X-Team": "prod\r\nX-Injected: 1"}}, "line breaks"),
        ({"headers": {"X-Team": "caf€"}}, "latin-1"),
        ({"headers": {"Content-Length": "0"}}, "set by the client"),
        ({"user_agent": "oc ✓"}, "latin-1"),
    ],
)
def test_probe_headers_are_checked_in_config(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        HttpBackend.Options(**options)


def test_credentials_in_a_check_url_are_refused() -> None:
    with pytest.raises(ValueError, match="credentials in the URL would be shown"):
        HttpBackend.CheckParams(url="http://ops:hunter2@127.0.0.1/health")


async def test_a_token_with_a_line_break_is_refused_and_never_shown(
    make: Any, server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text("s3cr3t\nmore\n")
    backend = await make(token_file=str(path))
    result = await probe(backend, server.url("/healthy"))
    assert result.status is Status.DOWN and "holds a line break" in result.summary
    assert "s3cr3t" not in text_of(result)


async def test_no_proxy_follows_httpx_rules(
    make: Any, server: LocalServer, no_proxy_env: pytest.MonkeyPatch
) -> None:
    # NO_PROXY=.example.invalid covers subdomains only (as in httpx and curl): the bare
    # name still goes through the proxy, here the test server.
    no_proxy_env.setenv("HTTP_PROXY", server.url(""))
    no_proxy_env.setenv("NO_PROXY", ".example.invalid")
    backend = await make()
    result = await probe(backend, "http://example.invalid/healthy")
    assert result.status is Status.OK, result.summary
