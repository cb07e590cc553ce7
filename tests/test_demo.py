"""The demo backend: a deterministic scripted incident that actions really change."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from oncall_console.backends.base import BackendContext, Capability
from oncall_console.backends.demo import DemoBackend, demo_config_dict
from oncall_console.backends.demo.backend import HISTORY_POINTS, DemoCheckParams, DemoOptions
from oncall_console.backends.demo.simulation import Simulation, SimulationError
from oncall_console.config import LoadedConfig, from_dict
from oncall_console.engine.actions import ActionRefused, ActionRunner
from oncall_console.model import (
    ActionRequest,
    AlertState,
    CheckResult,
    IncidentStatus,
    Outcome,
    Severity,
    SliReading,
    Status,
)
from oncall_console.store.audit import MemoryAuditLog

START = 1_700_000_000.0


@dataclass
class FakeClock:
    now: float = START

    def at(self, scenario_seconds: float) -> None:
        self.now = START + scenario_seconds


@pytest.fixture(scope="module")
def loaded() -> LoadedConfig:
    return from_dict(demo_config_dict(), env={})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(clock: FakeClock) -> Iterator[DemoBackend]:
    pool = ThreadPoolExecutor(1)
    context = BackendContext(executor=pool, clock=lambda: clock.now)
    yield DemoBackend("demo", DemoOptions(seed=7, start=START), context)
    pool.shutdown()


async def probe(backend: DemoBackend, loaded: LoadedConfig, name: str) -> CheckResult:
    spec = next(c for c in loaded.checks if c.name == name)
    return await backend.probe(spec)


async def reading(backend: DemoBackend, loaded: LoadedConfig, name: str) -> SliReading:
    spec = next(s for s in loaded.slis if s.name == name)
    (result,) = await backend.query_sli(spec)
    return result


async def alert_names(backend: DemoBackend) -> set[str]:
    return {a.name for a in await backend.alerts()}


async def act(backend: DemoBackend, action: str, **params: object) -> Outcome:
    result = await backend.run(ActionRequest("demo", action, dict(params), operator="tester"))
    assert result.outcome is Outcome.SUCCEEDED, result.message
    return result.outcome


# --- configuration ------------------------------------------------------------------------


def test_the_demo_config_loads_with_eleven_checks_and_four_slis(loaded: LoadedConfig):
    assert len(loaded.checks) == 11
    assert len(loaded.slis) == 4
    assert {c.group for c in loaded.checks} == {"services", "data"}
    availability = next(s for s in loaded.slis if s.name == "availability")
    assert availability.slo is not None and availability.slo.objective == 0.999
    assert availability.slo.window == 30 * 86400
    latency = next(s for s in loaded.slis if s.name == "latency-p99")
    assert (latency.thresholds.target, latency.thresholds.critical) == (500, 1000)
    assert loaded.backend_options["demo"][0] == "demo"


def test_seed_and_speed_reach_the_backend_options():
    loaded = from_dict(demo_config_dict(seed=11, speed=3.0), env={})
    _, options = loaded.backend_options["demo"]
    assert isinstance(options, DemoOptions)
    assert (options.seed, options.speed, options.start) == (11, 3.0, None)


def test_an_unknown_target_is_refused_and_the_known_ones_are_listed():
    with pytest.raises(ValidationError) as info:
        DemoCheckParams(target="kafka")
    assert "api-gateway" in str(info.value) and "redis" in str(info.value)
    with pytest.raises(ValidationError):
        DemoOptions(speed=0)


def test_the_backend_declares_six_capabilities_and_its_actions(backend: DemoBackend):
    # Silences too (issue #15, point 6); alerting rules are Prometheus's alone.
    assert {c for c in Capability if not backend.can(c)} == {Capability.RULES}
    specs = {a.id: a for a in backend.actions()}
    assert set(specs) == {
        "rollback",
        "restart",
        "scale",
        "terminate-idle",
        "silence",
        "expire-silence",
    }
    assert specs["scale"].params[1].maximum == 10
    assert specs["terminate-idle"].target_param == "database"
    assert not any(a.dangerous for a in specs.values())


# --- determinism ----------------------------------------------------------------------------


def snapshot(sim: Simulation, now: float) -> tuple:
    checks = tuple(sim.check(name, now) for name in ("api-gateway", PRED, "postgres", "redis"))
    slis = tuple(sim.sli(m, now) for m in ("latency_p99", "error_rate", "availability"))
    return checks, slis, tuple(sim.alerts(now)), tuple(sim.incidents(now))


PRED = "prediction-service"


@pytest.mark.parametrize("t", [5.0, 47.3, 70.0, 133.0])
def test_same_seed_and_time_give_identical_results(t: float):
    assert snapshot(Simulation(7, START), START + t) == snapshot(Simulation(7, START), START + t)


def test_another_seed_differs_somewhere():
    now = START + 70
    assert snapshot(Simulation(7, START), now) != snapshot(Simulation(8, START), now)


def test_values_do_not_depend_on_what_was_asked_before():
    fresh, used = Simulation(7, START), Simulation(7, START)
    used.sli_history("availability", START + 300)
    used.alerts(START + 500)
    assert snapshot(used, START + 100) == snapshot(fresh, START + 100)


def test_speed_compresses_the_scenario():
    slow, fast = Simulation(7, START, speed=1.0), Simulation(7, START, speed=2.0)
    assert fast.check(PRED, START + 35) == slow.check(PRED, START + 70)


# --- the scripted incident --------------------------------------------------------------------


async def test_at_five_seconds_everything_is_healthy(backend, loaded, clock):
    clock.at(5)
    for spec in loaded.checks:
        result = await backend.probe(spec)
        assert result.status is Status.OK, (spec.name, result.summary)
        assert result.at == clock.now and result.latency_ms is not None
    for spec in loaded.slis:
        (r,) = await backend.query_sli(spec)
        assert r.status is Status.OK, (spec.name, r.value)
    alerts = await backend.alerts()
    assert [(a.name, a.severity) for a in alerts] == [("DiskUsageHigh", Severity.SEV4)]
    assert alerts[0].starts_at < START  # long-standing
    assert await backend.incidents() == []


async def test_the_rollout_shows_while_it_runs(backend, loaded, clock):
    clock.at(28)
    result = await probe(backend, loaded, PRED)
    assert result.status is Status.OK
    assert "rolling out v2.5.0" in result.summary
    assert result.details["version"] == "v2.5.0" and result.details["previous"] == "v2.4.0"


async def test_at_seventy_seconds_the_incident_is_on(backend, loaded, clock):
    clock.at(70)
    pred = await probe(backend, loaded, PRED)
    assert pred.status is Status.DOWN and "0/3 ready" in pred.summary
    gateway = await probe(backend, loaded, "api-gateway")
    assert gateway.status is Status.DEGRADED
    assert any(s.name == PRED and s.status is Status.DOWN for s in gateway.substatuses)

    alerts = {a.name: a for a in await backend.alerts()}
    assert {"HighErrorRate", "PredictionServiceDown", "DiskUsageHigh"} <= set(alerts)
    high = alerts["HighErrorRate"]
    assert high.severity is Severity.SEV2 and high.state is AlertState.ACTIVE
    assert high.labels["severity"] == "critical"
    assert START + 40 <= high.starts_at <= START + 50

    (incident,) = await backend.incidents()
    assert incident.id == "INC-2041" and incident.severity is Severity.SEV2
    assert incident.status is IncidentStatus.INVESTIGATING
    assert "v2.5.0" in incident.title
    assert {"deploy", "alert", "declared"} <= {e.kind for e in incident.timeline}
    assert all(e.at <= clock.now for e in incident.timeline)
    assert high.fingerprint in incident.alerts

    assert (
        await reading(backend, loaded, "latency-p99")
    ).status is Status.CRITICAL  # past its critical threshold: it answers
    assert (
        await reading(backend, loaded, "error-rate")
    ).status is Status.CRITICAL  # past its critical threshold: it answers
    assert (await reading(backend, loaded, "availability")).status is not Status.OK


async def test_rollback_ends_the_incident(backend, loaded, clock):
    clock.at(70)
    preview = await backend.preview(ActionRequest("demo", "rollback", {"service": PRED}))
    assert "v2.5.0" in preview and "v2.4.0" in preview and "prediction-service" in preview
    await act(backend, "rollback", service=PRED)

    clock.at(100)
    pred = await probe(backend, loaded, PRED)
    assert pred.status is Status.OK and pred.details["version"] == "v2.4.0"
    assert (await probe(backend, loaded, "api-gateway")).status is Status.OK
    names = await alert_names(backend)
    assert "HighErrorRate" not in names and "PredictionServiceDown" not in names
    (incident,) = await backend.incidents()
    assert incident.status is IncidentStatus.MONITORING
    actions = [e for e in incident.timeline if e.kind == "action"]
    assert actions and actions[0].operator == "tester" and "v2.4.0" in actions[0].text
    assert (await reading(backend, loaded, "error-rate")).status is Status.OK


async def test_an_early_rollback_prevents_the_incident(backend, loaded, clock):
    clock.at(30)
    await act(backend, "rollback", service=PRED)
    clock.at(90)
    assert (await probe(backend, loaded, PRED)).status is Status.OK
    assert "HighErrorRate" not in await alert_names(backend)
    assert await backend.incidents() == []


async def test_redis_memory_alert_fires_later(backend, loaded, clock):
    clock.at(80)
    assert "RedisMemoryHigh" not in await alert_names(backend)
    before = (await reading(backend, loaded, "cache-hit-rate")).value
    clock.at(130)
    alerts = {a.name: a for a in await backend.alerts()}
    assert alerts["RedisMemoryHigh"].severity is Severity.SEV3
    assert (await probe(backend, loaded, "redis")).status is Status.DEGRADED
    assert (await reading(backend, loaded, "cache-hit-rate")).value < before - 5


# --- actions change the simulation -------------------------------------------------------------


async def test_scaling_websocket_lowers_capacity_use(backend, loaded, clock):
    clock.at(100)
    before = await probe(backend, loaded, "websocket-service")
    assert before.status is Status.DEGRADED and "capacity" in before.summary
    await act(backend, "scale", service="websocket-service", replicas=5)
    clock.at(102)
    assert (await probe(backend, loaded, "websocket-service")).status is Status.DEGRADED  # 4/5
    clock.at(110)
    after = await probe(backend, loaded, "websocket-service")
    assert after.status is Status.OK and after.details["replicas"] == "5/5 ready"

    def use(r: CheckResult) -> int:
        return int(r.details["connections"].split("(")[1].split(" ")[0])

    assert use(after) < use(before) * 0.7


async def test_terminate_idle_drops_postgres_connections(backend, loaded, clock):
    clock.at(125)
    before = await probe(backend, loaded, "postgres")
    assert before.status is Status.DEGRADED
    await act(backend, "terminate-idle", older_than_minutes=5)
    clock.at(126)
    after = await probe(backend, loaded, "postgres")
    assert after.status is Status.OK

    def used(r: CheckResult) -> int:
        return int(r.details["connections"].split("/")[0])

    assert used(after) < used(before) - 25


async def test_terminate_idle_spares_connections_younger_than_asked(backend, loaded, clock):
    clock.at(125)
    preview = await backend.preview(
        ActionRequest("demo", "terminate-idle", {"older_than_minutes": 1000})
    )
    assert "0 match" in preview
    await act(backend, "terminate-idle", older_than_minutes=1000)
    assert (await probe(backend, loaded, "postgres")).status is Status.DEGRADED


async def test_restart_fixes_the_notification_leak(backend, loaded, clock):
    clock.at(150)
    before = await probe(backend, loaded, "notification-service")
    assert before.status is Status.DEGRADED and "memory" in before.summary
    await act(backend, "restart", service="notification-service")
    clock.at(152)
    dip = await probe(backend, loaded, "notification-service")
    assert dip.details["replicas"] == "1/2 ready"
    clock.at(170)
    after = await probe(backend, loaded, "notification-service")
    assert after.status is Status.OK
    assert float(after.details["p99"].split()[0]) < float(before.details["p99"].split()[0])


async def test_restart_elsewhere_is_harmless(backend, loaded, clock):
    clock.at(10)
    await act(backend, "restart", service="auth-service")
    clock.at(20)
    assert (await probe(backend, loaded, "auth-service")).status is Status.OK


async def test_bad_requests_fail_without_changing_anything(backend, loaded, clock):
    clock.at(70)
    for action, params in [
        ("rollback", {"service": "no-such-service"}),
        ("scale", {"service": "websocket-service", "replicas": 11}),
        ("scale", {"service": "websocket-service", "replicas": True}),
        ("terminate-idle", {"database": "mysql"}),
        ("reboot", {"service": "api-gateway"}),
    ]:
        result = await backend.run(ActionRequest("demo", action, params))
        assert result.outcome is Outcome.FAILED, (action, params)
        assert result.message
    assert "would fail" in await backend.preview(
        ActionRequest("demo", "restart", {"service": "nope"})
    )
    assert (await probe(backend, loaded, PRED)).status is Status.DOWN


async def test_rollback_runs_out_of_revisions(backend, clock):
    clock.at(70)
    await act(backend, "rollback", service=PRED)
    await act(backend, "rollback", service=PRED)
    result = await backend.run(ActionRequest("demo", "rollback", {"service": PRED}))
    assert result.outcome is Outcome.FAILED and "no revision older" in result.message


async def test_dry_run_and_read_only_change_nothing(backend, loaded, clock):
    clock.at(70)
    dry = await backend.run(ActionRequest("demo", "rollback", {"service": PRED}, dry_run=True))
    assert dry.outcome is Outcome.DRY_RUN and "v2.4.0" in dry.preview
    read_only = ActionRunner(
        {"demo": backend}, MemoryAuditLog(), operator="t", read_only=True, clock=lambda: clock.now
    )
    with pytest.raises(ActionRefused, match="read-only"):  # the runner, before the backend
        await read_only.prepare(ActionRequest("demo", "rollback", {"service": PRED}))
    clock.at(100)
    assert (await probe(backend, loaded, PRED)).status is Status.DOWN


# --- SLIs --------------------------------------------------------------------------------------


async def test_history_is_full_and_ends_with_the_current_value(backend, loaded, clock):
    clock.at(70)
    r = await reading(backend, loaded, "latency-p99")
    assert len(r.history) == HISTORY_POINTS
    assert r.history[-1] == r.value
    assert min(r.history) < 500 < 1000 < max(r.history)  # it spans the incident's start


async def test_availability_carries_an_error_budget_and_burn_rate(backend, loaded, clock):
    clock.at(5)
    calm = await reading(backend, loaded, "availability")
    assert calm.budget_remaining is not None and calm.burn_rate is not None
    assert 0 < calm.budget_remaining <= 1 and calm.burn_rate < 1
    clock.at(70)
    hot = await reading(backend, loaded, "availability")
    assert hot.burn_rate is not None and hot.burn_rate > 14.4  # pages on the fast window
    assert hot.budget_remaining is not None and hot.budget_remaining < calm.budget_remaining
    assert (await reading(backend, loaded, "latency-p99")).budget_remaining is None


def test_history_points_and_step_are_honoured():
    sim = Simulation(7, START)
    history = sim.sli_history("error_rate", START + 60, points=5, step=10.0)
    assert history == tuple(sim.sli("error_rate", START + 60 - k * 10.0) for k in (4, 3, 2, 1, 0))
    with pytest.raises(SimulationError):
        sim.sli("throughput", START)
