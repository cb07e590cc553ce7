"""The prometheus backend against the real Prometheus of the integration stack.

Hand computations query the same server at the same evaluation time (the
backend's clock is pinned), so the numbers must agree exactly.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import EntryPoint
from typing import Any
from urllib.parse import urlencode

import pytest

from oncall_console import backends, config
from oncall_console.backends.base import BackendContext
from oncall_console.backends.prometheus import PrometheusBackend
from oncall_console.backends.prometheus import slo as slo_math
from oncall_console.backends.prometheus.client import PrometheusError
from oncall_console.backends.prometheus.options import (
    PrometheusCheckParams,
    PrometheusOptions,
    PrometheusSliParams,
)
from oncall_console.engine.poller import Poller
from oncall_console.engine.state import SliState
from oncall_console.model import (
    CheckSpec,
    Direction,
    SliSpec,
    SloSpec,
    Status,
    Thresholds,
)
from tests.support.stack import Stack
from tests.support.stack_server import get_json, wait_until

# Most tests need the stack; the few that do not are cheap enough to ride along on its worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

NO_LIMITS = Thresholds(None, None, None)
# A deterministic error ratio: a constant, with {window} in a selector that matches nothing.
CONSTANT_RATIO = "vector({ratio}) + 0 * absent_over_time(oncall_console_no_such_metric[{{window}}])"
QUERY_SHARE = (
    'sum(rate(prometheus_http_requests_total{{handler="/api/v1/query"}}[{window}]))'
    " / sum(rate(prometheus_http_requests_total[{window}]))"
)


def sli(
    name: str = "sli",
    *,
    timeout: float = 5.0,
    slo: SloSpec | None = None,
    thresholds: Thresholds = NO_LIMITS,
    unit: str = "",
    **params: Any,
) -> SliSpec:
    return SliSpec(
        name=name,
        backend="prom",
        unit=unit,
        thresholds=thresholds,
        interval=15.0,
        timeout=timeout,
        params=PrometheusSliParams(**params),
        slo=slo,
    )


def check(timeout: float = 5.0, **params: Any) -> CheckSpec:
    return CheckSpec(
        name="prometheus",
        backend="prom",
        interval=15.0,
        timeout=timeout,
        params=PrometheusCheckParams(**params),
    )


Make = Callable[..., PrometheusBackend]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    made: list[PrometheusBackend] = []
    pool = ThreadPoolExecutor(4)

    def factory(url: str, clock: Callable[[], float] = time.time, **opts: Any) -> PrometheusBackend:
        backend = PrometheusBackend(
            "prom", PrometheusOptions(url=url, **opts), BackendContext(executor=pool, clock=clock)
        )
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.close()
    pool.shutdown(wait=False, cancel_futures=True)


def instant(stack: Stack, expr: str, at: float) -> list[dict[str, Any]]:
    """The hand computation: the same query at the same evaluation time."""
    query = urlencode({"query": expr, "time": f"{at:.3f}"})
    return list(get_json(f"{stack.prometheus.url}/api/v1/query?{query}")["data"]["result"])


def one(stack: Stack, expr: str, at: float) -> float:
    result = instant(stack, expr, at)
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def pinned(stack: Stack, expr: str) -> float:
    """An evaluation time at which ``expr`` has data (a moment ago, so it is settled)."""

    def settled() -> float | None:
        at = round(time.time() - 0.5, 3)
        return at if instant(stack, expr, at) else None

    return float(wait_until(f"data for {expr}", settled, 30))


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scalar", [False, True], ids=["vector", "scalar"])
async def test_a_single_value_is_scaled(healthy_stack: Stack, make: Make, scalar: bool) -> None:
    expr = 'sum(process_resident_memory_bytes{job="prometheus"})'
    at = pinned(healthy_stack, expr)
    backend = make(healthy_stack.prometheus.url, clock=lambda: at)
    await backend.start()
    query = f"scalar({expr})" if scalar else expr
    readings = await backend.query_sli(sli(query=query, scale=1 / 2**20, unit="MiB"))
    assert len(readings) == 1
    (r,) = readings
    assert r.series == "" and r.unit == "MiB" and r.error is None and r.at == at
    assert r.value == pytest.approx(one(healthy_stack, expr, at) / 2**20, rel=1e-12)
    assert r.value is not None and 1 < r.value < 4096  # some MiB: not bytes, not TiB


async def test_a_recording_rule_as_a_percentage(healthy_stack: Stack, make: Make) -> None:
    expr = "instance:pg_connections:ratio"
    at = pinned(healthy_stack, expr)
    backend = make(healthy_stack.prometheus.url, clock=lambda: at)
    spec = sli(
        query=expr,
        scale=100,
        unit="%",
        thresholds=Thresholds(None, 70, 90, Direction.LOWER_IS_BETTER),
    )
    (r,) = await backend.query_sli(spec)
    assert r.series == ""  # one series, no series_label: it is the SLI's value
    assert r.value == pytest.approx(one(healthy_stack, expr, at) * 100, rel=1e-12)
    assert r.value is not None and 0 < r.value < 70 and r.status is Status.OK


async def test_series_give_one_reading_each_named_by_the_label(
    healthy_stack: Stack, make: Make
) -> None:
    backend = make(healthy_stack.prometheus.url)
    spec = sli(
        query="up",
        series_label="job",
        thresholds=Thresholds(1, None, 0, Direction.HIGHER_IS_BETTER),
    )
    readings = await backend.query_sli(spec)
    assert [r.series for r in readings] == [
        "job=alertmanager",
        "job=node",
        "job=postgres",
        "job=prometheus",
        "job=redis",
    ]
    assert all(r.value == 1.0 and r.status is Status.OK for r in readings)

    exporters = sli(query='{__name__=~"pg_up|redis_up"}')  # no series_label: all labels
    names = [r.series for r in await backend.query_sli(exporters)]
    assert len(names) == 2
    assert all("job=" in n and "instance=" in n and "__name__" not in n for n in names)


async def test_series_named_alike_fall_back_to_their_labels(
    healthy_stack: Stack, make: Make
) -> None:
    backend = make(healthy_stack.prometheus.url)
    # Two series with the same job label, told apart only by their instance label.
    query = (
        'label_replace(up{job="redis"}, "instance", "a", "", "")'
        ' or label_replace(up{job="redis"}, "instance", "b", "", "")'
    )
    readings = await backend.query_sli(sli(query=query, series_label="job"))
    assert sorted(r.series for r in readings) == ["instance=a,job=redis", "instance=b,job=redis"]


async def test_max_series_caps_a_fleet_wide_query(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    readings = await backend.query_sli(sli(query="up", series_label="job", max_series=2))
    assert [r.series for r in readings] == ["job=alertmanager", "job=node"]


async def test_no_data_is_an_unknown_value_not_an_error(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    (r,) = await backend.query_sli(sli(query="oncall_console_no_such_metric"))
    assert r.value is None and r.error is None
    assert r.status is Status.UNKNOWN


@pytest.mark.parametrize("query", ["vector(0) / 0", "vector(1) / 0", "0 / 0", "-1 / 0"])
async def test_nan_and_infinity_show_as_no_value(
    healthy_stack: Stack, make: Make, query: str
) -> None:
    backend = make(healthy_stack.prometheus.url)
    (r,) = await backend.query_sli(sli(query=query, thresholds=Thresholds(None, 1, 2)))
    assert r.value is None and r.error is None
    assert r.status is Status.UNKNOWN
    note = getattr(r, "note", None)  # shown when the model carries a note
    assert note is None or ("NaN" in note or "Inf" in note)


# --- history ----------------------------------------------------------------------------------------


async def test_history_comes_from_query_range_and_then_from_polls(
    healthy_stack: Stack, make: Make
) -> None:
    expr = 'sum(prometheus_http_requests_total{job="prometheus"})'
    wait_until("a few seconds of data", lambda: len(_range(healthy_stack, expr)) >= 6, 30)
    backend = make(healthy_stack.prometheus.url)
    spec = sli(query=expr, history="10m", step="1s")

    (first,) = await backend.query_sli(spec)
    assert "history" in backend.last_timings_ms  # the range query ran
    assert len(first.history) >= 4
    assert first.history[-1] == first.value  # it ends on the value shown
    assert all(v >= 0 for v in first.history)  # (not sorted: fault tests restart Prometheus)

    await asyncio.sleep(1.1)
    (second,) = await backend.query_sli(spec)
    assert "history" not in backend.last_timings_ms  # cached: only the instant query
    assert second.history[-1] == second.value
    assert len(second.history) == len(first.history) + 1  # the first value was kept
    assert second.history[:-1] == first.history

    # When the cache is old, the range is asked again.
    for cached in backend._history.values():
        cached.fetched_at -= 3600
    (third,) = await backend.query_sli(spec)
    assert "history" in backend.last_timings_ms
    assert third.history[-1] == third.value
    assert len(third.history) >= len(first.history)


async def test_a_range_is_one_query_range_named_like_the_readings(
    healthy_stack: Stack, make: Make
) -> None:
    """[ / ] on the SLI panel (issue #15, point 3): the last N seconds in N points, each
    series named as query_sli names it, scaled the same way."""
    expr = "up"
    wait_until("a few seconds of data", lambda: len(_range(healthy_stack, expr)) >= 6, 30)
    backend = make(healthy_stack.prometheus.url)
    spec = sli(query=expr, series_label="job", scale=100)
    readings = {r.series for r in await backend.query_sli(spec)}
    got = await backend.sli_range(spec, 60, 13)
    assert set(got) == readings
    assert all(0 < len(values) <= 13 for values in got.values())
    assert all(v in (0.0, 100.0) for values in got.values() for v in values)


async def test_no_history_when_it_is_turned_off(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    (r,) = await backend.query_sli(sli(query="sum(up)", history="0"))
    assert r.history == () and r.value == 5.0
    assert set(backend.last_timings_ms) == {"query"}


def _range(stack: Stack, expr: str) -> list[Any]:
    end = time.time()
    query = urlencode({"query": expr, "start": end - 600, "end": end, "step": 1})
    result = get_json(f"{stack.prometheus.url}/api/v1/query_range?{query}")["data"]["result"]
    return list(result[0]["values"]) if result else []


# --- error budget and burn rate -----------------------------------------------------------------------


async def test_budget_and_burn_rate_match_a_hand_computation(
    healthy_stack: Stack, make: Make
) -> None:
    objective = 0.2  # the "errors" here are the query API's share of all requests
    spec = sli(
        query="sum(up)",
        error_ratio_query=QUERY_SHARE.format(window="{window}"),
        slo=SloSpec(objective),
    )
    at = pinned(healthy_stack, QUERY_SHARE.format(window="5m"))
    backend = make(healthy_stack.prometheus.url, clock=lambda: at)
    (r,) = await backend.query_sli(spec)

    def ratio(window: str) -> float:
        return one(healthy_stack, QUERY_SHARE.format(window=window), at)

    budget = 1 - objective
    assert r.budget_remaining == pytest.approx(1 - ratio("30d") / budget, rel=1e-9)
    assert r.burn_rate == pytest.approx(ratio("1h") / budget, rel=1e-9)
    burns = {
        w: ratio(slo_math.promql_duration(w)) / budget
        for w in slo_math.windows_of(SloSpec(objective))
    }
    expected = Status.OK
    for long_s, short_s, factor, pages in SloSpec(objective).burn_windows:
        if burns[long_s] > factor and burns[short_s] > factor:
            expected = Status.CRITICAL if pages else Status.worst([expected, Status.DEGRADED])
    assert r.burn_status is expected
    assert set(backend.last_timings_ms) == {
        "query",
        "history",
        *(f"error_ratio_query [{w}]" for w in ("5m", "30m", "1h", "6h", "3d", "30d")),
    }


@pytest.mark.parametrize(
    ("ratio", "budget", "burn", "status"),
    [
        (0.02, -19.0, 20.0, Status.CRITICAL),  # 1h and 5m both above 14.4: page
        (0.008, -7.0, 8.0, Status.CRITICAL),  # 6h and 30m above 6: page
        (0.002, -1.0, 2.0, Status.DEGRADED),  # 3d and 6h above 1: ticket; budget overspent
        (0.0005, 0.5, 0.5, Status.OK),
    ],
)
async def test_burn_pairs_decide_the_status(
    healthy_stack: Stack,
    make: Make,
    ratio: float,
    budget: float,
    burn: float,
    status: Status,
) -> None:
    backend = make(healthy_stack.prometheus.url)
    spec = sli(
        query="vector(1)",
        error_ratio_query=CONSTANT_RATIO.format(ratio=ratio),
        slo=SloSpec(0.999),
        thresholds=Thresholds(None, 2, 3),
    )
    (r,) = await backend.query_sli(spec)
    assert r.value == 1.0 and r.thresholds.status_of(r.value) is Status.OK
    assert r.budget_remaining == pytest.approx(budget)
    assert r.burn_rate == pytest.approx(burn)
    assert r.burn_status is status
    assert r.status is status  # the burn decides, although the value is fine


async def test_custom_windows_and_no_traffic(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    custom = SloSpec(0.99, window=86400.0, burn_windows=((3600.0, 300.0, 2.0, True),))
    (r,) = await backend.query_sli(
        sli(query="vector(1)", error_ratio_query=CONSTANT_RATIO.format(ratio=0.05), slo=custom)
    )
    assert r.burn_rate == pytest.approx(5.0) and r.burn_status is Status.CRITICAL
    assert r.budget_remaining == pytest.approx(-4.0)
    assert {k for k in backend.last_timings_ms if k.startswith("error")} == {
        "error_ratio_query [5m]",
        "error_ratio_query [1h]",
        "error_ratio_query [1d]",
    }

    # 0/0 in every window: no traffic, so no budget, no burn and no claim.
    nan_ratio = "vector(0) / 0 + 0 * absent_over_time(oncall_console_no_such_metric[{window}])"
    (quiet,) = await backend.query_sli(
        sli(query="vector(1)", error_ratio_query=nan_ratio, slo=SloSpec(0.999))
    )
    assert quiet.value == 1.0
    assert quiet.budget_remaining is None and quiet.burn_rate is None
    assert quiet.burn_status is None and quiet.status is Status.OK


async def test_per_series_error_ratios_follow_the_series_label(
    healthy_stack: Stack, make: Make
) -> None:
    backend = make(healthy_stack.prometheus.url)
    ratio = (
        '(label_replace(vector(0.02), "job", "redis", "", "")'
        ' or label_replace(vector(0.0001), "job", "node", "", ""))'
        " + on() group_left() (0 * absent_over_time(oncall_console_no_such_metric[{window}]))"
    )
    spec = sli(
        query='up{job=~"redis|node|postgres"}',
        series_label="job",
        error_ratio_query=ratio,
        slo=SloSpec(0.999),
    )
    by_series = {r.series: r for r in await backend.query_sli(spec)}
    assert by_series["job=redis"].burn_status is Status.CRITICAL
    assert by_series["job=node"].burn_status is Status.OK
    assert by_series["job=node"].budget_remaining == pytest.approx(0.9)
    assert by_series["job=postgres"].burn_status is None  # no ratio for it


async def test_a_runbook_query_names_each_series_as_prometheus_does(
    healthy_stack: Stack, make: Make
) -> None:
    """Walked on the devstack: the Redis runbook's one-series query answered "value
    0.97", without the instance it is about. Every row names its series, a lone one too;
    label values are data (a quote or markup in them is shown as it is)."""
    backend = make(healthy_stack.prometheus.url)
    table = await backend.diagnose("promql", 'up{job="redis"}')
    ((series, value),) = table.rows
    assert series.startswith('up{instance="127.0.0.1:') and series.endswith('", job="redis"}')
    assert value == "1"
    table = await backend.diagnose(
        "promql", """label_replace(vector(2), "who", "[b]x'y", "", "")"""
    )
    assert table.rows == (("""{who="[b]x'y"}""", "2"),)
    table = await backend.diagnose("promql", "sum(up)")
    assert table.rows == (("{}", "5"),)
    assert (await backend.diagnose("promql", 'up{job="nothing"}')).rows == ()


# --- failures ---------------------------------------------------------------------------------------------


async def test_bad_promql_is_one_line_naming_the_parse_error(
    healthy_stack: Stack, make: Make
) -> None:
    backend = make(healthy_stack.prometheus.url)
    with pytest.raises(PrometheusError) as info:
        await backend.query_sli(sli(query="sum(rate(up[5m]"))
    message = str(info.value)
    assert message.startswith("bad query: ") and "parse error" in message
    assert "\n" not in message and "HTTP Status Code" not in message and "b'" not in message

    with pytest.raises(PrometheusError, match=r"^bad error_ratio_query \[5m\]: .*parse error"):
        await backend.query_sli(
            sli(query="vector(1)", error_ratio_query="rate(up[{window}]", slo=SloSpec(0.999))
        )
    with pytest.raises(PrometheusError, match="range vector"):
        await backend.query_sli(sli(query="up[1m]"))
    with pytest.raises(PrometheusError, match="string"):
        await backend.query_sli(sli(query='"words"'))
    with pytest.raises(PrometheusError, match=r"^query failed: .*match"):
        await backend.query_sli(sli(query="up * on() up"))  # an execution error (422)


async def test_the_poller_records_the_clean_line(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    good, bad = SliState(sli("good", query="sum(up)"), 10), SliState(sli("bad", query="sum("), 10)
    poller = Poller(
        {"prom": backend}, {}, {"good": good, "bad": bad}, {}, concurrency=4, clock=time.time
    )
    await poller.poll_once()
    assert good.error is None and good.readings[""].value == 5.0
    assert bad.error is not None and bad.error.startswith("bad query: ")
    assert bad.status(time.time()) is Status.DOWN


async def test_prometheus_stopped_mid_poll_fails_fast_then_recovers(
    healthy_stack: Stack, make: Make
) -> None:
    backend = make(healthy_stack.prometheus.url)
    # A generous SLI timeout: only a retry stall (about 6 s) could trip the 3 s wait below.
    spec = sli(query="sum(up)", timeout=10.0, history="1m", step="1s")
    (before,) = await backend.query_sli(spec)
    assert before.value == 5.0
    healthy_stack.prometheus.stop()
    try:
        with pytest.raises(PrometheusError) as info:
            await asyncio.wait_for(backend.query_sli(spec), 3.0)
        assert "connection refused" in str(info.value)
        assert healthy_stack.prometheus.host_port in str(info.value)

        result = await asyncio.wait_for(backend.probe(check()), 3.0)
        assert result.status is Status.DOWN and "connection refused" in result.summary
    finally:
        healthy_stack.prometheus.restart()
    for _ in range(100):  # ready again; the first scrapes may still be on their way
        (after,) = await backend.query_sli(spec)
        if after.value is not None:
            break
        await asyncio.sleep(0.2)
    assert after.error is None and after.value is not None
    assert after.history[-1] == after.value


async def test_a_hung_prometheus_times_out_within_the_sli_timeout(
    healthy_stack: Stack, make: Make
) -> None:
    backend = make(healthy_stack.prometheus.url)
    await backend.query_sli(sli(query="sum(up)"))  # a pooled keep-alive connection
    healthy_stack.prometheus.pause()
    try:
        with pytest.raises(PrometheusError, match="timed out after 1 s"):
            await asyncio.wait_for(backend.query_sli(sli(query="sum(up)", timeout=1.0)), 3.0)
        result = await asyncio.wait_for(backend.probe(check(timeout=1.0)), 3.0)
        assert result.status is Status.DOWN and "timed out" in result.summary
    finally:
        healthy_stack.prometheus.resume()
    readings = await backend.query_sli(sli(query="sum(up)"))
    assert readings[0].value is not None


# --- health of Prometheus itself ---------------------------------------------------------------------------


async def test_health_is_ok_with_every_target_up(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    result = await backend.probe(check())
    assert result.status is Status.OK, result.summary
    assert result.summary == "ready · 5 of 5 targets up"
    assert result.details["targets_down"] == "0"
    assert result.latency_ms is not None and result.latency_ms > 0
    (table,) = result.tables
    assert table.columns == ("job", "instance", "lastError") and table.rows == ()


async def test_health_lists_a_down_target(healthy_stack: Stack, make: Make) -> None:
    backend = make(healthy_stack.prometheus.url)
    exporter = healthy_stack.redis_exporter
    exporter.stop()
    try:

        async def degraded() -> Any:
            for _ in range(100):
                result = await backend.probe(check())
                if result.status is not Status.OK:
                    return result
                await asyncio.sleep(0.2)
            raise AssertionError("the stopped exporter never showed as down")

        result = await degraded()
        assert result.status is Status.DEGRADED
        assert result.summary.startswith("ready · 1 of 5 targets down (redis)")
        (table,) = result.tables
        ((job, instance, last_error),) = table.rows
        assert job == "redis" and instance == exporter.host_port
        assert "refused" in last_error

        paged = await backend.probe(check(targets_down_critical=1))
        assert paged.status is Status.CRITICAL  # Prometheus answers: a count past its limit
        other = await backend.probe(check(jobs=["prometheus", "node"]))
        assert other.status is Status.OK and other.details["targets"] == "2"
    finally:
        exporter.restart()
        healthy_stack.wait_for_targets_up()
    assert (await backend.probe(check())).status is Status.OK


# --- secrets and settings ---------------------------------------------------------------------------------


async def test_a_missing_token_is_named_and_fixed_without_restart(
    healthy_stack: Stack, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONCALL_TEST_PROM_TOKEN", raising=False)
    backend = make(healthy_stack.prometheus.url, token_env="ONCALL_TEST_PROM_TOKEN")
    await backend.start()
    result = await backend.probe(check())
    assert result.status is Status.DOWN
    assert result.summary == "token: environment variable ONCALL_TEST_PROM_TOKEN is not set"
    with pytest.raises(PrometheusError, match="ONCALL_TEST_PROM_TOKEN"):
        await backend.query_sli(sli(query="sum(up)"))
    monkeypatch.setenv("ONCALL_TEST_PROM_TOKEN", "s3cret-token")
    (r,) = await backend.query_sli(sli(query="sum(up)"))  # Prometheus ignores the header
    assert r.value == 5.0
    assert backend._session is not None
    assert backend._session.headers["Authorization"] == "Bearer s3cret-token"


# --- no stack needed: dead and hung servers, config -----------------------------------------------------------


@pytest.fixture
def hung_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_nothing_listening_fails_fast_without_retries(make: Make) -> None:
    port = closed_port()
    backend = make(f"http://127.0.0.1:{port}")
    with pytest.raises(
        PrometheusError, match=rf"^Prometheus at 127\.0\.0\.1:{port}: connection refused$"
    ):
        await asyncio.wait_for(backend.query_sli(sli(query="up", timeout=10.0)), 3.0)


async def test_a_server_that_never_answers_costs_at_most_the_timeout(
    make: Make, hung_server: str
) -> None:
    backend = make(hung_server, timeout=30.0)  # the SLI's own timeout is shorter and wins
    with pytest.raises(PrometheusError, match=r"timed out after 0\.5 s"):
        await asyncio.wait_for(backend.query_sli(sli(query="up", timeout=0.5)), 3.0)
    result = await asyncio.wait_for(backend.probe(check(timeout=0.5)), 3.0)
    assert result.status is Status.DOWN and "timed out after 0.5 s" in result.summary


async def test_a_request_timeout_below_the_sli_timeout_applies(
    make: Make, hung_server: str
) -> None:
    backend = make(hung_server, timeout=0.3)
    with pytest.raises(PrometheusError, match="timed out"):
        await asyncio.wait_for(backend.query_sli(sli(query="up", timeout=10.0)), 3.0)


CONFIG = """
[backends.prom]
type = "prometheus"
url = "http://prometheus.example:9090/"
timeout = "2s"

[slis.errors]
backend = "prom"
unit = "%"
query = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
scale = 100
series_label = "service"
error_ratio_query = 'sum(rate(http_requests_total{code=~"5.."}[{window}])) / sum(rate(http_requests_total[{window}]))'

[slis.errors.slo]
objective = 0.999

[checks.prometheus]
backend = "prom"
targets_down_warning = 2
"""


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Config finds the type through the entry points; these tests check the keys, not that."""
    installed = dict(backends.available())
    installed.setdefault(
        "prometheus",
        EntryPoint(
            "prometheus", "oncall_console.backends.prometheus:PrometheusBackend", backends.GROUP
        ),
    )
    monkeypatch.setattr(backends, "available", lambda: installed)


@pytest.mark.usefixtures("registered")
def test_config_validates_the_prometheus_keys() -> None:
    loaded = config.loads(CONFIG, env={})
    _type, options = loaded.backend_options["prom"]
    assert isinstance(options, PrometheusOptions)
    assert options.url == "http://prometheus.example:9090" and options.timeout == 2.0
    (spec,) = loaded.slis
    assert isinstance(spec.params, PrometheusSliParams)
    assert spec.params.scale == 100 and spec.params.series_label == "service"
    assert spec.slo is not None and spec.slo.objective == 0.999
    (chk,) = loaded.checks
    assert isinstance(chk.params, PrometheusCheckParams) and chk.params.targets_down_warning == 2


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("[{window}]", "[5m]", "slis.errors.error_ratio_query", "{window}"),
        (
            'series_label = "service"',
            'series_label = "the service"',
            "slis.errors.series_label",
            "label name",
        ),
        ("scale = 100", 'scale = 100\nstep = "soon"', "slis.errors.step", "not a duration"),
        ("scale = 100", 'scale = 100\nhistory = "30d"\nstep = "1s"', "slis.errors", "11000 points"),
        ("scale = 100", "scale = 0", "slis.errors.scale", "non-zero"),
        ("scale = 100", "scale = 100\nquerry = 'up'", "slis.errors.querry", "unknown key"),
        (
            'url = "http://prometheus.example:9090/"',
            'url = "prometheus:9090"',
            "backends.prom.url",
            "http",
        ),
        ('timeout = "2s"', 'timeout = "2s"\ntoken = "abc"', "backends.prom.token", "inline"),
        (
            "targets_down_warning = 2",
            "targets_down_warning = 0",
            "checks.prometheus.targets_down_warning",
            "greater",
        ),
    ],
)
@pytest.mark.usefixtures("registered")
def test_config_errors_name_the_key(old: str, new: str, key: str, message: str) -> None:
    text = CONFIG.replace(old, new)
    assert text != CONFIG
    with pytest.raises(config.ConfigError) as info:
        config.loads(text, env={})
    problems = info.value.problems
    assert any(p.key == key and message in p.message for p in problems), problems


def test_sli_params_reject_an_empty_query() -> None:
    with pytest.raises(ValueError, match="PromQL query is required"):
        PrometheusSliParams(query="  ")


async def test_an_unreadable_ca_file_is_named(make: Make, tmp_path: Any) -> None:
    missing = tmp_path / "no-such-ca.pem"
    backend = make(f"https://127.0.0.1:{closed_port()}", ca_file=str(missing))
    with pytest.raises(PrometheusError, match="CA certificate bundle") as info:
        await asyncio.wait_for(backend.query_sli(sli(query="up")), 3.0)
    assert "\n" not in str(info.value)
