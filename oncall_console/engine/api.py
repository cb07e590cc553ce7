"""The front door: the one interface the UI and the CLI use to reach the engine.

Two sides, as in a command/query split:

- **Read** — :meth:`OnCall.view` takes a :class:`View`, a frozen snapshot of what the
  console shows at one moment (checks, SLIs, alerts, incidents, notices, the overall
  status). ``OnCall.version`` moves whenever anything changed, so a screen can skip a
  repaint when it has not; :meth:`OnCall.subscribe` calls back after every change.
- **Command** — an action is first *planned*: :meth:`OnCall.prepare` validates the
  request, applies the safety policy and returns an :class:`ActionPlan` that says
  everything the caller must show and ask (the preview, how to confirm, the target to
  type, who holds the target's lock). A refusal raises :class:`ActionRefused` with one
  line (and the parameter at fault, when there is one). :meth:`OnCall.execute` then
  runs the plan with the person's answer through the one safety path (confirm → lock →
  audit intent → run → audit result → verify).

Incidents and runbooks have a desk each (:attr:`OnCall.incidents`,
:attr:`OnCall.runbooks`), typed by the protocols below: what a caller may do with
them, and nothing of how the engine keeps them.

Every policy is decided in the engine, once: read-only, the confirmation kind and the
typed target (``engine/actions.py``), parameter validation (``model/params.py``). The
UI and the CLI only show what the plan says. No Textual here.

It is over 600 lines because it is the one front door: every read and every command
the UI and the CLI make is a short method here, delegating to the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from oncall_console.engine.actions import ActionPlan, ActionRefused
from oncall_console.engine.inspect import InspectRefused, look_at, views_for
from oncall_console.engine.runbooks import DiagnosticRefused, RunbookChoice
from oncall_console.engine.state import CheckState, SliState
from oncall_console.engine.targets import check_for_alert, slis_for_check
from oncall_console.engine.verify import Watch
from oncall_console.model import (
    ActionRequest,
    ActionResult,
    ActionSpec,
    Alert,
    CheckSpec,
    DetailTable,
    Incident,
    Silence,
    Status,
)
from oncall_console.model.inspect import Inspection, InspectView
from oncall_console.model.rules import RuleSet
from oncall_console.tasks import within

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig
    from oncall_console.engine.core import Engine
    from oncall_console.engine.prefetch import Early
    from oncall_console.incidents import IncidentRecord, Prompt, TimelineRecord
    from oncall_console.runbooks import (
        PromqlBlock,
        ReferenceBlock,
        Runbook,
        RunbookLibrary,
        SqlBlock,
    )
    from oncall_console.store import AuditRecord, StepProgress, Store

__all__ = [
    "ActionPlan",
    "ActionRefused",
    "DiagnosticRefused",
    "IncidentDesk",
    "InspectRefused",
    "Notice",
    "OnCall",
    "RunbookChoice",
    "RunbookDesk",
    "Settings",
    "View",
    "Watch",
    "shift_scope",
    "store_from_config",
]


@dataclass(frozen=True, slots=True)
class Settings:
    """What the console was configured with that a screen shows or obeys."""

    environment: str
    operator: str
    read_only: bool
    demo: bool
    utc: bool
    refresh: float
    theme: str
    keys: Mapping[str, str]
    post_to: tuple[str, ...]
    """``[incidents] post_to``: the webhook actions a status message may go to."""
    warroom_dwell: float
    warroom_theme: str
    themes_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A row that is not an alert but needs eyes: a source down, an outcome unknown."""

    key: str
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class View:
    """What the console shows, taken at ``at``. The containers are frozen; each
    ``CheckState`` / ``SliState`` is the engine's live record, to be read, never changed
    (its ``last`` result is itself immutable)."""

    at: float
    version: int
    checks: tuple[CheckState, ...]
    slis: tuple[SliState, ...]
    alerts: tuple[Alert, ...]
    incidents: tuple[Incident, ...]
    silences: tuple[Silence, ...]
    notices: tuple[Notice, ...]
    presence: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Other consoles -> what they last said they are working on."""
    unfinished: tuple[AuditRecord, ...] = ()
    store_error: str = ""

    def overall(self, now: float | None = None) -> Status:
        """The worst status of everything watched (checks, SLIs, alert sources)."""
        now = self.at if now is None else now
        statuses = [c.status(now) for c in self.checks]
        statuses += [s.status(now) for s in self.slis]
        statuses += [Status.DOWN for n in self.notices if n.key.endswith(":feed")]
        return Status.worst(statuses) if statuses else Status.UNKNOWN

    def check(self, name: str) -> CheckState | None:
        return next((c for c in self.checks if c.spec.name == name), None)

    def alert(self, fingerprint: str) -> Alert | None:
        return next((a for a in self.alerts if a.fingerprint == fingerprint), None)

    def incident(self, incident_id: str) -> Incident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)


class IncidentDesk(Protocol):
    """What callers may do with incidents (the store is the truth; every change writes
    its own timeline entry and tells the other consoles)."""

    def cached(self, incident_id: str) -> IncidentRecord | None:
        """The incident as last read from the store (None: not one of ours)."""

    async def get(self, incident_id: str) -> IncidentRecord: ...

    async def timeline(self, incident_id: str) -> list[TimelineRecord]: ...

    def steps(self, record: IncidentRecord, now: float | None = None) -> list[Prompt]:
        """What is due next (acknowledge, escalate, post an update, take command)."""

    def due(
        self, record: IncidentRecord, now: float, timeline: Sequence[TimelineRecord] | None = None
    ) -> Any: ...

    async def refresh(self) -> bool: ...

    async def declare(self, *, from_alert: Alert) -> IncidentRecord: ...

    async def acknowledge(self, incident_id: str) -> IncidentRecord: ...

    async def set_commander(self, incident_id: str, who: str) -> IncidentRecord: ...

    async def set_status(self, incident_id: str, status: Any, note: str = "") -> IncidentRecord: ...

    async def set_severity(self, incident_id: str, severity: Any) -> IncidentRecord: ...

    async def set_runbook(self, incident_id: str, runbook: str) -> IncidentRecord: ...

    async def note(self, incident_id: str, text: str) -> TimelineRecord: ...

    async def message(self, incident_id: str, kind: str = "") -> tuple[str, str]: ...

    async def posted(self, incident_id: str, kind: str) -> TimelineRecord: ...


class RunbookDesk(Protocol):
    """What callers may do with runbooks: read the library, keep progress, diagnose."""

    @property
    def library(self) -> RunbookLibrary: ...

    async def ready(self) -> RunbookLibrary:
        """The library once it is loaded (loading starts after the first results)."""

    def for_check(self, check: str) -> Runbook | None: ...

    def for_alert(self, alert: Alert) -> Runbook | None: ...

    async def progress(self, runbook: Runbook, scope: str) -> dict[str, StepProgress]: ...

    async def mark(self, runbook: Runbook, scope: str, step: str, done: bool) -> StepProgress: ...

    async def steps_since(self, since: float) -> list[StepProgress] | None: ...

    def unavailable(self, block: PromqlBlock | SqlBlock | ReferenceBlock) -> str:
        """Why the block cannot run in this config ("" when it can); no IO."""

    async def diagnose(self, block: PromqlBlock | SqlBlock | ReferenceBlock) -> DetailTable: ...


def store_from_config(loaded: LoadedConfig) -> Store:
    """The configured store alone, for commands that need no engine (``audit``,
    ``incident list``)."""
    from oncall_console.engine.core import store_from_config as build

    return build(loaded)


def shift_scope(now: float) -> str:
    """The scope shift checklists are kept in: one a day, so tomorrow starts clean."""
    return "shift " + time.strftime("%Y-%m-%d", time.localtime(now))


class OnCall:
    """The front door (see the module's docstring). Build it with :meth:`build` from a
    validated config, or around an engine (tests, benchmarks)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        cfg = engine.loaded.config
        self.settings = Settings(
            environment=cfg.console.environment,
            operator=engine.loaded.operator,
            read_only=engine.read_only,
            demo=engine.is_demo,
            utc=cfg.console.utc,
            refresh=cfg.console.refresh,
            theme=cfg.console.theme,
            keys=dict(cfg.keys or {}),
            post_to=tuple(cfg.incidents.post_to),
            warroom_dwell=cfg.warroom.dwell,
            warroom_theme=cfg.warroom.theme or "",
            themes_dir=cfg.console.themes_dir,
        )
        self.incidents: IncidentDesk = engine.incident_service
        self.runbooks: RunbookDesk = engine.runbooks
        self._chosen: dict[str, str] = {}
        """scope -> runbook id picked this session (alerts, checks)."""

    @classmethod
    def build(cls, loaded: LoadedConfig, **options: Any) -> OnCall:
        from oncall_console.engine.core import Engine

        return cls(Engine(loaded, **options))

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, *, poll: bool = True) -> None:
        """Start backends and polling (failures are recorded, not raised), then the
        store and the bus."""
        await self._engine.start(poll=poll)

    async def poll_once(self) -> None:
        """Everything once (``status``): needs no store."""
        await self._engine.poll_once()

    async def stop(self) -> None:
        await self._engine.stop()

    def refresh(self) -> None:
        """Poll everything now."""
        self._engine.refresh()

    def seed(self, early: Iterable[Early]) -> int:
        """Before :meth:`start`: first results (:func:`first_results`) probed with this
        config's target (prefetch.matching), not probed again in their interval. How many."""
        from oncall_console.engine.prefetch import matching

        return self._engine.seed(matching(self._engine.loaded, early))

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` on the event loop after every change of state."""
        self._engine.subscribe(listener)

    def announce(self, kind: str, **payload: Any) -> None:
        """Tell the other consoles (never waits; dropped when the bus is down)."""
        self._engine.announce(kind, **payload)

    # --- the read side -------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Moves on every change: a view taken at the same version is the same."""
        return self._engine.version

    def clock(self) -> float:
        return self._engine.clock()

    @property
    def store_error(self) -> str:
        """Why the store is unavailable ('' when it is open); actions are refused then."""
        return self._engine.store_error

    @property
    def unfinished(self) -> list[AuditRecord]:
        """Actions whose outcome is unknown (an intent without a result)."""
        return self._engine.unfinished

    def view(self, now: float | None = None, *, checks: bool = True) -> View:
        """A frozen snapshot of what the console shows; ``checks=False`` leaves the checks
        out (a screen that reads only the changed ones: :meth:`changed_checks`)."""
        e = self._engine
        now = e.clock() if now is None else now
        return View(
            at=now,
            version=e.version,
            checks=tuple(e.checks.values()) if checks else (),
            slis=tuple(e.slis.values()),
            alerts=tuple(e.alerts()),
            incidents=tuple(e.incidents()),
            silences=tuple(e.silences()),
            notices=tuple(self.notices()),
            presence={k: dict(v) for k, v in e.presence.items()},
            unfinished=tuple(e.unfinished),
            store_error=e.store_error,
        )

    def check(self, name: str) -> CheckState | None:
        return self._engine.checks.get(name)

    def checks(self) -> Sequence[CheckState]:
        """Every check's live record (cheap: no copy of their histories)."""
        return tuple(self._engine.checks.values())

    def changed_checks(self, mark: int) -> tuple[int, list[CheckState]]:
        """The checks with a result after ``mark`` (engine/changes.py), and the mark now."""
        e = self._engine
        return e.changes.mark, [e.checks[n] for n in e.changes.since(mark) if n in e.checks]

    def slis(self) -> Sequence[SliState]:
        return tuple(self._engine.slis.values())

    async def sli_range(
        self, name: str, seconds: float, points: int
    ) -> dict[str, tuple[float, ...]] | None:
        """An SLI's values over the last ``seconds`` (``points`` per series, oldest first),
        bounded by its timeout; None when its source keeps no history."""
        state = self._engine.slis.get(name)
        if state is None:
            return None
        spec = state.spec
        backend = self._engine.backends[spec.backend]
        try:
            return await within(backend.sli_range(spec, seconds, points), spec.timeout)
        except NotImplementedError:
            return None

    def alerts(self) -> list[Alert]:
        """Active alerts from every source, de-duplicated, worst first."""
        return self._engine.alerts()

    def incident_list(self) -> list[Incident]:
        """Ours (in the store), then those of backends' feeds; open first, worst first."""
        return self._engine.incidents()

    def incident_source(self, incident_id: str) -> str:
        """The backend whose feed an incident comes from ("" for this console's own)."""
        if self._engine.incident_service.cached(incident_id) is not None:
            return ""
        for name, feed in self._engine.feeds.items():
            if any(i.id == incident_id for i in feed.incidents):
                return name
        return ""

    def silences(self) -> list[Silence]:
        return self._engine.silences()

    def overall(self, now: float | None = None) -> Status:
        return self._engine.overall(now)

    def notices(self) -> list[Notice]:
        """Rows that need eyes besides alerts: sources down, the store or the bus down,
        actions whose outcome is unknown."""
        e = self._engine
        found = [
            Notice(f"{src}:feed", "source down", f"{src}: {err}")
            for src, err in e.feed_errors().items()
        ]
        if e.store_error:
            found.append(Notice("store:error", "store down", f"store: {e.store_error}"))
        bus = e.bus
        if not bus.connected and bus.last_error and bus.last_error != "closed":
            # Otherwise it looks like a working console that nobody else is using.
            alone = "; this console probes its checks itself" if e.sharing.enabled else ""
            found.append(
                Notice(
                    "bus:down",
                    "bus down",
                    f"bus: {bus.last_error} (other consoles' changes arrive each poll, not "
                    f"live{alone})",
                )
            )
        for r in e.unfinished:
            found.append(
                Notice(
                    f"audit:{r.id}",
                    "outcome unknown",
                    f"{r.action} {r.target} by {r.operator or 'someone'} (audit #{r.id}): "
                    "check it by hand",
                )
            )
        return found

    def presence(self) -> dict[str, dict[str, Any]]:
        return self._engine.presence

    def probed_by(self) -> str:
        """The console that probes the checks for this one (shared probes, engine/sharing.py);
        empty when this console probes its own."""
        sharing = self._engine.sharing
        return sharing.holder if sharing.role == "follower" else ""

    async def rules(self) -> list[RuleSet]:
        """The alerting rules of every backend that has some (RULES), read now; a backend
        that cannot answer is a set with its error."""

        from oncall_console.backends.base import Capability
        from oncall_console.errors import describe

        timeout = self._engine.loaded.config.poller.timeout

        async def one(name: str, backend: Any) -> RuleSet:
            try:
                return await within(backend.rules(), timeout)  # type: ignore[no-any-return]
            except TimeoutError:
                return RuleSet(name, errors=(f"timed out after {timeout:g} s",))
            except Exception as exc:  # one clean line, as every feed's error
                return RuleSet(name, errors=(describe(exc),))

        backends = self._engine.backends.items()
        found = [one(n, b) for n, b in backends if b.can(Capability.RULES)]
        return list(await asyncio.gather(*found))

    def feed_errors(self) -> dict[str, str]:
        return self._engine.feed_errors()

    def choose_runbook(
        self, *, incident: str = "", alert: str = "", check: str = ""
    ) -> RunbookChoice:
        """Which runbook answers the row in front of the engineer (an incident, an alert
        by fingerprint, a check): the one to open at once, or the guesses and the rest
        for a picker (never a dead end). A choice made before for the same scope wins.
        Its labels name the check the row is about (``check``): its actions verify on it."""
        e = self._engine
        alerts = {a.fingerprint: a for a in e.alerts()}
        names: list[str] = []
        chosen = ""
        found_alerts: list[Alert] = []
        if incident:
            record = self.incidents.cached(incident)
            item = next((i for i in self.incident_list() if i.id == incident), None)
            if item is not None:
                found_alerts = [alerts[fp] for fp in item.alerts if fp in alerts]
                names = [fp for fp in item.alerts if fp not in alerts]
            if record is not None:
                chosen = record.runbook
                if record.title:
                    names.append(record.title.partition(":")[0])
        if alert and alert in alerts:
            found_alerts.append(alerts[alert])
            chosen = chosen or self._chosen.get(f"alert {alerts[alert].name}", "")
        if check:
            chosen = chosen or self._chosen.get(f"check {check}", "")
        choice = e.runbooks.choose(alerts=found_alerts, names=names, check=check)
        about = next((s.spec.name for a in found_alerts if (s := self.check_for_alert(a))), "")
        if about and "check" not in choice.labels:  # what the runbook's actions verify on
            choice = replace(choice, labels={**choice.labels, "check": about})
        remembered = e.runbooks.library.get(chosen) if chosen else None
        if remembered is not None:
            return replace(choice, sure=remembered)
        return choice

    def remember_runbook(self, scope: str, runbook_id: str) -> None:
        """The runbook picked for ``scope`` (an incident id, "alert NAME", "check NAME"):
        offered at once next time. On an incident it is stored (its timeline says so)."""
        if self.incidents.cached(scope) is not None:
            record = self.incidents.cached(scope)
            if record is not None and record.runbook != runbook_id:
                self._engine.spawn(self.incidents.set_runbook(scope, runbook_id))
        else:
            self._chosen[scope] = runbook_id

    def inspect_views(self, check: str) -> list[InspectView]:
        """The closer, read-only looks a check's backend offers (empty: none). No IO."""
        return views_for(self._engine.backends, self._engine.checks.get(check))

    async def inspect(self, check: str, view: str) -> Inspection:
        """One look: read-only, bounded by [poller] timeout, redacted (or InspectRefused)."""
        return await look_at(self._engine, check, view)

    def status(self, now: float | None = None) -> dict[str, Any]:
        """Everything as plain data (``status --format json``)."""
        return self._engine.snapshot(now)

    async def audit(self, since: float | None = None) -> list[AuditRecord]:
        """The audit trail (intents and results) since ``since``."""
        return await self._engine.store.audit(since)

    # --- the command side ----------------------------------------------------------------

    def actions_for(
        self, backend: str | None = None, check: CheckSpec | None = None
    ) -> list[tuple[str, ActionSpec]]:
        """Actions a person may run now (none in a read-only console but read-only ones);
        with ``check``, only those that can act on what it watches."""
        return self._engine.runner.available(backend, check)

    def spec_for(self, backend: str, action: str) -> ActionSpec:
        """The declared action (raises ActionRefused naming what is unknown)."""
        return self._engine.runner.spec_for(ActionRequest(backend, action))

    def request(
        self,
        backend: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> ActionRequest:
        """A request made by this console's operator."""
        return ActionRequest(backend, action, dict(params or {}), self.settings.operator, dry_run)

    async def prepare(self, request: ActionRequest, *, about: str = "") -> ActionPlan:
        """Validate, apply the policy and preview. Raises ActionRefused (one line).
        ``about`` names the check the action was started from (its row, or the check an
        alert is about): verification follows it unless the action names its own."""
        e = self._engine
        plan = await e.runner.prepare(request)
        check = str(plan.params.get(plan.spec.verify_check) or "") if plan.spec.verify_check else ""
        check = check if check in e.checks else about if about in e.checks else ""
        return replace(
            plan,
            check=check,
            watch=e.watch_targets(check),
            watch_for=plan.spec.watch_for,
            recent=await e.recent_run(plan),
        )

    async def repreview(self, plan: ActionPlan) -> str:
        """The plan's preview as the backend sees it now (the blast radius moves: the
        sessions that match, the keys, the pods); the plan's own text when it cannot be
        had. Read-only: a preview changes nothing."""
        return await self._engine.runner.repreview(plan)

    def check_for_alert(self, alert: Alert) -> CheckState | None:
        """The check an alert is about (its service / deployment / job labels)."""
        return check_for_alert(alert, self._engine.checks.values())

    def live_state(self, plan: ActionPlan) -> list[tuple[str, Status, str]]:
        """The target's state now, for the confirm dialog: (what, status, detail) rows
        for its check and the SLIs it moves (with the error budget left)."""
        e = self._engine
        state = e.checks.get(plan.check)
        if state is None:
            return []
        now = e.clock()
        rows = [
            (
                f"check {state.spec.label}",
                state.status(now),
                state.last.summary if state.last else "no result yet",
            )
        ]
        for sli in slis_for_check(state, list(e.slis.values())):
            reading = next(iter(sli.readings.values()), None)
            detail = "no reading yet"
            if reading is not None and reading.value is not None:
                detail = f"{reading.value:g}{sli.spec.unit}"
                if reading.budget_remaining is not None:
                    detail += f" · budget {reading.budget_remaining * 100:.0f}% left"
            rows.append((f"SLI {sli.spec.label}", sli.status(now), detail))
        return rows

    async def execute(
        self, plan: ActionPlan, answer: str, *, scope: str = "", subject: str = ""
    ) -> ActionResult:
        """Run a plan once ``answer`` confirms it. When ``scope`` is an incident id, the
        result goes on that incident's timeline. When it succeeded and the plan is about
        a check, verification starts following it (:meth:`watches`)."""
        return await self._engine.execute(plan, answer, scope=scope, subject=subject)

    def watches(self, now: float | None = None) -> list[Watch]:
        """Verifications going on, and those that ended in the last two minutes."""
        return self._engine.verifier.active(now)

    async def wait_for_watch(self, watch_id: int) -> Watch:
        """Until that verification has ended (recovered, or its deadline passed)."""
        return await self._engine.verifier.wait(watch_id)

    def start_polling(self) -> None:
        """Poll every check, SLI and alert source from now on (``action`` watching)."""
        self._engine.poller.start()


async def first_results(loaded: LoadedConfig, emit: Callable[[Early], None]) -> None:
    """Every check probed once, each result given to ``emit`` as it comes, without the
    store, the bus or the rest of the engine (engine/prefetch.py: the CLI runs it in a
    child process while the first frame is painted)."""
    from oncall_console.engine.prefetch import first_results as probe_all

    await probe_all(loaded, emit)
