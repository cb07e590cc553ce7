"""Error-budget arithmetic (oncall_console/backends/prometheus/slo.py): budget, burn rate, window pairs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncall_console.backends.prometheus import slo
from oncall_console.durations import parse_duration
from oncall_console.model import SloSpec, Status

DEFAULT = SloSpec(objective=0.999)
HOUR, DAY = 3600.0, 86400.0

objectives = st.floats(min_value=0.5, max_value=0.99999)
ratios = st.floats(min_value=0.0, max_value=1.0)


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3600, "1h"),
        (300, "5m"),
        (1800, "30m"),
        (21600, "6h"),
        (259200, "3d"),
        (2592000, "30d"),
        (5400, "90m"),
        (90, "90s"),
        (0.5, "500ms"),
        (604800, "7d"),
    ],
)
def test_windows_render_as_promql_durations(seconds: float, text: str) -> None:
    assert slo.promql_duration(seconds) == text


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, 0.0001])
def test_a_window_must_be_a_positive_duration(bad: float) -> None:
    with pytest.raises(ValueError):
        slo.promql_duration(bad)


@given(st.integers(min_value=1, max_value=10**12))
def test_a_rendered_window_reads_back_as_the_same_duration(ms: int) -> None:
    text = slo.promql_duration(ms / 1000)
    assert parse_duration(text) == pytest.approx(ms / 1000, rel=1e-12)


# --- budget and burn ------------------------------------------------------------------------------


def test_budget_examples() -> None:
    assert slo.error_budget(0.999) == pytest.approx(0.001)
    assert slo.budget_remaining(0.0, 0.999) == pytest.approx(1.0)
    assert slo.budget_remaining(0.0005, 0.999) == pytest.approx(0.5)
    assert slo.budget_remaining(0.001, 0.999) == pytest.approx(0.0)
    # Overspent budgets are negative, never clamped to zero.
    assert slo.budget_remaining(0.002, 0.999) == pytest.approx(-1.0)
    assert slo.burn_rate(0.0144, 0.999) == pytest.approx(14.4)


@pytest.mark.parametrize("nothing", [None, math.nan, math.inf])
def test_no_data_gives_no_budget_and_no_burn(nothing: float | None) -> None:
    assert slo.burn_rate(nothing, 0.999) is None
    assert slo.budget_remaining(nothing, 0.999) is None


@pytest.mark.parametrize("objective", [0, 1, 1.5, -0.1])
def test_an_objective_is_a_fraction(objective: float) -> None:
    with pytest.raises(ValueError):
        slo.error_budget(objective)


@given(objectives, ratios, ratios)
def test_more_errors_mean_less_budget_and_faster_burn(objective: float, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert slo.budget_remaining(low, objective) >= slo.budget_remaining(high, objective)  # type: ignore[operator]
    assert slo.burn_rate(low, objective) <= slo.burn_rate(high, objective)  # type: ignore[operator]


@given(objectives, ratios)
def test_budget_and_burn_add_up_to_one(objective: float, ratio: float) -> None:
    budget = slo.budget_remaining(ratio, objective)
    burn = slo.burn_rate(ratio, objective)
    assert budget is not None and burn is not None
    assert budget + burn == pytest.approx(1.0)
    assert burn == pytest.approx(ratio / (1 - objective))


# --- window pairs -------------------------------------------------------------------------------------


def burns(**by_window: float | None) -> dict[float, float | None]:
    return {parse_duration(k.removeprefix("w")): v for k, v in by_window.items()}


def test_a_pair_fires_only_when_both_windows_burn_too_fast() -> None:
    pairs = DEFAULT.burn_windows
    # A fast burn over the last hour that is still going on: page.
    assert slo.burn_status(burns(w1h=15, w5m=16), pairs) is Status.CRITICAL
    # The same hour, but the last 5 minutes are calm again: the page resets.
    assert slo.burn_status(burns(w1h=15, w5m=0.5), pairs) is Status.OK
    # A short spike alone does not page.
    assert slo.burn_status(burns(w1h=2, w5m=100), pairs) is Status.OK
    # Slow burn over days: a ticket, not a page.
    assert slo.burn_status(burns(w3d=1.5, w6h=1.2), pairs) is Status.DEGRADED
    # Exactly on the factor does not fire (strictly faster is needed).
    assert slo.burn_status(burns(w1h=14.4, w5m=14.4), pairs) is Status.OK
    # Missing data never fires.
    assert slo.burn_status(burns(w1h=None, w5m=50), pairs) is Status.OK


window_burns = st.dictionaries(
    st.sampled_from([300.0, 1800.0, HOUR, 6 * HOUR, 3 * DAY, 30 * DAY]),
    st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
)


@given(window_burns, st.floats(min_value=1, max_value=50))
def test_burning_faster_never_makes_the_status_better(
    by_window: dict[float, float | None], factor: float
) -> None:
    pairs = DEFAULT.burn_windows
    faster = {w: None if b is None else b * factor for w, b in by_window.items()}
    assert slo.burn_status(faster, pairs).rank >= slo.burn_status(by_window, pairs).rank


@given(window_burns)
def test_the_status_is_the_worst_firing_pair(by_window: dict[float, float | None]) -> None:
    pairs = DEFAULT.burn_windows
    firing = [p for p in pairs if slo.pair_fires(by_window, p[0], p[1], p[2])]
    expected = (
        Status.CRITICAL if any(p[3] for p in firing) else Status.DEGRADED if firing else Status.OK
    )
    assert slo.burn_status(by_window, pairs) is expected


def test_windows_of_lists_each_window_once_shortest_first() -> None:
    assert slo.windows_of(DEFAULT) == (300.0, 1800.0, HOUR, 6 * HOUR, 3 * DAY, 30 * DAY)
    custom = SloSpec(
        0.99, window=DAY, burn_windows=((HOUR, 300.0, 2.0, True), (DAY, HOUR, 1.0, False))
    )
    assert slo.windows_of(custom) == (300.0, HOUR, DAY)


# --- evaluate ----------------------------------------------------------------------------------------------


@given(objectives, ratios)
def test_a_steady_ratio_gives_the_workbook_answer(objective: float, ratio: float) -> None:
    spec = SloSpec(objective)
    result = slo.evaluate(spec, dict.fromkeys(slo.windows_of(spec), ratio))
    burn = ratio / (1 - objective)
    assert result.burn_rate == pytest.approx(burn)
    assert result.budget_remaining == pytest.approx(1 - burn)
    if burn > 6.0:  # the second paging pair (6h / 30m at 6x) fires
        assert result.burn_status is Status.CRITICAL
    elif burn > 1.0:  # only the ticket pair (3d / 6h at 1x)
        assert result.burn_status is Status.DEGRADED
    else:
        assert result.burn_status is Status.OK


def test_evaluate_reports_the_one_hour_burn_and_the_slo_window_budget() -> None:
    ratios_by_window = {
        300.0: 0.02,
        1800.0: 0.001,
        HOUR: 0.0150,
        6 * HOUR: 0.002,
        3 * DAY: 0.0005,
        30 * DAY: 0.0004,
    }
    result = slo.evaluate(DEFAULT, ratios_by_window)
    assert result.burn_rate == pytest.approx(15.0)  # the 1 h window
    assert result.budget_remaining == pytest.approx(0.6)  # the 30 d window
    assert result.burn_status is Status.CRITICAL  # 1 h and 5 m both above 14.4
    assert result.firing == ((HOUR, 300.0, 14.4, True),)
    assert result.burns[300.0] == pytest.approx(20.0)


def test_no_data_at_all_claims_nothing() -> None:
    result = slo.evaluate(DEFAULT, {})
    assert result.budget_remaining is None
    assert result.burn_rate is None
    assert result.burn_status is None
    partial = slo.evaluate(DEFAULT, {30 * DAY: 0.0001})
    assert partial.budget_remaining == pytest.approx(0.9)
    assert partial.burn_status is Status.OK  # known: no pair has the data to fire
