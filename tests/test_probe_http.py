"""The lean probe client (backends/http/probe.py) against a scripted TCP server.

Each test's server answers exactly the bytes it is given, so framing the RFC allows
but well-behaved test servers never send (chunked, read-until-close, 1xx, a close
between kept-alive exchanges, garbage) is exercised on a real socket.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from oncall_console.backends.http.probe import ProbeClient, ProbeError, origin_of

Reply = Callable[[bytes, int], bytes | None]
"""(request head, exchange number on this connection) -> bytes to send (None: close)."""


class Scripted:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    def url(self, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                n += 1
                answer = self.reply(head, n)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower() or not answer.startswith(b"HTTP/1.1"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted(reply: Reply) -> AsyncIterator[Scripted]:
    s = Scripted(reply)
    s.server = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    try:
        yield s
    finally:
        s.server.close()


@asynccontextmanager
async def client(**kw: object) -> AsyncIterator[ProbeClient]:
    c = ProbeClient(
        tls=ssl.create_default_context(),
        headers={"User-Agent": "oncall-console-test"},
        max_connections=int(kw.get("max_connections", 8)),  # type: ignore[call-overload]
        max_body_bytes=int(kw.get("max_body_bytes", 1024)),  # type: ignore[call-overload]
    )
    try:
        yield c
    finally:
        await c.aclose()


def ok(body: bytes = b'{"status":"ok"}', extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


async def test_keep_alive_reuses_one_connection() -> None:
    async with scripted(lambda head, n: ok()) as s, client() as c:
        for _ in range(5):
            r = await c.request("GET", s.url())
            assert (r.status_code, r.body) == (200, b'{"status":"ok"}')
        assert s.connections == 1
        assert len(s.requests) == 5
        first = s.requests[0].decode()
        assert first.startswith("GET /health HTTP/1.1\r\n")
        assert f"host: 127.0.0.1:{s.port}" in first
        assert "User-Agent: oncall-console-test" in first


async def test_chunked_body_is_joined() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"sta\r\n9\r\ntus":"ok"\r\n1\r\n}\r\n0\r\n\r\n'
    )
    async with scripted(lambda head, n: chunked) as s, client() as c:
        r = await c.request("GET", s.url())
        assert r.body == b'{"status":"ok"}'
        await c.request("GET", s.url())
        assert s.connections == 1  # chunked framing leaves the connection reusable


async def test_body_until_close_without_length() -> None:
    async with scripted(lambda head, n: b"HTTP/1.0 200 OK\r\n\r\nall of it") as s, client() as c:
        r = await c.request("GET", s.url())
        assert r.body == b"all of it"
        await c.request("GET", s.url())
        assert s.connections == 2  # read-until-close: never reused


async def test_informational_answer_is_skipped() -> None:
    reply = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ok()
    async with scripted(lambda head, n: reply) as s, client() as c:
        assert (await c.request("GET", s.url())).status_code == 200


async def test_head_has_no_body_even_with_a_length() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    async with scripted(lambda head, n: reply) as s, client() as c:
        r = await c.request("HEAD", s.url())
        assert (r.status_code, r.body) == (200, b"")
        await c.request("HEAD", s.url())
        assert s.connections == 1


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once() -> None:
    # The server answers once per connection, then closes without a word (an idle
    # timeout racing our next request).
    async with scripted(lambda head, n: ok() if n == 1 else None) as s, client() as c:
        for _ in range(3):
            assert (await c.request("GET", s.url())).status_code == 200
        assert s.connections == 3


async def test_a_fresh_connection_closed_without_an_answer_says_so() -> None:
    async with scripted(lambda head, n: None) as s, client() as c:
        with pytest.raises(ProbeError, match="closed the connection before answering"):
            await c.request("GET", s.url())


async def test_garbage_is_a_bad_http_answer() -> None:
    async with scripted(lambda head, n: b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as s, client() as c:
        with pytest.raises(ProbeError, match="bad HTTP answer"):
            await c.request("GET", s.url())


async def test_a_short_body_is_an_error_not_a_result() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly this"
    async with scripted(lambda head, n: reply) as s, client() as c:
        with pytest.raises(ProbeError, match="peer closed connection"):
            await c.request("GET", s.url())


async def test_a_big_body_is_cut_and_the_connection_dropped() -> None:
    async with scripted(lambda head, n: ok(b"x" * 5000)) as s, client(max_body_bytes=1024) as c:
        r = await c.request("GET", s.url())
        assert r.truncated and len(r.body) == 1024
        r = await c.request("GET", s.url())
        assert r.truncated
        assert s.connections == 2


async def test_huge_headers_are_refused() -> None:
    reply = b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 200_000 + b"\r\nContent-Length: 0\r\n\r\n"
    async with scripted(lambda head, n: reply) as s, client() as c:
        with pytest.raises(ProbeError, match="bad HTTP answer"):
            await c.request("GET", s.url())


async def test_a_cancelled_exchange_is_never_reused() -> None:
    answered = asyncio.Event()

    def reply(head: bytes, n: int) -> bytes | None:
        if b"/slow" in head:
            answered.set()
            return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal"  # never finishes
        return ok()

    async with scripted(reply) as s, client() as c:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await c.request("GET", s.url("/slow"))
        assert answered.is_set()
        assert (await c.request("GET", s.url())).status_code == 200
        assert s.connections == 2


async def test_connections_are_bounded() -> None:
    gate = asyncio.Event()
    peak = 0
    in_flight = 0

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal peak, in_flight
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                in_flight += 1
                peak = max(peak, in_flight)
                await gate.wait()
                in_flight -= 1
                writer.write(ok())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(max_connections=3) as c:
            tasks = [
                asyncio.create_task(c.request("GET", f"http://127.0.0.1:{port}/{i}"))
                for i in range(10)
            ]
            async with asyncio.timeout(5):
                while in_flight < 3:
                    await asyncio.sleep(0.01)
            gate.set()
            results = await asyncio.gather(*tasks)
        assert all(r.status_code == 200 for r in results)
        assert peak == 3
    finally:
        server.close()


async def test_refused_is_an_os_error() -> None:
    async with scripted(lambda head, n: ok()) as s:
        url = s.url()
    async with client() as c:
        with pytest.raises(ConnectionRefusedError):
            await c.request("GET", url)


def test_origins() -> None:
    o = origin_of("http://[::1]:8080/health?verbose=1")
    assert (o.host, o.port, o.target, o.host_header) == (
        "::1",
        8080,
        b"/health?verbose=1",
        b"[::1]:8080",
    )
    o = origin_of("https://bücher.example/")
    assert (o.scheme, o.host, o.port, o.host_header) == (
        "https",
        "xn--bcher-kva.example",
        443,
        b"xn--bcher-kva.example",
    )
    assert origin_of("http://example.com").target == b"/"
    with pytest.raises(ProbeError):
        origin_of("ftp://example.com/")


def test_charset() -> None:
    from oncall_console.backends.http.probe import ProbeResponse

    def enc(ctype: str) -> str:
        return ProbeResponse(200, "OK", {"content-type": ctype}, b"", False, None, 0.0).encoding

    assert enc("text/plain; charset=ISO-8859-1") == "iso8859-1"
    assert enc('text/plain; charset="utf-8"') == "utf-8"
    assert enc("text/plain; charset=klingon") == "utf-8"
    assert enc("application/json") == "utf-8"


async def test_bytes_past_an_answer_are_never_read_as_the_next_one() -> None:
    # One write carrying an answer and an unasked-for second one (a stale 503): the
    # connection is not reused, so the next probe gets its own answer.
    stale = ok() + b"HTTP/1.1 503 Stale\r\nContent-Length: 0\r\n\r\n"
    async with scripted(lambda head, n: stale) as s, client() as c:
        assert (await c.request("GET", s.url())).status_code == 200
        assert (await c.request("GET", s.url())).status_code == 200
        assert s.connections == 2


async def test_a_head_answered_with_a_body_does_not_poison_the_next_get() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    async with scripted(lambda head, n: reply) as s, client() as c:
        assert (await c.request("HEAD", s.url())).status_code == 200
        r = await c.request("GET", s.url())
        assert (r.status_code, r.body) == (200, b"hello")


async def test_a_configured_host_header_wins() -> None:
    async with scripted(lambda head, n: ok()) as s, client() as c:
        r = await c.request("GET", s.url(), {"Host": "api.example.com"})
        assert r.status_code == 200
        head = s.requests[0].decode().lower()
        assert head.count("host:") == 1 and "host: api.example.com" in head
