"""Finding one alert among thousands: / opens the filter, typing narrows, escape gives all back."""

from __future__ import annotations

from oncall_console.model import Alert, Severity
from oncall_console.ui.widgets.alert_filter import AlertFilter
from oncall_console.ui.widgets.alerts import MAX_ALERT_ROWS, MORE_KEY, AlertsTable
from tests.support.demoapp import EPOCH, demo_app, settle


def storm(count: int) -> list[Alert]:
    """A flood of alerts from one Alertmanager, one per host, a few of them on checkout."""
    return [
        Alert(
            fingerprint=f"fp{n:05d}",
            name="CheckoutLatencyHigh" if n % 1000 == 7 else "NodeDiskFilling",
            severity=Severity.SEV3,
            summary=f"disk 91% on host-{n:05d}",
            starts_at=EPOCH - 600,
            labels={"instance": f"host-{n:05d}", "team": "payments" if n % 2 else "infra"},
            source="am",
        )
        for n in range(count)
    ]


async def flood(app: object, alerts: list[Alert]) -> None:
    engine = app.engine  # type: ignore[attr-defined]
    feed = next(iter(engine.feeds.values()))
    feed.alerts = alerts
    engine.version += 1
    app.dashboard.sync(force=True)  # type: ignore[attr-defined]


def alert_keys(table: AlertsTable) -> list[str]:
    return [str(k.value) for k in table.rows if str(k.value).startswith("alert:")]


def panel_title(app: object) -> str:
    return str(app.screen.query_one("#alerts-panel").border_title)  # type: ignore[attr-defined]


async def test_ten_thousand_alerts_draw_a_page_and_count_the_rest():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await flood(app, storm(10_000))
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        assert len(alert_keys(table)) == MAX_ALERT_ROWS
        more = table.get_row(MORE_KEY)
        assert f"{10_000 - MAX_ALERT_ROWS:,} more alerts" in more[3].plain


async def test_slash_filters_by_label_and_escape_gives_every_alert_back():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await flood(app, storm(10_000))
        await pilot.press("3", "slash")  # / filters the focused panel: the alerts
        box = app.screen.query_one("#alerts-filter", AlertFilter)
        assert box.display and box.has_focus and box.content_size.height == 1  # one line
        await pilot.press(*"CHECKOUT")  # any case; "q", "a", "d" type letters, not keys
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        assert alert_keys(table) == [f"alert:fp{n:05d}" for n in range(7, 10_000, 1000)]
        assert MORE_KEY not in [k.value for k in table.rows]
        assert "10 of 10," in panel_title(app) and '"CHECKOUT"' in panel_title(app)

        box.value = ""
        await pilot.press(*"host-05007")
        await pilot.pause()
        assert alert_keys(table) == ["alert:fp05007"]
        await pilot.press("enter")  # keep the filter, walk the rows
        assert table.has_focus and box.display

        await pilot.press("slash", "escape")
        await pilot.pause()
        assert not box.display and box.value == ""
        assert table.has_focus
        assert len(alert_keys(table)) == MAX_ALERT_ROWS
        assert panel_title(app) == "Incidents & alerts"


async def test_remote_text_and_the_typed_filter_stay_plain_text():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        evil = Alert(
            fingerprint="evil",
            name="[bold red]Pwned[/]",
            severity=Severity.SEV2,
            summary="click \x1b]8;;http://x\x07here\x1b]8;;\x07 [link=http://x]now[/link]",
            starts_at=EPOCH,
            source="am",
        )
        await flood(app, [evil])
        await pilot.press("3", "slash", *"[bold")
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        assert alert_keys(table) == ["alert:evil"]
        what = table.get_cell("alert:evil", "what")
        assert what.plain.startswith("[bold red]Pwned[/]: click here [link=http://x]now[/link]")
        assert "\x1b" not in what.plain and not what.spans
        assert '"[bold"' in panel_title(app)


async def test_a_poll_under_the_filter_shows_what_changed_and_only_that():
    # Each poll hands the table a new list; unchanged alerts are the very same objects.
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        alerts = storm(10_000)
        await flood(app, alerts)
        await pilot.press("3", "slash", *"host-0500")
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        assert alert_keys(table) == [f"alert:fp0500{n}" for n in range(10)]

        await flood(app, list(alerts))  # nothing changed: the filter's result is kept
        await pilot.pause()
        assert alert_keys(table) == [f"alert:fp0500{n}" for n in range(10)]

        changed = list(alerts)
        worse = alerts[5003]
        changed[5003] = Alert(**{**_fields(worse), "summary": "disk 99% on host-05003"})
        moved = alerts[5004]
        changed[5004] = Alert(
            **{**_fields(moved), "labels": {"instance": "host-7"}, "summary": "disk on host-7"}
        )
        await flood(app, changed)
        await pilot.pause()
        assert alert_keys(table) == [f"alert:fp0500{n}" for n in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
        assert "disk 99% on host-05003" in table.get_cell("alert:fp05003", "what").plain

        resolved = changed[:5005] + changed[5006:]  # a poll brings a new list, always
        await flood(app, resolved)
        await pilot.pause()
        assert alert_keys(table) == [f"alert:fp0500{n}" for n in (0, 1, 2, 3, 6, 7, 8, 9)]
        assert "· 8 of " in panel_title(app)


def _fields(alert: Alert) -> dict[str, object]:
    return {name: getattr(alert, name) for name in Alert.__dataclass_fields__}


async def test_a_typed_letter_filters_the_rows_and_the_title_in_the_same_step():
    # Applied while the key is handled (not one message hop later), so the letter, the
    # rows and the panel's count land in one frame.
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await flood(app, storm(10_000))
        await pilot.press("3", "slash")  # / filters the focused panel: the alerts
        box = app.screen.query_one("#alerts-filter", AlertFilter)
        table = app.screen.query_one(AlertsTable)
        box.value = "host-05007"  # no await: nothing else has run since
        assert alert_keys(table) == ["alert:fp05007"]
        assert "1 of 10," in panel_title(app) and '"host-05007"' in panel_title(app)


def test_a_filter_typed_in_one_burst_lands_whole_over_a_real_terminal():
    """`3/disk` in one write (a paste, a slow SSH link): Textual dispatched the burst to
    the panel focused before `/` ran, and the `i` of "disk" asked to declare an
    incident. `/` is a priority binding and the filter takes the focus at once."""
    from tests.support.terminal import Terminal

    with Terminal("alex", ["demo"], env={"NO_COLOR": "1"}, cols=100, rows=30) as console:
        console.wait_for("the dashboard", "Incidents & alerts")
        console.wait_for("the engine", "DiskUsageHigh")
        console.press("3/disk")
        shown = console.wait_for("the filter", 'match "disk"')
        assert "y = yes" not in shown  # no prompt to declare an incident
        console.press("\x1b")
        console.wait_for("the filter closed", lambda s: 'match "disk"' not in s)
        # 1 then / in one burst: / is a priority key, read ahead of a plain 1 queued before
        # it, and opened the alerts filter again; 1, 2, 3 are priority keys too now.
        console.press("1/redis")
        shown = console.wait_for("the health filter", lambda s: "Health · 1 of" in s)
        assert "y = yes" not in shown  # no prompt to declare an incident
        assert "Incidents & alerts ·" not in shown
        # Enter keeps the filter and gives the keys back to the panel at once: a key right
        # behind it (here ?, the help) went into the filter as text ("redis?").
        console.press("\r?")
        shown = console.wait_for("the help, from the panel", "esc close")
        assert 'match "redis?"' not in shown
