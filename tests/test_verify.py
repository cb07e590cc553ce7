"""Verification watches (issue #13): after an action the console follows its target's
check, the SLIs it moves and the alerts about it until they recover or the action's
deadline passes, and says how it ended in the audit trail and the incident's timeline."""

from __future__ import annotations

from dataclasses import replace

from oncall_console.engine.api import OnCall
from oncall_console.engine.verify import judge
from oncall_console.model import Alert, AlertState, Outcome, Severity
from tests.support.demoapp import demo_app, settle


async def rollback_plan(oncall: OnCall):
    request = oncall.request("demo", "rollback", {"service": "prediction-service"})
    return await oncall.prepare(request, about="prediction-service")


async def poll_until(engine, clock, watch_id: int, step: float = 1.0, limit: int = 400):
    for _ in range(limit):
        watch = engine.verifier.watches[watch_id]
        if watch.done:
            return watch
        clock.advance(step)
        await engine.poll_once()
    raise AssertionError(f"the watch never ended: {engine.verifier.watches[watch_id]}")


async def test_the_plan_says_what_verification_will_follow():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app.oncall)
        assert plan.check == "prediction-service"
        assert "check prediction-service" in plan.watch
        assert "alert PredictionServiceDown" in plan.watch
        assert plan.watch_for == 300.0


async def test_a_rollback_is_followed_until_the_service_recovers():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        oncall, engine, clock = app.oncall, app.engine, app.fixed_clock
        alert = next(a for a in engine.alerts() if a.name == "PredictionServiceDown")
        incident = await oncall.incidents.declare(from_alert=alert)
        plan = await rollback_plan(oncall)
        result = await oncall.execute(plan, "y", scope=incident.id)
        assert result.outcome is Outcome.SUCCEEDED
        (watch,) = oncall.watches()
        assert watch.state == "watching" and watch.check == "prediction-service"
        assert watch.alerts == ("PredictionServiceDown",)
        assert watch.line(clock()).startswith("◷ verifying 0s of 5m · demo.rollback")

        ended = await poll_until(engine, clock, watch.id)
        assert ended.state == "recovered"
        assert ended.detail.startswith("recovered in ")
        await oncall.wait_for_watch(watch.id)
        for _ in range(50):  # recorded in the background
            records = await engine.store.audit()
            if any(r.kind == "verify" for r in records):
                break
            await pilot.pause(0.02)
        verify = [r for r in records if r.kind == "verify"]
        assert len(verify) == 1 and verify[0].outcome == "recovered"
        assert verify[0].intent_id == result.audit_id
        assert (await engine.store.verify_audit()).ok  # still one unbroken chain
        timeline = await oncall.incidents.timeline(incident.id)
        assert any(e.kind == "verify" and "recovered in" in e.text for e in timeline)


async def test_an_action_that_does_not_help_is_not_recovered_and_says_what_next():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        oncall, engine, clock = app.oncall, app.engine, app.fixed_clock
        request = oncall.request("demo", "restart", {"service": "prediction-service"})
        plan = replace(await oncall.prepare(request, about="prediction-service"), watch_for=20.0)
        await oncall.execute(plan, "y")
        (watch,) = oncall.watches()
        ended = await poll_until(engine, clock, watch.id)
        assert ended.state == "not recovered"
        for _ in range(50):
            if "next:" in engine.verifier.watches[watch.id].detail:
                break
            await pilot.pause(0.02)
        detail = engine.verifier.watches[watch.id].detail
        assert detail.startswith("not recovered after 20s") or "not recovered after" in detail
        assert "check prediction-service DOWN" in detail
        assert "next: escalate" in detail


async def test_a_recovery_after_a_later_action_names_it_in_the_earlier_ones_outcome():
    """Walked on the devstack: BGSAVE, then CONFIG SET maxmemory; memory fell and both
    said "recovered", the snapshot "in 1m", as if it had freed memory. The earlier
    action's outcome now names the later one; the later one's is its own."""
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        oncall, engine, clock = app.oncall, app.engine, app.fixed_clock
        request = oncall.request("demo", "restart", {"service": "prediction-service"})
        restart = await oncall.prepare(request, about="prediction-service")
        await oncall.execute(restart, "y")
        (first,) = oncall.watches()
        for _ in range(5):  # the restart does not help
            clock.advance(1.0)
            await engine.poll_once()
        assert not engine.verifier.watches[first.id].done
        await oncall.execute(await rollback_plan(oncall), "y")
        second = next(w for w in oncall.watches() if w.id != first.id)
        ended = await poll_until(engine, clock, second.id)
        assert ended.state == "recovered"
        assert ended.detail.startswith("recovered in ") and "after" not in ended.detail
        earlier = await poll_until(engine, clock, first.id)
        assert earlier.state == "recovered"
        assert earlier.detail.startswith("recovered in ")
        assert earlier.detail.endswith("after demo.rollback ran"), earlier.detail


def test_only_watches_on_the_same_things_overlap():
    from oncall_console.engine.verify import Watch

    def watch(check: str = "", slis: tuple[str, ...] = (), alerts: tuple[str, ...] = ()):
        return Watch(1, "b.a", "t", "s", check, slis, alerts, 0.0, 300.0)

    assert watch("api").overlaps(watch("api"))
    assert watch(slis=("latency",)).overlaps(watch("db", slis=("latency", "errors")))
    assert watch(alerts=("Down",)).overlaps(watch(alerts=("Down",)))
    assert not watch("api").overlaps(watch("db"))
    assert not watch().overlaps(watch())  # no check named on either: nothing in common
    later = [
        replace(watch(), action=a, started=t) for a, t in (("b.x", 10), ("b.y", 20), ("b.x", 25))
    ]
    assert (
        watch().recovered(30.0, later) == "recovered in 30s, 5s after b.x (and 1 other action) ran"
    )


async def test_the_bar_shows_the_watch_on_every_screen():
    from oncall_console.ui.widgets.watchbar import WatchBar

    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = await rollback_plan(app.oncall)
        await app.oncall.execute(plan, "y")
        app.tick()
        await pilot.pause()
        bar = app.dashboard.query_one(WatchBar)
        assert bar.display and "· demo.rollback · prediction-service" in str(bar.render())
        # On the screen itself, above the footer (docked, the footer covered it).
        lines = [s.text for s in app.screen._compositor.render_strips()]
        assert any("◷ verifying" in line for line in lines[-4:-1]), lines[-4:]
        (watch,) = app.oncall.watches()
        await poll_until(app.engine, app.fixed_clock, watch.id)
        app.tick()
        await pilot.pause()
        lines = [s.text for s in app.screen._compositor.render_strips()]
        assert lines[-2].lstrip().startswith("✓ recovered in"), lines[-3:]  # one line: shown
        await pilot.press("h")  # the handoff screen has the bar too
        await pilot.pause()
        app.tick()
        await pilot.pause()
        assert "recovered in" in str(app.screen.query_one(WatchBar).render())


async def test_three_watches_at_80x24_leave_every_panel_on_the_screen():
    """Walked in tmux at 80x24: a restart then a rollback showed two watches, the bar
    grew to three lines, the dashboard scrolled and its alerts panel went below the
    screen. The minimums now leave room for the bar at its tallest, on every screen."""
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        oncall = app.oncall
        for action in ("restart", "rollback", "restart"):
            request = oncall.request("demo", action, {"service": "prediction-service"})
            await oncall.execute(await oncall.prepare(request, about="prediction-service"), "y")
        for keys in ((), ("1", "b"), ("escape", "h")):
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            app.tick()
            await pilot.pause()
            screen = app.screen
            assert screen.max_scroll_y == 0, type(screen).__name__
            assert all(w.region.bottom <= 24 for w in screen.children if w.display)
        alerts = app.dashboard.query_one("#alerts-panel")
        assert 0 < alerts.region.y and alerts.region.bottom <= 20  # above the bar


def test_judging_wants_a_fresh_result_and_resolved_alerts():
    firing = Alert("f1", "PredictionServiceDown", Severity.SEV2, "", AlertState.ACTIVE)
    assert judge(None, [], [firing], ["PredictionServiceDown"], 0.0, 10.0) == [
        "alert PredictionServiceDown firing"
    ]
    assert judge(None, [], [], ["PredictionServiceDown"], 0.0, 10.0) == []


async def test_an_action_run_elsewhere_ticks_the_runbook_step_that_asks_for_it():
    """The console knows what it has done: a rollback run from the dashboard (or the CLI,
    or another console: the audit trail is the truth) ticks the runbook's "Roll back"
    step, by whoever ran it; running it again is said to have run lately."""
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        oncall = app.oncall
        library = await oncall.runbooks.ready()
        runbook = next(r for r in library.all() if r.id == "demo-bad-deploy")
        step = next(
            s
            for s in runbook.steps
            if any(getattr(b, "action", "") == "rollback" for b in s.blocks)
        )
        restart = next(
            s for s in runbook.steps if any(getattr(b, "action", "") == "restart" for b in s.blocks)
        )
        assert not (await oncall.runbooks.progress(runbook, "INC-1"))
        await oncall.execute(await rollback_plan(oncall), "y")

        progress = await oncall.runbooks.progress(runbook, "INC-1")
        assert progress[step.id].done and progress[step.id].operator == "alex"
        assert "rollback on prediction-service" in progress[step.id].note
        assert restart.id not in progress  # another action: not ticked
        again = await rollback_plan(oncall)
        assert again.recent.startswith("this ran ") and "by alex (succeeded)" in again.recent

        # Unticked by hand after the action: it stays unticked.
        await oncall.runbooks.mark(runbook, "INC-1", step.id, False)
        assert not (await oncall.runbooks.progress(runbook, "INC-1"))[step.id].done


async def test_the_handoff_says_how_verification_ended():
    from oncall_console.engine.handoff import HandoffOptions, build_report

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        oncall, engine, clock = app.oncall, app.engine, app.fixed_clock
        result = await oncall.execute(await rollback_plan(oncall), "y")
        (watch,) = oncall.watches()
        report = await build_report(oncall, HandoffOptions(since=clock() - 3600, now=clock()))
        assert "verifying now: the target has not recovered yet" in report
        await poll_until(engine, clock, watch.id)
        for _ in range(50):
            if any(r.kind == "verify" for r in await engine.store.audit()):
                break
            await pilot.pause(0.02)
        report = await build_report(oncall, HandoffOptions(since=clock() - 3600, now=clock()))
        line = next(x for x in report.splitlines() if "verified:" in x)
        assert "recovered in" in line and result.audit_id
