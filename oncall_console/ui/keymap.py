"""What ``[keys]`` can remap, and whether a remap works (issue #15, point 5).

A remap names a binding by its id (``quit = "ctrl+q"``; ``?`` lists the ids). It is
refused when no binding has that id, when it names no key, or when, on some screen,
it gives a binding a key that another binding of that screen already has (``quit =
"r"`` where ``r`` is refresh): Textual would drop one of the two without a word. The
console's own bindings (app-wide) act on every screen; a table's or a list's act
wherever one is focused. Only clashes a remap makes are reported: the built-in keys
are one meaning per key already (tests/test_help_keys.py).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Mapping
from typing import Any

from textual.binding import Binding
from textual.keys import _character_to_key
from textual.screen import Screen
from textual.widget import Widget

from oncall_console.configfile import did_you_mean
from oncall_console.ui.keyalias import ALIASES, expand

Places = dict[str, dict[str, tuple[str, ...]]]
"""Where bindings act -> {binding id: its keys}."""


def keys_of(text: str) -> tuple[str, ...]:
    """``"ctrl+q, ?"`` -> ``("ctrl+q", "question_mark")``: Textual's names for the keys."""
    keys = (k.strip() for k in text.split(","))
    return tuple(_character_to_key(k) if len(k) == 1 else k for k in keys if k)


def _ids(bindings: Iterable[Any]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for b in bindings:
        if isinstance(b, Binding) and b.id:
            found[b.id] = found.get(b.id, ()) + keys_of(b.key)
    return found


def places() -> Places:
    """Every screen and focusable widget of the console with the bindings active on it:
    its own and the app's."""
    import oncall_console.ui.screens as screens
    import oncall_console.ui.widgets as widgets
    from oncall_console.ui.app import OncallApp

    everywhere = _ids(OncallApp.BINDINGS)
    found: Places = {}
    for package, base in ((screens, Screen), (widgets, Widget)):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__ or not issubclass(cls, base):
                    continue
                own = _ids(cls.__dict__.get("BINDINGS", ()))
                if own:
                    found[name if base is Screen else f"{name} (focused)"] = {**everywhere, **own}
    return found


def _same(a: str, b: str) -> bool:
    return ALIASES.get(a) == b or ALIASES.get(b) == a


def check(keymap: Mapping[str, Any], where: Places | None = None) -> list[tuple[str, str]]:
    """What is wrong with a ``[keys]`` table: (binding id, message), one per problem."""
    where = places() if where is None else where
    given = set(keymap)
    keymap = expand(keymap)
    known = sorted({bid for bindings in where.values() for bid in bindings})
    found: dict[str, str] = {}
    remaps: dict[str, tuple[str, ...]] = {}
    for bid, value in keymap.items():
        if bid not in given and (bid not in known or not isinstance(value, str)):
            continue  # an alias following its binding: that one's problems are said there
        if bid not in known:
            found[bid] = f"no binding has this id{did_you_mean(bid, known)} (`?` lists them)"
        elif not isinstance(value, str):
            continue  # the schema says so (keys are strings)
        elif not keys_of(value):
            found[bid] = 'names no key; write e.g. "ctrl+q" or "x,f5"'
        else:
            remaps[bid] = keys_of(value)
    # Each remap (the ids given first, then the aliases that follow them) against every
    # place; the first clash found is the one said.
    for bid in sorted(remaps, key=lambda b: b not in given):
        # the dashboard first: a clash is named where the engineer spends the shift
        for place, bindings in sorted(where.items(), key=lambda item: item[0] != "Dashboard"):
            said = bid if bid in given else ALIASES.get(bid, bid)
            if bid not in bindings or said in found:
                continue
            now = {b: remaps.get(b, keys) for b, keys in bindings.items()}
            for key in remaps[bid]:
                if key in bindings[bid]:
                    continue  # its own key already: a clash there is the console's design
                other = next(
                    (
                        o
                        for o, keys in now.items()
                        if o != bid and key in keys and not _same(o, bid)
                    ),
                    None,
                )
                if other is not None:
                    other = ALIASES.get(other, other)  # q is quit's, whatever its label
                    found[said] = (
                        f"{key!r} is already the key of {other!r} on {place}: one key, one "
                        f"meaning (remap {other!r} too, or pick another key)"
                    )
                    break
    return list(found.items())
