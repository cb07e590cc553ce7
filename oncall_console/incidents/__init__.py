"""Incidents: declared, walked through their lifecycle, timed against the policy, and told.

- ``service``: IncidentService (engine side, over the store): declare, the lifecycle,
  alerts attached and resolved, runbook steps and actions on the timeline.
- ``records``: timeline kinds, lifecycle rules, alert links, the model view (pure).
- ``hooks``: ``action_scope`` and ``IncidentAuditLog``, which put actions on a timeline.
- ``reports``: the CLI's ``export_incident`` / ``list_incidents`` / ``show_incident``.
- ``policy``: response time per severity, the escalation matrix, what is due (pure).
- ``comms``: status messages (initial, update, resolved) and the postmortem draft (pure).
"""

from oncall_console.incidents.comms import (
    initial_message,
    postmortem_markdown,
    resolved_message,
    update_message,
)
from oncall_console.incidents.hooks import IncidentAuditLog, action_scope
from oncall_console.incidents.policy import Due, EscalationStep, Policy, parse_severity
from oncall_console.incidents.records import IncidentError, transition_problem
from oncall_console.incidents.reports import export_incident, list_incidents, show_incident
from oncall_console.incidents.service import IncidentService
from oncall_console.store.incidents import IncidentRecord, TimelineRecord

__all__ = [
    "Due",
    "EscalationStep",
    "IncidentAuditLog",
    "IncidentError",
    "IncidentRecord",
    "IncidentService",
    "Policy",
    "TimelineRecord",
    "action_scope",
    "export_incident",
    "initial_message",
    "list_incidents",
    "parse_severity",
    "postmortem_markdown",
    "resolved_message",
    "show_incident",
    "transition_problem",
    "update_message",
]
