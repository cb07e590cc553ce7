"""Bindings that are one key under two labels, for ``[keys]`` (ui/keymap.py checks a
remap, the app applies it): no imports, so both can use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALIASES = {"back": "quit"}
"""Bindings that are one key under two labels (q: "Back" on a sub-screen, "Quit" on the
dashboard): a remap of the second moves the first too."""


def expand(keymap: Mapping[str, Any]) -> dict[str, Any]:
    """``keymap`` with each alias following its binding (``quit = "x"`` moves ``back``)."""
    out = dict(keymap)
    for alias, of in ALIASES.items():
        if of in out and alias not in out:
            out[alias] = out[of]
    return out
