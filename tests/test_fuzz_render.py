"""Every renderer of remote text, fed hostile text: nothing a terminal would act on comes
out (ESC, CSI, OSC, C0, C1, DEL, bidi overrides; newline only where lines are meant), and
Rich markup in the data is shown as written, never interpreted.

Pure renderers here; the assembled TUI (Pilot on the demo) is in test_fuzz_screen.py."""

from __future__ import annotations

import io
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from oncall_console.cli import render_status_table
from oncall_console.engine.state import CheckState, SliState
from oncall_console.incidents.comms import message_for, postmortem_markdown
from oncall_console.model import (
    ActionRequest,
    ActionResult,
    Alert,
    AlertState,
    CheckResult,
    CheckSpec,
    DetailTable,
    Incident,
    IncidentStatus,
    Outcome,
    Severity,
    SliReading,
    SliSpec,
    Status,
    SubStatus,
    Thresholds,
    TimelineEntry,
)
from oncall_console.store import AuditRecord
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.ui.screens.actions import result_text
from oncall_console.ui.screens.detail import (
    alert_detail,
    check_detail,
    detail_table,
    incident_detail,
    sli_detail,
)
from oncall_console.ui.screens.warroom import alerts_table, incident_card
from oncall_console.ui.widgets.alerts import AlertsTable
from oncall_console.ui.widgets.health import HealthTable

CORPUS = json.loads(
    (Path(__file__).resolve().parent / "corpus" / "remote-text.json").read_text(encoding="utf-8")
)
MARKUP = "[bold red]boom[/]"
NOW = 1_800_000_000.0

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What a terminal acts on. A newline is allowed only where the renderer draws lines.
ACTED_ON = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

remote_text = st.one_of(
    st.sampled_from(CORPUS),
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(CORPUS[:30]), st.text(max_size=6)), max_size=6).map("".join),
)
short_text = st.one_of(st.sampled_from(CORPUS[:30]), st.text(max_size=12))


def inert(output: str) -> str:
    """Fail with the offending character's position when anything would be acted on."""
    m = ACTED_ON.search(output)
    assert m is None, (
        f"{m.group()!r} reaches the terminal at {m.start()}: {output[max(0, m.start() - 40) : m.start() + 40]!r}"
    )
    return output


def shown(renderable: Any, width: int = 400) -> str:
    """What a terminal would be sent, as text: every segment's characters, no styling."""
    console = Console(
        width=width, color_system=None, file=io.StringIO(), record=True, legacy_windows=False
    )
    console.print(renderable)
    return console.export_text(styles=False)


# --- builders of engine state with remote text in every field ------------------------------


def check_state(summary: str, texts: list[str]) -> CheckState:
    t = (texts * 6)[:6]
    spec = CheckSpec(name="api", backend="web", interval=15, timeout=5)
    state = CheckState(spec=spec, history=deque(maxlen=20))
    table = DetailTable(title=t[0], columns=(t[1], "pid"), rows=((t[2], t[3]),))
    result = CheckResult(
        check="api",
        status=Status.DOWN,
        summary=summary,
        latency_ms=12.0,
        at=NOW - 3,
        details={t[0]: t[1], "body": t[2]},
        substatuses=(SubStatus(t[3], Status.DEGRADED, t[4]),),
        error=t[5],
        tables=(table,),
    )
    state.record(result)
    return state


def sli_state(texts: list[str]) -> SliState:
    t = (texts * 4)[:4]
    thresholds = Thresholds(100, 200, 300)
    spec = SliSpec(name="latency", backend="prom", unit="ms", thresholds=thresholds, interval=15, timeout=5)  # fmt: skip
    state = SliState(spec=spec, history_size=10)
    state.record(
        [
            SliReading("latency", 150.0, "ms", thresholds, NOW, series=t[0]),
            SliReading("latency", None, "ms", thresholds, NOW, series=t[1], note=t[2]),
        ],
        NOW,
    )
    return state


def alert(texts: list[str]) -> Alert:
    t = (texts * 7)[:7]
    return Alert(
        fingerprint="f1",
        name=t[0],
        severity=Severity.SEV2,
        summary=t[1],
        state=AlertState.ACTIVE,
        starts_at=NOW - 60,
        labels={t[2]: t[3], "service": t[4]},
        annotations={t[5]: t[6]},
        source=t[4],
        runbook_url=t[5],
        group=t[6],
    )


def incident(texts: list[str]) -> Incident:
    t = (texts * 5)[:5]
    return Incident(
        id=t[0],
        title=t[1],
        severity=Severity.SEV1,
        status=IncidentStatus.INVESTIGATING,
        opened_at=NOW - 600,
        commander=t[2],
        alerts=(t[3],),
        timeline=(TimelineEntry(NOW - 500, t[3], t[4], t[2]),),
    )


# --- one property per renderer ------------------------------------------------------------

texts = st.lists(remote_text, min_size=1, max_size=7)


@FUZZ
@given(remote_text, texts)
def test_detail_views(summary, t):
    inert(shown(check_detail(check_state(summary, t), NOW)))
    inert(shown(sli_detail(sli_state(t), NOW)))
    inert(shown(alert_detail(alert(t), NOW)))
    inert(shown(incident_detail(incident(t), NOW)))
    inert(shown(detail_table(DetailTable(t[0], tuple(t), (tuple(t),)))))


@FUZZ
@given(texts)
def test_table_cells_and_wall_screen_cards(t):
    a, i = alert(t), incident(t)
    health = HealthTable._make_cells((Status.DOWN, t[0], "1 ms", "4s", t[-1]), {})
    alerts = AlertsTable._make_cells((Severity.SEV1, "4s", t[0], t[-1], t[0]), {})
    for cell in (*health, *alerts):
        inert(shown(cell).replace("\n", " "))
    inert(shown(incident_card(i, "10m", {})))
    inert(shown(alerts_table([a], [(t[0], t[-1])], NOW, {})))


@FUZZ
@given(texts)
def test_action_results(t):
    t = (t * 5)[:5]
    request = ActionRequest("ops", "restart", {"service": t[0]}, t[1])
    result = ActionResult(request, Outcome.FAILED, t[2], t[3], t[4], t[0], t[1], NOW)
    inert(shown(result_text(result)))


@FUZZ
@given(texts)
def test_status_command_text_output(t):
    t = (t * 6)[:6]
    inert(render_status_table(snapshot(t)))


@FUZZ
@given(texts)
def test_incident_messages_and_postmortem(t):
    t = (t * 6)[:6]
    record = IncidentRecord(
        id=t[0], number=1, title=t[1], severity=2, status=t[2], commander=t[3],
        opened_at=NOW - 900, resolved_at=None, acknowledged_at=NOW - 800, runbook=t[4],
        group_key=t[5], impact=t[0], affected=t[1], updated_at=NOW,
    )  # fmt: skip
    timeline = [
        TimelineRecord(t[0], NOW - 700, kind, t[(n + 1) % 6], t[n % 6], t[2], n)
        for n, kind in enumerate(["alert fired", "note", "action", "status", "comms", t[4]])
    ]
    action = AuditRecord(
        id=1, at=NOW - 600, kind="intent", intent_id=None, operator=t[0], ssh_client=t[1],
        console=t[2], backend="ops", action=t[3], target=t[4], params="{}", preview=t[5],
        outcome="outcome unknown", message=t[0], prev_hash="", hash="",
    )  # fmt: skip
    _, message = message_for(record, timeline, now=NOW, next_update_at=NOW + 600)
    inert(message.replace("\n", " "))
    draft = postmortem_markdown(record, timeline, [action], now=NOW)
    inert(draft.replace("\n", " "))


def snapshot(t: list[str]) -> dict[str, Any]:
    return {
        "environment": "prod",
        "at": NOW,
        "overall": "down",
        "checks": [
            {"name": t[0], "backend": "web", "group": t[1], "status": "down", "summary": t[2],
             "latency_ms": 1.0, "age_s": 1.0, "details": {t[3]: t[4]}, "substatuses": []},
        ],
        "slis": [
            {"name": "latency", "title": t[0], "status": "down", "error": t[1], "unit": "ms",
             "target": 1, "warning": 2, "critical": 3, "good": "lower",
             "readings": [{"series": t[2], "value": 1.0, "status": "ok", "budget_remaining": 0.5,
                           "burn_rate": 1.0, "burn_status": None, "note": t[3]}]},
        ],
        "alerts": [
            {"fingerprint": "f", "name": t[4], "severity": "SEV2", "state": "active",
             "summary": t[5], "source": t[0], "age_s": 1.0, "labels": {t[1]: t[2]}},
        ],
        "incidents": [
            {"id": t[3], "title": t[4], "severity": "SEV1", "status": "investigating", "age_s": 1.0},
        ],
        "errors": {t[5]: t[0]},
    }  # fmt: skip


# --- markup is data ---------------------------------------------------------------------------


def test_markup_in_remote_text_is_shown_as_written_by_every_renderer():
    t = [MARKUP] * 7
    outputs = {
        "check detail": shown(check_detail(check_state(MARKUP, t), NOW)),
        "sli detail": shown(sli_detail(sli_state(t), NOW)),
        "alert detail": shown(alert_detail(alert(t), NOW)),
        "incident detail": shown(incident_detail(incident(t), NOW)),
        "detail table": shown(detail_table(DetailTable("t", (MARKUP,), ((MARKUP,),)))),
        "alerts cell": shown(AlertsTable._make_cells((Severity.SEV1, "", "", MARKUP, ""), {})[3]),
        "health cell": shown(HealthTable._make_cells((Status.OK, MARKUP, "", "", ""), {})[1]),
        "wall card": shown(incident_card(incident(t), "1m", {})),
        "wall alerts": shown(alerts_table([alert(t)], [], NOW, {})),
        "action result": shown(
            result_text(ActionResult(ActionRequest("o", "a"), Outcome.FAILED, MARKUP))
        ),
        "status": render_status_table(snapshot(t)),
    }
    for where, output in outputs.items():
        assert MARKUP in output, f"{where}: {output!r}"


def test_a_detail_tables_title_is_data():
    row = (("r" * 30,),)  # the title wraps at the table's width
    assert MARKUP in shown(detail_table(DetailTable(MARKUP, ("c",), row)))
    assert "[/]" in shown(detail_table(DetailTable("[/]", ("c",), row)))
