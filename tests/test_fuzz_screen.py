"""The assembled console, fed hostile remote text: the demo app with fuzzed check
summaries, alert names, labels and summaries, SLI errors and feed errors injected into
the engine. Whatever the dashboard, the detail views and the handoff report put on the
screen holds nothing a terminal would act on, and markup stays literal."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oncall_console.engine.api import OnCall
from oncall_console.engine.handoff import HandoffOptions, build_report
from oncall_console.model import (
    ActionRequest,
    Alert,
    AlertState,
    CheckResult,
    Severity,
    Status,
    SubStatus,
)
from oncall_console.ui.screens.actions import ConfirmAction
from oncall_console.ui.screens.detail import DetailScreen
from oncall_console.ui.widgets.alerts import AlertsTable
from oncall_console.ui.widgets.health import HealthTable
from tests.support.demoapp import demo_app, settle

CORPUS = json.loads(
    (Path(__file__).resolve().parent / "corpus" / "remote-text.json").read_text(encoding="utf-8")
)
MARKUP = "[bold red]boom[/]"
ACTED_ON = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

remote_text = st.one_of(
    st.sampled_from(CORPUS),
    st.lists(st.one_of(st.sampled_from(CORPUS[:30]), st.text(max_size=6)), max_size=5).map("".join),
)


def screen_text(app) -> str:
    """Every character the compositor would send for the current screen, line by line."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip if not seg.control) for strip in strips)


def inert(where: str, output: str) -> None:
    m = ACTED_ON.search(output)
    assert m is None, (
        f"{where}: {m.group()!r} reaches the terminal: {output[max(0, m.start() - 60) : m.start() + 30]!r}"
    )


async def walk_the_console(*rounds: list[str]) -> dict[str, str]:
    """One console; for each round, inject its texts, then look at the dashboard, each
    detail view, the confirm dialog and the handoff report."""
    app = demo_app(at=90)
    seen: dict[str, str] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for n, texts in enumerate(rounds):
            found = await walk_once(app, pilot, (texts * 8)[:8])
            seen.update({f"{where} #{n}": text for where, text in found.items()})
    return seen


async def detail_of(app: Any, pilot: Any) -> str:
    """The detail view of the focused row, as the d key opens it (keys are slow in tests)."""
    app.dashboard.action_detail()
    await pilot.pause()
    assert isinstance(app.screen, DetailScreen)
    text = screen_text(app)
    app.pop_screen()
    await pilot.pause()
    return text


async def walk_once(app: Any, pilot: Any, t: list[str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    engine, now = app.engine, app.clock()
    engine.checks["api-gateway"].record(
        CheckResult(
            "api-gateway", Status.DOWN, t[0], 5.0, now,
            details={t[1]: t[2]}, substatuses=(SubStatus(t[3], Status.DOWN, t[4]),), error=t[5],
        )
    )  # fmt: skip
    feed = next(iter(engine.feeds.values()))
    feed.alerts = [
        Alert("fuzz", t[6], Severity.SEV1, t[7], AlertState.ACTIVE, now - 5,
              labels={t[0]: t[1]}, annotations={t[2]: t[3]}, source=t[4], runbook_url=t[5]),
        *(a for a in feed.alerts if a.fingerprint != "fuzz"),
    ]  # fmt: skip
    feed.error = t[1]
    next(iter(engine.slis.values())).fail(t[2], now)
    app.dashboard.sync(force=True)
    app.screen.refresh(layout=True)
    await pilot.pause()
    seen["dashboard"] = screen_text(app)

    health = app.screen.query_one(HealthTable)
    health.focus()
    health.move_cursor(row=health.get_row_index("api-gateway"))
    seen["check detail"] = await detail_of(app, pilot)

    alerts = app.screen.query_one(AlertsTable)
    alerts.focus()
    alerts.move_cursor(row=alerts.get_row_index("alert:fuzz"))
    seen["alert detail"] = await detail_of(app, pilot)

    app.screen.query_one("#slis").focus()
    seen["sli detail"] = await detail_of(app, pilot)

    # The confirm dialog: a backend's preview quotes what it found (sessions, keys, pods).
    prepared = await engine.runner.prepare(
        ActionRequest("demo", "rollback", {"service": "prediction-service"}, "alex")
    )
    spec = replace(prepared.spec, title=t[3])
    app.push_screen(ConfirmAction(replace(prepared, spec=spec, preview=t[4] + "\n" + t[5])))
    await pilot.pause()
    seen["confirm dialog"] = screen_text(app)
    app.pop_screen()
    await pilot.pause()

    seen["handoff"] = await build_report(
        OnCall(engine), HandoffOptions(since=now - 3600, now=now, notes=t[0])
    )
    return seen


SCREENS = settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SCREENS
@given(st.lists(st.lists(remote_text, min_size=1, max_size=8), min_size=2, max_size=2))
@example([["\x1b[31mred\x1b[0m", "\x9b2J", "\u202eX", "\x1b]52;c;aGk=\x07", "\x7f", "\x07", "[/]"]])
def test_hostile_remote_text_on_every_screen(rounds):
    for where, output in asyncio.run(walk_the_console(*rounds)).items():
        inert(where, output)


def test_markup_in_remote_text_appears_as_written_on_the_screen():
    seen = asyncio.run(walk_the_console(["[b]x[/b]", MARKUP]))
    for where in ("dashboard", "check detail", "alert detail", "sli detail", "confirm dialog"):
        assert MARKUP in seen[f"{where} #0"] or "[b]x[/b]" in seen[f"{where} #0"], where
    assert "\\[bold red\\]boom\\[/\\]" in seen["handoff #0"]  # escaped for Markdown, not parsed
