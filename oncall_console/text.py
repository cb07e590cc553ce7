"""Remote text is data: strip what a terminal would act on before it is shown.

What goes: escape sequences (CSI, OSC, DCS…, 8-bit ones too) and every character of
the Unicode categories Cc (controls), Cf (format: bidi controls such as U+202E and
U+061C, zero-width characters, the BOM, word joiners, tag characters), Zl and Zp (line
and paragraph separators) and Cs (lone surrogates, which cannot even be encoded).
Newlines are the one exception: folded to spaces for one-line cells, kept for bodies
(so are U+2028 and U+2029, line breaks by another name); a tab is a space, or four.
"""

from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences: CSI (ESC [), OSC/DCS/SOS/PM/APC strings up to their
# terminator (BEL or ESC \\), and two-byte escapes. C1 controls stand in for ESC + byte.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]?            # CSI
    | \x1b[\]PX^_].*?(?:\x07|\x1b\\|$)   # OSC, DCS, SOS, PM, APC
    | \x9b[0-?]*[ -/]*[@-~]?            # 8-bit CSI
    | [\x90\x98\x9d\x9e\x9f].*?(?:\x07|\x9c|$)  # 8-bit string controls
    | \x1b[ -/]*[0-~]?                   # other escapes
    """,
    re.VERBOSE | re.DOTALL,
)

DROPPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""The Unicode categories of which no character survives (but newline and tab)."""

# Every code point of the DROPPED categories in the Basic Multilingual Plane but \t and
# \n, in Python 3.11's Unicode 14 (a test checks this against the running Python). The
# few beyond it (tag characters, musical and shorthand format controls…) and any a newer
# Unicode adds are caught by the slower check after this one: none of them is printable.
_CONTROLS = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    "\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff"
    "\ufeff\ufff9-\ufffb"
    "]"
)
_INTRODUCERS = re.compile("[\x1b\x90\x98\x9b\x9d-\x9f]")
"""What starts an escape sequence: looked for before the (slower) sequences themselves."""


def clean(text: object, *, limit: int = 2000, single_line: bool = True) -> str:
    """Return ``text`` safe to show: no escapes, no controls, bounded length.

    The result is still to be shown as plain text (never parsed as markup).
    ``clean(clean(x)) == clean(x)``.
    """
    s = text if isinstance(text, str) else str(text)
    if len(s) <= limit and s.isprintable():
        return s  # no escapes, controls or format characters: nothing to strip (fast path)
    is_ascii = s.isascii()
    if "\x1b" in s or (not is_ascii and _INTRODUCERS.search(s)):
        s = _ESCAPES.sub("", s)
    if single_line:
        s = s.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
        s = s.replace("\u2028", " ").replace("\u2029", " ")
    else:
        s = s.replace("\r\n", "\n").replace("\t", "    ")
        s = s.replace("\u2028", "\n").replace("\u2029", "\n")
    s = _CONTROLS.sub("", s)
    if not is_ascii and not s.replace("\n", "").replace("\xa0", "").isprintable():
        # Left: spaces other than ' ' and NBSP, private use, unassigned, characters beyond
        # the BMP, or ones a newer Unicode than the table's put in a DROPPED category.
        s = "".join(
            ch
            for ch in s
            if ch.isprintable() or ch == "\n" or unicodedata.category(ch) not in DROPPED
        )
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s
