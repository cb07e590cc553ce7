"""The ``http`` backend's health checks, in the console: a check's parameters validated,
its token read (again, until it can be), and a URL that a proxy variable covers sent
through httpx. The probing and the judging are ``judge.py``'s, which the probe worker
(``worker.py``) runs too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from oncall_console.backends.http.connections import (
    HttpConnections,
    proxied,
    read_capped,
)
from oncall_console.backends.http.judge import CheckProbe, _Fetch
from oncall_console.backends.http.options import HttpCheckParams
from oncall_console.backends.http.probe import ProbeResponse
from oncall_console.errors import describe
from oncall_console.model import CheckResult, CheckSpec

if TYPE_CHECKING:
    from oncall_console.backends.http.judge import Params


class HttpHealth(CheckProbe, HttpConnections):
    """Probes one check's URL (and its readiness URL), judging what comes back."""

    _TIMEOUTS = (*CheckProbe._TIMEOUTS, httpx.TimeoutException)
    _FAILURES = (*CheckProbe._FAILURES, httpx.HTTPError)

    async def probe(self, check: CheckSpec) -> CheckResult:
        try:
            params = check.params
            if not isinstance(params, HttpCheckParams):
                params = HttpCheckParams.model_validate(params or {})
            if not self._token_read or self._token_error:
                self._resolve_token()  # retried so that a fixed token needs no restart
            if self._token_error:
                return self._result(check, _Fetch(error=self._token_error))
        except Exception as exc:  # probe never raises: everything is a result
            return self._result(check, _Fetch(error=f"unexpected error: {describe(exc)}"))
        return await self.probe_with(check, params)

    def _now(self) -> float:
        return self.context.clock()

    def _body_cap(self) -> int:
        return self.options.max_body_bytes

    async def _exchange(
        self, url: str, p: Params, headers: dict[str, str] | None, timeout: float
    ) -> ProbeResponse:
        if self._proxies and proxied(url, self._proxies):
            return await self._fetch_via_proxy(url, p, headers, timeout)
        return await super()._exchange(url, p, headers, timeout)

    async def _fetch_via_proxy(
        self, url: str, p: Params, headers: dict[str, str] | None, timeout: float
    ) -> ProbeResponse:
        """The same exchange through httpx, which honours the proxy variables."""
        client = self._ensure_client()
        req = client.build_request(p.method, url, headers=headers, timeout=httpx.Timeout(timeout))
        resp = await client.send(req, stream=True)
        try:
            head_at = time.perf_counter()
            body, truncated = await read_capped(resp, self.options.max_body_bytes)
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
