"""What is about what: the check an alert is about, the alerts and SLIs of a check.

An engineer looks at one row and expects the console to know the rest: an alert on
``service=prediction-service`` is about the ``prediction-service`` check; an action on
that check should be verified by that check, the SLIs it moves and that alert. Pure
functions over the engine's state, no IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from oncall_console.engine.state import CheckState, SliState
from oncall_console.model import Alert

TARGET_LABELS = (
    "service",
    "deployment",
    "app",
    "app_kubernetes_io_name",
    "job",
    "container",
    "check",
    "target",
    "datname",
    "database",
    "instance",
)
"""Alert labels that name what an alert is about, most specific first."""

PARAM_FIELDS = ("target", "service", "deployment", "name", "database", "dbname", "host")
"""A check's own parameters that name its target."""


def _names(state: CheckState) -> set[str]:
    """What a check answers to: its name, its title, the target its parameters name."""
    spec = state.spec
    names = {spec.name.lower(), spec.label.lower()}
    params = spec.params
    for attr in PARAM_FIELDS:
        value = getattr(params, attr, None)
        if isinstance(value, str) and value:
            names.add(value.lower())
    return names


def _label_values(alert: Alert) -> list[str]:
    values = []
    for label in TARGET_LABELS:
        value = alert.labels.get(label, "")
        if not value:
            continue
        value = value.lower()
        values.append(value)
        if label == "instance":  # host:port -> host
            values.append(value.rsplit(":", 1)[0])
    return values


def check_for_alert(alert: Alert, checks: Iterable[CheckState]) -> CheckState | None:
    """The check ``alert`` is about: the first of its target labels (service,
    deployment, job, ...) that names a check (its name, title or target), else None."""
    states = list(checks)
    index: dict[str, CheckState] = {}
    for state in states:
        for name in _names(state):
            index.setdefault(name, state)
    for value in _label_values(alert):
        if value in index:
            return index[value]
    return None


def alerts_for_check(state: CheckState, alerts: Iterable[Alert]) -> list[Alert]:
    """The active alerts about ``state`` (the inverse of :func:`check_for_alert`)."""
    names = _names(state)
    return [a for a in alerts if any(v in names for v in _label_values(a))]


def slis_for_check(state: CheckState, slis: Sequence[SliState]) -> list[SliState]:
    """The SLIs a check moves: those its config names (``[checks.X] slis``), else
    those whose name or title mentions the check's name."""
    named = getattr(state.spec, "slis", ()) or ()
    if named:
        return [s for s in slis if s.spec.name in named]
    key = state.spec.name.lower()
    return [s for s in slis if key in s.spec.name.lower() or key in s.spec.label.lower()]
