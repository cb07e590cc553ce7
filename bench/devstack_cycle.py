#!/usr/bin/env python3
"""One poll of everything in the dev stack config: wall time of Engine.poll_once(),
median of several cycles after a warm-up (connections open, history cached).

    .venv/bin/python bench/devstack_cycle.py [--cycles 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oncall_console.config import load  # noqa: E402
from oncall_console.engine import Engine  # noqa: E402
from tests.support.stack import Stack, write_dev_config  # noqa: E402


async def cycles(path: Path, n: int) -> tuple[list[float], float]:
    engine = Engine(load(path, env={}))
    t0 = time.perf_counter()
    await engine.poll_once()  # cold: connects, first range queries
    cold = time.perf_counter() - t0
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await engine.poll_once()
        times.append(time.perf_counter() - t0)
    await engine.stop()
    return times, cold


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=20)
    args = parser.parse_args()
    with Stack() as stack, tempfile.TemporaryDirectory() as tmp:
        stack.wait_for_targets_up()
        path = write_dev_config(stack, Path(tmp) / "config.dev.toml")
        times, cold = asyncio.run(cycles(path, args.cycles))
    engine_items = "9 checks, 4 SLIs (8 series), 1 alert feed"
    print(
        f"dev stack, {engine_items}: cold {cold * 1000:.0f} ms, "
        f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
        f"over {len(times)} cycles"
    )


if __name__ == "__main__":
    main()
