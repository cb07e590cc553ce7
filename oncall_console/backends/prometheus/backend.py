"""The ``prometheus`` backend: the plugin class, made of its SLIs and its health check."""

from __future__ import annotations

from oncall_console.backends.base import Capability
from oncall_console.backends.prometheus.health import PrometheusHealth
from oncall_console.backends.prometheus.options import (
    PrometheusCheckParams,
    PrometheusOptions,
    PrometheusSliParams,
)
from oncall_console.backends.prometheus.sli import PrometheusSlis


class PrometheusBackend(PrometheusSlis, PrometheusHealth):
    """SLIs from PromQL with error budgets and burn rates; health of Prometheus itself."""

    TYPE = "prometheus"
    DESCRIPTION = "Prometheus: PromQL SLIs, error budgets and burn rates, scrape target health"
    CAPABILITIES = frozenset({Capability.SLI, Capability.HEALTH})
    Options = PrometheusOptions
    CheckParams = PrometheusCheckParams
    SliParams = PrometheusSliParams

    options: PrometheusOptions
