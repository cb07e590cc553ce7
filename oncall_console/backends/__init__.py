"""Backend plugins, discovered through the ``oncall_console.backends`` entry points.

Listing the installed types imports none of them; only a type that config uses
is imported, when it is used. importlib.metadata too is imported when asked: the http
probe worker imports this package and never lists plugins (~5 MB of RSS).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from oncall_console.backends.base import Backend

GROUP = "oncall_console.backends"


class UnknownBackendType(LookupError):
    def __init__(self, type_name: str, installed: list[str]) -> None:
        self.type_name = type_name
        self.installed = installed
        super().__init__(
            f"unknown backend type {type_name!r}; installed types: {', '.join(installed) or 'none'}"
        )


class BrokenBackend(ImportError):
    """An installed plugin that cannot be imported or is not a Backend."""


@cache
def available() -> dict[str, EntryPoint]:
    """Installed backend types by name, without importing any of them."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(type_name: str) -> type[Backend]:
    from oncall_console.backends.base import Backend

    eps = available()
    if type_name not in eps:
        raise UnknownBackendType(type_name, sorted(eps))
    try:
        cls = eps[type_name].load()
    except Exception as exc:  # a broken plugin must not take the console down
        raise BrokenBackend(f"backend type {type_name!r} failed to import: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BrokenBackend(f"backend type {type_name!r} does not name a Backend subclass")
    return cls
