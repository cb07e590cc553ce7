#!/usr/bin/env python3
"""Where the time to the first frame and the first real result goes: runs
``oncall-console ARGS`` in this process with a few methods wrapped, and prints when each
step of the start-up ended, in ms since the interpreter started (a profile of the path,
not a benchmark: run it in a real terminal or tmux; the app quits by itself once a
result is painted). Modules are not imported ahead of the app: each is marked when the
app's own start-up has imported it, and steps run off the event loop say so.

    python bench/startup_trace.py demo
    python bench/startup_trace.py run -c config.toml
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def _since_process_start() -> float:
    """Seconds since this process was started (10 ms resolution, from /proc)."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started


T0 = time.perf_counter() - _since_process_start()
MARKS: list[tuple[float, float, float, str]] = []
GC = {"ms": 0.0, "began": 0.0}


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    """The cyclic collector's time in this process (all generations, all threads)."""
    if phase == "start":
        GC["began"] = time.perf_counter()
    else:
        GC["ms"] += (time.perf_counter() - GC["began"]) * 1000


gc.callbacks.append(_gc_timer)


def mark(what: str) -> None:
    thread = threading.current_thread()
    where = "" if thread is threading.main_thread() else f"  [thread {thread.name}]"
    cpu = time.process_time() * 1000  # this process's CPU, all its threads
    MARKS.append(((time.perf_counter() - T0) * 1000, cpu, GC["ms"], what + where))


def wrap(cls: Any, name: str, what: str, after: Any = None) -> None:
    inner = getattr(cls, name, None)
    if inner is None:  # an older tree (--before) may not have this step
        return
    if hasattr(inner, "__code__") and inner.__code__.co_flags & 0x80:  # coroutine function

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            mark(f"{what} (start)")
            result = await inner(*args, **kwargs)
            mark(what)
            return result

        setattr(cls, name, timed_async)
    else:

        def timed(*args: Any, **kwargs: Any) -> Any:
            result = inner(*args, **kwargs)
            mark(what)
            if after is not None:
                after(*args)
            return result

        setattr(cls, name, timed)


class _Watch(importlib.abc.MetaPathFinder):
    """Marks when a watched module has been imported and runs its hook (to wrap methods)."""

    def __init__(self, hooks: dict[str, tuple[str, Callable[[ModuleType], None] | None]]):
        self.hooks = hooks

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.hooks:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader, (what, hook) = spec.loader, self.hooks[name]
        exec_module = loader.exec_module

        def traced(module: ModuleType) -> None:
            exec_module(module)
            mark(f"import {name} ({what})")
            if hook is not None:
                hook(module)

        loader.exec_module = traced  # type: ignore[method-assign]
        return spec


def _engine_hooks(core: ModuleType) -> None:
    wrap(core.Engine, "__init__", "Engine built (backends, store object, bus)")
    wrap(core.Engine, "start", "engine.start(): store open, bus, backends, poller started")
    wrap(core.Engine, "_start_backends", "backends started")
    wrap(core.Engine, "sync_incidents", "incidents synced")


class _Terminal:
    """The file Textual's writer thread writes to: marks when the frame shows ``FRAME``."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._seen = False

    def write(self, text: str) -> int:
        n = self._file.write(text)
        if len(text) > 1000:  # a frame (Textual writes each in one piece)
            self._writes = getattr(self, "_writes", 0) + 1
            if self._writes <= 4:
                mark(f"terminal write {self._writes}: {len(text)} chars")
        if not self._seen and FRAME in text:
            self._seen = True
            mark(f"first frame written to the terminal ({FRAME!r})")
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


FRAME = "Incidents & alerts"


def _writer_hooks(writer: ModuleType) -> None:
    init = writer.WriterThread.__init__

    def traced_init(self: Any, file: Any) -> None:
        init(self, _Terminal(file))

    writer.WriterThread.__init__ = traced_init


def main() -> int:
    mark("python started, trace loaded")
    seen = {"result": False, "painted": False}

    def state_hooks(state: ModuleType) -> None:
        record = state.CheckState.record

        def first_record(self: Any, result: Any) -> None:
            record(self, result)
            if not seen["result"]:
                seen["result"] = True
                mark(f"first probe result recorded ({result.check})")

        state.CheckState.record = first_record

    def dashboard_hooks(dashboard: ModuleType) -> None:
        sync = dashboard.Dashboard.sync

        def traced_sync(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = sync(self, *args, **kwargs)
            if seen["result"] and not seen["painted"]:
                seen["painted"] = True
                mark("dashboard synced with a real result")
                self.app.set_timer(0.3, self.app.exit)
            return out

        dashboard.Dashboard.sync = traced_sync
        wrap(dashboard.Dashboard, "show_first", "first poll's results shown")

    def app_hooks(app: ModuleType) -> None:
        wrap(app.OncallApp, "__init__", "OncallApp built (themes)")
        wrap(app.OncallApp, "on_ready", "app ready (first frame displayed)")
        wrap(app.OncallApp, "_load_engine", "loading worker started")
        wrap(app.OncallApp, "_start", "dashboard attached, engine started")

    sys.meta_path.insert(
        0,
        _Watch(
            {
                "oncall_console.cli": ("argparse, asyncio", None),
                "pydantic": ("", None),
                "oncall_console.config": (
                    "pydantic models",
                    lambda m: wrap(m, "from_dict", "config validated"),
                ),
                "textual.app": ("", None),
                "textual.screen": (
                    "",
                    lambda m: wrap(m.Screen, "_refresh_layout", "screen layout"),
                ),
                "textual.drivers._writer_thread": ("", _writer_hooks),
                "oncall_console.ui.app": ("textual, the dashboard", app_hooks),
                "oncall_console.engine.core": ("", _engine_hooks),
                "oncall_console.engine.state": ("", state_hooks),
                "oncall_console.engine.poller": (
                    "",
                    lambda m: wrap(m.Poller, "start", "poller tasks spawned"),
                ),
                "oncall_console.store.sqlite": (
                    "",
                    lambda m: wrap(m.SqliteStore, "open", "store open (SQLite, migrations)"),
                ),
                "oncall_console.bus.base": ("", lambda m: wrap(m.LocalBus, "start", "bus started")),
                "oncall_console.backends.demo": ("the simulation", None),
                "oncall_console.backends.http": ("httpx", None),
                "oncall_console.ui.screens.dashboard": ("its widgets", dashboard_hooks),
            }
        ),
    )
    from oncall_console import cli

    code = cli.main(sys.argv[1:])
    mark("app exited")
    width = max(len(w) for *_, w in MARKS)
    lines = ["    wall   cpu    gc (this process)"]
    lines += [f"{t:8.0f} {c:5.0f} {g:5.1f} ms  {w:<{width}}" for t, c, g, w in MARKS]
    out = Path("/tmp/oncall-startup-trace.txt")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
