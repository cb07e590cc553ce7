"""The engine: polling, state, and the one path actions take. Knows nothing of Textual.

The names below are imported on first use, so a widget that needs only
``engine.state`` does not pull in the whole engine (the first frame, issue #6).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall_console.engine.actions import (
        ActionPlan,
        ActionRefused,
        ActionRunner,
        PreparedAction,
    )
    from oncall_console.engine.api import OnCall, View
    from oncall_console.engine.core import Engine

__all__ = [
    "ActionPlan",
    "ActionRefused",
    "ActionRunner",
    "Engine",
    "OnCall",
    "PreparedAction",
    "View",
]

_MODULE = {
    "ActionPlan": "actions",
    "OnCall": "api",
    "View": "api",
    "ActionRefused": "actions",
    "ActionRunner": "actions",
    "PreparedAction": "actions",
    "Engine": "core",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE[name]}"), name)
    globals()[name] = value  # once: later lookups do not come here
    return value
