"""Loading the TOML configuration: read, override from the environment, validate every
section, resolve backends, checks and SLIs; every problem at once, each naming file, key,
line and column. The models are in :mod:`oncall_console.configschema` (re-exported here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

# The file-level half (no pydantic) lives in configfile; callers find it here too.
from oncall_console.configfile import CONFIG_ENV as CONFIG_ENV
from oncall_console.configfile import ENV_PREFIX as ENV_PREFIX
from oncall_console.configfile import (
    MAX_DEPTH,
    ConfigError,
    Locator,
    Problem,
    apply_env,
    did_you_mean,
    dotted,
    fields_at,
    inline_secrets,
    parse,
    read_text,
    too_deep,
)
from oncall_console.configfile import default_path as default_path
from oncall_console.configfile import discover as discover
from oncall_console.configfile import field_docs as field_docs
from oncall_console.configfile import toml_loads as toml_loads

# The schema (the models of every section); callers find them here too.
from oncall_console.configschema import BackendConfig as BackendConfig
from oncall_console.configschema import BurnWindow as BurnWindow
from oncall_console.configschema import BusConfig as BusConfig
from oncall_console.configschema import CheckConfig as CheckConfig
from oncall_console.configschema import Config as Config
from oncall_console.configschema import ConsoleConfig as ConsoleConfig
from oncall_console.configschema import Duration as Duration
from oncall_console.configschema import EscalationLevel as EscalationLevel
from oncall_console.configschema import Fraction as Fraction
from oncall_console.configschema import IncidentsConfig as IncidentsConfig
from oncall_console.configschema import Interval as Interval
from oncall_console.configschema import LoadedConfig as LoadedConfig
from oncall_console.configschema import MinutesBySeverity as MinutesBySeverity
from oncall_console.configschema import Name as Name
from oncall_console.configschema import PollerConfig as PollerConfig
from oncall_console.configschema import RunbooksConfig as RunbooksConfig
from oncall_console.configschema import Section as Section
from oncall_console.configschema import SliConfig as SliConfig
from oncall_console.configschema import SloConfig as SloConfig
from oncall_console.configschema import StoreConfig as StoreConfig
from oncall_console.configschema import WarRoomConfig as WarRoomConfig
from oncall_console.model import CheckSpec, Direction, SliSpec, SloSpec, Thresholds


def load(path: str | os.PathLike[str], env: dict[str, str] | None = None) -> LoadedConfig:
    """Read, override from the environment, validate. Raises ConfigError."""
    p = Path(path)
    return loads(read_text(p), filename=str(p), env=env, path=p)


def loads(
    text: str,
    filename: str = "<config>",
    env: dict[str, str] | None = None,
    path: Path | None = None,
) -> LoadedConfig:
    return from_dict(parse(text, filename), filename=filename, text=text, env=env, path=path)


def from_dict(
    data: dict[str, Any],
    filename: str = "<config>",
    text: str = "",
    env: dict[str, str] | None = None,
    path: Path | None = None,
) -> LoadedConfig:
    locator = Locator(text)
    overridden = apply_env(data, os.environ if env is None else env)

    def problem(loc: tuple[Any, ...], message: str) -> Problem:
        key = dotted(loc)
        if key in overridden:
            return Problem(f"${overridden[key]}", key, message)
        return Problem(filename, key, message, *locator.where(loc))

    problems: list[Problem] = []
    if (deep := too_deep(data)) is not None:
        keys = tuple(k for k in deep if isinstance(k, str))[: MAX_DEPTH // 4]
        raise ConfigError([problem(keys, f"nested more than {MAX_DEPTH} levels deep")])
    for loc in inline_secrets(data):
        problems.append(
            problem(
                loc,
                f'secrets are not accepted inline; use {loc[-1]}_env = "VAR" '
                f'or {loc[-1]}_file = "/path"',
            )
        )
        _drop(data, loc)  # reported; nothing below may echo it
    config, broken = _validate(data, problem, problems)
    loaded = LoadedConfig(config=config, path=path)
    _resolve(loaded, problem, problems, broken)
    if problems:
        # Every problem at once, in the order of the file ($ONCALL_ overrides first).
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return loaded


def _drop(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    node: Any = data
    for part in loc[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(loc[-1], None)


_PER_NAME = ("backends", "checks", "slis")


def _validate(
    data: dict[str, Any], problem: Any, problems: list[Problem]
) -> tuple[Config, set[str]]:
    """The config of what is valid, every schema problem reported; (config, the names of
    backends left out for their own problems, whose checks are not blamed for them)."""
    try:
        return Config.model_validate(data), set()
    except ValidationError as exc:
        errors = exc.errors()
    problems.extend(problem(e["loc"], _message(e, Config)) for e in errors)
    # Leave out what is wrong (a section, or one backend, check or SLI) and validate the
    # rest: the other sections' problems are reported in the same run, not the next one.
    rest, broken = dict(data), set()
    for _ in range(3):
        for e in errors:
            top = e["loc"][0] if e["loc"] else None
            if top in _PER_NAME and len(e["loc"]) > 1 and isinstance(rest.get(top), dict):
                rest[top] = {k: v for k, v in rest[top].items() if k != e["loc"][1]}
                if top == "backends":
                    broken.add(str(e["loc"][1]))
            else:
                rest.pop(top, None)
        try:
            return Config.model_validate(rest), broken
        except ValidationError as exc:
            errors = exc.errors()
    return Config(), broken


def _resolve(
    loaded: LoadedConfig, problem: Any, problems: list[Problem], broken: set[str] = frozenset()
) -> None:
    """Validate each backend's own options and parameters; build the specs."""
    from oncall_console import backends as registry

    config = loaded.config
    classes: dict[str, Any] = {}
    for name, bc in config.backends.items():
        try:
            cls = registry.load(bc.type)
        except registry.UnknownBackendType as exc:
            message = str(exc) + did_you_mean(bc.type, exc.installed)
            problems.append(problem(("backends", name, "type"), message))
            continue
        except registry.BrokenBackend as exc:
            problems.append(problem(("backends", name, "type"), str(exc)))
            continue
        classes[name] = cls  # its checks are still validated if its options are wrong
        try:
            # Relative paths in a backend's options (rule files) are the config file's.
            where = {"config_dir": str(loaded.path.parent if loaded.path else Path.cwd())}
            opts = cls.Options.model_validate(bc.model_extra or {}, context=where)
        except ValidationError as exc:
            problems.extend(
                problem(("backends", name, *e["loc"]), _message(e, cls.Options, BackendConfig))
                for e in exc.errors()
            )
            continue
        loaded.backend_options[name] = (bc.type, opts)

    # A status message is free text from remote alerts: it goes to http webhooks only
    # (their JSON body is filled inside the parsed JSON), never to a shell or SQL backend.
    for n, target in enumerate(config.incidents.post_to):
        backend, _, action = target.partition(".")
        bc = config.backends.get(backend)
        where = ("incidents", "post_to", n)
        if bc is None:
            if backend not in broken:
                problems.append(
                    problem(
                        where,
                        f"no backend named {backend!r}" + did_you_mean(backend, config.backends),
                    )
                )
        elif bc.type != "http":
            problems.append(
                problem(
                    where,
                    f"{target!r} is a {bc.type} backend's: status messages (remote text) go "
                    "to http webhooks only",
                )
            )
        elif backend in loaded.backend_options:
            webhooks = getattr(loaded.backend_options[backend][1], "webhooks", None) or {}
            if action not in webhooks:
                known = ", ".join(sorted(webhooks)) or "none"
                problems.append(
                    problem(where, f"{backend!r} has no webhook {action!r} (its webhooks: {known})")
                )

    poller = config.poller
    seen: dict[object, Any] = {}
    for name, cc in config.checks.items():
        cls = _backend_for(
            config, classes, cc.backend, ("checks", name), "health", problem, problems, broken
        )
        if cls is None:
            continue
        try:
            params = _shared(cls.CheckParams.model_validate(cc.model_extra or {}), seen)
        except ValidationError as exc:
            problems.extend(
                problem(("checks", name, *e["loc"]), _message(e, cls.CheckParams, CheckConfig))
                for e in exc.errors()
            )
            continue
        loaded.checks.append(
            CheckSpec(
                name=name,
                backend=cc.backend,
                interval=poller.interval if cc.interval is None else cc.interval,
                timeout=poller.timeout if cc.timeout is None else cc.timeout,
                title=cc.title,
                group=cc.group,
                runbook=cc.runbook,
                params=params,
            )
        )
    for name, sc in config.slis.items():
        cls = _backend_for(
            config, classes, sc.backend, ("slis", name), "sli", problem, problems, broken
        )
        if cls is None:
            continue
        try:
            params = _shared(cls.SliParams.model_validate(sc.model_extra or {}), seen)
        except ValidationError as exc:
            problems.extend(
                problem(("slis", name, *e["loc"]), _message(e, cls.SliParams, SliConfig))
                for e in exc.errors()
            )
            continue
        direction = Direction.LOWER_IS_BETTER if sc.good == "lower" else Direction.HIGHER_IS_BETTER
        loaded.slis.append(
            SliSpec(
                name=name,
                backend=sc.backend,
                unit=sc.unit,
                thresholds=Thresholds(sc.target, sc.warning, sc.critical, direction),
                interval=poller.interval if sc.interval is None else sc.interval,
                timeout=poller.timeout if sc.timeout is None else sc.timeout,
                title=sc.title,
                params=params,
                slo=_slo(sc.slo) if sc.slo else None,
            )
        )
    # The raw sections are let go once each has its spec: nothing reads them after this
    # (the engine reads loaded.checks and .slis), and 10,000 checks kept 9.5 MB of them
    # (#14, point 3).
    config.checks.clear()
    config.slis.clear()


def _shared(params: Any, seen: dict[object, Any]) -> Any:
    """``params``, its set of fields given and its list values pointing at equal ones an
    earlier check's params have (``seen``). Every check's params had a set and default
    lists of its own: 10,000 HTTP checks, 3.4 MB of equal copies (#14, point 3). Only a
    frozen model's: pydantic changes neither after validation (``model_copy`` copies the
    set before it updates it), and nothing here changes a params' list."""
    if not params.model_config.get("frozen"):
        return params
    given = params.__pydantic_fields_set__
    object.__setattr__(params, "__pydantic_fields_set__", seen.setdefault(frozenset(given), given))
    values = params.__dict__
    for key, value in values.items():
        if type(value) is list and all(type(v) in (str, int, float) for v in value):
            # [1] and [1.0] are equal, but not the same to share
            values[key] = seen.setdefault((list, *((type(v), v) for v in value)), value)
    return params


def _slo(slo: SloConfig) -> SloSpec:
    return SloSpec(
        slo.objective,
        slo.window,
        tuple((w.long, w.short, w.factor, w.page) for w in slo.burn_windows),
        budgeting=slo.budgeting_method,
        time_slice=slo.time_slice_window,
        time_slice_target=slo.time_slice_target,
    )


def _backend_for(
    config: Config,
    classes: dict[str, Any],
    backend: str,
    loc: tuple[str, str],
    capability: str,
    problem: Any,
    problems: list[Problem],
    broken: set[str] = frozenset(),
) -> Any:
    from oncall_console.backends.base import Capability

    if backend in broken:
        return None  # its own error is reported already
    if backend not in config.backends:
        names = ", ".join(sorted(config.backends)) or "none configured"
        message = f"no backend named {backend!r} ({names})" + did_you_mean(backend, config.backends)
        problems.append(problem((*loc, "backend"), message))
        return None
    cls = classes.get(backend)
    if cls is None:
        return None  # its own error is reported already
    if Capability(capability) not in cls.CAPABILITIES:
        problems.append(
            problem((*loc, "backend"), f"backend {backend!r} ({cls.TYPE}) cannot do {capability}")
        )
        return None
    return cls


def _message(error: Any, model: Any = None, also: Any = None) -> str:
    kind, msg = error.get("type", ""), error.get("msg", "invalid")
    loc = tuple(error.get("loc", ()))
    if kind == "extra_forbidden":
        known = fields_at(model, loc[:-1]) + (list(also.model_fields) if also else [])
        word = "section" if model is Config and len(loc) == 1 else "key"
        return f"unknown {word}" + did_you_mean(loc[-1] if loc else "", known)
    if kind == "missing":
        return "required key is missing"
    if kind == "greater_than" and loc and loc[-1] in ("interval", "timeout", "refresh"):
        return f"must be more than 0 seconds (got {error.get('input')!r}; leave it out for the default)"
    got = error.get("input")
    if kind not in ("value_error",) and not isinstance(got, dict | list) and got is not None:
        return f"{msg} (got {got!r})"
    return msg.removeprefix("Value error, ")
