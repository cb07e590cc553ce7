"""Service level indicators: a measured value against its thresholds."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from oncall_console.model.health import Status


class Direction(enum.Enum):
    """Which way is good for a value."""

    HIGHER_IS_BETTER = "up"
    LOWER_IS_BETTER = "down"

    @property
    def bad_arrow(self) -> str:
        """The arrow that points the bad way."""
        return "↓" if self is Direction.HIGHER_IS_BETTER else "↑"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Target, warning and critical levels; their meaning follows the direction."""

    target: float | None
    warning: float | None
    critical: float | None
    direction: Direction = Direction.LOWER_IS_BETTER

    def status_of(self, value: float | None) -> Status:
        if value is None:
            return Status.UNKNOWN
        worse = (
            (lambda v, t: v >= t)
            if self.direction is Direction.LOWER_IS_BETTER
            else (lambda v, t: v <= t)
        )
        if self.critical is not None and worse(value, self.critical):
            return Status.CRITICAL
        if self.warning is not None and worse(value, self.warning):
            return Status.DEGRADED
        if not self.meets_target(value):  # short of its target is never "OK"
            return Status.DEGRADED
        return Status.OK

    def meets_target(self, value: float) -> bool:
        if self.target is None:
            return True
        if self.direction is Direction.LOWER_IS_BETTER:
            return value <= self.target
        return value >= self.target


@dataclass(frozen=True, slots=True)
class SliReading:
    """One reading of one SLI (a series result gives several, one per label set)."""

    sli: str
    value: float | None
    unit: str
    thresholds: Thresholds
    at: float = 0.0
    series: str = ""
    """Label set the value belongs to, e.g. ``service=api`` (empty for a scalar)."""
    error: str | None = None
    budget_remaining: float | None = None
    """Error budget left over the SLO window, as a fraction (1.0 = untouched)."""
    burn_rate: float | None = None
    """Error-budget burn rate over the shortest configured window (1.0 = exactly on budget)."""
    burn_status: Status | None = None
    """CRITICAL when a page-level burn-rate window pair fires, DEGRADED for a ticket-level one."""
    note: str | None = None
    """Why there is no value although nothing failed: "no data", "NaN (0/0: no traffic?)"."""
    history: tuple[float, ...] = field(default=())
    """Recent values, oldest first, when the source can give them."""

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.DOWN
        found = self.thresholds.status_of(self.value)
        if self.burn_status is not None:
            return Status.worst([found, self.burn_status])
        return found
