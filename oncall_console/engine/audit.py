"""The audit trail of actions: an intent before running, a result after.

This in-memory log keeps the contract the durable stores implement; an intent
with no result is what a crash leaves behind, shown as "outcome unknown".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Protocol

from oncall_console.model import ActionRequest, Outcome


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    operator: str
    console: str
    backend: str
    action: str
    target: str
    params: dict[str, object]
    preview: str
    outcome: Outcome = Outcome.UNKNOWN
    message: str = ""
    finished_at: float | None = None


class AuditLog(Protocol):
    def intent(
        self, request: ActionRequest, target: str, preview: str, at: float
    ) -> AuditEntry: ...
    def result(
        self, entry: AuditEntry, outcome: Outcome, message: str, at: float
    ) -> AuditEntry: ...
    def entries(self) -> list[AuditEntry]: ...


@dataclass
class MemoryAuditLog:
    console: str = "console"
    _entries: dict[int, AuditEntry] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def intent(self, request: ActionRequest, target: str, preview: str, at: float) -> AuditEntry:
        entry = AuditEntry(
            id=next(self._ids),
            at=at,
            operator=request.operator,
            console=self.console,
            backend=request.backend,
            action=request.action,
            target=target,
            params=dict(request.params),
            preview=preview,
        )
        self._entries[entry.id] = entry
        return entry

    def result(self, entry: AuditEntry, outcome: Outcome, message: str, at: float) -> AuditEntry:
        done = replace(entry, outcome=outcome, message=message, finished_at=at)
        self._entries[entry.id] = done
        return done

    def entries(self) -> list[AuditEntry]:
        return list(self._entries.values())
