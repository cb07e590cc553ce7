"""The app's end of the first poll (cli/firstpoll.py runs it in a child process while
the first frame is painted; issue #14): read on the event loop as results come, shown
on the frame until the engine is built, then handed to the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

PAUSE = 0.03
"""Seconds between two batches of results (the screen paints in between)."""


class FirstResults(Protocol):
    """A first poll running elsewhere: a file descriptor to watch, the results
    (``model.Early``) it has now, and whether it is done."""

    done: bool

    def fileno(self) -> int: ...

    def drain(self) -> list[Any]: ...

    def go(self) -> None: ...

    def close(self) -> None: ...


class FirstPollReader:
    """Watches ``source`` on the running loop; ``on_results`` gets each batch."""

    def __init__(self, source: FirstResults, on_results: Callable[[list[Any]], None]) -> None:
        self._source: FirstResults | None = source
        self._on_results = on_results
        self.results: list[Any] = []
        self.on_done: Callable[[], None] | None = None
        """Called once the source is done or stopped."""

    @property
    def running(self) -> bool:
        """The first poll may still send results."""
        return self._source is not None

    def start(self) -> None:
        if self._source is not None:
            with contextlib.suppress(OSError, NotImplementedError, ValueError):
                asyncio.get_running_loop().add_reader(self._source.fileno(), self._readable)

    def _readable(self) -> None:
        source = self._source
        if source is None:
            return
        batch = source.drain()
        self.results += batch
        if batch:
            self._on_results(batch)
        if source.done:
            self.stop()
        elif batch:
            # Let the screen paint this batch before the next one: back to back, 200
            # results kept the loop busy ~80 ms before the first row reached the terminal.
            loop = asyncio.get_running_loop()
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                loop.remove_reader(source.fileno())
                loop.call_later(PAUSE, self._resume)

    def _resume(self) -> None:
        if self._source is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                asyncio.get_running_loop().add_reader(self._source.fileno(), self._readable)

    def frame_painted(self) -> None:
        """The first frame is on the terminal: the rest of the first poll may start (it
        waited so as not to take CPU from the frame)."""
        if self._source is not None:
            with contextlib.suppress(OSError):
                self._source.go()

    def take(self) -> list[Any]:
        """Everything read so far and what the pipe holds now; the child is stopped."""
        if self._source is not None:
            self.results += self._source.drain()
            self.stop()
        taken, self.results = self.results, []
        return taken

    def stop(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(source.fileno())
            source.close()
        done, self.on_done = self.on_done, None
        if done is not None:
            done()
