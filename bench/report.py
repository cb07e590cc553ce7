#!/usr/bin/env python3
"""Assemble BENCHMARKS.md from the fragments the benchmarks wrote to bench/results/.

Each benchmark script writes ``bench/results/<script>.md``, a section starting with
``## <N>. <Title>``; this puts them in order under a header that says on what machine
and when they ran. Run the benchmarks first (``bench/run_all.sh``), then this.

    .venv/bin/python bench/report.py [--output BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

HEADER = """# Benchmarks

Measured by the scripts in `bench/` (how to run them: README, "Benchmarks"). Every
figure is a median of several runs unless it says otherwise; a ratio compares two
things measured in the same run, so load on the machine affects both sides alike.
These are not tests: nothing in the suite asserts on time.
"""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "?"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine() -> str:
    import textual

    return "\n".join(
        [
            "## Machine",
            "",
            f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {_commit()}",
            f"- CPU: {_cpu()}, {os.cpu_count()} cores; memory {_memory()}",
            f"- OS: {platform.platform()}",
            f"- Python {platform.python_version()}, Textual {textual.__version__}",
            "- This is when the file was assembled. Sections are re-run one at a time, and "
            "the host under this sandbox is not always the same kind: a section that names "
            "its own date and CPU ran then and there.",
            "",
        ]
    )


def _order(path: Path) -> tuple[int, str]:
    first = path.read_text(encoding="utf-8").lstrip().splitlines()[:1]
    m = re.match(r"##\s*(\d+)", first[0]) if first else None
    return (int(m.group(1)) if m else 1000, path.name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args(argv)
    fragments = sorted(RESULTS.glob("*.md"), key=_order) if RESULTS.is_dir() else []
    if not fragments:
        print("no results in bench/results/: run the benchmarks first", file=sys.stderr)
        return 1
    parts = [HEADER, machine()]
    parts += [f.read_text(encoding="utf-8").strip() + "\n" for f in fragments]
    args.output.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {args.output} from {len(fragments)} results")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
