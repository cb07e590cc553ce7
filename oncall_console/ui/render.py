"""Small pure helpers that turn engine data into Rich ``Text`` (never markup strings)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.table import Table
from rich.text import Text

from oncall_console.fmt import latency, number
from oncall_console.model import DetailTable, Status
from oncall_console.text import clean

if TYPE_CHECKING:  # the alerts' model waits for the first alert (issue #14)
    from oncall_console.model import Severity

BARS = "▁▂▃▄▅▆▇█"

FOCUS_MARK = "▶"
"""Before the focused field's label: a character, so it shows without colour."""


def colour(variables: Mapping[str, str], name: str) -> Style:
    value = variables.get(name)
    return Style(color=value) if value else Style()


def status_style(variables: Mapping[str, str], status: Status) -> Style:
    """The status's colour, and weight that does not need colour: with NO_COLOR (or in 16
    colours) red came out dimmer than a healthy row's grey, so bad ranks above good by
    weight too: WARN and worse bold, CRIT and DOWN also reversed where they are marked."""
    style = colour(variables, f"status-{status.value}")
    if status.rank >= Status.DEGRADED.rank:
        style += Style(bold=True)
    return style


def status_glyph(status: Status, variables: Mapping[str, str]) -> Text:
    style = status_style(variables, status)
    if status.rank >= Status.CRITICAL.rank:
        style += Style(reverse=True)
    return Text(status.glyph, style=style)


def status_word(status: Status, variables: Mapping[str, str]) -> Text:
    return Text(
        f"{status.glyph} {status.label}", style=status_style(variables, status) + Style(bold=True)
    )


def severity_text(severity: Severity, variables: Mapping[str, str]) -> Text:
    from oncall_console.model.alerts import Severity

    style = colour(variables, f"sev{int(severity)}")
    if severity <= Severity.SEV2:
        style += Style(bold=True)
    return Text(severity.label, style=style)


def plain(text: object, limit: int = 200) -> Text:
    """Remote text as a literal: escapes stripped, markup never parsed."""
    return Text(clean(text, limit=limit), no_wrap=True, overflow="ellipsis")


__all__ = ["latency", "number"]


def sparkline(values: Iterable[float], width: int, include: Iterable[float | None] = ()) -> str:
    """A fixed-width sparkline of the last ``width`` values (left-padded).

    ``include`` widens the scale (e.g. to the warning threshold) so that noise
    around a healthy value stays flat instead of filling the whole height.
    """
    data = [v for v in values if v is not None][-width:] if width > 0 else []
    if not data:
        return " " * max(0, width)
    marks = [m for m in include if m is not None]
    lo, hi = min(data + marks), max(data + marks)
    span = hi - lo
    if span <= 1e-12:
        bars = BARS[0] * len(data)
    else:
        bars = "".join(
            BARS[min(len(BARS) - 1, int((v - lo) / span * (len(BARS) - 1) + 0.5))] for v in data
        )
    return bars.rjust(width)


def notify_error(widget: Any, title: str, exc: BaseException) -> None:
    """A refusal or failure told in one clean line (its text may be remote: no markup)."""
    widget.notify(clean(str(exc), limit=300), title=title, severity="error", timeout=8)


def detail_table(table: DetailTable) -> Table:
    """A backend's structured detail as a table of plain-text cells."""
    out = Table(
        title=Text(clean(table.title, limit=80)), title_justify="left", expand=False, box=None
    )  # a str title would be parsed as markup ("[/]" raised MarkupError)
    for column in table.columns:
        out.add_column(Text(clean(column, limit=40), style="bold"), overflow="fold")
    for row in table.rows[:200]:
        out.add_row(*(Text(clean(cell, limit=400)) for cell in row))
    if not table.rows:
        out.add_row(*(Text("—") for _ in table.columns))
    return out
