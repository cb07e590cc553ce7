"""Looking closer at a check, read-only: what a backend offers and what one look found."""

from __future__ import annotations

from dataclasses import dataclass

from oncall_console.model.health import DetailTable


@dataclass(frozen=True, slots=True)
class InspectView:
    """One way to look closer at a check: a Kubernetes workload's events or its pods'
    log tail, PostgreSQL's sessions, Redis's slowlog… Read-only, refreshed live."""

    id: str
    """Stable id within the backend: ``events``, ``logs``, ``sessions``, ``slowlog``…"""
    title: str
    """What a person reads on the tab: "Events", "Log tail"."""
    log: bool = False
    """Lines that grow at the bottom (a log tail): the screen can follow them."""


@dataclass(frozen=True, slots=True)
class Inspection:
    """What one look found: tables of rows, or lines (a log). Every string is remote
    text already cleaned by the backend (and redacted by the engine): plain text."""

    view: str
    at: float
    """Wall-clock time (epoch seconds) of the look."""
    tables: tuple[DetailTable, ...] = ()
    lines: tuple[str, ...] = ()
    note: str = ""
    """One line about how much was read (``3 pods · last 100 lines each``)."""
