"""A real HTTP(S) server on 127.0.0.1 for backend tests, run in a background thread.

Routes imitate health endpoints, good and bad: JSON health bodies, error codes,
slow, hung and dripping answers, a huge body, a live/ready pair and hostile text;
and webhook receivers (POST / PUT / PATCH under /hook/) that record and echo.
Handlers that wait do so on the server's stop event, so stopping never hangs.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

HEALTHY = {
    "status": "healthy",
    "version": "1.4.2",
    "services": {"database": "healthy", "redis": "healthy", "queue": {"status": "ok"}},
}
DEGRADED = {
    "status": "degraded",
    "services": {
        "database": "healthy",
        "redis": "unhealthy",
        "search": {"status": "degraded", "message": "slow replica"},
    },
}
CHECKS = {
    "status": "UP",
    "checks": [{"name": "db", "status": "UP"}, {"name": "disk", "status": "DOWN"}, "junk"],
}
MARKUP = {
    "status": "[bold red]x[/]\x1b[31m",
    "services": {
        "db\x1b]52;c;SGVsbG8=\x07": "healthy",
        "cache": {"status": "[bold red]boom[/]\x1b[31m", "message": "\x1b]52;c;SGVsbG8=\x07hi"},
    },
}
HUGE_BYTES = 50 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # Handshake here, in the connection's own thread, not in the accept loop.
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.requests.append({"path": url.path, "headers": dict(self.headers.items())})
        query = parse_qs(url.query)
        stop = self.server.stop
        match url.path:
            case "/healthy" | "/live":
                self._json(200, HEALTHY)
            case "/degraded":
                self._json(200, DEGRADED)
            case "/checks":  # MicroProfile style: a list of named checks
                self._json(200, CHECKS)
            case "/markup":
                self._json(200, MARKUP)
            case "/echo-auth":  # a health endpoint that quotes the request's credential
                said = self.headers.get("Authorization", "")
                self._json(
                    200,
                    {"status": "ok", "services": {"auth": f"degraded: saw {said}"}, "note": said},
                )
            case "/ready":
                self._json(503, {"status": "unhealthy", "services": {"database": "down"}})
            case "/500":
                self._send(500, b"Internal Server Error", "text/plain")
            case "/429":
                self._send(429, b"slow down", "text/plain")
            case "/slow":
                stop.wait(float(query.get("ms", ["700"])[0]) / 1000)
                self._json(200, HEALTHY)
            case "/hang":
                stop.wait()  # the request was read; the answer never comes
            case "/drip":
                self._head(200, 100, "text/plain")
                for _ in range(100):
                    if stop.wait(0.5) or not self._write(b"x"):
                        break
            case "/huge":
                self._huge()
            case _:
                self._send(404, b"not found", "text/plain")

    # Webhook routes (POST / PUT / PATCH): record the request with its body, and answer.
    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        self.server.requests.append(
            {"path": url.path, "method": self.command, "headers": headers, "body": body}
        )
        query = parse_qs(url.query)
        if url.path.startswith("/hook/500"):
            self._send(500, b"database is on fire\nsecond line", "text/plain")
        elif url.path.startswith("/hook/slow"):
            self.server.stop.wait(float(query.get("ms", ["5000"])[0]) / 1000)
            self._json(200, {"ok": True})
        elif url.path.startswith("/hook/"):  # echo: what arrived, headers included
            try:
                doc = json.loads(body)
            except ValueError:
                self._json(400, {"error": "not JSON"})
                return
            self._json(201, {"ok": True, "received": doc, "headers": headers})
        else:
            self._send(404, b"not found", "text/plain")

    do_PUT = do_POST
    do_PATCH = do_POST

    def _huge(self) -> None:
        # Generated as it is sent: the server never holds the 50 MB either.
        chunk = b"y" * 65536
        self._head(200, HUGE_BYTES, "application/octet-stream")
        for _ in range(HUGE_BYTES // len(chunk)):
            if self.server.stop.is_set() or not self._write(chunk):
                break
        self.close_connection = True

    def _head(self, code: int, length: int, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client hung up, as a prober that stops reading does
            self.close_connection = True
            return False
        return True

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self._head(code, len(body), ctype)
        if self.command != "HEAD":
            self._write(body)

    def _json(self, code: int, doc: object) -> None:
        self._send(code, json.dumps(doc).encode(), "application/json")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stop = threading.Event()
        self.requests: list[dict[str, Any]] = []
        if tls is not None:
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes and hang-ups are what some tests are about


class LocalServer:
    """A running server: ``url("/healthy")`` and the requests it has seen."""

    def __init__(self, server: _Server, scheme: str) -> None:
        self._server = server
        self.scheme = scheme
        self.port = server.server_address[1]

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._server.requests


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    """Run a server until the block ends; stopping releases any waiting handler."""
    server = _Server(tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield LocalServer(server, "https" if tls else "http")
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    """A port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pki:
    """trustme certificates: a trusted CA with good and nearly expired leaves, and a stranger."""

    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        self.ca = trustme.CA()
        self.untrusted_ca = trustme.CA()
        self.good = self.ca.issue_cert("127.0.0.1", "localhost", not_after=now + dt.timedelta(90))
        self.expiring = self.ca.issue_cert("127.0.0.1", not_after=now + dt.timedelta(days=2))
        self.untrusted = self.untrusted_ca.issue_cert("127.0.0.1", "localhost")

    def write_ca(self, directory: Path) -> str:
        path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    @staticmethod
    def server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        return ctx
