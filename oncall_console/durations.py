"""Durations as people write them in config and on the command line: 30, "30s", "5m", "12h"."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as ``"1h30m"``; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s', '5m', '12h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise ValueError(
                    f"{value!r} is not a duration (write e.g. 30, '30s', '5m', '12h')"
                ) from None
    else:
        raise ValueError("a duration is a number of seconds or a string like '30s', '5m', '12h'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_age(seconds: float | None, *, coarse: bool = False) -> str:
    """A short age for a table cell: 4s, 3m, 2h, 5d.

    ``coarse`` steps seconds by five ("<5s", "5s", "10s"…) so a table of fresh
    results does not repaint every second over a slow link.
    """
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if coarse and s < 60:
        return "<5s" if s < 5 else f"{s - s % 5}s"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"
