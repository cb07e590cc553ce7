"""One check's recent results, kept as columns rather than one object per result.

10,000 checks x 120 results is 1.2 M results alive: as ``CheckResult`` objects (each with
its own ``at`` and latency floats) that is ~163 bytes a result, ~195 MB for the rings
alone (#14, point 3: RSS <= 250 MB). Here a result costs 8 bytes of time, 8 of latency, 1
of status and one byte (two from 256 results) naming which of the ring's texts it
carries: the results that carry text (summary, details, dependencies, error, tables)
are kept once each, a run of results whose text does not change sharing one, so a
steady check keeps one object, not 120. (An 8-byte reference per result was 7.8 MB more
at 10,000 checks.)
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import replace

from oncall_console.model import CheckResult, Status

_STATUSES = tuple(Status)
_CODE = {s: i for i, s in enumerate(_STATUSES)}
_NO_LATENCY = 0x80
"""Set in a status byte when the result had no latency (``None``, not a number)."""


def same_text(a: CheckResult, b: CheckResult) -> bool:
    """Everything but the status, time and latency is equal: ``b`` can stand for ``a``."""
    return (
        a.summary == b.summary
        and a.details == b.details
        and a.substatuses == b.substatuses
        and a.error == b.error
        and a.tables == b.tables
        and a.check == b.check
    )


class ResultRing:
    """The last ``maxlen`` results recorded, oldest first, like a ``deque(maxlen=...)``.

    Reading gives back results equal to the ones appended (every field); ``recent(n)``
    rebuilds only the newest ``n``, which is what a reader shows.
    """

    __slots__ = (
        "_at",
        "_free",
        "_latency",
        "_len",
        "_next",
        "_status",
        "_texts",
        "_uses",
        "_which",
        "maxlen",
    )

    def __init__(self, maxlen: int, results: Iterable[CheckResult] = ()) -> None:
        if maxlen < 1:
            raise ValueError("a ring keeps at least one result")
        self.maxlen = maxlen
        self._at = array("d", bytes(8 * maxlen))
        self._latency = array("d", bytes(8 * maxlen))
        self._status = bytearray(maxlen)
        # Which text each slot's result carries: an index into _texts (held by _uses
        # slots; a text no slot uses is dropped and its index goes to _free).
        code = "B" if maxlen < 2**8 else "H" if maxlen < 2**16 else "L"  # maxlen + 1 texts
        self._which = array(code, [0]) * maxlen
        self._texts: list[CheckResult | None] = []
        self._uses: list[int] = []
        self._free: list[int] = []
        self._next = 0  # the slot the next result goes to
        self._len = 0
        for r in results:
            self.append(r)

    def append(self, result: CheckResult) -> None:
        i = self._next
        texts, uses = self._texts, self._uses
        k = self._which[(i - 1) % self.maxlen] if self._len else -1
        if k < 0 or not same_text(texts[k], result):  # type: ignore[arg-type]
            k = self._free.pop() if self._free else len(texts)
            if k == len(texts):
                texts.append(result)
                uses.append(0)
            else:
                texts[k] = result
        uses[k] += 1  # before the slot below lets go of its text: it may be this one
        if self._len == self.maxlen:
            old = self._which[i]
            uses[old] -= 1
            if not uses[old]:
                texts[old] = None
                self._free.append(old)
        self._which[i] = k
        self._at[i] = result.at
        code = _CODE[result.status]
        if result.latency_ms is None:
            code |= _NO_LATENCY
            self._latency[i] = math.nan
        else:
            self._latency[i] = result.latency_ms
        self._status[i] = code
        self._next = (i + 1) % self.maxlen
        self._len = min(self._len + 1, self.maxlen)

    def _result(self, i: int) -> CheckResult:
        text = self._texts[self._which[i]]
        assert text is not None
        code = self._status[i]
        status = _STATUSES[code & ~_NO_LATENCY]
        latency = None if code & _NO_LATENCY else self._latency[i]
        at = self._at[i]
        if status is text.status and at == text.at and latency == text.latency_ms:
            return text  # the very result recorded (or an equal one)
        return replace(text, status=status, at=at, latency_ms=latency)

    def _slots(self) -> range:
        """Slot indices oldest first, unwrapped (index them modulo ``maxlen``)."""
        return range(self._next - self._len, self._next)

    def recent(self, n: int) -> list[CheckResult]:
        """The newest ``n`` results (or fewer), newest first."""
        slots = self._slots()[::-1][: max(0, n)]
        return [self._result(i % self.maxlen) for i in slots]

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[CheckResult]:
        for i in self._slots():
            yield self._result(i % self.maxlen)

    def __getitem__(self, index: int) -> CheckResult:
        if not -self._len <= index < self._len:
            raise IndexError("ring index out of range")
        return self._result(self._slots()[index] % self.maxlen)

    def __repr__(self) -> str:
        return f"ResultRing(maxlen={self.maxlen}, len={self._len})"
