"""The common HTTP/1.1 exchange of a probe, framed with bytes operations; h11 for the rest.

h11 frames every exchange correctly, but through its per-event machinery (events,
state transitions, header normalisation): ~60 µs of CPU a probe, half the client's
cost at 10,000 checks. Nearly every health answer is the same shape: an HTTP/1.1
status line, a few headers, a Content-Length body. This module reads that shape
with ``bytes.find`` and two regular expressions, and says "unusual" for anything
else, for which the connection replays the exchange's bytes into h11 (chunked or
read-until-close bodies, 1xx answers, HTTP/1.0, obs-folded or bare-LF headers,
anything h11 would refuse: its error message is the one shown).

The rule that keeps results identical: the fast path accepts only what h11 accepts,
and reads it as h11 does (the same status, reason, header names and values, the
same keep-alive decision); a test compares the two on generated answers.

Requests are h11's own bytes: the header block is built by h11 once per header set
(so a bad header value fails exactly as before), the request line per request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import h11

# h11's grammar (h11/_abnf.py), narrowed: only HTTP/1.1, and a header line's value
# may hold no CR (h11 refuses those lines too; here they go to h11 for its message).
_STATUS = re.compile(rb"HTTP/1\.1 ([0-9]{3})(?: ((?:[ \t]|[^\x00\s])*))?")
_HEADER = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?)[ \t]*"
)
_TARGET = re.compile(rb"[\x21-\x7e]+")
_DIGITS = re.compile(rb"[0-9]{1,20}")
_UNUSUAL_REQUEST = frozenset({b"connection", b"content-length", b"transfer-encoding", b"expect"})


@dataclass(slots=True)
class Head:
    """A response head as h11 would have read it."""

    status_code: int
    reason: bytes
    headers: dict[str, str]
    """Lower-case names, latin-1, a repeated header keeps its last value (as before)."""
    length: int | None
    """Content-Length, or None when the body is not framed by one."""
    keep_alive: bool


def parse_head(head: bytes) -> Head | None:
    """The status line and header lines (``head`` without its blank line), or None for
    anything h11 must read: not HTTP/1.1, 1xx, folded or bare-LF lines, a line h11's
    grammar refuses, Transfer-Encoding, a Content-Length that is not one plain number."""
    lines = head.split(b"\r\n")
    if b"\n" in head and head.count(b"\n") != len(lines) - 1:
        return None  # a bare LF: h11 splits lines differently
    status = _STATUS.fullmatch(lines[0])
    if status is None:
        return None
    code = int(status[1])
    if code < 200:
        return None
    headers: dict[str, str] = {}
    length: int | None = None
    keep_alive = True
    for line in lines[1:]:
        m = _HEADER.fullmatch(line)
        if m is None:
            return None  # obs-fold, bad characters...: h11 decides
        name = m[1].lower()
        value = m[2]
        if name == b"content-length":
            if length is not None or _DIGITS.fullmatch(value) is None:
                return None  # repeated or a list: h11's rules
            length = int(value)
        elif name == b"transfer-encoding":
            return None
        elif name == b"connection" and any(
            t.strip().lower() == b"close" for t in value.split(b",")
        ):
            keep_alive = False
        headers[name.decode("latin-1")] = value.decode("latin-1")
    return Head(code, status[2] or b"", headers, length, keep_alive)


def ends_without_crlf_head(buf: bytes | bytearray) -> bool:
    """Bytes with no CRLF blank line yet, that h11 could already act on: a first byte it
    rejects at once, or a blank line made with a bare LF."""
    return buf[0] < 0x21 or b"\n\n" in buf or b"\n\r\n" in buf


@lru_cache(maxsize=256)
def header_block(method: bytes, headers: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes, bool]:
    """h11's bytes for these headers (Host first, each line, the blank line) and whether
    the exchange may take the fast path. Raises h11's LocalProtocolError for a header h11
    refuses, as sending it through h11 did."""
    request = h11.Request(method=method, target=b"/", headers=list(headers))
    data = h11.Connection(h11.CLIENT).send(request) or b""
    block = data[data.index(b"\r\n") + 2 :]
    fast = method in (b"GET", b"HEAD") and not any(
        k.lower() in _UNUSUAL_REQUEST for k, _ in headers
    )
    return block, fast


def request_bytes(
    method: bytes, target: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> bytes | None:
    """The request as h11 writes it, or None when h11 must send it (an unusual method,
    header or target: h11 then sends it or says why not)."""
    block, fast = header_block(method, headers)
    if not fast or _TARGET.fullmatch(target) is None:
        return None
    return b"%s %s HTTP/1.1\r\n%s" % (method, target, block)
