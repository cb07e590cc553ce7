"""How an alert's labels and annotations become its severity and its summary.

Alertmanager's answers and Prometheus's own ``/api/v1/alerts`` carry the same label
conventions, and teams follow different ones: ``severity: critical``, ``priority: P1``,
Sloth's ``sloth_severity: page`` / ``ticket`` beside a team's own ``severity: pageteam``.
So severity is read from an ordered list of labels: the first one whose value is a known
word (``severity_map``, built-in conventions under the team's own) or a severity itself
(``SEV2``, ``P1``) wins; an unknown value passes to the next label. The summary is the
first non-empty annotation of an ordered list (``summary``, ``message``, ``description`` …).

:func:`most_severe` keeps the worst alerts when a feed must be cut (``max_alerts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from pydantic import ConfigDict, Field, field_validator

from oncall_console.backends.base import Strict
from oncall_console.model import Alert, AlertState, Severity

DEFAULT_SEVERITY_LABELS = ("severity", "priority", "sloth_severity", "level", "urgency")
"""Labels looked at for a severity, in order."""

DEFAULT_SEVERITY_MAP = {
    # Common words, worst first. P1-P4 and SEV1-SEV4 need no entry.
    "page": "SEV1",
    "emergency": "SEV1",
    "disaster": "SEV1",
    "fatal": "SEV1",
    "p0": "SEV1",
    "sev0": "SEV1",
    "critical": "SEV2",
    "crit": "SEV2",
    "error": "SEV2",
    "high": "SEV2",
    "major": "SEV2",
    "ticket": "SEV3",
    "warning": "SEV3",
    "warn": "SEV3",
    "medium": "SEV3",
    "moderate": "SEV3",
    "average": "SEV3",
    "minor": "SEV4",
    "low": "SEV4",
    "info": "SEV4",
    "informational": "SEV4",
    "notice": "SEV4",
    "none": "SEV4",
    "1": "SEV1",
    "2": "SEV2",
    "3": "SEV3",
    "4": "SEV4",
}
"""Label value -> severity; a team's ``severity_map`` is laid over it."""

DEFAULT_SUMMARY_ANNOTATIONS = ("summary", "message", "description", "title", "alert", "help")
"""Annotations looked at for a summary, in order."""


class AlertReading(Strict):
    """The keys that say how an alert's labels and annotations are read (a mixin)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    severity_labels: list[str] = Field(default_factory=lambda: list(DEFAULT_SEVERITY_LABELS))
    """Labels that may carry the severity, in order: the first with a known value wins."""
    severity_label: str | None = None
    """One more label, looked at before ``severity_labels`` (the older single-label key)."""
    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    """Label value -> SEV1-SEV4 (or P1-P4), matched case-insensitively; laid over the
    built-in words (page, critical, warning, info, ticket, high, low …)."""
    default_severity: str = "SEV3"
    """Severity of an alert none of whose severity labels has a known value."""
    summary_annotations: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SUMMARY_ANNOTATIONS)
    )
    """Annotations that may carry the one-line summary, in order: the first non-empty wins."""

    @field_validator("severity_map")
    @classmethod
    def _severity_map(cls, mapping: dict[str, str]) -> dict[str, str]:
        out = dict(DEFAULT_SEVERITY_MAP)
        for key, value in mapping.items():
            out[key.strip().lower()] = Severity.parse(value).label  # ValueError names the value
        return out

    @field_validator("default_severity")
    @classmethod
    def _default_severity(cls, value: str) -> str:
        return Severity.parse(value).label

    @field_validator("severity_labels", "summary_annotations")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        if not names or any(not n.strip() for n in names):
            raise ValueError("must list at least one name, none of them empty")
        return [n.strip() for n in names]

    def label_order(self) -> list[str]:
        first = [self.severity_label] if self.severity_label else []
        return first + [n for n in self.severity_labels if n != self.severity_label]

    def severity_of(self, labels: Mapping[str, str]) -> Severity:
        """The severity the first label with a known value says; else ``default_severity``."""
        for name in self.label_order():
            value = labels.get(name)
            if not value:
                continue
            found = self.severity_map.get(value.strip().lower())
            if found:
                return Severity.parse(found)
            try:
                return Severity.parse(value)
            except ValueError:
                continue  # a team's own word (Sloth's "pageteam"): the next label may know
        return Severity.parse(self.default_severity)

    def summary_of(self, annotations: Mapping[str, str]) -> str:
        """The first non-empty annotation of ``summary_annotations``; "" when none is."""
        for name in self.summary_annotations:
            text = annotations.get(name, "").strip()
            if text:
                return text
        return ""


def most_severe(alerts: Iterable[Alert], keep: int) -> tuple[list[Alert], Counter[Severity]]:
    """The ``keep`` worst alerts (firing before muted, then in answer order), and the
    severities of those cut."""
    ranked = sorted(alerts, key=lambda a: (a.severity, a.state is not AlertState.ACTIVE))
    cut: Counter[Severity] = Counter(a.severity for a in ranked[keep:])
    return ranked[:keep], cut


def cut_summary(cut: Counter[Severity]) -> str:
    """ "3 SEV3, 40 SEV4" """
    return ", ".join(f"{cut[s]:,} {s.label}" for s in sorted(cut))
