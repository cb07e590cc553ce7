"""Incidents: declared, walked through their lifecycle, timed against the policy, and told.

- ``service``: IncidentService (engine side, over the store), the action / step hooks,
  and the CLI helpers ``export_incident`` / ``list_incidents`` / ``show_incident``.
- ``policy``: response time per severity, the escalation matrix, what is due (pure).
- ``comms``: status messages (initial, update, resolved) and the postmortem draft (pure).
"""

from oncall_console.incidents.comms import (
    initial_message,
    postmortem_markdown,
    resolved_message,
    update_message,
)
from oncall_console.incidents.policy import Due, EscalationStep, Policy, parse_severity
from oncall_console.incidents.service import (
    IncidentAuditLog,
    IncidentError,
    IncidentService,
    action_scope,
    export_incident,
    list_incidents,
    show_incident,
    transition_problem,
)
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
