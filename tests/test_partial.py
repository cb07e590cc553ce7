"""The narrower partial update writes fewer bytes and leaves the terminal exactly as
Textual's own would: both are replayed on a terminal emulator (pyte) over the same
previous screen, for random lines of styled segments (wide characters included) and
random changed spans."""

from __future__ import annotations

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from oncall_console.ui import partial

WIDTH, HEIGHT = 40, 4
ORIGINAL = partial.textual_render_segments or ChopsUpdate.render_segments  # Textual's own
assert ORIGINAL is not partial.render_segments
STYLES = [Style(), Style(bold=True), Style(color="red"), Style(bgcolor="blue", reverse=True)]
TEXT = st.text(alphabet="ab ✓▁█あ界-", min_size=1, max_size=6)


@st.composite
def updates(draw: st.DrawFn) -> ChopsUpdate:
    chops: list[dict[int, Strip | None]] = []
    ends: list[list[int]] = []
    for _ in range(HEIGHT):
        line: dict[int, Strip | None] = {}
        line_ends: list[int] = []
        x = 0
        while x < WIDTH:
            segments = []
            width = 0
            for _ in range(draw(st.integers(1, 5))):
                text = draw(TEXT)
                if x + width + cell_len(text) > WIDTH:
                    break
                segments.append(Segment(text, draw(st.sampled_from(STYLES))))
                width += cell_len(text)
            if not segments:
                segments, width = [Segment(" " * (WIDTH - x))], WIDTH - x
            line[x] = Strip(segments, width)
            x += width
            line_ends.append(x)
        chops.append(line)
        ends.append(line_ends)
    spans = []
    for y in sorted(draw(st.sets(st.integers(0, HEIGHT - 1), min_size=1))):
        x1 = draw(st.integers(0, WIDTH - 1))
        x2 = draw(st.integers(x1 + 1, WIDTH))
        spans.append((y, x1, x2))
    return ChopsUpdate(chops, spans, ends)


def replay(before: str, update: str) -> list[list[tuple[str, str, str, bool, bool]]]:
    screen = pyte.Screen(WIDTH, HEIGHT)
    stream = pyte.Stream(screen)
    stream.feed(before)
    stream.feed(update)
    return [
        [
            (c.data, c.fg, c.bg, c.bold, c.reverse)
            for c in (screen.buffer[y][x] for x in range(WIDTH))
        ]
        for y in range(HEIGHT)
    ]


CONSOLE = Console(force_terminal=True, color_system="256", width=WIDTH, legacy_windows=False)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(updates())
def test_same_screen_as_textuals_own_update(update: ChopsUpdate) -> None:
    partial.forget(CONSOLE)  # the terminal's lines not known: written as they come
    # The terminal shows the new lines already, except in the changed spans (old text).
    shown = "".join(
        f"\x1b[{y + 1};{x + 1}H" + strip.render(CONSOLE)
        for y, line in enumerate(update.chops)
        for x, strip in line.items()
        if strip is not None
    )
    stale = "".join(
        f"\x1b[0m\x1b[{y + 1};{x1 + 1}H" + "z" * (x2 - x1) for y, x1, x2 in update.spans
    )
    before = shown + stale
    theirs = ORIGINAL(update, CONSOLE)
    ours = partial.render_segments(update, CONSOLE)
    assert replay(before, ours) == replay(before, theirs)
    assert len(ours) <= len(theirs)


def test_a_change_at_the_end_of_a_line_writes_only_the_end() -> None:
    clock = [
        Segment(" oncall-console ", Style(reverse=True)),
        Segment(" " * 10),
        Segment("07:15:16"),
    ]
    update = ChopsUpdate([{0: Strip(clock, 34)}], [(0, 26, 34)], [[34]])
    ours = partial.render_segments(update, CONSOLE)
    assert "oncall-console" in ORIGINAL(update, CONSOLE)
    assert "oncall-console" not in ours and "07:15:16" in ours
    assert ours.startswith("\x1b[1;27H")


def test_installed_by_the_app() -> None:
    from oncall_console.ui.app import OncallApp  # noqa: F401  (importing it installs)

    if not partial.install():
        pytest.fail("Textual's ChopsUpdate changed shape: review oncall_console/ui/partial.py")
    assert ChopsUpdate.render_segments is partial.render_segments
    assert LayoutUpdate.render_segments is partial.layout_segments


# --- whole-screen frames: only the lines the terminal does not show already ----------

LAYOUT_ORIGINAL = partial.textual_layout_segments or LayoutUpdate.render_segments


def whole(update: ChopsUpdate) -> LayoutUpdate:
    """A whole-screen frame of the lines an update's chops make."""
    lines = [[s for s in line.values() if s is not None] for line in update.chops]
    return LayoutUpdate(lines, Region(0, 0, WIDTH, HEIGHT))


def screen_after(writes: list[str]) -> list[list[tuple[str, str, str, bool, bool]]]:
    return replay("".join(writes[:-1]), writes[-1])


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.sampled_from(["whole", "again", "part"]), updates()), max_size=6))
def test_whole_frames_leave_the_screen_as_textuals_own(steps: list[tuple[str, ChopsUpdate]]):
    """Whole frames, the same frame again, partial updates between them, in any order:
    after each, the terminal shows what it shows after Textual's own writes. Ours skip
    the cells the terminal is known to show (wide characters overwritten by halves and
    all). A partial update is what Textual sends: the screen as it is, with the lines
    in its spans changed."""
    partial.forget(CONSOLE)
    theirs: list[str] = []
    ours: list[str] = []
    last: LayoutUpdate | None = None
    blank = {0: Strip([Segment(" " * WIDTH)], WIDTH)}
    chops: list[dict[int, Strip | None]] = [dict(blank) for _ in range(HEIGHT)]
    ends: list[list[int]] = [[WIDTH] for _ in range(HEIGHT)]
    last_chops, last_ends = chops, ends
    for kind, update in steps:
        if kind == "part":
            spans = [(y, 0, WIDTH) for y, _x1, _x2 in update.spans]
            for y, _, _ in spans:
                chops[y], ends[y] = update.chops[y], update.chop_ends[y]
            now = ChopsUpdate(list(chops), spans, list(ends))
            theirs.append(ORIGINAL(now, CONSOLE))
            ours.append(partial.render_segments(now, CONSOLE))
        else:
            if kind != "again" or last is None:
                chops, ends = list(update.chops), list(update.chop_ends)
                last = whole(update)
            else:  # the last whole frame's lines again
                chops, ends = list(last_chops), list(last_ends)
            last_chops, last_ends = list(chops), list(ends)
            theirs.append(LAYOUT_ORIGINAL(last, CONSOLE))
            ours.append(partial.layout_segments(last, CONSOLE))
        assert screen_after(ours) == screen_after(theirs)


def test_the_same_frame_again_writes_nothing_and_a_forgotten_one_all() -> None:
    line = [Strip([Segment("Incidents & alerts", Style(bold=True))], 18)]
    frame = LayoutUpdate([line] * HEIGHT, Region(0, 0, WIDTH, HEIGHT))
    partial.forget(CONSOLE)
    first = partial.layout_segments(frame, CONSOLE)
    assert first.count("Incidents") == HEIGHT
    assert partial.layout_segments(frame, CONSOLE) == ""  # the terminal shows it already
    partial.forget(CONSOLE)  # ctrl+l, a resize, a resume
    assert partial.layout_segments(frame, CONSOLE) == first
    bigger = LayoutUpdate([line] * HEIGHT, Region(0, 0, WIDTH + 1, HEIGHT))
    assert partial.layout_segments(bigger, CONSOLE).count("Incidents") == HEIGHT


def test_after_a_partial_update_only_its_cells_are_written_back() -> None:
    line = [Strip([Segment("x" * WIDTH)], WIDTH)]
    frame = LayoutUpdate([line] * HEIGHT, Region(0, 0, WIDTH, HEIGHT))
    partial.forget(CONSOLE)
    partial.layout_segments(frame, CONSOLE)
    chops = [{0: Strip([Segment("y" * WIDTH)], WIDTH)} for _ in range(HEIGHT)]
    partial.render_segments(ChopsUpdate(chops, [(2, 0, 5)], [[WIDTH]] * HEIGHT), CONSOLE)
    again = partial.layout_segments(frame, CONSOLE)
    assert again == "\x1b[3;1Hxxxxx"  # the five cells the partial update changed
    same = [{0: Strip([Segment("x" * WIDTH)], WIDTH)} for _ in range(HEIGHT)]
    unchanged = ChopsUpdate(same, [(1, 0, 9)], [[WIDTH]] * HEIGHT)
    assert partial.render_segments(unchanged, CONSOLE) == ""  # the terminal shows it


def test_a_run_of_one_style_is_written_with_its_codes_once() -> None:
    """A sparkline comes as one segment a cell: each was written as SGR codes, the cell
    and a reset, ~40 bytes a cell in truecolor."""
    green = Style(color="#3fb950", bgcolor="#0e1116")
    spark = Strip([Segment("▃", green)] * 20 + [Segment(" ok", Style(bold=True))], 23)
    update = ChopsUpdate([{0: spark}], [(0, 0, 23)], [[23]])
    partial.forget(CONSOLE)
    theirs = ORIGINAL(update, CONSOLE)
    ours = partial.render_segments(update, CONSOLE)
    assert replay("", ours) == replay("", theirs)
    assert ours.count("\x1b[0m") == 2 and theirs.count("\x1b[0m") == 21
    frame = LayoutUpdate([[spark]], Region(0, 0, 23, 1))
    assert partial.layout_segments(frame, CONSOLE).count("\x1b[0m") == 2
