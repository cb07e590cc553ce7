"""The ``prometheus`` backend: the plugin class, made of its SLIs, its health check and
its feed (alerts, rules)."""

from __future__ import annotations

from oncall_console.backends.base import Capability
from oncall_console.backends.prometheus.feed import PrometheusFeed
from oncall_console.backends.prometheus.health import PrometheusHealth
from oncall_console.backends.prometheus.options import (
    PrometheusCheckParams,
    PrometheusOptions,
    PrometheusSliParams,
)
from oncall_console.backends.prometheus.sli import PrometheusSlis


class PrometheusBackend(PrometheusSlis, PrometheusHealth, PrometheusFeed):
    """SLIs from PromQL with error budgets and burn rates; health of Prometheus itself;
    its alerting rules, and its firing alerts when there is no Alertmanager."""

    TYPE = "prometheus"
    DIAGNOSES = frozenset({"promql"})
    DESCRIPTION = (
        "Prometheus: PromQL SLIs, error budgets and burn rates, scrape target health,"
        " alerting rules, firing alerts"
    )
    CAPABILITIES = frozenset(
        {Capability.SLI, Capability.HEALTH, Capability.ALERTS, Capability.RULES}
    )
    Options = PrometheusOptions
    CheckParams = PrometheusCheckParams
    SliParams = PrometheusSliParams

    options: PrometheusOptions
