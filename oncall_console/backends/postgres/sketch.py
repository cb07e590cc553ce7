"""The first poll's ``postgres`` checks without pydantic (issue #14).

The first poll probes a postgres backend in a process of its own (``engine/prefetch.py``).
Validated by the backend's models, its first result waited for pydantic (~100 ms) on top
of psycopg (~120 ms): on the test stack the PostgreSQL row came ~60 ms after the first
frame. The plain cases need no models: a ``dsn`` without a password, its password (if
any) in ``password_env``, the numeric settings, and checks with numeric thresholds and a
``database``. This module reads those, with the models' defaults, into the very dicts
the models would dump (same keys, same order, floats as floats: the fingerprint the
parent checks is computed over them), and probes them with the backend's own probe
(``probe.py``). Anything else (``password_file``, a value of another type or out of
range) is left to the full path: :func:`lean_options` / :func:`lean_params` return None.
tests/test_first_poll_postgres.py keeps the defaults and the dumps equal to the models'.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from oncall_console import secrets
from oncall_console.backends.postgres.probe import PostgresProbe
from oncall_console.backends.shared.plain import number

OPTION_DEFAULTS: dict[str, Any] = {
    "dsn": "",
    "password_env": None,
    "password_file": None,
    "pool_size": 2,
    "connect_timeout": 5.0,
    "statement_timeout_ms": 3000,
    "application_name": "oncall-console",
    "allow_superuser_termination": False,
}
"""``PostgresOptions(dsn=...).model_dump()``, in its field order."""
PARAM_DEFAULTS: dict[str, Any] = {
    "pool_warning": 0.7,
    "pool_critical": 0.9,
    "long_query_seconds": 60.0,
    "replication_lag_warning_s": 30.0,
    "replication_lag_critical_s": 300.0,
    "database": None,
}
"""``PostgresCheckParams().model_dump()``, in its field order."""


def _int(value: Any, low: int, high: int) -> int | None:
    return value if type(value) is int and low <= value <= high else None


def lean_options(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``PostgresOptions.model_validate(raw).model_dump()`` for the plain cases, else None."""
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    out = dict(OPTION_DEFAULTS)
    dsn = raw.get("dsn")
    if not isinstance(dsn, str):
        return None
    try:
        if conninfo_to_dict(dsn).get("password"):
            return None
    except Error:
        return None
    for key, value in raw.items():
        if key == "dsn":
            read: Any = value
        elif key == "password_env":
            read = value if isinstance(value, str) and secrets.ENV_NAME.match(value) else None
        elif key == "pool_size":
            read = _int(value, 2, 20)
        elif key == "connect_timeout":
            n = number(value)
            read = n if n is not None and 0 < n <= 300 else None
        elif key == "statement_timeout_ms":
            read = _int(value, 10, 3_600_000)
        elif key == "application_name":
            read = value if isinstance(value, str) else None
        elif key == "allow_superuser_termination":
            read = value if isinstance(value, bool) else None
        else:
            return None  # password_file (a path to resolve), anything unknown
        if read is None:
            return None
        out[key] = read
    return out


def lean_params(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``PostgresCheckParams.model_validate(raw).model_dump()`` for the plain cases, else
    None (``raw``: the check's table without the check's own keys)."""
    out = dict(PARAM_DEFAULTS)
    for key, value in raw.items():
        if key not in out:
            return None
        if key == "database":
            if not isinstance(value, str):
                return None
            out[key] = value
            continue
        n = number(value)
        if n is None:
            return None
        share = key in ("pool_warning", "pool_critical")
        if (share and not 0 < n <= 1) or n < 0 or (key == "long_query_seconds" and n == 0):
            return None
        out[key] = n
    if out["pool_warning"] > out["pool_critical"]:
        return None
    if out["replication_lag_warning_s"] > out["replication_lag_critical_s"]:
        return None
    return out


plain_options = lean_options
"""What the first poll reads (for postgres, whatever the environment: the lean reading)."""


class _Plain(PostgresProbe):
    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = SimpleNamespace(**options)
        self._conn = None
        self._lock = asyncio.Lock()
        self._password: str | None = None

    def _now(self) -> float:
        return time.time()


async def probe_plain(
    options: Mapping[str, Any],
    checks: list[tuple[Any, dict[str, Any]]],
    emit: Callable[[Any, Any], None],
) -> None:
    """Probe each (spec, lean params) once on one session, ``emit(spec, result)`` each:
    the backend's own probe (its timeouts; every failure a result)."""
    probe = _Plain(options)
    try:
        for spec, params in checks:
            emit(spec, await probe.probe_with(spec, SimpleNamespace(**params)))
    finally:
        await probe._discard()
