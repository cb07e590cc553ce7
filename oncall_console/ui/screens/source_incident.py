"""An incident a source owns (PagerDuty, the demo's INC-2041): read here, worked there.

The box says who owns it and how to take it over: ``t`` (take command, as on the
incident screen) declares this console's own incident from its firing alerts, notes
where it came from and gives the operator command; then its screen opens.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from oncall_console.model import Incident
from oncall_console.text import clean
from oncall_console.ui.messages import oncall_of
from oncall_console.ui.render import notify_error
from oncall_console.ui.screens.detail import incident_detail


def owner_text(incident: Incident, source: str, read_only: bool) -> Text:
    """Who owns it, and how to take it over (or why this console cannot)."""
    text = Text()
    text.append("Owned by ", style="bold")
    text.append(clean(source or "its source", limit=40))
    if incident.commander:
        text.append(" · commander ")
        text.append(clean(incident.commander, limit=40), style="bold")
    text.append("\nRead here; changes are made where it lives.\n")
    if read_only:
        text.append("A read-only console cannot take it over.\n")
    else:
        text.append("t takes it over", style="bold")
        text.append(
            ": this console declares its own incident from the firing alerts, notes where"
            " it came from, and gives you command (asks y).\n"
        )
    return text


class SourceIncidentScreen(ModalScreen[str | None]):
    """A source's incident, read only; dismissed with "take" when t is pressed."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="detail.close"),
        Binding("t", "take_over", "Take over", id="incident.take", tooltip="Take it over here"),
    ]

    def __init__(self, incident: Incident, source: str, now: float) -> None:
        super().__init__()
        self.incident = incident
        self.source = source
        self.now = now
        self.title_text = f"Incident {clean(incident.id, limit=40)}"

    def compose(self) -> ComposeResult:
        read_only = oncall_of(self).settings.read_only
        with VerticalScroll(id="detail-box") as box:
            box.border_title = Content(self.title_text)
            box.border_subtitle = "esc close" if read_only else "t take over · esc close"
            body = Group(
                owner_text(self.incident, self.source, read_only),
                incident_detail(self.incident, self.now),
            )
            yield Static(body, id="detail-body")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "take_over" and oncall_of(self).settings.read_only)

    async def action_dismiss(self, result: str | None = None) -> None:
        self.dismiss(result)

    def action_take_over(self) -> None:
        self.dismiss("take")


async def take_over(screen: Screen[object], incident: Incident, source: str) -> str | None:
    """Declare this console's incident for a source's one (after a y); its new id, or None."""
    from oncall_console.ui.screens.prompts import YesNoPrompt

    oncall = oncall_of(screen)
    firing = [a for a in oncall.alerts() if a.fingerprint in incident.alerts]
    name = clean(incident.id, limit=40)
    if not firing:
        screen.notify(
            f"{name} has no alert firing here to declare from: work it in "
            f"{clean(source or 'its source', limit=40)}.",
            timeout=8,
        )
        return None
    me = oncall.settings.operator
    there = clean(incident.commander, limit=40) or "nobody"
    first = firing[0]
    yes = await screen.app.push_screen_wait(
        YesNoPrompt(
            f"Take over {name}",
            f"Declare this console's incident from {first.name} ({len(firing)} alert(s) of "
            f"{name}), note that it was taken over from {name} (commander there: {there}), "
            f"and make {me} its commander.",
        )
    )
    if not yes:
        screen.notify(f"{name} not taken over: nothing changed.", timeout=4)
        return None
    desk = oncall.incidents
    try:
        record = await desk.declare(from_alert=first)
        await desk.note(
            record.id,
            f"Taken over from {name} ({source or 'its source'}; commander there: {there})",
        )
        await desk.set_commander(record.id, me)
        await desk.refresh()
    except Exception as exc:
        notify_error(screen, f"{name} not taken over", exc)
        return None
    screen.notify(
        f"Took over {name} as {record.id}: {me} has command (tell {there}).",
        title="Incident",
        timeout=8,
    )
    return record.id
