"""One check probed over the lean client and its answer judged: status code, JSON health
body, latency, TLS expiry.

Status is the worst of: the HTTP code, the body's top-level JSON status, each
dependency in the body's services map, the latency and, for https, the days left
on the server certificate. Slow answers are DEGRADED, never DOWN: a slow service
is still serving, and paging it as down would hide the ones that are not.
Certificates past ``cert_critical_days`` (or expired) are DOWN, since clients are
about to start failing; under ``cert_warning_days`` they are DEGRADED.

The console's backend (``health.py``) and the probe worker (``worker.py``) both run
this code, so it imports neither httpx nor pydantic: the worker process stays small
(a test checks what it imports). A check's parameters arrive as the validated
``HttpCheckParams`` in the console and as :class:`ProbeParams` (the same fields, plain
data) in the worker.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from oncall_console.backends.http.probe import ProbeClient, ProbeError, ProbeResponse
from oncall_console.errors import describe
from oncall_console.model import CheckResult, CheckSpec, Status, SubStatus
from oncall_console.model.health import redacted
from oncall_console.text import clean

if TYPE_CHECKING:
    from typing import TypeAlias

    from oncall_console.backends.http.options import HttpCheckParams


class SetupError(Exception):
    """The client cannot be built (a bad ca_file): every probe says so."""


@dataclass(frozen=True, slots=True)
class ProbeParams:
    """A check's validated ``HttpCheckParams`` as plain data, for the probe worker (the
    same fields, tuples for lists; tests/test_probe_worker.py compares the two)."""

    url: str
    ready_url: str | None
    method: str
    expect_status: tuple[int, ...]
    degraded_status: tuple[int, ...]
    warning_ms: float
    critical_ms: float
    json_status_key: str
    json_services_key: str
    cert_warning_days: int
    cert_critical_days: int

    @classmethod
    def of(cls, params: Any) -> ProbeParams:
        """From the validated model (read by attribute: this module knows no pydantic)."""
        values = {f.name: getattr(params, f.name) for f in fields(cls)}
        values["expect_status"] = tuple(values["expect_status"])
        values["degraded_status"] = tuple(values["degraded_status"])
        return cls(**values)


if TYPE_CHECKING:
    Params: TypeAlias = "HttpCheckParams | ProbeParams"

_OK_WORDS = frozenset({"healthy", "ok", "up", "pass", "passed", "green", "true"})
_WARN_WORDS = frozenset({"degraded", "warn", "warning", "yellow"})
_MAX_SUBSTATUSES = 100  # a body listing thousands of "services" is not a health page


def _word_status(value: object) -> Status:
    word = str(value).strip().lower()
    if word in _OK_WORDS:
        return Status.OK
    return Status.DEGRADED if word in _WARN_WORDS else Status.DOWN


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


class CheckProbe:
    """Probes one check's URL (and its readiness URL), judging what comes back.

    A mixin: the class using it says where the client, the token, the clock and the body
    cap come from (the hooks below)."""

    _TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError,)
    """What a timed-out exchange raises (the console adds httpx's, for proxied probes)."""
    _FAILURES: tuple[type[BaseException], ...] = (OSError, ssl.SSLError, ProbeError)
    """What a failed exchange raises, described in one line."""
    _token: str | None = None

    if TYPE_CHECKING:  # a hook that the console's HttpConnections, after this in the MRO, has

        def _probe_client(self) -> ProbeClient: ...

    def _now(self) -> float:
        """The clock results are stamped with."""
        raise NotImplementedError

    def _body_cap(self) -> int:
        raise NotImplementedError

    async def _exchange(
        self, url: str, p: Params, headers: dict[str, str] | None, timeout: float
    ) -> ProbeResponse:
        """One request; the console sends a proxied URL through httpx instead."""
        return await self._probe_client().request(p.method, url, headers)

    async def probe_with(self, check: CheckSpec, params: Params) -> CheckResult:
        """``check`` probed with ``params`` (validated); never raises: everything is a
        result."""
        try:
            self._probe_client()
            if params.ready_url is None:
                return self._result(check, await self._fetch(params.url, params, check))
            live, ready = await asyncio.gather(
                self._fetch(params.url, params, check),
                self._fetch(params.ready_url, params, check),
            )
            return self._result(check, _merge(live, ready))
        except SetupError as exc:
            return self._result(check, _Fetch(error=str(exc)))
        except Exception as exc:
            return self._result(check, _Fetch(error=f"unexpected error: {describe(exc)}"))

    def _result(self, check: CheckSpec, f: _Fetch) -> CheckResult:
        if f.error is not None:
            summary = f"{f.code} · {f.error}" if f.code else f.error
            status, error = Status.DOWN, f.error
        else:
            summary = " · ".join([f.code, *f.notes])
            status, error = f.status, None
        details = dict(f.details)
        if f.tls_days is not None:
            details["tls_expires_in"] = f"{f.tls_days:.1f} days"
        # Redacted here, where the result is built, for every path that shows it (the
        # poller's record, a verification's before/after): every line, the dependency
        # lines too, where a health endpoint may echo the request's token back.
        return redacted(
            CheckResult(
                check=check.name,
                status=status,
                summary=summary,
                latency_ms=f.latency_ms,
                at=self._now(),
                details=details,
                substatuses=tuple(f.subs),
                error=error,
            ),
            self.secrets(),
        )

    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    async def _fetch(self, url: str, p: Params, check: CheckSpec) -> _Fetch:
        f = _Fetch(details={"url": url})
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        started = time.perf_counter()
        try:
            # One deadline for the whole exchange, which a server dripping one byte at a
            # time would otherwise stretch.
            async with asyncio.timeout(check.timeout):
                resp = await self._exchange(url, p, headers, check.timeout)
        except self._TIMEOUTS:
            f.error = f"timed out after {check.timeout:.1f} s"
        except self._FAILURES as exc:
            f.error = describe(exc)
        else:
            f.latency_ms = (resp.head_at - started) * 1000
            self._judge_head(f, resp, p, f.latency_ms)
            if p.method == "GET":
                self._judge_body(f, resp, p)
        f.status = Status.worst([f.status, *(s.status for s in f.subs)])
        return f

    def _judge_head(self, f: _Fetch, resp: ProbeResponse, p: Params, latency_ms: float) -> None:
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
            f.status = Status.worst([f.status, Status.CRITICAL])
            f.notes.append(f"critical latency {latency_ms:.0f} ms (> {p.critical_ms:g} ms)")
        elif latency_ms > p.warning_ms:
            f.status = Status.worst([f.status, Status.DEGRADED])
            f.notes.append(f"slow {latency_ms:.0f} ms (> {p.warning_ms:g} ms)")
        self._judge_tls(f, resp, p)

    def _judge_tls(self, f: _Fetch, resp: ProbeResponse, p: Params) -> None:
        not_after = _cert_not_after(resp.ssl_object)
        if not_after is None:
            return
        f.tls_days = days = (not_after - self._now()) / 86400
        if days < 0:
            f.status, note = Status.DOWN, "TLS certificate expired"
        elif days < p.cert_critical_days:
            f.status = Status.worst([f.status, Status.CRITICAL])
            note = f"TLS certificate expires in {days:.1f} days"
        elif days < p.cert_warning_days:
            f.status = Status.worst([f.status, Status.DEGRADED])
            note = f"TLS certificate expires in {days:.0f} days"
        else:
            return
        f.notes.append(note)

    def _judge_body(self, f: _Fetch, resp: ProbeResponse, p: Params) -> None:
        body = resp.body
        f.details["body_bytes"] = str(len(body))
        if resp.truncated:
            f.notes.append(f"body truncated at {self._body_cap()} bytes")
            return  # half a JSON document says nothing
        read = _read_small_body if len(body) <= _CACHED_BODY_BYTES else _read_body
        details, status, notes, subs = read(
            body, resp.encoding, p.json_status_key, p.json_services_key
        )
        f.details.update(details)
        if status is not None:
            f.status = Status.worst([f.status, status])
        f.notes += notes
        f.subs = list(subs)


def _read_body(
    body: bytes, encoding: str, status_key: str, services_key: str
) -> tuple[tuple[tuple[str, str], ...], Status | None, tuple[str, ...], tuple[SubStatus, ...]]:
    """What a whole body says: detail lines, its status (None: no say), notes and
    dependencies; a pure function of its arguments, made of immutable parts."""
    text = body.decode(encoding, errors="replace")
    try:
        doc = json.loads(text) if text.strip()[:1] in ("{", "[") else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return ((("body", clean(text, limit=300)),) if text.strip() else ()), None, (), ()
    details: list[tuple[str, str]] = []
    notes: list[str] = []
    status: Status | None = None
    if (top := doc.get(status_key)) is not None and not isinstance(top, dict | list):
        word = clean(top, limit=80)
        details.append(("json_status", word))
        status = _word_status(top)
        if status is not Status.OK:
            notes.append(f"status {word}")
    subs = _substatuses(doc.get(services_key), status_key)
    bad = [f"{s.name} {s.detail}" for s in subs if s.status is not Status.OK]
    if bad:
        notes.append(", ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""))
    return tuple(details), status, tuple(notes), tuple(subs)


_CACHED_BODY_BYTES = 4096
_read_small_body = lru_cache(maxsize=1024)(_read_body)
"""Small bodies' readings, cached (at most ~4 MB): a fleet's health bodies are mostly
the same few bytes (``{"status": "ok"}``), read once rather than once a probe."""


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
