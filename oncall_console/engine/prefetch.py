"""The first poll, on the second core, while the first frame is painted (issue #14).

A console on a terminal paints its frame first and only then validates the config and
builds the engine (issue #6); its first real result waited for all of that, one core,
one after the other: 4.8x the bare Textual app on the test stack. The CLI therefore
forks before it imports Textual; the child validates the same document, starts only the
backends the checks use and probes every check once, through the poller's own
``probe_check`` (same semaphore, timeouts and redaction), and hands each result back as
soon as it has it. The parent shows them on the frame and gives them to its engine
(``OnCall.seed``), whose poller then waits out the interval instead of probing again.

What the child never does: open the store or the bus, write the audit, run an action,
poll SLIs or feeds, touch the terminal. What crosses the pipe is :class:`Early`: plain
data (no backend option models, so the parent needs no pydantic to read it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oncall_console.model import CheckResult, CheckSpec

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig


@dataclass(frozen=True, slots=True)
class Early:
    """One check's first result, from the first poll: the spec without its backend
    options (``params`` is None: the frame needs the name, the label and the interval)."""

    spec: CheckSpec
    result: CheckResult


def _plain(spec: CheckSpec) -> CheckSpec:
    return dataclasses.replace(spec, params=None)


async def first_results(loaded: LoadedConfig, emit: Callable[[Early], None]) -> None:
    """Probe every check of ``loaded`` once, concurrently; ``emit`` each result as it
    comes. Backends that no check uses are not started; one that fails to start is
    skipped (the engine will say why). Returns when every probe has answered or timed
    out."""
    from oncall_console import backends as registry
    from oncall_console.backends.base import BackendContext
    from oncall_console.engine.poller import Poller
    from oncall_console.engine.state import new_check_state

    cfg = loaded.config
    used = {c.backend for c in loaded.checks}
    executor = ThreadPoolExecutor(cfg.poller.threads, thread_name_prefix="oncall-first")
    context = BackendContext(
        executor=executor,
        clock=time.time,
        environment=cfg.console.environment,
        read_only=cfg.console.read_only,
        workers=0,  # one pass here: a probe worker's start-up (~0.7 s) costs more than it saves
    )
    backends = {
        name: registry.load(kind)(name, options, context)
        for name, (kind, options) in loaded.backend_options.items()
        if name in used
    }

    async def start(name: str) -> str | None:
        try:
            await asyncio.wait_for(backends[name].start(), cfg.poller.timeout)
        except Exception:
            return None
        return name

    started = {n for n in await asyncio.gather(*(start(n) for n in backends)) if n}
    checks = {c.name: new_check_state(c, 1) for c in loaded.checks if c.backend in started}
    poller = Poller(
        {n: b for n, b in backends.items() if n in started},
        checks,
        {},
        {},
        concurrency=cfg.poller.concurrency,
        clock=time.time,
    )

    async def one(name: str) -> None:
        state = checks[name]
        result = await poller.probe_check(state)
        emit(Early(_plain(state.spec), result))

    try:
        await asyncio.gather(*(one(n) for n in checks))
    finally:
        for backend in backends.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(backend.close(), 1.0)
        executor.shutdown(wait=False, cancel_futures=True)
