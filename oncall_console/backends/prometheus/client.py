"""The ``prometheus`` backend's connection: the synchronous client, deadlines, errors in one line.

prometheus-api-client is synchronous (requests), so every exchange runs in the
engine's bounded thread pool. The client is built with no retries (its default
retries with backoff, a ~6 s stall on a dead server) and every request carries a
timeout cut to what is left of the caller's deadline, so a dead or hung Prometheus
costs at most the SLI's (or the check's) timeout.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import time
from urllib.parse import urlsplit

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from pydantic import BaseModel
from urllib3.util.retry import Retry

from oncall_console.backends.base import Backend, BackendContext
from oncall_console.backends.prometheus.options import PrometheusOptions
from oncall_console.errors import describe
from oncall_console.secrets import SecretMissing, redact, resolve
from oncall_console.text import clean

DEADLINE_SHARE = 0.9  # of the SLI timeout, for the requests; the rest is for the engine


class PrometheusError(Exception):
    """One clean line that names the problem: unreachable, timed out, bad query…"""


class PrometheusClient(Backend):
    """The requests session and the client, built once; what every request shares."""

    options: PrometheusOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._session: requests.Session | None = None
        self._client: PrometheusConnect | None = None
        self._token: str | None = None
        self._token_error: str | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._resolve_token()
        with contextlib.suppress(PrometheusError):  # each poll reports it, with the SLI
            self._ensure_client()

    async def close(self) -> None:
        session, self._session, self._client = self._session, None, None
        if session is not None:
            session.close()

    def _resolve_token(self) -> None:
        try:
            self._token = resolve("token", self.options.token_env, self.options.token_file)
            self._token_error = None
        except SecretMissing as exc:
            self._token, self._token_error = None, str(exc)

    def _ensure_client(self) -> PrometheusConnect:
        """The client, built once; a token problem is retried so a fixed token needs no restart."""
        if self._token_error is not None:
            self._resolve_token()
            if self._token_error is not None:
                raise PrometheusError(self._token_error)
            self._client = None  # rebuilt with the token
        if self._client is None:
            opts = self.options
            session = requests.Session()
            session.verify = opts.ca_file if (opts.verify_tls and opts.ca_file) else opts.verify_tls
            if not opts.verify_tls:
                # Chosen in config; a warning per request would scribble over the TUI.
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            session.headers["User-Agent"] = "oncall-console"
            session.headers["Accept"] = "application/json"
            if self._token:
                session.headers["Authorization"] = f"Bearer {self._token}"
            if self._session is not None:
                self._session.close()
            self._session = session
            # No retries: the library's default (3 with backoff) stalls ~6 s on a dead server.
            self._client = PrometheusConnect(
                url=opts.url,
                session=session,
                retry=Retry(total=0, read=False, redirect=False),
                timeout=opts.timeout,
            )
        return self._client

    @property
    def _where(self) -> str:
        """host:port of the server, for messages (never the userinfo of the URL)."""
        parts = urlsplit(self.options.url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    def _fail(self, message: str) -> PrometheusError:
        return PrometheusError(clean(redact(message, self._token), limit=300))

    def _left(self, deadline: float, timeout: float) -> float:
        left = min(self.options.timeout, deadline - time.monotonic())
        if left <= 0.05:
            raise self._fail(f"Prometheus at {self._where}: timed out after {timeout:g} s")
        return left

    # --- messages ------------------------------------------------------------------------------

    def _unreachable(self, exc: BaseException, timeout: float) -> str:
        if isinstance(exc, requests.Timeout):  # the request's own timeout, or the SLI's
            shown = min(self.options.timeout, timeout)
            return f"Prometheus at {self._where}: timed out after {shown:g} s"
        return f"Prometheus at {self._where}: {describe(exc, secrets=[self._token])}"


_HTTP_ERROR = re.compile(r"^HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", re.DOTALL)


def error_text(body: bytes) -> str:
    """Prometheus's own error message from a JSON error body, else the start of the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("error"):
        text = str(doc["error"])
        return re.sub(r'^invalid parameter \\?"?query\\?"?:\s*', "", text)
    return clean(body.decode("utf-8", "replace"), limit=200).strip()


def http_error(exc: PrometheusApiClientException, what: str) -> str:
    """One line from the client's "HTTP Status Code 400 (b'{...}')"."""
    m = _HTTP_ERROR.match(str(exc))
    if m is None:
        return f"{what}: {exc}"
    code = int(m.group(1))
    try:
        body = ast.literal_eval(m.group(2))
    except (ValueError, SyntaxError):
        body = b""
    text = error_text(body) if isinstance(body, bytes) else ""
    if code == 400:
        return f"bad {what}: {text}"
    if code == 422:
        return f"{what} failed: {text}"
    if code in (401, 403):
        return f"{what}: HTTP {code}: not allowed (check token_env / token_file)"
    if code == 503 and "timeout" in text.lower():
        return f"{what} timed out in Prometheus: {text}"
    return f"{what}: HTTP {code}" + (f": {text}" if text else "")
