"""Plain data: no IO, no Textual. Everything above this layer speaks these types.

Each name is imported from its module when first asked for (PEP 562): the console's
first frame needs the health and alert types, not the actions' or inspections' (each
dataclass costs ~0.5 ms at start-up: its methods are compiled then, issue #14)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from oncall_console.model.specs import CheckSpec, Early, SliSpec, SloSpec

_WHERE = {
    "ActionInvalid": "actions",
    "ActionRequest": "actions",
    "ActionResult": "actions",
    "ActionSpec": "actions",
    "Alert": "alerts",
    "AlertState": "alerts",
    "CheckResult": "health",
    "CheckSpec": "specs",
    "Confirm": "actions",
    "DetailTable": "health",
    "Early": "specs",
    "Direction": "sli",
    "Incident": "alerts",
    "IncidentStatus": "alerts",
    "InspectView": "inspect",
    "Inspection": "inspect",
    "Outcome": "actions",
    "ParamSpec": "actions",
    "Severity": "alerts",
    "Silence": "alerts",
    "SliReading": "sli",
    "SliSpec": "specs",
    "SloSpec": "specs",
    "Status": "health",
    "SubStatus": "health",
    "Thresholds": "sli",
    "TimelineEntry": "alerts",
}

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
    "Early",
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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
