"""What config asks the engine to watch: checks and SLIs, already validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oncall_console.model.health import CheckResult, by_fields
from oncall_console.model.sli import Thresholds


@by_fields
@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One health check: which backend probes it, how often, with what parameters."""

    name: str
    backend: str
    interval: float
    timeout: float
    title: str = ""
    group: str = ""
    runbook: str = ""
    params: Any = None
    """The backend's own validated parameter model (e.g. the URL for http)."""

    @property
    def label(self) -> str:
        return self.title or self.name


@by_fields
@dataclass(frozen=True, slots=True)
class Early:
    """One check's first result, from the first poll (``engine/prefetch.py``): the spec
    without its backend options (``params`` is None: the frame needs the name, the label
    and the interval). In the model, not in the engine, so that the console reads the first
    poll's records with the modules its first frame has already imported."""

    spec: CheckSpec
    result: CheckResult
    target: str = ""
    """``prefetch.fingerprint`` of what was probed: the engine compares it with the
    validated config's before it takes the result."""


@dataclass(frozen=True, slots=True)
class SloSpec:
    """An objective over a window, with the burn-rate windows that page."""

    objective: float
    """Fraction of good events, e.g. 0.999."""
    window: float = 30 * 86400.0
    burn_windows: tuple[tuple[float, float, float, bool], ...] = (
        (3600.0, 300.0, 14.4, True),
        (21600.0, 1800.0, 6.0, True),
        (259200.0, 21600.0, 1.0, False),
    )
    """(long window s, short window s, burn-rate factor, pages) for multi-window alerts."""
    budgeting: str = "occurrences"
    """"occurrences" (bad / total events), "timeslices" (the share of bad time slices: a
    slice is bad when its error ratio is above ``1 - time_slice_target``) or
    "ratio_timeslices" (the mean of the slices' error ratios)."""
    time_slice: float = 60.0
    """Seconds of one time slice (the two time-slice methods)."""
    time_slice_target: float | None = None
    """Fraction of good events that makes a slice good ("timeslices")."""


@dataclass(frozen=True, slots=True)
class SliSpec:
    name: str
    backend: str
    unit: str
    thresholds: Thresholds
    interval: float
    timeout: float
    title: str = ""
    params: Any = None
    slo: SloSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.title or self.name
