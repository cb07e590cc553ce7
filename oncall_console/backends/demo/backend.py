"""The ``demo`` backend: an embedded, deterministic simulated platform.

It plays a scripted incident on the platform of the Fantasy Basketball Analyzer
runbook (a bad prediction-service release, then slower troubles in postgres, redis
and notification-service) and lets the remediation actions really change it. Nothing
leaves the process; all values come from :mod:`oncall_console.backends.demo.simulation`
at the injected clock's time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.backends.demo import inspect as closer
from oncall_console.backends.demo.silences import DemoSilences, SilenceError, silence_specs
from oncall_console.backends.demo.simulation import (
    SERVICES,
    TARGETS,
    Simulation,
    SimulationError,
)
from oncall_console.backends.demo.sketch import probe_result
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    Alert,
    CheckResult,
    CheckSpec,
    Confirm,
    Incident,
    Inspection,
    InspectView,
    Outcome,
    ParamSpec,
    Silence,
    SliReading,
    SliSpec,
)

HISTORY_POINTS = 60
"""Values in a reading's history: enough for a full sparkline from the first poll."""
_BUDGETED = ("availability", "error_rate")
"""SLIs whose error budget the simulated 5xx ratio gives (latency has none here)."""


class DemoOptions(Strict):
    """``[backends.NAME]`` options of type ``demo``."""

    model_config = ConfigDict(use_attribute_docstrings=True)
    seed: int = 7
    """Seed of the simulation's noise: equal seeds show equal values at equal times."""
    speed: float = Field(default=1.0, gt=0)
    """How fast the scenario runs: 2 plays the scripted incident twice as fast."""
    start: float | None = None
    """Epoch seconds the scenario starts; empty means the moment it is first used."""


class DemoCheckParams(Strict):
    """``[checks.NAME]`` keys for a demo check."""

    model_config = ConfigDict(use_attribute_docstrings=True)
    target: str
    """A simulated service (e.g. api-gateway) or data store (postgres, redis)."""

    @field_validator("target")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in TARGETS:
            raise ValueError(f"unknown demo target {value!r}; known: {', '.join(TARGETS)}")
        return value


class DemoSliParams(Strict):
    """``[slis.NAME]`` keys for a demo SLI."""

    model_config = ConfigDict(use_attribute_docstrings=True)
    metric: Literal["latency_p99", "error_rate", "availability", "cache_hit_rate"]
    """Which simulated platform metric to read."""


_DEPLOYMENT_ACTIONS = frozenset({"rollback", "restart", "scale"})
_SERVICE_NAMES = frozenset(s.name for s in SERVICES)


def _service_param(help_text: str) -> ParamSpec:
    return ParamSpec("service", "name", help=help_text)


class DemoBackend(Backend):
    """A simulated platform with a scripted incident, for trying the console safely."""

    TYPE = "demo"
    DESCRIPTION = "Simulated platform with a scripted incident (no network, deterministic)"
    CAPABILITIES = frozenset(
        {
            Capability.HEALTH,
            Capability.SLI,
            Capability.ALERTS,
            Capability.INCIDENTS,
            Capability.SILENCES,
            Capability.ACTIONS,
            Capability.INSPECT,
        }
    )
    Options = DemoOptions
    CheckParams = DemoCheckParams
    SliParams = DemoSliParams

    def __init__(self, name: str, options: Any, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._simulation: Simulation | None = None
        self._silences = DemoSilences(name)

    @property
    def simulation(self) -> Simulation:
        """The simulation, started at ``options.start`` or at the first use."""
        if self._simulation is None:
            opts = self.options
            assert isinstance(opts, DemoOptions)
            start = opts.start if opts.start is not None else self.context.clock()
            self._simulation = Simulation(seed=opts.seed, start=start, speed=opts.speed)
        return self._simulation

    async def probe(self, check: CheckSpec) -> CheckResult:
        target = getattr(check.params, "target", None) or check.name
        return probe_result(self.simulation, check, target, self.context.clock())

    async def query_sli(self, sli: SliSpec) -> list[SliReading]:
        now, sim = self.context.clock(), self.simulation
        metric = getattr(sli.params, "metric", None) or sli.name.replace("-", "_")
        try:
            value = sim.sli(metric, now)
            history = sim.sli_history(metric, now, HISTORY_POINTS, sli.interval or 2.0)
        except SimulationError as exc:
            return [SliReading(sli.name, None, sli.unit, sli.thresholds, at=now, error=str(exc))]
        budget = burn = None
        if sli.slo is not None and metric in _BUDGETED:
            budget, burn = sim.error_budget(now, sli.slo.objective, sli.slo.window)
        reading = SliReading(
            sli=sli.name,
            value=value,
            unit=sli.unit,
            thresholds=sli.thresholds,
            at=now,
            history=history,
            budget_remaining=budget,
            burn_rate=burn,
        )
        return [reading]

    async def sli_range(
        self, sli: SliSpec, seconds: float, points: int
    ) -> dict[str, tuple[float, ...]]:
        metric = getattr(sli.params, "metric", None) or sli.name.replace("-", "_")
        points = max(2, points)
        step = seconds / (points - 1)
        try:
            history = self.simulation.sli_history(metric, self.context.clock(), points, step)
        except SimulationError as exc:
            raise ValueError(str(exc)) from None
        return {"": history}

    async def alerts(self) -> list[Alert]:
        now = self.context.clock()
        return self._silences.mute(self.simulation.alerts(now), now)

    async def silences(self) -> list[Silence]:
        return self._silences.silences(self.context.clock())

    async def incidents(self) -> list[Incident]:
        return self.simulation.incidents(self.context.clock())

    def actions(self) -> list[ActionSpec]:
        # None of these is dangerous: a yes/no confirmation is enough. terminate-idle names
        # its target with a one-choice 'database' parameter, so that locks, confirmations
        # and the re-probe after the run all point at the postgres check.
        return [
            ActionSpec(
                id="rollback",
                title="Roll back a deployment to its previous version",
                params=(_service_param("Deployment to roll back"),),
                target_param="service",
                verify_check="service",
                confirm=Confirm.YES_NO,
            ),
            ActionSpec(
                id="restart",
                title="Restart a deployment's pods one at a time",
                params=(_service_param("Deployment to restart"),),
                target_param="service",
                verify_check="service",
                confirm=Confirm.YES_NO,
            ),
            ActionSpec(
                id="scale",
                title="Scale a deployment",
                params=(
                    _service_param("Deployment to scale"),
                    ParamSpec("replicas", "int", help="Desired replicas", minimum=1, maximum=10),
                ),
                target_param="service",
                verify_check="service",
                confirm=Confirm.YES_NO,
            ),
            ActionSpec(
                id="terminate-idle",
                title="Terminate idle database connections",
                params=(
                    ParamSpec(
                        "database",
                        "choice",
                        help="Database server",
                        required=False,
                        default="postgres",
                        choices=("postgres",),
                    ),
                    ParamSpec(
                        "older_than_minutes",
                        "int",
                        help="Only connections idle longer than this",
                        required=False,
                        default=5,
                        minimum=1,
                        maximum=1440,
                    ),
                ),
                target_param="database",
                verify_check="database",
                confirm=Confirm.YES_NO,
            ),
            *silence_specs(),
        ]

    def applies(self, spec: ActionSpec, check: CheckSpec) -> bool:
        target = getattr(check.params, "target", None) or check.name
        if spec.id in _DEPLOYMENT_ACTIONS:
            return target in _SERVICE_NAMES
        if spec.id == "terminate-idle":
            return target == "postgres"
        return True  # silences: about anything

    def inspect_views(self, check: CheckSpec) -> list[InspectView]:
        target = getattr(check.params, "target", None) or check.name
        return closer.views(target) if target in TARGETS else []

    async def inspect(self, check: CheckSpec, view: str) -> Inspection:
        now = self.context.clock()
        target = getattr(check.params, "target", None) or check.name
        return closer.look(target, self.simulation.check(target, now), view, now)

    async def preview(self, request: ActionRequest) -> str:
        if request.action in _SILENCING:
            now = self.context.clock()
            try:
                return self._silences.preview(
                    request.action,
                    request.params,
                    now,
                    request.operator or "",
                    self.simulation.alerts(now),
                )
            except SilenceError as exc:
                raise ActionInvalid(str(exc)) from None
        try:
            return self.simulation.preview(request.action, request.params, self.context.clock())
        except SimulationError as exc:
            return f"would fail: {exc}"

    async def run(self, request: ActionRequest) -> ActionResult:
        now, sim = self.context.clock(), self.simulation
        if request.action in _SILENCING:
            return self._silence(request, now)
        target = _target_of(self.actions(), request)
        try:
            preview = sim.preview(request.action, request.params, now)
            before = sim.check(target, now)[1] if target in TARGETS else ""
            if request.dry_run:
                message = f"dry run, nothing changed: {preview}"
                return ActionResult(
                    request, Outcome.DRY_RUN, message, preview=preview, before=before, at=now
                )
            message = sim.apply(request.action, request.params, now, operator=request.operator)
        except (SimulationError, TypeError) as exc:
            return ActionResult(request, Outcome.FAILED, str(exc), at=now)
        after = sim.check(target, now)[1] if target in TARGETS else ""
        return ActionResult(
            request,
            Outcome.SUCCEEDED,
            message,
            preview=preview,
            before=before,
            after=after,
            at=now,
        )

    def _silence(self, request: ActionRequest, now: float) -> ActionResult:
        try:
            if request.dry_run:
                preview = self._silences.preview(
                    request.action, request.params, now, request.operator or "", []
                )
                return ActionResult(request, Outcome.DRY_RUN, f"dry run: {preview}", at=now)
            message = self._silences.apply(
                request.action, request.params, now, request.operator or ""
            )
        except SilenceError as exc:
            return ActionResult(request, Outcome.REFUSED, str(exc), at=now)
        return ActionResult(request, Outcome.SUCCEEDED, message, at=now)


_SILENCING = ("silence", "expire-silence")


def _target_of(actions: list[ActionSpec], request: ActionRequest) -> str:
    spec = next((a for a in actions if a.id == request.action), None)
    if spec is None:
        return ""
    value = request.params.get(spec.target_param)
    return str(value) if value is not None else "postgres" if spec.id == "terminate-idle" else ""
