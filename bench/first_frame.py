#!/usr/bin/env python3
"""First frame in a real 120x40 pty (tmux): time from launch until the screen shows
what the user came for. Prints medians of several runs, our app next to a bare
Textual app measured in the same run.

    .venv/bin/python bench/first_frame.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CASES = {
    # name: (argv, text that must be on screen)
    "textual hello-world": ([PY, str(ROOT / "bench" / "hello.py")], "Hello, on-call"),
    "oncall-console demo": ([PY, "-m", "oncall_console", "demo"], "1/1 ready"),  # a real result
}


def first_frame(argv: list[str], marker: str, timeout: float = 20.0) -> float:
    tmux = ["tmux", "-L", f"ff{time.monotonic_ns()}", "-f", "/dev/null"]  # a server per run
    cmd = " ".join(f"'{a}'" for a in argv)
    start = time.perf_counter()
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40", cmd], check=True)
    try:
        while time.perf_counter() - start < timeout:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True
            ).stdout
            if marker in screen:
                return time.perf_counter() - start
            time.sleep(0.005)
        raise TimeoutError(f"{marker!r} never appeared")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    results: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        for name, (argv, marker) in CASES.items():
            results[name].append(first_frame(argv, marker))
    base = statistics.median(results["textual hello-world"])
    print("| app | median first frame | min | max | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, times in results.items():
        med = statistics.median(times)
        print(
            f"| {name} | {med * 1000:.0f} ms | {min(times) * 1000:.0f} ms | "
            f"{max(times) * 1000:.0f} ms | {med / base:.2f}× |"
        )


if __name__ == "__main__":
    main()
