"""The first poll's sketch path (engine/prefetch.py) run in a fresh interpreter: what it
found, and which heavy libraries it imported on the way."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from typing import Any

HEAVY = ("pydantic", "httpx", "textual")


def sketch_in_fresh_process(data: dict[str, Any], config_dir: str) -> tuple[list[str], list[Any]]:
    """(the HEAVY modules imported, the Early results) of read_sketch + sketch_results."""
    code = textwrap.dedent(
        f"""
        import asyncio, json, pickle, sys
        from oncall_console.engine.prefetch import read_sketch, sketch_results
        found = []
        groups, settings = read_sketch(json.loads({json.dumps(json.dumps(data))}))
        asyncio.run(sketch_results(groups, settings, {config_dir!r}, found.append))
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        sys.stdout.buffer.write(pickle.dumps((heavy, found)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True)
    heavy, found = pickle.loads(out.stdout)  # our own child's output
    return heavy, found
