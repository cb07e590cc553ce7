"""Incidents first, then active alerts: severity, what, state, age; a filter narrows them."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text

from oncall_console.durations import format_age
from oncall_console.text import clean
from oncall_console.ui.render import colour, plain, severity_text
from oncall_console.ui.widgets.tables import KeyedTable

if TYPE_CHECKING:  # imported when alerts come, not for the first frame (issue #14)
    from oncall_console.model import Alert, Incident

# "What" comes last but one: at 80 columns it is the one that gets cut, not the state.
COLUMNS = (
    ("sev", "Sev"),
    ("age", "Age"),
    ("state", "State"),
    ("what", "What"),
    ("source", "Source"),
)

MAX_ALERT_ROWS = 100
"""Alert rows drawn at most; the rest are counted in one last row (the filter finds them).
A DataTable row costs ~0.3 ms to add, and a keystroke may rebuild them all."""
MORE_KEY = "more:alerts"
MAX_UNDER_INCIDENT = 5
"""Attached alerts drawn under their incident; the incident's screen lists them all."""


class AlertsTable(KeyedTable):
    """Incidents, alerts (at most ``MAX_ALERT_ROWS``) and notices; only changed cells repaint."""

    def __init__(
        self, counted: Callable[[int, int, str], None] | None = None, **kwargs: object
    ) -> None:
        """``counted(matched, total, query)`` is called when those change, at once: a
        message would put the panel's title a frame behind its rows."""
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._on_counted = counted
        self._rows: dict[str, tuple[object, ...]] = {}
        self._order: list[str] = []
        self._query = ""
        self._typed = ""
        self._haystacks: dict[str, tuple[Alert, str]] = {}  # fingerprint -> (alert, text)
        self._hay_of: list[Alert] = []  # the alerts ``_hay`` is aligned with
        self._hay: list[str] = []
        # The last query, the indexes it matched and those alerts.
        self._hits: tuple[str, list[int], list[Alert]] = ("", [], [])
        self._grouped: tuple[list[Alert], dict[str, list[Alert]]] = ([], {})
        self._last: tuple[list[Incident], list[Alert], Mapping[str, tuple[str, str]]] | None = None
        self._variables: Mapping[str, str] = {}
        self._counted: tuple[int, int, str] | None = None
        self._expanded: set[str] = set()
        self._members: dict[str, list[Alert]] = {}
        self._now = 0.0
        self._split: tuple[list[Alert], dict[str, str], Any] = ([], {}, ({}, []))
        self._ours: Callable[[str], bool] = lambda _id: True
        """Whether an incident is this console's (in its store), not a source's."""
        self._owner: Callable[[str], str] = lambda _id: ""
        """The source an incident not ours comes from."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def know_owners(self, ours: Callable[[str], bool], owner: Callable[[str], str]) -> None:
        """How to tell this console's incidents from a source's, and name that source."""
        self._ours, self._owner = ours, owner

    @property
    def filter_text(self) -> str:
        """The filter in force, as typed ("" when none)."""
        return self._typed

    def set_filter(self, text: str, now: float) -> None:
        """Show only rows whose name, labels or summary contain ``text`` (any case)."""
        typed = text.strip()
        if typed.casefold() == self._query:
            return
        self._typed, self._query = typed, typed.casefold()
        if self._last is not None:
            self.sync(*self._last, now, self._variables)
        if self.row_count:
            self.move_cursor(row=0)

    def _filtered(self, alerts: list[Alert]) -> list[Alert]:
        """The alerts whose name, labels or summary contain the query (already casefolded)."""
        if not _same_items(alerts, self._hay_of):
            # Other alerts (a poll brought changes): texts are kept per alert, so only new
            # or changed alerts are joined again; alerts that went away are forgotten.
            old, new = self._haystacks, {}
            for a in alerts:
                cached = old.get(a.fingerprint)
                if cached is None or not _same_text(cached[0], a):
                    labels = " ".join(f"{k}={v}" for k, v in a.labels.items())
                    cached = (a, f"{a.name} {labels} {a.summary}".casefold())
                new[a.fingerprint] = cached
            self._haystacks, self._hay_of = new, alerts
            self._hay = [new[a.fingerprint][1] for a in alerts]
            self._hits = ("", [], [])
        query, hay = self._query, self._hay
        last, hits, shown = self._hits
        if query == last:  # a tick, or a poll that changed nothing
            return shown
        # Typing on narrows: only the rows the shorter query matched can match the longer one.
        pool = hits if last and query.startswith(last) else range(len(hay))
        found = [i for i in pool if query in hay[i]]
        shown = [self._hay_of[i] for i in found]
        self._hits = (query, found, shown)
        return shown

    def sync(
        self,
        incidents: list[Incident],
        alerts: list[Alert],
        notices: Mapping[str, tuple[str, str]],
        now: float,
        variables: Mapping[str, str],
    ) -> None:
        self._last, self._variables, self._now = (incidents, alerts, notices), variables, now
        query = self._query
        rows: dict[str, tuple[object, ...]] = {}
        matched = 0
        if query:
            alerts = self._filtered(alerts)
        matched += len(alerts)
        # An alert attached to an incident is drawn under it, not as a row of its own.
        under, alerts = self._attached(incidents, alerts)
        for i in incidents:
            what = f"{i.id} {i.title}"
            members = under.get(i.id, [])
            if query and query not in what.casefold() and not members:
                continue
            matched += 1
            rows[f"incident:{i.id}"] = (
                i.severity,
                format_age(now - i.opened_at, coarse=True),
                i.status.value,
                what,
                "incident" if self._ours(i.id) else f"{self._owner(i.id) or 'source'} incident",
            )
            for a in members[:MAX_UNDER_INCIDENT]:
                rows[f"alert:{a.fingerprint}"] = _alert_facts(a, now, indent=True)
            if len(members) > MAX_UNDER_INCIDENT:
                more = len(members) - MAX_UNDER_INCIDENT
                rows[f"more:{i.id}"] = (
                    "",
                    "",
                    "",
                    f"  └ … {more} more attached: enter opens {i.id}",
                    "",
                )
        # Alerts of one group (the grouping key: Alertmanager's group_by) fold into one row,
        # at the place of its worst alert; enter unfolds it. Only drawn rows are worked out:
        # the rest of 10,000 alerts is a count.
        if not _same_items(alerts, self._grouped[0]):
            self._grouped = (alerts, _groups(alerts))
        members = self._members = self._grouped[1]
        drawn = 0
        covered = 0  # alerts the drawn rows stand for (a folded group for all its alerts)
        placed: set[str] = set()
        for a in alerts:
            if drawn >= MAX_ALERT_ROWS:
                break
            group = members.get(a.group) if a.group else None  # in a group of two or more
            if group is not None:
                if a.group in placed:
                    continue
                placed.add(a.group)
                rows[f"group:{a.group}"] = _group_facts(group, now, a.group in self._expanded)
                drawn += 1
                covered += len(group)
                if a.group in self._expanded:
                    for m in group:
                        rows[f"alert:{m.fingerprint}"] = _alert_facts(m, now, indent=True)
                continue
            rows[f"alert:{a.fingerprint}"] = _alert_facts(a, now)
            drawn += 1
            covered += 1
        hidden = len(alerts) - covered
        if hidden > 0:
            rows[MORE_KEY] = ("", "", "", f"… {hidden:,} more alerts: / filters them", "")
        for key, (state, text) in notices.items():
            rows[f"notice:{key}"] = (None, "", state, text, key.partition(":")[0])
        order = list(rows)
        if order != self._order:
            # Rows came or went: rebuild, keeping the cursor on the same key when possible.
            # Someone reading the list keeps their row; otherwise the top (worst) row is selected.
            keep = self.selected_key if self.has_focus else None
            self.clear()
            for key, facts in rows.items():
                self.add_row(*self._make_cells(facts, variables), key=key)
            self.move_cursor(row=order.index(keep) if keep in rows else 0)
        else:
            for key, facts in rows.items():
                old = self._rows.get(key)
                if old == facts:
                    continue
                for (col, _), before, after, cell in zip(
                    COLUMNS, old or (), facts, self._make_cells(facts, variables), strict=False
                ):
                    if before != after:
                        self.update_cell(key, col, cell)
        self._rows, self._order = rows, order
        total = len(incidents) + len(self._last[1])
        counted = (matched, total, self._typed)
        if counted != self._counted:
            self._counted = counted
            if self._on_counted is not None:
                self._on_counted(*counted)

    def _attached(
        self, incidents: list[Incident], alerts: list[Alert]
    ) -> tuple[dict[str, list[Alert]], list[Alert]]:
        """(incident id -> its attached alerts, the alerts attached to none), kept while
        the same alerts and incidents come back (a tick, a poll that changed nothing)."""
        # Open incidents only: an alert that fires again after its incident was resolved
        # is news, on a row of its own.
        from oncall_console.model.alerts import IncidentStatus

        owner = {
            fp: i.id
            for i in reversed(incidents)
            if i.status is not IncidentStatus.RESOLVED
            for fp in i.alerts
        }
        if not owner:
            return {}, alerts
        cached_alerts, cached_owner, result = self._split
        if cached_owner == owner and _same_items(alerts, cached_alerts):
            return result
        under: dict[str, list[Alert]] = {}
        rest = []
        for a in alerts:
            held = owner.get(a.fingerprint)
            if held is None:
                rest.append(a)
            else:
                under.setdefault(held, []).append(a)
        self._split = (alerts, owner, (under, rest))
        return under, rest

    def toggle_group(self, group: str) -> None:
        """Unfold a folded group (its alerts under it), or fold it again."""
        self._expanded ^= {group}
        if self._last is not None:
            self.sync(*self._last, self._now, self._variables)

    def alert_key(self, key: str | None) -> str | None:
        """The fingerprint a row stands for: its alert, or a group's worst alert."""
        kind, _, ident = (key or "").partition(":")
        if kind == "alert":
            return ident
        if kind == "group" and ident in self._members:
            return self._members[ident][0].fingerprint
        return None

    def group_of(self, key: str | None) -> list[Alert]:
        """The alerts a folded group row stands for ([] for any other row)."""
        kind, _, ident = (key or "").partition(":")
        return list(self._members.get(ident, [])) if kind == "group" else []

    def restyle(self, variables: Mapping[str, str]) -> None:
        """Force a rebuild on the next sync (after a theme change)."""
        self._order, self._rows = [], {}

    @staticmethod
    def _make_cells(facts: tuple[object, ...], variables: Mapping[str, str]) -> tuple[Text, ...]:
        from oncall_console.model.alerts import Severity

        sev, age, state, what, source = facts
        if isinstance(sev, Severity):
            sev_cell = severity_text(sev, variables)
        elif sev is None:  # a notice: a source down, an action of unknown outcome
            sev_cell = Text("ERR", style=colour(variables, "status-down"))
        else:  # the "more" row
            sev_cell = Text("")
        return (
            sev_cell,
            Text(str(age), justify="right"),
            plain(state, 30),
            plain(what, 200),
            plain(source, 40),
        )


def _groups(alerts: list[Alert]) -> dict[str, list[Alert]]:
    """Groups of two or more alerts, each worst first (the order ``alerts`` comes in)."""
    by: dict[str, list[Alert]] = {}
    for a in alerts:
        if a.group:
            by.setdefault(a.group, []).append(a)
    return {g: m for g, m in by.items() if len(m) > 1}


def _alert_facts(a: Alert, now: float, indent: bool = False) -> tuple[object, ...]:
    what = f"{a.name}: {a.summary}" if a.summary else a.name
    return (
        a.severity,
        format_age(now - a.starts_at, coarse=True),
        a.state.value,
        ("  └ " if indent else "") + what,
        a.source,
    )


def _group_facts(group: list[Alert], now: float, open_: bool) -> tuple[object, ...]:
    worst = group[0]
    sources = sorted({a.source for a in group})
    active = sum(1 for a in group if a.state.value == "active")
    return (
        min(a.severity for a in group),
        format_age(now - min(a.starts_at for a in group), coarse=True),
        f"{active}/{len(group)} active",
        f"{'▾' if open_ else '▸'} {worst.name} ×{len(group)}: {worst.summary or worst.group}",
        sources[0] if len(sources) == 1 else f"{len(sources)} sources",
    )


def _same_items(new: list[Alert], old: list[Alert]) -> bool:
    """The very same alerts in the same order: the engine hands out a copy of its list
    each time, with the same alert objects until a poll brings a change (~0.2 ms for
    10,000; joining their texts or grouping them again is ~10 ms)."""
    return new is old or (len(new) == len(old) and all(map(operator.is_, new, old)))


def _same_text(old: Alert, new: Alert) -> bool:
    """Same searchable text (each poll brings new but mostly equal alert objects)."""
    return old is new or (
        old.name == new.name and old.summary == new.summary and old.labels == new.labels
    )


def filter_title(base: str, matched: int, total: int, query: str) -> Text:
    """The panel title while a filter is in force: the user's text shown as typed, never markup."""
    if not query:
        return Text(base)
    return Text(f'{base} · {matched:,} of {total:,} match "{clean(query, limit=40)}"')
