"""One path for every action: validate, refuse if read-only, preview, confirm,
lock, audit the intent, run with a timeout, audit the result, verify.

The UI and the CLI call :meth:`ActionRunner.prepare` and then
:meth:`ActionRunner.execute`; there is no other way to reach a backend's ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from oncall_console.backends.base import Backend, Capability
from oncall_console.backends.shared.params import MAX_TEXT
from oncall_console.engine.audit import AuditLog
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    Confirm,
    Outcome,
    ParamSpec,
)
from oncall_console.model.actions import DNS_1123, DNS_SUBDOMAIN, IDENTIFIER
from oncall_console.text import clean


class ActionRefused(Exception):
    """The request cannot go ahead; the message says why, in one line."""


class Locks(Protocol):
    """Per-target locks shared by every console of a team (the store, or Redis)."""

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None: ...

    async def release_lock(self, key: str, holder: str) -> None: ...


@dataclass(frozen=True)
class PreparedAction:
    request: ActionRequest
    spec: ActionSpec
    params: dict[str, Any]
    target: str
    preview: str

    @property
    def confirm_prompt(self) -> str:
        if self.spec.confirm is Confirm.TYPE_TARGET:
            return f"Type {self.target!r} to confirm"
        return "Run it? (y/n)"


def validate_param(spec: ParamSpec, value: Any) -> Any:
    """Return the typed value or raise ActionRefused naming the parameter."""
    name = spec.name
    if value is None or value == "":
        if spec.required and spec.default is None:
            raise ActionRefused(f"{name}: required")
        value = spec.default
        if value is None:
            return None
    if spec.kind == "int":
        if isinstance(value, bool):
            raise ActionRefused(f"{name}: expected a whole number")
        try:
            n = int(str(value).strip())
        except ValueError:
            raise ActionRefused(
                f"{name}: expected a whole number, got {clean(value, limit=40)!r}"
            ) from None
        if spec.minimum is not None and n < spec.minimum:
            raise ActionRefused(f"{name}: must be at least {spec.minimum}")
        if spec.maximum is not None and n > spec.maximum:
            raise ActionRefused(f"{name}: must be at most {spec.maximum}")
        return n
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1"):
            return True
        if text in ("false", "no", "n", "0"):
            return False
        raise ActionRefused(f"{name}: expected true or false")
    text = str(value)
    if spec.kind == "name":
        if not DNS_1123.match(text):
            raise ActionRefused(
                f"{name}: {clean(text, limit=60)!r} is not a valid name "
                "(lowercase letters, digits and '-', at most 63)"
            )
        return text
    if spec.kind == "subdomain":
        if not DNS_SUBDOMAIN.match(text):
            raise ActionRefused(
                f"{name}: {clean(text, limit=60)!r} is not a valid name "
                "(lowercase letters, digits, '-' and '.', at most 253)"
            )
        return text
    if spec.kind == "identifier":
        if not IDENTIFIER.match(text):
            raise ActionRefused(f"{name}: {clean(text, limit=60)!r} is not a valid identifier")
        return text
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ActionRefused(f"{name}: must be one of {', '.join(spec.choices)}")
        return text
    if spec.kind == "text":  # several lines (a status message): newlines, no other controls
        text = text.replace("\r\n", "\n")
        if clean(text, limit=MAX_TEXT + 1, single_line=False) != text.replace("\t", "    "):
            raise ActionRefused(f"{name}: control characters are not allowed")
        if len(text) > MAX_TEXT:
            raise ActionRefused(f"{name}: too long (at most {MAX_TEXT} characters)")
        return text
    if clean(text, limit=10_000) != text:
        raise ActionRefused(f"{name}: control characters are not allowed")
    if len(text) > 500:
        raise ActionRefused(f"{name}: too long (at most 500 characters)")
    return text


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

    def available(self, backend: str | None = None) -> list[tuple[str, ActionSpec]]:
        """Actions a person may run now; none at all in read-only mode."""
        if self.read_only:
            return []
        found: list[tuple[str, ActionSpec]] = []
        for name, b in self.backends.items():
            if (backend is None or backend == name) and b.can(Capability.ACTIONS):
                found.extend((name, spec) for spec in b.actions())
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

    async def prepare(self, request: ActionRequest) -> PreparedAction:
        """Validate, refuse in read-only mode, and build the preview."""
        spec = self.spec_for(request)
        known = {p.name for p in spec.params}
        unknown = sorted(set(request.params) - known)
        if unknown:
            raise ActionRefused(f"unknown parameter {unknown[0]!r} for {request.key}")
        params = {p.name: validate_param(p, request.params.get(p.name)) for p in spec.params}
        if self.read_only:
            raise ActionRefused("read-only console: actions are refused")
        typed = ActionRequest(
            request.backend, request.action, params, self.operator, request.dry_run
        )
        target = str(params.get(spec.target_param) or request.backend)
        try:
            preview = await asyncio.wait_for(
                self.backends[request.backend].preview(typed), self.timeout
            )
        except TimeoutError:
            raise ActionRefused(f"preview timed out after {self.timeout:g} s") from None
        except ActionInvalid as exc:
            raise ActionRefused(clean(str(exc), limit=300)) from None
        return PreparedAction(
            typed, spec, params, target, clean(preview, limit=20_000, single_line=False)
        )

    def confirmed(self, prepared: PreparedAction, answer: str) -> bool:
        answer = answer.strip()
        if prepared.spec.confirm is Confirm.TYPE_TARGET or prepared.spec.dangerous:
            return answer == prepared.target
        return answer.lower() in ("y", "yes")

    async def execute(self, prepared: PreparedAction, answer: str) -> ActionResult:
        """Run a prepared action once the person's answer confirms it."""
        req = prepared.request
        now = self.clock()
        if self.read_only:
            return ActionResult(
                req, Outcome.REFUSED, "read-only console: actions are refused", at=now
            )
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

    async def _run_locked(self, prepared: PreparedAction) -> ActionResult:
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
            result = await asyncio.wait_for(self.backends[req.backend].run(req), self.timeout)
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
