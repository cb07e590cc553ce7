"""Alerting rules as Prometheus evaluates them: plain data, no IO."""

from __future__ import annotations

from dataclasses import dataclass, field

from oncall_console.model.alerts import Severity


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alerting rule, from a rule file or the server's ``/api/v1/rules``.

    All text is remote data (the file's or the server's), cleaned where it was read."""

    name: str
    expr: str
    severity: Severity
    threshold: str = ""
    """The comparisons of ``expr`` with a number, e.g. "> 0.05", "< 15, == 0"; "" when none."""
    for_: str = ""
    """How long the condition must hold before the alert fires ("5m"); "" for at once."""
    labels: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    runbook_url: str = ""
    group: str = ""
    origin: str = ""
    """Where it was read: a file's path, or "prometheus NAME"."""
    state: str = ""
    """"firing", "pending", "inactive", or "" when not known (a file with no server)."""
    active: int = 0
    """Alerts of this rule pending or firing now."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """What one backend knows of its rules: the rules, and what could not be read."""

    source: str
    rules: tuple[AlertRule, ...] = ()
    errors: tuple[str, ...] = ()
    recording: int = 0
    """Recording rules seen beside the alerting ones (not listed)."""
