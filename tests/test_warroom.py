"""The war room on the wall: big digits, incident clocks, panels that cycle, and no way to act."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import ContentSwitcher, Digits, Static

from oncall_console.cli import demo_config
from oncall_console.engine import ActionRefused, Engine
from oncall_console.engine.api import OnCall
from oncall_console.model import ActionRequest, Alert, AlertState, Severity
from oncall_console.ui.screens.warroom import WarRoom, big_number, incident_clock
from oncall_console.ui.widgets.bigstat import BigStat
from tests.support.warroomapp import settle_war_room, war_room_app

SIZE = (120, 40)


def room(app) -> WarRoom:
    screen = app.screen
    assert isinstance(screen, WarRoom)
    return screen


def shown(app) -> str:
    """Which panel the room is looking at."""
    return app.screen.query_one(ContentSwitcher).current


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def tick(app, seconds: float) -> None:
    """Let ``seconds`` pass on the wall clock and run the app's tick."""
    app.fixed_clock.advance(seconds)
    room(app).sync()


async def test_the_wall_shows_the_worst_slis_and_how_long_the_incident_has_been_open():
    app = war_room_app(at=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        assert isinstance(app.screen, WarRoom)
        clock = app.screen.query_one("#wr-clock-0", BigStat)
        assert clock.value == "00:00:40"  # INC-2041 was declared at t=50
        assert clock.caption == "INC-2041 open for"
        assert clock.under == "SEV2 Elevated 5xx after prediction-service v2.5.0 rollout"
        assert not app.screen.query_one("#wr-clock-1", BigStat).display

        tiles = [app.screen.query_one(f"#wr-sli-{n}", BigStat) for n in range(4)]
        assert [(t.caption, t.value) for t in tiles] == [
            ("API latency p99", "1,211ms"),
            ("API error rate", "2.43%"),
            ("API availability", "97.6%"),
            ("Cache hit rate", "91.7%"),
        ]
        assert tiles[0].under.startswith("! CRIT")  # past its critical threshold, answering
        assert tiles[3].under == "✓ OK"
        red = app.theme_variables["status-critical"]
        assert tiles[0].query_one(Digits).styles.color.hex.upper() == red.upper()

        card = app.screen.query_one("#wr-card-0", Static)
        text = screen_text(app)
        assert card.display
        assert "INVESTIGATING · commander r.okafor · open 40s · 2 alerts" in text


async def test_the_incident_clock_ticks_and_only_the_clock_repaints(monkeypatch):
    app = war_room_app(at=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        updated: list[str | None] = []
        for cls in (Static, Digits):
            original = cls.update

            def spy(self, *args, _original=original, **kwargs):
                updated.append(self.id or (self.parent.id if self.parent else None))
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, "update", spy)
        tick(app, 1)  # an alert's age reaches the next five-second step here
        assert app.screen.query_one("#wr-clock-0", BigStat).value == "00:00:41"
        assert updated == ["wr-clock-0", "wr-alerts"]
        updated.clear()
        tick(app, 1)  # within every step: only the clock's digits change
        assert app.screen.query_one("#wr-clock-0", BigStat).value == "00:00:42"
        assert updated == ["wr-clock-0"]
        updated.clear()
        room(app).sync()  # same second, same engine version: nothing at all
        assert updated == []


async def test_a_new_theme_recolours_the_digits():
    app = war_room_app(at=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        app.theme = "oncall-dark"
        await pilot.pause()
        digits = room(app).query_one("#wr-sli-0", BigStat).query_one(Digits)
        assert digits.styles.color.hex.upper() == app.theme_variables["status-critical"].upper()


async def test_with_no_incident_open_the_wall_says_so_calmly():
    app = war_room_app(at=30)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        assert not any(app.screen.query_one(f"#wr-clock-{n}").display for n in range(3))
        assert app.screen.query_one("#wr-calm").display
        assert "No open incidents" in screen_text(app)
        assert not app.screen.query_one("#wr-cards").display


async def test_panels_cycle_after_the_dwell():
    app = war_room_app(at=90, dwell=15)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        assert shown(app) == "overview"
        tick(app, 14)
        assert shown(app) == "overview"
        tick(app, 1)
        assert shown(app) == "health"
        tick(app, 15)
        assert shown(app) == "alerts"
        tick(app, 15)
        assert shown(app) == "overview"
        await pilot.pause()
        assert "next panel every 15 s" in screen_text(app)


async def test_the_dwell_comes_from_the_constructor():
    app = war_room_app(at=90, dwell=5)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        tick(app, 5)
        assert shown(app) == "health"


async def test_left_and_right_move_by_hand_and_restart_the_dwell():
    app = war_room_app(at=90, dwell=15)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        tick(app, 10)
        await pilot.press("right")
        assert shown(app) == "health"
        tick(app, 10)  # 20 s since the start, but only 10 since the key
        assert shown(app) == "health"
        await pilot.press("left")
        assert shown(app) == "overview"
        await pilot.press("left")
        assert shown(app) == "alerts"  # wraps around
        await pilot.press("right")
        assert shown(app) == "overview"


async def test_p_pauses_the_cycle_and_resumes_it():
    app = war_room_app(at=90, dwell=15)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        await pilot.press("p")
        assert room(app).paused
        tick(app, 60)
        assert shown(app) == "overview"
        await pilot.pause()
        assert "paused" in screen_text(app)
        await pilot.press("right")  # moving by hand still works while paused
        assert shown(app) == "health"
        await pilot.press("p")
        assert not room(app).paused
        tick(app, 15)
        assert shown(app) == "alerts"


async def test_keys_that_act_on_the_console_do_nothing_on_the_wall():
    app = war_room_app(at=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        theme = app.theme
        await pilot.press("a", "x", "y", "b", "d", "r", "enter", "t", "question_mark", "ctrl+p")
        await pilot.pause()
        assert app.screen_stack == [app.screen] and isinstance(app.screen, WarRoom)
        assert shown(app) == "overview" and not room(app).paused
        assert app.theme == theme
        assert not app._notifications
        enabled = {key for key, b in app.screen.active_bindings.items() if b.enabled}
        assert enabled <= {"left", "right", "p", "q", "ctrl+q", "ctrl+l", "ctrl+c", "super+c"}

        # Read-only at the runner, not only by missing keys.
        assert app.engine.read_only
        assert app.engine.runner.available() == []
        request = ActionRequest("demo", "rollback", {"service": "prediction-service"}, "alex")
        with pytest.raises(ActionRefused, match="read-only"):
            await app.engine.runner.prepare(request)
        assert await app.engine.store.audit() == []


def test_the_war_room_refuses_an_engine_that_could_act():
    engine = Engine(demo_config(seed=7, speed=1.0, read_only=False))
    with pytest.raises(ValueError, match="read-only"):
        WarRoom(OnCall(engine))
    engine.executor.shutdown()


async def test_markup_and_escapes_in_remote_text_are_shown_literally():
    app = war_room_app(at=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        feed = app.engine.feeds["demo"]
        hostile = "[bold red]pwned[/] \x1b[2J\x1b]0;owned\x07[link=https://evil.example]x[/link]"
        feed.incidents = [dataclasses.replace(feed.incidents[0], title=hostile, commander="[b]eve")]
        feed.alerts = [
            Alert("fp-1", "Weird[/]", Severity.SEV3, "sum [i]mary[/i]", AlertState.ACTIVE, 0.0)
        ]
        app.engine.version += 1
        room(app).sync(force=True)
        await pilot.pause()
        literal = "[bold red]pwned[/] [link=https://evil.example]x[/link]"
        assert app.screen.query_one("#wr-clock-0", BigStat).under == f"SEV2 {literal}"
        overview = screen_text(app)
        assert f"INC-2041  {literal}" in overview  # the card
        assert "commander [b]eve" in overview
        await pilot.press("right", "right")  # the alerts panel
        await pilot.pause()
        alerts = screen_text(app)
        assert "Weird[/]" in alerts and "sum [i]mary[/i]" in alerts
        for text in (overview, alerts):
            assert "\x1b" not in text and "owned" not in text


def test_clock_and_number_formats():
    assert incident_clock(40) == "00:00:40"
    assert incident_clock(3600 * 27 + 61) == "27:01:01"  # hours keep counting past a day
    assert incident_clock(-5) == "00:00:00"  # a source clock ahead of ours
    assert big_number(1211.4, "ms") == "1,211ms"
    assert big_number(None, "%") == "--"


def test_the_war_room_in_high_contrast(snap_compare):
    app = war_room_app(at=90, theme="oncall-high-contrast")
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle_war_room)


def test_the_health_grid_in_high_contrast(snap_compare):
    async def health(pilot):
        await settle_war_room(pilot)
        await pilot.press("right")
        await pilot.pause()

    app = war_room_app(at=90, theme="oncall-high-contrast")
    assert snap_compare(app, terminal_size=(120, 40), run_before=health)


async def test_a_card_shows_the_step_the_policy_says_is_due():
    app = war_room_app(at=90, dwell=3600)  # the cards' panel stays on screen
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        service = app.engine.incident_service
        # The wall writes nothing: a console at a desk declares, on the same store.
        from oncall_console.incidents import IncidentService

        desk = IncidentService(
            app.engine.store._store,
            clock=app.engine.clock,
            operator="r.okafor",
            policy=service.policy,
        )
        alert = next(a for a in app.engine.alerts())
        record = await desk.declare(from_alert=alert, severity="SEV1", commander="r.okafor")
        await desk.acknowledge(record.id)
        await service.refresh()
        tick(app, 1)
        await pilot.pause()
        assert "▶" not in screen_text(app)  # acknowledged, commanded: nothing due yet
        tick(app, 16 * 60)
        await pilot.pause()
        assert "▶ Engage secondary on-call (PagerDuty)" in screen_text(app)


async def test_q_leaves_the_wall():
    """q was a dead key on the wall: the app allowed only "quit", and q is back_or_quit."""
    app = war_room_app(at=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle_war_room(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app._exit
