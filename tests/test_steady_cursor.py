"""No blinking cursors (ui/widgets/steady.py): a blink repaints the whole field twice a
second, ~2 KB/s to the terminal while the runbook picker's search line was open."""

from __future__ import annotations

import ast
from pathlib import Path

from textual.widgets import Input, TextArea

from oncall_console.ui.screens.pickers import RunbookPicker
from tests.support.demoapp import demo_app, settle

UI = Path(__file__).resolve().parent.parent / "oncall_console" / "ui"


def test_the_ui_makes_no_text_field_that_blinks():
    """Every Input the UI makes is a SteadyInput (or a subclass); a TextArea is made in a
    module that turns its blink off. A new field must not bring the blink back."""
    offenders = []
    for path in UI.rglob("*.py"):
        if path.name == "steady.py":
            continue
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                made = node.func.id
                if made == "Input" or (made == "TextArea" and ".cursor_blink = False" not in text):
                    offenders.append(f"{path.relative_to(UI)}:{node.lineno} {made}(…)")
            if isinstance(node, ast.ClassDef):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if "Input" in bases or "TextArea" in bases:
                    offenders.append(f"{path.relative_to(UI)}:{node.lineno} class {node.name}")
    assert offenders == []


async def test_the_runbook_pickers_search_line_does_not_blink():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        choice = app.oncall.choose_runbook(incident=None, alert=None, check=None)
        app.push_screen(RunbookPicker("Every runbook", choice))
        await pilot.pause()
        assert isinstance(app.screen, RunbookPicker)
        field = app.focused
        assert isinstance(field, Input | TextArea)
        assert field.cursor_blink is False
