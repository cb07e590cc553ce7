"""The store contract: an append-only, hash-chained audit trail and runbook progress.

Two implementations keep it: SQLite (embedded default) and PostgreSQL (shared by a
team). One contract test suite runs against both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from oncall_console.store.faults import StoreCorrupt
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.store.schema import GENESIS


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit trail. An intent is written before an action runs and its
    result after; an intent with no result is an action whose outcome is unknown."""

    id: int
    at: float
    kind: str  # "intent" | "result"
    intent_id: int | None
    operator: str
    ssh_client: str
    console: str
    backend: str
    action: str
    target: str
    params: str
    """Canonical JSON of the validated parameters."""
    preview: str
    outcome: str
    message: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class StepProgress:
    runbook: str
    scope: str
    """An incident id, or "" for work outside an incident (e.g. a shift checklist)."""
    step: str
    done: bool
    operator: str
    at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    problem: str = ""
    """What is wrong and where, e.g. 'entry 7: hash does not match its content'."""
    head: str = ""
    """The hash of the entry the audit head names, when the chain reaches it: written
    down elsewhere, it shows a later rewrite of the whole store."""


def canonical_params(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


FIELDS = (
    "id",
    "at",
    "kind",
    "intent_id",
    "operator",
    "ssh_client",
    "console",
    "backend",
    "action",
    "target",
    "params",
    "preview",
    "outcome",
    "message",
)


def entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    body = json.dumps([values[f] for f in FIELDS], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


AUDIT_COLUMNS = (*FIELDS, "prev_hash", "hash")
"""An audit row's columns, in the order of AuditRecord's fields."""


def chain_from(head: Sequence[Any] | None, last: Sequence[Any] | None) -> Sequence[Any] | None:
    """What the next entry follows: the audit head (id and hash of the newest entry ever
    appended) or the last row (id and hash), whichever is further on. After a cut at the
    end (rows deleted behind the triggers) the next entry follows the head, so the gap
    stays visible (``verify``: "entry N is missing") instead of being written over."""
    if head is None or (last is not None and last[0] > head[0]):
        return last
    return head if head[0] > 0 else None


def next_audit_record(values: dict[str, Any], last: Sequence[Any] | None) -> AuditRecord:
    """The entry after ``last`` (an id and hash, from ``chain_from``; None for the first):
    ``values`` with the next id and chained to it. Both stores call it inside their
    append's lock, and move the head to it in the same transaction."""
    row = {**values, "id": (last[0] + 1) if last else 1}
    prev = last[1] if last else GENESIS
    row["prev_hash"], row["hash"] = prev, entry_hash(prev, row)
    return AuditRecord(**{c: row[c] for c in AUDIT_COLUMNS})


def progress_by_step(rows: Iterable[Sequence[Any]]) -> dict[str, StepProgress]:
    """Rows of (runbook, scope, step, done, operator, at, note), keyed by step."""
    return {r[2]: StepProgress(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows}


NOT_CHECKED: Any = object()
"""``verify(records)`` without a head: the chain alone (for records from elsewhere)."""


def verify(records: list[AuditRecord], head: Any = NOT_CHECKED) -> ChainReport:
    """Check the chain: each hash matches its content and its predecessor, ids have no gaps;
    and that it reaches its ``head`` (entries, hash), read before the records: the entry
    the head names is there, with that hash (entries after it were appended since). A
    missing head (None) or one past the last entry is a cut at the end."""
    prev = GENESIS
    intents: set[int] = set()
    for n, r in enumerate(records, start=1):
        if r.id != n:
            return ChainReport(False, len(records), f"entry {n} is missing (found id {r.id})")
        if r.prev_hash != prev:
            return ChainReport(
                False, len(records), f"entry {r.id}: does not follow entry {r.id - 1}"
            )
        values = {f: getattr(r, f) for f in FIELDS}
        if entry_hash(prev, values) != r.hash:
            return ChainReport(
                False, len(records), f"entry {r.id}: hash does not match its content"
            )
        if r.kind == "intent":
            intents.add(r.id)
        elif r.kind not in ("result", "verify") or r.intent_id not in intents:
            return ChainReport(False, len(records), f"entry {r.id}: result of an unknown intent")
        prev = r.hash
    return _reaches(records, head) if head is not NOT_CHECKED else ChainReport(True, len(records))


def _reaches(records: list[AuditRecord], head: Sequence[Any] | None) -> ChainReport:
    n = len(records)
    if head is None:
        return ChainReport(False, n, "the audit head is missing: the end of the trail may be cut")
    entries, hash_ = int(head[0]), str(head[1])
    if entries > n:
        cut = f"entry {entries} was" if entries == n + 1 else f"entries {n + 1}-{entries} were"
        return ChainReport(
            False, n, f"the trail ends at entry {n} but its head at {entries}: {cut} cut"
        )
    if entries and records[entries - 1].hash != hash_:
        return ChainReport(
            False, n, f"entry {entries}: not the entry the audit head names (the trail was cut)"
        )
    if not entries and hash_ != GENESIS:
        return ChainReport(False, n, "the audit head does not match the trail")
    return ChainReport(True, n, head=hash_)


class Store:
    """What every store implements. All methods are coroutines; none blocks the loop.

    A fault of the store itself (a full disk, a corrupt file, no permission) raises a
    ``faults.StoreError`` whose message is one line naming the store and the fault.
    ``open`` writes only to create or update the schema: a current store opens for
    reading even where it cannot be written, and its writes then raise the fault."""

    async def open(self) -> None:
        """Connect and apply migrations."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def schema_version(self) -> int:
        raise NotImplementedError

    async def append_audit(self, values: dict[str, Any]) -> AuditRecord:
        """Append one entry; ``id``, ``prev_hash`` and ``hash`` are assigned here, atomically."""
        raise NotImplementedError

    async def audit(self, since: float | None = None) -> list[AuditRecord]:
        raise NotImplementedError

    async def save_step(self, progress: StepProgress) -> None:
        raise NotImplementedError

    async def steps(self, runbook: str, scope: str) -> dict[str, StepProgress]:
        raise NotImplementedError

    async def acquire_lock(self, key: str, holder: str, ttl: float, now: float) -> str | None:
        """Take ``key`` for ``holder`` for ``ttl`` seconds. None if taken; else who holds it.

        Expiry is judged by the store's own clock (the database server's; for SQLite the
        machine its file is on), never by ``now``, the console's clock: a console whose
        clock is ahead would take a lock another still holds. ``now`` is kept for the
        callers' signature (the buses use it) and is not trusted here."""
        raise NotImplementedError

    async def release_lock(self, key: str, holder: str) -> None:
        raise NotImplementedError

    async def audit_head(self) -> tuple[int, str] | None:
        """The audit head: the id and hash of the newest entry ever appended (0 and the
        genesis hash when none was), moved in each append's transaction; None if it is
        gone (deleted behind its trigger)."""
        raise NotImplementedError

    async def verify_audit(self) -> ChainReport:
        """The chain, and that it reaches its head (read first: appends may follow). A
        store too damaged to be read is a broken chain, said as such."""
        try:
            head = await self.audit_head()
            return verify(await self.audit(), head)
        except StoreCorrupt as exc:
            return ChainReport(False, 0, f"the store is corrupt: {exc}")

    async def unfinished(self) -> list[AuditRecord]:
        """Intents with no result: the console died (or was killed) while they ran."""
        records = await self.audit()
        done = {r.intent_id for r in records if r.kind == "result"}
        return [r for r in records if r.kind == "intent" and r.id not in done]

    # --- incidents (migration 3; records and SQL in store/incidents.py) ---------------------

    async def create_incident(
        self,
        values: dict[str, Any],
        operator: str,
        at: float,
        prefix: str = "INC",
        entries: Sequence[TimelineRecord] = (),
    ) -> IncidentRecord:
        """Allocate the next id (``INC-1001``, ``INC-1002``… atomically, across consoles),
        insert the incident with ``values`` (title, severity 1-4, status, commander,
        runbook, group_key, impact, affected, acknowledged_at), a "declared" entry, and
        ``entries`` (their incident_id is replaced by the new id), in one transaction."""
        raise NotImplementedError

    async def update_incident(
        self,
        incident_id: str,
        values: dict[str, Any],
        operator: str,
        at: float,
        *,
        kind: str = "",
        text: str = "",
        check: Callable[[IncidentRecord], None] | None = None,
    ) -> IncidentRecord:
        """Change some fields and append one timeline entry describing the change (``kind``
        and ``text`` default to a description such as "status investigating → identified"),
        in one transaction. ``check`` sees the current row inside the transaction and may
        raise to refuse. Nothing changes, and nothing is written, when the values are the
        current ones. IncidentNotFound if there is no such incident."""
        raise NotImplementedError

    async def add_timeline(self, entry: TimelineRecord) -> TimelineRecord | None:
        """Append ``entry`` (its id is assigned here). An ``alert:`` or ``audit:`` ref is
        written once per incident and kind: a repeat returns None and writes nothing."""
        raise NotImplementedError

    async def incidents(
        self, open_only: bool = False, since: float | None = None
    ) -> list[IncidentRecord]:
        """Newest first. ``since``: only those whose row or timeline changed at or after it."""
        raise NotImplementedError

    async def incident(self, incident_id: str) -> IncidentRecord | None:
        raise NotImplementedError

    async def timeline(self, incident_id: str) -> list[TimelineRecord]:
        """Oldest first (by time, then by order of writing)."""
        raise NotImplementedError

    async def incident_for_group(self, group_key: str) -> IncidentRecord | None:
        """The newest open incident whose group_key is ``group_key``."""
        raise NotImplementedError
