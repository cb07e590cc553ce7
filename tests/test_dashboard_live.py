"""The live dashboard under a stream of results: partial syncs of the health table
(between the once-a-second full ones only checks with a new result are looked at), the
header's overall status, the bus-down notice, and the start-up heap frozen out of the
cyclic collector's way."""

from __future__ import annotations

from collections import deque

from textual.app import App, ComposeResult

from oncall_console.engine.state import CheckState
from oncall_console.model import CheckResult, CheckSpec, Status
from oncall_console.ui.widgets.health import HealthTable

NOW = 1_800_000_000.0


def state(name: str) -> CheckState:
    spec = CheckSpec(name=name, backend="web", interval=5, timeout=2)
    s = CheckState(spec=spec, history=deque(maxlen=5))
    s.record(CheckResult(check=name, status=Status.OK, summary="200 OK", latency_ms=4.0, at=NOW))
    return s


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield HealthTable()


def summary(table: HealthTable, name: str) -> str:
    return str(table.get_row(name)[4])


async def test_a_partial_sync_looks_only_at_checks_with_a_new_result() -> None:
    states = [state(f"svc-{i}") for i in range(50)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        await pilot.pause()  # the rows past the first screen come once it is painted
        assert table.row_count == 50
        # A new result for one check: only it is looked at, and its row changes.
        states[7].record(
            CheckResult(check="svc-7", status=Status.DOWN, summary="503 x", at=NOW + 1)
        )
        assert table.sync(states, NOW + 1, app.theme_variables, full=False) == [Status.DOWN]
        assert summary(table, "svc-7") == "503 x"
        # A partial sync ignores what changed without a new result (here: the clock,
        # which made every check stale); the full one sees it.
        assert table.sync(states, NOW + 60, app.theme_variables, full=False) == []
        looked = table.sync(states, NOW + 60, app.theme_variables, full=True)
        assert looked.count(Status.STALE) == 50
        await pilot.pause()


async def test_rows_share_their_equal_glyph_latency_age_and_reason_cells() -> None:
    # 10,000 rows kept four Text objects each (~290 bytes) that were equal across
    # rows (#14, point 3); each row still shows its own values.
    states = [state(f"svc-{i}") for i in range(20)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW + 3, app.theme_variables)
        rows = [table.get_row(s.spec.name) for s in states]
        for col in (0, 2, 3, 4):
            assert len({id(row[col]) for row in rows}) == 1, col
        assert len({id(row[1]) for row in rows}) == 20  # the sort knows rows by these
        facts = [table._cells[s.spec.name] for s in states]
        assert len({id(f[2]) for f in facts}) == len({id(f[3]) for f in facts}) == 1
        states[7].record(
            CheckResult(check="svc-7", status=Status.DOWN, summary="x", latency_ms=9, at=NOW + 3)
        )
        table.sync(states, NOW + 4, app.theme_variables)
        down, ok = table.get_row("svc-7"), table.get_row("svc-8")
        assert down[0] is not ok[0] and str(down[0]) == Status.DOWN.glyph
        assert (str(down[2]), str(ok[2])) == ("9ms", "4ms") and str(ok[0]) == Status.OK.glyph
        assert (str(down[4]), str(ok[4])) == ("x", "200 OK")
        await pilot.pause()


async def test_the_header_gets_worse_at_once_and_better_on_the_full_sync() -> None:
    from oncall_console.ui.widgets.header import ConsoleHeader
    from tests.support.demoapp import demo_app, settle

    app = demo_app(at=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        engine, clock = app.engine, app.fixed_clock  # type: ignore[attr-defined]
        header = app.screen.query_one(ConsoleHeader)
        state = next(iter(engine.checks.values()))
        name = state.spec.name

        def result(status: Status) -> None:
            state.record(CheckResult(check=name, status=status, summary="x", at=clock()))
            engine.version += 1
            app.dashboard.sync()  # same second: a partial sync

        before = header.overall
        assert before is not Status.DOWN
        result(Status.DOWN)
        assert header.overall is Status.DOWN
        result(Status.OK)
        assert header.overall is Status.DOWN  # better waits for the second's full sync
        clock.advance(1)
        app.dashboard.sync()
        assert header.overall is before


async def test_a_bus_that_is_down_is_a_notice_not_silence() -> None:
    # A console whose bus is down misses other consoles' changes until its next store
    # read, and never sees who else is here: say so where the sources down are said.
    from oncall_console.ui.widgets.alerts import AlertsTable
    from tests.support.demoapp import demo_app, settle

    app = demo_app(at=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertsTable)
        bus = app.engine.bus  # type: ignore[attr-defined]
        assert "notice:bus:down" not in [k.value for k in table.rows]
        bus.connected, bus.last_error = False, "connection refused (redis://bus:6379/0)"
        app.dashboard.sync(force=True)
        row = table.get_row("notice:bus:down")
        assert "bus: connection refused" in str(row[3]) and "each poll" in str(row[3])
        bus.connected, bus.last_error = True, ""
        app.dashboard.sync(force=True)
        assert "notice:bus:down" not in [k.value for k in table.rows]


async def test_the_start_up_heap_is_frozen_once_and_not_under_tests() -> None:
    import gc

    from tests.support.demoapp import demo_app, settle

    app = demo_app(at=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.is_headless and gc.get_freeze_count() == 0  # not scheduled under tests
        before = gc.get_threshold()
        try:
            app.freeze_heap()
            assert gc.get_freeze_count() > 10_000  # modules, classes, widgets, config
            assert gc.get_threshold() == (50_000, 20, 100)  # results die young
        finally:
            gc.unfreeze()
            gc.set_threshold(*before)


def age(table: HealthTable, name: str) -> str:
    return str(table.get_row(name)[3])


async def test_the_full_sync_redraws_ages_on_screen_and_a_row_scrolled_to_catches_up() -> None:
    """With 10,000 checks, rebuilding every row each second held the event loop for more
    than a second: the full sync now redraws the ages of the rows on screen only, rebuilds
    a row whose status the clock changed (stale), and a row scrolled to gets its age then."""
    states = [state(f"svc-{i:03d}") for i in range(200)]
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        await pilot.pause()
        assert age(table, "svc-000") == age(table, "svc-199") == "<5s"
        table.sync(states, NOW + 7, app.theme_variables)  # the clock alone moved
        assert age(table, "svc-000") == "5s"  # on screen
        assert age(table, "svc-199") == "<5s"  # off screen: not redrawn
        table.scroll_end(animate=False)
        await pilot.pause()
        assert age(table, "svc-199") == "5s"  # caught up when scrolled to
        looked = table.sync(states, NOW + 60, app.theme_variables)
        assert looked.count(Status.STALE) == 200  # every row, on screen or not
        assert str(table.get_row("svc-000")[0]) == str(table.get_row("svc-199")[0])


async def test_a_partial_sync_given_the_changed_checks_looks_at_those_only() -> None:
    from oncall_console.engine.changes import ChangeLog
    from oncall_console.engine.state import new_check_state

    log = ChangeLog()
    spec = CheckSpec(name="x", backend="web", interval=5, timeout=2)
    states = [new_check_state(CheckSpec(f"c{i}", "web", 5, 2), 5, log) for i in range(5)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        mark = log.mark
        states[3].record(CheckResult(check="c3", status=Status.DOWN, summary="down", at=NOW))
        changed = [s for s in states if s.spec.name in log.since(mark)]
        looked = table.sync(states, NOW, app.theme_variables, full=False, changed=changed)
        assert looked == [Status.DOWN] and summary(table, "c3") == "down"
        # The first poll's rows are other records at the same version: the live ones
        # replace them on the next full sync.
        first = state("c1")
        table.sync([first], NOW, app.theme_variables)
        live = new_check_state(spec, 5)
        live.spec = first.spec
        live.record(CheckResult(check="c1", status=Status.DEGRADED, summary="slow", at=NOW))
        assert live.version == first.version
        table.sync([live], NOW, app.theme_variables)
        assert summary(table, "c1") == "slow"
        await pilot.pause()


async def test_a_theme_change_while_the_health_filter_hides_rows_recolours_the_shown_ones():
    """restyle() walked every check, hidden ones too, and DataTable refuses a cell of a
    row it does not hold: a theme change with `/` narrowing the health panel crashed."""
    states = [state(f"svc-{i}") for i in range(5)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(HealthTable)
        table.set_filter("svc-3")
        table.sync(states, NOW, app.theme_variables)
        assert table.row_count == 1
        table.restyle(app.theme_variables)
        table.set_filter("")
        table.sync(states, NOW, app.theme_variables)
        assert table.row_count == 5
        await pilot.pause()


async def test_a_filter_that_hides_most_rows_builds_the_table_again_in_order() -> None:
    """DataTable renumbers every row on each removal: a filter typed over 10,000 checks
    removed 9,000 rows one by one and held the console for 92 s. Past BULK_REMOVE rows
    the table is built again from the rows that stay, in the same order, the cursor on
    the same check."""
    from oncall_console.ui.widgets.health import BULK_REMOVE

    n = 3 * BULK_REMOVE
    states = [state(f"svc-{i:03d}") for i in range(n)]
    states[-1].record(CheckResult(check="svc-x", status=Status.DOWN, summary="503", at=NOW))
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        await pilot.pause()  # the rows past the first screen come once it is painted
        table.move_cursor(row=table.get_row_index("svc-010"))
        calls: list[str] = []
        table.remove_row = calls.append  # type: ignore[method-assign]  # one by one: not used
        table.set_filter("svc-01")  # svc-010 .. svc-019 and svc-01x: 10 rows stay
        table.sync(states, NOW, app.theme_variables)
        del table.remove_row
        assert calls == []
        names = [row.key.value for row in table.ordered_rows]
        assert names == [f"svc-{i:03d}" for i in range(10, 20)]
        assert table.selected_key == "svc-010"
        table.set_filter("")
        table.sync(states, NOW, app.theme_variables)
        names = [row.key.value for row in table.ordered_rows]
        assert names[0] == f"svc-{n - 1:03d}" and len(names) == n  # worst first again
        await pilot.pause()


async def test_a_large_start_adds_rows_in_batches() -> None:
    """10,000 rows added in one sync held the console for ~1 s when the engine came in:
    ADD_PER_SYNC rows a sync, the rest in batches a moment later, in the same order."""
    from oncall_console.ui.widgets.health import ADD_PER_SYNC

    n = 2 * ADD_PER_SYNC + 7
    states = [state(f"svc-{i:04d}") for i in range(n)]
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        assert table.row_count == 24  # a screenful before the first paint, then batches
        await pilot.press("down")
        assert table.cursor_row == 1
        for _ in range(50):
            if table.row_count == n:
                break
            await pilot.pause(0.02)
        assert table.row_count == n
        assert [r.key.value for r in table.ordered_rows] == [s.spec.name for s in states]


async def test_the_cursor_stays_on_the_worst_row_until_the_engineer_moves_it() -> None:
    """At start-up every row waits (UNKNOWN, ranked above OK), and the answered ones sink:
    the cursor followed the first row's check down to row ~9,600 of 10,000 and took the
    view with it, the failing checks off screen. It stays on top until moved; once the
    engineer moves it, it follows its check."""
    states = [state(f"svc-{i:02d}") for i in range(40)]
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        states[30].record(CheckResult(check="svc-30", status=Status.DOWN, summary="x", at=NOW))
        table.sync(states, NOW, app.theme_variables)
        assert table.cursor_row == 0 and table.selected_key == "svc-30"
        assert table.scroll_y == 0
        await pilot.press("down")  # the engineer's choice: svc-00
        states[20].record(CheckResult(check="svc-20", status=Status.DOWN, summary="x", at=NOW))
        table.sync(states, NOW, app.theme_variables)
        assert table.selected_key == "svc-00"


async def test_the_first_frame_composes_a_screenful_worst_first_and_the_rest_follow() -> None:
    """200 rows composed before the first paint held the first result back ~25 ms
    (#14, point 1). The first frame gets the rows a screen shows, chosen as the sort
    places them, so nothing moves when the rest come right after it."""
    states = [state(f"svc-{i:03d}") for i in range(200)]
    states[150].record(CheckResult(check="svc-150", status=Status.DOWN, summary="x", at=NOW))
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(HealthTable)
        table.sync(states, NOW, app.theme_variables)
        first = [r.key.value for r in table.ordered_rows]
        assert first == ["svc-150", *(f"svc-{i:03d}" for i in range(23))]
        for _ in range(50):
            if table.row_count == 200:
                break
            await pilot.pause(0.02)
        settled = [r.key.value for r in table.ordered_rows]
        assert len(settled) == 200 and settled[:24] == first


async def test_a_second_that_changes_no_title_repaints_no_panel() -> None:
    # Every full sync (once a second) set the Health panel's "probed by" subtitle, to ""
    # when no bus shares probes; Textual repaints a widget whole, border and rows, on any
    # title assignment: ~8 KB a second to a terminal over SSH (no tmux to diff it).
    from tests.support.demoapp import demo_app, settle

    app = demo_app(at=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panels = list(app.screen.query(".panel"))
        assert len(panels) >= 3
        repaints: list[str] = []
        for panel in panels:
            whole = panel.refresh

            def counting(*regions, _whole=whole, _id=panel.id, **kwargs):
                if not regions:
                    repaints.append(_id)
                return _whole(*regions, **kwargs)

            panel.refresh = counting  # type: ignore[method-assign]
        clock = app.fixed_clock  # type: ignore[attr-defined]
        for _ in range(3):
            clock.advance(1)
            app.dashboard.sync()
        assert repaints == []
