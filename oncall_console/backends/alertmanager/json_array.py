"""A big JSON array, decoded one item at a time, and only the items that changed.

Alertmanager answers with every alert in one array: ~4 MB of JSON for 10,000 alerts.
``json.loads`` is one C call that holds the interpreter lock for 30-100 ms, and making
10,000 ``Alert`` objects again is ~100 ms of Python, while the UI thread waits for the lock.
Here each item is one short ``raw_decode`` call (the lock is handed back between them), and
an item whose text is the same as in the last answer is neither decoded nor made again.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# [ \t\n\r] is JSON's whitespace, nothing more.
_OPEN = re.compile(r"[ \t\n\r]*\[[ \t\n\r]*")
_CLOSE = re.compile(r"\][ \t\n\r]*")
_NEXT = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")  # after an item: the next one, or the end
_DECODE_AT = json.JSONDecoder().raw_decode


class NotAnArray(ValueError):
    """The text does not start with ``[``: decode it whole to say what it is."""


class Malformed(ValueError):
    """The array is not valid JSON: an item, a comma or the closing bracket is wrong."""


@dataclass
class _Answer(Generic[T]):
    """One answer's text and what was made of it, item by item."""

    text: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)
    keys: list[Hashable | None] = field(default_factory=list)
    values: list[T] = field(default_factory=list)
    """One per item, for the first ``limit`` items only."""
    where: dict[Hashable, int] = field(default_factory=dict)
    """Key -> index in ``spans``."""

    def item(self, index: int) -> str:
        start, end = self.spans[index]
        return self.text[start:end]

    def ends_at(self, text: str, i: int, index: int) -> int:
        """Where item ``index`` ends in ``text`` if ``text`` has it at ``i``; else -1."""
        old = self.item(index)
        # An object, array or string ends itself; a number may go on ("1" -> "12").
        if old[-1] in '}]"' and text.startswith(old, i):
            return i + len(old)
        return -1


class ArrayMemo(Generic[T]):
    """Turns a JSON array's text into ``make(item)`` for its first ``limit`` items.

    ``key(item)`` names an item across answers (Alertmanager's fingerprint); the answer is
    expected in a stable order, so the item expected next is the one after the last item
    found. An item whose text is the one the last answer had is not decoded again and keeps
    its value: its value depends on its text only. An item of a known key whose text
    changed is made again, but keeps its old value when the new one is equal (a resend
    changes only times the value may not show), so that callers can compare by identity.
    Only the last answer is kept.
    """

    def __init__(
        self,
        make: Callable[[Any], T],
        key: Callable[[Any], Hashable | None],
        limit: int,
    ) -> None:
        self._make = make
        self._key = key
        self._limit = limit
        self._last: _Answer[T] = _Answer()

    def update(self, text: str) -> tuple[list[T], int]:
        """The values of the first ``limit`` items, and how many items there are.

        The very same list comes back when every value is the last answer's. Raises
        NotAnArray or Malformed.
        """
        last = self._last
        if text == last.text:
            return last.values, len(last.spans)
        opened = _OPEN.match(text)
        if opened is None:
            raise NotAnArray
        new: _Answer[T] = _Answer(text)
        empty = _CLOSE.match(text, opened.end())
        end = empty.end() if empty else self._items(text, opened.end(), last, new)
        if end != len(text):
            raise Malformed(f"something after the array at character {end}")
        if len(new.values) == len(last.values) and all(map(operator.is_, new.values, last.values)):
            new.values = last.values
        self._last = new  # one assignment: a concurrent update sees the old or the new
        return new.values, len(new.spans)

    def _items(self, text: str, i: int, last: _Answer[T], new: _Answer[T]) -> int:
        """Fill ``new`` with the items from ``i`` on; returns where the array and the
        whitespace after it end."""
        limit = self._limit
        old_spans, values = last.spans, new.values
        j = 0  # the old item expected next
        while True:
            same = found = -1  # the old item with this very text; the old one of its key
            item: Any = _UNDECODED
            end = last.ends_at(text, i, j) if j < len(old_spans) else -1
            if end >= 0:
                same = j
            else:
                item, end = _decode(text, i)
                key = self._key(item)
                found = last.where.get(key, -1) if key is not None else -1
                if found >= 0 and text[i:end] == last.item(found):
                    same = found
            if same >= 0:
                key, j = last.keys[same], same + 1
            elif found >= 0:
                j = found + 1  # the same alert, changed
            if len(values) < limit:
                if 0 <= same < len(last.values):
                    values.append(last.values[same])
                else:
                    if item is _UNDECODED:  # its text was seen, but past the limit
                        item, _ = _decode(text, i)
                    value = self._make(item)
                    if 0 <= found < len(last.values) and value == last.values[found]:
                        value = last.values[found]
                    values.append(value)
            if key is not None:
                new.where[key] = len(new.spans)
            new.spans.append((i, end))
            new.keys.append(key)
            after = _NEXT.match(text, end)
            if after is None:
                raise Malformed(f"expected , or ] at character {end}")
            i = after.end()
            if after[1] == "]":
                return i


_UNDECODED = object()


def _decode(text: str, i: int) -> tuple[Any, int]:
    try:
        return _DECODE_AT(text, i)
    except ValueError as exc:
        raise Malformed(str(exc)) from None
