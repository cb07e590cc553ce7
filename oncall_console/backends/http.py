"""The ``http`` backend: health endpoints probed over HTTP(S) with one pooled client.

Status is the worst of: the HTTP code, the body's top-level JSON status, each
dependency in the body's services map, the latency and, for https, the days left
on the server certificate. Slow answers are DEGRADED, never DOWN: a slow service
is still serving, and paging it as down would hide the ones that are not.
Certificates past ``cert_critical_days`` (or expired) are DOWN, since clients are
about to start failing; under ``cert_warning_days`` they are DEGRADED.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.model import CheckResult, CheckSpec, Status, SubStatus
from oncall_console.text import clean

_OK_WORDS = frozenset({"healthy", "ok", "up", "pass", "passed", "green", "true"})
_WARN_WORDS = frozenset({"degraded", "warn", "warning", "yellow"})
_MAX_SUBSTATUSES = 100  # a body listing thousands of "services" is not a health page


def _word_status(value: object) -> Status:
    word = str(value).strip().lower()
    if word in _OK_WORDS:
        return Status.OK
    return Status.DEGRADED if word in _WARN_WORDS else Status.DOWN


class HttpOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    verify_tls: bool = True
    """Verify server certificates; off only for endpoints you trust another way."""
    ca_file: str | None = None
    """PEM bundle of CAs to trust instead of the default bundle."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers sent with every probe."""
    token_env: str | None = None
    """Environment variable holding a bearer token (the token never goes in config)."""
    token_file: str | None = None
    """File holding a bearer token, read when the backend starts."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Stop reading a body after this many bytes; the status code still decides."""
    max_connections: int = Field(default=100, ge=1)
    """Size of the shared connection pool."""
    user_agent: str = "oncall-console"
    """User-Agent header of every probe."""

    @model_validator(mode="after")
    def _one_token_source(self) -> HttpOptions:
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        return self


class HttpCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str
    """The endpoint to probe (http or https)."""
    ready_url: str | None = None
    """Readiness endpoint probed alongside ``url`` (as liveness); both must pass."""
    method: Literal["GET", "HEAD"] = "GET"
    """HEAD skips the body, and with it the JSON status."""
    expect_status: list[int] = Field(default_factory=lambda: [200, 204])
    """Status codes that mean healthy."""
    degraded_status: list[int] = Field(default_factory=list)
    """Status codes that mean degraded rather than down, e.g. 429."""
    warning_ms: float = Field(default=500.0, gt=0)
    """Slower than this is DEGRADED."""
    critical_ms: float = Field(default=1000.0, gt=0)
    """Slower than this is still DEGRADED (a slow service serves), marked critical."""
    json_status_key: str = "status"
    """Key of the overall status in a JSON body (also inside each service object)."""
    json_services_key: str = "services"
    """Key of the per-dependency map in a JSON body."""
    cert_warning_days: int = Field(default=14, ge=0)
    """A certificate expiring sooner than this is DEGRADED."""
    cert_critical_days: int = Field(default=3, ge=0)
    """A certificate expiring sooner than this, or expired, is DOWN."""

    @field_validator("url", "ready_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        try:
            parsed = httpx.URL(url) if url is not None else None
        except Exception as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if parsed is not None and (parsed.scheme not in ("http", "https") or not parsed.host):
            raise ValueError("must be an http:// or https:// URL with a host")
        return url

    @field_validator("expect_status", "degraded_status")
    @classmethod
    def _codes(cls, codes: list[int]) -> list[int]:
        if any(not 100 <= c <= 599 for c in codes):
            raise ValueError("status codes are between 100 and 599")
        return codes

    @model_validator(mode="after")
    def _ordered(self) -> HttpCheckParams:
        if self.warning_ms > self.critical_ms:
            raise ValueError("warning_ms must not exceed critical_ms")
        if self.cert_critical_days > self.cert_warning_days:
            raise ValueError("cert_critical_days must not exceed cert_warning_days")
        return self


class _SetupError(Exception):
    """The client cannot be built (a bad ca_file): every probe says so."""


@dataclass
class _Fetch:
    """What one request found; the pair of a live/ready check merges two."""

    status: Status = Status.DOWN
    code: str = ""
    latency_ms: float | None = None
    notes: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    subs: list[SubStatus] = field(default_factory=list)
    error: str | None = None
    tls_days: float | None = None


class HttpBackend(Backend):
    """Probes HTTP health endpoints, reading JSON health bodies when there are any."""

    TYPE = "http"
    DESCRIPTION = "HTTP(S) health endpoints, with JSON dependency status and TLS expiry"
    CAPABILITIES = frozenset({Capability.HEALTH})
    Options = HttpOptions
    CheckParams = HttpCheckParams

    options: HttpOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None
        self._token_error: str | None = None
        self._token_read = False

    async def start(self) -> None:
        self._resolve_token()
        with contextlib.suppress(_SetupError):  # each probe reports it, with the check
            self._ensure_client()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _resolve_token(self) -> None:
        opts, self._token, self._token_error = self.options, None, None
        self._token_read = True
        if opts.token_env:
            self._token = os.environ.get(opts.token_env, "").strip() or None
            if self._token is None:
                self._token_error = f"token: environment variable {opts.token_env} is not set"
        elif opts.token_file:
            try:
                self._token = Path(opts.token_file).read_text().strip() or None
            except OSError as exc:
                self._token_error = f"token: cannot read {opts.token_file}: {exc.strerror}"
            else:
                if self._token is None:
                    self._token_error = f"token: file {opts.token_file} is empty"

    def _ensure_client(self) -> httpx.AsyncClient:
        # Built synchronously so that concurrent first probes cannot make two pools.
        if self._client is None:
            opts = self.options
            try:
                if opts.verify_tls and opts.ca_file:
                    tls = ssl.create_default_context(cafile=opts.ca_file)
                else:  # httpx's own defaults: certifi, or SSL_CERT_FILE / SSL_CERT_DIR
                    tls = httpx.create_ssl_context(verify=opts.verify_tls)
            except (OSError, ssl.SSLError) as exc:
                raise _SetupError(f"TLS: cannot load ca_file {opts.ca_file}: {exc}") from exc
            self._client = httpx.AsyncClient(
                verify=tls,
                headers={"User-Agent": opts.user_agent, **opts.headers},
                limits=httpx.Limits(
                    max_connections=opts.max_connections,
                    max_keepalive_connections=min(20, opts.max_connections),
                ),
                follow_redirects=False,  # a redirect from a health URL is itself a finding
            )
        return self._client

    async def probe(self, check: CheckSpec) -> CheckResult:
        try:
            params = check.params
            if not isinstance(params, HttpCheckParams):
                params = HttpCheckParams.model_validate(params or {})
            if not self._token_read or self._token_error:
                self._resolve_token()  # retried so that a fixed token needs no restart
            if self._token_error:
                return self._result(check, _Fetch(error=self._token_error))
            client = self._ensure_client()
            if params.ready_url is None:
                return self._result(check, await self._fetch(client, params.url, params, check))
            live, ready = await asyncio.gather(
                self._fetch(client, params.url, params, check),
                self._fetch(client, params.ready_url, params, check),
            )
            return self._result(check, _merge(live, ready))
        except _SetupError as exc:
            return self._result(check, _Fetch(error=str(exc)))
        except Exception as exc:  # probe never raises: everything is a result
            return self._result(
                check, _Fetch(error=f"unexpected error: {describe_http_error(exc)}")
            )

    def _result(self, check: CheckSpec, f: _Fetch) -> CheckResult:
        if f.error is not None:
            summary = f"{f.code} · {f.error}" if f.code else f.error
            status, error = Status.DOWN, self._redact(f.error)
        else:
            summary = " · ".join([f.code, *f.notes])
            status, error = f.status, None
        details = {k: self._redact(v) for k, v in f.details.items()}
        if f.tls_days is not None:
            details["tls_expires_in"] = f"{f.tls_days:.1f} days"
        return CheckResult(
            check=check.name,
            status=status,
            summary=self._redact(summary),
            latency_ms=f.latency_ms,
            at=self.context.clock(),
            details=details,
            substatuses=tuple(f.subs),
            error=error,
        )

    def _redact(self, text: str) -> str:
        # Belt and braces: an error message quoting the request must not leak the token.
        return text.replace(self._token, "[token]") if self._token else text

    async def _fetch(
        self, client: httpx.AsyncClient, url: str, p: HttpCheckParams, check: CheckSpec
    ) -> _Fetch:
        f = _Fetch(details={"url": url})
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        started = time.perf_counter()
        try:
            # httpx's timeout bounds each read; the outer deadline bounds the whole
            # exchange, which a server dripping one byte at a time would otherwise stretch.
            async with asyncio.timeout(check.timeout):
                req = client.build_request(
                    p.method, url, headers=headers, timeout=httpx.Timeout(check.timeout)
                )
                resp = await client.send(req, stream=True)
                try:
                    f.latency_ms = (time.perf_counter() - started) * 1000
                    self._judge_head(f, resp, p, f.latency_ms)
                    if p.method == "GET":
                        await self._judge_body(f, resp, p)
                finally:
                    await resp.aclose()
        except (TimeoutError, httpx.TimeoutException):
            f.error = f"timed out after {check.timeout:.1f} s"
        except httpx.HTTPError as exc:
            f.error = describe_http_error(exc)
        f.status = Status.worst([f.status, *(s.status for s in f.subs)])
        return f

    def _judge_head(
        self, f: _Fetch, resp: httpx.Response, p: HttpCheckParams, latency_ms: float
    ) -> None:
        reason = clean(resp.reason_phrase, limit=80)
        f.code = f"{resp.status_code} {reason}".strip()
        f.details["http_status"] = f.code
        if ctype := resp.headers.get("content-type"):
            f.details["content_type"] = clean(ctype, limit=200)
        if resp.status_code in p.expect_status:
            f.status = Status.OK
        elif resp.status_code in p.degraded_status:
            f.status = Status.DEGRADED
        else:
            f.status = Status.DOWN
        if latency_ms > p.critical_ms:
            f.status = Status.worst([f.status, Status.DEGRADED])
            f.notes.append(f"critical latency {latency_ms:.0f} ms (> {p.critical_ms:g} ms)")
        elif latency_ms > p.warning_ms:
            f.status = Status.worst([f.status, Status.DEGRADED])
            f.notes.append(f"slow {latency_ms:.0f} ms (> {p.warning_ms:g} ms)")
        self._judge_tls(f, resp, p)

    def _judge_tls(self, f: _Fetch, resp: httpx.Response, p: HttpCheckParams) -> None:
        not_after = _cert_not_after(resp)
        if not_after is None:
            return
        f.tls_days = days = (not_after - self.context.clock()) / 86400
        if days < 0:
            f.status, note = Status.DOWN, "TLS certificate expired"
        elif days < p.cert_critical_days:
            f.status, note = Status.DOWN, f"TLS certificate expires in {days:.1f} days"
        elif days < p.cert_warning_days:
            f.status = Status.worst([f.status, Status.DEGRADED])
            note = f"TLS certificate expires in {days:.0f} days"
        else:
            return
        f.notes.append(note)

    async def _judge_body(self, f: _Fetch, resp: httpx.Response, p: HttpCheckParams) -> None:
        limit, body, truncated = self.options.max_body_bytes, bytearray(), False
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > limit:
                del body[limit:]
                truncated = True
                break  # the rest is never read; closing drops the connection
        f.details["body_bytes"] = str(len(body))
        if truncated:
            f.notes.append(f"body truncated at {limit} bytes")
            return  # half a JSON document says nothing
        text = body.decode(resp.encoding or "utf-8", errors="replace")
        try:
            doc = json.loads(text) if text.strip()[:1] in ("{", "[") else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            if text.strip():
                f.details["body"] = clean(text, limit=300)
            return
        if (top := doc.get(p.json_status_key)) is not None and not isinstance(top, dict | list):
            word = clean(top, limit=80)
            f.details["json_status"] = word
            f.status = Status.worst([f.status, _word_status(top)])
            if _word_status(top) is not Status.OK:
                f.notes.append(f"status {word}")
        f.subs = _substatuses(doc.get(p.json_services_key), p.json_status_key)
        bad = [f"{s.name} {s.detail}" for s in f.subs if s.status is not Status.OK]
        if bad:
            f.notes.append(
                ", ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else "")
            )


def _substatuses(services: object, key: str) -> list[SubStatus]:
    """Dependencies from ``{"db": "healthy"}``, ``{"db": {"status": ...}}`` or a list."""
    if isinstance(services, list):
        items = [(s.get("name", f"#{i}"), s) for i, s in enumerate(services) if isinstance(s, dict)]
    elif isinstance(services, dict):
        items = list(services.items())
    else:
        return []
    subs = []
    for name, value in items[:_MAX_SUBSTATUSES]:
        raw = value.get(key) if isinstance(value, dict) else value
        detail = clean(raw, limit=120)
        if isinstance(value, dict) and (msg := value.get("message") or value.get("error")):
            detail = f"{detail}: {clean(msg, limit=200)}"
        subs.append(SubStatus(clean(name, limit=80), _word_status(raw), detail))
    return subs


def _merge(live: _Fetch, ready: _Fetch) -> _Fetch:
    """One result for a liveness + readiness pair: "live 200 · ready 503"."""
    out = _Fetch(status=Status.worst([live.status, ready.status]))
    parts = []
    both = live.subs and ready.subs  # both may name the same dependency: say which saw what
    for label, f in (("live", live), ("ready", ready)):
        code = f.code.split(" ", 1)[0]
        parts.append(f"{label} {code}" if f.error is None else f"{label}: {f.error}")
        out.notes += [f"{label}: {n}" for n in f.notes]
        out.details.update({f"{label}.{k}": v for k, v in f.details.items()})
        out.subs += [replace(s, name=f"{label}.{s.name}") for s in f.subs] if both else f.subs
        if f.error is not None:
            out.status = Status.DOWN
    out.code = " · ".join(parts)
    lat = [f.latency_ms for f in (live, ready) if f.latency_ms is not None]
    out.latency_ms = max(lat) if lat else None
    days = [f.tls_days for f in (live, ready) if f.tls_days is not None]
    out.tls_days = min(days) if days else None
    return out


def _cert_not_after(resp: httpx.Response) -> float | None:
    """Epoch expiry of the server certificate, or None for plain http."""
    stream = resp.extensions.get("network_stream")
    ssl_obj = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_obj is None:
        return None
    cert = ssl_obj.getpeercert()
    if cert and "notAfter" in cert:
        return ssl.cert_time_to_seconds(cert["notAfter"])
    # Unverified connections give only the DER form; parse it if cryptography is there.
    der = ssl_obj.getpeercert(binary_form=True)
    try:
        from cryptography import x509
    except ImportError:
        return None
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp() if der else None


def describe_http_error(exc: BaseException) -> str:
    """One clean line for a failed request, from the most telling cause in the chain."""
    seen: BaseException | None = exc
    os_error = None
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return clean(f"TLS: certificate verify failed: {seen.verify_message}", limit=300)
        if isinstance(seen, ssl.SSLError):
            return clean(f"TLS: {seen.reason or seen}", limit=300)
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return clean(f"DNS lookup failed: {seen.strerror or seen}", limit=300)
        if isinstance(seen, OSError) and seen.strerror and os_error is None:
            os_error = seen.strerror
        seen = seen.__cause__ or seen.__context__
    if os_error:
        return clean(f"connect failed: {os_error}", limit=300)
    text = str(exc)
    return clean(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, limit=300)
