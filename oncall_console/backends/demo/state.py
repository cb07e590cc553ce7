"""The simulated platform's state model: what a moment of it is, and small pure helpers.

The simulation folds the scripted events and the operator's actions, in time
order, into a :class:`State`; each target's health is a :class:`TargetView`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oncall_console.model import Status, SubStatus

Check = tuple[Status, str, float, dict[str, str], tuple[SubStatus, ...]]


@dataclass(frozen=True, slots=True)
class TargetView:
    """What a health probe of one service or data store finds."""

    name: str
    status: Status
    summary: str
    probe_ms: float
    details: dict[str, str]
    substatuses: tuple[SubStatus, ...] = ()


@dataclass
class Deployment:
    versions: list[str]
    desired: int
    ready_from: int
    scaled_at: float = -math.inf
    rolled_at: float = -math.inf
    restarted_at: float | None = None


@dataclass(frozen=True)
class Event:
    t: float
    action: str
    params: dict[str, Any]
    operator: str = ""


@dataclass
class State:
    """The platform as the events up to scenario time ``t`` left it."""

    t: float
    deployments: dict[str, Deployment]
    bad_at: float | None = None
    bad_gone_at: float | None = None
    pg_killed: int = 0
    log: list[tuple[float, str, str, str]] = field(default_factory=list)
    """Operator actions: (time, target, what was done, who)."""
    views: dict[str, TargetView] = field(default_factory=dict)


def clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def level_status(value: float, warn: float, crit: float) -> Status:
    """A level past its thresholds: CRIT or WARN (the thing answers: never DOWN)."""
    return Status.CRITICAL if value >= crit else Status.DEGRADED if value >= warn else Status.OK


def first_true(cond: Callable[[float], bool], lo: float, hi: float) -> float | None:
    """Earliest time in [lo, hi] where ``cond`` holds (to ~1 ms), scanning then bisecting."""
    prev = t = lo
    while not cond(t):
        if t >= hi:
            return None
        prev, t = t, min(hi, t + 0.5)
    for _ in range(10 if t > lo else 0):  # cond is false at prev, true at t
        mid = (prev + t) / 2
        prev, t = (prev, mid) if cond(mid) else (mid, t)
    return t
