"""Plain readings of config values, for the first poll's sketches (no pydantic)."""

from __future__ import annotations

from typing import Any


def number(value: Any) -> float | None:
    """A TOML integer or float as the float a model's float field makes of it; None for
    anything else (a bool, a string: the model's own rules decide those)."""
    return float(value) if type(value) in (int, float) else None
