#!/usr/bin/env python3
"""Where the time to the first real result goes: runs ``oncall-console ARGS`` in this
process with a few methods wrapped, and prints when each step of the start-up ended,
in ms since the interpreter started (a profile of the path, not a benchmark: run it
in a real terminal or tmux; the app quits by itself once a result is painted).

    python bench/startup_trace.py demo
    python bench/startup_trace.py run -c config.toml
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def _since_process_start() -> float:
    """Seconds since this process was started (10 ms resolution, from /proc)."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started


T0 = time.perf_counter() - _since_process_start()
MARKS: list[tuple[float, str]] = []


def mark(what: str) -> None:
    MARKS.append(((time.perf_counter() - T0) * 1000, what))


def wrap(cls: Any, name: str, what: str, after: Any = None) -> None:
    inner = getattr(cls, name)
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


def main() -> int:
    mark("python started, trace loaded")
    from oncall_console import cli

    mark("import oncall_console.cli")
    import oncall_console.config as config

    mark("import oncall_console.config (pydantic, schemas)")
    from oncall_console.engine import Engine
    from oncall_console.engine.poller import Poller
    from oncall_console.engine.state import CheckState

    mark("import oncall_console.engine")
    from oncall_console.ui.app import OncallApp
    from oncall_console.ui.screens.dashboard import Dashboard

    mark("import oncall_console.ui.app (textual, screens)")
    wrap(config, "from_dict", "config validated")
    wrap(Engine, "__init__", "Engine built (backends, store object, bus)")
    wrap(OncallApp, "__init__", "OncallApp built (themes)")
    wrap(Engine, "start", "engine.start(): store open, bus, backends, poller started")
    wrap(Poller, "start", "poller tasks spawned")
    from oncall_console.bus.base import LocalBus
    from oncall_console.store.sqlite import SqliteStore

    wrap(SqliteStore, "open", "store open (SQLite, migrations)")
    wrap(LocalBus, "start", "bus started")
    wrap(Engine, "_start_backends", "backends started")
    wrap(Engine, "sync_incidents", "incidents synced")
    seen = {"result": False, "painted": False}
    record = CheckState.record

    def first_record(self: CheckState, result: Any) -> None:
        record(self, result)
        if not seen["result"]:
            seen["result"] = True
            mark(f"first probe result recorded ({result.check})")

    CheckState.record = first_record  # type: ignore[method-assign]
    sync = Dashboard.sync

    def traced_sync(self: Dashboard, *args: Any, **kwargs: Any) -> Any:
        out = sync(self, *args, **kwargs)
        if seen["result"] and not seen["painted"]:
            seen["painted"] = True
            mark("dashboard synced with a real result")
            self.app.set_timer(0.3, self.app.exit)
        return out

    Dashboard.sync = traced_sync  # type: ignore[method-assign]
    code = cli.main(sys.argv[1:])
    mark("app exited")
    width = max(len(w) for _, w in MARKS)
    lines = [f"{t:8.0f} ms  {w:<{width}}" for t, w in MARKS]
    out = Path("/tmp/oncall-startup-trace.txt")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
