"""A lean HTTP/1.1 client for health probes: h11 on an asyncio Protocol, kept-alive
connections per origin.

Why not httpx here: a probe is one small GET, repeated for every check every few
seconds, and httpx + httpcore spend ~1 ms of CPU on it (about 2,200 Python calls:
request and response models, header normalisation, the pool's locks and events).
At 1,000 checks that is a core. This client does what a probe needs and nothing
else, in ~0.1 ms: h11 frames the exchange (so chunked bodies, read-until-close,
HEAD and keep-alive follow the RFC, not our guesses), asyncio's transport carries
it (TLS included, with the server certificate at hand for the expiry check).

What it leaves out on purpose: redirects (a redirect from a health URL is itself a
finding), compression (we do not ask for it), HTTP/2, cookies and proxies (the
backend sends a probe whose URL a proxy environment variable covers through httpx).

The exchange's deadline is the caller's (``asyncio.timeout``); a connection whose
exchange did not finish cleanly is closed, never reused.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import h11

from oncall_console.backends.http import wire

IDLE_SECONDS = 60.0
"""An idle connection older than this is closed rather than reused."""
MAX_HEADER_BYTES = 64 * 1024


class ProbeError(Exception):
    """The exchange failed in a way that is not an OSError or an SSL error."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    target: bytes
    host_header: bytes


@lru_cache(maxsize=65_536)
def origin_of(url: str) -> Origin:
    """Where to connect and what to ask for (httpx's parser: the same URLs as config).
    Imported here, not above: the probe worker gets its origins from the console
    (:class:`ProbeClient`'s ``origins``) and runs without httpx."""
    import httpx

    u = httpx.URL(url)
    scheme = u.scheme
    if scheme not in ("http", "https") or not u.host:
        raise ProbeError(f"not an http(s) URL: {url}")
    default = 443 if scheme == "https" else 80
    port = u.port or default
    raw_host = u.raw_host.decode("ascii")
    host_header = f"[{raw_host}]" if ":" in raw_host else raw_host
    if port != default:
        host_header += f":{port}"
    return Origin(scheme, raw_host, port, u.raw_path or b"/", host_header.encode("ascii"))


def default_cas() -> tuple[str | None, str | None]:
    """(cafile, capath) without a ``ca_file``, as httpx chooses them: SSL_CERT_FILE,
    SSL_CERT_DIR, certifi's bundle."""
    if os.environ.get("SSL_CERT_FILE"):
        return os.environ["SSL_CERT_FILE"], None
    if os.environ.get("SSL_CERT_DIR"):
        return None, os.environ["SSL_CERT_DIR"]
    import certifi  # httpx's own dependency

    return certifi.where(), None


def probe_headers(user_agent: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Every probe's headers: the User-Agent, Accept, the configured ones."""
    return {"User-Agent": user_agent, "Accept": "*/*", **headers}


def tls_context(verify: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """One context for every connection, as httpx builds it (``create_ssl_context``): the
    default one on these CAs or, not verifying, one that checks nothing."""
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=cafile, capath=capath)


@dataclass(slots=True)
class ProbeResponse:
    status_code: int
    reason_phrase: str
    headers: dict[str, str]
    """Lower-case names; a repeated header keeps its last value."""
    body: bytes
    truncated: bool
    ssl_object: ssl.SSLObject | None
    head_at: float
    """``time.perf_counter()`` when the status line and headers had arrived."""

    @property
    def encoding(self) -> str:
        """The charset of Content-Type when Python knows it, else UTF-8."""
        ctype = self.headers.get("content-type", "")
        for part in ctype.split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset":
                name = value.strip().strip('"')
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    break
        return "utf-8"


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection carrying one exchange at a time.

    An exchange starts on the fast path (:mod:`.wire`: the request's bytes cached, the
    answer read with bytes operations); anything unusual in either direction hands the
    connection to h11 for good, the answer's bytes so far replayed into it."""

    def __init__(
        self,
        origin_key: tuple[str, str, int],
        on_lost: Callable[[_Connection], None],
        fast_path: bool = True,
    ):
        self.key = origin_key
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.h11: h11.Connection | None = None if fast_path else _h11_connection()
        self.closed = False
        self.idle_since = 0.0
        self.exchanges = 0
        self._done: asyncio.Future[ProbeResponse] | None = None
        self._head: h11.Response | None = None
        self._head_at = 0.0
        self._body = bytearray()
        self._limit = 0
        self._lost: BaseException | None = None
        # the fast path: this exchange's request (for a replay), its bytes so far
        self._request: tuple[bytes, bytes, list[tuple[bytes, bytes]]] | None = None
        self._buf = bytearray()
        self._fast_head: wire.Head | None = None
        self._body_at = 0
        self._reuse = False

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._done.done():
            # Bytes nobody asked for: the connection's framing cannot be trusted.
            self._close()
            return
        if self.h11 is None:
            self._buf += data
            self._read_fast()
        else:
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        assert self.h11 is not None
        try:
            self.h11.receive_data(data)
            self._pump()
        except h11.RemoteProtocolError as exc:
            self._fail(ProbeError(f"bad HTTP answer: {exc}"))

    def eof_received(self) -> bool:
        if self._done is not None and not self._done.done():
            if self.waiting_for_head():
                self._fail(ProbeError("the server closed the connection before answering"))
                return False
            if self.h11 is None:
                self._replay()  # h11 says what is missing, in its words
            if not self._done.done():
                self._feed(b"")
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._lost = exc
        self._on_lost(self)
        if self._done is not None and not self._done.done():
            self._done.set_exception(
                exc if exc is not None else ProbeError("the server closed the connection")
            )

    # --- one exchange ------------------------------------------------------------------

    def send(
        self, method: bytes, origin: Origin, headers: list[tuple[bytes, bytes]], limit: int
    ) -> asyncio.Future[ProbeResponse]:
        assert self.transport is not None
        if not any(k.lower() == b"host" for k, _ in headers):  # a configured Host wins
            headers = [(b"host", origin.host_header), *headers]
        data = None
        if self.h11 is None:
            data = wire.request_bytes(method, origin.target, tuple(headers))
            if data is None:
                self.h11 = _h11_connection()  # an unusual request: h11 from now on
        if data is None:
            assert self.h11 is not None
            request = h11.Request(method=method, target=origin.target, headers=headers)
            data = self.h11.send(request) or b""
            data += self.h11.send(h11.EndOfMessage()) or b""
        else:
            self._request = (method, origin.target, headers)
            self._buf, self._fast_head, self._reuse = bytearray(), None, False
        self._done = asyncio.get_running_loop().create_future()
        self._head, self._body, self._limit = None, bytearray(), limit
        self.exchanges += 1
        self.transport.write(data)
        return self._done

    def _read_fast(self) -> None:
        buf = self._buf
        head = self._fast_head
        if head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if wire.ends_without_crlf_head(buf) or len(buf) > MAX_HEADER_BYTES:
                    self._replay()
                return
            head = wire.parse_head(bytes(buf[:end]))
            if head is not None and (head.status_code in (204, 304) or self._is_head()):
                head.length = 0  # no body, whatever Content-Length says (RFC 9112 6.3)
            if head is None or head.length is None:
                self._replay()  # chunked, read-until-close, 1xx, HTTP/1.0, odd lines
                return
            self._fast_head, self._body_at = head, end + 4
            self._head_at = time.perf_counter()
        have = len(buf) - self._body_at
        got = min(have, head.length)
        if got > self._limit:
            body = bytes(buf[self._body_at : self._body_at + self._limit])
            self._respond(head.status_code, head.reason, head.headers, body, truncated=True)
        elif have >= head.length:
            # bytes past the answer: the next exchange would read them as its own
            self._reuse = head.keep_alive and have == head.length
            body = bytes(buf[self._body_at : self._body_at + head.length])
            self._respond(head.status_code, head.reason, head.headers, body, truncated=False)

    def _is_head(self) -> bool:
        return self._request is not None and self._request[0] == b"HEAD"

    def _replay(self) -> None:
        """Hand this exchange to h11: its request, then every byte received so far."""
        assert self._request is not None
        method, target, headers = self._request
        self.h11 = _h11_connection()
        self.h11.send(h11.Request(method=method, target=target, headers=headers))
        self.h11.send(h11.EndOfMessage())
        data, self._buf, self._fast_head = bytes(self._buf), bytearray(), None
        self._feed(data)

    def waiting_for_head(self) -> bool:
        """No answer's head yet in this exchange."""
        if self.h11 is None:
            return self._fast_head is None
        return self.h11.their_state is h11.SEND_RESPONSE

    def _pump(self) -> None:
        assert self.h11 is not None
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            kind = type(event)
            if kind is h11.Response:
                self._head = event  # type: ignore[assignment]
                self._head_at = time.perf_counter()
            elif kind is h11.Data:
                self._body += event.data  # type: ignore[union-attr]
                if len(self._body) > self._limit:
                    del self._body[self._limit :]
                    self._finish(truncated=True)  # the rest is never read
                    return
            elif kind is h11.EndOfMessage:
                self._finish(truncated=False)
                return
            elif kind is h11.ConnectionClosed:
                self._fail(ProbeError("the server closed the connection before answering"))
                return
            # InformationalResponse (1xx): wait for the final one.

    def _finish(self, truncated: bool) -> None:
        head = self._head
        if head is None or self._done is None:
            self._fail(ProbeError("no HTTP answer"))
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in head.headers}
        self._respond(head.status_code, head.reason, headers, bytes(self._body), truncated)

    def _respond(
        self, code: int, reason: bytes, headers: dict[str, str], body: bytes, truncated: bool
    ) -> None:
        assert self._done is not None
        ssl_obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        self._done.set_result(
            ProbeResponse(
                status_code=code,
                reason_phrase=reason.decode("latin-1"),
                headers=headers,
                body=body,
                truncated=truncated,
                ssl_object=ssl_obj,
                head_at=self._head_at,
            )
        )
        if truncated:
            self._close()

    def _fail(self, exc: BaseException) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)
        self._close()

    def reusable(self) -> bool:
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        if self.h11 is None:
            return self._reuse
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False
        if self.h11.trailing_data[0]:
            # Bytes past the answer (an unasked-for second answer, a HEAD answered with a
            # body): the next exchange would read them as its own. Not reused.
            return False
        try:
            self.h11.start_next_cycle()
        except h11.LocalProtocolError:
            return False
        return True

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def abort(self) -> None:
        self._close()


def _h11_connection() -> h11.Connection:
    return h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)


class ProbeClient:
    """Kept-alive connections per origin: at most ``max_connections`` exchanges at once,
    and at most as many idle connections kept (the oldest is closed first)."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None,
        headers: Mapping[str, str],
        max_connections: int,
        max_body_bytes: int,
        fast_path: bool = True,
        origins: Callable[[str], Origin] = origin_of,
    ) -> None:
        self._fast_path = fast_path
        """False: every exchange through h11 (the tests' reference)."""
        self._origin_of = origins
        """A URL's origin: parsed here, or (the probe worker) looked up in what the
        console parsed."""
        self._tls = tls
        self._headers = _encode(headers)
        self._merged: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
        """The client's headers merged with a request's (the token's), by the latter."""
        self._limit = max_body_bytes
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_connections
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._open: set[_Connection] = set()
        self._closed = False

    async def request(
        self, method: str, url: str, headers: Mapping[str, str] | None = None
    ) -> ProbeResponse:
        """One exchange; OSError / ssl.SSLError / ProbeError when it fails."""
        if self._closed:
            raise ProbeError("the client is closed")
        origin = self._origin_of(url)
        extra = self._headers
        if headers:
            key = tuple(headers.items())
            merged = self._merged.get(key)
            if merged is None:
                given = _encode(headers)
                names = {k.lower() for k, _ in given}
                merged = [(k, v) for k, v in extra if k.lower() not in names] + given
                if len(self._merged) >= 64:  # a rotated token: the old sets go
                    self._merged.clear()
                self._merged[key] = merged
            extra = merged
        async with self._slots:
            for attempt in (1, 2):
                conn, reused = self._take(origin), True
                if conn is None:
                    conn, reused = await self._connect(origin), False
                clean_end = False
                try:
                    response = await conn.send(method.encode("ascii"), origin, extra, self._limit)
                    clean_end = True
                except (ConnectionError, ProbeError) as exc:
                    # A kept-alive connection the server closed meanwhile: once more, anew.
                    if reused and attempt == 1 and _nothing_received(conn, exc):
                        continue
                    raise
                finally:
                    if not clean_end:
                        conn.abort()
                self._give_back(conn)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        key = (origin.scheme, origin.host, origin.port)
        tls = self._tls if origin.scheme == "https" else None
        if origin.scheme == "https" and tls is None:
            raise ProbeError("TLS is not set up")
        _, conn = await loop.create_connection(
            lambda: _Connection(key, self._lost, self._fast_path),
            origin.host,
            origin.port,
            ssl=tls,
            server_hostname=origin.host if tls is not None else None,
            **_connect_options(loop),
        )
        self._open.add(conn)
        return conn

    def _take(self, origin: Origin) -> _Connection | None:
        key = (origin.scheme, origin.host, origin.port)
        pool = self._idle.get(key)
        now = time.monotonic()
        found = None
        while pool and found is None:
            conn = pool.pop()
            self._idle_count -= 1
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                found = conn
            else:
                conn.abort()
        if pool is not None and not pool:
            del self._idle[key]
        return found

    def _give_back(self, conn: _Connection) -> None:
        if self._closed or not conn.reusable():
            conn.abort()
            return
        if self._idle_count >= self._max_idle:
            self._evict_one()
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.key, []).append(conn)
        self._idle_count += 1

    def _evict_one(self) -> None:
        oldest: _Connection | None = None
        for pool in self._idle.values():
            if pool and (oldest is None or pool[0].idle_since < oldest.idle_since):
                oldest = pool[0]
        if oldest is not None:
            pool = self._idle[oldest.key]
            pool.remove(oldest)
            if not pool:
                del self._idle[oldest.key]
            self._idle_count -= 1
            oldest.abort()

    def _lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        pool = self._idle.get(conn.key)
        if pool and conn in pool:
            pool.remove(conn)
            self._idle_count -= 1
            if not pool:
                del self._idle[conn.key]

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.abort()
        self._idle.clear()
        self._idle_count = 0
        # Let the transports run connection_lost before the loop may close.
        await asyncio.sleep(0)


def _connect_options(loop: asyncio.AbstractEventLoop) -> dict[str, float]:
    """asyncio's loop: Happy Eyeballs, as httpcore did (a dead IPv6 route falls back to
    IPv4). uvloop's (the probe worker's) has no such option and tries each address."""
    return {} if type(loop).__module__.startswith("uvloop") else {"happy_eyeballs_delay": 0.25}


def _encode(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Header pairs as sent: names keep their case (some servers look at it), and of
    two names that differ only in case the later one wins."""
    last = {k.lower(): (k, v) for k, v in headers.items()}
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in last.values()]


def _nothing_received(conn: _Connection, exc: BaseException) -> bool:
    """True when the server closed a reused connection before sending a byte."""
    return conn.exchanges >= 2 and conn.waiting_for_head()
