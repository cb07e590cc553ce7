"""The incident screen with Pilot, on the demo (fixed clock): declare from an alert, the
clocks and the next step as the policy moves, the changes a commander makes, status
messages copied or posted through a real http webhook, read-only refusals, hostile text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList, Static

from oncall_console.ui.screens.incident import IncidentScreen
from oncall_console.ui.screens.message import MessageScreen
from oncall_console.ui.screens.prompts import ChoicePrompt, TextPrompt
from tests.support.demoapp import demo_app, select_first_alert, settle
from tests.support.httpserver import LocalServer, serve


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def told(app: Any, text: str) -> bool:
    """A toast says ``text``."""
    return any(text in n.message for n in app._notifications)


def timeline_text(screen: Any) -> str:
    table = screen.query_one("#incident-timeline", DataTable)
    return "\n".join(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))


async def wait_for(pilot: Any, condition: Any, what: str) -> None:
    for _ in range(300):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


async def declare(pilot: Any) -> IncidentScreen:
    app = pilot.app
    await settle(pilot)
    select_first_alert(app)
    await pilot.press("i")
    await wait_for(pilot, lambda: type(app.screen).__name__ == "YesNoPrompt", "declare prompt")
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen), "incident screen")
    screen = app.screen
    await wait_for(pilot, lambda: screen.record is not None, "incident loaded")
    return screen


async def choose(pilot: Any, value: str) -> None:
    """In a ChoicePrompt: move to ``value`` and press enter."""
    prompt = pilot.app.screen
    assert isinstance(prompt, ChoicePrompt)
    options = prompt.query_one(OptionList)
    options.highlighted = [v for v, _ in prompt.choices].index(value)
    await pilot.press("enter")


async def type_line(pilot: Any, text: str) -> None:
    prompt = pilot.app.screen
    assert isinstance(prompt, TextPrompt)
    prompt.query_one(Input).value = text
    await pilot.press("enter")


async def test_declare_opens_the_incident_and_the_commander_works_it():
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await declare(pilot)
        iid = screen.incident_id
        head = text_of(screen, "#incident-head")
        assert iid in head and "SEV2" in head and "investigating" in head
        assert "commander nobody" in head
        # Not acknowledged yet: the response clock runs and the next step says so.
        assert "due in" in text_of(screen, "#incident-clocks")
        steps = text_of(screen, "#incident-next")
        assert "Acknowledge within" in steps and "take it (t)" in steps

        await pilot.press("A")  # a second key: it says what it will do, y does it
        await wait_for(pilot, lambda: type(app.screen).__name__ == "YesNoPrompt", "ack asks")
        await pilot.press("y")
        await wait_for(pilot, lambda: "acknowledged" in timeline_text(screen), "ack on timeline")
        assert "acked after" in text_of(screen, "#incident-clocks")
        assert "Acknowledge within" not in text_of(screen, "#incident-next")

        await pilot.press("t")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "YesNoPrompt", "cmd asks")
        await pilot.press("y")
        await wait_for(pilot, lambda: "commander alex" in text_of(screen, "#incident-head"), "cmd")

        await pilot.press("n")
        await type_line(pilot, "pool at 94 %, [bold]not[/] markup \x1b[31m")
        await wait_for(pilot, lambda: "pool at 94 %" in timeline_text(screen), "note")
        await wait_for(pilot, lambda: told(app, f"Note added to {iid}."), "the note is told")
        assert "[bold]not[/] markup" in timeline_text(screen)  # data, shown as typed
        assert "\x1b" not in timeline_text(screen)

        await pilot.press("s")
        await choose(pilot, "identified")
        await type_line(pilot, "pool exhausted by a batch job")
        await wait_for(pilot, lambda: "identified" in text_of(screen, "#incident-head"), "status")
        # Every change says what it did, naming the incident (issue #15, point 5).
        said = f"{iid} is identified now (was investigating)"
        await wait_for(pilot, lambda: told(app, said), "the status change is told")
        assert "pool exhausted by a batch job" in timeline_text(screen)

        await pilot.press("v")
        await choose(pilot, "SEV1")
        await wait_for(pilot, lambda: "SEV1" in text_of(screen, "#incident-head"), "severity")
        said = f"{iid} is SEV1 now (was SEV2)"
        await wait_for(pilot, lambda: told(app, said), "the severity change is told")

        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), "hand over asks who")
        await pilot.press("ctrl+u")
        await type_line(pilot, "sam")
        said = f"{iid}: command handed to sam (was alex)"
        await wait_for(pilot, lambda: told(app, said), "the hand-over is told")
        await pilot.press("t")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "YesNoPrompt", "asks again")
        await pilot.press("y")
        await wait_for(pilot, lambda: told(app, f"alex has command of {iid}."), "taken back")

        record = app.engine.incident_service.cached(iid)
        assert (record.status, record.severity, record.commander) == ("identified", 1, "alex")
        kinds = [e.kind for e in await app.engine.incident_service.timeline(iid)]
        for kind in ("alert fired", "acknowledged", "commander", "note", "status", "severity"):
            assert kind in kinds

        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_the_clocks_move_and_the_next_step_is_prompted_when_due():
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await declare(pilot)
        await pilot.press("v")
        await choose(pilot, "SEV1")
        await wait_for(pilot, lambda: "SEV1" in text_of(screen, "#incident-head"), "SEV1")
        assert "next secondary on-call in" in text_of(screen, "#incident-clocks")

        app.fixed_clock.advance(16 * 60)  # SEV1: 15 min to respond, secondary at 15 min
        screen.sync()
        await pilot.pause()
        steps = text_of(screen, "#incident-next")
        assert "Response time passed" in steps
        assert "Engage secondary on-call (PagerDuty)" in steps
        assert "BREACHED" in text_of(screen, "#incident-clocks")
        told = [n.message for n in app._notifications]
        assert any("Engage secondary on-call" in m for m in told)

        app.fixed_clock.advance(15 * 60)  # 31 min: the lead, and the update is overdue
        screen.sync()
        await pilot.pause()
        steps = text_of(screen, "#incident-next")
        assert "Engage engineering lead" in steps
        assert "Status update overdue" in steps

        # Posting the update restarts its clock; the prompt goes away.
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), "message screen")
        message = app.screen
        await wait_for(pilot, lambda: message.text != "", "message rendered")
        assert screen.incident_id in message.text
        await pilot.press("2")
        await wait_for(pilot, lambda: message.kind == "update", "update message")
        await pilot.press("c")
        assert app.clipboard == message.text
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen, "back on the incident")
        await wait_for(
            pilot, lambda: "overdue" not in text_of(screen, "#incident-next"), "update posted"
        )
        assert "update message posted" in timeline_text(screen)


async def test_a_message_is_posted_through_the_webhook_after_confirmation(server):
    def with_chat(data: dict[str, Any]) -> None:
        data["backends"]["chat"] = {
            "type": "http",
            "webhooks": {
                "post": {
                    "url": server.url("/hook/chat"),
                    "method": "POST",
                    "title": "Post to the incident channel",
                    "body": {"text": "{message}", "status": "{status}", "sev": "{severity}"},
                    "params": {
                        "message": {"kind": "text"},
                        "status": {"kind": "str"},
                        "severity": {"kind": "str"},
                        "channel": {"kind": "name", "default": "incidents"},
                    },
                    "target": "channel",
                }
            },
        }
        data.setdefault("incidents", {})["post_to"] = ["chat.post"]

    app = demo_app(at=90, extra=with_chat)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await declare(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), "message screen")
        message = app.screen
        await wait_for(pilot, lambda: message.text != "", "message rendered")
        await pilot.press("p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmAction", "confirm")
        preview = str(app.screen.prepared.preview)
        assert "/hook/chat" in preview
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen, "back on the incident")
        sent = [r for r in server.requests if "/hook/chat" in r["path"] and "body" in r]
        assert len(sent) == 1
        body = json.loads(sent[0]["body"])
        assert body["text"] == message.text and "\n" in body["text"]  # several lines kept
        assert (body["status"], body["sev"]) == ("investigating", "SEV2")
        await wait_for(pilot, lambda: "message posted" in timeline_text(screen), "posted")
        assert "on incidents: succeeded" in timeline_text(screen), timeline_text(screen)


async def test_read_only_console_shows_the_incident_but_changes_nothing():
    app = demo_app(at=90, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        service = app.engine.incident_service
        # A console at a desk declares on the same store; this one only looks.
        from oncall_console.incidents import IncidentService

        desk = IncidentService(
            app.engine.store._store,
            clock=app.engine.clock,
            operator="sam",
            policy=service.policy,
        )
        alert = next(a for a in app.engine.alerts())
        record = await desk.declare(from_alert=alert, title="[red]x[/] \x1b]52;c;aGk=\x07db")
        await service.refresh()
        app.push_screen(IncidentScreen(record.id))
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen), "screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.record is not None, "loaded")
        head = text_of(screen, "#incident-head")
        assert "[red]x[/]" in head and "\x1b" not in head and "\x07" not in head
        before = len(await service.timeline(record.id))
        for key in ("A", "t", "n", "s", "v", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, key
        assert len(await service.timeline(record.id)) == before


async def test_fits_80x24():
    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await declare(pilot)
        timeline = screen.query_one("#incident-timeline", DataTable)
        assert timeline.region.height >= 5  # room for the timeline under the clocks
        assert screen.query_one("#incident-next").region.bottom <= timeline.region.y


async def test_the_dashboard_tells_a_due_step_once():
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        service = app.engine.incident_service
        alert = next(a for a in app.engine.alerts())
        record = await service.declare(from_alert=alert, severity="SEV1")
        await service.refresh()
        app.fixed_clock.advance(16 * 60)
        app.tick()  # the app tells due steps wherever the operator is looking, once
        app.tick()
        await pilot.pause()
        told = [n.message for n in app._notifications if n.title.startswith(record.id)]
        assert sorted(told) == sorted(
            [
                "Response time passed 1:00 ago: acknowledge it (A)",
                "Engage secondary on-call (PagerDuty): 16 min open",
            ]
        )


async def test_the_incident_runbook_is_linked_and_its_progress_shown():
    from oncall_console.ui.screens.runbook import RunbookScreen

    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await declare(pilot)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen), "runbook screen")
        runbook = app.screen
        assert runbook.scope == screen.incident_id
        await wait_for(pilot, lambda: runbook.selected() is not None, "a step selected")
        await pilot.press("space")
        await wait_for(pilot, lambda: any(p.done for p in runbook.progress.values()), "ticked")
        await pilot.press("escape")
        total = len(runbook.runbook.steps)
        await wait_for(
            pilot,
            lambda: (
                f"runbook {runbook.runbook.id} 1/{total} steps" in text_of(screen, "#incident-head")
            ),
            "progress in the head",
        )
        kinds = [e.kind for e in await app.engine.incident_service.timeline(screen.incident_id)]
        assert "runbook" in kinds and "step" in kinds


async def test_enter_on_a_timeline_entry_shows_all_of_it():
    from oncall_console.ui.screens.detail import DetailScreen

    app = demo_app(at=90)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await declare(pilot)
        long = "x" * 150 + " the end of a long note"
        await app.engine.incident_service.note(screen.incident_id, long)
        await screen.reload()
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        assert "the end of a long note" in str(app.screen.body)
        await pilot.press("escape")
        assert app.screen is screen


def test_presence_lingers_25_s_after_the_last_word():
    from types import SimpleNamespace

    from oncall_console.ui.screens.incident import PRESENCE_TTL, present_on

    said = {"incident": "INC-1001", "operator": "alex", "doing": "incident", "at": 100.0}
    engine = SimpleNamespace(presence=lambda: {"alex-bastion:1": said})
    assert present_on(engine, "INC-1001", 100.0 + PRESENCE_TTL) == ["alex (incident)"]  # type: ignore[arg-type]
    assert present_on(engine, "INC-1001", 100.1 + PRESENCE_TTL) == []  # type: ignore[arg-type]
    assert present_on(engine, "INC-1002", 101.0) == []  # type: ignore[arg-type]
    assert PRESENCE_TTL == 25.0


async def test_an_entry_of_another_day_says_which_day():
    # The demo's alert fired before the incident; on another day its row carries the date,
    # so it does not read as "21:24:33 above 09:24:34".
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await declare(pilot)
        table = screen.query_one("#incident-timeline", DataTable)
        first = str(table.get_row_at(0)[0])
        assert len(first) == 8 and first.count(":") == 2  # today: 08:00:..
        app.fixed_clock.advance(2 * 86400)  # type: ignore[attr-defined]
        screen.timeline = list(screen.timeline)
        screen._row_keys = []
        table.clear()
        screen._fill_timeline()
        assert str(table.get_row_at(0)[0]).startswith("Jan 15 ")  # the fixed clock's day


async def test_a_live_screen_is_synced_only_while_its_widgets_are_all_there():
    """A teammate's note came while an incident screen was being composed (or taken
    down): the app's repaint of the live screen on top found its head but not its
    timeline, and the console ended with NoMatches (CI, two consoles on one store).
    A sync then waits for the screen's own first one (on mount) or does nothing."""
    app = demo_app(at=90)
    async with app.run_test(size=(100, 30)) as pilot:
        first = await declare(pilot)
        incident = first.incident_id
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "back on the dashboard")
        second = IncidentScreen(incident)
        mounting = app.push_screen(second)  # on the stack, not composed yet
        app.tick()  # what an engine change does: the live screen on top repaints
        second.sync(force=True)
        await mounting
        await wait_for(pilot, lambda: second.record is not None, "loaded")
        assert second.query_one(DataTable).row_count > 0  # its own first sync came
        await app.pop_screen()
        second.sync(force=True)  # its 1 s timer, once the screen is taken down
        first.sync(force=True)
        assert app.screen is app.main_screen
