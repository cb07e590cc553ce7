"""The ``http`` backend: health endpoints probed over HTTP(S), with kept-alive connections.

Probes go out on a lean HTTP/1.1 client (probe_http.py: h11 on an asyncio
Protocol, ~0.1 ms of CPU a probe where httpx took ~1 ms); httpx carries webhooks,
and the probes whose URL a proxy variable (HTTP_PROXY, NO_PROXY, ...) covers.

Status is the worst of: the HTTP code, the body's top-level JSON status, each
dependency in the body's services map, the latency and, for https, the days left
on the server certificate. Slow answers are DEGRADED, never DOWN: a slow service
is still serving, and paging it as down would hide the ones that are not.
Certificates past ``cert_critical_days`` (or expired) are DOWN, since clients are
about to start failing; under ``cert_warning_days`` they are DEGRADED.

Actions are webhooks (``[backends.NAME.webhooks.ID]``): a status-page update or a
chat message sent as JSON built from a template. Placeholders are filled in the
parsed document's string values, never by formatting JSON text: a value is always
one JSON string (or, for a leaf that is exactly ``"{param}"``, the parameter's typed
value), whatever quotes, braces or newlines it holds. In the URL, placeholders may
only follow the host, and each value is percent-encoded as one segment. The preview
shows the method, the URL, header names (never the token) and the exact body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import ssl
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal
from urllib.parse import quote as url_quote

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.backends.probe_http import ProbeClient, ProbeError, ProbeResponse
from oncall_console.backends.shared import declared
from oncall_console.backends.shared import params as P
from oncall_console.backends.shared.params import ParamDecl, Value
from oncall_console.errors import describe
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    Outcome,
    Status,
    SubStatus,
)
from oncall_console.secrets import SecretMissing, one_source_each, redact, reference, resolve
from oncall_console.text import clean


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

_OK_WORDS = frozenset({"healthy", "ok", "up", "pass", "passed", "green", "true"})
_WARN_WORDS = frozenset({"degraded", "warn", "warning", "yellow"})
_MAX_SUBSTATUSES = 100  # a body listing thousands of "services" is not a health page


def _word_status(value: object) -> Status:
    word = str(value).strip().lower()
    if word in _OK_WORDS:
        return Status.OK
    return Status.DEGRADED if word in _WARN_WORDS else Status.DOWN


# --- webhooks (actions) ------------------------------------------------------------------

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|api-?key|password", re.IGNORECASE)
_URL_PREFIX = re.compile(r"^https?://[^/?#{}]+[/?]", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WEBHOOK_BODY_CAP = 65_536
"""Bytes of a webhook's answer that are read (at most max_body_bytes)."""
SHOWN_BODY = 19_000
"""Characters of a webhook's answer kept in the result (the runner shows 20 000)."""


_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Extra request headers from config: a name, a one-line latin-1 value, no secret
    (tokens come from token_env / token_file) and none that would change the framing."""
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name")
        if _SECRET_HEADER.search(name):
            raise ValueError(
                f"header {name}: secrets are not written in config; use token_env or "
                "token_file (sent as Authorization, see auth_scheme)"
            )
        if name.lower() in _FRAMING_HEADERS:
            raise ValueError(f"header {name}: set by the client, not in config")
        check_header_value(f"header {name}", value)
    return headers


def check_header_value(what: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(f"{what}: line breaks are not allowed in a value")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{what}: only latin-1 characters can be sent in a header") from None
    return value


Headers = Annotated[dict[str, str], AfterValidator(check_headers)]


class WebhookSpec(Strict):
    """One webhook: a JSON template sent to a URL."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str | None = None
    """Where to send it (http or https); ``{param}`` placeholders may follow the host,
    each value percent-encoded as one path segment or query value."""
    url_env: str | None = None
    """Environment variable holding the URL, for webhooks whose URL is the secret
    (Slack, Teams, Google Chat); set this or url. Only its host is ever shown."""
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    """The HTTP method."""
    title: str = ""
    """What the action does, in a few words."""
    body: dict[str, Any] | list[Any]
    """The JSON document; its string values may hold ``{param}`` placeholders (write
    ``{{`` and ``}}`` for literal braces). A value that is exactly ``"{param}"`` takes
    the parameter's type (a number stays a number)."""
    params: dict[str, ParamDecl] = Field(default_factory=dict)
    """Typed parameters: ``{ status = { kind = "choice", choices = [...] } }``."""
    target: str | None = None
    """The parameter that names what is changed (locks and confirmation use it);
    required when there are parameters."""
    headers: Headers = Field(default_factory=dict)
    """Extra request headers, plain values only (the token comes from token_env / token_file)."""
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    """Status codes that mean it was accepted."""
    dangerous: bool = False
    """The person types the target's name to confirm."""
    timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds to wait for the answer."""
    send_token: bool = True
    """Send the backend's token (token_env / token_file) as the Authorization header."""
    auth_scheme: str = "Bearer"
    """The Authorization scheme for the token, e.g. "OAuth" for Statuspage, "GenieKey" for Opsgenie."""
    secret_env: dict[str, str] = Field(default_factory=dict)
    """Placeholders filled from the console's environment, for a secret the body must carry
    (PagerDuty's routing_key): ``{ routing_key = "PD_ROUTING_KEY" }``. Body only; the
    preview shows ``[secret from $PD_ROUTING_KEY]``, never the value."""

    @field_validator("url_env")
    @classmethod
    def _url_env(cls, name: str | None) -> str | None:
        if name is not None and not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        return name

    @field_validator("expect_status")
    @classmethod
    def _codes(cls, codes: list[int]) -> list[int]:
        if not codes or any(not 100 <= c <= 599 for c in codes):
            raise ValueError("status codes are between 100 and 599 (at least one)")
        return codes

    @field_validator("auth_scheme")
    @classmethod
    def _scheme(cls, scheme: str) -> str:
        if not _HEADER_NAME.match(scheme):
            raise ValueError(f"{scheme!r} is not an authorization scheme")
        return scheme

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, secret_env: dict[str, str]) -> dict[str, str]:
        for name, var in secret_env.items():
            if not P.PARAM_NAME.match(name):
                raise ValueError(f"{name!r}: lowercase letters, digits and '_'")
            if not _ENV_NAME.match(var):
                raise ValueError(f"{name}: {var!r} is not an environment variable name")
        return secret_env

    @model_validator(mode="after")
    def _consistent(self) -> WebhookSpec:
        declared.check_declarations(self.params, self.target)
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set url or url_env (exactly one)")
        both = sorted(set(self.params) & set(self.secret_env))
        if both:
            raise ValueError(f"{both[0]} is both a parameter and a secret_env placeholder")
        if self.url is not None:
            _check_url_template(self.url, self.params)
        fillable = {**self.params, **dict.fromkeys(self.secret_env, ParamDecl(kind="str"))}
        for where, leaf in _leaves(self.body, "body"):
            if isinstance(leaf, str):
                try:
                    parts = P.parse(leaf)
                except P.TemplateError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                P.check_refs(where, parts, fillable)
            elif leaf is not None and not isinstance(leaf, bool | int | float):
                raise ValueError(
                    f"{where}: a {type(leaf).__name__} is not JSON (write dates as strings)"
                )
        return self


def _check_url_template(url: str, params: Mapping[str, ParamDecl]) -> None:
    try:
        parts = P.parse(url)
    except P.TemplateError as exc:
        raise ValueError(f"url: {exc}") from None
    P.check_refs("url", parts, params)
    if P.names(parts):
        head = parts[0] if isinstance(parts[0], str) else ""
        if not _URL_PREFIX.match(head):
            raise ValueError(
                "url: placeholders may only follow the host (in the path or the query)"
            )
    _check_url(P.render(parts, dict.fromkeys(P.names(parts), "x")), "url")


def _check_url(url: str, what: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except Exception:
        raise ValueError(f"{what}: not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{what}: must be an http:// or https:// URL with a host")
    return parsed


def _leaves(node: Any, where: str) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{where}[{i}]")]
    return [(where, node)]


def fill(node: Any, values: Mapping[str, Value]) -> Any:
    """The document with each string value's placeholders filled (keys are never templates)."""
    if isinstance(node, str):
        parts = P.parse(node)
        one = P.exact(parts)
        return values[one] if one is not None else P.render(parts, values)
    if isinstance(node, dict):
        return {k: fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [fill(v, values) for v in node]
    return node


# Characters a terminal would hide or act on (the ones text.clean removes), and the
# line/paragraph separators: written as JSON escapes, so the preview is the body.
_HIDDEN = re.compile(r"[\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_for_reading(doc: Any) -> str:
    """Pretty JSON equal to what is sent, with invisible characters escaped."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True)
class WebhookCall:
    """Exactly what will be sent."""

    key: str
    spec: WebhookSpec
    url: str
    shown_url: str
    body: Any
    shown_body: Any
    headers: dict[str, str]
    header_names: tuple[str, ...]
    secrets: tuple[str, ...]

    def render(self) -> str:
        s = self.spec
        codes = ", ".join(str(c) for c in s.expect_status)
        return "\n".join(
            [
                f"{s.method} {self.shown_url}",
                "headers: " + ", ".join(self.header_names),
                f"expects: HTTP {codes} · timeout {s.timeout:g} s",
                "body:",
                json_for_reading(self.shown_body),
            ]
        )

    @property
    def content(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class HttpOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    verify_tls: bool = True
    """Verify server certificates; off only for endpoints you trust another way."""
    ca_file: str | None = None
    """PEM bundle of CAs to trust instead of the default bundle."""
    headers: Headers = Field(default_factory=dict)
    """Extra request headers sent with every probe."""
    token_env: str | None = None
    """Environment variable holding a bearer token (the token never goes in config)."""
    token_file: str | None = None
    """File holding a bearer token, read when the backend starts."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Stop reading a body after this many bytes; the status code still decides."""
    max_connections: int = Field(default=100, ge=1)
    """Probes in flight at once; as many idle kept-alive connections are kept."""
    user_agent: str = "oncall-console"
    """User-Agent header of every probe."""
    webhooks: dict[str, WebhookSpec] = Field(default_factory=dict)
    """Actions: webhooks by id (lowercase letters, digits and '-'), e.g. a status-page update."""

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, value: str) -> str:
        return check_header_value("user_agent", value)

    @field_validator("webhooks")
    @classmethod
    def _webhook_ids(cls, webhooks: dict[str, WebhookSpec]) -> dict[str, WebhookSpec]:
        return declared.check_ids("webhook", webhooks)

    _one_source = model_validator(mode="after")(one_source_each)


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
        if parsed is not None and parsed.userinfo:
            raise ValueError(
                "credentials in the URL would be shown on screen; use the backend's "
                "token_env or token_file"
            )
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
    DESCRIPTION = (
        "HTTP(S) health endpoints, with JSON dependency status and TLS expiry; "
        "webhooks with templated JSON bodies"
    )
    # ACTIONS always: a backend with no webhooks configured lists no actions.
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS})
    Options = HttpOptions
    CheckParams = HttpCheckParams

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
        with contextlib.suppress(_SetupError):  # each probe reports it, with the check
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
                if opts.verify_tls and opts.ca_file:
                    self._tls = ssl.create_default_context(cafile=opts.ca_file)
                else:  # httpx's own defaults: certifi, or SSL_CERT_FILE / SSL_CERT_DIR
                    self._tls = httpx.create_ssl_context(verify=opts.verify_tls)
            except (OSError, ssl.SSLError) as exc:
                raise _SetupError(f"TLS: cannot load ca_file {opts.ca_file}: {exc}") from exc
        return self._tls

    def _probe_client(self) -> ProbeClient:
        """The lean client that carries probes (built on first use, synchronously, so
        that concurrent first probes cannot make two)."""
        if self._probes is None:
            opts = self.options
            self._probes = ProbeClient(
                tls=self._tls_context(),
                headers={"User-Agent": opts.user_agent, "Accept": "*/*", **opts.headers},
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

    async def probe(self, check: CheckSpec) -> CheckResult:
        try:
            params = check.params
            if not isinstance(params, HttpCheckParams):
                params = HttpCheckParams.model_validate(params or {})
            if not self._token_read or self._token_error:
                self._resolve_token()  # retried so that a fixed token needs no restart
            if self._token_error:
                return self._result(check, _Fetch(error=self._token_error))
            self._probe_client()
            if params.ready_url is None:
                return self._result(check, await self._fetch(params.url, params, check))
            live, ready = await asyncio.gather(
                self._fetch(params.url, params, check),
                self._fetch(params.ready_url, params, check),
            )
            return self._result(check, _merge(live, ready))
        except _SetupError as exc:
            return self._result(check, _Fetch(error=str(exc)))
        except Exception as exc:  # probe never raises: everything is a result
            return self._result(check, _Fetch(error=f"unexpected error: {describe(exc)}"))

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

    async def _fetch(self, url: str, p: HttpCheckParams, check: CheckSpec) -> _Fetch:
        f = _Fetch(details={"url": url})
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        started = time.perf_counter()
        try:
            # One deadline for the whole exchange, which a server dripping one byte at a
            # time would otherwise stretch.
            async with asyncio.timeout(check.timeout):
                if self._proxies and _proxied(url, self._proxies):
                    resp = await self._fetch_via_proxy(url, p, headers, check.timeout)
                else:
                    resp = await self._probe_client().request(p.method, url, headers)
        except (TimeoutError, httpx.TimeoutException):
            f.error = f"timed out after {check.timeout:.1f} s"
        except (OSError, ssl.SSLError, ProbeError, httpx.HTTPError) as exc:
            f.error = describe(exc)
        else:
            f.latency_ms = (resp.head_at - started) * 1000
            self._judge_head(f, resp, p, f.latency_ms)
            if p.method == "GET":
                self._judge_body(f, resp, p)
        f.status = Status.worst([f.status, *(s.status for s in f.subs)])
        return f

    async def _fetch_via_proxy(
        self, url: str, p: HttpCheckParams, headers: dict[str, str] | None, timeout: float
    ) -> ProbeResponse:
        """The same exchange through httpx, which honours the proxy variables."""
        client = self._ensure_client()
        req = client.build_request(p.method, url, headers=headers, timeout=httpx.Timeout(timeout))
        resp = await client.send(req, stream=True)
        try:
            head_at = time.perf_counter()
            body, truncated = await _read_capped(resp, self.options.max_body_bytes)
        finally:
            await resp.aclose()
        stream = resp.extensions.get("network_stream")
        return ProbeResponse(
            status_code=resp.status_code,
            reason_phrase=resp.reason_phrase,
            headers={k.lower(): v for k, v in resp.headers.items()},
            body=body,
            truncated=truncated,
            ssl_object=stream.get_extra_info("ssl_object") if stream is not None else None,
            head_at=head_at,
        )

    def _judge_head(
        self, f: _Fetch, resp: ProbeResponse, p: HttpCheckParams, latency_ms: float
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

    def _judge_tls(self, f: _Fetch, resp: ProbeResponse, p: HttpCheckParams) -> None:
        not_after = _cert_not_after(resp.ssl_object)
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

    def _judge_body(self, f: _Fetch, resp: ProbeResponse, p: HttpCheckParams) -> None:
        body = resp.body
        f.details["body_bytes"] = str(len(body))
        if resp.truncated:
            f.notes.append(f"body truncated at {self.options.max_body_bytes} bytes")
            return  # half a JSON document says nothing
        text = body.decode(resp.encoding, errors="replace")
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

    # --- webhooks (actions) --------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        return [
            declared.declared_action(key, w, default_title=f"{w.method} webhook {key}")
            for key, w in self.options.webhooks.items()
        ]

    def webhook_call(self, key: str, given: Mapping[str, Any]) -> WebhookCall:
        """Fill the templates: ActionInvalid when the request cannot be sent."""
        spec, values = declared.declared_values(
            self.options.webhooks, key, given, what="webhook", backend=self.name
        )
        secrets: list[str] = []
        if spec.url is not None:
            parts = P.parse(spec.url)
            for ref in P.names(parts):
                if P.text_of(values[ref]) in (".", ".."):
                    raise ActionInvalid(f"{ref}: '.' and '..' would move along the URL path")
            url = P.render(parts, values, quote=lambda v: url_quote(v, safe=""))
            shown_url = url
        else:
            env = str(spec.url_env)
            url = os.environ.get(env, "").strip()
            if not url:
                raise ActionInvalid(f"url: environment variable {env} is not set")
            try:
                parsed = _check_url(url, f"url from ${env}")
            except ValueError as exc:
                raise ActionInvalid(str(exc)) from None
            secrets.append(url)
            shown_url = f"{parsed.scheme}://{parsed.host}/… (from ${env}, not shown)"
        sent, shown = dict(values), dict(values)
        for pname, var in spec.secret_env.items():
            secret = os.environ.get(var, "").strip()
            if not secret:
                raise ActionInvalid(f"secret_env: environment variable {var} is not set")
            sent[pname], shown[pname] = secret, f"[secret from ${var}]"
            secrets.append(secret)
        headers = dict(spec.headers)
        if not any(h.lower() == "content-type" for h in headers):
            headers = {"Content-Type": "application/json", **headers}
        names = ["User-Agent", *self.options.headers, *headers]
        if spec.send_token and (self.options.token_env or self.options.token_file):
            if not self._token_read or self._token_error:
                self._resolve_token()  # retried so that a fixed token needs no restart
            if self._token_error or not self._token:
                raise ActionInvalid(self._token_error or "token: not set")
            headers["Authorization"] = f"{spec.auth_scheme} {self._token}"
            where = reference(self.options.token_env, self.options.token_file)
            names.append(f"Authorization ({spec.auth_scheme} token from {where}, not shown)")
            secrets.append(self._token)
        seen: set[str] = set()
        unique = []
        for n in names:
            low = n.split(" ", 1)[0].lower()
            if low not in seen:
                seen.add(low)
                unique.append(n)
        return WebhookCall(
            key=key,
            spec=spec,
            url=url,
            shown_url=shown_url,
            body=fill(spec.body, sent),
            shown_body=fill(spec.body, shown),
            headers=headers,
            header_names=tuple(unique),
            secrets=tuple(secrets),
        )

    async def preview(self, request: ActionRequest) -> str:
        call = self.webhook_call(request.action, request.params)
        return redact(call.render(), *call.secrets)

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock
        try:
            call = self.webhook_call(request.action, request.params)
        except ActionInvalid as exc:
            return ActionResult(request, Outcome.REFUSED, clean(str(exc), limit=300), at=now())
        shown = redact(call.render(), *call.secrets)
        if request.dry_run:
            return ActionResult(
                request, Outcome.DRY_RUN, "dry run: nothing was done", preview=shown, at=now()
            )
        try:
            client = self._ensure_client()
        except _SetupError as exc:
            return ActionResult(request, Outcome.FAILED, str(exc), preview=shown, at=now())
        spec = call.spec
        cap = min(self.options.max_body_bytes, WEBHOOK_BODY_CAP)
        try:
            async with asyncio.timeout(spec.timeout):
                req = client.build_request(
                    spec.method,
                    call.url,
                    content=call.content,
                    headers=call.headers,
                    timeout=httpx.Timeout(spec.timeout),
                )
                resp = await client.send(req, stream=True)
                try:
                    body, truncated = await _read_capped(resp, cap)
                finally:
                    await resp.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return ActionResult(
                request,
                Outcome.TIMED_OUT,
                f"no answer after {spec.timeout:g} s: it may or may not have been applied",
                preview=shown,
                at=now(),
            )
        except httpx.HTTPError as exc:
            why = describe(exc, secrets=call.secrets)
            return ActionResult(request, Outcome.FAILED, why, preview=shown, at=now())
        text = redact(body.decode(resp.encoding or "utf-8", errors="replace"), *call.secrets)
        output = clean(text, limit=SHOWN_BODY, single_line=False)
        if truncated:
            output += f"\n[answer truncated at {cap} bytes]"
        code = resp.status_code
        head = f"HTTP {code} {clean(resp.reason_phrase, limit=80)}".strip()
        if code in spec.expect_status:
            outcome, message = Outcome.SUCCEEDED, head
        else:
            line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            message = f"HTTP {code}: {clean(line, limit=200)}" if line else head
            outcome = Outcome.FAILED
        return ActionResult(
            request,
            outcome,
            clean(redact(message, *call.secrets), limit=500),
            preview=shown,
            output=output,
            at=now(),
        )


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


def _proxied(url: str, rules: list[tuple[Any, bool]]) -> bool:
    """Whether httpx would send this URL through a proxy (then httpx carries the probe)."""
    parsed = httpx.URL(url)
    return next((proxied for pattern, proxied in rules if pattern.matches(parsed)), False)


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


def _cert_not_after(ssl_obj: ssl.SSLObject | None) -> float | None:
    """Epoch expiry of the server certificate, or None for plain http."""
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


async def _read_capped(resp: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body; the rest is never read."""
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > cap:
            del body[cap:]
            return bytes(body), True
    return bytes(body), False
