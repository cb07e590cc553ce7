"""The first poll's ``http`` checks without pydantic or httpx (issue #14).

The first poll's child (``engine/prefetch.py``) validates each backend's options and
each check's parameters with the backend's own models: for ``http`` that is pydantic and
httpx, ~200 ms of imports on the way to a probe that takes 5 ms, so the first results
of a config of HTTP checks reached the screen ~150 ms after the first frame. The plain
cases need neither: a backend table with no options but ``verify_tls``,
``max_connections`` and ``user_agent``, and checks with a plain ``url`` (and
``method``). This module reads those, with the models' own defaults, into the very
dicts the models would dump (same keys, same order: the fingerprint the parent checks
is computed over them), and probes them with the probe worker's code (``judge.py`` on
the lean client). Anything else (a token, headers, a CA file, a proxy variable, a URL
with more than a host, port, path and query, any other parameter) is left to the full
path: :func:`lean_options` / :func:`lean_params` return None. A test keeps the defaults
and the dumps equal to the models'.

Nothing here is the authority: the parent seeds a result only when the validated
config gives the same fingerprint (``OnCall.seed``).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from oncall_console.backends.http.judge import ProbeParams
from oncall_console.backends.http.probe import Origin, default_cas
from oncall_console.tasks import within

OPTION_DEFAULTS: dict[str, Any] = {
    "verify_tls": True,
    "ca_file": None,
    "headers": {},
    "token_env": None,
    "token_file": None,
    "max_body_bytes": 1_000_000,
    "max_connections": 100,
    "user_agent": "oncall-console",
    "webhooks": {},
}
"""``HttpOptions().model_dump()``, in its field order (tests/test_first_poll.py)."""
PARAM_DEFAULTS: dict[str, Any] = {
    "ready_url": None,
    "method": "GET",
    "expect_status": [200, 204],
    "degraded_status": [],
    "warning_ms": 500.0,
    "critical_ms": 1000.0,
    "json_status_key": "status",
    "json_services_key": "services",
    "cert_warning_days": 14,
    "cert_critical_days": 3,
}
"""``HttpCheckParams(url=...).model_dump()`` without ``url``, in field order."""

_PLAIN_URL = re.compile(
    r"(https?)://([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9/._~-]*)?(\?[A-Za-z0-9=&._~-]*)?"
)
"""What is read here without httpx: a lowercase host name or IPv4 address, a port, a path
and a query of unreserved characters (nothing to normalise or escape)."""
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def plain_origin(url: str) -> Origin | None:
    """The probe's origin of a plain URL, as ``probe.origin_of`` (httpx) gives it; None
    for anything else."""
    m = _PLAIN_URL.fullmatch(url) if isinstance(url, str) else None
    if m is None:
        return None
    scheme, host, port_text, path, query = m.groups()
    default = 443 if scheme == "https" else 80
    port = int(port_text) if port_text else default
    if not 0 < port < 65536:
        return None
    target = (path or "/") + (query or "")
    header = host if port == default else f"{host}:{port}"
    return Origin(scheme, host, port, target.encode("ascii"), header.encode("ascii"))


def proxied() -> bool:
    """A proxy variable is set: probes may go through httpx (the full path decides)."""
    return any(os.environ.get(v) or os.environ.get(v.upper()) for v in _PROXY_VARIABLES)


def lean_options(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``HttpOptions.model_validate(raw).model_dump()`` for the plain cases, else None."""
    out = dict(OPTION_DEFAULTS, headers={}, webhooks={})
    for key, value in raw.items():
        plain = (
            (key == "verify_tls" and isinstance(value, bool))
            or (key == "max_connections" and type(value) is int and value >= 1)
            or (key == "user_agent" and isinstance(value, str) and _plain_header(value))
        )
        if not plain:
            return None
        out[key] = value
    return out


def plain_options(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`lean_options`, unless a proxy variable is set (probes may then go through
    httpx: the full path decides)."""
    return None if proxied() else lean_options(raw)


def _plain_header(value: str) -> bool:
    return value.isascii() and value.isprintable() and value == value.strip()


def lean_params(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``HttpCheckParams.model_validate(raw).model_dump()`` for the plain cases, else
    None (``raw``: the check's table without the check's own keys)."""
    url = raw.get("url")
    if not isinstance(url, str) or plain_origin(url) is None:
        return None
    out: dict[str, Any] = {"url": url, **PARAM_DEFAULTS}
    out["expect_status"] = list(PARAM_DEFAULTS["expect_status"])
    out["degraded_status"] = []
    for key, value in raw.items():
        if key == "method" and value in ("GET", "HEAD"):
            out[key] = value
        elif key != "url":
            return None
    return out


def setup_of(options: Mapping[str, Any]) -> Any:
    """The probe worker's setup for lean ``options``, as the console's backend builds it
    from the validated ones (no ca_file here: the default CAs)."""
    from types import SimpleNamespace

    from oncall_console.backends.http.worker import WorkerSetup

    return WorkerSetup.of(SimpleNamespace(**options), default_cas())


async def probe_plain(
    options: Mapping[str, Any],
    checks: list[tuple[Any, dict[str, Any]]],
    emit: Callable[[Any, Any], None],
) -> None:
    """Probe each (spec, lean params) once, ``emit(spec, result)`` as each answers: the
    worker's probing (per-request timeouts, every failure a result), at most
    ``max_connections`` at once."""
    from oncall_console.backends.http.worker import _Probes

    setup = setup_of(options)
    if not any(p["url"].startswith("https:") for _, p in checks):
        # no TLS connection will be made (a probe follows no redirect): the client's TLS
        # context need not load the CA bundle (~20 ms before the first probe)
        setup = replace(setup, verify_tls=False)
    probes = _Probes(setup, None, options["max_connections"])
    gate = asyncio.Semaphore(options["max_connections"])

    async def one(spec: Any, params: dict[str, Any]) -> None:
        plain = ProbeParams(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        )
        origin = plain_origin(plain.url)
        assert origin is not None  # lean_params read it
        probes.origins[plain.url] = origin
        async with gate:
            result = await within(probes.probe_with(spec, plain), spec.timeout + 1)
        emit(spec, result)

    try:
        await asyncio.gather(*(one(s, p) for s, p in checks), return_exceptions=True)
    finally:
        await probes.aclose()
