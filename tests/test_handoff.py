"""The handoff report: what the next person needs, from the store and the live sources."""

from __future__ import annotations

from textual.widgets import Static, TextArea

from oncall_console.engine.api import OnCall
from oncall_console.engine.handoff import HandoffOptions, build_report
from oncall_console.model import ActionRequest
from oncall_console.ui.screens.handoff import HandoffScreen
from tests.support.demoapp import demo_app, settle


async def test_the_report_lists_incidents_actions_alerts_budget_and_notes():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        engine = app.engine
        prepared = await engine.runner.prepare(
            ActionRequest("demo", "rollback", {"service": "prediction-service"}, "alex")
        )
        await engine.runner.execute(prepared, "y")
        now = app.clock()
        report = await build_report(
            OnCall(engine),
            HandoffOptions(since=now - 3600, now=now, notes="Watch # the *pool* [x]"),
        )
    assert "## Open incidents" in report and "INC-2041" in report and "SEV2" in report
    assert "`demo.rollback` on prediction-service → succeeded" in report
    assert "HighErrorRate" in report
    assert "77.0 % left" in report or "% left" in report
    assert report.rstrip().endswith("Watch # the *pool* [x]")
    assert "✗ DOWN **prediction-service**" in report


async def test_hostile_remote_text_cannot_change_the_reports_structure():
    from oncall_console.engine.handoff import md

    assert md("# [x] <b>hi</b>\x1b[2J") == "\\# \\[x\\] \\<b\\>hi\\</b\\>"


async def test_the_handoff_screen_shows_the_report_and_takes_notes():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HandoffScreen)
        assert "# Shift handoff: demo" in screen.report
        screen.query_one(TextArea).text = "The pool is fine now."
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "The pool is fine now." in str(screen.query_one("#handoff-text", Static).render())


async def test_an_open_incident_is_handed_over_with_its_next_step():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        service = app.engine.incident_service
        alert = next(a for a in app.engine.alerts())
        record = await service.declare(from_alert=alert, severity="SEV1")
        await service.acknowledge(record.id)
        await service.refresh()
        app.fixed_clock.advance(40 * 60)  # SEV1: the lead is engaged at 30 min
        now = app.clock()
        report = await build_report(app.oncall, HandoffOptions(since=now - 3600, now=now))
    section = report.split("## Open incidents", 1)[1].split("## ", 1)[0]
    assert f"**SEV1 {record.id}**" in section
    assert "**next:** Engage engineering lead (Slack + phone): 40 min open" in section
    assert "Status update overdue by 10:00" in section


async def test_handing_over_offers_the_end_of_shift_checklist():
    from oncall_console.ui.screens.runbook import RunbookScreen

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await app.workers.wait_for_complete()
        await pilot.pause()
        told = [n.message for n in app._notifications]
        assert any(m.startswith("ctrl+g walks the end-of-shift checklist (0/") for m in told)
        app.screen.query_one(TextArea).focus()  # typing notes: the keys still reach us
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert isinstance(app.screen, RunbookScreen)
        assert app.screen.scope.startswith("shift ")
