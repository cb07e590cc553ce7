"""Alertmanager's alert list, read one alert at a time and only where it changed.

A poll every few seconds brings back 10,000 alerts of which a handful changed. The
console must see exactly what ``json.loads`` would have given (every change, every
alert gone, every malformed answer refused with the same words), while unchanged
alerts keep their ``Alert`` objects and an unchanged answer costs nothing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from oncall_console.backends.alertmanager import AlertmanagerBackend
from oncall_console.backends.alertmanager.client import AlertmanagerError
from oncall_console.backends.alertmanager.json_array import ArrayMemo, Malformed, NotAnArray
from oncall_console.backends.alertmanager.options import AlertmanagerOptions
from oncall_console.backends.base import BackendContext

URL = "http://alertmanager.test:9093"
WHAT = f"GET {URL}/api/v2/alerts"


class Made:
    """``make`` for ArrayMemo that counts its calls and wraps each item, so identity shows."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, item: Any) -> list[Any]:
        self.calls += 1
        return [item]


def _key(item: Any) -> str | None:
    return item.get("fingerprint") if isinstance(item, dict) else None


def memo(limit: int = 1000) -> tuple[ArrayMemo[list[Any]], Made]:
    made = Made()
    return ArrayMemo(made, _key, limit), made


def read(m: ArrayMemo[list[Any]], text: str) -> list[Any]:
    values, _ = m.update(text)
    return [v[0] for v in values]


# --- the array, item by item ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        " \n[ \t]\r\n",
        "[1]",
        '[ {"a": [1, {"b": null}]} ,\n "x" , true,false , null, -1.5e3, []]',
        '["é ☃ 😀", "\\u00e9 \\u2603 \\ud83d\\ude00", "\\ud800 lone", "tab\\tquote\\"back\\\\"]',
        '[{"k": "]"}, "[", ",", "}"]',  # brackets and commas inside strings are text
    ],
)
def test_any_valid_array_reads_as_json_loads_reads_it(text: str) -> None:
    m, _ = memo()
    assert read(m, text) == json.loads(text)
    assert read(m, text) == json.loads(text)  # again, from what it kept


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2",
        "[1,,2]",
        "[1 2]",
        "[1,]",
        "[,1]",
        '[{"a": }]',
        '["no end]',
        "[1] x",
        "[1]]",
        "[1][2]",
        "[nul]",
        "[1]\x0c",  # form feed is not JSON whitespace
    ],
)
def test_a_malformed_array_is_refused_not_cut_short(text: str) -> None:
    m, _ = memo()
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(Malformed):
        m.update(text)


@pytest.mark.parametrize("text", ['{"alerts": []}', '"[1]"', "null", "42", "<html>", "\ufeff[]"])
def test_anything_but_an_array_is_told_apart(text: str) -> None:
    m, _ = memo()
    with pytest.raises(NotAnArray):
        m.update(text)


def test_a_malformed_answer_after_a_good_one_changes_nothing_kept() -> None:
    m, made = memo()
    good = '[{"fingerprint": "a"}, {"fingerprint": "b"}]'
    first = m.update(good)[0]
    with pytest.raises(Malformed):
        m.update('[{"fingerprint": "a"}, {"fingerprint": "b"')
    assert m.update(good)[0] is first and made.calls == 2


def test_an_unchanged_answer_is_not_read_again() -> None:
    m, made = memo()
    text = json.dumps([{"fingerprint": f"{n:04x}", "n": n} for n in range(500)])
    first, total = m.update(text)
    assert total == 500 and made.calls == 500
    again, total = m.update(text[:])  # an equal text, not the same object
    assert again is first and total == 500 and made.calls == 500


def test_a_number_that_grew_is_read_again() -> None:
    # "1" is a prefix of "12": a number does not end itself, so it is decoded again.
    m, _ = memo()
    assert read(m, "[1, 2]") == [1, 2]
    assert read(m, "[12, 2]") == [12, 2]
    assert read(m, "[12.5e1, 2]") == [125.0, 2]


def test_an_item_made_equal_again_keeps_its_value() -> None:
    m, made = memo()
    first, _ = m.update('[{"fingerprint": "a", "t": 1}, {"fingerprint": "b", "t": 1}]')
    # "b" is written another way: decoded and made again, and equal to what it was.
    same, _ = m.update('[{"fingerprint": "a", "t": 1}, {"t": 1, "fingerprint": "b"}]')
    assert same is first and made.calls == 3
    changed, _ = m.update('[{"fingerprint": "a", "t": 1}, {"fingerprint": "b", "t": 2}]')
    assert changed is not first and changed[0] is first[0]
    assert changed[1] == [{"fingerprint": "b", "t": 2}]


def test_huge_strings_are_read_whole_and_kept() -> None:
    m, made = memo()
    big = "x" * 3_000_000 + "é"
    text = json.dumps([{"fingerprint": "a", "s": big}, {"fingerprint": "b", "s": big}])
    assert [v["s"] for v in read(m, text)] == [big, big]
    changed = text.replace('"fingerprint": "b"', '"fingerprint": "c"')
    assert [v["fingerprint"] for v in read(m, changed)] == ["a", "c"]
    assert made.calls == 3  # "a" was kept


def test_only_the_first_items_are_made_but_all_are_counted() -> None:
    m, made = memo(limit=2)
    items = [{"fingerprint": f, "v": 1} for f in "abcd"]
    values, total = m.update(json.dumps(items))
    assert [v[0]["fingerprint"] for v in values] == ["a", "b"] and total == 4
    assert made.calls == 2
    # "a" goes away: "c", seen before but past the limit, is made now.
    values, total = m.update(json.dumps(items[1:]))
    assert [v[0]["fingerprint"] for v in values] == ["b", "c"] and total == 3
    assert made.calls == 3


def _mutate(rng: random.Random, items: list[Any], serial: Iterator[int]) -> None:
    """What a poll sees change: alerts resent, relabelled, resolved, newly fired, moved."""
    for _ in range(rng.randint(0, 6)):
        what = rng.choice(["resend", "relabel", "gone", "new", "move", "odd"])
        if what == "new" or not items:
            items.insert(rng.randint(0, len(items)), {"fingerprint": f"n{next(serial)}", "v": 0})
            continue
        k = rng.randrange(len(items))
        if what in ("resend", "relabel") and not isinstance(items[k], dict):
            what = "odd"
        if what == "resend":
            items[k] = {**items[k], "updatedAt": next(serial)}
        elif what == "relabel":
            items[k] = {**items[k], "labels": {"x": str(next(serial))}}
        elif what == "gone":
            del items[k]
        elif what == "move":
            items.insert(rng.randrange(len(items)), items.pop(k))
        else:  # no fingerprint at all, or not an object
            items[k] = rng.choice([{"v": next(serial)}, next(serial), "text", None])


@pytest.mark.parametrize("seed", range(20))
def test_poll_after_poll_it_reads_what_json_loads_reads(seed: int) -> None:
    rng = random.Random(seed)
    serial = iter(range(10**9))
    items: list[Any] = [{"fingerprint": f"{n:03d}", "v": n} for n in range(40)]
    m, _ = memo(limit=rng.choice([5, 30, 1000]))
    for _ in range(30):
        _mutate(rng, items, serial)
        text = json.dumps(items, indent=rng.choice([None, 1]))
        values, total = m.update(text)
        expected = json.loads(text)
        assert [v[0] for v in values] == expected[: len(values)]
        assert total == len(expected) and len(values) == min(total, m._limit)


# --- the backend: what the engine gets from a poll -------------------------------------------


@pytest.fixture
def backend() -> Iterator[AlertmanagerBackend]:
    with ThreadPoolExecutor(1) as pool:
        yield AlertmanagerBackend("am", AlertmanagerOptions(url=URL), BackendContext(executor=pool))


def alert(n: int, **changes: Any) -> dict[str, Any]:
    item = {
        "annotations": {"summary": f"disk 91% full on host-{n:05d}"},
        "endsAt": "2026-11-23T10:00:00.000Z",
        "fingerprint": f"{n:016x}",
        "receivers": [{"name": "null"}],
        "startsAt": "2026-11-23T09:00:00.000Z",
        "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
        "updatedAt": "2026-11-23T09:00:00.000Z",
        "labels": {"alertname": "NodeDiskFilling", "instance": f"host-{n:05d}"},
    }
    return {**item, **changes}


def answer(items: list[Any], content_type: str = "application/json") -> tuple[bytes, str]:
    return json.dumps(items, separators=(",", ":")).encode(), content_type


def test_an_unchanged_poll_hands_back_the_same_alerts(backend: AlertmanagerBackend) -> None:
    body = answer([alert(n) for n in range(100)])
    first = backend._parse_alerts(body)
    assert len(first) == 100 and first[0].labels["instance"] == "host-00000"
    assert backend._parse_alerts((bytearray(body[0]), body[1])) is first


def test_a_changed_alert_is_new_the_rest_are_kept(backend: AlertmanagerBackend) -> None:
    items = [alert(n) for n in range(100)]
    first = {a.fingerprint: a for a in backend._parse_alerts(answer(items))}
    items[20] = alert(20, labels={"alertname": "NodeDiskFilling", "instance": "moved"})
    items[30] = alert(30, status={"inhibitedBy": [], "silencedBy": ["s1"], "state": "suppressed"})
    items[40] = alert(40, annotations={"summary": "disk 99% full"}, updatedAt="09:06")
    items[50] = alert(50, startsAt="2026-11-23T09:30:00.000Z")
    second = {a.fingerprint: a for a in backend._parse_alerts(answer(items))}
    changed = {f for f, a in second.items() if a is not first[f]}
    assert changed == {f"{n:016x}" for n in (20, 30, 40, 50)}
    assert second[f"{20:016x}"].labels["instance"] == "moved"
    assert second[f"{30:016x}"].state.value == "suppressed"
    assert second[f"{40:016x}"].summary == "disk 99% full"
    assert second[f"{50:016x}"].starts_at == first[f"{50:016x}"].starts_at + 1800


def test_a_resent_alert_is_read_again_but_shows_no_change(backend: AlertmanagerBackend) -> None:
    # Prometheus resends firing alerts: endsAt and updatedAt move, nothing shown changes.
    items = [alert(n) for n in range(100)]
    first = backend._parse_alerts(answer(items))
    for n in range(0, 100, 10):
        items[n] = alert(n, updatedAt="2026-11-23T09:05:00.000Z", endsAt="2026-11-23T10:05:00Z")
    assert backend._parse_alerts(answer(items)) is first
    items[10] = alert(10, labels={"alertname": "NodeDiskFilling", "instance": "moved"})
    second = backend._parse_alerts(answer(items))
    assert second is not first and second[10].labels["instance"] == "moved"
    assert [a is b for a, b in zip(first, second, strict=True)].count(False) == 1


def test_a_resolved_alert_is_gone_and_a_new_one_appears(backend: AlertmanagerBackend) -> None:
    items = [alert(n) for n in range(50)]
    backend._parse_alerts(answer(items))
    del items[7]
    items.insert(3, alert(999))
    got = [a.fingerprint for a in backend._parse_alerts(answer(items))]
    assert got == [item["fingerprint"] for item in items]
    assert f"{7:016x}" not in got and f"{999:016x}" in got


def test_an_answer_over_max_alerts_keeps_the_most_severe_and_says_what_was_cut() -> None:
    def sev(n: int, severity: str) -> dict[str, Any]:
        labels = {"alertname": f"A{n}", "severity": severity}
        return alert(n, labels=labels)

    # Alertmanager lists by fingerprint: the two critical alerts come last.
    items = [sev(0, "warning"), sev(1, "info"), sev(2, "warning"), sev(3, "critical")]
    items += [sev(4, "critical")]
    with ThreadPoolExecutor(1) as pool:
        capped = AlertmanagerBackend(
            "am", AlertmanagerOptions(url=URL, max_alerts=3), BackendContext(executor=pool)
        )
        for _ in range(2):  # the second time from what was kept
            got = capped._parse_alerts(answer(items))
            assert [a.name for a in got] == ["A3", "A4", "A0", "AlertFeedTruncated"]
            assert got.complete is False  # type: ignore[attr-defined]
            assert "returned 5 alerts; the 3 most severe are shown" in got[-1].summary
            assert "2 cut: 1 SEV3, 1 SEV4" in got[-1].summary
        # One more, critical, at the end of the answer: it is kept, a warning goes.
        got = capped._parse_alerts(answer([*items, sev(5, "critical")]))
        assert [a.name for a in got][:3] == ["A3", "A4", "A5"]
        assert "returned 6 alerts" in got[-1].summary and "3 cut: 2 SEV3, 1 SEV4" in got[-1].summary


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b'[{"fingerprint":"a"},', "application/json", "answer is not JSON (application/json): ["),
        (b"<html>hello</html>", "text/html", "answer is not JSON (text/html): <html>hello"),
        (b"[1] trailing", None, "answer is not JSON (no content type): [1] trailing"),
        (b'{"error": "no"}', "application/json", "expected a list of alerts, got a JSON dict"),
        (b'"alerts"', "application/json", "expected a list of alerts, got a JSON str"),
    ],
)
def test_a_broken_answer_is_one_clean_line(
    backend: AlertmanagerBackend, body: bytes, content_type: str | None, says: str
) -> None:
    with pytest.raises(AlertmanagerError) as info:
        backend._parse_alerts((body, content_type))
    assert str(info.value).startswith(f"{WHAT}: {says}")
    assert "\n" not in str(info.value)


def test_an_empty_list_is_no_alerts(backend: AlertmanagerBackend) -> None:
    got = backend._parse_alerts((b"[]", "application/json"))
    assert got == [] and getattr(got, "complete", True) is True


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty answer, expected a list of alerts"),
        (b"  \n", "empty answer, expected a list of alerts"),
        (b"null", "expected a list of alerts, got JSON null"),
        (b"[null]", "item 0 of the list is not an alert"),
        (b'[{"fingerprint": "a"}, 1]', "item 1 of the list is not an alert"),
    ],
)
def test_an_answer_that_is_not_a_list_of_alerts_is_an_error_not_no_alerts(
    backend: AlertmanagerBackend, body: bytes, says: str
) -> None:
    # Read as "no alerts", each of these once resolved every alert of the open incidents.
    backend._parse_alerts(answer([alert(1)]))
    with pytest.raises(AlertmanagerError) as info:
        backend._parse_alerts((body, "application/json"))
    assert str(info.value) == f"{WHAT}: {says}"
    with pytest.raises(AlertmanagerError):  # and again: nothing of it was kept
        backend._parse_alerts((body, "application/json"))


def test_remote_text_in_any_script_comes_back_as_sent(backend: AlertmanagerBackend) -> None:
    text = "Ünïcödé ☃ 日本語 😀"
    item = alert(1, annotations={"summary": text})
    [got] = backend._parse_alerts((json.dumps([item], ensure_ascii=False).encode(), None))
    assert got.summary == text
    [again] = backend._parse_alerts((json.dumps([item]).encode(), None))  # \\u escapes
    assert again.summary == text
