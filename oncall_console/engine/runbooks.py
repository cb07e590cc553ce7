"""Runbooks as the engine serves them: the library, progress in the store, and
read-only diagnostics run through the backends. No Textual here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from oncall_console.backends.base import Backend
from oncall_console.errors import describe
from oncall_console.model import Alert, DetailTable
from oncall_console.runbooks import (
    ActionBlock,
    PromqlBlock,
    ReferenceBlock,
    Runbook,
    RunbookLibrary,
    SqlBlock,
)
from oncall_console.runbooks.lint import read_only_problem, resolve_backend, resolve_blocks
from oncall_console.store import AuditRecord, StepProgress
from oncall_console.tasks import within

if TYPE_CHECKING:
    from oncall_console.incidents import IncidentService
    from oncall_console.store import Store


GUESS_LABELS = ("service", "job", "namespace", "app", "deployment", "team", "component")
"""Alert labels whose values are compared with runbook tags to guess a runbook."""


@dataclass(frozen=True)
class RunbookChoice:
    """What ``RunbookService.choose`` found: the runbook to open at once (``sure``), or
    the guesses to offer first in a picker, then every other runbook."""

    sure: Runbook | None
    guesses: list[Runbook]
    rest: list[Runbook]
    link: str = ""
    """The alerts' runbook_url: shown as a link to open or copy when nothing here matches."""
    labels: dict[str, str] = field(default_factory=dict)
    """The labels the alerts share (and ``check``): they fill the commands' placeholders."""


SHIFT = 12 * 3600.0
"""How far back an action counts as done for a runbook's step that asks for it."""


def shared_labels(alerts: Sequence[Alert], check: str = "") -> dict[str, str]:
    """The labels every alert has with the same value (the check's name as ``check``)."""
    shared: dict[str, str] = dict(alerts[0].labels) if alerts else {}
    for alert in alerts[1:]:
        shared = {k: v for k, v in shared.items() if alert.labels.get(k) == v}
    if check:
        shared.setdefault("check", check)
    return shared


class DiagnosticRefused(Exception):
    """One line: why this diagnostic cannot run (no backend, not read-only, failed)."""


class RunbookService:
    """Given what it needs, not the engine: the folders, the thread pool for parsing,
    the store for progress, the incidents for their timelines, the backends for
    diagnostics."""

    def __init__(
        self,
        *,
        paths: Sequence[str | Path],
        executor: Executor,
        store: Store,
        incidents: IncidentService,
        backends: Mapping[str, Backend],
        operator: str,
        clock: Callable[[], float],
        timeout: float,
    ) -> None:
        self.paths = list(paths)
        self.executor = executor
        self.store = store
        self.incidents = incidents
        self.backends = backends
        self.operator = operator
        self.clock = clock
        self.timeout = timeout
        self.check_runbooks: dict[str, str] = {}
        """check name -> the runbook id its config names."""
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
        if self.paths:
            loop = asyncio.get_running_loop()
            self.library = await loop.run_in_executor(self.executor, self._load)

    def _load(self) -> RunbookLibrary:
        """The library, with blocks that name a backend by its type naming this config's
        one backend of that type (so the bundled runbooks work whatever the names)."""
        library = RunbookLibrary.load(self.paths)
        return library.resolved(lambda rb: resolve_blocks(rb, self.backends))

    def for_check(self, check: str) -> Runbook | None:
        runbook = self.check_runbooks.get(check)
        return self.library.get(runbook) if runbook else None

    def for_alert(self, alert: Alert) -> Runbook | None:
        return self.library.for_alert(alert, alert.runbook_url)

    def choose(
        self, *, alerts: Sequence[Alert] = (), names: Sequence[str] = (), check: str = ""
    ) -> RunbookChoice:
        """Which runbook answers these alerts / this check, never a dead end:

        1. sure: the check's configured runbook; an alert's name (front matter
           ``alerts``, file stem), its ``runbook_url`` (last segment, fragment);
        2. guesses: runbooks whose tags name a label value of the alerts (service,
           job, namespace, ...) or the check;
        3. the rest of the library, for a picker; and the alerts' runbook_url, to
           open or copy when it is not a runbook here.
        """
        sure: list[Runbook] = []
        if check and (configured := self.for_check(check)) is not None:
            sure.append(configured)
        for alert in alerts:
            sure += self.library.matches(alert)
        for name in names:
            sure += self.library.matches(name)
        words = {check.lower()} if check else set()
        for alert in alerts:
            words |= {v.lower() for k, v in alert.labels.items() if k in GUESS_LABELS and v}
        words.discard("")
        guesses = [r for r in self.library.all() if words & {t.lower() for t in r.tags}]
        ordered = list({r.id: r for r in [*sure, *guesses]}.values())  # first of each id
        taken = {r.id for r in ordered}
        rest = [r for r in self.library.all() if r.id not in taken]
        link = next((a.runbook_url for a in alerts if a.runbook_url), "")
        return RunbookChoice(
            sure=ordered[0] if sure else None,
            guesses=ordered,
            rest=rest,
            link=link,
            labels=shared_labels(alerts, check),
        )

    async def progress(self, runbook: Runbook, scope: str) -> dict[str, StepProgress]:
        """The steps ticked in ``scope``, with the steps whose action ran since (from any
        console, the palette, the CLI: the audit trail is the truth) ticked too, by
        whoever ran it. A step someone unticked after the action stays unticked."""
        found = await self.store.steps(runbook.id, scope)
        for step_id, record in (await self._actions_done(runbook)).items():
            known = found.get(step_id)
            if known is not None and (known.done or known.at >= record.at):
                continue
            note = f"ran {record.action} on {record.target} (audit #{record.id})"
            ticked = StepProgress(
                runbook.id, scope, step_id, True, record.operator, record.at, note
            )
            with contextlib.suppress(Exception):  # shown ticked even if it cannot be saved
                await self.store.save_step(ticked)
            found[step_id] = ticked
        return found

    async def _actions_done(self, runbook: Runbook) -> dict[str, AuditRecord]:
        """Steps of ``runbook`` whose action block ran and succeeded in the last shift:
        the same backend, action and target (any target when the block asks for it)."""
        wanted: dict[str, tuple[str, str, str | None]] = {}
        for step in runbook.steps:
            for block in step.blocks:
                if isinstance(block, ActionBlock):
                    wanted[step.id] = (block.backend, block.action, self._target_of(block))
                    break
        if not wanted:
            return {}
        try:
            records = await self.store.audit(self.clock() - SHIFT)
        except Exception:
            return {}
        ok = {r.intent_id for r in records if r.kind == "result" and r.outcome == "succeeded"}
        done: dict[str, AuditRecord] = {}
        for r in records:
            if r.kind != "intent" or r.id not in ok:
                continue
            for step_id, (backend, action, target) in wanted.items():
                if (r.backend, r.action) == (backend, action) and target in (None, r.target):
                    done[step_id] = r  # the latest run wins
        return done

    def _target_of(self, block: ActionBlock) -> str | None:
        """The target a block names (None: any, when it asks for it or names none)."""
        backend = self.backends.get(block.backend)
        spec = next(
            (a for a in (backend.actions() if backend is not None else []) if a.id == block.action),
            None,
        )
        if spec is None or spec.target_param in block.ask:
            return None
        value = block.params.get(spec.target_param)
        return None if value in (None, "") else str(value)

    async def steps_since(self, since: float) -> list[StepProgress] | None:
        """Steps ticked or unticked since ``since`` (None: the store cannot tell)."""
        steps_since = getattr(self.store, "steps_since", None)
        return None if steps_since is None else await steps_since(since)

    async def mark(self, runbook: Runbook, scope: str, step: str, done: bool) -> StepProgress:
        progress = StepProgress(runbook.id, scope, step, done, self.operator, self.clock())
        await self.store.save_step(progress)
        if scope:  # on the incident's timeline when the scope is one (else nothing happens)
            found = runbook.step(step)
            with contextlib.suppress(Exception):
                await self.incidents.record_step(
                    scope, runbook.id, step, done, found.text if found else ""
                )
        return progress

    def unavailable(self, block: PromqlBlock | SqlBlock | ReferenceBlock) -> str:
        """Why ``block`` cannot run in this config, "" when it can; no IO, so a step says
        so before ``r`` is pressed rather than offer a key that ends in a refusal."""
        try:
            backend, language, _text = self._diagnostic(block)
        except DiagnosticRefused as exc:
            return str(exc)
        return _not_spoken(backend, language)

    async def diagnose(self, block: PromqlBlock | SqlBlock | ReferenceBlock) -> DetailTable:
        """A read-only diagnostic: PromQL, one read-only SQL statement, or a command a
        backend answers itself (``kubectl get pods``: the kubernetes backend reads the
        pods; no kubectl runs)."""
        backend, language, text = self._diagnostic(block)
        why = _not_spoken(backend, language)
        if why:
            raise DiagnosticRefused(why)
        timeout = self.timeout
        try:
            return await within(backend.diagnose(language, text), timeout)
        except NotImplementedError as exc:
            raise DiagnosticRefused(str(exc)) from None
        except Exception as exc:
            raise DiagnosticRefused(describe(exc, timeout)) from None

    def _diagnostic(
        self, block: PromqlBlock | SqlBlock | ReferenceBlock
    ) -> tuple[Backend, str, str]:
        """The backend, language and text ``block`` runs as; DiagnosticRefused if none."""
        backend = self._backend_for(block)
        if isinstance(block, SqlBlock):
            why = read_only_problem(block.sql)
            if why:
                raise DiagnosticRefused(f"not run: {why}")
            return backend, "sql", block.sql
        if isinstance(block, ReferenceBlock):
            return backend, "kubectl", block.text
        return backend, "promql", block.query

    def _backend_for(self, block: PromqlBlock | SqlBlock | ReferenceBlock) -> Backend:
        backends = self.backends
        if isinstance(block, ReferenceBlock):
            found, why = resolve_backend("kubernetes", backends)
            if found is None:
                raise DiagnosticRefused(why)
            return backends[found]
        name = block.backend
        if not name and isinstance(block, PromqlBlock):
            name = next((n for n, b in backends.items() if b.TYPE == "prometheus"), "")
        if not name and isinstance(block, SqlBlock):
            name = "postgres"  # a plain ```sql block: the one postgres backend, if one
        found, why = resolve_backend(name, backends) if name else (None, "")
        if found is None:
            raise DiagnosticRefused(why or "no prometheus backend in this config")
        return backends[found]


def _not_spoken(backend: Backend, language: str) -> str:
    """Why ``backend`` will not run ``language`` ("" when it does, or may: a plugin that
    names no languages but has a ``diagnose`` of its own is asked, and may refuse)."""
    speaks = backend.DIAGNOSES
    if language in speaks:
        return ""
    if speaks or type(backend).diagnose is Backend.diagnose:
        return f"backend {backend.name!r} ({backend.TYPE}) does not run {language}"
    return ""
