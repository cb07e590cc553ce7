"""The action hook: actions run inside ``action_scope(incident_id)`` are written on that
incident's timeline, by an AuditLog wrapper around the engine's audit log."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oncall_console.incidents.service import IncidentService
    from oncall_console.model import ActionRequest, Outcome
    from oncall_console.store.audit import AuditEntry, AuditLog

_scope: ContextVar[str] = ContextVar("oncall_incident_scope", default="")


@contextlib.contextmanager
def action_scope(incident_id: str) -> Iterator[None]:
    """Actions executed inside this block are recorded on ``incident_id``'s timeline
    (by IncidentAuditLog). A contextvar: it follows the awaiting task, nothing else."""
    token = _scope.set(incident_id)
    try:
        yield
    finally:
        _scope.reset(token)


@dataclass
class IncidentAuditLog:
    """Wraps the engine's AuditLog: after an action's result is audited inside an
    ``action_scope``, the service writes it on the incident's timeline. A timeline
    failure never changes what the runner reports: the action ran, the audit has it."""

    inner: AuditLog
    service: IncidentService

    async def intent(
        self, request: ActionRequest, target: str, preview: str, at: float
    ) -> AuditEntry:
        return await self.inner.intent(request, target, preview, at)

    async def result(
        self, entry: AuditEntry, outcome: Outcome, message: str, at: float
    ) -> AuditEntry:
        done = await self.inner.result(entry, outcome, message, at)
        scope = _scope.get()
        if scope:
            with contextlib.suppress(Exception):
                await self.service.record_action(scope, done)
        return done
