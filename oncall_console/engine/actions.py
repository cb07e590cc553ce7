"""One path for every action: validate, refuse if read-only, preview, confirm,
lock, audit the intent, run with a timeout, audit the result, verify.

The front door (``engine/api.py``) calls :meth:`ActionRunner.prepare`, which returns an
:class:`ActionPlan`, and then :meth:`ActionRunner.execute`; there is no other way to
reach a backend's ``run``. The policies (read-only, how to confirm) are decided here
only: :func:`read_only_refusal` and :func:`confirmation`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from oncall_console.backends.base import Backend, Capability
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    Confirm,
    Outcome,
)
from oncall_console.model.params import ActionRefused, validate_param
from oncall_console.store.audit import AuditLog
from oncall_console.tasks import within
from oncall_console.text import clean


class Locks(Protocol):
    """Per-target locks shared by every console of a team (the store, or Redis)."""

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None: ...

    async def release_lock(self, key: str, holder: str) -> None: ...


INTERRUPTED = (
    "interrupted: the console was stopped while it ran; what could be stopped was "
    "stopped: check the target"
)
"""The audit result of an action whose console was stopped (SIGTERM, SIGINT) mid-run."""


def confirmation(spec: ActionSpec, asked: Confirm | None = None) -> Confirm:
    """How a person confirms ``spec``: decided here only. A dangerous action always asks
    for its target's name to be typed, whatever else it declares; the backend may ask the
    same of one request (``asked``: a pattern that could match every key), never less."""
    if spec.dangerous or spec.confirm is Confirm.TYPE_TARGET or asked is Confirm.TYPE_TARGET:
        return Confirm.TYPE_TARGET
    return Confirm.YES_NO


def read_only_refusal(spec: ActionSpec, read_only: bool) -> str:
    """Why ``spec`` may not run in this console ('' when it may): decided here only.
    Backends do not check again; nothing reaches a backend's ``run`` but through here."""
    if read_only and not spec.read_only:
        return "read-only console: actions are refused"
    return ""


@dataclass(frozen=True)
class ActionPlan:
    """Everything a caller must show and ask before an action runs (from ``prepare``)."""

    request: ActionRequest
    """The request with its parameters validated and typed."""
    spec: ActionSpec
    params: dict[str, Any]
    target: str
    """What is changed: the lock is taken on it, and a typed confirmation types it."""
    preview: str
    """Exactly what will be done (the SQL, the argv, the PATCH body), as the backend says."""
    confirm: Confirm = Confirm.YES_NO
    """YES_NO: y/n. TYPE_TARGET: the target's name, typed."""
    lock_holder: str = ""
    """Who holds the target's lock in this console right now ('' when it is free)."""
    verify: str = ""
    """What is looked at after the run ('' when nothing is)."""
    check: str = ""
    """The check this action is about (its verify_check, or the row it was started
    from): verification follows it."""
    watch: tuple[str, ...] = ()
    """What verification will follow after the run: "check pg", "SLI API error rate",
    "alert DatabaseConnectionPoolLow"."""
    watch_for: float = 0.0
    """For how long (seconds) verification follows them before it says "not recovered"."""
    recent: str = ""
    """The same action on the same target ran lately: "ran 2 min ago by alex
    (succeeded)"; the confirmation asks to run it again."""

    @property
    def typed_target(self) -> str:
        """The text to type to confirm ('' for a y/n confirmation)."""
        return self.target if self.confirm is Confirm.TYPE_TARGET else ""

    @property
    def confirm_prompt(self) -> str:
        if self.typed_target:
            return f"Type {self.target!r} to confirm"
        return "Run it? (y/n)"

    def accepts(self, answer: str) -> bool:
        """Does ``answer`` confirm this plan?"""
        answer = answer.strip()
        if self.typed_target:
            return answer == self.typed_target
        return answer.lower() in ("y", "yes")


PreparedAction = ActionPlan
"""The former name of :class:`ActionPlan`."""


class ActionRunner:
    def __init__(
        self,
        backends: dict[str, Backend],
        audit: AuditLog,
        *,
        operator: str,
        read_only: bool,
        clock: Callable[[], float],
        verify: Callable[[str], Awaitable[CheckResult | None]] | None = None,
        timeout: float = 60.0,
        locks: Locks | None = None,
        console: str = "",
    ) -> None:
        self.backends = backends
        self.audit = audit
        self.operator = operator
        self.read_only = read_only
        self.clock = clock
        self.verify = verify
        self.timeout = timeout
        self.locks = locks
        self.console = console
        self._locks: dict[str, asyncio.Lock] = {}
        self._holders: dict[str, str] = {}

    def available(
        self, backend: str | None = None, check: CheckSpec | None = None
    ) -> list[tuple[str, ActionSpec]]:
        """Actions a person may run now (in a read-only console, only read-only ones);
        with ``check``, those its backend says can act on what it watches."""
        found: list[tuple[str, ActionSpec]] = []
        for name, b in self.backends.items():
            if (backend is None or backend == name) and b.can(Capability.ACTIONS):
                found.extend(
                    (name, spec)
                    for spec in b.actions()
                    if not read_only_refusal(spec, self.read_only)
                    and (check is None or b.applies(spec, check))
                )
        return found

    def spec_for(self, request: ActionRequest) -> ActionSpec:
        backend = self.backends.get(request.backend)
        if backend is None:
            raise ActionRefused(f"no backend named {request.backend!r}")
        if not backend.can(Capability.ACTIONS) or not backend.actions():
            raise ActionRefused(f"backend {request.backend!r} has no actions")
        for spec in backend.actions():
            if spec.id == request.action:
                return spec
        ids = ", ".join(s.id for s in backend.actions())
        raise ActionRefused(f"backend {request.backend!r} has no action {request.action!r} ({ids})")

    async def prepare(self, request: ActionRequest) -> ActionPlan:
        """Validate, refuse in read-only mode, and build the preview: the plan.
        Raises ActionRefused (one line) when the request cannot go ahead."""
        spec = self.spec_for(request)
        known = {p.name for p in spec.params}
        unknown = sorted(set(request.params) - known)
        if unknown:
            raise ActionRefused(f"unknown parameter {unknown[0]!r} for {request.key}")
        params = {p.name: validate_param(p, request.params.get(p.name)) for p in spec.params}
        refusal = read_only_refusal(spec, self.read_only)
        if refusal:
            raise ActionRefused(refusal)
        typed = ActionRequest(
            request.backend, request.action, params, self.operator, request.dry_run
        )
        target = str(params.get(spec.target_param) or request.backend)
        try:
            preview = await within(self.backends[request.backend].preview(typed), self.timeout)
        except TimeoutError:
            raise ActionRefused(f"preview timed out after {self.timeout:g} s") from None
        except ActionInvalid as exc:
            raise ActionRefused(clean(str(exc), limit=300)) from None
        verify = str(params.get(spec.verify_check) or "") if spec.verify_check else ""
        return ActionPlan(
            typed,
            spec,
            params,
            target,
            clean(preview, limit=20_000, single_line=False),
            confirm=confirmation(spec, self.backends[request.backend].confirmation_for(typed)),
            lock_holder=self._holders.get(f"{request.backend}/{target}", ""),
            verify=f"check {verify}" if verify else "",
        )

    async def repreview(self, plan: ActionPlan) -> str:
        """The backend's preview of the same typed request, now (for a live blast radius
        in the confirm dialog); the plan's own preview when it fails or times out."""
        try:
            text = await within(
                self.backends[plan.request.backend].preview(plan.request), self.timeout
            )
        except Exception:
            return plan.preview
        return clean(text, limit=20_000, single_line=False)

    def confirmed(self, prepared: ActionPlan, answer: str) -> bool:
        return prepared.accepts(answer)

    async def execute(self, prepared: ActionPlan, answer: str) -> ActionResult:
        """Run a planned action once the person's answer confirms it."""
        req = prepared.request
        now = self.clock()
        refusal = read_only_refusal(prepared.spec, self.read_only)
        if refusal:
            return ActionResult(req, Outcome.REFUSED, refusal, at=now)
        if req.dry_run:
            return ActionResult(
                req, Outcome.DRY_RUN, "dry run: nothing was done", prepared.preview, at=now
            )
        if not self.confirmed(prepared, answer):
            return ActionResult(
                req, Outcome.REFUSED, "not confirmed: nothing was done", prepared.preview, at=now
            )
        lock_key = f"{req.backend}/{prepared.target}"
        lock = self._locks.setdefault(lock_key, asyncio.Lock())
        if lock.locked():
            holder = self._holders.get(lock_key, "someone")
            return ActionResult(
                req, Outcome.REFUSED, f"{prepared.target} is locked by {holder}", at=now
            )
        async with lock:
            holder = f"{self.operator or 'someone'} on {self.console or 'this console'} ({req.key})"
            self._holders[lock_key] = holder
            try:
                if self.locks is not None:
                    try:
                        other = await self.locks.acquire_lock(
                            lock_key, holder, self.timeout + 30, now
                        )
                    except Exception as exc:
                        why = clean(str(exc), limit=200)
                        return ActionResult(
                            req,
                            Outcome.REFUSED,
                            f"cannot take the lock, nothing was done: {why}",
                            at=now,
                        )
                    if other is not None:
                        return ActionResult(
                            req, Outcome.REFUSED, f"{prepared.target} is locked by {other}", at=now
                        )
                try:
                    return await self._run_locked(prepared)
                finally:
                    if self.locks is not None:
                        with contextlib.suppress(Exception):
                            await self.locks.release_lock(lock_key, holder)
            finally:
                self._holders.pop(lock_key, None)

    async def _run_locked(self, prepared: ActionPlan) -> ActionResult:
        req = prepared.request
        check = (
            str(prepared.params.get(prepared.spec.verify_check, ""))
            if prepared.spec.verify_check
            else ""
        )
        before = await self._verify(check)
        try:
            entry = await self.audit.intent(req, prepared.target, prepared.preview, self.clock())
        except Exception as exc:  # no durable intent, no action
            why = clean(str(exc), limit=200)
            return ActionResult(
                req,
                Outcome.REFUSED,
                f"audit store unavailable, nothing was done: {why}",
                at=self.clock(),
            )
        try:
            result = await within(self.backends[req.backend].run(req), self.timeout)
        except asyncio.CancelledError:
            # The console is being stopped (SIGTERM, SIGINT, q) while it runs: the backend
            # stops what it can (a shell command's process group is killed); the trail
            # says so, and the lock is released on the way out (execute's finally).
            with contextlib.suppress(Exception):
                await self.audit.result(entry, Outcome.UNKNOWN, INTERRUPTED, self.clock())
            raise
        except TimeoutError:
            result = ActionResult(
                req, Outcome.TIMED_OUT, f"no answer after {self.timeout:g} s", at=self.clock()
            )
        except Exception as exc:
            result = ActionResult(req, Outcome.FAILED, clean(str(exc), limit=300), at=self.clock())
        try:
            await self.audit.result(
                entry, result.outcome, clean(result.message, limit=500), self.clock()
            )
        except Exception as exc:  # it ran: say so, and that the trail will show it unknown
            note = f" (audit result not written: {clean(str(exc), limit=200)})"
            result = ActionResult(req, result.outcome, result.message + note, at=self.clock())
        after = await self._verify(check) if result.outcome is Outcome.SUCCEEDED else None
        return ActionResult(
            req,
            result.outcome,
            clean(result.message, limit=500),
            prepared.preview,
            clean(result.output, limit=20_000, single_line=False),
            before=_brief(before),
            after=_brief(after),
            at=self.clock(),
            audit_id=entry.id,
        )

    async def _verify(self, check: str) -> CheckResult | None:
        if not check or self.verify is None:
            return None
        try:
            return await self.verify(check)
        except Exception:
            return None


def _brief(result: CheckResult | None) -> str:
    if result is None:
        return ""
    return f"{result.status.label} · {result.summary}"
