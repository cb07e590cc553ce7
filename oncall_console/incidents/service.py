"""Incidents as the engine serves them: declare, walk the lifecycle, link alerts, and keep
the timeline of everything that happened. No Textual here; the TUI, the war room and the
CLI use the same service.

Lifecycle: investigating → identified → monitoring → resolved. Steps may be skipped
forwards (a restart can fix a problem before anyone identifies it) or taken back (the fix
did not hold); a resolved incident can only be reopened, to investigating. Every change
is one store transaction that also appends its timeline entry; a change is refused when
another console changed the same field in between (read, check, write).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from oncall_console.incidents import comms
from oncall_console.incidents.policy import Due, Policy, parse_severity
from oncall_console.incidents.records import (
    ACKNOWLEDGED,
    ACTION,
    ALERT_ATTACHED,
    ALERT_FIRED,
    ALERT_RESOLVED,
    COMMANDER,
    COMMS,
    IMPACT,
    NOTE,
    NOTE_LIMIT,
    REOPENED,
    RESOLVED,
    RUNBOOK,
    SEVERITY,
    STATUS,
    STEP,
    TITLE_LIMIT,
    VERIFY,
    ActionRecordLike,
    IncidentError,
    alert_links,
    alert_ref,
    alert_text,
    because,
    group_key_of,
    parse_status,
    to_model,
    transition_problem,
)
from oncall_console.incidents.steps import Prompt, next_steps
from oncall_console.model import Alert, Incident, IncidentStatus, Severity
from oncall_console.store.base import Store
from oncall_console.store.incidents import IncidentNotFound, IncidentRecord, TimelineRecord
from oncall_console.text import clean


@dataclass
class IncidentService:
    """Engine-side incidents over a Store. Methods are coroutines unless noted; the
    ``snapshot`` / ``cached`` / ``due`` readers are synchronous, from the last ``sync``."""

    store: Store
    clock: Callable[[], float] = time.time
    operator: str = ""
    policy: Policy = field(default_factory=Policy)
    show_resolved_for: float = 12 * 3600
    """How long a resolved incident stays in the snapshot (the dashboard)."""
    id_prefix: str = "INC"
    records: dict[str, IncidentRecord] = field(default_factory=dict)
    """The last sync: open incidents and those resolved within show_resolved_for."""
    timelines: dict[str, list[TimelineRecord]] = field(default_factory=dict)
    on_change: Callable[[str, str], None] | None = None
    """Called with ("incident" | "timeline", incident id) after each write: the engine
    tells the other consoles (bus) and refreshes its snapshot. Its failures are ignored."""
    _names: dict[str, str] = field(default_factory=dict)
    """Alert names seen by fingerprint, for "alert resolved" text after it is gone."""

    def _notify(self, kind: str, incident_id: str) -> None:
        if self.on_change is not None:
            with contextlib.suppress(Exception):
                self.on_change(kind, incident_id)

    # --- reading -------------------------------------------------------------------------

    async def get(self, incident_id: str) -> IncidentRecord:
        record = await self.store.incident(incident_id)
        if record is None:
            raise IncidentError(f"no incident {clean(incident_id, limit=40)!r}")
        return record

    async def timeline(self, incident_id: str) -> list[TimelineRecord]:
        return await self.store.timeline(incident_id)

    async def find(
        self, open_only: bool = False, since: float | None = None
    ) -> list[IncidentRecord]:
        """Newest first; ``since``: changed at or after it."""
        return await self.store.incidents(open_only=open_only, since=since)

    async def refresh(self) -> bool:
        """Reload the snapshot from the store; True when anything changed."""
        now = self.clock()
        found = {r.id: r for r in await self.store.incidents(open_only=True)}
        for r in await self.store.incidents(since=now - self.show_resolved_for):
            found.setdefault(r.id, r)
        changed = {k: v.revision for k, v in found.items()} != {
            k: v.revision for k, v in self.records.items()
        }
        timelines = {}
        for key, record in found.items():
            old = self.records.get(key)
            if old is not None and old.revision == record.revision and key in self.timelines:
                timelines[key] = self.timelines[key]
            else:
                timelines[key] = await self.store.timeline(key)
        self.records, self.timelines = found, timelines
        return changed

    def cached(self, incident_id: str) -> IncidentRecord | None:
        return self.records.get(incident_id)

    def snapshot(self) -> list[Incident]:
        """The incidents of the last sync as model objects (for Engine.incidents())."""
        return [to_model(r, self.timelines.get(r.id, ())) for r in self.records.values()]

    def due(
        self,
        incident: IncidentRecord | Incident | str,
        now: float | None = None,
        timeline: Sequence[TimelineRecord] | None = None,
    ) -> Due:
        """Escalation, response and update timers (synchronous, from the last sync, or
        from ``timeline`` for an incident read outside it)."""
        now = self.clock() if now is None else now
        record = self.records.get(incident) if isinstance(incident, str) else incident
        if record is None:
            raise IncidentError(f"no incident {clean(incident, limit=40)!r} in the snapshot")
        if timeline is None:
            timeline = self.timelines.get(record.id, ())
        last = max((e.at for e in timeline if e.kind == COMMS), default=None)
        return self.policy.due(record, now, last)

    def steps(self, record: IncidentRecord, now: float | None = None) -> list[Prompt]:
        """What the policy asks of the people on ``record`` now (incidents/steps.py)."""
        return next_steps(record, self.due(record, now))

    # --- declaring and the lifecycle ------------------------------------------------------

    async def declare(
        self,
        title: str = "",
        severity: Severity | int | str | None = None,
        *,
        from_alert: Alert | None = None,
        commander: str = "",
        runbook: str = "",
        impact: str = "",
        affected: str = "",
        force: bool = False,
    ) -> IncidentRecord:
        """Open an incident. From an alert: title, severity, group and "affected" default
        from it, and its firing is the first timeline entry. Refused when an open incident
        already has that alert's group (``force`` declares a second one anyway)."""
        now = self.clock()
        group_key = ""
        if from_alert is not None:
            a = from_alert
            title = title or (f"{a.name}: {a.summary}" if a.summary else a.name)
            severity = a.severity if severity is None else severity
            group_key = group_key_of(a)
            affected = affected or a.labels.get("service", "") or a.labels.get("job", "")
            existing = await self.store.incident_for_group(group_key)
            if existing is not None and not force:
                raise IncidentError(
                    f"{existing.id} is already open for this alert's group: attach to it,"
                    " or declare anyway"
                )
        title = clean(title, limit=TITLE_LIMIT).strip()
        if not title:
            raise IncidentError("an incident needs a title")
        try:
            sev = parse_severity(Severity.SEV3 if severity is None else severity)
        except ValueError as exc:
            raise IncidentError(str(exc)) from None
        first: tuple[TimelineRecord, ...] = ()
        if from_alert is not None:
            self._names[from_alert.fingerprint] = from_alert.name
            first = (
                TimelineRecord(
                    "",
                    from_alert.starts_at or now,
                    ALERT_FIRED,
                    alert_text(from_alert),
                    "",
                    alert_ref(from_alert.fingerprint, 1),
                ),
            )
        record = await self.store.create_incident(
            {
                "title": title,
                "severity": int(sev),
                "commander": clean(commander, limit=80).strip(),
                "runbook": clean(runbook, limit=120).strip(),
                "group_key": group_key,
                "impact": clean(impact, limit=NOTE_LIMIT).strip(),
                "affected": clean(affected, limit=500).strip(),
            },
            self.operator,
            now,
            self.id_prefix,
            first,
        )
        self._notify("incident", record.id)
        return record

    async def _change(
        self,
        incident_id: str,
        values: dict[str, Any],
        kind: str,
        text: str,
        unchanged: Callable[[IncidentRecord], str],
    ) -> IncidentRecord:
        """Write ``values`` with one timeline entry, refused if ``unchanged(current)``
        (evaluated again inside the transaction) says what changed meanwhile."""

        def check(current: IncidentRecord) -> None:
            problem = unchanged(current)
            if problem:
                raise IncidentError(problem)

        try:
            record = await self.store.update_incident(
                incident_id, values, self.operator, self.clock(), kind=kind, text=text, check=check
            )
        except IncidentNotFound:
            raise IncidentError(f"no incident {clean(incident_id, limit=40)!r}") from None
        self._notify("incident", record.id)
        return record

    async def set_status(
        self, incident_id: str, status: IncidentStatus | str, note: str = ""
    ) -> IncidentRecord:
        """Move along the lifecycle; ``note`` says why (it is part of the timeline entry)."""
        new = parse_status(status)
        current = await self.get(incident_id)
        old = parse_status(current.status)
        problem = transition_problem(current.id, old, new)
        if problem:
            raise IncidentError(problem)
        values: dict[str, Any] = {"status": new.value}
        kind = STATUS
        if new is IncidentStatus.RESOLVED:
            values["resolved_at"] = self.clock()
            kind = RESOLVED
        elif old is IncidentStatus.RESOLVED:
            values["resolved_at"] = None
            kind = REOPENED
        text = f"status {old.value} → {new.value}" + because(note)

        def unchanged(now: IncidentRecord) -> str:
            if now.status != old.value:
                return f"{now.id} changed meanwhile: it is {now.status} now"
            return ""

        return await self._change(current.id, values, kind, text, unchanged)

    async def resolve(self, incident_id: str, note: str = "") -> IncidentRecord:
        return await self.set_status(incident_id, IncidentStatus.RESOLVED, note)

    async def reopen(self, incident_id: str, reason: str = "") -> IncidentRecord:
        return await self.set_status(incident_id, IncidentStatus.INVESTIGATING, reason)

    async def set_severity(
        self, incident_id: str, severity: Severity | int | str, note: str = ""
    ) -> IncidentRecord:
        """SEV1-SEV4 or P1-P4. The same severity again changes nothing."""
        try:
            new = parse_severity(severity)
        except ValueError as exc:
            raise IncidentError(str(exc)) from None
        current = await self.get(incident_id)
        if current.severity == int(new):
            return current
        old = Severity(current.severity)
        text = f"severity {old.label} → {new.label}" + because(note)

        def unchanged(now: IncidentRecord) -> str:
            if now.severity != current.severity:
                return f"{now.id} changed meanwhile: it is SEV{now.severity} now"
            return ""

        return await self._change(current.id, {"severity": int(new)}, SEVERITY, text, unchanged)

    async def set_commander(self, incident_id: str, who: str) -> IncidentRecord:
        """Hand command to ``who`` ("" to clear). Taking command: ``set_commander(id,
        service.operator)``."""
        who = clean(who, limit=80).strip()
        current = await self.get(incident_id)
        if current.commander == who:
            return current
        text = f"commander {current.commander or '(none)'} → {who or '(none)'}"

        def unchanged(now: IncidentRecord) -> str:
            if now.commander != current.commander:
                return f"{now.id} changed meanwhile: its commander is {now.commander or 'nobody'}"
            return ""

        return await self._change(current.id, {"commander": who}, COMMANDER, text, unchanged)

    async def acknowledge(self, incident_id: str) -> IncidentRecord:
        """Someone responds: stops the response clock (escalation still follows the matrix)."""
        current = await self.get(incident_id)
        if current.acknowledged_at is not None:
            raise IncidentError(
                f"{current.id} was already acknowledged at {comms.utc(current.acknowledged_at)}"
            )
        now = self.clock()
        target = self.policy.response_seconds(current.severity)
        late = " (over the response time)" if now - current.opened_at > target else ""
        text = (
            f"acknowledged by {self.operator or 'someone'} after"
            f" {comms.duration(now - current.opened_at)}; target {comms.duration(target)}{late}"
        )

        def unchanged(now_: IncidentRecord) -> str:
            if now_.acknowledged_at is not None:
                return f"{now_.id} was acknowledged meanwhile"
            return ""

        return await self._change(
            current.id, {"acknowledged_at": now}, ACKNOWLEDGED, text, unchanged
        )

    async def set_impact(
        self, incident_id: str, impact: str | None = None, affected: str | None = None
    ) -> IncidentRecord:
        """What is hurt (for the status page) and which services; None leaves one as is."""
        values: dict[str, Any] = {}
        if impact is not None:
            values["impact"] = clean(impact, limit=NOTE_LIMIT).strip()
        if affected is not None:
            values["affected"] = clean(affected, limit=500).strip()
        current = await self.get(incident_id)
        parts = [f"{k} {v or '(none)'}" for k, v in values.items() if getattr(current, k) != v]
        if not parts:
            return current
        return await self._change(current.id, values, IMPACT, "; ".join(parts), lambda _: "")

    async def set_runbook(self, incident_id: str, runbook: str) -> IncidentRecord:
        runbook = clean(runbook, limit=120).strip()
        current = await self.get(incident_id)
        if current.runbook == runbook:
            return current
        text = f"runbook {current.runbook or '(none)'} → {runbook or '(none)'}"
        return await self._change(current.id, {"runbook": runbook}, RUNBOOK, text, lambda _: "")

    async def note(self, incident_id: str, text: str) -> TimelineRecord:
        text = clean(text, limit=NOTE_LIMIT).strip()
        if not text:
            raise IncidentError("an empty note says nothing")
        return await self._append(incident_id, NOTE, text, self.operator)

    async def record_verification(self, incident_id: str, text: str, ref: str) -> None:
        """How an action's verification ended ("demo.rollback on prediction-service:
        recovered in 37 s"), once per audit entry; nothing when not an incident here."""
        with contextlib.suppress(IncidentError):  # a scope that is not an incident here
            await self._append(
                incident_id, VERIFY, clean(text, limit=NOTE_LIMIT), self.operator, ref
            )

    async def _append(
        self, incident_id: str, kind: str, text: str, operator: str, ref: str = "", at: float = 0
    ) -> TimelineRecord:
        entry = TimelineRecord(incident_id, at or self.clock(), kind, text, operator, ref)
        try:
            written = await self.store.add_timeline(entry)
        except IncidentNotFound:
            raise IncidentError(f"no incident {clean(incident_id, limit=40)!r}") from None
        self._notify("timeline", incident_id)
        return written or entry

    # --- alerts ---------------------------------------------------------------------------

    async def link_alert(self, incident_id: str, alert: Alert) -> TimelineRecord | None:
        """Attach ``alert`` by hand (its group need not match). None if already attached."""
        links = alert_links(await self.timeline(incident_id))
        link = links.get(alert.fingerprint)
        if link is not None and link.attached:
            return None
        self._names[alert.fingerprint] = alert.name
        return await self._attach(
            incident_id, alert, (link.firing if link else 0) + 1, self.operator
        )

    async def _attach(
        self, incident_id: str, alert: Alert, firing: int, operator: str = ""
    ) -> TimelineRecord | None:
        try:
            written = await self.store.add_timeline(
                TimelineRecord(
                    incident_id,
                    self.clock(),
                    ALERT_ATTACHED,
                    alert_text(alert),
                    operator,
                    alert_ref(alert.fingerprint, firing),
                )
            )
        except IncidentNotFound:
            raise IncidentError(f"no incident {clean(incident_id, limit=40)!r}") from None
        if written is not None:
            self._notify("timeline", incident_id)
        return written

    async def attach_alerts(
        self, alerts: Sequence[Alert], *, complete: bool = True
    ) -> list[TimelineRecord]:
        """Call with every poll's ``engine.alerts()``. An alert whose group (or fingerprint)
        is an open incident's group_key, or that was linked to it before and fires again,
        is attached ("alert attached"); an attached alert no longer in ``alerts`` is
        written "alert resolved", once. ``complete=False`` (a source has not answered yet,
        or failed, or cut its answer) attaches but never resolves: a missing alert may only
        be unreported. A list whose ``complete`` attribute is False (a feed cut at its
        limit) counts as ``complete=False`` too. Idempotent, also across consoles (the
        store writes an alert ref once)."""
        complete = complete and getattr(alerts, "complete", True)
        now = self.clock()
        written: list[TimelineRecord] = []
        active = {a.fingerprint: a for a in alerts}
        for a in alerts:
            self._names[a.fingerprint] = a.name
        open_incidents = await self.store.incidents(open_only=True)
        newest_for_group: dict[str, str] = {}
        for r in sorted(open_incidents, key=lambda r: (r.opened_at, r.number)):
            if r.group_key:
                newest_for_group[r.group_key] = r.id
        for incident in open_incidents:
            links = alert_links(await self.store.timeline(incident.id))
            for fp, link in links.items():
                if link.attached and fp not in active and complete:
                    name = self._names.get(fp) or link.text.partition(" (")[0]
                    got = await self.store.add_timeline(
                        TimelineRecord(
                            incident.id,
                            now,
                            ALERT_RESOLVED,
                            f"{name} no longer firing",
                            "",
                            link.ref,
                        )
                    )
                    if got is not None:
                        written.append(got)
                        self._notify("timeline", incident.id)
            for a in alerts:
                known = links.get(a.fingerprint)
                mine = newest_for_group.get(group_key_of(a)) == incident.id or known is not None
                if not mine or (known is not None and known.attached):
                    continue
                got = await self._attach(incident.id, a, (known.firing if known else 0) + 1)
                if got is not None:
                    written.append(got)
        return written

    async def sync(self, alerts: Sequence[Alert], *, complete: bool = True) -> bool:
        """One poll's work: attach / resolve alerts, then refresh the snapshot. True when
        the snapshot changed (the engine then notifies its listeners)."""
        written = await self.attach_alerts(alerts, complete=complete)
        return await self.refresh() or bool(written)

    # --- hooks for actions, runbook steps and messages ---------------------------------------

    async def record_action(
        self, incident_id: str, record: ActionRecordLike
    ) -> TimelineRecord | None:
        """An action finished while working on ``incident_id``: "action: terminate-idle on
        app: succeeded", referring to its audit entry (written once per audit entry).
        Pass the result (an AuditRecord of kind "result", or the AuditEntry the audit
        log's ``result()`` returns). None when ``incident_id`` is not an incident here."""
        if getattr(record, "kind", "") == "intent":
            return None
        intent_id = record.id
        if getattr(record, "kind", "") == "result" and getattr(record, "intent_id", None):
            intent_id = int(record.intent_id)  # type: ignore[attr-defined]
        outcome = getattr(record.outcome, "value", record.outcome)
        text = f"{record.action} on {record.target}: {outcome}"
        if record.message:
            text += f" — {record.message}"
        try:
            written = await self.store.add_timeline(
                TimelineRecord(
                    incident_id,
                    getattr(record, "finished_at", None) or record.at or self.clock(),
                    ACTION,
                    clean(text, limit=600),
                    clean(record.operator, limit=80),
                    f"audit:{intent_id}",
                )
            )
        except IncidentNotFound:
            return None
        if written is not None:
            self._notify("timeline", incident_id)
        return written

    async def record_step(
        self, incident_id: str, runbook: str, step: str, done: bool, title: str = ""
    ) -> TimelineRecord | None:
        """A runbook step was ticked (or unticked) in the scope of ``incident_id``.
        None when the scope is not an incident here (a check, an alert, a shift)."""
        mark = "done" if done else "not done"
        text = clean(f"{runbook}: {title or step} — {mark}", limit=600)
        try:
            written = await self.store.add_timeline(
                TimelineRecord(
                    incident_id, self.clock(), STEP, text, self.operator, f"step:{runbook}/{step}"
                )
            )
        except IncidentNotFound:
            return None
        if written is not None:
            self._notify("timeline", incident_id)
        return written

    async def message(self, incident_id: str, kind: str = "") -> tuple[str, str]:
        """(kind, text) of a status message: "initial", "update" or "resolved"; by default
        the one that fits (initial until one was posted, resolved once resolved)."""
        record = await self.get(incident_id)
        timeline = await self.timeline(incident_id)
        now = self.clock()
        next_at = self.policy.next_update_at(record, now)
        if kind == "initial":
            return kind, comms.initial_message(record, timeline, now=now, next_update_at=next_at)
        if kind == "update":
            return kind, comms.update_message(record, timeline, now=now, next_update_at=next_at)
        if kind == "resolved":
            return kind, comms.resolved_message(record, timeline, now=now)
        if kind:
            raise IncidentError(f"no message kind {kind!r} (initial, update, resolved)")
        return comms.message_for(record, timeline, now=now, next_update_at=next_at)

    async def posted(self, incident_id: str, kind: str) -> TimelineRecord:
        """Record that a status message was posted: restarts the update clock."""
        return await self._append(
            incident_id, COMMS, f"{clean(kind, limit=20)} message posted", self.operator
        )

    async def postmortem(self, incident_id: str) -> str:
        record = await self.get(incident_id)
        timeline = await self.timeline(incident_id)
        wanted = comms.audit_ids(timeline)
        actions = []
        if wanted:
            # an intent precedes its result (the timeline's time) by at most the action's
            # timeout: an hour of margin reads a small slice of a long trail
            since = min(e.at for e in timeline if e.ref.startswith("audit:")) - 3600
            actions = [
                r
                for r in await self.store.audit(since)
                if r.id in wanted or (r.kind == "result" and r.intent_id in wanted)
            ]
        return comms.postmortem_markdown(record, timeline, actions, now=self.clock())
