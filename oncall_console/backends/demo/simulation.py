"""A deterministic simulated platform for the demo backend: pure logic, no IO.

Every value is a function of (seed, scenario time, actions taken so far). Scenario
time is ``(now - start) * speed``. Noise comes from a ``random.Random`` seeded with a
string naming the seed, the quantity and the time bucket, so equal seeds show equal
numbers at equal moments, and any past moment can be recomputed (full sparklines).
The state at a moment is a fold over the scripted events and the operator's actions
up to that moment; each fault is a unimodal curve, so alert onsets are easy to find.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oncall_console.backends.demo.state import (
    Check,
    Deployment,
    Event,
    State,
    TargetView,
    clamp,
    first_true,
    level_status,
)
from oncall_console.model import (
    Alert,
    Incident,
    IncidentStatus,
    Severity,
    Status,
    SubStatus,
    TimelineEntry,
)

# --- the script: when things happen, in scenario seconds ---------------------------------

ROLLOUT_AT = 20.0  # CI starts rolling prediction-service out to BAD_VERSION
ROLLOUT_SECONDS = 12.0  # a rolling update replaces one pod every few seconds
ERRORS_DELAY = 15.0  # the bad release starts failing this long after its rollout began
ERRORS_RAMP = 10.0  # its errors climb to their peak over this long
RECOVERY_SECONDS = 10.0  # after a rollback, errors decay to normal over this long
ALERT_FOR = 6.0  # a condition must hold this long before its alert fires
INCIDENT_AT = 50.0  # the incident is declared, if HighErrorRate has fired by then
TRIAGE_NOTE_AT = 58.0
WS_SURGE_AT, WS_SURGE_SECONDS = 60.0, 30.0  # evening traffic fills websocket capacity
PG_CREEP_AT, PG_CREEP_SECONDS = 80.0, 30.0  # a batch job leaves idle connections behind
REDIS_PRESSURE_AT, REDIS_RAMP = 85.0, 20.0  # cache memory climbs, evictions start
LEAK_DEGRADED_AT = 120.0  # notification-service's leak crosses its warning level
SCALE_SECONDS = 4.0  # new replicas become ready over this long
RESTART_SECONDS = 5.0  # a restart keeps one pod unready this long
NOISE_STEP = 2.0  # noise takes a new value every this many scenario seconds

# --- the levels ------------------------------------------------------------------------------

PRED, BAD_VERSION = "prediction-service", "v2.5.0"
PRED_BASE_ERR, PRED_PEAK_ERR, READINESS_FAIL_ERR = 0.05, 6.0, 4.0  # percent
PRED_SHARE = 0.4  # share of API requests that need a prediction
API_BASE_ERR, ERROR_ALERT = 0.04, 1.0  # percent
API_BASE_P99, API_FAULT_P99, REDIS_P99 = 280.0, 900.0, 60.0  # ms
AVAIL_WINDOW = 30.0  # availability is the 5xx ratio over this many scenario seconds
PRIOR_BUDGET_SPENT = 0.23  # error budget already used in the SLO window before the demo
PG_MAX, PG_ACTIVE, PG_IDLE, PG_LEAK, PG_WARN, PG_CRIT = 100, 18, 28, 39, 70, 90
LEAK_IDLE_MIN, LEAK_IDLE_MAX = 8, 40  # idle ages (minutes) the leaked connections report
REDIS_MAX_GIB, REDIS_BASE_MEM, REDIS_PEAK_MEM = 8, 61.0, 88.0
REDIS_ALERT, REDIS_CRIT, REDIS_BASE_HIT, REDIS_HIT_DIP = 85.0, 95.0, 94.5, 10.5
WS_PER_REPLICA, WS_BASE, WS_PEAK, WS_WARN, WS_CRIT = 5000, 10500.0, 12750.0, 80.0, 95.0
MEM_BASE, MEM_WARN, MEM_CAP = 40.0, 75.0, 92.0  # notification-service, percent of limit
LEAK_SECONDS_TO_WARN = 1800.0  # a fresh pod leaks up to MEM_WARN in this long
LEAK_AGE_AT_START = LEAK_SECONDS_TO_WARN - LEAK_DEGRADED_AT
DISK_PCT, DISK_ALERT_AGE = 72, 2.5 * 86400.0
INCIDENT_ID, COMMANDER = "INC-2041", "r.okafor"
INCIDENT_TITLE = f"Elevated 5xx after {PRED} {BAD_VERSION} rollout"
TRIAGE_NOTE = f"5xx started right after the {BAD_VERSION} rollout; suspecting the release"
ALERT_TEXT = {  # alert -> (severity label, description)
    "HighErrorRate": ("critical", "More than 1 % of API requests fail with 5xx."),
    "PredictionServiceDown": ("critical", "No prediction-service pod passes readiness."),
    "RedisMemoryHigh": ("warning", "Redis is near maxmemory and evicting keys."),
    "DiskUsageHigh": ("info", "A postgres data volume is above 70 % full."),
}
SLIS = ("latency_p99", "error_rate", "availability", "cache_hit_rate")


@dataclass(frozen=True, slots=True)
class ServiceDef:
    name: str
    replicas: int
    versions: tuple[str, ...]
    """Revision history, live version last."""
    p99_ms: float
    depends: tuple[str, ...]


SERVICES = (
    ServiceDef(
        "api-gateway",
        3,
        ("v3.7.2", "v3.8.0"),
        95.0,
        ("auth-service", "user-service", "player-service", PRED, "yahoo-service"),
    ),
    ServiceDef("auth-service", 2, ("v2.1.4", "v2.2.0"), 40.0, ("postgres", "redis")),
    ServiceDef("user-service", 2, ("v1.9.0", "v1.9.3"), 55.0, ("auth-service", "postgres")),
    ServiceDef("player-service", 3, ("v4.2.0", "v4.3.1"), 140.0, ("postgres", "redis")),
    ServiceDef(PRED, 3, ("v2.3.2", "v2.4.0"), 420.0, ("player-service",)),
    ServiceDef("yahoo-service", 2, ("v1.6.0", "v1.6.2"), 310.0, ("user-service",)),
    ServiceDef("notification-service", 2, ("v1.4.0", "v1.4.1"), 85.0, ("redis", "kafka")),
    ServiceDef("websocket-service", 3, ("v2.0.3", "v2.0.5"), 25.0, ("redis", "auth-service")),
    ServiceDef("scheduler-service", 1, ("v1.2.0", "v1.2.1"), 60.0, ("postgres", "kafka")),
)
TARGETS = (*(s.name for s in SERVICES), "postgres", "redis")


class SimulationError(ValueError):
    """An action or a name the simulated platform refuses."""


_DEFS = {s.name: s for s in SERVICES}
_BLAST = (PRED, "api-gateway")  # actions on these belong to the incident timeline
_SEVERITY = {"critical": Severity.SEV2, "warning": Severity.SEV3, "info": Severity.SEV4}


class Simulation:
    """The demo platform; the script is in the constants above."""

    def __init__(self, seed: int = 7, start: float = 0.0, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.seed, self.start, self.speed = seed, start, speed
        deploy = {"service": PRED, "version": BAD_VERSION}
        self._events = [Event(ROLLOUT_AT, "deploy", deploy, "ci")]

    def scenario_time(self, now: float) -> float:
        return (now - self.start) * self.speed

    def _epoch(self, t: float) -> float:
        return self.start + t / self.speed

    def _noise(self, key: str, t: float) -> float:
        """Uniform in [-1, 1], fixed per (seed, quantity, time bucket)."""
        return random.Random(f"{self.seed}:{key}:{int(t // NOISE_STEP)}").uniform(-1.0, 1.0)

    # --- the fold: replay events up to a moment ----------------------------------------------

    def _state(self, t: float) -> State:
        st = State(
            t, {s.name: Deployment(list(s.versions), s.replicas, s.replicas) for s in SERVICES}
        )
        for ev in self._events:
            if ev.t > t:
                break
            self._fold(st, ev)
        return st

    def _fold(self, st: State, ev: Event) -> None:
        p, text = ev.params, ""
        if ev.action == "terminate-idle":
            killed = self._killable(st, ev.t, p["older_than_minutes"])
            st.pg_killed += killed
            text = f"terminated {killed} idle postgres connections"
        else:
            svc = p["service"]
            d = st.deployments[svc]
            if ev.action == "deploy":
                d.versions.append(p["version"])
                d.rolled_at = ev.t
                if p["version"] == BAD_VERSION:
                    st.bad_at, st.bad_gone_at = ev.t, None
            elif ev.action == "rollback" and len(d.versions) > 1:
                gone = d.versions.pop()
                d.rolled_at = ev.t
                if gone == BAD_VERSION and st.bad_gone_at is None:
                    st.bad_gone_at = ev.t
                text = f"rolled back {svc} from {gone} to {d.versions[-1]}"
            elif ev.action == "restart":
                d.restarted_at, text = ev.t, f"restarted {svc}"
            elif ev.action == "scale":
                d.ready_from = self._ready(st, svc, ev.t)
                d.desired, d.scaled_at = p["replicas"], ev.t
                text = f"scaled {svc} to {p['replicas']} replicas"
        if text:
            st.log.append((ev.t, p.get("service", "postgres"), text, ev.operator))

    # --- noise-free signals; the state may be from any time at or after ``t`` ---------------

    def _fault(self, st: State, t: float) -> float:
        """How bad the bad release is at ``t``: 0 (fine) .. 1 (peak errors)."""
        if st.bad_at is None:
            return 0.0
        onset, end = st.bad_at + ERRORS_DELAY, st.bad_gone_at
        f = clamp(((t if end is None else min(t, end)) - onset) / ERRORS_RAMP)
        return f if end is None or t <= end else f * clamp(1 - (t - end) / RECOVERY_SECONDS)

    def _pred_err(self, st: State, t: float) -> float:
        return PRED_BASE_ERR + (PRED_PEAK_ERR - PRED_BASE_ERR) * self._fault(st, t)

    def _api_err(self, st: State, t: float) -> float:
        return API_BASE_ERR + PRED_SHARE * (self._pred_err(st, t) - PRED_BASE_ERR)

    def _rolling_err(self, st: State, t: float) -> float:
        n = int(AVAIL_WINDOW // 5) + 1
        return sum(self._api_err(st, t - 5.0 * k) for k in range(n)) / n

    @staticmethod
    def _pressure(t: float) -> float:
        return clamp((t - REDIS_PRESSURE_AT) / REDIS_RAMP)

    def _redis_mem(self, t: float) -> float:
        return REDIS_BASE_MEM + (REDIS_PEAK_MEM - REDIS_BASE_MEM) * self._pressure(t)

    def _leaked(self, st: State, t: float) -> int:
        creep = PG_LEAK * clamp((t - PG_CREEP_AT) / PG_CREEP_SECONDS)
        return max(0, round(creep) - st.pg_killed)

    def _killable(self, st: State, t: float, older_than: int) -> int:
        # The leaked connections report idle ages spread evenly over a fixed range.
        share = clamp((LEAK_IDLE_MAX - older_than) / (LEAK_IDLE_MAX - LEAK_IDLE_MIN))
        return round(self._leaked(st, t) * share)

    def _ready(self, st: State, name: str, t: float) -> int:
        d = st.deployments[name]
        if name == PRED and self._pred_err(st, t) >= READINESS_FAIL_ERR:
            return 0  # the readiness probe fails on every pod
        ready = d.desired
        if d.desired > d.ready_from and t - d.scaled_at < SCALE_SECONDS:
            ready = d.ready_from + int(
                (d.desired - d.ready_from) * (t - d.scaled_at) / SCALE_SECONDS
            )
        if d.restarted_at is not None and 0 <= t - d.restarted_at < RESTART_SECONDS:
            ready = max(0, ready - 1)
        return ready

    def _leak_mem(self, st: State, t: float) -> float:
        restarted = st.deployments["notification-service"].restarted_at
        age = t + LEAK_AGE_AT_START if restarted is None else t - restarted
        return min(MEM_CAP, MEM_BASE + (MEM_WARN - MEM_BASE) * age / LEAK_SECONDS_TO_WARN)

    # --- SLIs ---------------------------------------------------------------------------------

    def _sli_at(self, name: str, t: float) -> float:
        st, n = self._state(t), self._noise(f"sli:{name}", t)
        if name == "latency_p99":
            slow = API_FAULT_P99 * self._fault(st, t) + REDIS_P99 * self._pressure(t)
            return API_BASE_P99 + slow + 20.0 * n
        if name == "error_rate":
            return max(0.0, self._api_err(st, t) + 0.012 * n)
        if name == "availability":
            return min(100.0, 100.0 - self._rolling_err(st, t) + 0.004 * n)
        if name == "cache_hit_rate":
            return REDIS_BASE_HIT - REDIS_HIT_DIP * self._pressure(t) + 0.5 * n
        raise SimulationError(f"unknown SLI {name!r}; known: {', '.join(SLIS)}")

    def sli(self, name: str, now: float) -> float:
        return self._sli_at(name, self.scenario_time(now))

    def sli_history(
        self, name: str, now: float, points: int = 30, step: float = 2.0
    ) -> tuple[float, ...]:
        """Values every ``step`` wall seconds, oldest first, ending with ``sli(name, now)``."""
        return tuple(self.sli(name, now - k * step) for k in range(points - 1, -1, -1))

    def error_budget(self, now: float, objective: float, window: float) -> tuple[float, float]:
        """(error budget left as a fraction, burn rate now) of an availability SLO."""
        t = self.scenario_time(now)
        st = self._state(t)
        bad = API_BASE_ERR / 100 * max(0.0, t)  # bad seconds: the integral of the 5xx ratio
        if st.bad_at is not None and t > 0:
            # The fault is linear between these knots, so the trapezoid rule is exact.
            onset, end = st.bad_at + ERRORS_DELAY, st.bad_gone_at
            knots = {0.0, t, onset, onset + ERRORS_RAMP}
            knots |= set() if end is None else {end, end + RECOVERY_SECONDS}
            xs = sorted(k for k in knots if 0.0 <= k <= t)
            f = [self._fault(st, x) for x in xs]
            area = sum((f[i] + f[i + 1]) / 2 * (xs[i + 1] - xs[i]) for i in range(len(xs) - 1))
            bad += PRED_SHARE * (PRED_PEAK_ERR - PRED_BASE_ERR) / 100 * area
        remaining = 1.0 - PRIOR_BUDGET_SPENT - bad / ((1.0 - objective) * window)
        return remaining, self._rolling_err(st, t) / 100 / (1.0 - objective)

    # --- health -------------------------------------------------------------------------------

    def services(self, now: float) -> tuple[TargetView, ...]:
        st = self._state(self.scenario_time(now))
        return tuple(self._view(st, s.name) for s in SERVICES)

    def check(self, name: str, now: float) -> Check:
        if name not in TARGETS:
            raise SimulationError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
        v = self._view(self._state(self.scenario_time(now)), name)
        return v.status, v.summary, v.probe_ms, dict(v.details), v.substatuses

    def _view(self, st: State, name: str) -> TargetView:
        if name not in st.views:
            make = {"postgres": self._postgres, "redis": self._redis}.get(name)
            st.views[name] = make(st) if make else self._service(st, name)
        return st.views[name]

    def _dependency(self, st: State, name: str) -> SubStatus:
        if name not in TARGETS:  # kafka is not part of the story: always fine
            return SubStatus(name, Status.OK, "3/3 brokers")
        v = self._view(st, name)
        return SubStatus(name, v.status, v.summary)

    def _service(self, st: State, name: str) -> TargetView:
        t, sdef, d = st.t, _DEFS[name], st.deployments[name]
        version, ready = d.versions[-1], self._ready(st, name, t)
        n = self._noise(f"{name}:p99", t)
        err = max(0.0, 0.02 + 0.01 * self._noise(f"{name}:err", t))
        p99, probe = sdef.p99_ms * (1 + 0.08 * n), 4.0 + 2.0 * self._noise(f"{name}:probe", t)
        prev = d.versions[-2] if len(d.versions) > 1 else "none"
        details = {
            "version": version,
            "previous": prev,
            "replicas": f"{ready}/{d.desired} ready",
        }
        subs = tuple(self._dependency(st, dep) for dep in sdef.depends)
        status, problems = Status.OK, []
        if name == PRED:
            err = self._pred_err(st, t) * (1 + 0.04 * self._noise("pred:err", t))
            p99 *= 1 + 4 * self._fault(st, t)  # requests wait on a failing model
        elif name == "api-gateway":
            err, p99 = self._api_err(st, t), self._sli_at("latency_p99", t)
            if down := [s.name for s in subs if s.status is Status.DOWN]:
                status = Status.DEGRADED
                problems.append(f"upstream {', '.join(down)} failing")
        elif name == "notification-service":
            mem = self._leak_mem(st, t)
            p99 *= 1 + max(0.0, mem - 74.0) / 1.5  # garbage collection stalls
            details["memory"] = f"{mem:.0f} % of limit"
            if mem >= MEM_WARN:
                status, probe = Status.DEGRADED, probe + 35.0
                problems.append(f"memory {mem:.0f} % of limit, p99 {p99:.0f} ms")
        elif name == "websocket-service":
            capacity = ready * WS_PER_REPLICA
            surge = clamp((t - WS_SURGE_AT) / WS_SURGE_SECONDS)
            conns = min((WS_BASE + (WS_PEAK - WS_BASE) * surge) * (1 + 0.01 * n), capacity)
            use = 100.0 * conns / capacity if capacity else 100.0
            details["connections"] = f"{conns:,.0f} of {capacity:,} ({use:.0f} %)"
            if (status := level_status(use, WS_WARN, WS_CRIT)) is not Status.OK:
                problems.append(f"connections at {use:.0f} % of capacity")
        details["p99"], details["5xx"] = f"{p99:.0f} ms", f"{err:.2f} %"
        if err >= ERROR_ALERT:
            status = Status.worst([status, Status.DEGRADED])
            problems.insert(0, f"5xx {err:.1f} %")
        if ready < d.desired:
            status = Status.worst([status, Status.DOWN if ready == 0 else Status.DEGRADED])
            why = "readiness failing: " if name == PRED and ready == 0 else ""
            problems.insert(0, f"{why}{ready}/{d.desired} ready")
        if 0 <= t - d.rolled_at < ROLLOUT_SECONDS:  # maxUnavailable 0: no pod is lost
            updated = int(d.desired * (t - d.rolled_at) / ROLLOUT_SECONDS)
            details["rollout"] = f"{version}: {updated}/{d.desired} pods updated"
            problems.insert(0, f"rolling out {version} ({updated}/{d.desired} updated)")
        summary = "; ".join(problems) or f"{version}, {ready}/{d.desired} ready, p99 {p99:.0f} ms"
        return TargetView(name, status, summary, round(probe, 1), details, subs)

    def _postgres(self, st: State) -> TargetView:
        t = st.t
        active = round(PG_ACTIVE + 3 * self._noise("pg:active", t))
        idle = round(PG_IDLE + 2 * self._noise("pg:idle", t)) + self._leaked(st, t)
        used = active + idle
        pct = 100.0 * used / PG_MAX
        summary = f"{used}/{PG_MAX} connections ({pct:.0f} %), {idle} idle"
        details = {
            "version": "PostgreSQL 15.6",
            "connections": f"{used}/{PG_MAX}",
            "active": str(active),
            "idle": str(idle),
            "idle for minutes": f"{self._leaked(st, t)} (from scheduler-service)",
            "disk": f"{DISK_PCT} % of the data volume",
        }
        lag = 0.3 + 0.2 * self._noise("pg:lag", t)
        subs = (
            SubStatus("primary", Status.OK, "accepting connections"),
            SubStatus("replica-1", Status.OK, f"lag {lag:.1f} s"),
            SubStatus("replica-2", Status.OK, f"lag {lag + 0.1:.1f} s"),
        )
        status = level_status(pct, PG_WARN + 1e-9, PG_CRIT + 1e-9)  # the runbook says "> 70 %"
        return TargetView(
            "postgres", status, summary, round(2.5 + self._noise("pg:probe", t), 1), details, subs
        )

    def _redis(self, st: State) -> TargetView:
        t = st.t
        mem = self._redis_mem(t) + 0.4 * self._noise("redis:mem", t)
        hit = self._sli_at("cache_hit_rate", t)
        evictions = 140 * self._pressure(t) * (1 + 0.2 * self._noise("redis:evictions", t))
        details = {
            "version": "Redis 7.2",
            "used_memory": f"{REDIS_MAX_GIB * mem / 100:.2f} GiB",
            "maxmemory": f"{REDIS_MAX_GIB} GiB (allkeys-lru)",
            "hit rate": f"{hit:.1f} %",
            "evictions": f"{evictions:.0f}/s",
        }
        summary = f"memory {mem:.0f} % of {REDIS_MAX_GIB} GiB, hit rate {hit:.1f} %"
        subs = (SubStatus("cluster", Status.OK, "6/6 nodes, cluster_state ok"),)
        probe = round(1.2 + 0.5 * self._noise("redis:probe", t), 1)
        return TargetView(
            "redis", level_status(mem, REDIS_ALERT, REDIS_CRIT), summary, probe, details, subs
        )

    # --- alerts and the incident ----------------------------------------------------------------

    def _episodes(self, st: State) -> dict[str, tuple[float, float | None]]:
        """Per alert that fires: (when its condition began to hold, when it stopped or None)."""
        out: dict[str, tuple[float, float | None]] = {}

        def episode(
            name: str, cond: Callable[[float], bool], lo: float, hi: float, fix: float | None
        ) -> None:
            # Conditions rise during a known ramp and can only fall after a fix.
            up = first_true(cond, lo, hi)
            if up is None:
                return
            down = None
            if fix is not None:
                down = first_true(lambda x: not cond(x), max(up, fix), fix + RECOVERY_SECONDS + 1)
            if down is None or down - up >= ALERT_FOR:  # shorter than 'for': never fired
                out[name] = (up, down)

        if st.bad_at is not None:
            lo = st.bad_at + ERRORS_DELAY
            fix = st.bad_gone_at
            errors = lambda x: self._api_err(st, x) > ERROR_ALERT  # noqa: E731
            episode("HighErrorRate", errors, lo, lo + ERRORS_RAMP, fix)
            failing = lambda x: self._pred_err(st, x) >= READINESS_FAIL_ERR  # noqa: E731
            episode("PredictionServiceDown", failing, lo, lo + ERRORS_RAMP, fix)
        high = lambda x: self._redis_mem(x) > REDIS_ALERT  # noqa: E731
        episode("RedisMemoryHigh", high, REDIS_PRESSURE_AT, REDIS_PRESSURE_AT + REDIS_RAMP, None)
        return out

    def _alert(self, name: str, since: float, summary: str, service: str) -> Alert:
        level, description = ALERT_TEXT[name]
        labels = {"alertname": name, "severity": level, "env": "demo", "service": service}
        key = "|".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return Alert(
            fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16],
            name=name,
            severity=_SEVERITY[level],
            summary=summary,
            starts_at=self._epoch(since),
            labels=labels,
            annotations={"description": description},
            source="demo",
        )

    def alerts(self, now: float) -> list[Alert]:
        """Firing alerts: conditions that have held for ``ALERT_FOR`` and still hold."""
        t = self.scenario_time(now)
        st = self._state(t)
        disk = f"postgres data volume {DISK_PCT} % full"
        out = [self._alert("DiskUsageHigh", -DISK_ALERT_AGE * self.speed, disk, "postgres")]
        texts = {
            "HighErrorRate": (
                f"API 5xx ratio {self._api_err(st, t):.1f} % (over 1 %)",
                "api-gateway",
            ),
            "PredictionServiceDown": (f"{PRED} has no ready pods", PRED),
            "RedisMemoryHigh": (f"redis memory {self._redis_mem(t):.0f} % of maxmemory", "redis"),
        }
        for name, (up, down) in self._episodes(st).items():
            if up + ALERT_FOR <= t and (down is None or down > t):
                out.append(self._alert(name, up + ALERT_FOR, *texts[name]))
        return out

    def incidents(self, now: float) -> list[Incident]:
        """The scripted incident, once declared (only if HighErrorRate fired before then)."""
        t = self.scenario_time(now)
        st = self._state(t)
        episodes = self._episodes(st)
        if t < INCIDENT_AT or "HighErrorRate" not in episodes:
            return []
        up, down = episodes["HighErrorRate"]
        if up + ALERT_FOR > INCIDENT_AT:
            return []
        entries = [
            (st.bad_at or 0.0, "deploy", f"{PRED} {BAD_VERSION} rollout started", "ci"),
            (up + ALERT_FOR, "alert", "HighErrorRate firing: API 5xx over 1 %", "alertmanager"),
            (INCIDENT_AT, "declared", f"declared SEV2, commander {COMMANDER}", "pagerduty"),
            (TRIAGE_NOTE_AT, "note", TRIAGE_NOTE, COMMANDER),
            *(
                (at, "action", text, who)
                for at, on, text, who in st.log
                if on in _BLAST and at >= up
            ),
        ]
        if pd := episodes.get("PredictionServiceDown"):
            fired = pd[0] + ALERT_FOR
            entries.append((fired, "alert", "PredictionServiceDown firing", "alertmanager"))
        status = (
            IncidentStatus.INVESTIGATING if st.bad_gone_at is None else IncidentStatus.IDENTIFIED
        )
        if down is not None and down <= t:
            status = IncidentStatus.MONITORING
            entries.append((down, "status", "API 5xx back under 1 %; monitoring", COMMANDER))
        related = [
            self._alert(a, 0.0, "", s).fingerprint
            for a, s in (("HighErrorRate", "api-gateway"), ("PredictionServiceDown", PRED))
            if a in episodes
        ]
        timeline = tuple(
            TimelineEntry(self._epoch(at), kind, text, who)
            for at, kind, text, who in sorted(entries)
            if at <= t
        )
        incident = Incident(
            id=INCIDENT_ID,
            title=INCIDENT_TITLE,
            severity=Severity.SEV2,
            status=status,
            opened_at=self._epoch(INCIDENT_AT),
            commander=COMMANDER,
            alerts=tuple(related),
            timeline=timeline,
        )
        return [incident]

    # --- actions --------------------------------------------------------------------------------

    def preview(self, action: str, params: dict[str, Any], now: float) -> str:
        """What ``apply`` would do, in plain words; SimulationError if it would fail."""
        return self._plan(self._state(self.scenario_time(now)), action, params)[0]

    def apply(self, action: str, params: dict[str, Any], now: float, operator: str = "") -> str:
        """Take the action at ``now`` (later values reflect it); returns what was done."""
        t = self.scenario_time(now)
        _, done, clean = self._plan(self._state(t), action, params)
        bisect.insort(self._events, Event(t, action, clean, operator), key=lambda e: e.t)
        return done

    def _plan(
        self, st: State, action: str, params: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any]]:
        """(preview, message when done, normalised params), or SimulationError."""
        if action == "terminate-idle":
            if (db := params.get("database") or "postgres") != "postgres":
                raise SimulationError(f"unknown database {db!r}; the demo has only 'postgres'")
            mins = _int_param(params, "older_than_minutes", 1, 1440, default=5)
            n, used = (
                self._killable(st, st.t, mins),
                self._view(st, "postgres").details["connections"],
            )
            return (
                f"SQL-equivalent on postgres: pg_terminate_backend() for every connection idle "
                f"over {mins} min; {n} match now ({used} in use)",
                f"terminated {n} idle connections older than {mins} min on postgres",
                {"database": db, "older_than_minutes": mins},
            )
        if action not in ("rollback", "restart", "scale"):
            raise SimulationError(f"unknown action {action!r}")
        svc = params.get("service")
        if svc not in st.deployments:
            raise SimulationError(f"unknown service {svc!r}; known: {', '.join(_DEFS)}")
        d = st.deployments[svc]
        live, pods = d.versions[-1], f"{d.desired} replicas"
        if action == "rollback":
            if len(d.versions) < 2:
                raise SimulationError(f"{svc} has no revision older than {live}")
            prev = d.versions[-2]
            return (
                f"kubectl-equivalent: roll back deployment/{svc} from {live} to {prev} ({pods})",
                f"rolled back {svc} from {live} to {prev}; pods are being replaced",
                {"service": svc},
            )
        if action == "restart":
            return (
                f"kubectl-equivalent: rollout restart deployment/{svc} "
                f"(replace {pods} one at a time, {live} unchanged)",
                f"restarted {svc}: {pods} are being replaced",
                {"service": svc},
            )
        n = _int_param(params, "replicas", 1, 10, default=None)
        return (
            f"kubectl-equivalent: scale deployment/{svc} from {d.desired} to {n} replicas",
            f"scaled {svc} from {d.desired} to {n} replicas",
            {"service": svc, "replicas": n},
        )


def _int_param(params: dict[str, Any], name: str, lo: int, hi: int, default: int | None) -> int:
    value = params.get(name, default)
    if value is None:
        raise SimulationError(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise SimulationError(f"{name} must be a whole number, not {value!r}") from None
    if not lo <= value <= hi:
        raise SimulationError(f"{name} must be between {lo} and {hi}, not {value}")
    return value
