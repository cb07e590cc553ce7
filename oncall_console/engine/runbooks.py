"""Runbooks as the engine serves them: the library, progress in the store, and
read-only diagnostics run through the backends. No Textual here."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from oncall_console.backends.base import Backend
from oncall_console.errors import describe
from oncall_console.model import Alert, DetailTable
from oncall_console.runbooks import PromqlBlock, Runbook, RunbookLibrary, SqlBlock
from oncall_console.runbooks.lint import read_only_problem
from oncall_console.store import StepProgress

if TYPE_CHECKING:
    from oncall_console.engine.core import Engine


class DiagnosticRefused(Exception):
    """One line: why this diagnostic cannot run (no backend, not read-only, failed)."""


class RunbookService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.library = RunbookLibrary()
        self._loading: asyncio.Task[None] | None = None

    def load_soon(self, delay: float = 0.0) -> None:
        """Start loading in the background (once); ``ready()`` waits for it."""
        if self._loading is None:
            self._loading = asyncio.create_task(self._load_after(delay), name="load runbooks")

    async def _load_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.load()

    async def ready(self) -> RunbookLibrary:
        self.load_soon()
        assert self._loading is not None
        await asyncio.shield(self._loading)
        return self.library

    async def load(self) -> None:
        """Parse the configured folders in a thread: big files take a moment."""
        paths = self.engine.loaded.runbook_paths
        if paths:
            loop = asyncio.get_running_loop()
            self.library = await loop.run_in_executor(
                self.engine.executor, RunbookLibrary.load, paths
            )

    def for_check(self, check: str) -> Runbook | None:
        state = self.engine.checks.get(check)
        return self.library.get(state.spec.runbook) if state and state.spec.runbook else None

    def for_alert(self, alert: Alert) -> Runbook | None:
        return self.library.for_alert(alert, alert.runbook_url)

    async def progress(self, runbook: Runbook, scope: str) -> dict[str, StepProgress]:
        return await self.engine.store.steps(runbook.id, scope)

    async def mark(self, runbook: Runbook, scope: str, step: str, done: bool) -> StepProgress:
        progress = StepProgress(
            runbook.id, scope, step, done, self.engine.loaded.operator, self.engine.clock()
        )
        await self.engine.store.save_step(progress)
        if scope:  # on the incident's timeline when the scope is one (else nothing happens)
            found = runbook.step(step)
            with contextlib.suppress(Exception):
                await self.engine.incident_service.record_step(
                    scope, runbook.id, step, done, found.text if found else ""
                )
        return progress

    async def diagnose(self, block: PromqlBlock | SqlBlock) -> DetailTable:
        backend = self._backend_for(block)
        if isinstance(block, SqlBlock):
            why = read_only_problem(block.sql)
            if why:
                raise DiagnosticRefused(f"not run: {why}")
            language, text = "sql", block.sql
        else:
            language, text = "promql", block.query
        timeout = self.engine.loaded.config.poller.timeout * 2
        try:
            return await asyncio.wait_for(backend.diagnose(language, text), timeout)
        except NotImplementedError as exc:
            raise DiagnosticRefused(str(exc)) from None
        except Exception as exc:
            raise DiagnosticRefused(describe(exc, timeout)) from None

    def _backend_for(self, block: PromqlBlock | SqlBlock) -> Backend:
        backends = self.engine.backends
        name = block.backend
        if not name and isinstance(block, PromqlBlock):
            name = next((n for n, b in backends.items() if b.TYPE == "prometheus"), "")
        if name not in backends:
            raise DiagnosticRefused(f"no backend named {name or '(prometheus)'!r} in this config")
        return backends[name]
