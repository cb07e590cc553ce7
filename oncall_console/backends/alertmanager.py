"""The ``alertmanager`` backend: alerts, silences and silence actions over the v2 API.

One pooled httpx client per backend. Every label, annotation, comment and author
is remote text: cleaned (keys and values, bounded) before it leaves this module.

Choices worth knowing:

- **Alerts.** ``GET /api/v2/alerts``; silenced alerts come back as ``suppressed``
  and inhibited ones as ``inhibited`` (or not at all with ``include_silenced =
  false``). Severity comes from one label through ``severity_map``; a value that
  is itself a severity (``SEV2``, ``P1``) is taken as it is; anything else is
  ``default_severity``. More than ``max_alerts`` alerts are cut, and one extra
  synthetic alert (``AlertFeedTruncated``) says how many were left out. The answer
  is read one alert at a time in the thread pool, and an alert whose JSON did not
  change since the last poll keeps its ``Alert`` (json_array.ArrayMemo).
- **Silences.** Only silences still in force (``active``) or about to be
  (``pending``) are listed: expired ones are history that Alertmanager keeps for
  days, and the console's question is "what is muted now, and until when".
- **Actions.** ``silence`` takes matchers in Alertmanager's own syntax
  (``alertname="HighErrorRate",service=~"api|web"``), parsed strictly here. The
  preview shows the JSON body that will be POSTed and the alerts it matches now,
  matched locally with Alertmanager's semantics (regexes fully anchored).
  ``expire-silence`` takes a silence id (a UUID). A request that cannot go ahead
  raises ``ActionInvalid`` from the preview (the runner refuses it before any
  confirmation) and its ``run`` refuses with the same words.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from oncall_console import __version__
from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.backends.json_array import ArrayMemo, Malformed, NotAnArray
from oncall_console.durations import parse_duration
from oncall_console.errors import describe
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    Alert,
    AlertState,
    CheckResult,
    CheckSpec,
    Confirm,
    Outcome,
    ParamSpec,
    Severity,
    Silence,
    Status,
)
from oncall_console.secrets import SecretMissing, one_source_each, redact, resolve
from oncall_console.text import clean

Seconds = Annotated[float, BeforeValidator(parse_duration)]
Answer = tuple[bytes | bytearray, str | None]
"""An answer not yet decoded: its body and content type."""

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""A larger answer is refused rather than parsed (10,000 alerts are a few MB)."""
MAX_LABELS = 100
"""Labels (and annotations) kept per alert."""
KEY_LIMIT = 100
VALUE_LIMIT = 1000
PREVIEW_ALERTS = 20
"""Matching alerts listed by a silence preview; the rest are counted."""
MIN_SILENCE = 60.0

DEFAULT_SEVERITY_MAP = {
    "page": "SEV1",
    "critical": "SEV2",
    "error": "SEV2",
    "warning": "SEV3",
    "info": "SEV4",
    "none": "SEV4",
}


class AlertmanagerError(Exception):
    """A request failed; the message is one clean line naming what was asked."""


class AlertmanagerOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str
    """Base URL of Alertmanager, e.g. http://alertmanager:9093 (a path prefix is kept)."""
    token_env: str | None = None
    """Environment variable holding a bearer token (the token never goes in config)."""
    token_file: str | None = None
    """File holding a bearer token."""
    verify_tls: bool = True
    """Verify the server certificate; off only for endpoints you trust another way."""
    timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds one request may take, from connect to the last byte."""
    group_by: list[str] = Field(default_factory=lambda: ["alertname"])
    """Labels whose values form an alert's group, e.g. "alertname=HighErrorRate · service=api"."""
    severity_label: str = "severity"
    """The label that carries an alert's severity."""
    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    """Severity label value -> SEV1-SEV4 (or P1-P4); matched case-insensitively."""
    default_severity: str = "SEV3"
    """Severity of an alert whose label is missing or not in severity_map."""
    include_silenced: bool = True
    """Show silenced and inhibited alerts too (as suppressed / inhibited)."""
    silence_max_duration: Seconds = 86400.0
    """The longest silence the console will create, e.g. "24h"."""
    receiver_filter: str | None = None
    """Only alerts routed to receivers matching this regex (Alertmanager's receiver filter)."""
    max_alerts: int = Field(default=10_000, ge=1, le=1_000_000)
    """Alerts kept from one answer; more are cut, and a synthetic alert says so."""

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        try:
            parsed = httpx.URL(url)
        except Exception as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return url.rstrip("/")

    @field_validator("severity_map")
    @classmethod
    def _severity_map(cls, mapping: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, value in mapping.items():
            out[key.strip().lower()] = Severity.parse(value).label  # ValueError names the value
        return out

    @field_validator("default_severity")
    @classmethod
    def _default_severity(cls, value: str) -> str:
        return Severity.parse(value).label

    @field_validator("silence_max_duration")
    @classmethod
    def _max_duration(cls, value: float) -> float:
        if value < MIN_SILENCE:
            raise ValueError("must be at least 1m")
        return value

    @field_validator("receiver_filter")
    @classmethod
    def _receiver_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    _one_source = model_validator(mode="after")(one_source_each)


class AlertmanagerCheckParams(Strict):
    """``[checks.NAME]`` keys for an Alertmanager health check: none is required."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    warning_ms: float = Field(default=1000.0, gt=0)
    """Slower than this is DEGRADED."""


# --- matchers ------------------------------------------------------------------------------

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")  # longest first
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}
# Perl syntax that Python accepts but Alertmanager's RE2 refuses.
_NOT_RE2 = re.compile(r"\(\?(?:=|!|<=|<!|P=|\(|>)|\\[1-9]|(?<!\\)[*+?}]\+")


class MatcherError(ValueError):
    """The matcher text is not in Alertmanager's syntax; the message says where."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    value: str
    regex: bool
    equal: bool

    def render(self) -> str:
        op = {(False, True): "=", (True, True): "=~", (False, False): "!=", (True, False): "!~"}
        return f"{self.name}{op[self.regex, self.equal]}{quote(self.value)}"

    def matches_value(self, value: str) -> bool:
        # Anchored at both ends like Alertmanager's "^(?:re)$"; "." skips newlines, as in RE2.
        hit = re.fullmatch(self.value, value) is not None if self.regex else value == self.value
        return hit if self.equal else not hit

    def matches(self, labels: dict[str, str]) -> bool:
        # A missing label is the empty string, as in Alertmanager.
        return self.matches_value(labels.get(self.name, ""))

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.regex,
            "isEqual": self.equal,
        }


def quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def parse_matchers(text: str) -> list[Matcher]:
    """``name="v"``, ``name=~"re"``, ``name!="v"``, ``name!~"re"``, comma-separated.

    Values are double-quoted, with ``\\"``, ``\\\\`` and ``\\n`` as the only escapes.
    Raises MatcherError naming the position and what was expected.
    """
    matchers: list[Matcher] = []
    i, n = 0, len(text)

    def skip_space() -> None:
        nonlocal i
        while i < n and text[i] in " \t":
            i += 1

    def where() -> str:
        rest = text[i : i + 20]
        return f"at position {i + 1} ({clean(rest, limit=20)!r})" if rest else "at the end"

    skip_space()
    if i == n:
        raise MatcherError('no matchers given (write e.g. alertname="HighErrorRate")')
    while True:
        skip_space()
        m = _LABEL_NAME.match(text, i)
        if not m:
            raise MatcherError(f"expected a label name {where()}")
        name = m.group(0)
        i = m.end()
        skip_space()
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is None:
            raise MatcherError(f"expected =, !=, =~ or !~ after {name} {where()}")
        i += len(op)
        skip_space()
        if i >= n or text[i] != '"':
            raise MatcherError(f"the value of {name} must be in double quotes {where()}")
        i += 1
        chars: list[str] = []
        while True:
            if i >= n:
                raise MatcherError(f"the value of {name} has no closing quote")
            c = text[i]
            if c == '"':
                i += 1
                break
            if c == "\\":
                nxt = text[i + 1] if i + 1 < n else ""
                if nxt not in _ESCAPES:
                    raise MatcherError(
                        f"unknown escape \\{clean(nxt, limit=1)} in the value of {name}"
                        ' (only \\" \\\\ \\n)'
                    )
                chars.append(_ESCAPES[nxt])
                i += 2
                continue
            chars.append(c)
            i += 1
        value = "".join(chars)
        regex, equal = op in ("=~", "!~"), op in ("=", "=~")
        if regex:
            if _NOT_RE2.search(value):
                raise MatcherError(
                    f"the regex of {name} uses syntax Alertmanager does not support"
                    " (lookaround, backreferences, possessive or atomic groups)"
                )
            try:
                re.compile(value)
            except re.error as exc:
                raise MatcherError(f"the regex of {name} is invalid: {exc}") from None
        matchers.append(Matcher(name, value, regex, equal))
        skip_space()
        if i == n:
            break
        if text[i] != ",":
            raise MatcherError(f"expected a comma between matchers {where()}")
        i += 1
        skip_space()
        if i == n:
            raise MatcherError("a comma must be followed by another matcher")
    if all(m.matches_value("") for m in matchers):
        raise MatcherError(
            "at least one matcher must not match the empty string"
            " (otherwise the silence would mute every alert)"
        )
    return matchers


def _matcher_from_api(raw: object) -> str:
    if not isinstance(raw, dict):
        return "?"
    name = clean(raw.get("name", "?"), limit=KEY_LIMIT)
    value = clean(raw.get("value", ""), limit=VALUE_LIMIT)
    equal = raw.get("isEqual", True) is not False
    return Matcher(name, value, bool(raw.get("isRegex")), equal).render()


# --- time -----------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value: object) -> float:
    """Epoch seconds from RFC 3339 (nanoseconds, Z or an offset); 0.0 when unknown."""
    if not isinstance(value, str):
        return 0.0
    m = _RFC3339.match(value.strip())
    if not m:
        return 0.0
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    frac = float(f"0.{m.group(7)}") if m.group(7) else 0.0
    zone = m.group(8) or "Z"
    offset = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    if year <= 1:  # Go's zero time: "never set"
        return 0.0
    try:
        t = datetime(year, month, day, hour, minute, min(sec, 59), tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
    return t + frac - offset


def format_time(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def human_duration(seconds: float) -> str:
    s = round(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or "0s"


# --- actions --------------------------------------------------------------------------------

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        id="silence",
        title="Silence alerts matching label matchers",
        params=(
            ParamSpec(
                "matchers",
                "str",
                help='Comma-separated, e.g. alertname="HighErrorRate",service=~"api|web"',
            ),
            ParamSpec(
                "duration", "str", help="How long, e.g. 30m, 2h", required=False, default="1h"
            ),
            ParamSpec("comment", "str", help="Why (shown to everyone who sees the silence)"),
        ),
        target_param="matchers",
        confirm=Confirm.YES_NO,
    ),
    ActionSpec(
        id="expire-silence",
        title="Expire a silence now",
        params=(ParamSpec("silence_id", "str", help="The silence's id (a UUID)"),),
        target_param="silence_id",
        confirm=Confirm.YES_NO,
    ),
)


class Refusal(ActionInvalid):
    """The request cannot go ahead: the runner refuses it at preview; ``run`` refuses too."""


@dataclass(frozen=True)
class _SilencePlan:
    matchers: list[Matcher]
    duration: float
    comment: str
    author: str

    def body(self, now: float) -> dict[str, Any]:
        return {
            "matchers": [m.body() for m in self.matchers],
            "startsAt": format_time(now),
            "endsAt": format_time(now + self.duration),
            "createdBy": self.author,
            "comment": self.comment,
        }


# --- the backend ----------------------------------------------------------------------------


class AlertmanagerBackend(Backend):
    """Alerts and silences from Prometheus Alertmanager (API v2); creates and expires silences."""

    TYPE = "alertmanager"
    DESCRIPTION = "Prometheus Alertmanager: alerts, silences, silence and expire actions"
    CAPABILITIES = frozenset(
        {Capability.ALERTS, Capability.SILENCES, Capability.ACTIONS, Capability.HEALTH}
    )
    Options = AlertmanagerOptions
    CheckParams = AlertmanagerCheckParams

    options: AlertmanagerOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None
        # The last answer's alerts, by the text of each: most of a poll's answer is unchanged.
        self._feed = ArrayMemo(self._alert, _fingerprint, self.options.max_alerts)
        self._feed_alerts: tuple[list[Alert | None], int, list[Alert]] = ([], 0, [])

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._ensure_client()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _ensure_client(self) -> httpx.AsyncClient:
        if self._client is None:
            opts = self.options
            try:
                self._token = resolve("token", opts.token_env, opts.token_file)
            except SecretMissing as exc:
                raise AlertmanagerError(str(exc)) from None
            headers = {"User-Agent": f"oncall-console/{__version__}"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            self._client = httpx.AsyncClient(
                base_url=opts.url,
                verify=opts.verify_tls,
                headers=headers,
                timeout=httpx.Timeout(opts.timeout),
                limits=httpx.Limits(max_connections=10, max_keepalive_connections=4),
                follow_redirects=False,
            )
        return self._client

    # --- HTTP -----------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
        ok: tuple[int, ...] = (200,),
        expect_json: bool = True,
        decode: bool = True,
    ) -> tuple[int, Any]:
        """Status and decoded JSON (None for an empty body; the body and its content type
        when not ``decode``, for the caller to decode off the event loop). Raises one
        clean line."""
        client = self._ensure_client()
        what = f"{method} {self.options.url}{path}"
        try:
            async with asyncio.timeout(self.options.timeout):
                req = client.build_request(method, path, params=params, json=body)
                resp = await client.send(req, stream=True)
                try:
                    raw = bytearray()
                    async for chunk in resp.aiter_bytes():
                        raw += chunk
                        if len(raw) > MAX_RESPONSE_BYTES:
                            raise AlertmanagerError(
                                f"{what}: answer larger than "
                                f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MB, not read"
                            )
                finally:
                    await resp.aclose()
        except TimeoutError:
            raise AlertmanagerError(f"{what}: no answer after {self.options.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise AlertmanagerError(self._redact(f"{what}: {describe(exc)}")) from None
        if resp.status_code not in ok:
            detail = _error_text(raw.decode("utf-8", errors="replace"))
            reason = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
            raise AlertmanagerError(self._redact(clean(f"{what}: {reason}", limit=400)))
        if not decode:
            return resp.status_code, (raw, resp.headers.get("content-type"))
        text = raw.decode("utf-8", errors="replace")
        if not text.strip() or not expect_json:
            return resp.status_code, None
        return resp.status_code, _decode(what, text, resp.headers.get("content-type"))

    def _redact(self, text: str) -> str:
        return redact(text, self._token)

    # --- health ---------------------------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        params = check.params
        if not isinstance(params, AlertmanagerCheckParams):
            params = AlertmanagerCheckParams.model_validate(params or {})
        started = time.perf_counter()
        details: dict[str, str] = {"url": self.options.url}
        try:
            async with asyncio.timeout(max(check.timeout, 0.1)):
                await self._request("GET", "/-/ready", expect_json=False)
                _, status = await self._request("GET", "/api/v2/status")
        except (AlertmanagerError, TimeoutError) as exc:
            message = str(exc) or f"timed out after {check.timeout:g} s"
            return CheckResult(
                check=check.name,
                status=Status.DOWN,
                summary=message,
                latency_ms=None,
                at=self.context.clock(),
                details=details,
                error=message,
            )
        latency = (time.perf_counter() - started) * 1000
        status = _dict(status)
        cluster = _dict(status.get("cluster"))
        version = clean(_dict(status.get("versionInfo")).get("version", ""), limit=40)
        cluster_state = clean(cluster.get("status", "unknown"), limit=40)
        peers = cluster.get("peers")
        details.update(
            {
                "version": version or "unknown",
                "cluster": cluster_state,
                "peers": str(len(peers)) if isinstance(peers, list) else "0",
            }
        )
        if isinstance(status.get("uptime"), str):
            details["up_since"] = clean(status["uptime"], limit=60)
        result = Status.OK
        notes = ["ready"]
        if version:
            notes.append(f"v{version}")
        notes.append(f"cluster {cluster_state}")
        if cluster_state == "settling":
            result = Status.DEGRADED
        elif cluster_state not in ("ready", "disabled"):
            result = Status.DOWN
        if latency > params.warning_ms:
            result = Status.worst([result, Status.DEGRADED])
            notes.append(f"slow {latency:.0f} ms (> {params.warning_ms:g} ms)")
        return CheckResult(
            check=check.name,
            status=result,
            summary=" · ".join(notes),
            latency_ms=latency,
            at=self.context.clock(),
            details=details,
        )

    # --- alerts ---------------------------------------------------------------------------

    def _alert_params(self) -> dict[str, str]:
        opts = self.options
        flag = "true" if opts.include_silenced else "false"
        params = {"active": "true", "unprocessed": "true", "silenced": flag, "inhibited": flag}
        if opts.receiver_filter:
            params["receiver"] = opts.receiver_filter
        return params

    async def alerts(self) -> list[Alert]:
        _, answer = await self._request(
            "GET", "/api/v2/alerts", params=self._alert_params(), decode=False
        )
        # Decoding and cleaning 10,000 alerts is CPU-bound: off the event loop, one alert
        # at a time, so keys and frames keep flowing (the GIL is handed back between them).
        return await self.context.run_sync(self._parse_alerts, answer, timeout=self.options.timeout)

    def _parse_alerts(self, answer: Answer) -> list[Alert]:
        """The answer's alerts; the very same list as last time when no alert changed."""
        body, content_type = answer
        # One C call, but short: 4 MB of ASCII in ~0.2 ms (~1 ms a MB when not ASCII).
        text = body.decode("utf-8", errors="replace")
        if not text.strip():
            return []
        what = f"GET {self.options.url}/api/v2/alerts"
        try:
            alerts, total = self._feed.update(text)
        except NotAnArray:
            doc = _decode(what, text, content_type)
            if doc is None:
                return []
            raise AlertmanagerError(
                f"{what}: expected a list of alerts, got a JSON {type(doc).__name__}"
            ) from None
        except Malformed:
            raise _not_json(what, text, content_type) from None
        last, last_total, out = self._feed_alerts
        if alerts is last and total == last_total:
            return out
        out = [a for a in alerts if a is not None]
        if total > len(alerts):
            out.append(self._truncation_alert(total, len(alerts)))
        self._feed_alerts = (alerts, total, out)
        return out

    def _truncation_alert(self, total: int, cap: int) -> Alert:
        return Alert(
            fingerprint=f"{self.name}:truncated",
            name="AlertFeedTruncated",
            severity=Severity.SEV3,
            summary=(
                f"Alertmanager {self.name} returned {total:,} alerts; only the first"
                f" {cap:,} are shown (max_alerts)"
            ),
            starts_at=self.context.clock(),
            source=self.name,
            group="alertname=AlertFeedTruncated",
        )

    def _alert(self, item: object) -> Alert | None:
        if not isinstance(item, dict):
            return None
        labels = _clean_map(item.get("labels"))
        annotations = _clean_map(item.get("annotations"))
        fingerprint = _clean(item.get("fingerprint") or "", 64)
        if not fingerprint:
            # Alertmanager always sends one; without it, identity is the sorted label set.
            fingerprint = "labels:" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        status = _dict(item.get("status"))
        state = AlertState.ACTIVE
        if status.get("silencedBy") or status.get("state") == "suppressed":
            state = AlertState.SUPPRESSED
        if status.get("inhibitedBy"):
            state = AlertState.INHIBITED if not status.get("silencedBy") else AlertState.SUPPRESSED
        summary = annotations.get("summary") or annotations.get("description") or ""
        return Alert(
            fingerprint=fingerprint,
            name=labels.get("alertname", "") or "(no alertname)",
            severity=self._severity(labels.get(self.options.severity_label)),
            summary=_clean(summary, 500),
            state=state,
            starts_at=parse_time(item.get("startsAt")),
            labels=labels,
            annotations=annotations,
            source=self.name,
            runbook_url=_clean(annotations.get("runbook_url", ""), 500),
            group=" · ".join(
                f"{key}={labels[key]}" for key in self.options.group_by if key in labels
            ),
        )

    def _severity(self, value: str | None) -> Severity:
        opts = self.options
        if value:
            mapped = opts.severity_map.get(value.strip().lower())
            if mapped:
                return Severity.parse(mapped)
            try:
                return Severity.parse(value)
            except ValueError:
                pass
        return Severity.parse(opts.default_severity)

    # --- silences -------------------------------------------------------------------------

    async def silences(self) -> list[Silence]:
        """Silences in force (active) or about to be (pending); expired ones are history."""
        _, doc = await self._request("GET", "/api/v2/silences")
        if doc is None:
            return []
        if not isinstance(doc, list):
            raise AlertmanagerError(
                f"GET {self.options.url}/api/v2/silences: expected a list of silences,"
                f" got a JSON {type(doc).__name__}"
            )
        out = []
        for item in doc:
            s = self._silence(item)
            if s is not None and s.state in ("active", "pending"):
                out.append(s)
                if len(out) >= self.options.max_alerts:
                    break
        return sorted(out, key=lambda s: s.ends_at)

    def _silence(self, item: object) -> Silence | None:
        if not isinstance(item, dict) or not item.get("id"):
            return None
        status = _dict(item.get("status"))
        matchers = item.get("matchers")
        matchers = matchers if isinstance(matchers, list) else []
        return Silence(
            id=clean(item["id"], limit=64),
            matchers=tuple(_matcher_from_api(m) for m in matchers[:MAX_LABELS]),
            starts_at=parse_time(item.get("startsAt")),
            ends_at=parse_time(item.get("endsAt")),
            created_by=clean(item.get("createdBy", ""), limit=200),
            comment=clean(item.get("comment", ""), limit=VALUE_LIMIT),
            state=clean(status.get("state", "unknown"), limit=20),
            source=self.name,
        )

    # --- actions --------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        return list(ACTIONS)

    def _plan_silence(self, request: ActionRequest) -> _SilencePlan:
        p = request.params
        try:
            matchers = parse_matchers(str(p.get("matchers") or ""))
        except MatcherError as exc:
            raise Refusal(f"matchers: {exc}") from None
        raw_duration = p.get("duration") or "1h"
        try:
            duration = parse_duration(raw_duration)
        except ValueError as exc:
            raise Refusal(f"duration: {exc}") from None
        longest = self.options.silence_max_duration
        if duration < MIN_SILENCE:
            raise Refusal("duration: a silence lasts at least 1m")
        if duration > longest:
            raise Refusal(
                f"duration: {human_duration(duration)} is longer than the maximum"
                f" {human_duration(longest)} (silence_max_duration)"
            )
        comment = str(p.get("comment") or "").strip()
        if not comment:
            raise Refusal("comment: required (say why the alerts are silenced)")
        author = (request.operator or "").strip()
        if not author:
            raise Refusal("operator: unknown; a silence needs an author")
        return _SilencePlan(matchers, duration, comment, author)

    def _silence_id(self, request: ActionRequest) -> str:
        raw = str(request.params.get("silence_id") or "").strip()
        try:
            parsed = uuid.UUID(raw)
        except ValueError:
            raise Refusal(
                f"silence_id: {clean(raw, limit=60)!r} is not a silence id"
                " (a UUID like 0b6e0f0e-3c5c-4c1a-9a39-8f8a5c1b2d3e)"
            ) from None
        if str(parsed) != raw.lower():
            raise Refusal(f"silence_id: write the UUID in its usual form, e.g. {parsed}")
        return str(parsed)

    async def preview(self, request: ActionRequest) -> str:
        if request.action == "silence":
            return await self._preview_silence(request)
        if request.action == "expire-silence":
            return await self._preview_expire(request)
        raise Refusal(f"unknown action {clean(request.action, limit=40)!r}")

    async def _preview_silence(self, request: ActionRequest) -> str:
        plan = self._plan_silence(request)
        now = self.context.clock()
        body = json.dumps(plan.body(now), indent=2, ensure_ascii=False)
        lines = [
            f"POST {self.options.url}/api/v2/silences",
            body,
            f"(startsAt and endsAt are set again when it runs: now, and now + "
            f"{human_duration(plan.duration)}.)",
            "",
        ]
        try:
            alerts = await self.alerts()
        except AlertmanagerError as exc:
            lines.append(f"Cannot list the alerts it would match now: {exc}")
            return "\n".join(lines)
        # AlertFeedTruncated has no labels: parse_matchers makes sure it cannot match.
        hits = [a for a in alerts if all(m.matches(a.labels) for m in plan.matchers)]
        if not hits:
            lines.append("Matches no alert firing now (it will mute matching alerts that fire).")
            return "\n".join(lines)
        lines.append(f"Matches {len(hits)} alert{'s' if len(hits) != 1 else ''} firing now:")
        for a in hits[:PREVIEW_ALERTS]:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname")
            lines.append(
                f"  {a.severity.label} {a.state.value:<10} {a.name}  {clean(shown, limit=160)}"
            )
        if len(hits) > PREVIEW_ALERTS:
            lines.append(f"  … and {len(hits) - PREVIEW_ALERTS} more")
        return "\n".join(lines)

    async def _fetch_silence(self, silence_id: str) -> dict[str, Any] | None:
        code, doc = await self._request("GET", f"/api/v2/silence/{silence_id}", ok=(200, 404))
        if code == 404:
            return None
        if not isinstance(doc, dict):
            raise AlertmanagerError(f"GET /api/v2/silence/{silence_id}: not a silence")
        return doc

    async def _preview_expire(self, request: ActionRequest) -> str:
        silence_id = self._silence_id(request)
        try:
            doc = await self._fetch_silence(silence_id)
        except AlertmanagerError as exc:
            return (
                f"DELETE {self.options.url}/api/v2/silence/{silence_id}\n"
                f"Cannot read the silence first: {exc}"
            )
        if doc is None:
            raise Refusal(f"no silence with id {silence_id} in Alertmanager {self.name}")
        s = self._silence(doc)
        if s is None:
            raise Refusal(f"silence {silence_id}: Alertmanager's answer is not a silence")
        if s.state == "expired":
            raise Refusal(f"silence {silence_id} has already expired")
        ends = format_time(s.ends_at) if s.ends_at else "unknown"
        return "\n".join(
            [
                f"DELETE {self.options.url}/api/v2/silence/{silence_id}",
                f"Expires silence {s.id} ({s.state}, by {s.created_by or 'unknown'},"
                f" until {ends}):",
                f"  matchers: {', '.join(s.matchers) or '(none)'}",
                f"  comment:  {s.comment or '(none)'}",
                "The alerts it mutes will notify again.",
            ]
        )

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock()
        try:
            if request.action == "silence":
                plan = self._plan_silence(request)
                if request.dry_run:
                    return ActionResult(
                        request, Outcome.DRY_RUN, "dry run: nothing was done", at=now
                    )
                return await self._create_silence(request, plan)
            if request.action == "expire-silence":
                silence_id = self._silence_id(request)
                if request.dry_run:
                    return ActionResult(
                        request, Outcome.DRY_RUN, "dry run: nothing was done", at=now
                    )
                return await self._expire_silence(request, silence_id)
            raise Refusal(f"unknown action {clean(request.action, limit=40)!r}")
        except Refusal as exc:
            return ActionResult(request, Outcome.REFUSED, str(exc), at=now)
        except AlertmanagerError as exc:
            return ActionResult(request, Outcome.FAILED, str(exc), at=self.context.clock())

    async def _create_silence(self, request: ActionRequest, plan: _SilencePlan) -> ActionResult:
        body = plan.body(self.context.clock())
        _, doc = await self._request("POST", "/api/v2/silences", body=body)
        silence_id = doc.get("silenceID") if isinstance(doc, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise AlertmanagerError("POST /api/v2/silences: the answer carries no silenceID")
        silence_id = clean(silence_id, limit=64)
        matchers = ",".join(m.render() for m in plan.matchers)
        return ActionResult(
            request,
            Outcome.SUCCEEDED,
            f"silence {silence_id} created until {body['endsAt']} for {matchers}",
            output=silence_id,
            at=self.context.clock(),
        )

    async def _expire_silence(self, request: ActionRequest, silence_id: str) -> ActionResult:
        doc = await self._fetch_silence(silence_id)
        if doc is None:
            raise Refusal(f"no silence with id {silence_id} in Alertmanager {self.name}")
        state = _dict(doc.get("status")).get("state")
        if state == "expired":
            raise Refusal(f"silence {silence_id} has already expired")
        await self._request("DELETE", f"/api/v2/silence/{silence_id}")
        return ActionResult(
            request,
            Outcome.SUCCEEDED,
            f"silence {silence_id} expired",
            output=silence_id,
            at=self.context.clock(),
        )


def _dict(raw: object) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _clean(value: object, limit: int) -> str:
    """``clean()``, skipped when there is nothing to strip: a printable str (no controls, no
    escapes, no format characters) within ``limit``. 13 cleans per alert were 60 % of a parse."""
    if isinstance(value, str) and len(value) <= limit and value.isprintable():
        return value
    return clean(value, limit=limit)


def _clean_map(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in list(raw.items())[:MAX_LABELS]:
        k = _clean(key, KEY_LIMIT)
        if k:
            out[k] = _clean(value if isinstance(value, str) else json.dumps(value), VALUE_LIMIT)
    return out


def _fingerprint(item: object) -> str | None:
    fingerprint = item.get("fingerprint") if isinstance(item, dict) else None
    return fingerprint if isinstance(fingerprint, str) and fingerprint else None


def _decode(what: str, text: str, content_type: str | None) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise _not_json(what, text, content_type) from None


def _not_json(what: str, text: str, content_type: str | None) -> AlertmanagerError:
    ctype = clean(content_type or "no content type", limit=60)
    return AlertmanagerError(
        clean(f"{what}: answer is not JSON ({ctype}): {text.strip()[:80]}", limit=300)
    )


def _error_text(text: str) -> str:
    """Alertmanager's error body: a JSON string, a {"message": ...} object, or text."""
    stripped = text.strip()
    if not stripped:
        return ""
    try:
        doc = json.loads(stripped)
    except ValueError:
        return clean(stripped, limit=200)
    if isinstance(doc, str):
        return clean(doc.strip(), limit=200)
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return clean(doc["message"], limit=200)
    return clean(stripped, limit=200)
