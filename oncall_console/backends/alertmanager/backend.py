"""The ``alertmanager`` backend: the plugin class, made of its feed and its silences."""

from __future__ import annotations

from oncall_console.backends.alertmanager.feed import AlertFeed
from oncall_console.backends.alertmanager.options import (
    AlertmanagerCheckParams,
    AlertmanagerOptions,
)
from oncall_console.backends.alertmanager.silences import Silences
from oncall_console.backends.base import Capability


class AlertmanagerBackend(AlertFeed, Silences):
    """Alerts and silences from Prometheus Alertmanager (API v2); creates and expires silences."""

    TYPE = "alertmanager"
    DESCRIPTION = "Prometheus Alertmanager: alerts, silences, silence and expire actions"
    CAPABILITIES = frozenset(
        {Capability.ALERTS, Capability.SILENCES, Capability.ACTIONS, Capability.HEALTH}
    )
    Options = AlertmanagerOptions
    CheckParams = AlertmanagerCheckParams

    options: AlertmanagerOptions
