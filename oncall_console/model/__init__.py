"""Plain data: no IO, no Textual. Everything above this layer speaks these types."""

from oncall_console.model.actions import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    Confirm,
    Outcome,
    ParamSpec,
)
from oncall_console.model.alerts import (
    Alert,
    AlertState,
    Incident,
    IncidentStatus,
    Severity,
    Silence,
    TimelineEntry,
)
from oncall_console.model.health import CheckResult, DetailTable, Status, SubStatus
from oncall_console.model.inspect import Inspection, InspectView
from oncall_console.model.sli import Direction, SliReading, Thresholds
from oncall_console.model.specs import CheckSpec, SliSpec, SloSpec

__all__ = [
    "ActionInvalid",
    "ActionRequest",
    "ActionResult",
    "ActionSpec",
    "Alert",
    "AlertState",
    "CheckResult",
    "CheckSpec",
    "Confirm",
    "DetailTable",
    "Direction",
    "Incident",
    "IncidentStatus",
    "InspectView",
    "Inspection",
    "Outcome",
    "ParamSpec",
    "Severity",
    "Silence",
    "SliReading",
    "SliSpec",
    "SloSpec",
    "Status",
    "SubStatus",
    "Thresholds",
    "TimelineEntry",
]
