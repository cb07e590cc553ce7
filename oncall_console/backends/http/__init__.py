"""The ``http`` backend: health endpoints probed over HTTP(S), and webhooks as actions.

Probes go out on a lean HTTP/1.1 client (``probe.py``: h11 on an asyncio Protocol,
~0.1 ms of CPU a probe where httpx took ~1 ms) with kept-alive connections; httpx
carries webhooks, and the probes whose URL a proxy variable (HTTP_PROXY,
NO_PROXY, ...) covers.

- ``options.py``: the backend's options, its webhooks and a check's parameters;
- ``wire.py``: the probe client's fast path, the common answer read with bytes
  operations (h11 reads the rest);
- ``connections.py``: the token, the TLS context and the two clients;
- ``judge.py``: probing a check and judging the answer (status code, JSON health
  body, latency, TLS expiry), without httpx or pydantic: the probe worker runs it too;
- ``health.py``: the console's side of a probe (parameters, token, proxies);
- ``webhooks.py``: the actions, JSON sent from a template;
- ``pool.py`` and ``worker.py``: a big backend's probes in worker processes;
- ``backend.py``: :class:`HttpBackend`, the plugin class made of the two.

:class:`HttpBackend` is imported on first use: the probe worker
(``python -m oncall_console.backends.http.worker``) imports this package, not the plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall_console.backends.http.backend import HttpBackend

__all__ = ["HttpBackend"]


def __getattr__(name: str) -> Any:
    if name == "HttpBackend":
        from oncall_console.backends.http.backend import HttpBackend

        return HttpBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
