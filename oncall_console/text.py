"""Remote text is data: strip what a terminal would act on before it is shown."""

from __future__ import annotations

import re

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
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: object, *, limit: int = 2000, single_line: bool = True) -> str:
    """Return ``text`` safe to show: no escapes, no controls, bounded length.

    The result is still to be shown as plain text (never parsed as markup).
    """
    s = text if isinstance(text, str) else str(text)
    if len(s) <= limit and s.isprintable():
        return s  # no escapes, controls or format characters: nothing to strip (fast path)
    s = _ESCAPES.sub("", s)
    if single_line:
        s = s.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    else:
        s = s.replace("\r\n", "\n").replace("\t", "    ")
    s = _CONTROLS.sub("", s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s
