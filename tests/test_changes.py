"""engine/changes.py: what changed since a mark is exactly the checks recorded after it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oncall_console.engine.changes import ChangeLog

names = st.lists(st.sampled_from([f"c{n}" for n in range(8)]), max_size=40)


@given(before=names, after=names)
def test_since_a_mark_gives_each_check_recorded_after_it_once(before, after):
    log = ChangeLog()
    for name in before:
        log.note(name)
    mark = log.mark
    for name in after:
        log.note(name)
    since = log.since(mark)
    assert sorted(since) == sorted(set(after))
    assert len(since) == len(set(since))
    assert log.since(log.mark) == []
    assert sorted(log.since(0)) == sorted(set(before) | set(after))
