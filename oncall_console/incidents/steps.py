"""What the policy asks of the people on an incident now: acknowledge, escalate, post an
update, take command. Shared by the incident screen, the dashboard and the handoff."""

from __future__ import annotations

from dataclasses import dataclass

from oncall_console.incidents.comms import duration
from oncall_console.incidents.policy import Due
from oncall_console.store.incidents import IncidentRecord


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    urgent: bool = False
    """Due now (shown in reverse, told once as a notification)."""
    key: str = ""
    """What it is about, for telling it once: "ack", "escalate:2", "update"."""
    short: str = ""
    """The step without its countdown or key, for a wall screen that must not tick."""


def clock(seconds: float) -> str:
    """``4:07`` below an hour, ``1 h 05 min`` above: a countdown that reads at a glance."""
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return duration(seconds)


def next_steps(record: IncidentRecord, due: Due) -> list[Prompt]:
    """What the policy asks of the people on this incident now, most urgent first."""
    if not record.is_open:
        return []
    out: list[Prompt] = []
    if not due.acknowledged:
        left = due.response_due_at - due.now
        if left <= 0:
            out.append(
                Prompt(
                    f"Response time passed {clock(-left)} ago: acknowledge it (A)",
                    urgent=True,
                    key="ack",
                    short="Acknowledge: response time passed",
                )
            )
        else:
            out.append(Prompt(f"Acknowledge within {clock(left)} (A)", key="ack-soon"))
    if due.level_index > 0:
        out.append(
            Prompt(
                f"Engage {due.level.describe()}: {duration(due.elapsed)} open",
                urgent=True,
                key=f"escalate:{due.level_index}",
                short=f"Engage {due.level.describe()}",
            )
        )
    if due.update_overdue and due.update_due_at is not None:
        out.append(
            Prompt(
                f"Status update overdue by {clock(due.now - due.update_due_at)}: write one (m)",
                urgent=True,
                key="update",
                short="Status update overdue",
            )
        )
    if not record.commander:
        out.append(Prompt("Nobody has command: take it (t)", key="commander"))
    return out
