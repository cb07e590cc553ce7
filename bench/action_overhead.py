#!/usr/bin/env python3
"""7. Action overhead: from the person's confirmation to the audit result being durable,
minus the backend call itself, on the SQLite file store and on PostgreSQL.

The path is the engine's own: ``Engine.execute()`` -> ``ActionRunner.execute()``
(confirm -> per-target lock in the store -> re-probe the linked check -> audit intent
-> run -> audit result -> verify), with the demo backend's ``restart`` (an in-memory
simulation). Each stage is timed by wrapping the instance's methods, so the backend
call and the re-probes are measured on their own and taken out. Both stores run in
the same process, actions alternating between them, so both see the same load.

SQLite is a file in a temp dir (WAL, synchronous=FULL: an fsync per commit). PostgreSQL
is a throwaway cluster (initdb in a temp dir, a free loopback port, stopped by its
PID) with durable settings: fsync=on, synchronous_commit=on, full_page_writes=on.

    python bench/action_overhead.py [--runs 60] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path += [str(_HERE.parent), str(_HERE)]

from _common import load, median, met, ms, p95, write_fragment  # noqa: E402

from oncall_console.backends.demo import demo_config_dict  # noqa: E402
from oncall_console.config import from_dict  # noqa: E402
from oncall_console.engine import Engine  # noqa: E402
from oncall_console.model import ActionRequest, Outcome  # noqa: E402

TARGET_MS = 20.0
STAGES = ("lock", "probe before", "intent", "run", "result", "probe after", "unlock")


class Stopwatch:
    """Durations of each stage of the current action, by wrapping instance methods."""

    def __init__(self) -> None:
        self.now: dict[str, float] = {}
        self.marks: dict[str, float] = {}

    def wrap(self, obj: Any, attr: str, stage: str | Callable[[], str]) -> None:
        inner: Callable[..., Awaitable[Any]] = getattr(obj, attr)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                t1 = time.perf_counter()
                name = stage() if callable(stage) else stage
                self.now[name] = self.now.get(name, 0.0) + (t1 - t0)
                self.marks[name] = t1

        setattr(obj, attr, timed)


async def engine_on(url: str, watch: Stopwatch) -> Engine:
    data = demo_config_dict()
    data["store"] = {"url": url}
    engine = Engine(from_dict(data, filename="<bench>", env={}))
    await engine.start(poll=False)
    if engine.store_error:
        raise SystemExit(f"store {url}: {engine.store_error}")
    probes = iter(())  # the runner probes before, then (on success) after

    def probe_stage() -> str:
        return next(probes, "probe after")

    watch.wrap(engine.store, "acquire_lock", "lock")
    watch.wrap(engine.store, "release_lock", "unlock")
    watch.wrap(engine.runner, "verify", probe_stage)
    watch.wrap(engine.runner.audit, "intent", "intent")
    watch.wrap(engine.runner.audit, "result", "result")
    watch.wrap(engine.backends["demo"], "run", "run")

    def reset() -> None:
        nonlocal probes
        probes = iter(("probe before",))

    engine.reset_probes = reset  # type: ignore[attr-defined]
    return engine


async def one_action(engine: Engine, watch: Stopwatch, service: str) -> dict[str, float]:
    prepared = await engine.runner.prepare(
        ActionRequest("demo", "restart", {"service": service}, operator="bench")
    )
    watch.now, watch.marks = {}, {}
    engine.reset_probes()  # type: ignore[attr-defined]
    t0 = time.perf_counter()  # the person has just typed "y"
    result = await engine.execute(prepared, "y")
    total = time.perf_counter() - t0
    if result.outcome is not Outcome.SUCCEEDED:
        raise SystemExit(f"action did not succeed: {result.outcome} {result.message}")
    durable = watch.marks["result"] - t0  # confirmation -> result committed
    backend = watch.now.get("run", 0.0) + watch.now.get("probe before", 0.0)
    return {
        **watch.now,
        "to durable": durable,
        "overhead": durable - backend,
        "total": total,
    }


def start_postgres(workdir: Path) -> Any:
    from tests.support.stack_servers import PostgresServer, missing_binaries

    missing = [m for m in missing_binaries() if "postgres" in m]
    if missing:
        raise RuntimeError(", ".join(missing))

    class DurablePostgres(PostgresServer):
        """The test stack's cluster, with every durability setting back on."""

        def command(self) -> Sequence[str]:
            argv = list(super().command())
            for i, arg in enumerate(argv):
                if arg.startswith(("fsync=", "synchronous_commit=", "full_page_writes=")):
                    argv[i] = arg.split("=")[0] + "=on"
            return argv

    server = DurablePostgres(workdir / "pg")
    server.start(retry_ports=True)
    return server


async def measure(
    urls: dict[str, str], runs: int, warmup: int
) -> dict[str, list[dict[str, float]]]:
    watches = {name: Stopwatch() for name in urls}
    engines = {name: await engine_on(url, watches[name]) for name, url in urls.items()}
    await asyncio.sleep(0.5)  # runbooks load in the background at start: let them
    services = ["api-gateway", "auth-service", "user-service"]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    try:
        for i in range(warmup + runs):
            for name, engine in engines.items():  # alternating: same load for both
                s = await one_action(engine, watches[name], services[i % len(services)])
                if i >= warmup:
                    samples[name].append(s)
    finally:
        for engine in engines.values():
            await engine.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="actions per store")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    loads = [load()]
    with tempfile.TemporaryDirectory(prefix="oncall-bench-") as tmp:
        urls = {"SQLite (file, WAL, synchronous=FULL)": str(Path(tmp) / "oncall.sqlite3")}
        server = None
        pg_note = ""
        if not args.no_postgres:
            try:
                server = start_postgres(Path(tmp))
                urls["PostgreSQL 15 (fsync=on, synchronous_commit=on)"] = server.dsn
            except Exception as exc:  # no binaries: say so in the fragment
                pg_note = f"PostgreSQL not measured: {exc}"
        try:
            samples = asyncio.run(measure(urls, args.runs, args.warmup))
        finally:
            if server is not None:
                server.stop()
    loads.append(load())

    lines = [
        "## 7. Action overhead",
        "",
        f"`python bench/action_overhead.py --runs {args.runs}` — the engine's real path "
        "(`Engine.execute` → `ActionRunner`: confirm → store lock → re-probe → audit intent "
        "→ run → audit result → verify) with the demo backend's `restart`; each stage "
        "timed by wrapping the instance's methods; both stores in one process, actions "
        f"alternating. {loads[0]} at start, {loads[-1]} at end.",
        "",
        "Overhead = (confirmation → audit result committed) − backend call − the re-probe "
        "before it (a backend call too).",
        "",
        "| store | overhead median | p95 | confirm → result durable | backend call | "
        "lock | intent | result | whole execute (with verify) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rows in samples.items():

        def col(key: str, rows: list[dict[str, float]] = rows) -> list[float]:
            return [r.get(key, 0.0) for r in rows]

        over = median(col("overhead"))
        lines.append(
            f"| {name} | {ms(over)} | {ms(p95(col('overhead')))} | {ms(median(col('to durable')))} "
            f"| {ms(median(col('run')) + median(col('probe before')))} | {ms(median(col('lock')))} "
            f"| {ms(median(col('intent')))} | {ms(median(col('result')))} "
            f"| {ms(median(col('total')))} |"
        )
    lines += ["", f"Runs: {args.runs} actions per store after {args.warmup} warm-up ones."]
    if pg_note:
        lines += ["", pg_note]
    lines.append("")
    for name, rows in samples.items():
        worst = p95([r["overhead"] for r in rows])
        lines.append(
            f"- Target ≤ {TARGET_MS:g} ms, {name.split(' (')[0]}: median "
            f"{ms(median([r['overhead'] for r in rows]))}, p95 {ms(worst)} → "
            f"{met(median([r['overhead'] for r in rows]) * 1000 <= TARGET_MS)}."
        )
    write_fragment(__file__, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
