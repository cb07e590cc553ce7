"""The ``http`` backend: the plugin class, made of its health checks and its webhooks."""

from __future__ import annotations

from oncall_console.backends.base import Capability
from oncall_console.backends.http.health import HttpHealth
from oncall_console.backends.http.options import HttpCheckParams, HttpOptions
from oncall_console.backends.http.pool import BatchProbes
from oncall_console.backends.http.webhooks import HttpWebhooks


class HttpBackend(BatchProbes, HttpHealth, HttpWebhooks):
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
