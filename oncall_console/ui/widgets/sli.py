"""SLI cards: value against target / warning / critical, a sparkline over a named range
(``[`` / ``]`` change it; the source's ``sli_range`` fills it), the bad direction."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

from oncall_console.durations import format_age
from oncall_console.engine.state import SliState
from oncall_console.model import Direction, SliReading, Status
from oncall_console.ui.messages import oncall_of
from oncall_console.ui.render import colour, number, plain, status_style, status_word
from oncall_console.ui.widgets.sparkline import RANGES, range_label, spark_text


class SliCard(Widget, can_focus=False):
    """Three lines for one SLI; repainted only when its facts change."""

    DEFAULT_CSS = """
    SliCard { height: 3; width: 1fr; }
    """

    def __init__(self, state: SliState, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.state = state
        self._facts: tuple[object, ...] = ()
        self._shown: list[Text] = []
        self.now = 0.0
        self.range = RANGES[0]
        """Seconds the sparkline reaches back."""
        self.ranged: dict[str, tuple[float, ...]] | None = None
        """The source's values over ``range`` per series (None: not fetched, or it keeps
        no history and the line shows the polled values)."""
        self._fetched: tuple[float, int, float] | None = None  # (range, version, at)
        self._keeps_history = True

    def set_range(self, seconds: float) -> None:
        """Reach back ``seconds`` (fetched from the source; shown when it comes)."""
        if seconds != self.range:
            self.range, self.ranged, self._fetched = seconds, None, None
            self._facts = ()
            self.sync(self.now)

    def on_resize(self) -> None:
        # A sync before the card was laid out (no width yet) fetched nothing: fetch now
        # rather than at the next reading (which a quiet SLI may not bring for a while).
        self._want_range(self.now)

    def _want_range(self, now: float) -> None:
        """Fetch the range again when it changed, or after a new reading once a bar's
        worth of time has passed (not on every poll for six hours of history)."""
        if not self._keeps_history or not self.is_mounted or self.size.width < 10:
            return
        fetched, s = self._fetched, self.state
        if fetched is not None:
            seconds, version, at = fetched
            step = seconds / max(1, self.size.width)
            if seconds == self.range and (version == s.version or now - at < step):
                return
        self._fetched = (self.range, s.version, now)
        points = self.size.width - len(range_label(self.range)) - 1
        self.run_worker(self._load(self.range, points), group="range", exclusive=True)

    async def _load(self, seconds: float, points: int) -> None:
        try:
            got = await oncall_of(self).sli_range(self.state.spec.name, seconds, points)
        except Exception:  # a failed range keeps the polled values; the next poll retries
            self._fetched = None
            return
        if got is None:
            self._keeps_history = False
        if seconds == self.range:
            self.ranged = got
            self._facts = ()
            self.sync(self.now)

    def sync(self, now: float) -> None:
        self.now = now
        s = self.state
        self._want_range(now)
        facts = (s.version, s.status(now), self.size.width, self.range, id(self.ranged))
        if facts == self._facts:
            return
        self._facts = facts
        # Repaint only the lines that changed: a new point moves the sparkline, while the
        # title and the budget line mostly stay as they were.
        before, after = self._shown, self.lines()
        if len(before) != len(after):
            self.refresh()
            return
        for y, (old, new) in enumerate(zip(before, after, strict=True)):
            if old != new:
                self.refresh(Region(0, y, self.size.width, 1))

    def worst(self) -> SliReading | None:
        readings = list(self.state.readings.values())
        if not readings:
            return None
        return max(readings, key=lambda r: (r.status.rank, r.value or 0.0))

    def render(self) -> Text:
        self._shown = self.lines()
        return Text("\n").join(self._shown)

    def lines(self) -> list[Text]:
        """Head (title, value, status), sparkline, thresholds and budget."""
        v = self.app.theme_variables
        s, spec = self.state, self.state.spec
        width = max(10, self.size.width)
        status = s.status(self.now)
        reading = self.worst()
        value = number(reading.value if reading else None, spec.unit)
        series = f" [{len(s.readings)}]" if len(s.readings) > 1 else ""

        head = Text(no_wrap=True, overflow="ellipsis")
        word = status_word(status, v)
        title = plain(spec.label + series, 60)
        value_text = Text(value, style=status_style(v, status) + Style(bold=True))
        room = width - value_text.cell_len - word.cell_len - 3
        if title.cell_len > room >= 8:  # narrow (80x24): the name gives way, not the status
            title.truncate(room, overflow="ellipsis")
        if width - title.cell_len - value_text.cell_len - word.cell_len - 3 < 0:
            word = Text(status.glyph, style=word.style)  # narrower: the glyph alone still tells
        pad = width - title.cell_len - value_text.cell_len - word.cell_len - 2
        head.append_text(title)
        head.append(" " * max(1, pad))
        head.append_text(value_text)
        head.append("  ")
        head.append_text(word)

        spark = self._spark(reading, width, v)
        if s.error:
            spark = Text(
                plain(f"error: {s.error}", width).plain, style=status_style(v, Status.DOWN)
            )
        elif reading is not None and reading.value is None and reading.note:
            spark = Text(plain(reading.note, width).plain, style=status_style(v, Status.UNKNOWN))

        t = spec.thresholds
        bad = t.direction.bad_arrow
        op = "≤" if t.direction is Direction.LOWER_IS_BETTER else "≥"
        parts = []
        # What decides a page comes first: the budget and how fast it burns.
        if status is Status.STALE and s.at is not None:
            parts.append(f"stale {format_age(self.now - s.at)}")
        if reading and reading.budget_remaining is not None:
            parts.append(f"budget {reading.budget_remaining * 100:.0f}%")
        if reading and reading.burn_rate is not None:
            parts.append(f"burn {reading.burn_rate:.1f}×")
        if t.target is not None:
            parts.append(f"target {op}{number(t.target)}")
        if t.warning is not None:
            parts.append(f"warn {number(t.warning)}")
        if t.critical is not None:
            parts.append(f"crit {number(t.critical)}")
        parts.append(f"{bad} bad")
        foot = Text(" · ".join(parts), style=colour(v, "muted"), no_wrap=True, overflow="ellipsis")
        return [head, spark, foot]

    def _spark(self, reading: SliReading | None, width: int, v: Mapping[str, str]) -> Text:
        """The range it reaches back ("5m"), then the line on the thresholds' scale."""
        s, series = self.state, reading.series if reading else ""
        if self.ranged is not None:
            label, history = range_label(self.range), self.ranged.get(series, ())
        else:  # the polled values: about an interval apart
            history = tuple(s.history.get(series, ())) if reading else ()
            drawn = min(len(history), width - 5)  # the label takes a few columns
            label = "~" + range_label(max(1, drawn - 1) * s.spec.interval)
        line = Text(label + " ", style=colour(v, "muted"), no_wrap=True)
        line.append_text(spark_text(history, width - line.cell_len, s.spec.thresholds, v))
        return line


def card_order(states: Mapping[str, SliState]) -> list[SliState]:
    return list(states.values())
