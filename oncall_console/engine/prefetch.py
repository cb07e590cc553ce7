"""The first poll, on the second core, while the first frame is painted (issue #14).

A console on a terminal paints its frame first and only then validates the config and
builds the engine (issue #6); its first real result waited for all of that, one core,
one after the other: 4.8x the bare Textual app on the test stack. The CLI therefore
forks before it imports Textual; the child validates the same document, starts only the
backends the checks use and probes every check once, through the poller's own
``probe_check`` (same semaphore, timeouts and redaction), and hands each result back as
soon as it has it. The parent shows them on the frame and gives them to its engine
(``OnCall.seed``), whose poller then waits out the interval instead of probing again.

What the child never does: open the store or the bus, write the audit, run an action,
poll SLIs or feeds, touch the terminal. What crosses the pipe is :class:`Early`: plain
data (no backend option models, so the parent needs no pydantic to read it).

A console's own config does not wait for the config's schema (~100 ms of pydantic
models before the first probe could start): :func:`read_sketch` takes from the TOML
only what a probe needs (the backend's table, the check's), and each backend's own
``Options`` and ``CheckParams`` models validate those, as the full config does. What the
sketch cannot read plainly is left out (that check is probed by the engine instead).
Plain ``demo``, ``http`` and ``postgres`` backends and checks skip even those models (:data:`PLAIN`):
each one's ``sketch`` module reads them into the dicts the models would dump and probes
them with the backend's own probing code, no pydantic (nor, for http, httpx) imported:
~200 ms less before the first probe (http), ~100 ms (postgres).
The parent's validation stays the authority: each result carries a fingerprint of what
was probed (:func:`fingerprint`: the backend's type and validated options, the check's
parameters and timeout), and the engine takes a result only when the validated config
gives the same (``OnCall.seed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oncall_console.durations import parse_duration
from oncall_console.model import CheckResult, CheckSpec, Early
from oncall_console.tasks import within

if TYPE_CHECKING:
    from oncall_console.backends.base import Backend
    from oncall_console.config import LoadedConfig


def _plain(spec: CheckSpec) -> CheckSpec:
    return dataclasses.replace(spec, params=None)


def fingerprint(kind: str, options: Any, spec: CheckSpec) -> str:
    """What a probe of ``spec`` depends on, hashed (options may hold resolved secrets:
    only the digest leaves this function)."""
    dump = getattr(options, "model_dump", None)
    params = getattr(spec.params, "model_dump", None)
    what = (
        kind,
        spec.name,
        spec.backend,
        spec.timeout,
        dump() if dump else options,
        params() if params else spec.params,
    )
    return hashlib.blake2b(repr(what).encode(), digest_size=16).hexdigest()


def target_of(loaded: LoadedConfig, spec: CheckSpec) -> str:
    """:func:`fingerprint` of a validated check ("" when its backend is not there)."""
    found = loaded.backend_options.get(spec.backend)
    return fingerprint(found[0], found[1], spec) if found else ""


def matching(loaded: LoadedConfig, early: Iterable[Early]) -> Iterator[tuple[str, CheckResult]]:
    """(check, result) of each first result probed with the same target as ``loaded``
    gives that check: the validated config is the authority over the sketch's."""
    specs = {spec.name: spec for spec in loaded.checks}
    for e in early:
        spec = specs.get(e.spec.name)
        if spec is not None and e.target and e.target == target_of(loaded, spec):
            yield e.spec.name, e.result


# --- the sketch: a probe's config without the config's schema -------------------------

CHECK_KEYS = frozenset({"backend", "interval", "timeout", "title", "group", "runbook"})
"""``CheckConfig``'s own fields (tests/test_first_poll.py keeps them the same); every other
key of a check's table is its backend's ``CheckParams``."""
OWN_PROCESS = frozenset({"postgres", "redis", "kubernetes"})
"""Backend types whose client library takes ~100 ms or more to import: each is probed in
a process of its own, so one import does not hold back the others' first results."""
_DEFAULT_TIMEOUT = 5.0  # PollerConfig's defaults (a test keeps them the same)
_DEFAULT_INTERVAL = 15.0


@dataclass
class Group:
    """One backend of the sketch and the checks that use it (raw tables, unvalidated)."""

    name: str
    kind: str
    options: dict[str, Any]
    checks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def read_sketch(data: Mapping[str, Any]) -> tuple[list[Group], dict[str, Any]]:
    """The backends that checks use, in the order of their first check, and the few
    settings the first poll needs, from the TOML document as it is (environment
    overrides already applied). Nothing here raises: what is not plainly readable is
    left out. Returns ([], {}) for a document the schema would refuse outright."""
    from oncall_console.configfile import inline_secrets, too_deep

    if too_deep(data) is not None or inline_secrets(data):
        return [], {}
    backends = data.get("backends")
    checks = data.get("checks")
    poller = data.get("poller") or {}
    console = data.get("console") or {}
    if not isinstance(backends, dict) or not isinstance(checks, dict):
        return [], {}
    if not isinstance(poller, dict) or not isinstance(console, dict):
        return [], {}
    timeout = _seconds(poller.get("timeout", _DEFAULT_TIMEOUT))
    interval = _seconds(poller.get("interval", _DEFAULT_INTERVAL))
    if timeout is None or interval is None:
        return [], {}
    settings = {
        "timeout": timeout,
        "interval": interval,
        "environment": console.get("environment", ""),
        "threads": poller.get("threads", 8),
        "concurrency": poller.get("concurrency", 64),
    }
    if not isinstance(settings["environment"], str):
        settings["environment"] = ""
    for key, default in (("threads", 8), ("concurrency", 64)):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            settings[key] = default
    groups: dict[str, Group] = {}
    for name, table in checks.items():
        if not isinstance(table, dict) or not isinstance(table.get("backend"), str):
            continue
        backend = backends.get(table["backend"])
        if not isinstance(backend, dict) or not isinstance(backend.get("type"), str):
            continue
        group = groups.get(table["backend"])
        if group is None:
            options = {k: v for k, v in backend.items() if k != "type"}
            group = Group(table["backend"], backend["type"], options)
            groups[group.name] = group
        group.checks.append((str(name), table))
    return list(groups.values()), settings


def _spec(
    name: str, table: dict[str, Any], params: Any, settings: dict[str, Any]
) -> CheckSpec | None:
    """The check's spec as the config would build it (``params``: its parameters, read
    by the backend's model or the lean reader), or None when unsure."""
    if params is None:
        return None
    for key in ("title", "group", "runbook"):
        if not isinstance(table.get(key, ""), str):
            return None
    interval = _seconds(table.get("interval", settings["interval"]))
    own_timeout = _seconds(table.get("timeout", settings["timeout"]))
    if interval is None or own_timeout is None:
        return None
    return CheckSpec(
        name=name,
        backend=table["backend"],
        interval=interval,
        timeout=own_timeout,
        title=table.get("title", ""),
        group=table.get("group", ""),
        runbook=table.get("runbook", ""),
        params=params,
    )


def _params(table: dict[str, Any]) -> dict[str, Any]:
    """A check's table without the check's own keys: its backend's parameters."""
    return {k: v for k, v in table.items() if k not in CHECK_KEYS}


def _validated(cls: type[Backend], table: dict[str, Any]) -> Any:
    try:
        return cls.CheckParams.model_validate(_params(table))
    except Exception:
        return None


PLAIN = {
    "demo": "oncall_console.backends.demo.sketch",
    "http": "oncall_console.backends.http.sketch",
    "postgres": "oncall_console.backends.postgres.sketch",
}
"""Backend types with a plain reading (their ``sketch`` module: ``plain_options``,
``lean_params``, ``probe_plain``): plain configs skip the backend's models (pydantic)."""


def _plain_group(
    group: Group, settings: dict[str, Any]
) -> tuple[Any, dict[str, Any], list[tuple[CheckSpec, dict[str, Any]]]] | None:
    """(sketch module, options, (spec, parameters) of each check it can read) when the
    group's backend has a plain reading that takes its options; None for the full path."""
    where = PLAIN.get(group.kind)
    if where is None:
        return None
    import importlib

    sketch = importlib.import_module(where)
    options = sketch.plain_options(group.options)
    if options is None:
        return None
    checks = []
    for name, table in group.checks:
        params = sketch.lean_params(_params(table))
        spec = _spec(name, table, params, settings)
        if spec is not None:
            checks.append((spec, params))
    return sketch, options, checks


def preload() -> None:
    """Import what probing any backend needs (pydantic, the model, the poller): once,
    before the first poll forks a process per slow backend, not once in each."""
    import oncall_console.backends.base
    import oncall_console.engine.poller
    import oncall_console.engine.state  # noqa: F401


async def sketch_results(
    groups: list[Group],
    settings: dict[str, Any],
    config_dir: str,
    emit: Callable[[Early], None],
) -> None:
    """Probe the checks of ``groups`` once (see :func:`read_sketch`): each backend is
    imported, validated by its own models, started and probed as soon as it can be,
    the next one's import meanwhile; ``emit`` each result as it comes. Plain ``http``
    groups go first, without their models (:func:`_plain_group`)."""
    plain = {g.name: p for g in groups if (p := _plain_group(g, settings)) is not None}
    lean = [_probe_plain(g.kind, *plain[g.name], emit) for g in groups if g.name in plain]
    rest = [g for g in groups if g.name not in plain]
    await asyncio.gather(*lean, *([_sketch_full(rest, settings, config_dir, emit)] if rest else []))


async def _probe_plain(
    kind: str,
    sketch: Any,
    options: dict[str, Any],
    checks: list[tuple[CheckSpec, dict[str, Any]]],
    emit: Callable[[Early], None],
) -> None:
    def found(spec: CheckSpec, result: CheckResult) -> None:
        emit(Early(_plain(spec), result, fingerprint(kind, options, spec)))

    with contextlib.suppress(Exception):
        await sketch.probe_plain(options, checks, found)


async def _sketch_full(
    groups: list[Group],
    settings: dict[str, Any],
    config_dir: str,
    emit: Callable[[Early], None],
) -> None:
    from oncall_console import backends as registry
    from oncall_console.backends.base import BackendContext, Capability
    from oncall_console.engine.poller import Poller
    from oncall_console.engine.state import new_check_state

    executor = ThreadPoolExecutor(settings["threads"], thread_name_prefix="oncall-first")
    context = BackendContext(
        executor=executor, clock=time.time, environment=settings["environment"]
    )
    opened: list[Backend] = []

    async def one_backend(group: Group) -> None:
        try:
            cls = registry.load(group.kind)
            if Capability.HEALTH not in cls.CAPABILITIES:
                return
            options = cls.Options.model_validate(group.options, context={"config_dir": config_dir})
        except Exception:
            return  # the full config will say why
        specs = [s for n, t in group.checks if (s := _spec(n, t, _validated(cls, t), settings))]
        if not specs:
            return
        backend = cls(group.name, options, context)
        opened.append(backend)
        try:
            await within(backend.start(), settings["timeout"])
        except Exception:
            return
        checks = {s.name: new_check_state(s, 1) for s in specs}
        poller = Poller(
            {group.name: backend},
            checks,
            {},
            {},
            concurrency=settings["concurrency"],
            clock=time.time,
        )

        async def one(state: Any) -> None:
            result = await poller.probe_check(state)
            emit(Early(_plain(state.spec), result, fingerprint(group.kind, options, state.spec)))

        await asyncio.gather(*(one(s) for s in checks.values()))

    try:
        await asyncio.gather(*(one_backend(g) for g in groups))
    finally:
        for backend in opened:
            with contextlib.suppress(Exception):
                await within(backend.close(), 1.0)
        executor.shutdown(wait=False, cancel_futures=True)


async def first_results(loaded: LoadedConfig, emit: Callable[[Early], None]) -> None:
    """Probe every check of ``loaded`` once, concurrently; ``emit`` each result as it
    comes. Backends that no check uses are not started; one that fails to start is
    skipped (the engine will say why). Returns when every probe has answered or timed
    out."""
    from oncall_console import backends as registry
    from oncall_console.backends.base import BackendContext
    from oncall_console.engine.poller import Poller
    from oncall_console.engine.state import new_check_state

    cfg = loaded.config
    used = {c.backend for c in loaded.checks}
    executor = ThreadPoolExecutor(cfg.poller.threads, thread_name_prefix="oncall-first")
    context = BackendContext(
        executor=executor,
        clock=time.time,
        environment=cfg.console.environment,
        read_only=cfg.console.read_only,
        workers=0,  # one pass here: a probe worker's start-up (~0.7 s) costs more than it saves
    )
    backends = {
        name: registry.load(kind)(name, options, context)
        for name, (kind, options) in loaded.backend_options.items()
        if name in used
    }

    async def start(name: str) -> str | None:
        try:
            await within(backends[name].start(), cfg.poller.timeout)
        except Exception:
            return None
        return name

    started = {n for n in await asyncio.gather(*(start(n) for n in backends)) if n}
    checks = {c.name: new_check_state(c, 1) for c in loaded.checks if c.backend in started}
    poller = Poller(
        {n: b for n, b in backends.items() if n in started},
        checks,
        {},
        {},
        concurrency=cfg.poller.concurrency,
        clock=time.time,
    )

    async def one(name: str) -> None:
        state = checks[name]
        result = await poller.probe_check(state)
        emit(Early(_plain(state.spec), result, target_of(loaded, state.spec)))

    try:
        await asyncio.gather(*(one(n) for n in checks))
    finally:
        for backend in backends.values():
            with contextlib.suppress(Exception):
                await within(backend.close(), 1.0)
        executor.shutdown(wait=False, cancel_futures=True)
