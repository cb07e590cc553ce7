"""The status vocabulary's order: ``Status.worst`` is on every probe's path (issue #14)
and decides what the header and the worst-first sort show."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oncall_console.model.health import Status

ORDER = [
    Status.OK,
    Status.DEGRADED,
    Status.STALE,
    Status.UNKNOWN,
    Status.CRITICAL,
    Status.DOWN,
]


def test_the_ranks_put_down_last():
    assert [s.rank for s in ORDER] == list(range(len(ORDER)))
    assert sorted(Status, key=lambda s: s.rank) == ORDER


@given(st.lists(st.sampled_from(ORDER), max_size=8))
def test_worst_is_the_highest_rank_and_unknown_for_nothing(statuses):
    worst = Status.worst(statuses)
    if not statuses:
        assert worst is Status.UNKNOWN
    else:
        assert worst is max(statuses, key=ORDER.index)
    assert Status.worst(tuple(statuses)) is worst
