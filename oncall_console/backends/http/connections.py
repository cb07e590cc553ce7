"""What the ``http`` backend holds open: its token, one TLS context, the probe client, httpx.

Probes go out on the lean client of :mod:`oncall_console.backends.http.probe`;
httpx carries webhooks, and the probes whose URL a proxy variable (HTTP_PROXY,
NO_PROXY, ...) covers, read as httpx reads those variables.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
import urllib.request
from typing import Any

import httpx
from pydantic import BaseModel

from oncall_console.backends.base import Backend, BackendContext
from oncall_console.backends.http.judge import SetupError
from oncall_console.backends.http.options import HttpOptions
from oncall_console.backends.http.probe import (
    ProbeClient,
    default_cas,
    probe_headers,
    tls_context,
)
from oncall_console.secrets import SecretMissing, reference, resolve


def _remember_missing_sniffio() -> None:
    """httpcore runs ``import sniffio`` for every lock and event it sets up (about five per
    request). Since anyio 4.11 sniffio is rarely installed, and Python does not cache a
    failed import: each try scanned sys.path, 0.8 ms of CPU per probe. A ``None`` entry
    makes the same ImportError a dict lookup (encode/httpcore#1103, still open)."""
    try:
        import sniffio  # noqa: F401
    except ImportError:
        sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


_remember_missing_sniffio()


class HttpConnections(Backend):
    """The token, the TLS context and the two clients, built once and shared."""

    options: HttpOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._tls: ssl.SSLContext | None = None
        self._probes: ProbeClient | None = None
        self._client: httpx.AsyncClient | None = None
        self._proxies: list[tuple[Any, bool]] = []
        self._token: str | None = None
        self._token_error: str | None = None
        self._token_read = False

    async def start(self) -> None:
        self._resolve_token()
        with contextlib.suppress(SetupError):  # each probe reports it, with the check
            self._probe_client()

    async def close(self) -> None:
        probes, self._probes = self._probes, None
        client, self._client = self._client, None
        if probes is not None:
            await probes.aclose()
        if client is not None:
            await client.aclose()

    def _resolve_token(self) -> None:
        opts, self._token, self._token_error = self.options, None, None
        self._token_read = True
        try:
            self._token = resolve("token", opts.token_env, opts.token_file)
        except SecretMissing as exc:
            self._token_error = str(exc)
        if self._token is not None and any(c in self._token for c in "\r\n\x00"):
            # Sent, it would be refused with the header quoted in the error: never shown.
            where = reference(opts.token_env, opts.token_file)
            self._token, self._token_error = None, f"token: {where} holds a line break"

    def _tls_context(self) -> ssl.SSLContext:
        """One context for every connection: loading the CA bundle is the slow part."""
        if self._tls is None:
            opts = self.options
            try:
                self._tls = tls_context(opts.verify_tls, *self._cas())
            except (OSError, ssl.SSLError) as exc:
                raise SetupError(f"TLS: cannot load ca_file {opts.ca_file}: {exc}") from exc
        return self._tls

    def _cas(self) -> tuple[str | None, str | None]:
        """(cafile, capath) to verify with: ``ca_file``, else httpx's defaults:
        SSL_CERT_FILE, SSL_CERT_DIR, certifi's bundle (the probe worker gets these)."""
        if self.options.ca_file:
            return self.options.ca_file, None
        return default_cas()

    def _probe_headers(self) -> dict[str, str]:
        return probe_headers(self.options.user_agent, self.options.headers)

    def _probe_client(self) -> ProbeClient:
        """The lean client that carries probes (built on first use, synchronously, so
        that concurrent first probes cannot make two)."""
        if self._probes is None:
            opts = self.options
            self._probes = ProbeClient(
                tls=self._tls_context(),
                headers=self._probe_headers(),
                max_connections=opts.max_connections,
                max_body_bytes=opts.max_body_bytes,
            )
            self._proxies = _proxy_rules()
        return self._probes

    def _ensure_client(self) -> httpx.AsyncClient:
        """httpx, for webhooks and for probes that a proxy variable covers."""
        if self._client is None:
            opts = self.options
            self._client = httpx.AsyncClient(
                verify=self._tls_context(),
                headers={"User-Agent": opts.user_agent, **opts.headers},
                limits=httpx.Limits(
                    max_connections=opts.max_connections,
                    max_keepalive_connections=opts.max_connections,
                ),
                follow_redirects=False,  # a redirect from a health URL is itself a finding
            )
        return self._client


class _Everything:
    def matches(self, url: httpx.URL) -> bool:
        return True


def _proxy_rules() -> list[tuple[Any, bool]]:
    """httpx's own reading of the proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
    NO_PROXY), in its order: (pattern, proxied), the first match decides. Taken from
    httpx so that the two paths cannot disagree about which URL a proxy covers; if httpx
    moved its helpers, any proxy variable sends every probe through httpx."""
    try:
        from httpx._utils import URLPattern, get_environment_proxies
    except ImportError:  # pragma: no cover - a future httpx
        found = urllib.request.getproxies_environment()
        return [(_Everything(), True)] if any(k in found for k in ("http", "https", "all")) else []
    mounts = get_environment_proxies()
    if not any(v is not None for v in mounts.values()):
        return []
    return sorted(
        ((URLPattern(k), v is not None) for k, v in mounts.items()), key=lambda r: r[0].priority
    )


def proxied(url: str, rules: list[tuple[Any, bool]]) -> bool:
    """Whether httpx would send this URL through a proxy (then httpx carries the probe)."""
    parsed = httpx.URL(url)
    return next((proxied for pattern, proxied in rules if pattern.matches(parsed)), False)


async def read_capped(resp: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body; the rest is never read."""
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > cap:
            del body[cap:]
            return bytes(body), True
    return bytes(body), False
