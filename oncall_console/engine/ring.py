"""One check's recent results, kept as packed records rather than one object per result.

10,000 checks x 120 results is 1.2 M results alive: as ``CheckResult`` objects (each with
its own ``at`` and latency floats) that is ~163 bytes a result, ~195 MB for the rings
alone (#14, point 3: RSS <= 250 MB). Here a result is one record in the ring's one
bytearray: 4 bytes of time, 8 of latency, 1 of status and one byte (two from 256
results) naming which of the ring's texts it carries: the results that carry text
(summary, details, dependencies, error, tables) are kept once each, a run of results
whose text does not change sharing one, so a steady check keeps one object, not 120:
the newest of the run (the check's ``last``, so not one more beside it).
(An 8-byte reference per result was 7.8 MB more at 10,000 checks.)

Times are kept exactly, in halves: a time's low 32 bits in its record, its high 32 bits
(sign, exponent and the top of the fraction: 1,024 s of epoch time in 2026) once in a
short table of the ring's, named by four bits of the status byte. A ring spanning more
than 16 of those (a check probed less often than every ~2 minutes) keeps whole 8-byte
times instead. Latencies are kept whole (their high halves differ from probe to probe).
One bytearray instead of four arrays also saves their headers (~760 bytes a ring).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from struct import Struct

from oncall_console.model import CheckResult, Status

_STATUSES = tuple(Status)
_CODE = {s: i for i, s in enumerate(_STATUSES)}
_STATUS_BITS = 0x07
_HIGH_SHIFT = 3
_HIGHS = 16
"""High halves of times a ring's table holds (four bits of the status byte name one)."""
_NO_LATENCY = 0x80
"""Set in a status byte when the result had no latency (``None``, not a number)."""
_DOUBLE = Struct("<d")
_HALVES = Struct("<II")
_RECORDS = {
    # (whole times, text number's format) -> (time, latency, status byte, text number)
    (whole, number): Struct(("<dd" if whole else "<Id") + "B" + number)
    for whole in (False, True)
    for number in "BHI"
}


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

    __slots__ = ("_buf", "_highs", "_len", "_next", "_record", "_texts", "_uses", "maxlen")

    def __init__(self, maxlen: int, results: Iterable[CheckResult] = ()) -> None:
        if maxlen < 1:
            raise ValueError("a ring keeps at least one result")
        self.maxlen = maxlen
        number = "B" if maxlen < 2**8 else "H" if maxlen < 2**16 else "I"  # maxlen + 1 texts
        self._record = _RECORDS[False, number]
        self._buf = bytearray(self._record.size * maxlen)
        # High halves of the times: [word, slots using it, word, slots using it, ...] (a
        # count of 0 is a free entry); None once the ring keeps whole times.
        self._highs: list[int] | None = []
        # Which text each slot's result carries: a number into _texts, held by _uses
        # slots (a text no slot uses is dropped: None, its number free again).
        self._texts: list[CheckResult | None] = []
        self._uses: list[int] = []
        self._next = 0  # the slot the next result goes to
        self._len = 0
        for r in results:
            self.append(r)

    def append(self, result: CheckResult) -> None:
        i, record, buf = self._next, self._record, self._buf
        texts, uses = self._texts, self._uses
        k = record.unpack_from(buf, (i - 1) % self.maxlen * record.size)[3] if self._len else -1
        if k >= 0 and same_text(texts[k], result):  # type: ignore[arg-type]
            texts[k] = result  # the newest of the run stands for it: CheckState.last is it
        else:
            k = texts.index(None) if None in texts else len(texts)
            if k == len(texts):
                texts.append(result)
                uses.append(0)
            else:
                texts[k] = result
        uses[k] += 1  # before the slot below lets go of its text: it may be this one
        if self._len == self.maxlen:
            _, _, old_code, old = record.unpack_from(buf, i * record.size)
            uses[old] -= 1
            if not uses[old]:
                texts[old] = None
            if self._highs is not None:
                self._highs[2 * (old_code >> _HIGH_SHIFT & 0xF) + 1] -= 1
        code = _CODE[result.status]
        latency = result.latency_ms
        if latency is None:
            code |= _NO_LATENCY
            latency = math.nan
        at: float | int = result.at
        if self._highs is not None:
            low, high = _HALVES.unpack(_DOUBLE.pack(at))
            h = self._high(high)
            if h < 0:
                self._keep_whole_times()
            else:
                at, code = low, code | h << _HIGH_SHIFT
        self._record.pack_into(self._buf, i * self._record.size, at, latency, code, k)
        self._next = (i + 1) % self.maxlen
        self._len = min(self._len + 1, self.maxlen)

    def _high(self, word: int) -> int:
        """The table entry of a time's high half, taken for one more slot; -1 if the
        table is full."""
        highs = self._highs
        assert highs is not None
        for h in range(0, len(highs), 2):
            if highs[h] == word and highs[h + 1]:
                highs[h + 1] += 1
                return h // 2
        for h in range(1, len(highs), 2):
            if not highs[h]:
                highs[h - 1 : h + 1] = [word, 1]
                return h // 2
        if len(highs) < 2 * _HIGHS:
            highs += [word, 1]
            return len(highs) // 2 - 1
        return -1

    def _keep_whole_times(self) -> None:
        """From now on 8 bytes of time a record (more than ``_HIGHS`` high halves)."""
        new = _RECORDS[True, self._record.format[-1]]
        buf = bytearray(new.size * self.maxlen)
        for i in self._slots():
            i %= self.maxlen
            at, latency, code, k = self._unpack(i)
            new.pack_into(buf, i * new.size, at, latency, code & ~(0xF << _HIGH_SHIFT), k)
        self._buf, self._record, self._highs = buf, new, None

    def _unpack(self, i: int) -> tuple[float, float, int, int]:
        at, latency, code, k = self._record.unpack_from(self._buf, i * self._record.size)
        if self._highs is not None:
            high = self._highs[2 * (code >> _HIGH_SHIFT & 0xF)]
            at = _DOUBLE.unpack(_HALVES.pack(at, high))[0]
        return at, latency, code, k

    def _result(self, i: int) -> CheckResult:
        at, lat, code, k = self._unpack(i)
        text = self._texts[k]
        assert text is not None
        status = _STATUSES[code & _STATUS_BITS]
        latency = None if code & _NO_LATENCY else lat
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
