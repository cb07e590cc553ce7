"""The ``prometheus`` backend: SLIs from PromQL, error budgets, and Prometheus's own health.

prometheus-api-client is synchronous (requests), so every exchange runs in the
engine's bounded thread pool through :meth:`BackendContext.run_sync`, with no
retries and a timeout cut to what is left of the caller's deadline.

- ``options.py``: the server, a health check's and an SLI's parameters;
- ``client.py``: the session and client, deadlines, errors in one line;
- ``sli.py``: SLI readings, error budgets and burn rates, the sparkline history;
- ``slo.py``: the error-budget arithmetic, pure;
- ``health.py``: the health check of Prometheus itself (ready, scrape targets);
- ``rules.py``: rule files, ``/api/v1/rules`` and ``/api/v1/alerts`` read, pure;
- ``feed.py``: firing alerts (without Alertmanager) and alerting rules, read;
- ``slo_specs.py``: Sloth and OpenSLO specs as ``[slis]`` tables (``slo import``), pure;
- ``backend.py``: :class:`PrometheusBackend`, made of the SLIs, the health check, the feed.
"""

from oncall_console.backends.prometheus.backend import PrometheusBackend

__all__ = ["PrometheusBackend"]
