"""The probe worker's pipe: length-prefixed pickles over a stream, both ways.

Both ends are this package, the worker started by the console itself (``pool.py``),
so pickle is safe here; remote text travels inside results as plain strings.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable
from typing import Any

_LEN = 4


class Frames(asyncio.Protocol):
    """Length-prefixed pickles over a stream, both ways."""

    def __init__(
        self, on_message: Callable[[Any], None], on_lost: Callable[[Exception | None], None]
    ) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        at = 0
        while len(buf) - at >= _LEN:
            size = int.from_bytes(buf[at : at + _LEN], "little")
            if len(buf) - at - _LEN < size:
                break
            message = pickle.loads(memoryview(buf)[at + _LEN : at + _LEN + size])
            at += _LEN + size
            self._on_message(message)
        if at:
            del buf[:at]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._on_lost(exc)

    def send(self, message: Any) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        self.transport.write(len(data).to_bytes(_LEN, "little") + data)
        return True
