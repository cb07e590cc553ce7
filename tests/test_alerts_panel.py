"""The alerts panel as an on-call engineer works it (issue #15, point 6): silence the
selected alert and expire the silence again, through the one action path; see the
silences in force; an incident's alerts under it; a source's incident says who owns it
and how to take it over."""

from __future__ import annotations

from typing import Any

from oncall_console.model import AlertState
from oncall_console.ui.screens.actions import ConfirmAction, ParamsForm
from oncall_console.ui.widgets.alerts import AlertsTable
from tests.support.demoapp import demo_app, settle
from tests.test_help_keys import screen_text, until

AT = 400  # INC-2041 is open with two alerts; RedisMemoryHigh and DiskUsageHigh fire apart


def select(app: Any, name: str) -> AlertsTable:
    """Focus the alerts panel on the row of the alert called ``name``."""
    table = app.dashboard.query_one(AlertsTable)
    table.focus()
    keys = [k.value for k in table.rows]
    fp = next(a.fingerprint for a in app.oncall.alerts() if a.name == name)
    table.move_cursor(row=keys.index(f"alert:{fp}"))
    return table


async def polled(pilot: Any) -> None:
    app = pilot.app
    await app.workers.wait_for_complete()
    await app.engine.poll_once()
    app.dashboard.sync(force=True)
    await pilot.pause()


async def test_z_silences_the_selected_alert_and_X_in_the_silences_list_expires_it():
    app = demo_app(at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        select(app, "RedisMemoryHigh")
        await pilot.press("z")
        await until(pilot, "the form", lambda: isinstance(app.screen, ParamsForm))
        form = app.screen
        assert "alert RedisMemoryHigh" in form.subject and "by alex" in form.subject
        assert form.fields["comment"].has_focus  # matchers and duration are filled in
        assert 'alertname="RedisMemoryHigh"' in form.values["matchers"]
        assert 'service="redis"' in form.values["matchers"]
        await pilot.press(*"resizing redis, known", "ctrl+s")
        await until(pilot, "the confirm", lambda: isinstance(app.screen, ConfirmAction))
        preview = app.screen.prepared.preview
        assert "for 1h by alex: resizing redis, known" in preview
        assert "Mutes 1 alert(s) firing now: RedisMemoryHigh" in preview
        await pilot.press("y")
        await polled(pilot)

        trail = await app.engine.store.audit()
        assert [(r.kind, r.action, r.outcome) for r in trail] == [
            ("intent", "silence", "outcome unknown"),
            ("result", "silence", "succeeded"),
        ]
        (silence,) = app.oncall.silences()
        assert silence.created_by == "alex" and silence.comment == "resizing redis, known"
        assert silence.ends_at - app.clock() == 3600
        redis = next(a for a in app.oncall.alerts() if a.name == "RedisMemoryHigh")
        assert redis.state is AlertState.SUPPRESSED
        assert "suppressed" in screen_text(app)

        await pilot.press("Z")
        await until(pilot, "the silences", lambda: type(app.screen).__name__ == "SilencesScreen")
        text = screen_text(app)
        assert "Silences in force" in text and "resizing redis, known" in text
        await pilot.press("X")
        await until(pilot, "the confirm", lambda: isinstance(app.screen, ConfirmAction))
        assert silence.id in app.screen.prepared.preview
        assert "RedisMemoryHigh" in app.screen.subject
        await pilot.press("y")
        await polled(pilot)
        assert app.oncall.silences() == []
        kinds = [(r.kind, r.action, r.outcome) for r in await app.engine.store.audit()]
        assert kinds[-1] == ("result", "expire-silence", "succeeded")
        app.screen.sync(force=True)
        await pilot.pause()
        assert "No silence in force" in screen_text(app)
        redis = next(a for a in app.oncall.alerts() if a.name == "RedisMemoryHigh")
        assert redis.state is AlertState.ACTIVE


async def test_silencing_starts_from_an_alert_and_a_read_only_console_refuses_it():
    app = demo_app(at=AT, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.dashboard.query_one("#health").focus()
        await pilot.press("z")
        await pilot.pause()
        assert app.screen is app.dashboard
        assert any("starts from an alert" in n.message for n in app._notifications)
        select(app, "RedisMemoryHigh")
        await pilot.press("z")
        await pilot.pause()
        assert app.screen is app.dashboard
        assert any("Read-only console" in n.message for n in app._notifications)


async def test_an_incidents_alerts_are_drawn_under_it_not_as_rows_of_their_own():
    app = demo_app(at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(AlertsTable)
        keys = [k.value for k in table.rows]
        incident = next(i for i in app.oncall.incident_list() if i.id == "INC-2041")
        assert len(incident.alerts) == 2
        at = keys.index("incident:INC-2041")
        under = keys[at + 1 : at + 1 + len(incident.alerts)]
        assert sorted(under) == sorted(f"alert:{fp}" for fp in incident.alerts)
        assert len(keys) == len(set(keys)) == 1 + len(app.oncall.alerts())  # each once
        lines = screen_text(app).splitlines()
        row = next(n for n, line in enumerate(lines) if "INC-2041" in line)
        assert all("└" in lines[row + k] for k in (1, 2))
        # The filter finds an attached alert, and shows it under its incident.
        await pilot.press("3", "slash", *"predictionservicedown")
        await pilot.pause()
        keys = [k.value for k in table.rows]
        assert keys[0] == "incident:INC-2041" and len(keys) == 2


async def test_a_sources_incident_says_who_owns_it_and_t_takes_it_over():
    from oncall_console.ui.screens.incident import IncidentScreen
    from oncall_console.ui.screens.prompts import YesNoPrompt
    from oncall_console.ui.screens.source_incident import SourceIncidentScreen

    app = demo_app(at=AT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(AlertsTable)
        table.focus()
        table.move_cursor(row=0)
        assert table.selected_key == "incident:INC-2041"
        await pilot.press("enter")
        await until(pilot, "the box", lambda: isinstance(app.screen, SourceIncidentScreen))
        text = screen_text(app)
        assert "Owned by demo · commander r.okafor" in text
        assert "t takes it over: this console declares" in text
        await pilot.press("t")
        await until(pilot, "asks", lambda: isinstance(app.screen, YesNoPrompt))
        await pilot.press("y")
        await until(pilot, "its screen", lambda: isinstance(app.screen, IncidentScreen))
        screen = app.screen
        await until(pilot, "loaded", lambda: screen.record is not None)
        assert screen.record.commander == "alex"
        assert any("Taken over from INC-2041" in e.text for e in screen.timeline)
        assert any("Took over INC-2041 as" in n.message for n in app._notifications)


async def test_a_read_only_console_says_who_owns_a_sources_incident_and_offers_no_take_over():
    from oncall_console.ui.screens.source_incident import SourceIncidentScreen

    app = demo_app(at=AT, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.dashboard.query_one(AlertsTable)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await until(pilot, "the box", lambda: isinstance(app.screen, SourceIncidentScreen))
        assert "cannot take it over" in screen_text(app)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, SourceIncidentScreen)


async def test_toasts_never_cover_the_selected_row_at_80x24():
    """Textual stacks toasts bottom right: at 80x24 that hid the alerts panel's selected row
    (issue #15, point 7). They go to the half of the screen the cursor row is not in, and
    leave no stray characters at the right edge."""
    from textual.widgets._toast import Toast

    from oncall_console.ui.widgets.health import HealthTable
    from oncall_console.ui.widgets.toasts import cursor_y

    app = demo_app(at=AT)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)

        def covering(table: Any) -> list[Any]:
            y = cursor_y(table)
            assert y is not None
            regions = [t.region for t in app.screen.query(Toast)]
            return [r for r in regions if r.y <= y < r.bottom]

        async def covered(table: Any) -> list[Any]:
            """The toasts over the table's cursor row once they have moved: the rack
            moves a refresh after the focus does, later still on a loaded host."""
            await until(pilot, "toasts shown", lambda: bool(app.screen.query(Toast)))
            try:
                await until(pilot, "the toasts moved", lambda: not covering(table), 5.0)
            except AssertionError:
                pass  # the assert below shows where they are
            regions = [t.region for t in app.screen.query(Toast)]
            # Flush with the right edge: a two-column gap showed the screen under it.
            assert all(r.right == 80 for r in regions)
            return covering(table)

        alerts = app.dashboard.query_one(AlertsTable)
        alerts.focus()
        alerts.move_cursor(row=alerts.row_count - 1)
        await pilot.pause()
        app.notify("Polling everything now: a toast long enough to wrap onto lines", timeout=30)
        app.notify("and a second one, as an action's result would be", timeout=30)
        await pilot.pause()
        assert await covered(alerts) == []

        health = app.dashboard.query_one(HealthTable)
        health.focus()
        health.move_cursor(row=1)
        await pilot.pause()
        assert await covered(health) == []


async def test_A_on_an_incident_row_acknowledges_it_after_a_y_and_says_so():
    from oncall_console.ui.screens.prompts import YesNoPrompt
    from tests.test_incident_screen import declare

    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await declare(pilot)
        iid = screen.incident_id
        await pilot.press("escape")
        await until(pilot, "the dashboard", lambda: app.screen is app.dashboard)
        app.dashboard.sync(force=True)
        await pilot.pause()
        table = app.dashboard.query_one(AlertsTable)
        table.focus()
        table.move_cursor(row=[k.value for k in table.rows].index(f"incident:{iid}"))
        await pilot.press("A")
        await until(pilot, "asks", lambda: isinstance(app.screen, YesNoPrompt))
        await pilot.press("n")  # the second key: n acknowledges nothing
        await until(pilot, "back", lambda: app.screen is app.dashboard)
        assert not app.engine.incident_service.cached(iid).acknowledged_at
        await pilot.press("A")
        await until(pilot, "asks", lambda: isinstance(app.screen, YesNoPrompt))
        await pilot.press("y")
        await until(
            pilot,
            "acknowledged",
            lambda: bool(app.engine.incident_service.cached(iid).acknowledged_at),
        )
        await until(
            pilot,
            "told",
            lambda: any(f"Acknowledged {iid}" in n.message for n in app._notifications),
        )

        table.move_cursor(row=[k.value for k in table.rows].index("incident:INC-2041"))
        await pilot.press("A")  # a source's incident: where to take it over
        await pilot.pause()
        assert app.screen is app.dashboard
        assert any("t takes it over" in n.message for n in app._notifications)


def test_only_an_open_incident_holds_its_alerts():
    from oncall_console.model import Alert, Incident, IncidentStatus, Severity

    fired = Alert("fp1", "HighErrorRate", Severity.SEV2, "5xx")
    other = Alert("fp2", "RedisMemoryHigh", Severity.SEV3, "memory")
    table = AlertsTable()

    def incident(status: IncidentStatus) -> Incident:
        return Incident("INC-1", "5xx", Severity.SEV2, status, 0.0, alerts=("fp1",))

    under, rest = table._attached([incident(IncidentStatus.INVESTIGATING)], [fired, other])
    assert under == {"INC-1": [fired]} and rest == [other]
    # Resolved: the same alert firing again is news, on a row of its own.
    under, rest = table._attached([incident(IncidentStatus.RESOLVED)], [fired, other])
    assert under == {} and rest == [fired, other]


def test_the_matchers_made_from_an_alert_are_alertmanagers_and_match_only_it():
    from oncall_console.backends.alertmanager.matchers import parse_matchers
    from oncall_console.model import Alert, Severity
    from oncall_console.ui.screens.silences import matchers_for

    labels = {"alertname": "HighLatency", "service": 'api "v2"', "path": "C:\\tmp", "env": "prod"}
    alert = Alert("fp", "HighLatency", Severity.SEV2, "slow", labels=labels)
    text = matchers_for([alert])
    assert text.startswith('alertname="HighLatency",')
    parsed = parse_matchers(text)
    assert all(m.matches(labels) for m in parsed)
    assert not all(m.matches({**labels, "env": "staging"}) for m in parsed)
    # A folded group: the labels its alerts share, not one alert's.
    sibling = Alert("fp2", "HighLatency", Severity.SEV2, "slow", labels={**labels, "env": "dr"})
    assert "env" not in matchers_for([alert, sibling])
