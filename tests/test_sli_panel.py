"""SLI sparklines say how far back they reach, draw on a scale fixed by the thresholds,
and [ / ] change the range (issue #15, point 3)."""

from __future__ import annotations

from typing import Any

from oncall_console.model import Direction, Thresholds
from oncall_console.ui.widgets.sli import SliCard
from oncall_console.ui.widgets.sparkline import range_label, spark_text, threshold_scale
from tests.support.demoapp import demo_app, settle
from tests.test_help_keys import screen_text, until

LATENCY = Thresholds(500, 750, 1000, Direction.LOWER_IS_BETTER)
AVAILABILITY = Thresholds(99.9, 99.5, 99.0, Direction.HIGHER_IS_BETTER)


def test_the_scale_holds_the_thresholds_and_does_not_follow_the_data():
    low, high = threshold_scale(LATENCY)  # type: ignore[misc]
    assert low == 0 and 1000 < high < 1300  # critical near the top, a bar is the value
    low, high = threshold_scale(AVAILABILITY)  # type: ignore[misc]
    assert low < 99.0 and high > 99.9  # critical near the bottom
    assert threshold_scale(Thresholds(None, None, None)) is None

    healthy = spark_text([280.0] * 10, 10, LATENCY, {}).plain
    # A sustained incident is above critical: full bars, and the healthy stretch before it
    # keeps the very bars it had alone (autoscaled, both stretches took the full height).
    incident = spark_text([280.0] * 5 + [1232.0] * 5, 10, LATENCY, {}).plain
    assert incident[:5] == healthy[:5] and set(incident[5:]) == {"█"}
    assert set(healthy) == {"▃"}
    sustained = spark_text([1232.0, 1240.0, 1228.0], 3, LATENCY, {}).plain
    assert sustained == "███"


def test_each_bar_is_marked_by_its_own_threshold():
    line = spark_text([280.0, 800.0, 1200.0], 3, LATENCY, {})
    bold = {
        i for span in line.spans if "bold" in str(span.style) for i in range(span.start, span.end)
    }
    assert bold == {1, 2}  # WARN and CRIT bars weigh more, colour or not
    assert range_label(300) == "5m" and range_label(3600) == "1h" and range_label(118) == "2m"


async def test_the_panel_and_each_sparkline_say_their_range_and_brackets_change_it():
    app = demo_app(at=400)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        cards = list(app.dashboard.query(SliCard))
        assert cards

        def ranged(seconds: float) -> bool:
            return all(c.range == seconds and c.ranged is not None for c in cards)

        async def shown(seconds: float) -> str:
            await until(pilot, f"the {seconds}s range", lambda: ranged(seconds))
            app.dashboard.sync(force=True)
            await pilot.pause()
            return screen_text(app)

        text = await shown(300)
        assert "SLIs · last 5m" in text
        lines = [card.lines()[1].plain for card in cards]
        assert all(line.startswith("5m ") for line in lines)
        # From the source's history over the range (the demo keeps one), not the polls.
        width = cards[0].size.width
        assert all(len(c.ranged[""]) == width - len("5m ") for c in cards)  # type: ignore[index]

        await pilot.press("right_square_bracket")
        text = await shown(900)
        assert "SLIs · last 15m" in text
        assert all(card.lines()[1].plain.startswith("15m ") for card in cards)
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        assert "SLIs · last 6h" in await shown(6 * 3600)  # the longest, and it stays there
        before = {c.state.spec.name: c.lines()[1].plain for c in cards}
        await pilot.press("left_square_bracket")
        await shown(3600)
        after = {c.state.spec.name: c.lines()[1].plain for c in cards}
        assert before != after
        await pilot.press(*["left_square_bracket"] * 4)
        assert "SLIs · last 5m" in await shown(300)


async def test_a_source_without_history_shows_its_polled_values_with_their_span(
    monkeypatch: Any,
):
    from oncall_console.backends.demo.backend import DemoBackend

    async def no_history(self: Any, sli: Any, seconds: float, points: int) -> Any:
        raise NotImplementedError

    monkeypatch.setattr(DemoBackend, "sli_range", no_history)
    app = demo_app(at=400)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        card = app.dashboard.query_one(SliCard)
        await until(pilot, "asked", lambda: not card._keeps_history)
        assert card.ranged is None
        assert card.lines()[1].plain.startswith("~")  # about the span of its polled points
