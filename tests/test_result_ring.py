"""A check's history ring: compact (bytes per result) and faithful (gives back what was
recorded, in the fields its readers use: the detail view's recent results)."""

from __future__ import annotations

import gc
import random
import struct
import sys
import tracemalloc
from collections import deque
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from oncall_console.engine.state import CheckState, new_check_state
from oncall_console.model import CheckResult, CheckSpec, Status, SubStatus
from oncall_console.ui.screens.detail import check_detail

NOW = 1_800_000_000.0


def spec(name: str = "api") -> CheckSpec:
    return CheckSpec(name, "web", 5.0, 1.0)


def probe(name: str, k: int) -> CheckResult:
    """What the http backend returns for a steady check: fresh floats, strings and dict."""
    return CheckResult(
        check=name,
        status=Status.OK,
        summary="200 " + "OK",
        latency_ms=5.0 + k / 1000,
        at=NOW + k * 5.0,
        details={"url": f"http://127.0.0.1/{name}/health", "http_status": "200 " + "OK"},
    )


def test_a_full_ring_costs_a_few_dozen_bytes_per_result_not_an_object_each():
    """1.2 M results alive at 10,000 checks: as CheckResult objects ~170 bytes each
    (~200 MB, #14 asks for <= 250 MB for the whole console); as columns ~40."""
    checks, size = 200, 120
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        states = [new_check_state(spec(f"svc-{i}"), size) for i in range(checks)]
        for k in range(size * 2):  # full, then turned over once
            for s in states:
                s.record(probe(s.spec.name, k))
        gc.collect()
        per_result = (tracemalloc.get_traced_memory()[0] - before) / (checks * size)
    finally:
        tracemalloc.stop()
    assert all(len(s.history) == size for s in states)
    assert per_result < 80, f"{per_result:.0f} bytes per result kept"


statuses = st.sampled_from(list(Status))
results = st.builds(
    CheckResult,
    check=st.just("api"),
    status=statuses,
    summary=st.sampled_from(["200 OK", "503 Service Unavailable", "timeout", ""]),
    latency_ms=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
    at=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    details=st.sampled_from([{}, {"url": "http://x/"}, {"url": "http://x/", "code": "503"}]),
    substatuses=st.sampled_from([(), (SubStatus("db", Status.DOWN, "refused"),)]),
    error=st.sampled_from([None, "refused"]),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(results, max_size=40), st.integers(min_value=1, max_value=15))
def test_the_ring_gives_back_the_last_results_recorded(recorded, size):
    state = new_check_state(spec(), size)
    for r in recorded:
        state.record(r)
    kept = recorded[-size:]
    assert len(state.history) == len(kept)
    assert list(state.history) == kept  # every field, oldest first, as a deque gave them
    assert state.history.recent(12) == kept[::-1][:12]
    if kept:
        assert state.last == kept[-1]
        assert state.history[-1] == kept[-1] and state.history[0] == kept[0]


def test_a_state_built_on_a_deque_keeps_its_bound_and_results():
    state = CheckState(spec(), deque([probe("api", 0)], maxlen=3))
    for k in range(1, 5):
        state.record(probe("api", k))
    assert [r.at for r in state.history] == [probe("api", k).at for k in (2, 3, 4)]


def test_the_detail_view_lists_the_last_twelve_results_newest_first():
    state = new_check_state(spec(), 120)
    for k in range(30):
        state.record(CheckResult("api", Status.OK, f"result-{k:02d}", 1.0, at=NOW + k))
    console = Console(width=120, record=True, color_system=None)
    console.print(check_detail(state, NOW + 30))
    text = console.export_text()
    recent = text.split("recent results", 1)[1]
    shown = [w for w in recent.split() if w.startswith("result-")]
    assert shown == [f"result-{k:02d}" for k in range(29, 17, -1)]


def test_a_ring_of_ever_changing_texts_keeps_only_the_texts_of_its_slots():
    # Each slot names its text by a byte (two from 256 slots); a text no slot names any
    # more is dropped and its number used again, or a check whose summary changes on
    # every probe (a connection count) would keep every text of the shift.
    for size in (1, 3, 256, 300):
        ring = new_check_state(spec(), size).history
        made = [
            CheckResult("api", Status.OK, f"{k} connections", float(k), at=NOW + k)
            for k in range(size * 3 + 1)
        ]
        for r in made:
            ring.append(r)
        assert list(ring) == made[-size:]
        assert sum(t is not None for t in ring._texts) == size
        assert len(ring._texts) <= size + 1


def test_a_steady_check_keeps_one_text_however_long_the_shift():
    ring = new_check_state(spec(), 120).history
    for k in range(1000):
        ring.append(probe("api", k))
    assert [t is not None for t in ring._texts] == [True]
    assert ring[-1] == probe("api", 999) and ring[0] == probe("api", 880)


def bits(x: float) -> bytes:
    """The double's bits, but for the sign of a zero (== does not tell -0.0 from 0.0, and
    the ring gives back the result it kept when the one asked for is equal to it)."""
    return struct.pack("<d", x + 0.0)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.floats(allow_nan=False) | st.sampled_from([0.0, NOW, NOW + 1e-6]), max_size=80),
    st.integers(min_value=1, max_value=40),
)
def test_every_time_comes_back_to_the_bit_however_far_apart_the_times(times, size):
    # A ring keeps a time's high half once in a table of 16 (then whole times): any
    # doubles, past 16 far-apart ones in one ring too, come back bit for bit.
    ring = new_check_state(spec(), size).history
    made = [CheckResult("api", Status.OK, "200 OK", 5.0, at=t) for t in times]
    for r in made:
        ring.append(r)
    assert [bits(r.at) for r in ring] == [bits(r.at) for r in made[-size:]]
    assert list(ring) == made[-size:]


def test_a_steady_check_keeps_half_its_times_in_the_ring_table_over_a_long_shift():
    # Probed every 15 s for 12 hours, with jitter: the ring's 120 times span 30 minutes,
    # two or three high halves (1,024 s each), so the ring never falls back to 8-byte times.
    rnd = random.Random(14)
    ring = new_check_state(spec(), 120).history
    made = [probe("api", 0)]
    for k in range(12 * 240):
        r = replace(probe("api", k), at=NOW + 15 * k + rnd.random(), latency_ms=rnd.random())
        made.append(r)
        ring.append(r)
    assert ring._highs is not None and len(ring._highs) <= 2 * 3
    assert [bits(r.at) for r in ring] == [bits(r.at) for r in made[-120:]]
    assert list(ring) == made[-120:]
    assert sys.getsizeof(ring._buf) < 120 * 15 + 100  # 14 bytes a result, not 18


def test_a_check_state_has_slots_not_a_dict():
    # One per check, 10,000 of them: a __dict__ each was ~50 bytes more (#14, point 3).
    assert not hasattr(new_check_state(spec(), 3), "__dict__")


def test_a_steady_check_keeps_one_result_object_its_last():
    # The run's text is its newest result, the one CheckState.last holds: not a second
    # object (its floats included) per check beside it (~150 bytes, #14 point 3).
    state = new_check_state(spec(), 120)
    for k in range(300):
        state.record(probe("api", k))
    assert state.history._texts == [state.last] and state.history._texts[0] is state.last
    assert state.history[0] == probe("api", 180)
