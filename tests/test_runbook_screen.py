"""Walking a runbook in the console: steps, the action behind the confirm dialog,
progress kept in the store for the next person, the escalation prompt."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import OptionList, Static

from oncall_console.ui.screens.actions import ConfirmAction
from oncall_console.ui.screens.runbook import RunbookScreen
from oncall_console.ui.widgets.health import HealthTable
from tests.support.demoapp import demo_app, settle


def highlight(screen: RunbookScreen, text: str) -> None:
    steps = screen.query_one(OptionList)
    for index, option in enumerate(steps.options):
        if option.id and text in str(option.prompt):
            steps.highlighted = index
            return
    raise AssertionError(f"no step with {text!r}")


def step_text(screen: RunbookScreen) -> str:
    """The step panel's text, as plain text."""
    out = Console(file=io.StringIO(), width=300, color_system=None)
    out.print(screen.query_one("#runbook-step", Static).content)
    return out.file.getvalue()


async def open_bad_deploy_runbook(pilot) -> RunbookScreen:
    await settle(pilot)
    table = pilot.app.screen.query_one(HealthTable)
    table.move_cursor(row=table.get_row_index("prediction-service"))
    await pilot.press("b")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, RunbookScreen)
    await pilot.pause()
    return screen


async def test_rolling_back_from_the_runbook_runs_the_action_and_ticks_the_step():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_bad_deploy_runbook(pilot)
        assert screen.runbook.id == "demo-bad-deploy"
        highlight(screen, "Roll prediction-service back")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmAction)
        assert "prediction-service" in app.screen.prepared.preview
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen
        step = next(s for s in screen.runbook.steps if "Roll prediction-service back" in s.text)
        assert screen.progress[step.id].done
        trail = await app.engine.store.audit()
        assert [(r.kind, r.action, r.outcome) for r in trail] == [
            ("intent", "rollback", "outcome unknown"),
            ("result", "rollback", "succeeded"),
        ]


async def test_an_action_from_a_runbook_opened_on_an_alert_verifies_the_alerts_check(
    tmp_path: Path,
):
    """Walking the devstack: the DB pool alert's runbook, x on terminate-idle, and the
    confirm dialog said "nothing known about the target (no check is linked)": an
    action whose parameters name no check had nothing to verify, though the alert it
    was opened for is about one (DiskUsageHigh is postgres's in the demo)."""
    from oncall_console.ui.widgets.alerts import AlertsTable
    from tests.support.console import until
    from tests.support.demoapp import select_first_alert

    (tmp_path / "disk.md").write_text(
        '+++\nid = "demo-disk"\nalerts = ["DiskUsageHigh"]\n+++\n\n# Disk\n\n'
        "- [ ] Silence it while the volume grows\n\n```action\n"
        'backend = "demo"\naction = "silence"\n'
        'params = { matchers = \'alertname="DiskUsageHigh"\', comment = "growing" }\n```\n',
        encoding="utf-8",
    )

    def first(data: dict) -> None:
        data["runbooks"]["dirs"].insert(0, str(tmp_path))

    app = demo_app(at=90, extra=first)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        select_first_alert(app)
        table = app.screen.query_one(AlertsTable)
        for row in range(table.row_count):  # the DiskUsageHigh alert's row
            table.move_cursor(row=row)
            await pilot.pause()
            kind, item = app.dashboard.selection()
            if kind == "alert" and item.name == "DiskUsageHigh":
                break
        else:
            raise AssertionError("no DiskUsageHigh row")
        await pilot.press("b")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunbookScreen) and screen.runbook.id == "demo-disk"
        highlight(screen, "Silence it")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("ctrl+s")  # the form, filled from the block
        await until(pilot, "the confirm dialog", lambda: isinstance(app.screen, ConfirmAction))
        assert app.screen.prepared.check == "postgres"


async def test_progress_is_kept_for_whoever_opens_the_runbook_next():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_bad_deploy_runbook(pilot)
        highlight(screen, "shows no ready pods")
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        again = await open_bad_deploy_runbook(pilot)
        ticked = [s.text for s in again.runbook.steps if (p := again.progress.get(s.id)) and p.done]
        assert ticked == ["prediction-service shows no ready pods in the health panel"]
        label = next(
            str(o.prompt)
            for o in again.query_one(OptionList).options
            if o.id and "no ready pods" in str(o.prompt)
        )
        assert label.startswith("[x]")


async def test_the_escalation_prompt_appears_when_the_time_is_up():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        runbook = app.engine.runbooks.library.get("demo-bad-deploy")
        started = app.clock() - (runbook.escalate_after_minutes * 60 + 5)
        app.push_screen(RunbookScreen(runbook, "INC-2041", started_at=started))
        await pilot.pause()
        head = str(app.screen.query_one("#runbook-head", Static).render())
        assert "ESCALATE NOW" in head
        assert any(n.title == "Escalation due" for n in app._notifications)


async def test_a_query_or_action_that_cannot_run_here_says_so_before_its_key():
    """The demo has no PostgreSQL or Prometheus backend: the disk runbook's queries said
    "(r to run)" and r answered with a refusal. A dead-end key, said up front now."""
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        runbook = app.engine.runbooks.library.get("disk-full")
        app.push_screen(RunbookScreen(runbook, ""))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        for step, language in (("largest databases", "sql"), ("Usage now", "promql")):
            highlight(screen, step)
            await pilot.pause()
            shown = step_text(screen)
            assert f"? {language} diagnostic  (c to copy; not run here: no " in shown, shown
            assert "(r to run)" not in shown
            await pilot.press("r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            told = [n for n in app._notifications if n.title == "Cannot run this query"]
            assert told and "c copies it" in told[-1].message
            app.clear_notifications()
        # The same for an action: the demo has no postgres backend to VACUUM with.
        highlight(screen, "Bloated table")
        await pilot.pause()
        shown = step_text(screen)
        assert "(not run here: no backend named 'postgres')" in shown, shown
        assert "(x to run)" not in shown


async def test_x_or_r_on_a_heading_says_where_the_actions_and_queries_are():
    """Walked on the devstack: j landed on the heading "Relieve", x said "No action in
    this step." and nothing of where one was."""
    from oncall_console.runbooks.model import ActionBlock
    from oncall_console.ui.screens.runbook import PHASE

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = await open_bad_deploy_runbook(pilot)
        phase = next(
            p
            for p in screen.runbook.all_phases()
            if p.level > 1 and not any(isinstance(b, ActionBlock) for b in p.parts)
        )
        steps = screen.query_one(OptionList)
        steps.highlighted = next(
            i for i, o in enumerate(steps.options) if o.id == f"{PHASE}{phase.id}"
        )
        await pilot.press("x")
        await pilot.pause()
        said = list(app._notifications)[-1].message
        assert said == f"{phase.title} is a heading with no action; the steps marked ▶ have one."
        highlight(screen, "Roll prediction-service back")  # a step with an action, no query
        await pilot.press("r")
        await pilot.pause()
        said = list(app._notifications)[-1].message
        assert said == "This step has no query; the steps marked ? have one."


def test_whether_a_query_can_run_is_known_without_running_it():
    from oncall_console.backends.base import Backend
    from oncall_console.engine.runbooks import RunbookService
    from oncall_console.runbooks.model import PromqlBlock, ReferenceBlock, SqlBlock

    class Pg(Backend):
        TYPE = "postgres"
        DIAGNOSES = frozenset({"sql"})

    class Quiet(Backend):  # runs no diagnostic at all
        TYPE = "redis"

    service = object.__new__(RunbookService)
    service.backends = {"pg": Pg("pg", None, None), "cache": Quiet("cache", None, None)}  # type: ignore[arg-type]
    unavailable = service.unavailable
    assert unavailable(SqlBlock("SELECT 1", "", 1)) == ""  # a plain ```sql: the one postgres
    assert unavailable(SqlBlock("SELECT 1", "pg", 1)) == ""
    assert unavailable(SqlBlock("DELETE FROM t", "pg", 1)).startswith("not run: ")
    assert (
        unavailable(PromqlBlock("up", 1, backend="pg"))
        == "backend 'pg' (postgres) does not run promql"
    )
    assert (
        unavailable(SqlBlock("SELECT 1", "cache", 1)) == "backend 'cache' (redis) does not run sql"
    )
    assert unavailable(PromqlBlock("up", 1)) == "no prometheus backend in this config"
    assert unavailable(ReferenceBlock("kubectl", "kubectl get pods", 1)) == (
        "no backend named or of type 'kubernetes' (configured: cache (redis), pg (postgres))"
    )


async def test_the_start_of_shift_checklist_is_offered_and_opens_with_s(tmp_path, monkeypatch):
    from oncall_console.engine import Engine
    from oncall_console.runbooks import RunbookLibrary

    # A real shift, not the demo's tour (the demo does not offer it at start).
    monkeypatch.setattr(Engine, "is_demo", property(lambda self: False))
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        root = Path(__file__).resolve().parent.parent
        app.engine.runbooks.library = RunbookLibrary.load([root / "runbooks"])
        await app._offer_shift_checklist()
        await pilot.pause()
        assert any(n.title == "New shift" for n in app._notifications)
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, RunbookScreen)
        assert app.screen.runbook.id == "start-of-shift"
        assert app.screen.scope.startswith("shift 2027-01-1")


# --- any Markdown runbook (#17) -----------------------------------------------------------------

PROSE_RUNBOOK = """---
title: Kube Pod Crash Looping
weight: 20
---

# KubePodCrashLooping

## Meaning

Pod is in CrashLoop: the app dies and **kubernetes restarts it**.

## Diagnosis

- Check pod events via `kubectl -n $NAMESPACE describe pod $POD`.
- Check pod logs via `kubectl -n $NAMESPACE logs $POD -c $CONTAINER`

```shell
$ kubectl -n $NAMESPACE get pod $POD -o yaml
status: CrashLoopBackOff
```
"""


def with_folder(folder: Path):
    def extra(data):
        data["runbooks"]["dirs"] = [*data["runbooks"]["dirs"], str(folder)]

    return extra


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_every_runbook_opens_from_the_list_and_reads_as_written(tmp_path):
    """B lists every runbook (one no alert names too), searchable by title; a prose runbook
    shows its headings' text and code, its bullets are steps, the bold stays bold, and
    the copied command has the prompt and output left out."""
    from rich.text import Text
    from textual.widgets import Input

    from oncall_console.ui.screens.pickers import RunbookPicker

    (tmp_path / "KubePodCrashLooping.md").write_text(PROSE_RUNBOOK, encoding="utf-8")
    app = demo_app(at=90, extra=with_folder(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.oncall.runbooks.ready()
        await pilot.press("B")
        for _ in range(100):
            if isinstance(app.screen, RunbookPicker):
                break
            await pilot.pause(0.01)
        assert isinstance(app.screen, RunbookPicker)
        app.screen.query_one(Input).value = "crash looping"
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert [o.id for o in options.options] == ["kubepodcrashlooping"]
        await pilot.press("enter")
        for _ in range(100):
            if isinstance(app.screen, RunbookScreen):
                break
            await pilot.pause(0.01)
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        await pilot.pause()
        assert "0/2 done" in screen_text(app)
        highlight(screen, "Meaning")
        await pilot.pause()
        meaning = next(p for p in screen.runbook.phases if p.title == "Meaning")
        assert "Pod is in CrashLoop" in screen_text(app)
        parts = [p for p in screen._phase_parts(meaning) if isinstance(p, Text)]
        bold = [t.plain[s.start : s.end] for t in parts for s in t.spans if s.style == "bold"]
        assert "kubernetes restarts it" in bold
        highlight(screen, "Check pod logs")
        await pilot.pause()
        text = screen_text(app)
        assert "CrashLoopBackOff" in text and "$ shell" in text
        await pilot.press("c")  # the inline command first
        await pilot.pause()
        assert app.clipboard == "kubectl -n $NAMESPACE logs $POD -c $CONTAINER"
        await pilot.press("c")  # then the block: the command, not its output
        await pilot.pause()
        assert app.clipboard == "kubectl -n $NAMESPACE get pod $POD -o yaml"
