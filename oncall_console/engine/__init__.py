"""The engine: polling, state, and the one path actions take. Knows nothing of Textual."""

from oncall_console.engine.actions import ActionRefused, ActionRunner, PreparedAction
from oncall_console.engine.core import Engine

__all__ = ["ActionRefused", "ActionRunner", "Engine", "PreparedAction"]
