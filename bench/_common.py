"""Small helpers of the engine benchmarks (poll cycle, shift memory, action overhead,
first frame), on top of _pty's ``machine``, ``percentile`` and ``publish``."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from _pty import machine, percentile, publish

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

__all__ = ["ROOT", "load", "machine", "median", "met", "ms", "p95", "write_fragment"]


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def p95(xs: Sequence[float]) -> float:
    return percentile(xs, 95)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def write_fragment(script: str, lines: list[str], *, write: bool = True, suffix: str = "") -> None:
    """``bench/results/<script stem><suffix>.md``, gathered by bench/report.py (only shown
    when ``write`` is false). A suffix keeps another size's table beside the default's."""
    if write:
        publish(RESULTS / f"{Path(script).stem}{suffix}.md", [*lines, ""])
    else:
        print("\n".join(lines))
