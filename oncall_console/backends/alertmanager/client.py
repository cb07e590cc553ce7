"""The ``alertmanager`` backend's connection: one pooled httpx client, the v2 API's
requests and answers (bounded, decoded, errors in one line), and the server's health.

Every label, annotation, comment and author is remote text: cleaned (keys and
values, bounded) before it leaves the package.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel

from oncall_console import __version__
from oncall_console.backends.alertmanager.options import (
    AlertmanagerCheckParams,
    AlertmanagerOptions,
)
from oncall_console.backends.base import Backend, BackendContext
from oncall_console.errors import describe
from oncall_console.model import CheckResult, CheckSpec, Status
from oncall_console.secrets import SecretMissing, redact, resolve
from oncall_console.text import clean

Answer = tuple[bytes | bytearray, str | None]
"""An answer not yet decoded: its body and content type."""

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""A larger answer is refused rather than parsed (10,000 alerts are a few MB)."""
MAX_LABELS = 100
"""Labels (and annotations) kept per alert."""
KEY_LIMIT = 100
VALUE_LIMIT = 1000


class AlertmanagerError(Exception):
    """A request failed; the message is one clean line naming what was asked."""


class AlertmanagerClient(Backend):
    """One pooled httpx client to Alertmanager's API v2, and the server's own health."""

    options: AlertmanagerOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None

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
        return resp.status_code, decode_json(what, text, resp.headers.get("content-type"))

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
        status = as_dict(status)
        cluster = as_dict(status.get("cluster"))
        version = clean(as_dict(status.get("versionInfo")).get("version", ""), limit=40)
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


def as_dict(raw: object) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def decode_json(what: str, text: str, content_type: str | None) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise not_json(what, text, content_type) from None


def not_json(what: str, text: str, content_type: str | None) -> AlertmanagerError:
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
