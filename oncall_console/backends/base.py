"""The backend contract: one configured connection that declares what it can do.

Writing a backend plugin
========================

A backend is one ``[backends.NAME]`` section of the config: ``type = "..."``
picks the plugin class, the other keys are that plugin's options. The engine makes
one instance per section, starts it, calls the methods of the capabilities it
declares, and closes it. ``docs/plugins.md`` has a complete small example.

1. **Subclass** :class:`Backend` and set its class attributes: ``TYPE`` (the name
   used in config), ``DESCRIPTION`` (one line, shown by ``oncall-console
   backends``) and ``CAPABILITIES``, the set of :class:`Capability` it offers.

2. **Describe its settings** with pydantic models derived from :class:`Strict`
   (unknown keys are errors): ``Options`` for the ``[backends.NAME]`` keys,
   ``CheckParams`` for the plugin's own keys of a ``[checks.NAME]`` that names
   this backend, ``SliParams`` for those of a ``[slis.NAME]``. They are validated
   when the config is loaded, so a mistake is reported with its file, key and
   line before anything runs; the engine then hands the validated models over
   (``self.options``, ``check.params``, ``sli.params``). Secrets are never config
   values: reference them with a pair of fields ``X_env`` / ``X_file``, check the
   pair with :func:`oncall_console.secrets.one_source_each` and read the value
   with :func:`oncall_console.secrets.resolve` when connecting.

3. **Implement the methods of each declared capability** (:data:`CAPABILITY_METHODS`):
   ``probe`` for HEALTH, ``query_sli`` for SLI, ``alerts``, ``incidents``,
   ``silences``, ``rules``, ``actions`` + ``preview`` + ``run`` for ACTIONS, and
   ``inspect_views`` + ``inspect`` for INSPECT (optional: a closer, read-only look at
   a check, such as events, a log tail, sessions, a slowlog); ``probes_in_batches`` +
   ``probe_batch`` for HEALTH are optional too (many checks at once, e.g. in a worker
   process: the ``http`` backend). A class that
   declares a capability without overriding its methods is refused when it is
   defined (``TypeError``), so a plugin with a gap never loads. The engine never
   calls a method whose capability was not declared, and the UI never offers it.

4. **Register it** under the entry-point group ``oncall_console.backends`` in the
   package's ``pyproject.toml``, as the built-ins do::

       [project.entry-points."oncall_console.backends"]
       weather = "oncall_weather:WeatherBackend"

   Listing the installed types imports none of them; a type is imported when a
   config uses it.

The rules every method keeps
----------------------------

- **Never block the event loop.** Every method runs on the engine's asyncio loop.
  Use an async client where there is one; call a blocking library through
  :meth:`BackendContext.run_sync`, which runs it in the engine's bounded thread
  pool (``[poller] threads``) and gives up waiting after a timeout.
- **Timeouts are the engine's.** Each call is bounded (``tasks.within``)
  and cancelled when it runs out: ``probe`` by the check's ``timeout``,
  ``query_sli`` by the SLI's, the feeds (``alerts``, ``incidents``, ``silences``)
  by ``[poller] timeout``, ``start`` by ``[poller] timeout``, ``preview`` and ``run``
  by the runner's action timeout. Let cancellation through; bound your own
  requests a little below the engine's timeout if you want to say more than
  "timed out".
- **Failures are one clean line.** ``probe`` never raises: a failure is a DOWN
  :class:`~oncall_console.model.CheckResult` with ``error`` set. The other reading
  methods raise an exception whose message is that line (the poller records it
  as the SLI's or the feed's error). :func:`oncall_console.errors.describe` turns
  a library's exception into such a line.
- **Remote text is data.** Everything a server sends is cleaned
  (:func:`oncall_console.text.clean`) before it leaves the plugin, and no secret
  appears in a message (:func:`oncall_console.secrets.redact`).
- **Actions go through the runner.** The engine's ``ActionRunner`` validates the
  parameters against the ``ActionSpec``, refuses every action in a read-only
  console, asks for ``preview``, confirms, locks the target, audits, then calls
  ``run``. A backend does not check read-only itself, and ``run`` is never
  reached without a preview.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from oncall_console.model import (
    ActionRequest,
    ActionResult,
    ActionSpec,
    Alert,
    CheckResult,
    CheckSpec,
    Confirm,
    DetailTable,
    Incident,
    Inspection,
    InspectView,
    Silence,
    SliReading,
    SliSpec,
)
from oncall_console.model.rules import RuleSet
from oncall_console.tasks import within

T = TypeVar("T")


class Capability(enum.Enum):
    """What a backend can do; a backend declares the set in ``CAPABILITIES``."""

    HEALTH = "health"
    SLI = "sli"
    ALERTS = "alerts"
    INCIDENTS = "incidents"
    SILENCES = "silences"
    ACTIONS = "actions"
    RULES = "rules"
    INSPECT = "inspect"


CAPABILITY_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.HEALTH: ("probe",),
    Capability.SLI: ("query_sli",),
    Capability.ALERTS: ("alerts",),
    Capability.INCIDENTS: ("incidents",),
    Capability.SILENCES: ("silences",),
    Capability.ACTIONS: ("actions", "preview", "run"),
    Capability.RULES: ("rules",),
    Capability.INSPECT: ("inspect_views", "inspect"),
}
"""The methods a backend must override for each capability it declares."""


class Strict(BaseModel):
    """Base for backend option models: unknown keys are errors, not surprises."""

    # Built when first validated: a model imported but never used (params.ParamDecl comes
    # with the engine) builds no schema.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NoParams(Strict):
    """A check or SLI of this backend takes no parameters."""


@dataclass
class BackendContext:
    """What the engine lends a backend: the clock and the bounded thread pool."""

    executor: ThreadPoolExecutor
    """The engine's bounded pool for blocking libraries; use :meth:`run_sync`."""
    clock: Callable[[], float] = time.time
    """Wall-clock time, epoch seconds: stamp results with it (tests replace it)."""
    environment: str = ""
    """The console's environment (``[console] environment``), e.g. "production"."""
    workers: int | str = "auto"
    """``[poller] workers``: how many probe worker processes a backend that has them may
    use for its batches (:meth:`Backend.probes_in_batches`): ``"auto"`` (the backend's
    choice by its number of checks), 0 (none) or a number."""
    read_only: bool = False
    """The console is read-only. For information only: the engine's ActionRunner refuses
    every action before a backend is called, so a backend never checks this itself."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free for tools and tests; the engine leaves it empty."""

    async def run_sync(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run a blocking call in the bounded pool; give up waiting after ``timeout``.

        Raises ``TimeoutError`` when ``timeout`` seconds pass first. The thread cannot
        be killed, but the caller is never held past the timeout, and the pool's size
        bounds how many such calls can pile up: give the library call its own timeout
        too, so that its thread comes back.
        """
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.executor, fn, *args)
        return await within(fut, timeout)


class Backend:
    """Base class of every backend plugin (see the module's documentation)."""

    TYPE: ClassVar[str] = ""
    """The ``type = "..."`` that selects this backend in config."""
    DESCRIPTION: ClassVar[str] = ""
    """One line saying what it watches and does, for ``oncall-console backends``."""
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()
    """What it can do; each needs its methods overridden (:data:`CAPABILITY_METHODS`)."""
    Options: ClassVar[type[BaseModel]] = NoParams
    """The model of its ``[backends.NAME]`` keys (``type`` aside)."""
    CheckParams: ClassVar[type[BaseModel]] = NoParams
    """The model of its own keys in a ``[checks.NAME]`` (HEALTH)."""
    SliParams: ClassVar[type[BaseModel]] = NoParams
    """The model of its own keys in a ``[slis.NAME]`` (SLI)."""
    DIAGNOSES: ClassVar[frozenset[str]] = frozenset()
    """The languages of runbook diagnostics its :meth:`diagnose` runs (``sql``,
    ``promql``, ``kubectl``): a step says it cannot run before ``r`` is pressed."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a class that declares a capability without overriding its methods."""
        super().__init_subclass__(**kwargs)
        for capability in cls.CAPABILITIES:
            missing = [
                m for m in CAPABILITY_METHODS[capability] if getattr(cls, m) is getattr(Backend, m)
            ]
            if missing:
                raise TypeError(
                    f"{cls.__qualname__} declares {capability.value} but does not "
                    f"implement {', '.join(f'{m}()' for m in missing)}"
                )

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        """Keep the settings; no IO here (that is :meth:`start`'s).

        ``name`` is the section's name (``[backends.NAME]``), ``options`` an instance
        of ``Options`` already validated, ``context`` what the engine lends.
        """
        self.name = name
        self.options = options
        self.context = context

    fallback: frozenset[Capability] = frozenset()
    """Capabilities this instance offers only when no other backend does (Prometheus's
    own alerts when there is no Alertmanager): the engine puts them in ``standby``."""
    standby: frozenset[Capability] = frozenset()
    """Declared capabilities the engine does not use here (another backend has them)."""

    def can(self, capability: Capability) -> bool:
        return capability in self.CAPABILITIES and capability not in self.standby

    async def start(self) -> None:
        """Open pools or clients. Called once before the first use.

        Bounded by ``[poller] timeout``. A failure does not stop the console: the
        engine records it and calls the other methods anyway, so a backend whose
        server is down starts fine and says so in each probe (connect lazily, and
        try again on the next call).
        """

    async def probe(self, check: CheckSpec) -> CheckResult:
        """HEALTH: probe one check and say what was found.

        ``check.params`` is an instance of ``CheckParams``; ``check.timeout`` bounds
        the call. Return a :class:`~oncall_console.model.CheckResult` stamped with
        ``self.context.clock()``; never raise: a failure is a result with status
        DOWN and ``error`` set to one clean line.
        """
        raise NotImplementedError

    def probes_in_batches(self, checks: int) -> bool:
        """HEALTH, optional: whether the engine should hand this backend's checks (``checks``
        of them) to :meth:`probe_batch` rather than call :meth:`probe` once per check.
        False by default. No IO."""
        return False

    async def probe_batch(
        self,
        checks: Sequence[CheckSpec],
        deliver: Callable[[int, CheckResult | BaseException], None],
    ) -> None:
        """HEALTH, optional: probe all ``checks`` at once; call ``deliver(i, result)`` for
        ``checks[i]`` as each result arrives, in any order (or with an exception, which
        the engine turns into a DOWN result as it does for :meth:`probe`).

        Results may arrive after this returns (from another process, say). The engine
        still bounds each check by its own ``timeout`` (a check not delivered by then is
        DOWN, "timed out"), ignores what arrives later, and does the rest as for
        :meth:`probe`: redaction, recording, listeners. This default probes each check
        with :meth:`probe`, concurrently."""

        async def one(i: int, check: CheckSpec) -> None:
            try:
                result = await within(self.probe(check), check.timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                deliver(i, exc)
            else:
                deliver(i, result)

        await asyncio.gather(*(one(i, c) for i, c in enumerate(checks)))

    async def query_sli(self, sli: SliSpec) -> list[SliReading]:
        """SLI: read one SLI now; one reading per series (one for a scalar).

        ``sli.params`` is an instance of ``SliParams``; ``sli.timeout`` bounds the
        call; ``sli.slo``, when set, asks for the error budget and burn rates. A
        query with no data is a reading with no value (and a ``note``), not an
        error. Raise an exception whose message is one clean line when the source
        cannot answer: the poller records it as the SLI's error.
        """
        raise NotImplementedError

    async def sli_range(
        self, sli: SliSpec, seconds: float, points: int
    ) -> dict[str, tuple[float, ...]]:
        """SLI, optional: each series' values over the last ``seconds``, ``points`` evenly
        spaced, oldest first (the sparkline's ``[`` / ``]`` ranges), keyed like
        ``SliReading.series``. Raise NotImplementedError when the source keeps no history
        (the sparkline then shows the polled values)."""
        raise NotImplementedError

    async def alerts(self) -> list[Alert]:
        """ALERTS: the active alerts, polled; bounded by ``[poller] timeout``.

        Return a new list when anything changed, never change a list returned before
        in place: the engine keeps its sorted view while a feed hands back the same
        list. Raise (one clean line) when the source cannot answer.
        """
        raise NotImplementedError

    async def rules(self) -> RuleSet:
        """RULES: the alerting rules it evaluates, with their thresholds and state; read
        when asked (the rules screen), bounded by ``[poller] timeout``. What could not be
        read is in the set's ``errors``; raise (one clean line) when nothing could."""
        raise NotImplementedError

    async def incidents(self) -> list[Incident]:
        """INCIDENTS: the incidents the source knows of, polled like :meth:`alerts`."""
        raise NotImplementedError

    async def silences(self) -> list[Silence]:
        """SILENCES: the silences in force or pending, polled like :meth:`alerts`."""
        raise NotImplementedError

    def actions(self) -> list[ActionSpec]:
        """ACTIONS: the actions this backend offers, built from its options.

        This is the one place a plugin declares its actions (id, title, typed
        parameters, the parameter naming the target, ``dangerous``, how it is
        confirmed, ``read_only`` for a diagnostic). Actions declared in config go
        through :mod:`oncall_console.backends.shared.declared`. Called often: no IO.
        """
        return []

    def applies(self, spec: ActionSpec, check: CheckSpec) -> bool:
        """ACTIONS: whether ``spec`` can act on what ``check`` watches. The actions
        dialog of a check's row lists only these (a backend that serves deployments and
        a database offers no rollback on the database's row). Default: all. No IO."""
        return True

    def secrets(self) -> tuple[str, ...]:
        """The secret values this backend resolved (a token, a password): the engine
        redacts them, and anything that reads as a credential, from every line of every
        result before it is shown. No IO."""
        return ()

    def confirmation_for(self, request: ActionRequest) -> Confirm | None:
        """ACTIONS: how this request must be confirmed when its action's spec is not
        enough (a key pattern that could match every key: ``Confirm.TYPE_TARGET``), or
        None for what the spec says. The runner's policy (``engine/actions.py``
        ``confirmation``) can only make it stricter. No IO."""
        return None

    async def diagnose(self, language: str, text: str) -> DetailTable:
        """Run a read-only diagnostic from a runbook (``promql``, ``sql``) and return rows.

        Only backends that understand the language implement it, and name it in
        :attr:`DIAGNOSES`; the engine checks the text is read-only first, and the backend
        must enforce it again on its side. Raise NotImplementedError for a language it
        does not speak.
        """
        raise NotImplementedError(f"{self.TYPE} backends cannot run {language} diagnostics")

    def inspect_views(self, check: CheckSpec) -> list[InspectView]:
        """INSPECT: the closer looks this backend offers at one of its checks (its
        workload's events and log tail, its server's sessions…), first the one to open
        first; empty when there is nothing to look closer at for that check. No IO."""
        return []

    async def inspect(self, check: CheckSpec, view: str) -> Inspection:
        """INSPECT: look once, read-only, and return rows or lines (cleaned, bounded:
        a few hundred rows or lines at most). The screen calls it again every few
        seconds while it is open, bounded by ``[poller] timeout``: keep it cheap (a
        time or count budget, never a scan of everything) and never change anything.
        Raise an exception whose message is one clean line when the source cannot
        answer, or ``ValueError`` for a view it does not offer."""
        raise NotImplementedError

    async def preview(self, request: ActionRequest) -> str:
        """ACTIONS: exactly what :meth:`run` would do with this request, for a person.

        The request's parameters are already validated and typed by the runner. Show
        the real thing: the SQL, the argv, the PATCH body, the keys that match now.
        Raise :class:`~oncall_console.model.ActionInvalid` (one line, saying why) when
        the request cannot go ahead or cannot be previewed: the runner refuses it
        before any confirmation, lock or audit. No preview, no action.
        """
        raise NotImplementedError

    async def run(self, request: ActionRequest) -> ActionResult:
        """ACTIONS: do it, once, and say what happened.

        Called by the runner only, after the preview was confirmed, with the target
        locked and the intent audited. Return an
        :class:`~oncall_console.model.ActionResult` whose outcome is SUCCEEDED,
        FAILED, REFUSED (found impossible now: nothing was done), TIMED_OUT (sent,
        no answer: it may or may not have been applied) or UNKNOWN; with
        ``request.dry_run`` do nothing and return DRY_RUN. Check what the preview
        checked again (the world may have moved since). An exception is recorded as
        FAILED with its message.
        """
        raise NotImplementedError

    async def close(self) -> None:
        """Release everything :meth:`start` opened. Safe to call twice."""
