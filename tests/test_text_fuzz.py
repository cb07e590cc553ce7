"""Issue #16, finding 12: U+2028/2029, U+061C, the BOM and the word joiner passed the
text cleaner. Now no character of the categories Cc, Cf, Zl, Zp (or Cs) survives, bidi
controls included, mixed with text and Rich markup or not, and cleaning twice is
cleaning once."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from oncall_console.text import _CONTROLS, DROPPED, clean

KEPT = {"single": "", "multi": "\n"}
"""What each mode keeps of the dropped categories: nothing, or the newline."""

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def every(categories: frozenset[str]) -> list[str]:
    return [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in categories]


DROPPED_CHARS = every(DROPPED)


def dropped(out: str, mode: str) -> list[str]:
    """The characters of ``out`` that must not be there in ``mode``."""
    return [
        f"U+{ord(ch):04X}"
        for ch in out
        if unicodedata.category(ch) in DROPPED and ch not in KEPT[mode]
    ]


def cleaned(raw: str, mode: str, limit: int = 10_000) -> str:
    return clean(raw, limit=limit, single_line=mode == "single")


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_every_character_of_the_dropped_categories_goes(mode):
    """Exhaustive, over the running Python's Unicode: each alone, between letters, and
    all at once."""
    assert len(DROPPED_CHARS) > 2000 and set(BIDI_CONTROLS) <= set(DROPPED_CHARS)
    for ch in DROPPED_CHARS:
        out = cleaned(f"a{ch}b", mode)
        assert not dropped(out, mode), f"U+{ord(ch):04X} survives: {out!r}"
    assert not dropped(cleaned("".join(DROPPED_CHARS), mode), mode)


def test_the_fast_table_is_exactly_the_bmp_of_the_dropped_categories():
    """The regex does the common work at C speed; the slower check catches the rest
    (beyond the BMP, or a newer Unicode). Off by one character here is a slower clean
    (missing) or a lost character (extra): both fail."""
    wrong = [
        f"U+{c:04X}"
        for c in range(0x10000)
        if bool(_CONTROLS.match(chr(c)))
        != (unicodedata.category(chr(c)) in DROPPED and chr(c) not in "\t\n")
    ]
    assert not wrong


@pytest.mark.parametrize(
    ("raw", "single", "multi"),
    [
        ("a\u2028b\u2029c", "a b c", "a\nb\nc"),  # line and paragraph separators: breaks
        ("\u061cabc\u200f", "abc", "abc"),  # Arabic letter mark, RLM
        ("\ufeffstatus", "status", "status"),  # BOM
        ("pay\u2060pal", "paypal", "paypal"),  # word joiner
        ("x\u202egnp.exe", "xgnp.exe", "xgnp.exe"),  # RLO
        ("tag\U000e0041\U000e007f", "tag", "tag"),  # tag characters (beyond the BMP)
        ("soft\u00adhyphen", "softhyphen", "softhyphen"),
        ("[bold]a\u2066b\u2069[/]", "[bold]ab[/]", "[bold]ab[/]"),  # markup stays literal
    ],
)
def test_what_the_review_found_goes(raw, single, multi):
    assert clean(raw) == single
    assert clean(raw, single_line=False) == multi


def test_ordinary_text_is_kept():
    for text in ("naïve café ✓ 注意 🔥", "15\u00a0%", "a  b", "€ £ ¥", "\ue000 private use"):
        assert clean(text) == text


# Text to mix the dangerous characters into: letters, digits, spaces, newlines, tabs,
# Rich markup, escape introducers.
ORDINARY = st.sampled_from(
    [
        "api-gateway",
        " ",
        "\n",
        "\r\n",
        "\t",
        "[bold]",
        "[/]",
        "[link=https://evil]",
        "[red on white]x[/red on white]",
        "\x1b[",
        "\x1b]8;;",
        "\x9b",
        "31m",
        "\x07",
        "é",
        "注意",
        "\u00a0",
    ]
)
DANGEROUS = st.one_of(
    st.sampled_from(DROPPED_CHARS),
    st.sampled_from(BIDI_CONTROLS),
    st.characters(categories=["Cc", "Cf", "Zl", "Zp"]),
)
TEXT = st.lists(st.one_of(ORDINARY, DANGEROUS, st.text(max_size=8)), max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(raw=TEXT, mode=st.sampled_from(["single", "multi"]), limit=st.integers(1, 400))
@example(raw="\u2028" * 3 + "[bold]\u061c\ufeff\u2060[/]", mode="single", limit=400)
@example(raw="a\r\u2029\x1b]52;c;aGk=\u2028\x07b", mode="multi", limit=400)
def test_nothing_of_the_dropped_categories_survives_and_twice_is_once(raw, mode, limit):
    out = cleaned(raw, mode, limit)
    assert not dropped(out, mode), (raw, out)
    assert "\x1b" not in out
    assert len(out) <= limit
    assert cleaned(out, mode, limit) == out  # idempotent


def test_status_json_escapes_every_character_the_cleaner_drops():
    """`status --format json` keeps remote text whole but writes no control, format or
    separator character raw (U+2028, U+061C and the BOM passed before)."""
    import json
    import unicodedata

    from oncall_console.cli.reports import status_json

    nasty = "x\u2028y\u2029\u061c\ufeff\u2060\u202e\x9b\x7f\U000e0041 ok"
    text = status_json({"summary": nasty})
    assert json.loads(text)["summary"] == nasty
    raw = [c for c in text if c not in "\n\t"]
    assert not [c for c in raw if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")]
