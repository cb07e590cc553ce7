"""TOML in a runbook: the front matter (``+++`` ... ``+++``) and where each key stands.

The line locator serves the front matter and the ``action`` blocks alike, so a problem
names the line of the key at fault. See :mod:`oncall_console.runbooks.parser` for the
format.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from oncall_console.config import toml_loads
from oncall_console.model import Severity
from oncall_console.runbooks.model import RunbookError, RunbookProblem, ShiftMoment
from oncall_console.text import clean

FENCE = "+++"
FRONT_MATTER_KEYS = (
    "id",
    "title",
    "alerts",
    "severity",
    "escalate_after_minutes",
    "tags",
    "when",
    "numbered_steps",
)
RUNBOOK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_TOML_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
)
_TOML_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")
_TOML_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(?:#.*)?$")


def fail(file: str, line: int, message: str) -> RunbookError:
    return RunbookError([RunbookProblem(file, line, "error", message)])


def front_matter(file: str, lines: list[str]) -> tuple[dict[str, Any], int]:
    """Validated front matter and the index of the first body line."""
    if not lines or lines[0].rstrip() != FENCE:
        return {}, 0
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == FENCE), None)
    if end is None:
        raise fail(file, 1, "front matter opened with +++ is never closed (add a +++ line)")
    source = lines[1:end]
    try:
        data = toml_loads("\n".join(source))  # nesting too deep is a syntax error
    except tomllib.TOMLDecodeError as exc:
        m = TOML_AT.search(str(exc))
        line = int(m.group(1)) + 1 if m else 1
        raise fail(file, line, f"front matter: TOML syntax: {TOML_AT.sub('', str(exc))}") from None
    key_lines = toml_key_lines(source, first_line=2)
    problems: list[RunbookProblem] = []

    def bad(key: str, message: str) -> None:
        problems.append(RunbookProblem(file, key_lines.get(key, 1), "error", message))

    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in FRONT_MATTER_KEYS:
            bad(key, f"front matter: unknown key {key!r} (known: {', '.join(FRONT_MATTER_KEYS)})")
            continue
        try:
            out[key] = _front_value(key, value)
        except ValueError as exc:
            bad(key, f"front matter: {key}: {exc}")
    if problems:
        raise RunbookError(problems)
    if "id" in out:
        out["_id_line"] = key_lines.get("id", 1)
    return out, end + 1


def _front_value(key: str, value: Any) -> Any:
    if key == "id":
        if not isinstance(value, str) or not RUNBOOK_ID.match(value):
            raise ValueError("letters, digits, '.', '_' and '-', at most 80, e.g. high-error-rate")
        return value
    if key == "title":
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected a non-empty string")
        return clean(value, limit=200)
    if key in ("alerts", "tags"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError('expected a list of non-empty strings, e.g. ["HighErrorRate"]')
        return tuple(clean(v.strip(), limit=200) for v in value)
    if key == "severity":
        if not isinstance(value, str):
            raise ValueError('expected a string such as "SEV2" or "P2"')
        return Severity.parse(value)  # its ValueError says what is accepted
    if key == "escalate_after_minutes":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10080:
            raise ValueError("expected whole minutes from 1 to 10080")
        return value
    if key == "when":
        try:
            return ShiftMoment(value)
        except ValueError:
            raise ValueError('expected "start-of-shift" or "end-of-shift"') from None
    if key == "numbered_steps":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    raise ValueError("unknown key")  # pragma: no cover - keys are checked first


def toml_key_lines(source: list[str], first_line: int) -> dict[str, int]:
    """Line of each top-level key (and of each key of each table, as 'table.key')."""
    found: dict[str, int] = {}
    table = ""
    for n, line in enumerate(source, start=first_line):
        if m := _TOML_TABLE.match(line):
            table = m.group(1).strip().strip("\"'")
            found.setdefault(table, n)
        elif m := _TOML_KEY.match(line):
            parts = [a or b or c for a, b, c in _TOML_PART.findall(m.group(1))]
            for size in range(1, len(parts) + 1):  # "params.pid = 1" also locates "params"
                key = ".".join(parts[:size])
                found.setdefault(f"{table}.{key}" if table else key, n)
    return found
