"""Incidents: the store contract (SQLite and the stack's real PostgreSQL), the lifecycle,
alerts attaching and resolving, the policy's timers, the messages and the postmortem."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from markdown_it import MarkdownIt

from oncall_console.incidents import (
    IncidentAuditLog,
    IncidentError,
    IncidentService,
    Policy,
    action_scope,
    export_incident,
    list_incidents,
    postmortem_markdown,
    show_incident,
)
from oncall_console.incidents.comms import (
    code_span,
    initial_message,
    md_text,
    resolved_message,
    update_message,
)
from oncall_console.model import ActionRequest, Alert, IncidentStatus, Outcome, Severity
from oncall_console.store import Store, open_store
from oncall_console.store.audit import StoreAuditLog
from oncall_console.store.incidents import IncidentNotFound, TimelineRecord
from oncall_console.store.schema import LATEST

pytestmark = pytest.mark.xdist_group("stack")

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
MIN = 60.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * MIN


def alert(
    name: str = "HighErrorRate",
    fp: str = "fp-1",
    group: str = "alertname=HighErrorRate",
    severity: Severity = Severity.SEV2,
    starts_at: float = T0 - 5 * MIN,
    summary: str = "API 5xx ratio 4.2 % (over 1 %)",
) -> Alert:
    return Alert(
        fingerprint=fp,
        name=name,
        severity=severity,
        summary=summary,
        starts_at=starts_at,
        labels={"alertname": name, "service": "api-gateway"},
        source="alertmanager",
        group=group,
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[str, Store, Any]]:
    if request.param == "sqlite":
        path = tmp_path / "oncall.sqlite3"
        s = open_store(str(path))
        await s.open()
        yield "sqlite", s, path
        await s.close()
        return
    stack = request.getfixturevalue("healthy_stack")
    name = f"incidents_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # a fresh database per test
    dsn = stack.postgres.dsn_for(name)
    s = open_store(dsn)
    await s.open()
    yield "postgres", s, dsn
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path) -> AsyncIterator[Store]:
    s = open_store(str(tmp_path / "oncall.sqlite3"))
    await s.open()
    yield s
    await s.close()


def kinds(timeline: list[TimelineRecord]) -> list[str]:
    return [e.kind for e in timeline]


# --- the store contract ---------------------------------------------------------------------


async def test_ids_are_sequential_and_unique_from_two_consoles_at_once(store):
    _, s, where = store
    assert await s.schema_version() == LATEST >= 3
    other = open_store(str(where))
    await other.open()
    try:
        made = await asyncio.gather(
            *(
                x.create_incident({"title": f"t{n}", "severity": 2}, "alex", T0 + n)
                for n in range(15)
                for x in (s, other)
            )
        )
    finally:
        await other.close()
    assert sorted(r.number for r in made) == list(range(1001, 1031))
    assert {r.id for r in made} == {f"INC-{n}" for n in range(1001, 1031)}
    listed = await s.incidents()
    assert len(listed) == 30
    first = await s.timeline("INC-1001")
    assert kinds(first) == ["declared"] and first[0].operator == "alex"
    assert first[0].text.startswith("declared SEV2: t")


async def test_update_appends_one_entry_describing_the_change(store):
    _, s, _ = store
    inc = await s.create_incident(
        {"title": "db pool exhausted", "severity": 2}, "alex", T0, prefix="INC"
    )
    assert (inc.status, inc.commander, inc.resolved_at, inc.opened_at) == (
        "investigating",
        "",
        None,
        T0,
    )
    up = await s.update_incident(
        inc.id, {"status": "identified", "commander": "sam"}, "sam", T0 + 60
    )
    assert (up.status, up.commander, up.updated_at) == ("identified", "sam", T0 + 60)
    same = await s.update_incident(inc.id, {"status": "identified"}, "sam", T0 + 70)
    assert same == up  # nothing changed, nothing written
    up = await s.update_incident(inc.id, {"severity": 1}, "kim", T0 + 80, kind="severity")
    tl = await s.timeline(inc.id)
    assert kinds(tl) == ["declared", "status", "severity"]
    assert tl[1].text == "status investigating → identified; commander (none) → sam"
    assert (tl[1].operator, tl[1].at) == ("sam", T0 + 60)
    assert tl[2].text == "severity SEV2 → SEV1"

    def refuse(current):
        raise ValueError(f"no: {current.status}")

    with pytest.raises(ValueError, match="no: identified"):
        await s.update_incident(inc.id, {"status": "resolved"}, "kim", T0 + 90, check=refuse)
    assert (await s.incident(inc.id)).status == "identified"
    assert len(await s.timeline(inc.id)) == 3
    with pytest.raises(ValueError, match="cannot update"):
        await s.update_incident(inc.id, {"id": "INC-1"}, "kim", T0)
    with pytest.raises(IncidentNotFound):
        await s.update_incident("INC-9", {"status": "resolved"}, "kim", T0)
    with pytest.raises(IncidentNotFound):
        await s.add_timeline(TimelineRecord("INC-9", T0, "note", "x", "kim"))


async def test_the_timeline_is_append_only(store):
    kind, s, where = store
    inc = await s.create_incident({"title": "x", "severity": 3}, "alex", T0)
    await s.add_timeline(TimelineRecord(inc.id, T0 + 1, "note", "looking", "alex"))
    if kind == "sqlite":
        db = sqlite3.connect(where)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE timeline SET text = 'nothing happened'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM timeline")
        db.close()
    else:
        with psycopg.connect(where, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute("UPDATE timeline SET text = 'nothing happened'")
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute("DELETE FROM timeline")
    assert [e.text for e in await s.timeline(inc.id)][-1] == "looking"


async def test_alert_and_audit_refs_are_written_once_and_the_timeline_is_in_time_order(store):
    _, s, _ = store
    inc = await s.create_incident({"title": "x", "severity": 2}, "alex", T0)
    e = TimelineRecord(inc.id, T0 - 300, "alert fired", "HighErrorRate", "", "alert:fp#1")
    first = await s.add_timeline(e)
    assert first is not None and first.id > 0
    assert await s.add_timeline(e) is None
    assert await s.add_timeline(TimelineRecord(inc.id, T0 + 5, "action", "a", "x", "audit:7"))
    assert (
        await s.add_timeline(TimelineRecord(inc.id, T0 + 6, "action", "b", "x", "audit:7")) is None
    )
    # other refs (runbook steps) may repeat: ticked, unticked, ticked
    for n in range(3):
        assert await s.add_timeline(
            TimelineRecord(inc.id, T0 + 10 + n, "step", "s", "x", "step:rb/1")
        )
    tl = await s.timeline(inc.id)
    assert kinds(tl) == ["alert fired", "declared", "action", "step", "step", "step"]
    row = await s.incident(inc.id)
    assert row.updated_at == T0 + 12  # the timeline touches the row
    assert row.revision == 6  # every entry written counts, the refused repeats do not


async def test_listing_open_since_and_by_group(store):
    _, s, _ = store
    a = await s.create_incident({"title": "a", "severity": 2, "group_key": "g"}, "x", T0)
    b = await s.create_incident({"title": "b", "severity": 3, "group_key": "g"}, "x", T0 + 10)
    c = await s.create_incident({"title": "c", "severity": 1}, "x", T0 + 20)
    await s.update_incident(c.id, {"status": "resolved", "resolved_at": T0 + 30}, "x", T0 + 30)
    assert [r.id for r in await s.incidents()] == [c.id, b.id, a.id]
    assert [r.id for r in await s.incidents(open_only=True)] == [b.id, a.id]
    assert [r.id for r in await s.incidents(since=T0 + 10)] == [c.id, b.id]
    assert (await s.incident_for_group("g")).id == b.id
    await s.update_incident(b.id, {"status": "resolved"}, "x", T0 + 40)
    assert (await s.incident_for_group("g")).id == a.id
    assert await s.incident_for_group("") is None
    assert await s.incident("INC-9999") is None
    assert await s.timeline("INC-9999") == []


# --- the lifecycle ----------------------------------------------------------------------------


async def test_lifecycle_transitions_and_refusals(sqlite_store):
    clock = Clock()
    told: list[tuple[str, str]] = []
    svc = IncidentService(
        sqlite_store, clock=clock, operator="alex", on_change=lambda *e: told.append(e)
    )
    inc = await svc.declare("checkout is slow", "SEV3")
    with pytest.raises(IncidentError, match="already investigating"):
        await svc.set_status(inc.id, "investigating")
    with pytest.raises(IncidentError, match="not a status: 'fixed'"):
        await svc.set_status(inc.id, "fixed")
    clock.advance(5)
    inc = await svc.set_status(inc.id, IncidentStatus.MONITORING, "restarted the pods")
    inc = await svc.set_status(inc.id, "identified")  # the fix did not hold: back a step
    clock.advance(5)
    inc = await svc.resolve(inc.id)
    assert inc.resolved_at == clock.now
    for status in ("identified", "monitoring"):
        with pytest.raises(IncidentError, match=r"is resolved: reopen it .* before marking"):
            await svc.set_status(inc.id, status)
    with pytest.raises(IncidentError, match="already resolved"):
        await svc.resolve(inc.id)
    clock.advance(5)
    inc = await svc.reopen(inc.id, "errors are back")
    assert (inc.status, inc.resolved_at) == ("investigating", None)
    tl = await svc.timeline(inc.id)
    assert kinds(tl) == ["declared", "status", "status", "resolved", "reopened"]
    assert tl[1].text == "status investigating → monitoring: restarted the pods"
    assert tl[-1].text == "status resolved → investigating: errors are back"
    with pytest.raises(IncidentError, match="no incident 'INC-7'"):
        await svc.set_status("INC-7", "resolved")
    assert told == [("incident", inc.id)] * 5  # declared + 4 changes; refusals tell nobody
    await svc.note(inc.id, "x")
    assert told[-1] == ("timeline", inc.id)

    def broken(*_: str) -> None:
        raise RuntimeError("bus down")

    svc.on_change = broken  # a failing listener never fails the write
    assert (await svc.note(inc.id, "still written")).text == "still written"


async def test_a_change_made_meanwhile_by_another_console_is_refused(sqlite_store):
    mine = IncidentService(sqlite_store, clock=Clock(), operator="alex")
    theirs = IncidentService(sqlite_store, clock=Clock(), operator="sam")
    inc = await mine.declare("x", "SEV2")
    stale = await mine.get(inc.id)
    await theirs.set_status(inc.id, "identified")

    async def stale_get(_: str):
        return stale

    mine.get = stale_get
    with pytest.raises(IncidentError, match="changed meanwhile: it is identified now"):
        await mine.set_status(inc.id, "monitoring")
    assert (await theirs.get(inc.id)).status == "identified"


async def test_severity_aliases_commander_and_acknowledge(sqlite_store):
    clock = Clock()
    svc = IncidentService(sqlite_store, clock=clock, operator="alex")
    inc = await svc.declare("payments failing", "P2")
    assert inc.severity == Severity.SEV2
    same = await svc.set_severity(inc.id, "sev2")
    assert same == inc
    inc = await svc.set_severity(inc.id, "p1", "all regions now")
    assert inc.severity == 1
    with pytest.raises(IncidentError, match="not a severity"):
        await svc.set_severity(inc.id, "P7")
    inc = await svc.set_commander(inc.id, "alex")
    clock.advance(20)
    inc = await svc.acknowledge(inc.id)
    assert inc.acknowledged_at == clock.now
    with pytest.raises(IncidentError, match="already acknowledged"):
        await svc.acknowledge(inc.id)
    tl = await svc.timeline(inc.id)
    assert kinds(tl) == ["declared", "severity", "commander", "acknowledged"]
    assert tl[1].text == "severity SEV2 → SEV1: all regions now"
    assert tl[2].text == "commander (none) → alex"
    assert "after 20 min; target 15 min (over the response time)" in tl[3].text


# --- alerts -----------------------------------------------------------------------------------


async def test_declare_from_an_alert_then_a_second_alert_of_the_group_attaches(sqlite_store):
    clock = Clock()
    svc = IncidentService(sqlite_store, clock=clock, operator="alex")
    first = alert()
    inc = await svc.declare(from_alert=first)
    assert inc.title == "HighErrorRate: API 5xx ratio 4.2 % (over 1 %)"
    assert (inc.severity, inc.group_key, inc.affected) == (2, first.group, "api-gateway")
    tl = await svc.timeline(inc.id)
    assert kinds(tl) == ["alert fired", "declared"]
    assert tl[0].at == first.starts_at and tl[0].ref == "alert:fp-1#1"
    with pytest.raises(IncidentError, match=f"{inc.id} is already open for this alert's group"):
        await svc.declare(from_alert=first)

    second = alert(fp="fp-2", summary="on eu-west", starts_at=T0 + 60)
    other = alert(name="DiskUsageHigh", fp="fp-3", group="alertname=DiskUsageHigh")
    clock.advance(2)
    written = await svc.attach_alerts([first, second, other])
    assert [(e.kind, e.ref) for e in written] == [("alert attached", "alert:fp-2#1")]
    assert await svc.attach_alerts([first, second, other]) == []  # idempotent
    assert await svc.sync([first, second, other]) is True  # the snapshot is loaded
    (model,) = svc.snapshot()
    assert model.id == inc.id and set(model.alerts) == {"fp-1", "fp-2"}
    assert model.timeline[-1].kind == "alert attached"
    # another console, its clock behind ours, writes an entry "in the past": still seen
    await sqlite_store.add_timeline(TimelineRecord(inc.id, T0 - 3600, "note", "late", "sam"))
    assert await svc.refresh() is True
    assert "late" in [e.text for e in svc.snapshot()[0].timeline]
    assert await svc.refresh() is False


async def test_alert_resolved_is_written_once_and_only_when_the_sources_are_complete(store):
    _, s, where = store
    clock = Clock()
    svc = IncidentService(s, clock=clock, operator="alex")
    first, second = alert(), alert(fp="fp-2")
    inc = await svc.declare(from_alert=first)
    await svc.attach_alerts([first, second])
    clock.advance(3)
    assert await svc.attach_alerts([second], complete=False) == []  # a source is down
    other = open_store(str(where))  # a second console polls the same store at once
    await other.open()
    try:
        theirs = IncidentService(other, clock=clock, operator="sam")
        mine_written, their_written = await asyncio.gather(
            svc.attach_alerts([second]), theirs.attach_alerts([second])
        )
        assert len(mine_written) + len(their_written) == 1
        assert await svc.attach_alerts([second]) == []
        assert await theirs.attach_alerts([second]) == []
    finally:
        await other.close()
    tl = await svc.timeline(inc.id)
    assert kinds(tl) == ["alert fired", "declared", "alert attached", "alert resolved"]
    assert tl[-1].text == "HighErrorRate no longer firing" and tl[-1].ref == "alert:fp-1#1"
    # it fires again: attached again, as its second firing
    clock.advance(3)
    again = await svc.attach_alerts([first, second])
    assert [e.ref for e in again] == ["alert:fp-1#2"]
    model = (await svc.refresh(), svc.snapshot()[0])[1]
    assert set(model.alerts) == {"fp-1", "fp-2"}


# --- the policy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "who", "next_who", "next_after", "breached"),
    [
        (0, "primary on-call", "secondary on-call", 15, False),
        (16, "secondary on-call", "engineering lead", 30, True),
        (31, "engineering lead", "VP / head of engineering", 60, True),
        (61, "VP / head of engineering", None, None, True),
    ],
)
def test_escalation_and_response_for_a_sev1(minutes, who, next_who, next_after, breached):
    inc = SimpleNamespace(
        severity=1, status="investigating", opened_at=T0, acknowledged_at=None, resolved_at=None
    )
    due = Policy().due(inc, T0 + minutes * MIN)
    assert due.level.who == who
    assert (due.next_step.who if due.next_step else None) == next_who
    assert due.next_at == (T0 + next_after * MIN if next_after else None)
    assert due.response_due_at == T0 + 15 * MIN
    assert due.response_breached is breached
    assert due.update_due_at == T0 + 30 * MIN


def test_policy_details():
    policy = Policy()
    base = dict(opened_at=T0, acknowledged_at=None, resolved_at=None)
    # acknowledged in time: no breach however long it then runs; monitoring stops escalating
    acked = SimpleNamespace(severity=2, status="monitoring", **{**base, "acknowledged_at": T0 + 60})
    due = policy.due(acked, T0 + 45 * MIN)
    assert (due.response_breached, due.level.who, due.next_step) == (
        False,
        "engineering lead",
        None,
    )
    # SEV3 is not escalated, and has 4 hours to respond
    sev3 = SimpleNamespace(severity=3, status="investigating", **base)
    due = policy.due(sev3, T0 + 90 * MIN, last_update_at=T0 + 60 * MIN)
    assert (due.level.who, due.next_step, due.response_breached) == ("primary on-call", None, False)
    assert due.update_due_at == T0 + 300 * MIN and not due.update_overdue
    # resolved: time stops at resolution, no update due
    done = SimpleNamespace(severity=1, status="resolved", **{**base, "resolved_at": T0 + 10 * MIN})
    due = policy.due(done, T0 + 600 * MIN)
    assert (due.elapsed, due.response_breached, due.update_due_at) == (600.0, False, None)

    custom = Policy.from_config(
        SimpleNamespace(
            response_minutes={"P1": 10, "sev3": 120},
            update_minutes=None,
            escalation=[
                SimpleNamespace(after_minutes=20, who="lead", how=""),
                SimpleNamespace(after_minutes=0, who="on-call", how="pager"),
            ],
            escalate=["SEV1", "P3"],
        )
    )
    assert custom.response_seconds(Severity.SEV1) == 600
    assert custom.response_seconds(Severity.SEV2) == 30 * MIN  # default kept
    assert custom.response_seconds(Severity.SEV3) == 120 * MIN
    assert [s.who for s in custom.escalation] == ["on-call", "lead"]
    assert custom.escalate == {Severity.SEV1, Severity.SEV3}
    assert Policy.from_config(None) == Policy()
    with pytest.raises(ValueError, match="increasing"):
        Policy(escalation=(policy.escalation[1], policy.escalation[0]))
    with pytest.raises(ValueError, match="not a severity"):
        Policy.from_config(SimpleNamespace(response_minutes={"SEV9": 3}))


def test_the_policy_reads_a_feed_incident_too():
    """A backend's model.Incident has no acknowledged_at: it is read as not acknowledged."""
    from oncall_console.model import Incident

    inc = Incident("INC-2041", "x", Severity.SEV2, IncidentStatus.IDENTIFIED, opened_at=T0)
    due = Policy().due(inc, T0 + 31 * MIN)
    assert due.response_breached and due.level.who == "engineering lead"


# --- messages and the postmortem -----------------------------------------------------------


async def test_messages_say_severity_status_impact_and_next_update(sqlite_store):
    clock = Clock()
    svc = IncidentService(sqlite_store, clock=clock, operator="alex")
    inc = await svc.declare(from_alert=alert(), commander="r.okafor")
    await svc.set_impact(inc.id, "Some users see errors when they load predictions.")
    kind, text = await svc.message(inc.id)
    assert kind == "initial"
    for expected in (
        "INCIDENT · SEV2 · INC-1001",
        "Status: investigating.",
        "Impact: Some users see errors when they load predictions.",
        "Affected: api-gateway",
        "Incident commander: r.okafor",
        "Started: 2027-01-15 08:00 UTC",
        "Next update: by 2027-01-15 09:00 UTC (in 60 min)",
    ):
        assert expected in text, (expected, text)
    await svc.posted(inc.id, kind)
    clock.advance(20)
    await svc.set_status(inc.id, "identified", "bad deploy of prediction-service")
    await svc.note(inc.id, "rolling back")
    kind, text = await svc.message(inc.id)
    assert kind == "update"
    assert "INCIDENT UPDATE · SEV2 · INC-1001" in text
    assert "Status: identified." in text and "Impact: Some users" in text
    assert "Since the last update:" in text
    assert "- 08:20 UTC status: status investigating → identified: bad deploy" in text
    assert "- 08:20 UTC note: rolling back" in text
    assert "Next update: by 2027-01-15 09:20 UTC (in 60 min)" in text
    clock.advance(25)
    await svc.resolve(inc.id)
    kind, text = await svc.message(inc.id)
    assert kind == "resolved"
    assert "INCIDENT RESOLVED · SEV2 · INC-1001" in text
    assert "Duration: 45 min (2027-01-15 08:00 UTC to 2027-01-15 08:45 UTC)" in text
    assert "Impact: Some users" in text and "Last note: rolling back" in text
    record, tl = await svc.get(inc.id), await svc.timeline(inc.id)
    # the pure renderers directly
    assert "SEV2" in initial_message(record, tl, now=clock.now, next_update_at=None)
    assert "Next update: when there is news" in update_message(
        record, tl, now=clock.now, next_update_at=None
    )
    assert "resolved" in resolved_message(record, tl, now=clock.now)


HOSTILE_TITLE = "# [x] <script>alert(1)</script> *boom* | `tick`"
HOSTILE_NOTE = "\x1b[31mred\x1b[0m\n## Injected heading\n- [ ] fake task\n1. list\n> quote <b>&amp;"


def _structure(markdown: str) -> tuple[list[str], list[str]]:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    headings = []
    for n, tok in enumerate(tokens):
        if tok.type == "heading_open":
            headings.append(f"{tok.tag} {tokens[n + 1].content}")
    html = [t.type for t in tokens if t.type.startswith("html")]
    for t in tokens:
        html += [c.type for c in t.children or () if c.type.startswith("html")]
    return headings, html


async def test_the_postmortem_has_every_entry_the_sections_and_survives_hostile_text(
    sqlite_store, tmp_path
):
    clock = Clock()
    svc = IncidentService(sqlite_store, clock=clock, operator="alex")
    inc = await svc.declare(HOSTILE_TITLE, "SEV1", commander="_mallory_")
    await svc.note(inc.id, HOSTILE_NOTE)
    await svc.note(inc.id, "- [x] done already")
    await svc.note(inc.id, "1. first")
    clock.advance(10)
    await svc.resolve(inc.id, "=== setext?")
    text = await svc.postmortem(inc.id)
    assert "\x1b" not in text and "<script>" not in text and "<b>" not in text
    headings, html = _structure(text)
    assert headings == [
        "h1 Postmortem draft: INC-1001 · \\# \\[x\\] \\<script\\>alert(1)\\</script\\> "
        "\\*boom\\* \\| \\`tick\\`",
        "h2 Summary",
        "h2 Impact",
        "h2 Timeline (UTC)",
        "h2 Actions taken",
        "h2 Root cause",
        "h2 Contributing factors",
        "h2 What went well",
        "h2 What went wrong",
        "h2 Follow-ups",
    ]
    assert html == []
    rendered = MarkdownIt("commonmark").render(text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "<h2>Injected" not in rendered and "<blockquote>" not in rendered
    assert rendered.count("<ol") == 0  # "1. first" did not start a numbered list
    timeline_section = text.split("## Timeline (UTC)")[1].split("## Actions taken")[0]
    entries = [line for line in timeline_section.splitlines() if line.startswith("- ")]
    tl = await svc.timeline(inc.id)
    assert len(entries) == len(tl) == 5
    assert entries[0].startswith("- 2027-01-15 08:00:00 UTC · **declared** · ")
    assert entries[0].endswith("· _alex_")
    assert (
        "red ## Injected heading - \\[ \\] fake task 1. list \\> quote \\<b\\>\\&amp;" in entries[1]
    )
    assert "\\- \\[x\\] done already" in entries[2]
    assert "· 1\\. first ·" in entries[3]
    # the only checkboxes are the template's own
    boxes = [line for line in text.splitlines() if "[ ]" in line or "[x]" in line]
    assert all(line.startswith("- [ ] ") for line in boxes) and len(boxes) == 5
    assert md_text("+ plus") == "\\+ plus" and md_text("") == "—"
    assert code_span("a ``b`` c") == "```a ``b`` c```"
    assert "No actions were run from the console" in text
    out = tmp_path / "pm" / "INC-1001.md"
    assert await export_incident(sqlite_store, inc.id, out) == out.read_text(encoding="utf-8")
    with pytest.raises(IncidentError, match="no incident"):
        await export_incident(sqlite_store, "INC-404", None)


# --- the drill --------------------------------------------------------------------------------


async def test_a_full_drill_from_declare_to_resolved(store, tmp_path):
    _, s, _ = store
    clock = Clock()
    svc = IncidentService(s, clock=clock, operator="alex")
    audit = IncidentAuditLog(StoreAuditLog(s, console="bastion:42", ssh="10.0.0.7"), svc)
    fired = alert(severity=Severity.SEV1)
    inc = await svc.declare(from_alert=fired, impact="Checkout fails for most users.")
    assert inc.id == "INC-1001" and inc.severity == 1
    clock.advance(3)
    await svc.acknowledge(inc.id)
    await svc.set_commander(inc.id, "alex")
    _, initial = await svc.message(inc.id)
    await svc.posted(inc.id, "initial")
    clock.advance(4)
    await svc.attach_alerts([fired, alert(fp="fp-2", summary="eu-west too")])
    await svc.set_status(inc.id, "identified", "connection pool exhausted by idle sessions")
    clock.advance(2)
    await svc.record_step(inc.id, "db-pool", "check-pool", True, "Check the pool")
    request = ActionRequest("pg", "terminate-idle", {"older_than_minutes": 5}, "alex")
    with action_scope(inc.id):
        entry = await audit.intent(request, "app", "SELECT pg_terminate_backend(pid) …", clock())
        clock.advance(1)
        await audit.result(entry, Outcome.SUCCEEDED, "terminated 12 idle sessions", clock())
    # outside the scope: audited, not on the timeline
    other = await audit.intent(request, "app", "…", clock())
    await audit.result(other, Outcome.FAILED, "boom", clock())
    assert await svc.record_step("check api", "db-pool", "x", True) is None
    clock.advance(1)
    await svc.set_status(inc.id, "monitoring")
    clock.advance(10)
    await svc.attach_alerts([])  # both alerts stopped firing
    clock.advance(15)
    await svc.resolve(inc.id, "pool back under 60 %")
    tl = await svc.timeline(inc.id)
    assert kinds(tl) == [
        "alert fired",
        "declared",
        "acknowledged",
        "commander",
        "comms",
        "alert attached",
        "status",
        "step",
        "action",
        "status",
        "alert resolved",
        "alert resolved",
        "resolved",
    ]
    action = next(e for e in tl if e.kind == "action")
    assert action.text == "terminate-idle on app: succeeded — terminated 12 idle sessions"
    assert (action.ref, action.operator, action.at) == (f"audit:{entry.id}", "alex", T0 + 10 * MIN)
    assert "SEV1" in initial and "Checkout fails" in initial

    record = await svc.get(inc.id)
    due = svc.policy.due(record, clock.now)
    assert not due.response_breached and due.next_step is None and due.update_due_at is None
    text = await svc.postmortem(inc.id)
    actions_section = text.split("## Actions taken")[1].split("## Root cause")[0]
    assert (
        f"`pg.terminate-idle` on `app`: **succeeded** · by alex from `10.0.0.7` · audit #{entry.id}"
        in actions_section
    )
    assert '`{"older_than_minutes":5}`' in actions_section
    assert "terminated 12 idle sessions" in actions_section and "boom" not in actions_section
    assert "- **Duration:** 36 min" in text and "- **Severity:** SEV1" in text

    listing = await list_incidents(s, now=clock.now)
    assert "INC-1001" in listing and "resolved" in listing and "HighErrorRate" in listing
    await svc.declare("second one", "P2")
    listing = await list_incidents(s, open_only=True, now=clock.now + 31 * MIN)
    assert "INC-1002" in listing and "INC-1001" not in listing
    assert "response overdue" in listing and "VP / head of engineering in 29 min" in listing
    shown = await show_incident(s, inc.id)
    assert shown.count("\n") == len(tl) + 2 and "alert resolved" in shown
    assert postmortem_markdown(record, tl, []).count("not found in this store's audit trail") == 1
