"""A drill from declare to resolve on the demo (fixed clock): the timeline has every
event, and the postmortem draft and the handoff report are pinned as snapshots."""

from __future__ import annotations

from oncall_console.engine.api import OnCall
from oncall_console.engine.handoff import HandoffOptions, build_report
from oncall_console.model import ActionRequest
from tests.support.demoapp import demo_app, settle


async def test_declare_to_resolve(snapshot):
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        clock, engine = app.fixed_clock, app.engine
        service = engine.incident_service
        alert = next(a for a in engine.alerts() if a.name == "HighErrorRate")
        incident = await service.declare(from_alert=alert, impact="About 6 % of API calls fail")
        clock.advance(60)
        await service.acknowledge(incident.id)
        await service.set_commander(incident.id, "alex")
        clock.advance(60)
        await service.set_status(
            incident.id, "identified", note="prediction-service v2.5.0 fails readiness"
        )
        prepared = await engine.runner.prepare(
            ActionRequest("demo", "rollback", {"service": "prediction-service"}, "alex")
        )
        await engine.execute(prepared, "y", scope=incident.id)
        clock.advance(120)
        await service.set_status(incident.id, "monitoring")
        await service.note(incident.id, "Error rate back under 0.1 %; watching for 10 minutes")
        clock.advance(600)
        await service.resolve(incident.id, note="Stable for 10 minutes")

        timeline = await service.timeline(incident.id)
        kinds = [e.kind for e in timeline]
        for expected in ("declared", "acknowledged", "commander", "status", "action", "note"):
            assert expected in kinds, (expected, kinds)
        assert kinds[-1] == "resolved"

        postmortem = await service.postmortem(incident.id)
        assert "rollback" in postmortem and "prediction-service" in postmortem
        await engine.poll_once()  # the platform as it is at the end of the drill
        await service.refresh()
        report = await build_report(
            OnCall(engine), HandoffOptions(since=clock() - 3600, now=clock())
        )
        assert incident.id in report.split("## Resolved this shift")[1]
        assert snapshot(name="postmortem") == postmortem
        assert snapshot(name="handoff") == report
