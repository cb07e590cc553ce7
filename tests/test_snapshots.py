"""The look, pinned: the demo on a fixed clock with fixed data, in each theme and size."""

from __future__ import annotations

import pytest

from tests.support.demoapp import demo_app, settle


@pytest.mark.parametrize("theme", ["oncall-dark", "oncall-light", "oncall-high-contrast"])
def test_dashboard_in_each_theme(snap_compare, theme):
    assert snap_compare(demo_app(at=90, theme=theme), terminal_size=(120, 40), run_before=settle)


def test_dashboard_at_80x24(snap_compare):
    assert snap_compare(demo_app(at=90), terminal_size=(80, 24), run_before=settle)


def test_read_only_war_room_badge(snap_compare):
    assert snap_compare(demo_app(at=90, read_only=True), terminal_size=(100, 30), run_before=settle)


def test_confirm_dialog_shows_the_preview(snap_compare):
    async def open_rollback(pilot):
        await settle(pilot)
        table = pilot.app.screen.query_one("#health")
        table.move_cursor(row=table.get_row_index("prediction-service"))
        await pilot.press("a")
        await pilot.pause()
        ids = [spec.id for _, spec in pilot.app.screen.choices]
        await pilot.press(*["down"] * ids.index("rollback"), "enter")
        await pilot.pause()

    assert snap_compare(demo_app(at=90), terminal_size=(100, 30), run_before=open_rollback)


def test_runbook_screen(snap_compare):
    async def open_runbook(pilot):
        await settle(pilot)
        table = pilot.app.screen.query_one("#health")
        table.move_cursor(row=table.get_row_index("prediction-service"))
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("down", "down", "down")
        await pilot.pause()

    assert snap_compare(demo_app(at=90), terminal_size=(120, 40), run_before=open_runbook)


def test_incident_screen_at_80x24(snap_compare):
    """Declared from the alert, acknowledged, commanded, a note; 16 minutes later the
    escalation step is due and prompted."""

    async def work_incident(pilot):
        from textual.widgets import Input

        from tests.support.demoapp import select_first_alert

        app = pilot.app
        await settle(pilot)
        select_first_alert(app)
        await pilot.press("i")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(100):
            if type(app.screen).__name__ == "IncidentScreen":
                break
            await pilot.pause(0.01)
        await pilot.press("A", "y", "t", "y")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one(Input).value = "pods crash-looping since the 07:58 rollout"
        await pilot.press("enter")
        await pilot.pause()
        app.fixed_clock.advance(16 * 60)
        app.screen.sync()
        await pilot.pause()
        app.clear_notifications()
        app.screen.refresh(layout=True)
        await pilot.pause()

    assert snap_compare(demo_app(at=90), terminal_size=(80, 24), run_before=work_incident)
