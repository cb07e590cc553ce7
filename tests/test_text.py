"""Remote text is data: no escape sequence or control character survives cleaning."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from oncall_console.text import clean


def test_markup_is_kept_literally_and_escapes_are_removed():
    raw = "[bold red]boom[/] \x1b[31mred\x1b[0m \x1b]52;c;SGVsbG8=\x07 \x9b2J end"
    assert clean(raw) == "[bold red]boom[/] red  2J end" or "\x1b" not in clean(raw)
    out = clean(raw)
    assert "[bold red]boom[/]" in out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out


def test_newlines_fold_for_single_line_cells_and_stay_for_bodies():
    assert clean("a\nb\r\nc\td") == "a b c d"
    assert clean("a\nb", single_line=False) == "a\nb"


def test_long_text_is_bounded():
    assert len(clean("x" * 10_000, limit=50)) == 50


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
@example("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\")
@example("\x1bP+q\x1b\\")
def test_nothing_a_terminal_would_act_on_survives(raw):
    out = clean(raw, limit=10_000)
    assert not any(ch in out for ch in "\x1b\x07\x08\x0d\x7f")
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in out)
    assert not any(ord(ch) < 0x20 for ch in out)
