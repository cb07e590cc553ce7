"""The alerting rules screen: every rule a backend evaluates (Prometheus's own, or its
rule files), with its threshold, its ``for``, its severity and its state now.

Read-only: it shows what would page and why. Firing rules come first, then pending,
then by severity. The selected rule's expression, summary, labels and runbook are
shown below the table. Rules are read when the screen opens and on ``r``.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from oncall_console.model.rules import AlertRule, RuleSet
from oncall_console.text import clean
from oncall_console.ui.messages import HELP, oncall_of
from oncall_console.ui.widgets.tables import KeyedTable

_STATE_ORDER = {"firing": 0, "pending": 1, "inactive": 2, "": 3}
COLUMNS = ("STATE", "SEV", "ALERT", "THRESHOLD", "FOR", "GROUP")


def ordered(sets: list[RuleSet]) -> list[AlertRule]:
    """Firing first, then pending, then the most severe, then by name."""
    rules = [r for s in sets for r in s.rules]
    return sorted(rules, key=lambda r: (_STATE_ORDER.get(r.state, 3), r.severity, r.name))


def headline(sets: list[RuleSet]) -> str:
    rules = [r for s in sets for r in s.rules]
    firing = sum(1 for r in rules if r.state == "firing")
    pending = sum(1 for r in rules if r.state == "pending")
    recording = sum(s.recording for s in sets)
    text = f"{len(rules)} alerting rules · {firing} firing · {pending} pending"
    if recording:
        text += f" · {recording} recording rules not listed"
    return text


def describe_rule(rule: AlertRule) -> Text:
    """The selected rule in full, as plain text."""
    out = Text()
    out.append(f"{rule.name}", style="bold")
    out.append(f"  {rule.severity.label}  {rule.state or 'state unknown'}")
    if rule.active:
        out.append(f" ({rule.active} alert{'s' if rule.active != 1 else ''})")
    out.append("\n")
    if rule.summary:
        out.append(f"{rule.summary}\n")
    out.append("expr: ", style="bold")
    out.append(f"{rule.expr}\n")
    if rule.for_:
        out.append(f"for: {rule.for_}\n")
    if rule.labels:
        out.append("labels: " + ", ".join(f"{k}={v}" for k, v in rule.labels.items()) + "\n")
    if rule.runbook_url:
        out.append(f"runbook: {rule.runbook_url}\n")
    out.append(f"from: {rule.origin} · group {rule.group}")
    return out


class RulesScreen(Screen[None]):
    """Alerting rules with their thresholds and state; read-only."""

    DEFAULT_CSS = """
    RulesScreen #rules-head { height: auto; max-height: 5; padding: 0 1; }
    RulesScreen #rules-table { height: 1fr; }
    RulesScreen #rules-detail { height: 9; }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="rules.back"),
        HELP,
        Binding("r", "reload", "Reload", id="rules.reload", tooltip="Read the rules again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sets: list[RuleSet] = []
        self.rules: list[AlertRule] = []

    def compose(self) -> ComposeResult:
        yield Static("reading the alerting rules…", id="rules-head")
        table = KeyedTable(id="rules-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "Alerting rules"
        yield table
        with VerticalScroll(id="rules-detail", classes="panel"):
            yield Static(id="rules-detail-text")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()
        self.action_reload()

    @work(exclusive=True, group="rules")
    async def action_reload(self) -> None:
        self.show(await oncall_of(self).rules())

    def show(self, sets: list[RuleSet]) -> None:
        self.sets, self.rules = sets, ordered(sets)
        head = Text(headline(sets) if sets else "no backend lists alerting rules")
        for s in sets:
            for error in s.errors:
                head.append(f"\n{clean(s.source, limit=40)}: {clean(error, limit=300)}")
        self.query_one("#rules-head", Static).update(head)
        table = self.query_one(DataTable)
        table.clear()
        for n, r in enumerate(self.rules):
            table.add_row(
                Text(r.state or "?"),
                Text(r.severity.label),
                Text(r.name),
                Text(r.threshold or "—"),
                Text(r.for_ or "—"),
                Text(r.group),
                key=str(n),
            )
        self._detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, row: int) -> None:
        text = describe_rule(self.rules[row]) if 0 <= row < len(self.rules) else Text("")
        self.query_one("#rules-detail-text", Static).update(text)
