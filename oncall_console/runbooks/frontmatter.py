"""The front matter of a runbook, TOML (``+++`` ... ``+++``) or YAML (``---`` ... ``---``,
as Hugo, Jekyll, MkDocs and Backstage write it), and where each key stands.

The TOML line locator serves the front matter and the ``action`` blocks alike, so a
problem names the line of the key at fault. YAML is read with ``yaml.safe_load`` only
(no tags, no objects). A key this console does not know is ignored (documents carry
their site generator's keys), with a warning when it looks like a slip of a known one
(``alert`` for ``alerts``). See
:mod:`oncall_console.runbooks.parser` for the format.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from typing import Any

from oncall_console.config import toml_loads
from oncall_console.model import Severity
from oncall_console.runbooks.model import RunbookError, RunbookProblem, ShiftMoment
from oncall_console.text import clean

FENCE = "+++"
YAML_FENCE = "---"
FRONT_MATTER_KEYS = (
    "id",
    "title",
    "alerts",
    "severity",
    "escalate_after_minutes",
    "tags",
    "when",
    "numbered_steps",
    "weight",
)
SITE_KEYS = frozenset(
    (
        *("aliases", "author", "authors", "categories", "date", "description", "draft"),
        *("expirydate", "hide", "keywords", "language", "lastmod", "layout", "linktitle"),
        *("menu", "publishdate", "sidebar_label", "sidebar_position", "slug", "summary"),
        *("tags_url", "toc", "type", "url"),
    )
)
"""Keys Hugo, Jekyll, MkDocs, Docusaurus and Backstage use: ignored without a word."""
RUNBOOK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_TOML_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
)
_TOML_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")
_TOML_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(?:#.*)?$")


def fail(file: str, line: int, message: str) -> RunbookError:
    return RunbookError([RunbookProblem(file, line, "error", message)])


def front_matter(file: str, lines: list[str]) -> tuple[dict[str, Any], int, list[RunbookProblem]]:
    """Validated front matter, the index of the first body line, and warnings."""
    fence = lines[0].rstrip() if lines else ""
    if fence not in (FENCE, YAML_FENCE):
        return {}, 0, []
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == fence), None)
    if end is None:
        if fence == YAML_FENCE:
            return {}, 0, []  # a thematic break on line 1, not front matter
        raise fail(file, 1, "front matter opened with +++ is never closed (add a +++ line)")
    source = lines[1:end]
    if fence == FENCE:
        data = _toml(file, source)
        key_lines = toml_key_lines(source, first_line=2)
    else:
        found = _yaml(file, source)
        if found is None:
            return {}, 0, []  # "---", prose, "---": thematic breaks, not front matter
        data = found
        key_lines = _yaml_key_lines(source, first_line=2)
    problems: list[RunbookProblem] = []
    warnings: list[RunbookProblem] = []

    def bad(key: str, message: str) -> None:
        problems.append(RunbookProblem(file, key_lines.get(key, 1), "error", message))

    out: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key not in FRONT_MATTER_KEYS:
            meant = _misspelt(key)
            if meant:
                warnings.append(
                    RunbookProblem(
                        file,
                        key_lines.get(key, 1),
                        "warning",
                        f"front matter: unknown key {clean(key, limit=60)!r}, ignored "
                        f"(did you mean {meant!r}?)",
                    )
                )
            continue
        try:
            out[key] = _front_value(key, value, yaml=fence == YAML_FENCE)
        except ValueError as exc:
            bad(key, f"front matter: {key}: {exc}")
    if problems:
        raise RunbookError(problems)
    if "id" in out:
        out["_id_line"] = key_lines.get("id", 1)
    return out, end + 1, warnings


def _misspelt(key: str) -> str:
    """The known key ``key`` looks like a slip of (``alert``, ``Tags``), or ""."""
    if key.lower() in SITE_KEYS:
        return ""
    folded = key.lower().replace("-", "_")
    if folded in FRONT_MATTER_KEYS:
        return folded
    close = difflib.get_close_matches(folded, FRONT_MATTER_KEYS, n=1, cutoff=0.8)
    return close[0] if close else ""


def _toml(file: str, source: list[str]) -> dict[str, Any]:
    try:
        return toml_loads("\n".join(source))  # nesting too deep is a syntax error
    except tomllib.TOMLDecodeError as exc:
        m = TOML_AT.search(str(exc))
        line = int(m.group(1)) + 1 if m else 1
        raise fail(file, line, f"front matter: TOML syntax: {TOML_AT.sub('', str(exc))}") from None


def _yaml(file: str, source: list[str]) -> dict[str, Any] | None:
    import yaml  # only files with YAML front matter pay for it

    try:
        data = yaml.safe_load("\n".join(source))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 1
        why = clean(str(exc.problem or exc.context or "cannot be read"), limit=200)
        raise fail(file, line, f"front matter: YAML syntax: {why}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise fail(file, 1, f"front matter: YAML: {clean(str(exc), limit=200)}") from None
    if data is None:
        return {}
    if isinstance(data, list):
        raise fail(file, 2, "front matter: expected keys and values (title: ...), not a list")
    return data if isinstance(data, dict) else None


_YAML_KEY = re.compile(r"""^(?:"([^"]+)"|'([^']+)'|([^\s#:'"][^:]*?))\s*:(?:\s|$)""")


def _yaml_key_lines(source: list[str], first_line: int) -> dict[str, int]:
    """Line of each top-level key (YAML's block style, which front matter uses)."""
    found: dict[str, int] = {}
    for n, line in enumerate(source, start=first_line):
        if m := _YAML_KEY.match(line):
            found.setdefault(m.group(1) or m.group(2) or m.group(3), n)
    return found


def _front_value(key: str, value: Any, *, yaml: bool = False) -> Any:
    if yaml and key in ("alerts", "tags") and isinstance(value, str):
        value = [value]  # YAML writes a single tag as a plain string
    if yaml and key == "title" and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
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
    if key == "weight":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1_000_000:
            raise ValueError("expected a whole number (lower sorts first)")
        return value
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
