"""The ``http`` backend's settings: the backend's options, its webhooks, a check's parameters.

Everything here is checked when config is loaded: header names and values (no
secret in a header: tokens come from ``token_env`` / ``token_file``), webhook
URLs and their ``{param}`` placeholders, the JSON body's templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Strict
from oncall_console.backends.shared import declared
from oncall_console.backends.shared import params as P
from oncall_console.backends.shared.params import ParamDecl
from oncall_console.secrets import one_source_each

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|api-?key|password", re.IGNORECASE)
_URL_PREFIX = re.compile(r"^https?://[^/?#{}]+[/?]", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

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
            # Not echoed: the URL itself (the secret) pasted where its variable belongs.
            raise ValueError(
                "url_env must name an environment variable (letters, digits, _); the value "
                "is not shown: if a secret was pasted here, rotate it"
            )
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
                raise ValueError(
                    f"secret_env.{name} must name an environment variable (letters, digits, "
                    "_); the value is not shown: if a secret was pasted here, rotate it"
                )
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
    check_url(P.render(parts, dict.fromkeys(P.names(parts), "x")), "url")


def check_url(url: str, what: str) -> httpx.URL:
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
    """Probes in flight at once; as many idle kept-alive connections are kept. In a probe
    worker (``[poller] workers``): probes in flight at once to any one origin."""
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
