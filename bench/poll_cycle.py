#!/usr/bin/env python3
"""2. Poll cycle at scale: 100 / 1,000 / 10,000 HTTP checks against loopback servers
that answer after a set latency, wall time and CPU per cycle, next to the seeds' way
(a sequential ``curl`` loop, as in seed 002's health-check script) on the same
endpoints, in the same run.

The engine is the real one: ``Engine.poll_once()`` (the poller's gather, its
semaphore, one ``http`` backend and its pooled client) on a config built with
``config.from_dict``, exactly as a TOML file would be. Each size runs in a fresh
child process (one warm-up cycle, then ``--cycles`` measured ones); sizes and the
curl loop are interleaved run by run, so all see the same machine load.

    python bench/poll_cycle.py [--runs 3] [--cycles 3] [--sizes 100,1000,10000]
                               [--before PATH]   # also measure another checkout

``--before`` runs the same children with ``PYTHONPATH=PATH`` (e.g. a git worktree of
the commit before a fix), interleaved with this tree: before -> after, same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# appended, not prepended: a child run with PYTHONPATH=<other checkout> must import that one
sys.path.append(str(Path(__file__).resolve().parent.parent))

from bench._common import load, median, met, ms, p95, write_fragment
from bench.latency_server import LatencyServers

CURL = "/usr/bin/curl"
NOTES = [
    "- Fixed, before → after, step 1 (`--before` a worktree of 1c711cc, interleaved, same "
    "run, load ~3): 1,000 checks 3,067 → 1,470 ms per cycle, CPU 2.83 → 1.13 ms per "
    "request. Both costs were in httpcore: `import sniffio` tried (and failed, uncached) "
    "for every lock and event, about five per request (encode/httpcore#1103); and its pool "
    "walking every connection on each request.",
    "- Fixed, step 2 (`--before` a worktree of 842c7a9, interleaved, same run, load ~1.5): "
    "1,000 checks 598 → 187 ms per cycle, CPU 0.54 → 0.11 ms per request; 200 endpoints "
    "(100 live + ready checks) 155 → 38 ms, 19× → 76× the curl loop. What was left was "
    "httpx + httpcore themselves, ~2,200 Python calls per request (request and response "
    "models, header normalisation, the pool's locks and events). Probes now go out on "
    "`backends/http/probe.py`: h11 frames the exchange (43 µs a request alone), an asyncio "
    "Protocol carries it, kept-alive connections per origin; httpx stays for webhooks and "
    "for probes a proxy variable covers.",
    "- Fixed, step 3 (`--before` an archive of main 5cc898a, interleaved, same run, load 4 → 10 on 2 CPUs, so wall times are not comparable with a quiet run; CPU is): 10,000 "
    "checks 2,403 → 1,255 ms CPU per cycle (0.24 → 0.13 ms per request), 1,000 checks "
    "276 → 125 ms. The profile had h11's per-event machinery at ~40 % of the client, "
    "the redaction's ~120,000 regex passes a cycle and the body's JSON read per probe. "
    "`backends/http/wire.py` now reads the common answer (HTTP/1.1, Content-Length) with "
    "bytes operations and replays anything else into h11; a clean result costs one "
    "search for redaction; a small body's reading is cached by its bytes. What is left "
    "per probe is mostly the poller's (a task per `wait_for`, the semaphore, the gather) "
    "and the event loop's. A second run when the load had dropped to ~1.9 (`--sizes "
    "1000,10000`, same interleaving): 10,000 checks 1,998 → 1,669 ms wall, 1,971 → 1,179 ms "
    "CPU; 1,000 checks 182 → 148 ms wall, 173 → 95 ms CPU. Wall now exceeds CPU: the "
    "latency server (its own process) spends ~450 ms of CPU per 10,000 answers, and "
    "with the other load on the machine the two processes share what is left of 2 CPUs.",
    "- Before step 4 (main 78189da, load 2.2): 1,629 ms median wall, 1,106 ms CPU per cycle for 10,000 checks; a cProfile found no hot spot left in our code (the `send` syscall per request, the event loop's ~7 callbacks and 2 tasks per probe), and the floor below (781 ms at concurrency 64) stood in the way whatever the CPU.",
    "- Fixed, step 4 (this session; the *before* rows are ec41896, interleaved, same run, quiet): the second core. `poll_once` hands a big `http` backend's checks to probe worker processes (`backends/http/pool.py`, `worker.py`): the same probe code on uvloop, 512 in flight, at most `max_connections` per origin, results back over a socketpair as tuples and recorded by the engine as before (`engine/batch.py`); the console's scheduled loops use them too (`probe_one`, sends gathered for 2 ms), so the UI process spends ~100 µs a probe instead of ~190. `workers = \"auto\"`: one from 1,000 checks, one more per 5,000, at most one per CPU (one worker: 645-658 ms a cycle, its own ~600 ms of CPU is the cycle; two: 515-552 ms). The latency server (the bench's stand-in for remote services, on the same 2 CPUs) now runs on uvloop: 0.45 → ~0.25 s of CPU per 10,000 answers (`--plain-server` puts it back on asyncio's loop).",
    "- Floor: with `[poller] concurrency = 64` (the default) and answers after 5 ms, a "
    "cycle of 10,000 checks in the console's own process cannot end before 10,000 / 64 × "
    "5 ms = 781 ms whatever the CPU; a probe worker has its own limit (512 in flight).",
    "- Wall ≈ CPU at 1,000 checks: one core is the limit, so 10,000 checks take ~10× as "
    "long; a check's default interval (15 s) leaves room for ~50,000 such probes.",
]
WORKERS_ENV = "ONCALL_BENCH_POLLER_WORKERS"
"""--workers, handed to the children in their environment."""
CURL_SERVICES = 100  # x (live + ready) = 200 endpoints, the seed's loop shape


def _workers(value: str) -> str | int:
    return value if value == "auto" else int(value)


def url(ports: list[int], i: int, kind: str = "health") -> str:
    return f"http://127.0.0.1:{ports[i % len(ports)]}/svc-{i}/{kind}"


# --- the child: one engine, one size ------------------------------------------------------


def config_dict(ports: list[int], n: int, pairs: bool, concurrency: int = 64) -> dict[str, object]:
    """n checks on one http backend; ``pairs``: live + ready per check (the curl peer's
    200 endpoints as 100 checks, as the seed's script reads them)."""
    checks: dict[str, dict[str, object]] = {}
    for i in range(n):
        check: dict[str, object] = {"backend": "web", "interval": 5, "group": f"g{i % 20}"}
        if pairs:
            check["url"] = url(ports, i, "health/live")
            check["ready_url"] = url(ports, i, "health/ready")
        else:
            check["url"] = url(ports, i)
        checks[f"svc-{i}"] = check
    return {
        "backends": {"web": {"type": "http"}},
        "checks": checks,
        "store": {"url": ":memory:"},
        "poller": {
            "concurrency": concurrency,
            # --workers (a tree without [poller] workers refuses the key: not with --before)
            **({"workers": _workers(w)} if (w := os.environ.get(WORKERS_ENV)) else {}),
        },
    }


async def child_cycles(
    ports: list[int],
    n: int,
    pairs: bool,
    cycles: int,
    concurrency: int = 64,
    server_pid: int = 0,
) -> dict[str, object]:
    from oncall_console.config import from_dict
    from oncall_console.engine import Engine

    engine = Engine(from_dict(config_dict(ports, n, pairs, concurrency), env={}))
    await engine.poll_once()  # warm-up: the pool connects, code paths are hot
    # probe worker processes (backends/http/worker.py), in a tree that has them
    workers = getattr(engine.backends["web"], "worker_pids", [])
    wall, cpu, worker_cpu, server_cpu = [], [], [], []
    for _ in range(cycles):
        w0, s0 = sum(map(cpu_of, workers)), cpu_of(server_pid) if server_pid else 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        await engine.poll_once()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        worker_cpu.append(sum(map(cpu_of, workers)) - w0)
        server_cpu.append((cpu_of(server_pid) if server_pid else 0.0) - s0)
    statuses: dict[str, int] = {}
    for state in engine.checks.values():
        key = state.last.status.value if state.last else "none"
        statuses[key] = statuses.get(key, 0) + 1
    await engine.stop()
    import oncall_console

    return {
        "wall": wall,
        "cpu": cpu,
        "worker_cpu": worker_cpu,
        "server_cpu": server_cpu,
        "statuses": statuses,
        "code": oncall_console.__file__,
    }


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(
    ports: list[int],
    n: int,
    pairs: bool,
    cycles: int,
    tree: Path | None,
    concurrency: int = 64,
    server_pid: int = 0,
) -> dict[str, object]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = f"{tree}{os.pathsep}{env.get('PYTHONPATH', '')}"
    argv = [sys.executable, __file__, "--child", str(n), "--ports", ",".join(map(str, ports))]
    argv += ["--cycles", str(cycles), "--concurrency", str(concurrency)]
    argv += ["--server-pid", str(server_pid)]
    argv += ["--pairs"] if pairs else []
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"child {n} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- the peer: seed 002's loop --------------------------------------------------------------

CURL_SCRIPT = """#!/bin/bash
# seed 002's scripts/health-check.sh, on loopback: a sequential curl per endpoint
SERVICES=(
{services}
)

echo "=== Service Health Check ==="
echo "Time: $(date)"
echo ""

for service in "${{SERVICES[@]}}"; do
  name="${{service%%:*}}"
  port="${{service##*:}}"

  # Liveness check
  live=$(curl -s -o /dev/null -w "%{{http_code}}" \\
    "http://127.0.0.1:${{port}}/${{name}}/health/live")

  # Readiness check
  ready=$(curl -s -o /dev/null -w "%{{http_code}}" \\
    "http://127.0.0.1:${{port}}/${{name}}/health/ready")

  if [ "$live" = "200" ] && [ "$ready" = "200" ]; then
    echo "✅ ${{name}}: HEALTHY (live: ${{live}}, ready: ${{ready}})"
  else
    echo "❌ ${{name}}: UNHEALTHY (live: ${{live}}, ready: ${{ready}})"
  fi
done
"""


def write_curl_script(ports: list[int], folder: Path) -> Path:
    services = "\n".join(f'  "svc-{i}:{ports[i % len(ports)]}"' for i in range(CURL_SERVICES))
    path = folder / "health-check.sh"
    path.write_text(CURL_SCRIPT.format(services=services))
    path.chmod(0o755)
    return path


def run_curl(script: Path) -> tuple[float, float, int]:
    """Wall and CPU (of the children) of one loop, and how many said HEALTHY."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(CURL).parent}:{os.environ.get('PATH', '')}"},
        timeout=600,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout.count("HEALTHY (live: 200, ready: 200)")


# --- the report -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="child processes per size")
    parser.add_argument("--cycles", type=int, default=3, help="measured cycles per child")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="server latency")
    parser.add_argument("--ports", default="4", help="listening ports (a number)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="[poller] concurrency (64, the default, bounds a cycle at n / 64 x delay)",
    )
    parser.add_argument(
        "--plain-server", action="store_true", help="the latency server on asyncio's loop"
    )
    parser.add_argument(
        "--workers",
        help="[poller] workers for the children (auto, 0, N; default: the config's default; "
        "not with --before on a tree that lacks the key)",
    )
    parser.add_argument("--before", type=Path, help="another checkout to measure alongside")
    parser.add_argument("--before-label", default="before", help="its name in the table")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.workers is not None:
        os.environ[WORKERS_ENV] = args.workers
    if args.child is not None:
        ports = [int(p) for p in args.ports.split(",")]
        result = child_cycles(
            ports, args.child, args.pairs, args.cycles, args.concurrency, args.server_pid
        )
        print(json.dumps(asyncio.run(result)))
        return

    if not Path(CURL).exists():
        sys.exit(f"{CURL} is needed (apt-get install -y curl)")
    sizes = [int(s) for s in args.sizes.split(",")]
    trees: dict[str, Path | None] = {"this tree": None}
    if args.before:
        trees = {args.before_label: args.before.resolve(), **trees}
    # (tree, size, pairs) -> all wall / cpu samples
    walls: dict[tuple[str, int, bool], list[float]] = {}
    cpus: dict[tuple[str, int, bool], list[float]] = {}
    worker_cpus: dict[tuple[str, int, bool], list[float]] = {}
    server_cpus: dict[tuple[str, int, bool], list[float]] = {}
    statuses: dict[tuple[str, int, bool], dict[str, int]] = {}
    curl_wall: list[float] = []
    curl_cpu: list[float] = []
    curl_ok: list[int] = []
    loads = [load()]
    with (
        (
            servers := LatencyServers(int(args.ports), args.delay_ms, plain=args.plain_server)
        ) as ports,
        tempfile.TemporaryDirectory() as tmp,
    ):
        script = write_curl_script(ports, Path(tmp))
        for run in range(args.runs):
            w, c, ok = run_curl(script)
            curl_wall.append(w)
            curl_cpu.append(c)
            curl_ok.append(ok)
            for label, tree in trees.items():
                for n, pairs in [(CURL_SERVICES, True), *((s, False) for s in sizes)]:
                    r = run_child(ports, n, pairs, args.cycles, tree, args.concurrency, servers.pid)
                    key = (label, n, pairs)
                    walls.setdefault(key, []).extend(r["wall"])  # type: ignore[arg-type]
                    cpus.setdefault(key, []).extend(r["cpu"])  # type: ignore[arg-type]
                    worker_cpus.setdefault(key, []).extend(r["worker_cpu"])  # type: ignore[arg-type]
                    server_cpus.setdefault(key, []).extend(r["server_cpu"])  # type: ignore[arg-type]
                    statuses[key] = r["statuses"]  # type: ignore[assignment]
                    print(
                        f"run {run + 1} {label:>10} {n:>6}{' pairs' if pairs else ''}: "
                        f"wall {median(r['wall']) * 1000:,.0f} ms "  # type: ignore[arg-type]
                        f"cpu {median(r['cpu']) * 1000:,.0f} ms "  # type: ignore[arg-type]
                        f"worker {median(r['worker_cpu']) * 1000:,.0f} ms "  # type: ignore[arg-type]
                        f"server {median(r['server_cpu']) * 1000:,.0f} ms ({r['code']})",  # type: ignore[arg-type]
                        file=sys.stderr,
                    )
        loads.append(load())

    curl_med = median(curl_wall)
    per_endpoint = curl_med / (2 * CURL_SERVICES)
    here = "this tree"
    lines = [
        "## 2. Poll cycle at scale",
        "",
        f"`python bench/poll_cycle.py --runs {args.runs} --cycles {args.cycles}` — "
        f"{len(ports)} loopback ports answering every path after {args.delay_ms:g} ms "
        f"(bench/latency_server.py, {'asyncio' if args.plain_server else 'uvloop'}, its own "
        "process); the engine's real `poll_once()` with one `http` backend (pool of 100, "
        f"poller concurrency {args.concurrency}, `[poller] workers` at its default: a probe "
        "worker process from 1,000 checks, in a tree that has them); "
        f"{args.runs} child processes per size × {args.cycles} cycles after a warm-up; "
        f"the curl loop {args.runs}× in the same run. {loads[0]} at start, {loads[-1]} at end.",
        "",
        "| what | endpoints | median wall / cycle | p95 wall | median CPU / cycle | "
        "probe workers' CPU / cycle | latency server's CPU / cycle | "
        "CPU / request (console + workers) | vs curl loop (same run) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| seed 002 curl loop (sequential) | {2 * CURL_SERVICES} | {ms(curl_med)} | "
        f"{ms(p95(curl_wall))} | {ms(median(curl_cpu))} | – | – | "
        f"{median(curl_cpu) / (2 * CURL_SERVICES) * 1000:.2f} ms | 1× |",
    ]
    for label in trees:
        for n, pairs in [(CURL_SERVICES, True), *((s, False) for s in sizes)]:
            key = (label, n, pairs)
            w, c = walls[key], cpus[key]
            requests = 2 * n if pairs else n
            # same endpoints: curl's wall over ours; other sizes: curl's time for that
            # many endpoints (its per-endpoint median × n) over ours
            ratio = (per_endpoint * requests) / median(w)
            what = f"{label}: {n} checks" + (" (live + ready)" if pairs else "")
            bad = {k: v for k, v in statuses[key].items() if k != "ok"}
            note = f" ⚠ {bad}" if bad else ""
            lines.append(
                f"| {what}{note} | {requests:,} | {ms(median(w))} | {ms(p95(w))} | "
                f"{ms(median(c))} | {ms(median(worker_cpus[key]))} | "
                f"{ms(median(server_cpus[key]))} | "
                f"{(median(c) + median(worker_cpus[key])) / requests * 1000:.2f} ms | "
                f"{ratio:,.0f}× |"
            )
    same = curl_med / median(walls[(here, CURL_SERVICES, True)])
    thousand = walls.get((here, 1000, False))
    lines += [
        "",
        f"Runs: {args.runs} × {args.cycles} cycles per size (median and p95 over all "
        f"cycles); curl loop {args.runs} runs, "
        f"{min(curl_ok)}/{CURL_SERVICES} services HEALTHY in each.",
        "",
    ]
    if thousand:
        lines.append(
            f"- Target 1,000 checks ≤ 1 s per cycle: {ms(median(thousand))} → "
            f"{met(median(thousand) <= 1.0)}."
        )
    if ten := walls.get((here, 10000, False)):
        lines.append(
            f"- Target 10,000 checks ≤ 600 ms per cycle (#14): median {ms(median(ten))}, "
            f"p95 {ms(p95(ten))} → {met(median(ten) <= 0.6)} (on the median)."
        )
    lines.append(
        f"- Target ≥ 50× the curl loop on the same 200 endpoints: {same:,.0f}× → {met(same >= 50)}."
    )
    lines += ["", *NOTES]
    write_fragment(__file__, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
