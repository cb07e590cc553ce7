"""Looking closer at a check, read-only (issue #15, point 9): which views its backend
offers, and one look, bounded by a timeout and redacted like a probe's result.

Nothing here changes anything: a look is not an action, so it needs no plan, lock or
audit, and a read-only console may look as much as it likes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from oncall_console.backends.base import Backend, Capability
from oncall_console.engine.state import CheckState
from oncall_console.errors import describe
from oncall_console.model import Inspection, InspectView
from oncall_console.secrets import redact
from oncall_console.tasks import within
from oncall_console.text import clean

NOTHING = "nothing to look closer at for this check"


class InspectRefused(Exception):
    """A look that cannot be had: one clean line (no such check or view, the backend
    cannot, the source did not answer)."""


def views_for(backends: Mapping[str, Backend], state: CheckState | None) -> list[InspectView]:
    """The closer looks the check's backend offers (none when it cannot). No IO."""
    if state is None:
        return []
    backend = backends.get(state.spec.backend)
    if backend is None or not backend.can(Capability.INSPECT):
        return []
    try:
        return list(backend.inspect_views(state.spec))
    except Exception:  # a plugin's bug must not take the detail view down
        return []


async def look(
    backends: Mapping[str, Backend], state: CheckState | None, view: str, timeout: float
) -> Inspection:
    """One look at ``view`` of the check, within ``timeout``; every line redacted."""
    if state is None:
        raise InspectRefused("no such check")
    if view not in {v.id for v in views_for(backends, state)}:
        raise InspectRefused(NOTHING if not views_for(backends, state) else f"no view {view!r}")
    backend = backends[state.spec.backend]
    try:
        found = await within(backend.inspect(state.spec, view), timeout)
    except Exception as exc:
        line = describe(exc, timeout, secrets=backend.secrets())
        raise InspectRefused(clean(line, limit=300)) from None
    return redacted(found, backend.secrets())


async def look_at(engine: Any, check: str, view: str) -> Inspection:
    """One look at ``view`` of the engine's check ``check``, bounded by [poller] timeout."""
    timeout = engine.loaded.config.poller.timeout
    return await look(engine.backends, engine.checks.get(check), view, timeout)


def redacted(found: Inspection, secrets: tuple[str, ...]) -> Inspection:
    """Every line and cell redacted (a query's text can carry a password literal)."""

    def r(text: str) -> str:
        return redact(text, *secrets)

    tables = tuple(
        replace(t, rows=tuple(tuple(r(cell) for cell in row) for row in t.rows))
        for t in found.tables
    )
    lines = tuple(r(line) for line in found.lines)
    return replace(found, tables=tables, lines=lines, note=r(found.note))
