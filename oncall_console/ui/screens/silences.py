"""Silences: one made from the alerts panel's selected row, and the list of those in force
with expire from there. Both are ordinary actions of the alert's source (``silence``,
``expire-silence``), carried by the one action flow: params → preview → confirm → audit →
run. The author is the console's operator (the request carries it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static

from oncall_console.durations import format_age
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, ActionFinished, RunAction, oncall_of
from oncall_console.ui.screens.live import LiveScreen
from oncall_console.ui.widgets.tables import KeyedTable

if TYPE_CHECKING:
    from oncall_console.engine.api import OnCall
    from oncall_console.model import Alert, Silence

DEFAULT_DURATION = "1h"
SILENCES_TITLE = "Silences in force"


def matchers_for(alerts: list[Alert]) -> str:
    """Equality matchers on the labels every one of ``alerts`` shares (for one alert: all
    its labels, so the silence mutes that alert and no other), alertname first."""
    common = dict(alerts[0].labels)
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a.labels.get(k) == v}
    names = sorted(common, key=lambda k: (k != "alertname", k))
    return ",".join(f'{k}="{_quoted(common[k])}"' for k in names)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def silence_ask(oncall: OnCall, alerts: list[Alert], subject: str) -> RunAction | str:
    """The flow that silences ``alerts`` (one row: an alert or a folded group), or why not."""
    source = alerts[0].source
    spec = _spec(oncall, source, "silence")
    if spec is None:
        if oncall.settings.read_only:
            return "Read-only console: silences are refused."
        return f"{source or 'This source'} cannot silence alerts (no silence action)."
    if not any(a.labels for a in alerts):
        return f"{subject} has no labels to match."
    return RunAction(
        f"{subject} · by {oncall.settings.operator}",
        backend=source,
        spec=spec,
        values={"matchers": matchers_for(alerts), "duration": DEFAULT_DURATION},
        ask=("duration", "comment"),
    )


def _spec(oncall: OnCall, backend: str, action: str) -> Any:
    return next((s for b, s in oncall.actions_for(backend) if s.id == action), None)


class SilencesScreen(LiveScreen):
    """The silences every source holds now; X expires the selected one (asks)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="silences.back"),
        HELP,
        Binding(
            "X",
            "expire",
            "Expire",
            id="silences.expire",
            tooltip="Expire the selected silence now (preview, asks y)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Silence, ...] = ()
        self._seen: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="silences-panel", classes="panel") as panel:
            panel.border_title = SILENCES_TITLE
            yield Static(id="silences-empty")
            table = KeyedTable(id="silences", cursor_type="row")
            for key, label in (
                ("ends", "Ends in"),
                ("by", "By"),
                ("why", "Comment"),
                ("what", "Matchers"),
                ("src", "Source"),
            ):
                table.add_column(label, key=key)
            yield table
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.composed = True
        self.query_one(KeyedTable).focus()
        self.sync()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "expire" and oncall_of(self).settings.read_only)

    def sync(self, force: bool = False) -> None:
        if not self.whole:
            return
        now = self.app.clock()  # type: ignore[attr-defined]
        silences = tuple(oncall_of(self).silences())
        seen = (silences, int(now) // 5)
        if seen == self._seen and not force:
            return
        self._seen, self._shown = seen, silences
        table = self.query_one(KeyedTable)
        keep = table.selected_key
        table.clear()
        for s in silences:
            table.add_row(
                Text(format_age(max(0.0, s.ends_at - now), coarse=True), justify="right"),
                Text(clean(s.created_by, limit=20)),
                Text(clean(s.comment, limit=40)),
                Text(clean(", ".join(s.matchers), limit=200)),
                Text(clean(s.source, limit=30)),
                key=s.id,
            )
        keys = [s.id for s in silences]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        empty = self.query_one("#silences-empty", Static)
        empty.update("No silence in force: z on an alert (dashboard, 3) makes one.")
        empty.display = not silences

    def action_expire(self) -> None:
        key = self.query_one(KeyedTable).selected_key
        silence = next((s for s in self._shown if s.id == key), None)
        if silence is None:
            self.notify("No silence selected.", timeout=3)
            return
        oncall = oncall_of(self)
        spec = _spec(oncall, silence.source, "expire-silence")
        if spec is None:
            self.notify(f"{silence.source} cannot expire silences here.", timeout=5)
            return
        what = clean(", ".join(silence.matchers), limit=80)
        self.post_message(
            RunAction(
                f"silence {what} by {clean(silence.created_by, limit=30)}",
                backend=silence.source,
                spec=spec,
                values={"silence_id": silence.id},
                reply_to=self,
            )
        )

    def on_action_finished(self, event: ActionFinished) -> None:
        if event.succeeded:
            oncall_of(self).refresh()
