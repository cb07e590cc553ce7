"""Read-only means no writes at all: the store a read-only console opens refuses them.

The runner already refuses actions in a read-only console; but incidents (declare, notes,
acknowledgements), runbook and checklist ticks, and the engine's own attaching of alerts
to incidents write too. Rather than a check in every one of those paths, a read-only
console's services get this wrapper: reads pass through, every write raises
:class:`ReadOnlyRefused` naming what was refused, so no key, palette command, CLI command
or served page of a read-only console can change the shared store.
"""

from __future__ import annotations

from typing import Any

WRITES = frozenset(
    {
        "append_audit",
        "save_step",
        "acquire_lock",
        "release_lock",
        "create_incident",
        "update_incident",
        "add_timeline",
    }
)
"""The store's methods that change it (store/base.py)."""


class ReadOnlyRefused(RuntimeError):
    """A write attempted by a read-only console; the message says what, in one line."""


class ReadOnlyStore:
    """``store`` for a read-only console: reads pass through, writes raise."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in WRITES:

            async def refused(*_args: Any, **_kwargs: Any) -> Any:
                raise ReadOnlyRefused(
                    f"read-only console: nothing is written ({name.replace('_', ' ')} refused)"
                )

            return refused
        return getattr(self._store, name)
