"""The engine: builds backends from config, polls them, runs actions. No Textual here.

The TUI and the non-interactive commands (``status``, ``check``) use this same object.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from oncall_console import backends as registry
from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.bus import Bus, Event, bus_from_config
from oncall_console.bus.base import Scalar
from oncall_console.config import LoadedConfig
from oncall_console.durations import format_age
from oncall_console.engine.actions import ActionPlan, ActionRunner
from oncall_console.engine.changes import ChangeLog
from oncall_console.engine.poller import Poller
from oncall_console.engine.readonly import ReadOnlyStore
from oncall_console.engine.runbooks import RunbookService
from oncall_console.engine.sharing import ProbeSharing
from oncall_console.engine.state import CheckState, FeedState, SliState, new_check_state
from oncall_console.engine.targets import alerts_for_check, slis_for_check
from oncall_console.engine.verify import Verifier, Watch
from oncall_console.errors import describe
from oncall_console.incidents import IncidentAuditLog, IncidentService, Policy, action_scope
from oncall_console.model import (
    ActionRequest,
    ActionResult,
    Alert,
    AlertState,
    CheckResult,
    Incident,
    IncidentStatus,
    Outcome,
    Silence,
    Status,
)
from oncall_console.store import AuditRecord, Store, default_sqlite_path, open_store
from oncall_console.store.audit import AuditEntry, AuditLog, StoreAuditLog, append_verification
from oncall_console.tasks import stop_tasks, within

COOL_DOWN = 600.0
"""Seconds after an action within which running it again on the same target asks
whether that is meant ("this ran 2 min ago by alex — run again?")."""


class Engine:
    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        bus: Bus | None = None,
    ) -> None:
        cfg = loaded.config
        self.loaded = loaded
        self.clock = clock
        self.console_id = f"{socket.gethostname()}:{os.getpid()}"
        self.executor = ThreadPoolExecutor(cfg.poller.threads, thread_name_prefix="oncall-io")
        self.context = BackendContext(
            executor=self.executor,
            clock=clock,
            environment=cfg.console.environment,
            workers=cfg.poller.workers,
            read_only=cfg.console.read_only,
        )
        self.backends: dict[str, Backend] = {}
        for name, (type_name, options) in loaded.backend_options.items():
            self.backends[name] = registry.load(type_name)(name, options, self.context)
        standby_fallbacks(list(self.backends.values()))
        self.changes = ChangeLog()
        self.checks: dict[str, CheckState] = {
            c.name: new_check_state(c, cfg.poller.history, self.changes) for c in loaded.checks
        }
        self.slis: dict[str, SliState] = {
            s.name: SliState(spec=s, history_size=cfg.poller.history) for s in loaded.slis
        }
        self.feeds: dict[str, FeedState] = {
            name: FeedState(source=name, interval=cfg.poller.interval, timeout=cfg.poller.timeout)
            for name, b in self.backends.items()
            if b.can(Capability.ALERTS) or b.can(Capability.INCIDENTS) or b.can(Capability.SILENCES)
        }
        self.version = 0
        self._listeners: list[Callable[[], None]] = []
        self.start_errors: dict[str, str] = {}
        self.poller = Poller(
            self.backends,
            self.checks,
            self.slis,
            self.feeds,
            concurrency=cfg.poller.concurrency,
            clock=clock,
            on_change=self._changed,
        )
        self.store = store or store_from_config(loaded)
        if cfg.console.read_only:  # no writes at all: every path meets this wrapper
            self.store = ReadOnlyStore(self.store)
        self.bus: Bus = bus or bus_from_config(
            cfg.bus, environment=cfg.console.environment, console=self.console_id
        )
        """Events between consoles (LocalBus alone, RedisBus with ``[bus] redis_url``)."""
        self.bus.subscribe(self._on_bus_event)
        self.bus.on_resync(self.resync)
        self.bus.on_status(lambda _connected: self._changed())
        self.sharing = ProbeSharing(self, enabled=bool(cfg.bus.redis_url and cfg.bus.share_probes))
        self.presence: dict[str, dict[str, Scalar]] = {}
        """Other consoles -> what they last said they are working on (presence events)."""
        self._alerts_of: tuple[list[Alert], ...] = ()
        """The feeds' lists that ``_alerts_cache`` was made from (held: compared by identity)."""
        self._alerts_cache: list[Alert] = []
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_wanted = False
        self.incident_service = IncidentService(
            self.store,
            clock=clock,
            operator=loaded.operator,
            policy=Policy.from_config(cfg.incidents),
            on_change=self._incident_changed,
        )
        """Incidents in the store, shared by every console on it (oncall_console.incidents)."""
        self.incident_error = ""
        self._incident_task: asyncio.Task[None] | None = None
        self._incident_wake = asyncio.Event()
        self.audit: AuditLog = IncidentAuditLog(
            PublishingAuditLog(StoreAuditLog(self.store, console=self.console_id), self.bus),
            self.incident_service,
        )
        self.unfinished: list[AuditRecord] = []
        """Actions whose outcome is unknown: an intent with no result (found at start)."""
        self.runner = ActionRunner(
            self.backends,
            self.audit,
            operator=loaded.operator,
            read_only=cfg.console.read_only,
            clock=clock,
            verify=self.reprobe,
            # Redis locks when a team shares a Redis; else the store's (shared by consoles
            # on one SQLite file or one PostgreSQL).
            locks=self.bus if cfg.bus.redis_url else self.store,
            console=self.console_id,
        )
        self.runbooks = RunbookService(
            paths=loaded.runbook_paths,
            executor=self.executor,
            store=self.store,
            incidents=self.incident_service,
            backends=self.backends,
            operator=loaded.operator,
            clock=clock,
            timeout=cfg.poller.timeout * 2,
        )
        self.runbooks.check_runbooks = {c.name: c.runbook for c in loaded.checks if c.runbook}
        self._background: set[asyncio.Task[Any]] = set()
        self._watched: dict[int, ActionRequest] = {}
        self._running: set[asyncio.Task[Any] | None] = set()
        """Tasks running an action now: stop() interrupts them and waits for their
        audit result and lock release."""
        self.verifier = Verifier(
            clock=clock,
            checks=self.checks.get,
            slis=lambda names: [self.slis[n] for n in names if n in self.slis],
            alerts=self.alerts,
            record=self._record_watch,
            on_change=self._changed,
        )
        """Verification that watches: actions followed until their target recovers."""
        self._started = False
        self._store_open = False
        self.store_error = ""

    def _changed(self) -> None:
        self.version += 1
        self.verifier.judge_all()  # cheap when nothing is being verified
        for listener in self._listeners:
            listener()

    # --- the other consoles ------------------------------------------------------------------

    def _on_bus_event(self, event: Event) -> None:
        """Another console did something. The store has it: look again (coalesced)."""
        if event.kind == "presence":
            # Stamped on arrival: the sender's clock may be off by more than the TTL.
            self.presence[event.origin] = {**event.payload, "at": self.clock()}
            self._changed()
        elif event.kind in ("timeline", "incident", "action", "refresh"):
            self._resync_wanted = True  # a burst of events: one re-read, plus one if it
            if self._resync_task is None or self._resync_task.done():  # came in meanwhile
                self._resync_task = asyncio.get_running_loop().create_task(self._resync_all())
        # any other kind comes from a newer console: ignored

    async def _resync_all(self) -> None:
        while self._resync_wanted:
            self._resync_wanted = False
            await self.resync()

    async def resync(self) -> None:
        """Re-read from the store what other consoles change (the store is the truth)."""
        if self._store_open:
            with contextlib.suppress(Exception):
                self.unfinished = await self.store.unfinished()
            with contextlib.suppress(Exception):
                await self.incident_service.refresh()
            # + runbook progress, as it moves into the store
        self._changed()

    def announce(self, kind: str, **payload: Scalar) -> None:
        """Tell the other consoles (never waits; dropped if the bus is down)."""
        try:
            self.bus.post(self.bus.event(kind, payload))
        except RuntimeError:  # no running loop (a sync command): nobody to tell
            pass

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` in the background (kept referenced until it ends; errors dropped:
        what it writes is re-read from the store)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the event loop) after every change of state."""
        self._listeners.append(listener)

    @property
    def read_only(self) -> bool:
        return self.runner.read_only

    @property
    def is_demo(self) -> bool:
        return any(b.TYPE == "demo" for b in self.backends.values())

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, *, poll: bool = True) -> None:
        """Start the backends and poll (a failing backend is recorded, not fatal), then open
        the store and the bus: the first results need neither, so they do not wait."""
        await self._start_backends()
        if poll and not self.poller.running:
            self.poller.start()
        if not self._store_open:
            try:
                await within(self.store.open(), self.loaded.config.poller.timeout * 2)
                self.unfinished = await self.store.unfinished()
                self._store_open, self.store_error = True, ""
            except Exception as exc:  # the console still shows health; actions are refused
                self.store_error = describe(exc, self.loaded.config.poller.timeout * 2)
        await self.bus.start()  # bounded by [bus] timeout; never raises (bus.last_error)
        if poll:
            self.sharing.start()  # one console of the team probes (engine/sharing.py)
        if poll and self._store_open and self._incident_task is None:
            self._incident_task = asyncio.create_task(self._incident_loop(), name="incidents")
        # Parsing runbooks holds the GIL for a moment: after the first results, not before.
        self.runbooks.load_soon(delay=1.0 if poll else 0.0)

    def seed(self, early: Iterable[tuple[str, CheckResult]]) -> int:
        """Record first results probed before the engine existed (the first poll on the
        second core, engine/prefetch.py), for checks with none yet; call before
        :meth:`start`, whose poller then waits out their interval. Returns how many."""
        seeded = 0
        for name, result in early:
            state = self.checks.get(name)
            if state is None or state.last is not None or result.check != name:
                continue
            state.record(result)
            seeded += 1
        if seeded:
            self._changed()
        return seeded

    async def _start_backends(self) -> None:
        if not self._started:
            self._started = True
            results = await asyncio.gather(
                *(self._start_backend(n, b) for n, b in self.backends.items())
            )
            self.start_errors = {n: e for n, e in results if e}

    async def _start_backend(self, name: str, backend: Backend) -> tuple[str, str]:
        try:
            await within(backend.start(), self.loaded.config.poller.timeout)
        except Exception as exc:
            return name, describe(exc, self.loaded.config.poller.timeout)
        return name, ""

    async def poll_once(self) -> None:
        """Everything once; needs no store (``status`` writes nothing)."""
        await self._start_backends()
        await self.poller.poll_once()

    async def stop(self) -> None:
        # Mid-action: the command stops; one cancel, so its audit result and lock release run.
        await stop_tasks(self._running, within=10, again=None)
        await self.verifier.stop()
        await self.poller.stop()
        await stop_tasks([self._incident_task, self._resync_task])  # reads: nothing lost
        self._incident_task = self._resync_task = None
        await self.sharing.stop()  # the lease given back: another console takes over now
        await self.bus.close()  # sends what was posted (bounded), then disconnects
        if self._store_open:
            with contextlib.suppress(Exception):
                await self.store.close()
        for b in self.backends.values():
            try:
                await within(b.close(), 5)
            except Exception:
                pass  # closing is best effort; nothing the user can act on
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def reprobe(self, check: str) -> CheckResult | None:
        state = self.checks.get(check)
        if state is None:
            return None
        return await self.poller.probe_check(state)

    def refresh(self) -> None:
        self.poller.wake_all()
        self._incident_wake.set()

    # --- incidents -----------------------------------------------------------------------

    def _incident_changed(self, kind: str, incident_id: str) -> None:
        """This console changed an incident: tell the others, and re-read it soon."""
        self.announce(kind, incident=incident_id)
        self._incident_wake.set()

    async def sync_incidents(self) -> None:
        """Attach / resolve alerts on open incidents and reload them from the store."""
        if not self._store_open:
            return
        alert_feeds = [f for n, f in self.feeds.items() if self.backends[n].can(Capability.ALERTS)]
        # An alert missing from the feeds is resolved only when every feed has answered,
        # its last answer was well formed (a broken one is an error: the feed keeps its
        # alerts) and whole: a feed cut at its limit hands back a list whose ``complete``
        # is False (alertmanager's CutAlerts), and what it did not show may still fire.
        complete = all(
            f.at is not None and f.error is None and getattr(f.alerts, "complete", True)
            for f in alert_feeds
        )
        try:
            if self.read_only:  # attaching alerts is a write: the read-write consoles do it
                changed = await self.incident_service.refresh()
            else:
                changed = await self.incident_service.sync(self.alerts(), complete=complete)
        except Exception as exc:  # the store is down: keep the last snapshot, say why
            self.incident_error = describe(exc, self.loaded.config.poller.timeout)
            return
        self.incident_error = ""
        if changed:
            self._changed()

    async def _incident_loop(self) -> None:
        """Every poll interval, or at once when woken (a change here, "refresh now")."""
        while True:
            self._incident_wake.clear()
            await self.sync_incidents()
            with contextlib.suppress(TimeoutError):
                await within(self._incident_wake.wait(), self.loaded.config.poller.interval)

    async def execute(
        self, prepared: ActionPlan, answer: str, *, scope: str = "", subject: str = ""
    ) -> ActionResult:
        """Run a prepared action; when ``scope`` is an incident id, the result goes on
        that incident's timeline (with its audit ref). Any other scope changes nothing.
        When it succeeded and is about a check, verification starts following it."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            with action_scope(scope):
                result = await self.runner.execute(prepared, answer)
        finally:
            self._running.discard(task)
        if result.outcome is Outcome.SUCCEEDED and prepared.check in self.checks:
            self.start_watch(prepared, result, scope=scope, subject=subject)
        return result

    def start_watch(
        self, plan: ActionPlan, result: ActionResult, *, scope: str = "", subject: str = ""
    ) -> Watch:
        """Follow the plan's check, the SLIs it moves and the alerts about it."""
        state = self.checks[plan.check]
        slis = [s.spec.name for s in slis_for_check(state, list(self.slis.values()))]
        alerts = [a.name for a in alerts_for_check(state, self.alerts())]
        watch = self.verifier.start(
            action=plan.request.key,
            target=plan.target,
            subject=subject or state.spec.label,
            check=plan.check,
            slis=slis,
            alerts=alerts,
            watch_for=plan.watch_for or plan.spec.watch_for,
            scope=scope,
            audit_id=result.audit_id,
        )
        self._watched[watch.id] = plan.request
        self.refresh()  # the first fresh result comes now, not an interval later
        return watch

    async def _record_watch(self, watch: Watch) -> None:
        """How verification ended: in the audit trail, on the incident's timeline, and
        told to the other consoles."""
        detail = watch.detail
        if watch.state == "not recovered":
            detail += f" — next: {self._next_step(watch.scope)}"
            self.verifier.watches[watch.id] = replace(watch, detail=detail)
        request = self._watched.pop(watch.id, None)
        text = f"{watch.action} on {watch.target}: {detail}"
        if request is not None and watch.audit_id and self._store_open:
            await append_verification(
                self.store,
                request,
                intent_id=watch.audit_id,
                target=watch.target,
                outcome=watch.state,
                message=detail,
                at=self.clock(),
                console=self.console_id,
            )
        if watch.scope:
            await self.incident_service.record_verification(
                watch.scope, text, f"verify:{watch.audit_id or watch.id}"
            )
        self.announce("action", audit=watch.audit_id, outcome=watch.state, target=watch.target)
        self._changed()

    def _next_step(self, scope: str) -> str:
        """What to do when an action did not help: the incident's next due step, else
        the general advice."""
        record = self.incident_service.cached(scope) if scope else None
        if record is not None:
            steps = self.incident_service.steps(record)
            if steps:
                return steps[0].text
        return "escalate to the secondary, or follow the runbook's next step"

    async def recent_run(self, plan: ActionPlan, within: float = COOL_DOWN) -> str:
        """The same action on the same target, run within ``within`` seconds (from any
        console or the CLI: the audit trail is the truth), said in one line; '' if none."""
        if not self._store_open:
            return ""
        now = self.clock()
        try:
            records = await self.store.audit(now - within)
        except Exception:
            return ""
        req = plan.request
        results = {r.intent_id: r for r in records if r.kind == "result"}
        for r in reversed(records):
            if (r.kind, r.backend, r.action, r.target) != (
                "intent",
                req.backend,
                req.action,
                plan.target,
            ):
                continue
            done = results.get(r.id)
            outcome = done.outcome if done is not None else "outcome unknown"
            ago = format_age(max(0.0, now - r.at))
            return f"this ran {ago} ago by {r.operator or 'someone'} ({outcome})"
        return ""

    def watch_targets(self, check: str) -> tuple[str, ...]:
        """What verification follows for an action about ``check``."""
        state = self.checks.get(check)
        if state is None:
            return ()
        found = [f"check {state.spec.label}"]
        found += [f"SLI {s.spec.label}" for s in slis_for_check(state, list(self.slis.values()))]
        found += [f"alert {a.name}" for a in alerts_for_check(state, self.alerts())]
        return tuple(dict.fromkeys(found))

    # --- what the views read -----------------------------------------------------------

    def alerts(self) -> list[Alert]:
        """Active alerts from every source, de-duplicated by fingerprint, worst first.
        Kept while every feed holds the same list (a backend hands back the very same list
        when no alert changed; a feed's list is replaced, never changed in place): with
        10,000 alerts the sort costs ~20 ms."""
        lists = tuple(f.alerts for f in self.feeds.values())
        if len(lists) == len(self._alerts_of) and all(map(operator.is_, lists, self._alerts_of)):
            return list(self._alerts_cache)
        seen: dict[str, Alert] = {}
        for feed in self.feeds.values():
            for a in feed.alerts:
                if a.state is not AlertState.RESOLVED:
                    seen.setdefault(a.fingerprint, a)
        self._alerts_cache = sorted(
            seen.values(), key=lambda a: (a.severity, a.state.value != "active", -a.starts_at)
        )
        self._alerts_of = lists
        return list(self._alerts_cache)

    def incidents(self) -> list[Incident]:
        """Incidents in the store (declared in a console), then those of backends' feeds."""
        found = self.incident_service.snapshot()
        ids = {i.id for i in found}
        found += [i for f in self.feeds.values() for i in f.incidents if i.id not in ids]
        return sorted(
            found, key=lambda i: (i.status is IncidentStatus.RESOLVED, i.severity, -i.opened_at)
        )

    def silences(self) -> list[Silence]:
        """Silences from every source, de-duplicated by id, ending soonest first."""
        seen: dict[str, Silence] = {}
        for feed in self.feeds.values():
            for s in feed.silences:
                seen.setdefault(s.id, s)
        return sorted(seen.values(), key=lambda s: s.ends_at)

    def feed_errors(self) -> dict[str, str]:
        return {f.source: f.error for f in self.feeds.values() if f.error}

    def overall(self, now: float | None = None) -> Status:
        now = self.clock() if now is None else now
        statuses = [c.status(now) for c in self.checks.values()]
        statuses += [s.status(now) for s in self.slis.values()]
        statuses += [Status.DOWN for f in self.feeds.values() if f.error]
        return Status.worst(statuses) if statuses else Status.UNKNOWN

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Everything as plain data, for ``status --format json`` (engine/status.py)."""
        from oncall_console.engine.status import snapshot

        return snapshot(self, self.clock() if now is None else now)


class PublishingAuditLog:
    """The audit log that also tells the other consoles: an action started (its intent is
    durable) and how it ended. Posting never waits, so a slow Redis cannot delay an action."""

    def __init__(self, inner: AuditLog, bus: Bus) -> None:
        self.inner = inner
        self.bus = bus

    async def intent(
        self, request: ActionRequest, target: str, preview: str, at: float
    ) -> AuditEntry:
        entry = await self.inner.intent(request, target, preview, at)
        self._post(entry, entry.outcome)
        return entry

    async def result(
        self, entry: AuditEntry, outcome: Outcome, message: str, at: float
    ) -> AuditEntry:
        done = await self.inner.result(entry, outcome, message, at)
        self._post(done, outcome)
        return done

    def _post(self, entry: AuditEntry, outcome: Outcome) -> None:
        self.bus.post(
            self.bus.event(
                "action",
                audit=entry.id,
                outcome=outcome.value,
                backend=entry.backend,
                action=entry.action,
                target=entry.target,
                operator=entry.operator,
            )
        )


def standby_fallbacks(backends: list[Backend]) -> None:
    """A capability some backend offers only as a fallback (Prometheus's own alerts) is
    put in standby there when another backend offers it (Alertmanager)."""
    for backend in backends:
        for capability in backend.fallback:
            if any(
                capability in other.CAPABILITIES and capability not in other.fallback
                for other in backends
            ):
                backend.standby = backend.standby | {capability}


def store_from_config(loaded: LoadedConfig) -> Store:
    """The configured store; the embedded SQLite file when none is configured."""
    from oncall_console.secrets import resolve

    cfg = loaded.config.store
    password = resolve("password", cfg.password_env, cfg.password_file)
    return open_store(cfg.url or str(default_sqlite_path()), password)
