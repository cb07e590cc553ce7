"""Error-budget arithmetic for an SLO: budget left, burn rates, multi-window alerts.

Pure functions, no IO: a backend measures the error ratio (bad / total events) over
each window it needs, and this module turns those ratios into what the console
shows. The rules follow the SRE workbook ("Alerting on SLOs"):

- the error budget is ``1 - objective`` (0.001 for 99.9 %);
- budget remaining over the SLO window is ``1 - ratio / budget``; it is *not*
  clamped, so an overspent budget is negative and shows as such;
- the burn rate over a window is ``ratio / budget`` (1.0 spends exactly the budget
  over the SLO window; 14.4 spends 2 % of a 30-day budget in one hour);
- a window pair (long, short, factor, pages) fires when the burn rate over *both*
  windows exceeds the factor; any paging pair firing is DOWN, any ticket-level pair
  is DEGRADED, else OK.

A window with no data (no traffic, so 0/0) is ``None``: it never fires a pair.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from oncall_console.model import SloSpec, Status

# PromQL duration units, largest first (weeks and years left out: "30d" reads better than
# "4w2d", and a year is not a whole number of days in people's heads).
_UNITS = (("d", 86400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def promql_duration(seconds: float) -> str:
    """A window as PromQL writes it: 3600 -> "1h", 300 -> "5m", 2592000 -> "30d".

    The largest unit that divides the window exactly is used (5400 -> "90m");
    sub-millisecond parts are rounded away.
    """
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a window must be a positive duration, not {seconds!r}")
    ms = round(seconds * 1000)
    if ms < 1:
        raise ValueError(f"a window must be at least 1 ms, not {seconds!r}")
    for unit, size in _UNITS:
        if ms % size == 0:
            return f"{ms // size}{unit}"
    raise AssertionError("unreachable: every whole number of ms divides by 1")


def error_budget(objective: float) -> float:
    """The fraction of events allowed to fail: ``1 - objective``."""
    if not 0 < objective < 1:
        raise ValueError(f"an objective is a fraction between 0 and 1, not {objective!r}")
    return 1.0 - objective


def usable(ratio: float | None) -> float | None:
    """The ratio, or None when it says nothing (missing, NaN from 0/0, infinite)."""
    if ratio is None or not math.isfinite(ratio):
        return None
    return ratio


def burn_rate(error_ratio: float | None, objective: float) -> float | None:
    """How fast the budget burns: 1.0 spends it exactly over the SLO window."""
    ratio = usable(error_ratio)
    return None if ratio is None else ratio / error_budget(objective)


def budget_remaining(error_ratio: float | None, objective: float) -> float | None:
    """Budget left after the SLO window's error ratio; negative when overspent."""
    burn = burn_rate(error_ratio, objective)
    return None if burn is None else 1.0 - burn


def ratio_query(template: str, window: float, slo: SloSpec | None) -> str:
    """The error-ratio PromQL for one window, as the SLO budgets it.

    Occurrences: the template with ``{window}`` filled in. Time slices: the template
    over one slice, judged slice by slice over the window with a subquery — the share
    of slices whose error ratio is above ``1 - time_slice_target`` ("timeslices"), or
    the mean of the slices' error ratios ("ratio_timeslices")."""
    if slo is None or slo.budgeting == "occurrences":
        return template.replace("{window}", promql_duration(window))
    slice_ = promql_duration(slo.time_slice)
    per_slice = template.replace("{window}", slice_)
    if slo.budgeting == "timeslices":
        bound = 1.0 - (slo.time_slice_target or 0.0)
        per_slice = f"({per_slice}) > bool {bound:.12g}"
    return f"avg_over_time(({per_slice})[{promql_duration(window)}:{slice_}])"


def windows_of(slo: SloSpec) -> tuple[float, ...]:
    """Every window whose error ratio the SLO needs, shortest first, each once."""
    wanted = {slo.window}
    for long_s, short_s, _factor, _pages in slo.burn_windows:
        wanted.update((long_s, short_s))
    return tuple(sorted(wanted))


def pair_fires(
    burns: Mapping[float, float | None], long_s: float, short_s: float, factor: float
) -> bool:
    """Both windows burn faster than ``factor``; a window without data never fires."""
    long_burn, short_burn = burns.get(long_s), burns.get(short_s)
    return (
        long_burn is not None
        and short_burn is not None
        and long_burn > factor
        and short_burn > factor
    )


def burn_status(
    burns: Mapping[float, float | None],
    burn_windows: Iterable[tuple[float, float, float, bool]],
) -> Status:
    """CRITICAL if a paging pair fires, DEGRADED if a ticket-level pair fires, else OK
    (burning budget is a threshold crossed, not a service that does not answer)."""
    found = Status.OK
    for long_s, short_s, factor, pages in burn_windows:
        if pair_fires(burns, long_s, short_s, factor):
            if pages:
                return Status.CRITICAL
            found = Status.DEGRADED
    return found


@dataclass(frozen=True, slots=True)
class SloResult:
    """What one set of window ratios says about an SLO."""

    budget_remaining: float | None
    """Over the SLO window; 1.0 untouched, 0 spent, negative overspent."""
    burn_rate: float | None
    """Over the shortest long window of the pairs (1h with the defaults)."""
    burn_status: Status | None
    """None when no window had data: nothing is known, so nothing is claimed."""
    burns: dict[float, float | None]
    """Burn rate per window, seconds -> rate."""
    firing: tuple[tuple[float, float, float, bool], ...] = ()
    """The window pairs that fire."""


def evaluate(slo: SloSpec, ratios: Mapping[float, float | None]) -> SloResult:
    """Budget, burn rate and burn status from the error ratio of each window."""
    burns = {w: burn_rate(ratios.get(w), slo.objective) for w in windows_of(slo)}
    longs = [long_s for long_s, _s, _f, _p in slo.burn_windows]
    shown = burns.get(min(longs)) if longs else None
    if all(b is None for b in burns.values()):
        status = None
    else:
        status = burn_status(burns, slo.burn_windows)
    firing = tuple(bw for bw in slo.burn_windows if pair_fires(burns, bw[0], bw[1], bw[2]))
    return SloResult(
        budget_remaining=budget_remaining(ratios.get(slo.window), slo.objective),
        burn_rate=shown,
        burn_status=status,
        burns=burns,
        firing=firing,
    )
