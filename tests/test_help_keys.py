"""Habits of k9s and lazygit users (issue #15): help one key away at every size, q goes
back from a sub-screen, vim keys move, one meaning per key."""

from __future__ import annotations

from typing import Any

from oncall_console.ui.screens.help import HelpScreen
from tests.support.console import until  # by the clock: re-exported for other tests
from tests.support.demoapp import demo_app, select_first_alert, settle


def screen_text(app: Any) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_help_is_one_key_away_at_80x24_and_lists_the_consoles_keys_first():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "? Help" in screen_text(app).splitlines()[-1]  # the footer keeps it at 80 cols
        await pilot.press("question_mark")
        await until(pilot, "help", lambda: isinstance(app.screen, HelpScreen))
        titles = [title for title, _ in app.screen.sections]
        assert titles[0] == "Dashboard (here)" and titles[1] == "Everywhere"
        text = screen_text(app)
        assert "actions" in text.lower() and "incident.declare" in text  # ids for [keys]
        box = app.screen.query_one("#help-box")
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert box.scroll_y > 0  # the keyboard scrolls it
        await pilot.press("G")
        await pilot.pause()
        assert "Moving" in screen_text(app)  # the generic keys come last
        await pilot.press("question_mark")
        await until(pilot, "closed", lambda: app.screen is app.dashboard)
        await pilot.press("question_mark")
        await until(pilot, "help again", lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, "closed by esc", lambda: app.screen is app.dashboard)


async def test_q_on_a_sub_screen_goes_back_and_ctrl_q_there_asks():
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await until(pilot, "handoff", lambda: type(app.screen).__name__ == "HandoffScreen")
        await pilot.press("escape")  # the report is focused... esc and q are both back
        await until(pilot, "back", lambda: app.screen is app.dashboard)
        select_first_alert(app)
        await pilot.press("b")
        await until(pilot, "a runbook", lambda: app.screen is not app.dashboard)
        await pilot.press("q")
        await until(pilot, "back from q", lambda: app.screen is app.dashboard)
        assert app.is_running
        await pilot.press("b")
        await until(pilot, "a runbook", lambda: app.screen is not app.dashboard)
        await pilot.press("ctrl+q")
        await until(pilot, "asks", lambda: type(app.screen).__name__ == "YesNoPrompt")
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running


async def test_j_and_k_move_and_k_no_longer_acknowledges():
    from tests.test_incident_screen import declare

    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        health = app.dashboard.query_one("#health")
        health.focus()
        health.move_cursor(row=0)
        await pilot.pause()
        await pilot.press("j", "j")
        assert health.cursor_row == 2
        await pilot.press("k")
        assert health.cursor_row == 1
        await pilot.press("G")
        assert health.cursor_row == health.row_count - 1
        await pilot.press("g")
        assert health.cursor_row == 0
        screen = await declare(pilot)
        await pilot.press("k", "j", "k")
        await pilot.pause()
        record = app.engine.incident_service.cached(screen.incident_id)
        assert record is not None and not record.acknowledged_at  # k moved, nothing else


async def test_health_is_worst_first_filters_with_slash_and_w_jumps_to_the_worst():
    from oncall_console.ui.widgets.header import ConsoleHeader
    from oncall_console.ui.widgets.health import HealthTable

    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(HealthTable)
        order = [row.key.value for row in table.ordered_rows]
        ranks = [app.engine.checks[name].status(app.clock()).rank for name in order]
        assert ranks == sorted(ranks, reverse=True) and order[0] == "prediction-service"
        header = app.dashboard.query_one(ConsoleHeader)
        assert header.worst == "prediction-service"  # the header names the row

        table.move_cursor(row=3)
        await pilot.press("w")
        assert table.has_focus and table.selected_key == "prediction-service"

        await pilot.press("slash", *"redis")
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == ["redis"]
        # The filter hides the worst check: the header still names it (it said DOWN next
        # to a healthy row's name), and w clears the filter to get there.
        assert header.worst == "prediction-service"
        await pilot.press("enter", "w")
        await pilot.pause()
        assert table.row_count == len(app.engine.checks)
        assert table.has_focus and table.selected_key == "prediction-service"
        await pilot.press("slash", *"redis", "escape")
        await pilot.pause()
        assert table.row_count == len(app.engine.checks)


async def test_the_reason_takes_the_free_width_of_a_wide_terminal():
    from oncall_console.ui.widgets.health import HealthTable

    app = demo_app(at=90)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(HealthTable)
        summary = table.columns[next(k for k in table.columns if k.value == "summary")]
        others = sum(
            c.get_render_width(table) for k, c in table.columns.items() if k.value != "summary"
        )
        # it stopped near 26 with 100 empty columns beside it
        assert summary.get_render_width(table) + others >= table.scrollable_content_region.width - 2


async def test_the_first_frame_at_80x24_is_drawn_with_the_columns_it_keeps(monkeypatch):
    """Fitted only on Resize (delivered after the frame is drawn), the first frame at
    80x24 showed the wide table, a latency column and the reason cut, and the next
    frame the compact one."""
    from textual.screen import Screen

    from oncall_console.ui.widgets.health import HealthTable

    drawn: list[bool] = []
    draw = Screen._compositor_refresh

    def first_draw(screen: Screen) -> None:
        if not drawn and screen.query(HealthTable):
            drawn.append(screen.query_one(HealthTable).compact)
        draw(screen)

    monkeypatch.setattr(Screen, "_compositor_refresh", first_draw)
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.dashboard.query_one(HealthTable).compact
    assert drawn == [True]


async def test_the_handoff_notes_take_every_key_survive_a_crash_and_saves_never_overwrite(
    tmp_path, monkeypatch
):
    from textual.widgets import TextArea

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        theme = app.theme
        await pilot.press("h")
        await until(pilot, "handoff", lambda: type(app.screen).__name__ == "HandoffScreen")
        notes = app.screen.query_one(TextArea)
        await until(pilot, "notes focused", lambda: notes.has_focus)
        await pilot.press(*"watch the pool, quit at 9")  # t, q: letters, not keys
        await pilot.pause()
        assert notes.text == "watch the pool, quit at 9"
        assert app.theme == theme and app.is_running
        draft = tmp_path / "oncall-console" / "handoffs" / "notes-draft.md"
        assert draft.read_text() == "watch the pool, quit at 9"  # on disk as typed
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        await pilot.press("ctrl+s")  # the same second: a second file, not an overwrite
        for _ in range(100):
            written = sorted((tmp_path / "oncall-console" / "handoffs").glob("handoff-*.md"))
            if len(written) == 2:
                break
            await pilot.pause(0.02)
        assert len(written) == 2
        assert all(p.read_text().rstrip().endswith("quit at 9") for p in written)  # as typed

    app = demo_app(at=90)  # the next console (after a crash) finds the notes again
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await until(pilot, "handoff", lambda: type(app.screen).__name__ == "HandoffScreen")
        assert app.screen.query_one(TextArea).text == "watch the pool, quit at 9"


async def test_a_terminal_below_80x24_is_told_it_is_too_small():
    app = demo_app(at=90)
    async with app.run_test(size=(70, 20)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert any("Terminal too small: 70×20" in n.message for n in app._notifications)


async def test_the_palette_shows_keys_and_finds_actions_by_words():
    from oncall_console.ui.screens.actions import ConfirmAction

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.dashboard)]
        assert "Detail  (d / enter)" in titles and "Keys  (?)" in titles
        rollback = next(t for t in titles if t.startswith("Action: Roll back"))
        assert "roll" in rollback.lower()
        health = app.dashboard.query_one("#health")
        health.focus()
        health.move_cursor(row=health.get_row_index("prediction-service"))
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"roll back")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, "the confirm", lambda: isinstance(app.screen, ConfirmAction))
        assert app.screen.prepared.target == "prediction-service"


def test_bad_ranks_above_good_without_colour():
    """NO_COLOR and 16 colours: weight tells bad from good, not colour (red came out
    dimmer, grey 243, than healthy rows, 252)."""
    from oncall_console.model import Status
    from oncall_console.ui.render import status_glyph, status_style

    assert not status_style({}, Status.OK).bold
    assert status_style({}, Status.DEGRADED).bold and status_style({}, Status.DOWN).bold
    down = status_glyph(Status.DOWN, {})
    assert down.style.reverse and down.plain == "✗"  # type: ignore[union-attr]
    assert status_glyph(Status.CRITICAL, {}).style.reverse  # type: ignore[union-attr]
    assert not status_glyph(Status.OK, {}).style.reverse  # type: ignore[union-attr]


def test_one_meaning_per_key_across_the_screens():
    """A key means one thing wherever it is pressed (t was theme on the dashboard and take
    command on an incident; s was a shift checklist there and an incident's status)."""
    from textual.binding import Binding

    from oncall_console.ui.app import OncallApp
    from oncall_console.ui.screens.closer import CloserScreen
    from oncall_console.ui.screens.dashboard import Dashboard
    from oncall_console.ui.screens.detail import DetailScreen
    from oncall_console.ui.screens.handoff import HandoffScreen
    from oncall_console.ui.screens.incident import IncidentScreen
    from oncall_console.ui.screens.rules import RulesScreen
    from oncall_console.ui.screens.runbook import RunbookScreen
    from oncall_console.ui.screens.silences import SilencesScreen
    from oncall_console.ui.screens.source_incident import SourceIncidentScreen

    same = {"close": "back", "app.pop_screen": "back", "dismiss": "back", "back_or_quit": "back"}
    meanings: dict[str, set[str]] = {}
    for cls in (
        OncallApp,
        Dashboard,
        IncidentScreen,
        RunbookScreen,
        HandoffScreen,
        SilencesScreen,
        SourceIncidentScreen,
        DetailScreen,
        CloserScreen,
        RulesScreen,
    ):
        for b in cls.BINDINGS:
            assert isinstance(b, Binding)
            meaning = (b.id or b.action).rpartition(".")[2]  # incident.take and take: one
            meaning = same.get(b.action, same.get(meaning, meaning))
            for key in b.key.split(","):
                meanings.setdefault(key, set()).add(meaning)
    # r reads again wherever it is: polls everything, runs the step's queries, reloads the
    # rules. / narrows what a screen shows (a filter, a search); 1-9 pick a panel or a view.
    meanings["r"] -= {"diagnose", "reload"}
    meanings["slash"] -= {"search"}
    for n in "123":
        meanings[n] -= {f"view{n}"}
    clashes = {key: m for key, m in meanings.items() if len(m) > 1}
    assert clashes == {}


async def test_the_palette_offers_the_alerts_panels_keys_with_their_keys():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.dashboard)]
        for title in ("Silence the alert  (z)", "Silences in force  (Z)", "Acknowledge  (A)"):
            assert title in titles
        assert "SLI range: longer  (])" in titles


async def test_past_sort_always_rows_the_worst_first_order_moves_once_a_second(monkeypatch):
    """With many rows, a partial (50 ms) sync leaves the order and the full (1 s) sync
    sorts: sorting 10,000 rows on every sync took a third of a core."""
    from oncall_console.ui.widgets import health
    from oncall_console.ui.widgets.health import HealthTable

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(HealthTable)
        monkeypatch.setattr(health, "SORT_ALWAYS", 2)  # the demo's 11 rows are "many"
        states = list(app.engine.checks.values())
        now = app.clock()
        redis = app.engine.checks["redis"]
        from oncall_console.model import CheckResult, Status

        redis.record(CheckResult("redis", Status.DOWN, "refused", at=now))

        def place() -> int:
            return [row.key.value for row in table.ordered_rows].index("redis")

        before = place()
        assert before > 1
        table.sync(states, now, app.theme_variables, full=False)
        assert place() == before  # a partial sync: not re-sorted yet
        table.sync(states, now, app.theme_variables, full=True)
        assert place() == 1  # under prediction-service, down before it
        # The worst row the header names moves the same way.
        assert table.worst() == "prediction-service"
        prediction = app.engine.checks["prediction-service"]
        prediction.record(CheckResult("prediction-service", Status.OK, "fine", at=now))
        table.sync(states, now, app.theme_variables, full=False)
        assert table.worst() == "prediction-service"  # not looked for again yet
        table.sync(states, now, app.theme_variables, full=True)
        assert table.worst() == "redis"


async def test_rows_of_equal_status_stand_as_configured_whatever_order_results_came_in():
    """Worst first, then as configured: rows that came as their results did (the
    changed checks first; with probe workers, in any order) are put back in the
    config's order by the next full sync. At 10,000 checks svc-3099 stood above
    svc-0000."""
    from oncall_console.ui.widgets.health import HealthTable

    app = demo_app(at=10)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(HealthTable)
        states = list(app.engine.checks.values())
        now = app.clock()
        table.clear()
        table._cells.clear()
        table._order.clear()
        table._versions.clear()
        table._name_cells.clear()
        table._states.clear()
        table.sync(
            list(reversed(states)), now, app.theme_variables, full=False, changed=reversed(states)
        )
        table.sync(states, now, app.theme_variables, full=True)
        shown = [row.key.value for row in table.ordered_rows]
        configured = {s.spec.name: i for i, s in enumerate(states)}
        ranks = {s.spec.name: -s.status(now).rank for s in states}
        assert shown == sorted(shown, key=lambda n: (ranks[n], configured[n]))
