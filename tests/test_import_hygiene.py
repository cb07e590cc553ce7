"""Layering: nothing outside ui/ and the CLI imports textual; listing backends imports none."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "oncall_console"
ALLOWED = ("ui/", "cli/", "__main__.py")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_textual_is_imported_only_by_the_ui_and_the_cli():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if not str(p.relative_to(PACKAGE)).startswith(ALLOWED) and "textual" in imports_of(p)
    ]
    assert offenders == []


def test_engine_and_backends_load_without_textual():
    code = (
        "import sys, oncall_console.engine, oncall_console.config, oncall_console.backends.http;"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_listing_backends_imports_none_of_them():
    code = (
        "import sys; from oncall_console import backends; names = sorted(backends.available());"
        "print(names, any(m.startswith('oncall_console.backends.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'demo'" in out.stdout and "'http'" in out.stdout
    assert out.stdout.strip().endswith("False")
