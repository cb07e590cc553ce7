"""The probe client's fast path (backends/http/wire.py) reads every answer as h11 does.

Each answer is fed to two connections, one on the fast path and one on h11 alone, in
the same pieces (every split point a read may fall on), and what the caller gets must
be the same: the status, reason, headers, body, truncation, whether the connection
is reused, or the same error in the same words. Generated answers cover the shapes
the fast path hands to h11 (chunked, read-until-close, 1xx, HTTP/1.0, folded or
bare-LF lines, bad lengths, garbage) and the ones it reads itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall_console.backends.http import wire
from oncall_console.backends.http.probe import ProbeError, _Connection, origin_of
from tests.test_probe_http import client, ok, scripted


class Pipe(asyncio.Transport):
    """The write end the connection talks to: keeps what was sent, notes an abort."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = bytearray()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent += data

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def exchange(
    chunks: list[bytes], *, fast: bool, method: bytes = b"GET", limit: int = 1024, eof: bool
) -> tuple[object, ...]:
    """What one exchange gives its caller when the server sends ``chunks``."""

    async def run() -> tuple[object, ...]:
        conn = _Connection(("http", "h", 80), lambda c: None, fast)
        pipe = Pipe()
        conn.connection_made(pipe)
        fut = conn.send(method, origin_of("http://h/health"), [(b"User-Agent", b"t")], limit)
        sent = bytes(pipe.sent)
        for chunk in chunks:
            if chunk:
                conn.data_received(chunk)
        if eof and not pipe.closing:
            conn.eof_received()
            conn.connection_lost(None)
        if not fut.done():
            return ("pending", sent)
        if (exc := fut.exception()) is not None:
            return ("error", type(exc).__name__, str(exc), sent)
        r = fut.result()
        reused = conn.reusable()
        return (r.status_code, r.reason_phrase, r.headers, r.body, r.truncated, reused, sent)

    return asyncio.run(run())


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def same(data: bytes, cuts: list[int] = (), **kw: Any) -> tuple[object, ...]:
    chunks = pieces(data, list(cuts))
    fast = exchange(chunks, fast=True, **kw)
    slow = exchange(chunks, fast=False, **kw)
    assert fast == slow, (data, chunks)
    return fast


STATUS = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 204 No Content",
    b"HTTP/1.1 304 Not Modified",
    b"HTTP/1.1 503 Service Unavailable",
    b"HTTP/1.1 200",
    b"HTTP/1.1 200 ",
    b"HTTP/1.1 404 Not\tFound",
    b"HTTP/1.1 200 \xe9t\xe9",
    b"HTTP/1.0 200 OK",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK",
    b"HTTP/2 200",
    b"HTTP/1.1 2000 OK",
    b" HTTP/1.1 200 OK",
    b"garbage",
    b"",
]
HEADERS = [
    b"Content-Type: application/json",
    b"Content-Length: {n}",
    b"Content-Length: {n}",
    b"Content-Length: {n}, {n}",
    b"Content-Length:{n}   ",
    b"Content-Length: 3",
    b"Content-Length: x",
    b"Content-Length: 123456789012345678901",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip",
    b"Connection: close",
    b"Connection: keep-alive, Close",
    b"Connection: keep-alive",
    b"X-Spaced:   a  b   ",
    b"X-Empty:",
    b" folded",
    b"Bad Header: x",
    b"X-Ctl: a\x01b",
    b"X-Obs: \xff\xfe",
    b"Set-Cookie: a=1",
    b"set-cookie: b=2",
    b"X-Bare-CR: a\rb",
]


GOOD_HEADERS = [
    h
    for h in HEADERS
    if h.startswith((b"Content-Type", b"Connection", b"X-Sp", b"X-E", b"Set", b"set"))
]


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=80))
    body = draw(st.binary(max_size=40))
    if kind < 5:  # plausible: what the fast path reads itself, now and then off by a little
        lines = [draw(st.sampled_from(STATUS[:8]))]
        lines += draw(st.lists(st.sampled_from(GOOD_HEADERS), max_size=4))
        lines.append(b"Content-Length: %d" % len(body))
        tail = draw(st.sampled_from([b"", b"", b"", b"x"]))
        lines = [lines[0], *draw(st.permutations(lines[1:]))]
        return b"\r\n".join(lines) + b"\r\n\r\n" + body + tail
    if draw(st.booleans()):  # a chunked body, sometimes framed
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    n = draw(st.sampled_from([len(body), len(body), len(body) + 2, max(0, len(body) - 1)]))
    lines = [draw(st.sampled_from(STATUS))]
    lines += [h.replace(b"{n}", b"%d" % n) for h in draw(st.lists(st.sampled_from(HEADERS)))]
    eol = draw(st.sampled_from([b"\r\n"] * 5 + [b"\n"]))
    tail = draw(st.sampled_from([b"", b"", b"", b"HTTP/1.1 200 OK\r\n\r\n", b"x"]))
    return eol.join(lines) + eol + eol + body + tail


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers(),
    st.lists(st.integers(0, 400), max_size=4),
    st.sampled_from([b"GET", b"GET", b"HEAD"]),
    st.sampled_from([1024, 8]),
    st.booleans(),
)
def test_fast_path_reads_what_h11_reads(
    data: bytes, cuts: list[int], method: bytes, limit: int, eof: bool
) -> None:
    same(data, cuts, method=method, limit=limit, eof=eof)


def test_the_common_answer_on_every_split_point_takes_the_fast_path() -> None:
    data = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"ok"}'
    for cut in range(len(data) + 1):
        got = same(data, [cut], eof=False)
        assert got[:6] == (
            200,
            "OK",
            {"content-type": "application/json", "content-length": "15"},
            b'{"status":"ok"}',
            False,
            True,
        )

    async def took_fast_path() -> bool:
        conn = _Connection(("http", "h", 80), lambda c: None)
        conn.connection_made(Pipe())
        conn.send(b"GET", origin_of("http://h/x"), [], 1024)
        conn.data_received(data)
        return conn.h11 is None and conn.reusable()

    assert asyncio.run(took_fast_path())


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", b"abc"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabXX", b"ab"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz", b"z"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", b"until close"),
        (b"HTTP/1.1 200 OK\nContent-Length: 1\n\nq", b"q"),
    ],
)
def test_unusual_answers_go_to_h11_and_read_the_same(data: bytes, expect: bytes) -> None:
    got = same(data, [len(data) // 2], eof=True)
    assert got[3] == expect


def test_errors_are_h11s_words() -> None:
    short = same(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", eof=True)
    assert short[0] == "error" and "peer closed connection" in str(short[2])
    garbage = same(b"\x16\x03\x01 tls hello", eof=False)
    assert garbage[:2] == ("error", "ProbeError") and "bad HTTP answer" in str(garbage[2])
    nothing = same(b"", eof=True)
    assert nothing[:3] == (
        "error",
        "ProbeError",
        "the server closed the connection before answering",
    )


def test_request_bytes_are_h11s() -> None:
    headers = ((b"host", b"h:8080"), (b"User-Agent", b"x"), (b"Accept", b"*/*"))
    conn = h11.Connection(h11.CLIENT)
    want = conn.send(h11.Request(method=b"GET", target=b"/a?b=c", headers=list(headers)))
    assert wire.request_bytes(b"GET", b"/a?b=c", headers) == want
    # an unusual request is h11's to send, a bad header h11's to refuse
    assert wire.request_bytes(b"GET", b"/", (*headers, (b"Connection", b"close"))) is None
    with pytest.raises(h11.LocalProtocolError):
        wire.request_bytes(b"GET", b"/", (*headers, (b"X-Bad", b"a\r\nb")))


async def test_a_configured_connection_close_header_goes_through_h11() -> None:
    async with scripted(lambda head, n: ok()) as s, client() as c:
        c._headers.append((b"Connection", b"close"))
        first = await c.request("GET", s.url())
        second = await c.request("GET", s.url())
        assert (first.status_code, second.status_code) == (200, 200)
        assert s.connections == 2  # closed after each, as asked
        assert all(b"Connection: close" in r for r in s.requests)


async def test_fast_and_h11_clients_agree_on_a_real_socket() -> None:
    answer = ok(extra=b"X-Thing:  v  \r\nSet-Cookie: a\r\nset-cookie: b\r\n")
    async with scripted(lambda head, n: answer) as s:
        got = []
        for fast in (True, False):
            async with client() as c:
                c._fast_path = fast
                r = await c.request("GET", s.url())
                got.append((r.status_code, r.reason_phrase, r.headers, r.body, r.truncated))
        assert got[0] == got[1]
        assert s.requests[0] == s.requests[1]


def test_probe_error_is_the_failure_type() -> None:
    # the fast path raises nothing of its own: h11's RemoteProtocolError becomes ProbeError
    got = same(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx", eof=False)
    assert got[:2] == ("error", ProbeError.__name__)


def test_a_cached_body_reading_is_the_same_and_never_shared_mutably() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from oncall_console.backends.base import BackendContext
    from oncall_console.backends.http import HttpBackend
    from oncall_console.backends.http.judge import _Fetch, _read_body, _read_small_body
    from oncall_console.backends.http.options import HttpCheckParams
    from oncall_console.backends.http.probe import ProbeResponse

    body = b'{"status": "degraded", "services": {"db": {"status": "down", "error": "x"}}}'
    params = HttpCheckParams(url="http://h/health")
    with ThreadPoolExecutor(1) as pool:
        backend = HttpBackend("web", HttpBackend.Options(), BackendContext(pool))
        seen = []
        for _ in range(2):
            f = _Fetch()
            resp = ProbeResponse(200, "OK", {}, body, False, None, 0.0)
            backend._judge_body(f, resp, params)
            seen.append((f.status, list(f.notes), dict(f.details), list(f.subs)))
            f.notes.append("changed by a caller")
            f.subs.clear()
    assert seen[0] == seen[1]
    assert seen[0][1] == ["status degraded", "db down: x"]
    args = (body, "utf-8", "status", "services")
    assert _read_small_body(*args) == _read_body(*args)


async def test_per_request_headers_are_merged_per_set_and_follow_a_new_token() -> None:
    async with scripted(lambda head, n: ok()) as s, client() as c:
        for token in ("one", "one", "two"):
            await c.request("GET", s.url(), {"Authorization": f"Bearer {token}"})
        await c.request("GET", s.url(), {"user-agent": "mine"})
        await c.request("GET", s.url())
    assert [b"Bearer two" in r for r in s.requests] == [False, False, True, False, False]
    assert [b"Bearer one" in r for r in s.requests] == [True, True, False, False, False]
    assert b"user-agent: mine" in s.requests[3] and b"oncall-console-test" not in s.requests[3]
    assert b"oncall-console-test" in s.requests[4] and b"Authorization" not in s.requests[4]
