"""A re-probe asked for while the same check's probe is out in the probe worker gets a
probe of its own, sent after it: an action's verification (``Engine.reprobe``) must
not read the answer to a request that left before the action ran."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from tests.support.stack_server import wait_until_async


class Flip:
    """An HTTP server answering 500 while ``broken``, 200 after; the state is read when
    the request arrives, and the answer waits for ``release``."""

    def __init__(self) -> None:
        self.broken = True
        self.release = asyncio.Event()
        self.arrived: list[bool] = []  # was it broken when each request came in?
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                broken = self.broken
                self.arrived.append(broken)
                await self.release.wait()
                code, body = (500, b"broken") if broken else (200, b'{"status": "ok"}')
                writer.write(
                    b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    b"\r\n%s" % (code, len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def flip() -> AsyncIterator[Flip]:
    f = Flip()
    server = await asyncio.start_server(f.handle, "127.0.0.1", 0)
    f.port = server.sockets[0].getsockname()[1]
    try:
        yield f
    finally:
        f.release.set()
        server.close()


@pytest.mark.parametrize("workers", [0, 1])
async def test_a_reprobe_during_a_probe_in_flight_is_answered_by_a_later_request(
    flip: Flip, workers: int
) -> None:
    url = f"http://127.0.0.1:{flip.port}/health"
    config = {
        "backends": {"web": {"type": "http"}},
        "checks": {"api": {"backend": "web", "url": url, "timeout": 10}},
        "store": {"url": ":memory:"},
        "poller": {"workers": workers},
    }
    e = Engine(from_dict(config, env={}))
    try:
        flip.release.set()
        await e.reprobe("api")  # the backend is set up (its worker started, if any)
        flip.release.clear()
        before = asyncio.create_task(e.reprobe("api"))
        await wait_until_async("the probe in flight", lambda: len(flip.arrived) == 2, 10)
        flip.broken = False  # the action ran: the service is fixed
        verify = asyncio.create_task(e.reprobe("api"))
        await asyncio.sleep(0.05)  # the second ask reaches the backend (or coalesces)
        flip.release.set()
        first, second = await asyncio.wait_for(asyncio.gather(before, verify), 20)
        assert bool(e.backends["web"].worker_pids) == bool(workers)  # type: ignore[attr-defined]
        assert first is not None and "500" in first.summary
        assert second is not None and second.status.value == "ok", second.summary
        assert flip.arrived == [True, True, False]
    finally:
        await e.stop()
