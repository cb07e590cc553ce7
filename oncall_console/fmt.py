"""Numbers as an engineer reads them on a small screen (shared by the TUI and the CLI)."""

from __future__ import annotations


def number(value: float | None, unit: str = "") -> str:
    """3 significant-ish digits, thousands separated, unit attached: 1,211 ms, 2.43%."""
    if value is None:
        return "—"
    a = abs(value)
    if a >= 1000:
        s = f"{value:,.0f}"
    elif a >= 100:
        s = f"{value:.0f}"
    elif a >= 10:
        s = f"{value:.1f}"
    else:
        s = f"{value:.2f}"
    return f"{s} {unit}".rstrip() if unit and unit != "%" else f"{s}{unit}"


def latency(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms >= 10_000:
        return f"{ms / 1000:.0f}s"
    if ms >= 1000:
        return f"{ms / 1000:.1f}s"
    return f"{ms:.0f}ms"
