"""Keys act on what is in front of the engineer (issue #13): `a`, `i`, `b` and `enter`
act on the focused panel's selected row, never on another panel's selection.

The demo at 90 s: prediction-service is selected in Health; the alerts panel holds
INC-2041 (the source's incident), PredictionServiceDown (service=prediction-service),
HighErrorRate (service=api-gateway) and DiskUsageHigh (service=postgres).
"""

from __future__ import annotations

from typing import Any

import pytest

from oncall_console.ui.screens.actions import ActionPicker
from oncall_console.ui.screens.detail import DetailScreen
from oncall_console.ui.screens.pickers import RunbookPicker
from oncall_console.ui.screens.prompts import YesNoPrompt
from oncall_console.ui.screens.runbook import RunbookScreen
from oncall_console.ui.widgets.alerts import AlertsTable
from oncall_console.ui.widgets.health import HealthTable
from tests.support.console import until
from tests.support.demoapp import demo_app, settle


def told(app: Any) -> str:
    return "\n".join(n.message for n in app._notifications)


async def focus(pilot: Any, panel: str, row: str = "") -> None:
    """Focus a panel (Health on prediction-service, or an alerts row whose key starts with
    ``row``), after putting Health's cursor on prediction-service: a key that read the
    Health selection from another panel would act on it."""
    app = pilot.app
    health = app.screen.query_one(HealthTable)
    health.move_cursor(row=health.get_row_index("prediction-service"))
    if panel == "health":
        health.focus()
    elif panel == "slis":
        app.screen.query_one("#slis").focus()
    else:
        table = app.screen.query_one(AlertsTable)
        table.focus()
        keys = [k.value for k in table.rows]
        wanted = next(
            i
            for i, k in enumerate(keys)
            if k.startswith(row) or (row.startswith("alert:") and _alert_named(app, k, row[6:]))
        )
        table.move_cursor(row=wanted)
    await pilot.pause()


def _alert_named(app: Any, key: str, name: str) -> bool:
    fingerprint = key.partition(":")[2]
    return any(a.fingerprint == fingerprint and a.name == name for a in app.engine.alerts())


@pytest.mark.parametrize(
    ("panel", "row", "subject"),
    [
        ("health", "", "prediction-service"),
        ("alerts", "alert:HighErrorRate", "api-gateway (alert HighErrorRate)"),
        ("alerts", "alert:DiskUsageHigh", "PostgreSQL (alert DiskUsageHigh)"),
    ],
)
async def test_a_opens_the_actions_of_the_focused_rows_target(panel, row, subject):
    """Named in the dialog's title, and only what can act on it: the demo's one backend
    serves the deployments and the database, and offered a rollback on PostgreSQL."""
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, panel, row)
        await pilot.press("a")
        await until(pilot, "the action picker", lambda: isinstance(app.screen, ActionPicker))
        assert app.screen.subject == subject  # named in the dialog's title
        ids = [spec.id for _, spec in app.screen.choices]
        database = subject.startswith("PostgreSQL")
        assert ("rollback" in ids) is not database
        assert ("terminate-idle" in ids) is database
        assert "silence" in ids


async def test_a_on_the_slis_acts_on_nothing_and_says_where_to_go():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, "slis")
        await pilot.press("a")
        await pilot.pause(0.05)
        assert app.screen is app.dashboard
        assert "Actions act on a check" in told(app)


async def test_i_outside_the_alerts_panel_declares_nothing():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for panel in ("health", "slis"):
            await focus(pilot, panel)
            await pilot.press("i")
            await pilot.pause(0.05)
            assert app.screen is app.dashboard
        assert told(app).count("Declaring starts from an alert") == 2
        assert not app.engine.incident_service.records


async def test_i_on_an_alert_says_what_it_will_declare_and_n_declares_nothing():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, "alerts", "alert:HighErrorRate")
        await pilot.press("i")
        await until(pilot, "the declare prompt", lambda: isinstance(app.screen, YesNoPrompt))
        assert "HighErrorRate" in app.screen.text and "SEV2" in app.screen.text
        await pilot.press("n")
        await pilot.pause(0.05)
        assert app.screen is app.dashboard and not app.engine.incident_service.records


async def test_i_on_an_incident_says_it_is_declared_already():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, "alerts", "incident:INC-2041")
        await pilot.press("i")
        await pilot.pause(0.05)
        assert "INC-2041 is already declared" in told(app)


@pytest.mark.parametrize(
    ("panel", "row", "expect"),
    [
        ("health", "", "runbook"),  # prediction-service names its runbook in the config
        ("alerts", "alert:PredictionServiceDown", "runbook"),
        ("alerts", "alert:DiskUsageHigh", "any"),  # no demo runbook names it: a picker
        ("slis", "", "picker"),
    ],
)
async def test_b_never_leads_to_a_dead_end(panel, row, expect):
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, panel, row)
        await pilot.press("b")
        await until(
            pilot,
            "a runbook or the picker",
            lambda: isinstance(app.screen, RunbookScreen | RunbookPicker),
        )
        if expect == "runbook":
            assert isinstance(app.screen, RunbookScreen)
        elif expect == "picker":
            assert isinstance(app.screen, RunbookPicker)
        assert "No runbook is linked" not in told(app)


async def test_b_picks_a_runbook_and_remembers_it_for_the_alert():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, "slis")
        await pilot.press("b")
        await until(pilot, "the picker", lambda: isinstance(app.screen, RunbookPicker))
        await pilot.press(*"connection")  # search by title
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, "the runbook", lambda: isinstance(app.screen, RunbookScreen))
        assert "connection" in app.screen.runbook.title.lower()


@pytest.mark.parametrize(
    ("panel", "row", "title"),
    [
        ("health", "", "Check prediction-service"),
        ("alerts", "alert:HighErrorRate", "Alert HighErrorRate"),
        ("alerts", "incident:INC-2041", "Incident INC-2041"),
        ("slis", "", "SLIs"),
    ],
)
async def test_enter_shows_the_focused_row(panel, row, title):
    from oncall_console.ui.screens.source_incident import SourceIncidentScreen

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await focus(pilot, panel, row)
        await pilot.press("enter")
        # A source's incident opens in a box that also says who owns it (issue #15, 6).
        shown = SourceIncidentScreen if row.startswith("incident:") else DetailScreen
        await until(pilot, "the detail", lambda: isinstance(app.screen, shown))
        assert app.screen.title_text == title


async def test_the_focused_panel_shows_by_shape_not_only_by_colour():
    """NO_COLOR turned the focused border's $primary into a grey two steps from the
    others': which panel a key acts on must show without colour. Its title is reversed,
    and no other panel's is."""
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        panels = ["#health-panel", "#slis", "#alerts-panel"]
        for key, panel in zip("123", panels, strict=True):
            await pilot.press(key)
            widget = app.dashboard.query_one(panel)
            await until(pilot, f"{key} focuses {panel}", lambda w=widget: w.has_focus_within)
            reversed_titles = [
                p for p in panels if app.dashboard.query_one(p).styles.border_title_style.reverse
            ]
            assert reversed_titles == [panel]
