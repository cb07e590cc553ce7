"""The audit trail of actions: an intent before running, a result after.

``StoreAuditLog`` writes to the durable, hash-chained store; ``MemoryAuditLog``
keeps the same contract in memory for tests. An intent with no result is what a
crash leaves behind, shown as "outcome unknown" at the next start.

It lives in the store layer, below the engine and the incidents, so that both can
speak of audit entries.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field, replace
from typing import Protocol

from oncall_console.model import ActionRequest, Outcome
from oncall_console.store.base import AuditRecord, Store, canonical_params


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
    async def intent(
        self, request: ActionRequest, target: str, preview: str, at: float
    ) -> AuditEntry: ...

    async def result(
        self, entry: AuditEntry, outcome: Outcome, message: str, at: float
    ) -> AuditEntry: ...


def ssh_client() -> str:
    """The address the operator came from, when they came over SSH."""
    raw = os.environ.get("SSH_CLIENT") or os.environ.get("SSH_CONNECTION") or ""
    return raw.split()[0] if raw.split() else ""


@dataclass
class MemoryAuditLog:
    console: str = "console"
    _entries: dict[int, AuditEntry] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def intent(
        self, request: ActionRequest, target: str, preview: str, at: float
    ) -> AuditEntry:
        entry = _entry(next(self._ids), request, target, preview, at, self.console)
        self._entries[entry.id] = entry
        return entry

    async def result(
        self, entry: AuditEntry, outcome: Outcome, message: str, at: float
    ) -> AuditEntry:
        done = replace(entry, outcome=outcome, message=message, finished_at=at)
        self._entries[entry.id] = done
        return done

    def entries(self) -> list[AuditEntry]:
        return list(self._entries.values())


@dataclass
class StoreAuditLog:
    """Appends intent and result as two chained entries; the intent is durable before run."""

    store: Store
    console: str
    ssh: str = field(default_factory=ssh_client)

    async def intent(
        self, request: ActionRequest, target: str, preview: str, at: float
    ) -> AuditEntry:
        record = await self.store.append_audit(
            {
                "at": at,
                "kind": "intent",
                "intent_id": None,
                "operator": request.operator,
                "ssh_client": self.ssh,
                "console": self.console,
                "backend": request.backend,
                "action": request.action,
                "target": target,
                "params": canonical_params(request.params),
                "preview": preview,
                "outcome": Outcome.UNKNOWN.value,
                "message": "",
            }
        )
        return _entry(record.id, request, target, preview, at, self.console)

    async def result(
        self, entry: AuditEntry, outcome: Outcome, message: str, at: float
    ) -> AuditEntry:
        await self.store.append_audit(
            {
                "at": at,
                "kind": "result",
                "intent_id": entry.id,
                "operator": entry.operator,
                "ssh_client": self.ssh,
                "console": self.console,
                "backend": entry.backend,
                "action": entry.action,
                "target": entry.target,
                "params": canonical_params(entry.params),
                "preview": "",
                "outcome": outcome.value,
                "message": message,
            }
        )
        return replace(entry, outcome=outcome, message=message, finished_at=at)


async def append_verification(
    store: Store,
    request: ActionRequest,
    *,
    intent_id: int,
    target: str,
    outcome: str,
    message: str,
    at: float,
    console: str,
) -> AuditRecord:
    """How the action of intent ``intent_id`` was verified: an entry of kind ``verify``
    ("recovered" / "not recovered"), chained like the others, after its result."""
    return await store.append_audit(
        {
            "at": at,
            "kind": "verify",
            "intent_id": intent_id,
            "operator": request.operator,
            "ssh_client": ssh_client(),
            "console": console,
            "backend": request.backend,
            "action": request.action,
            "target": target,
            "params": canonical_params(request.params),
            "preview": "",
            "outcome": outcome,
            "message": message,
        }
    )


def _entry(
    id_: int, request: ActionRequest, target: str, preview: str, at: float, console: str
) -> AuditEntry:
    return AuditEntry(
        id=id_,
        at=at,
        operator=request.operator,
        console=console,
        backend=request.backend,
        action=request.action,
        target=target,
        params=dict(request.params),
        preview=preview,
    )
