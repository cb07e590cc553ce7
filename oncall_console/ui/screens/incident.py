"""One incident, worked on: its clocks against the policy and the next step when one is
due, the timeline as it writes itself, who else is on it, and the changes a commander
makes (acknowledge, take command, status, severity, notes, status messages).

Every change goes through the IncidentService (one store transaction + its timeline
entry, refused when another console changed the same field meanwhile). Status messages
are copied with OSC 52 (works over SSH) or posted through an http webhook named in
``[incidents] post_to``, through the action runner like every other action.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from oncall_console.incidents import IncidentError
from oncall_console.incidents.comms import duration, severity_label
from oncall_console.incidents.policy import Due
from oncall_console.incidents.steps import Prompt, clock, next_steps
from oncall_console.model import IncidentStatus, Severity
from oncall_console.store.incidents import IncidentRecord, TimelineRecord
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, OpenRunbook, oncall_of
from oncall_console.ui.render import notify_error
from oncall_console.ui.screens.detail import DetailScreen
from oncall_console.ui.screens.live import LiveScreen
from oncall_console.ui.screens.prompts import ChoicePrompt, TextPrompt, YesNoPrompt
from oncall_console.ui.widgets.tables import KeyedTable
from oncall_console.ui.widgets.watchbar import WatchBar

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall

PRESENCE_EVERY = 10.0
"""Seconds between presence announcements while a screen is open."""
PRESENCE_TTL = 2.5 * PRESENCE_EVERY
"""A console not heard of for this long is no longer shown as present: a console that
was killed (or lost its network) stops looking present within 25 s."""

# Bindings that change the incident: refused (and hidden) on a read-only console.
_WRITES = frozenset(
    {"acknowledge", "take_command", "hand_command", "status", "severity", "note", "messages"}
)


def clocks_text(record: IncidentRecord, due: Due) -> Text:
    """Line 1: open for · response · next update. Line 2: who is engaged, and who next."""
    text = Text()
    text.append("open ", style="dim")
    text.append(duration(due.elapsed) if due.elapsed >= 3600 else clock(due.elapsed))
    text.append(" · response ", style="dim")
    if due.acknowledged and record.acknowledged_at is not None:
        text.append(f"acked after {clock(record.acknowledged_at - record.opened_at)}")
        if due.response_breached:
            text.append(" (late)", style="bold")
    elif due.response_breached:
        text.append(f"BREACHED {clock(due.now - due.response_due_at)} ago", style="bold reverse")
    else:
        text.append(f"due in {clock(due.response_due_at - due.now)}")
    if not record.is_open:
        return text
    if due.update_due_at is not None:
        text.append(" · update ", style="dim")
        if due.update_overdue:
            text.append(f"overdue {clock(due.now - due.update_due_at)}", style="bold reverse")
        else:
            text.append(f"due in {clock(due.update_due_at - due.now)}")
    text.append("\nescalation ", style="dim")
    text.append(due.level.describe())
    if due.next_step is not None and due.next_in is not None:
        text.append(" · next ", style="dim")
        text.append(f"{due.next_step.who} in {clock(due.next_in)}")
    return text


def present_on(oncall: OnCall, incident_id: str, now: float) -> list[str]:
    """Other consoles working on ``incident_id``: "bob (runbook db-pool: step …)"."""
    out = []
    for origin, said in sorted(oncall.presence().items()):
        if said.get("incident") != incident_id:
            continue
        at = said.get("at")
        if not isinstance(at, int | float) or now - at > PRESENCE_TTL:
            continue
        who = clean(said.get("operator") or origin, limit=40)
        doing = clean(said.get("doing") or "", limit=80)
        out.append(f"{who} ({doing})" if doing else who)
    return out


def announce_presence(oncall: OnCall, incident: str, doing: str = "") -> None:
    oncall.announce(
        "presence", incident=incident, operator=oncall.settings.operator, doing=doing[:120]
    )


async def apply_change(node: Any, change: Any) -> bool:
    """Run one incident change; refusals (changed meanwhile, store down) are one line."""
    try:
        await change
    except IncidentError as exc:
        notify_error(node, "Not changed", exc)
        return False
    except Exception as exc:
        node.notify(
            f"not saved: {clean(str(exc), limit=200)}",
            title="Store",
            severity="error",
            timeout=10,
        )
        return False
    return True


async def acknowledge(screen: Any, incident_id: str) -> bool:
    """After a y (the incident screen's A, the alerts panel's A): it says what it did."""
    yes = await screen.app.push_screen_wait(
        YesNoPrompt(
            f"Acknowledge {incident_id}",
            "The response clock stops for everyone; the timeline says you acknowledged.",
        )
    )
    if not yes:
        screen.notify(f"{incident_id} not acknowledged.", timeout=3)
        return False
    if not await apply_change(screen, oncall_of(screen).incidents.acknowledge(incident_id)):
        return False
    screen.notify(f"Acknowledged {incident_id}: the response clock stopped.", timeout=5)
    return True


class IncidentScreen(LiveScreen):
    """One stored incident. Esc goes back to the dashboard."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="incident.back"),
        HELP,  # first: the footer is cut from the right at 80 columns
        Binding(
            "A",
            "acknowledge",
            "Ack",
            id="incident.ack",
            tooltip="Acknowledge (asks y): stops the response clock",
        ),
        Binding(
            "t",
            "take_command",
            "Command",
            id="incident.take",
            tooltip="You become the incident commander (asks y)",
        ),
        Binding(
            "C",
            "hand_command",
            "Hand over",
            id="incident.hand",
            show=False,
            tooltip="Make someone else commander",
        ),
        Binding(
            "s",
            "status",
            "Status",
            id="incident.status",
            tooltip="investigating → identified → monitoring → resolved",
        ),
        Binding("v", "severity", "Sev", id="incident.severity", tooltip="SEV1-SEV4"),
        Binding("n", "note", "Note", id="incident.note", tooltip="Add a note to the timeline"),
        Binding(
            "m", "messages", "Msg", id="incident.message", tooltip="Status message: copy or post"
        ),
        Binding(
            "b", "runbook", "Runbook", id="incident.runbook", tooltip="Walk the incident's runbook"
        ),
    ]

    def __init__(self, incident_id: str) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.record: IncidentRecord | None = None
        self.timeline: list[TimelineRecord] = []
        self._row_keys: list[str] = []
        self.runbook_progress = ""
        self._seen: tuple[Any, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id="incident-head")
        yield Static(id="incident-clocks")
        yield Static(id="incident-next")
        yield Static(id="incident-presence")
        with Vertical(id="incident-timeline-panel", classes="panel") as panel:
            panel.border_title = "Timeline"
            table: DataTable[Text] = KeyedTable(id="incident-timeline", cursor_type="row")
            table.add_columns("time", "who", "what", "")
            yield table
        yield WatchBar()
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; 80 columns are few

    @property
    def service(self) -> Any:
        return oncall_of(self).incidents

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in _WRITES and oncall_of(self).settings.read_only)

    async def on_mount(self) -> None:
        self.composed = True
        self.query_one(DataTable).focus()
        await self.reload()
        announce_presence(oncall_of(self), self.incident_id, "incident")
        self.set_interval(1.0, self.sync)
        self.set_interval(PRESENCE_EVERY, self._presence)

    def on_unmount(self) -> None:
        announce_presence(oncall_of(self), "", "")

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.record is not None:  # back from a runbook or a dialog
            self._presence()
            self.run_worker(self.reload(), group="reload", exclusive=True)

    def _presence(self) -> None:
        announce_presence(oncall_of(self), self.incident_id, "incident")

    async def reload(self) -> None:
        """Read this incident again: from the engine's snapshot, else from the store."""
        try:
            await self.service.refresh()
            record = self.service.cached(self.incident_id)
            timeline = self.service.timelines.get(self.incident_id)
            if record is None:
                record = await self.service.get(self.incident_id)
            if timeline is None:
                timeline = await self.service.timeline(self.incident_id)
        except Exception as exc:
            self.notify(clean(str(exc), limit=200), severity="error")
            return
        self.record, self.timeline = record, list(timeline)
        self.runbook_progress = await self._runbook_progress(record)
        self.sync(force=True)

    async def _runbook_progress(self, record: IncidentRecord) -> str:
        """ "3/9 steps" of the incident's runbook walk, or "" when none is linked."""
        runbook = oncall_of(self).runbooks.library.get(record.runbook) if record.runbook else None
        if runbook is None:
            return ""
        try:
            progress = await oncall_of(self).runbooks.progress(runbook, record.id)
        except Exception:
            return ""
        done = sum(1 for s in runbook.steps if (p := progress.get(s.id)) and p.done)
        return f"{done}/{len(runbook.steps)} steps"

    # --- the picture -----------------------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Repaint what changed: the clocks every second, the rest when the record does."""
        if not self.whole:
            return
        cached = self.service.cached(self.incident_id)
        if cached is not None and (self.record is None or cached.revision != self.record.revision):
            self.record = cached
            self.timeline = list(self.service.timelines.get(self.incident_id, self.timeline))
            force = True
        record = self.record
        if record is None:
            return
        now = self.app.clock()
        due = self.service.due(record, now, None if cached is not None else self.timeline)
        presence = present_on(oncall_of(self), self.incident_id, now)
        seen = (record.revision, int(now), tuple(presence))
        if seen == self._seen and not force:
            return
        self._seen = seen
        self.query_one("#incident-head", Static).update(self._head(record))
        self.query_one("#incident-clocks", Static).update(clocks_text(record, due))
        prompts = next_steps(record, due)
        self.query_one("#incident-next", Static).update(self._prompts(prompts))
        self._tell(prompts)
        line = Text(no_wrap=True, overflow="ellipsis")
        if presence:
            line.append("also here: ", style="dim")
            line.append("; ".join(presence))
        shown = self.query_one("#incident-presence", Static)
        shown.update(line)
        shown.display = bool(presence)
        if force:
            self._fill_timeline()

    def _head(self, r: IncidentRecord) -> Text:
        text = Text(f" {r.id} ", style="bold reverse", no_wrap=True, overflow="ellipsis")
        text.append(f" {severity_label(r.severity)} ", style="bold")
        text.append(f" {r.status} ", style="reverse" if r.is_open else "dim")
        text.append("  ")
        text.append(clean(r.title, limit=200))
        text.append("\ncommander ")
        text.append(clean(r.commander, limit=60) or "nobody")
        if r.runbook:
            text.append("  ·  runbook ")
            text.append(clean(r.runbook, limit=60))
            if self.runbook_progress:
                text.append(f" {self.runbook_progress}")
        if r.affected:
            text.append("  ·  affected ")
            text.append(clean(r.affected, limit=80))
        return text

    def _prompts(self, prompts: list[Prompt]) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, p in enumerate(prompts):
            if n:
                text.append("\n")
            text.append("▶ " if p.urgent else "· ", style="bold" if p.urgent else "dim")
            text.append(p.text, style="bold reverse" if p.urgent else "")
        return text

    def _tell(self, prompts: list[Prompt]) -> None:
        """An urgent step is told once per console (the dashboard tells it too)."""
        told: set[tuple[str, str]] = self.app.told_due  # type: ignore[attr-defined]
        for p in prompts:
            if p.urgent and (self.incident_id, p.key) not in told:
                told.add((self.incident_id, p.key))
                self.notify(
                    p.text,
                    title=f"{self.incident_id}: due",
                    severity="warning",
                    timeout=20,
                )

    def _fill_timeline(self) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        utc = oncall_of(self).settings.utc
        keys = [f"{e.id}:{e.at}:{n}" for n, e in enumerate(self.timeline)]
        if keys[: len(self._row_keys)] != self._row_keys:
            table.clear()
            self._row_keys = []
        done = len(self._row_keys)
        at = time.gmtime if utc else time.localtime
        today = at(self.app.clock())[:3]
        for key, entry in zip(keys[done:], self.timeline[done:], strict=True):
            when = at(entry.at)
            # Another day's entry says which day: a bare 21:24:33 above 09:24:34 reads as
            # out of order (an alert that fired days before the incident was declared).
            stamp = time.strftime("%H:%M:%S" if when[:3] == today else "%b %d %H:%M", when)
            table.add_row(
                Text(stamp),
                Text(clean(entry.operator, limit=20) or "·", style="" if entry.operator else "dim"),
                Text(clean(entry.kind, limit=16), style="bold"),
                Text(clean(entry.text, limit=300)),
                key=key,
            )
            self._row_keys.append(key)
        if self._row_keys:
            table.move_cursor(row=len(self._row_keys) - 1)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a timeline entry: all of it (the table shows one line)."""
        index = event.cursor_row
        if not 0 <= index < len(self.timeline):
            return
        e = self.timeline[index]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.at)) + " UTC"
        body = Text()
        for label, value in (
            ("when", stamp),
            ("who", e.operator or "(automatic)"),
            ("what", e.kind),
            ("ref", e.ref),
        ):
            if value:
                body.append(f"{label:<5} ", style="bold")
                body.append(clean(value, limit=200) + "\n")
        body.append("\n" + clean(e.text, limit=4000, single_line=False))
        self.app.push_screen(DetailScreen(f"{self.incident_id} · {e.kind}", body))

    # --- changes ---------------------------------------------------------------------------

    async def _do(self, change: Any, done: str = "") -> bool:
        """Run one change; refusals (changed meanwhile, store down) are one line."""
        if not await apply_change(self, change):
            return False
        await self.reload()
        if done:
            self.notify(done, timeout=5)
        return True

    @work(exclusive=True, group="incident")
    async def action_acknowledge(self) -> None:
        """A second key first: acknowledging stops the response clock for everyone."""
        if await acknowledge(self, self.incident_id):
            await self.reload()

    @work(exclusive=True, group="incident")
    async def action_take_command(self) -> None:
        me = oncall_of(self).settings.operator
        now = self._cur("commander")
        if await self._confirm(
            f"Take command of {self.incident_id}",
            f"{me} becomes the incident commander"
            + (f" (instead of {now})" if now else "")
            + "; C hands it over again.",
        ):
            await self._do(
                self.service.set_commander(self.incident_id, me),
                f"{me} has command of {self.incident_id}.",
            )

    async def _confirm(self, title: str, text: str) -> bool:
        return bool(await self.app.push_screen_wait(YesNoPrompt(title, text)))

    @work(exclusive=True, group="incident")
    async def action_hand_command(self) -> None:
        who = await self.app.push_screen_wait(
            TextPrompt("Hand over command", "New commander (empty: nobody)", self._cur("commander"))
        )
        if who is not None:
            before = self._cur("commander") or "nobody"
            await self._do(
                self.service.set_commander(self.incident_id, who),
                f"{self.incident_id}: command handed to {who.strip() or 'nobody'} (was {before}).",
            )

    @work(exclusive=True, group="incident")
    async def action_status(self) -> None:
        current = self._cur("status")
        choices = [(s.value, s.value) for s in IncidentStatus]
        picked = await self.app.push_screen_wait(ChoicePrompt("Status", choices, current))
        if picked is None or picked == current:
            return
        why = await self.app.push_screen_wait(
            TextPrompt(f"Status → {picked}", "Why (optional, goes on the timeline)")
        )
        if why is None:
            return
        await self._do(
            self.service.set_status(self.incident_id, picked, why),
            f"{self.incident_id} is {picked} now (was {current}); s changes it again.",
        )

    @work(exclusive=True, group="incident")
    async def action_severity(self) -> None:
        current = self._cur("severity")
        choices = [(s.label, f"{s.label}") for s in Severity]
        picked = await self.app.push_screen_wait(
            ChoicePrompt("Severity", choices, severity_label(int(current or 3)))
        )
        if picked is not None:
            before = severity_label(int(current or 3))
            if picked != before:
                await self._do(
                    self.service.set_severity(self.incident_id, picked),
                    f"{self.incident_id} is {picked} now (was {before}); v changes it again.",
                )

    @work(exclusive=True, group="incident")
    async def action_note(self) -> None:
        text = await self.app.push_screen_wait(TextPrompt("Note", "What happened, what you saw"))
        if text:
            await self._do(
                self.service.note(self.incident_id, text), f"Note added to {self.incident_id}."
            )

    def _cur(self, field: str) -> str:
        return "" if self.record is None else str(getattr(self.record, field))

    @work(exclusive=True, group="incident")
    async def action_messages(self) -> None:
        from oncall_console.ui.screens.message import MessageScreen

        await self.app.push_screen_wait(MessageScreen(self.incident_id))
        await self.reload()

    def action_runbook(self) -> None:
        self.post_message(OpenRunbook(self.incident_id))
