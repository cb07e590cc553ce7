"""SLI sparklines on a fixed scale that holds the thresholds, over a named time range.

Autoscaled, a sustained incident drew the same full bar as noise around a healthy value,
and nothing said how far back the line reached (issue #15, point 3). Here the scale runs
from the thresholds (critical near the top for lower-is-better, near the bottom for
higher-is-better), values beyond it are clipped, and each bar takes the style of its
own status: past warning or critical reads as such, with or without colour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text

from oncall_console.model import Direction, Thresholds
from oncall_console.ui.render import BARS, status_style

RANGES = (300.0, 900.0, 3600.0, 6 * 3600.0)
"""The ranges ``[`` and ``]`` step through: 5m, 15m, 1h, 6h."""
MARGIN = 0.25
"""Room beyond the outermost threshold, as a share of the thresholds' spread."""


def range_label(seconds: float) -> str:
    """300 -> "5m", 3600 -> "1h", 90 -> "90s"."""
    s = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{round(s / 60)}m" if s >= 60 else f"{s}s"  # about (a polled line's span)


def threshold_scale(t: Thresholds, data: Iterable[float] = ()) -> tuple[float, float] | None:
    """(low, high) of a fixed scale holding target, warning and critical; None without
    thresholds (then the line scales to its data)."""
    levels = [x for x in (t.target, t.warning, t.critical) if x is not None]
    if not levels:
        return None
    low, high = min(levels), max(levels)
    spread = (high - low) or abs(high) * 0.5 or 1.0
    if t.direction is Direction.LOWER_IS_BETTER:
        # From zero for counts, latencies and ratios: a bar's height is the value itself.
        floor = 0.0 if low >= 0 and all(v >= 0 for v in data) else low - spread
        return floor, high + spread * MARGIN
    return low - spread * MARGIN, high + spread * MARGIN


def spark_text(
    values: Iterable[float | None],
    width: int,
    thresholds: Thresholds,
    variables: Mapping[str, str],
) -> Text:
    """The last ``width`` values as bars, left-padded; each bar styled by its own status."""
    data = [v for v in values if v is not None][-width:] if width > 0 else []
    text = Text(" " * max(0, width - len(data)), no_wrap=True)
    if not data:
        return text
    scale = threshold_scale(thresholds, data)
    low, high = scale if scale is not None else (min(data), max(data))
    span = high - low
    top = len(BARS) - 1
    for v in data:
        level = 0 if span <= 1e-12 else round((min(max(v, low), high) - low) / span * top)
        status = thresholds.status_of(v)
        text.append(BARS[level], style=status_style(variables, status) if status else "")
    return text
