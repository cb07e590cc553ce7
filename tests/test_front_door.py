"""One front door (engine/api.py) and one place for each action policy (issue #12).

- The UI and the CLI import from the engine only its front door (``engine.api``), the
  read model's types (``engine.state``) and the handoff report built on the front door.
- Every refusal, from the CLI, the dashboard, the palette and the runbook screen, is
  decided by the runner's one policy function: replaced here by one that refuses
  everything, each entry point shows exactly its words.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from textual.widgets import OptionList

from oncall_console import cli
from oncall_console.engine import actions as runner_module
from oncall_console.ui.screens.actions import ActionPicker
from tests.support.demoapp import demo_app, settle

PACKAGE = Path(__file__).resolve().parent.parent / "oncall_console"
FRONT = {
    "oncall_console.engine.api",
    "oncall_console.engine.state",
    "oncall_console.engine.handoff",
}
NO = "policy under test: no"


def engine_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "oncall_console.engine"
        ):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("oncall_console.engine"))
    return found


def test_the_ui_and_the_cli_use_only_the_front_door():
    callers = [
        *(PACKAGE / "ui").rglob("*.py"),
        PACKAGE / "cli.py",
        *(PACKAGE / "cli").rglob("*.py"),
    ]
    reaching = {
        str(p.relative_to(PACKAGE)): sorted(engine_imports(p) - FRONT)
        for p in callers
        if p.exists() and engine_imports(p) - FRONT
    }
    # The first poll's child (cli/firstpoll.py) runs engine/prefetch.py alone, before any
    # engine exists and to skip the front door's own import (~45 ms of its first result).
    if reaching.get("cli/firstpoll.py") == ["oncall_console.engine.prefetch"]:
        del reaching["cli/firstpoll.py"]
    # ui/app.py may name the Engine type for the `engine` property tests look inside with.
    reaching.pop("ui/app.py", None) if reaching.get("ui/app.py") == [
        "oncall_console.engine"
    ] else None
    assert reaching == {}


def test_no_screen_reaches_into_the_engine_or_another_screen():
    """No `.engine.` / `.dashboard.` attribute chains in the UI but the app's own."""
    offenders = []
    for path in (PACKAGE / "ui").rglob("*.py"):
        if path.name == "app.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("engine", "dashboard"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
    assert offenders == []


class Refuser(list):
    """The runner's read-only policy, replaced (once armed) by one that refuses and
    counts. Armed after the picker lists the actions: listing asks the same policy."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.monkeypatch = monkeypatch

    def arm(self) -> None:
        def policy(spec, read_only):
            self.append(spec.id)
            return NO

        self.monkeypatch.setattr(runner_module, "read_only_refusal", policy)


@pytest.fixture
def refuse_everything(monkeypatch: pytest.MonkeyPatch) -> Refuser:
    return Refuser(monkeypatch)


def told(app) -> list[str]:
    return [n.message for n in app._notifications]


async def pick_rollback(pilot, arm) -> None:
    for _ in range(100):  # the flow is a worker of the app: wait for its first dialog
        if isinstance(pilot.app.screen, ActionPicker):
            break
        await pilot.pause(0.01)
    screen = pilot.app.screen
    assert isinstance(screen, ActionPicker)
    assert screen.subject == "prediction-service"  # the dialog names what it acts on
    ids = [spec.id for _, spec in screen.choices]
    screen.query_one(OptionList).highlighted = ids.index("rollback")
    arm()
    await pilot.press("enter")
    await pilot.pause()


def test_the_cli_refusal_comes_from_the_policy(refuse_everything, capsys):
    refuse_everything.arm()
    code = cli.main(["action", "--demo", "demo", "rollback", "service=prediction-service", "--yes"])
    assert code == cli.EXIT_USAGE
    assert f"refused: {NO}" in capsys.readouterr().err
    assert refuse_everything == ["rollback"]


async def test_the_dashboard_refusal_comes_from_the_policy(refuse_everything):
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#health")
        table.move_cursor(row=table.get_row_index("prediction-service"))
        await pilot.press("a")
        await pick_rollback(pilot, refuse_everything.arm)
        assert NO in told(app)
        assert "rollback" in refuse_everything


async def test_the_palette_refusal_comes_from_the_policy(refuse_everything):
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#health")
        table.move_cursor(row=table.get_row_index("prediction-service"))
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Run an action")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pick_rollback(pilot, refuse_everything.arm)
        assert NO in told(app)
        assert "rollback" in refuse_everything


async def test_the_runbook_screen_refusal_comes_from_the_policy(refuse_everything):
    from oncall_console.runbooks import ActionBlock
    from oncall_console.ui.screens.runbook import RunbookScreen

    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#health")
        table.move_cursor(row=table.get_row_index("prediction-service"))
        await pilot.press("b")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        steps = screen.query_one(OptionList)
        with_action = next(
            n
            for n, option in enumerate(steps.options)
            if (step := screen.runbook.step(option.id or "")) is not None
            and any(isinstance(b, ActionBlock) for b in step.blocks)
        )
        steps.highlighted = with_action
        refuse_everything.arm()
        await pilot.press("x")
        for _ in range(50):  # the params form, when the block asks for something
            if NO in told(app):
                break
            if app.screen is not screen and hasattr(app.screen, "spec"):
                await pilot.press("enter")
            await pilot.pause(0.02)
        assert NO in told(app)
        assert refuse_everything
