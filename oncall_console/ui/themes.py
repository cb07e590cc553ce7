"""Themes are data files (TOML) turned into Textual themes with semantic variables.

The built-in files ship in the wheel; a user's folder is read too. A broken file
is reported once and skipped; start-up never stops for a theme.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from oncall_console.paths import shipped

DEFAULT_THEME = "oncall-dark"
SEMANTIC = (
    "status-ok",
    "status-degraded",
    "status-critical",
    "status-down",
    "status-unknown",
    "status-stale",
    "sev1",
    "sev2",
    "sev3",
    "sev4",
    "badge-demo",
    "muted",
)
_COLOURS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
)


def builtin_dir() -> Path:
    """``themes/`` of the repo in a checkout, ``oncall_console/_themes`` in a wheel."""
    return shipped("themes")


@dataclass
class ThemeSet:
    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load_theme_file(path: Path) -> Theme:
    """Parse one theme file; raises ValueError with a message naming the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"TOML syntax: {exc}") from None
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name: required, a string")
    kwargs: dict[str, object] = {"name": name, "dark": bool(data.get("dark", True))}
    for key in _COLOURS:
        if key in data:
            kwargs[key] = _colour(key, data[key])
    if "primary" not in kwargs:
        raise ValueError("primary: required")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("variables: must be a table")
    for key, value in variables.items():
        _colour(f"variables.{key}", value)
    unknown = sorted(set(data) - {"name", "dark", "variables", *_COLOURS})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key")
    return Theme(variables={k: str(v) for k, v in variables.items()}, **kwargs)  # type: ignore[arg-type]


def _colour(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f'{key}: expected a colour string like "#RRGGBB"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{key}: {value!r} is not a colour") from None
    return value


def load_themes(*dirs: Path | None) -> ThemeSet:
    found = ThemeSet()
    for folder in dirs:
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                found.problems.append(f"theme {path}: {exc}")
                continue
            # Fill semantic variables a user theme left out from the theme's own palette.
            defaults = {
                "status-ok": theme.success or "green",
                "status-degraded": theme.warning or "yellow",
                "status-critical": theme.variables.get("status-down") or theme.error or "red",
                "status-down": theme.error or "red",
                "status-unknown": "#888888",
                "status-stale": theme.secondary or "magenta",
                "sev1": theme.error or "red",
                "sev2": theme.warning or "yellow",
                "sev3": theme.warning or "yellow",
                "sev4": "#888888",
                "badge-demo": theme.secondary or "magenta",
                "muted": "#888888",
            }
            theme.variables = {**defaults, **theme.variables}
            found.themes[theme.name] = theme
    return found
