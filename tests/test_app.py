"""The dashboard as an engineer uses it: keyboard only, on the demo platform."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text
from textual.color import Color

from oncall_console.model import CheckResult, Status
from oncall_console.ui.screens.actions import ActionPicker, ConfirmAction
from oncall_console.ui.screens.detail import DetailScreen
from oncall_console.ui.widgets.alerts import AlertsTable
from oncall_console.ui.widgets.health import HealthTable
from oncall_console.ui.widgets.sli import SliCard
from tests.support.demoapp import demo_app


def plain_text(renderable: object) -> str:
    console = Console(width=120, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def select_row(table: HealthTable, name: str) -> None:
    table.move_cursor(row=table.get_row_index(name))


async def test_the_demo_shows_nine_services_data_stores_four_slis_and_the_incident():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        health = app.screen.query_one(HealthTable)
        assert health.row_count == 11
        assert len(app.screen.query(SliCard)) == 4
        alerts = app.screen.query_one(AlertsTable)
        keys = [k.value for k in alerts.rows]
        assert any(k.startswith("incident:") for k in keys)
        assert any(k.startswith("alert:") for k in keys)
        glyph = health.get_cell("prediction-service", "st")
        assert glyph.plain == Status.DOWN.glyph


async def test_rolling_back_the_bad_deploy_goes_through_preview_and_confirm():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        health = app.screen.query_one(HealthTable)
        select_row(health, "prediction-service")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ActionPicker)
        titles = [spec.id for _, spec in app.screen.choices]
        await pilot.press(*["down"] * titles.index("rollback"), "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmAction)
        assert "prediction-service" in app.screen.prepared.preview
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        trail = await app.engine.store.audit()
        assert [(r.kind, r.action, r.target, r.outcome) for r in trail] == [
            ("intent", "rollback", "prediction-service", "outcome unknown"),
            ("result", "rollback", "prediction-service", "succeeded"),
        ]
        assert (await app.engine.store.verify_audit()).ok
        app.fixed_clock.advance(40)
        await app.engine.poll_once()
        app.dashboard.sync(force=True)
        assert app.engine.checks["prediction-service"].status(app.clock()) is Status.OK


async def test_declining_runs_nothing():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        select_row(app.screen.query_one(HealthTable), "notification-service")
        await pilot.press("a", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmAction)
        await pilot.press("n")
        await app.workers.wait_for_complete()
        assert await app.engine.store.audit() == []


async def test_read_only_console_offers_no_action_and_the_runner_refuses():
    app = demo_app(at=90, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ActionPicker)
        assert app.engine.runner.available() == []


async def test_enter_opens_the_detail_view_and_escape_closes_it():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        select_row(app.screen.query_one(HealthTable), "postgres")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert "postgres" in plain_text(app.screen.body)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard


async def test_remote_markup_and_escapes_render_as_literal_text():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        state = app.engine.checks["redis"]
        evil = "[bold red]pwned[/] \x1b[2J\x1b]52;c;SGk=\x07done"
        state.record(CheckResult("redis", Status.DOWN, evil, 1.0, at=app.clock()))
        app.dashboard.sync(force=True)
        await pilot.pause()
        cell = app.screen.query_one(HealthTable).get_cell("redis", "summary")
        assert isinstance(cell, Text)
        assert cell.plain == "[bold red]pwned[/] done"


async def test_keys_can_be_remapped_from_config():
    app = demo_app(at=10, keys={"theme": "f6"})
    async with app.run_test(size=(80, 24)) as pilot:
        before = app.theme
        await pilot.press("ctrl+t")  # remapped: the default key does nothing
        assert app.theme == before
        await pilot.press("f6")
        assert app.theme != before


async def test_a_broken_user_theme_is_reported_once_and_start_up_goes_on(tmp_path):
    (tmp_path / "broken.toml").write_text('name = "mine"\nprimary = "not-a-colour"\n')
    app = demo_app(at=10, themes_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert sum("broken.toml" in m for m in messages) == 1
        assert "primary" in next(m for m in messages if "broken.toml" in m)
        assert app.screen is app.dashboard


async def test_the_detail_view_shows_a_backends_table_as_plain_text():
    from oncall_console.model import DetailTable

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        table = DetailTable(
            "Long-running queries",
            ("pid", "running", "query"),
            (("4242", "93 s", "SELECT [bold]pg_sleep[/](90) \x1b[31m"),),
        )
        result = CheckResult(
            "postgres", Status.DEGRADED, "1 long query", 2.0, at=app.clock(), tables=(table,)
        )
        app.engine.checks["postgres"].record(result)
        select_row(app.screen.query_one(HealthTable), "postgres")
        await pilot.press("d")
        await pilot.pause()
        text = plain_text(app.screen.body)
        assert "Long-running queries" in text
        assert "SELECT [bold]pg_sleep[/](90)" in text and "\x1b" not in text


@pytest.mark.parametrize("start", ["oncall-dark", "textual-dark"])
async def test_a_theme_change_recolours_the_tables(start):
    # textual-dark is Textual's own default: setting it at start-up changes nothing, so
    # the first refresh the console sees is this change (ui/app.py refresh_css).
    app = demo_app(at=90, theme=start)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.theme = "oncall-high-contrast"
        await pilot.pause()
        glyph = app.screen.query_one(HealthTable).get_cell("prediction-service", "st")
        assert glyph.style.color.name.lower() == app.theme_variables["status-down"].lower()
        # and the stylesheet itself was applied again (its $background)
        assert app.screen.styles.background == Color.parse(app.theme_variables["background"])


async def test_declaring_an_incident_from_an_alert_with_i():
    from tests.support.demoapp import select_first_alert, settle

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        select_first_alert(app)
        await pilot.press("i")
        await pilot.pause()
        prompt = app.screen  # it says what it will declare before it does
        assert type(prompt).__name__ == "YesNoPrompt" and "SEV2" in prompt.text
        await pilot.press("y")
        for _ in range(100):
            if type(app.screen).__name__ == "IncidentScreen":
                break
            await pilot.pause(0.01)
        declared = [i for i in app.engine.incidents() if i.id.startswith("INC-1")]
        assert len(declared) == 1 and declared[0].severity.label == "SEV2"
        assert type(app.screen).__name__ == "IncidentScreen"  # declared: now work it
        await pilot.press("escape")
        assert app.screen is app.dashboard
        await pilot.press("i", "y")  # the same alert group again: refused, nothing new
        await pilot.pause()
        assert len([i for i in app.engine.incidents() if i.id.startswith("INC-1")]) == 1
