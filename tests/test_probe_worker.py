"""The http backend's probe worker (backends/http/worker.py, pool.py) against real servers:
the same results as probing in the console, a worker killed mid-cycle, a hung endpoint,
the worker's end with its parent, and no secret where ``ps`` or /proc could show it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall_console.config import from_dict
from oncall_console.engine import Engine
from oncall_console.model import CheckResult
from tests.support.httpserver import LocalServer, free_port, serve
from tests.support.stack_server import wait_until, wait_until_async

SECRET = "s3cret-worker-token"
ROUTES = ["/healthy", "/degraded", "/checks", "/markup", "/echo-auth", "/ready", "/500", "/429"]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


def config(checks: dict[str, dict[str, Any]], workers: int) -> dict[str, Any]:
    return {
        "backends": {"web": {"type": "http", "token_env": "ONCALL_TEST_WORKER_TOKEN"}},
        # latency notes depend on the machine's load, not on where the probe ran
        "checks": {
            k: {"backend": "web", "warning_ms": 60_000, "critical_ms": 60_000, **v}
            for k, v in checks.items()
        },
        "store": {"url": ":memory:"},
        "poller": {"workers": workers},
    }


def engine(checks: dict[str, dict[str, Any]], workers: int) -> Engine:
    env = {"ONCALL_TEST_WORKER_TOKEN": SECRET}
    return Engine(from_dict(config(checks, workers), env=env))


def seen(result: CheckResult) -> tuple[Any, ...]:
    """What a result shows, but its time and latency."""
    return (result.status, result.summary, result.error, result.details, result.substatuses)


def worker_pids(e: Engine) -> list[int]:
    return e.backends["web"].worker_pids  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_TEST_WORKER_TOKEN", SECRET)


async def test_batched_results_equal_the_console_s_own(server: LocalServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}/health"
    checks: dict[str, dict[str, Any]] = {r.strip("/"): {"url": server.url(r)} for r in ROUTES}
    checks["pair"] = {"url": server.url("/live"), "ready_url": server.url("/ready")}
    checks["closed"] = {"url": closed}
    results = {}
    for workers in (0, 1):
        e = engine(checks, workers)
        try:
            await e.poll_once()
            assert bool(worker_pids(e)) == (workers == 1)
            results[workers] = {name: seen(s.last) for name, s in e.checks.items() if s.last}
        finally:
            await e.stop()
    assert results[1] == results[0]
    assert len(results[1]) == len(checks)
    assert SECRET not in repr(results[1])
    assert "saw Bearer" in repr(results[1]["echo-auth"])  # the line is there, redacted


async def test_tls_checks_read_alike_in_the_worker(tmp_path: Path) -> None:
    # the worker builds its TLS context from the CA paths the console chose (no httpx)
    from tests.support.httpserver import Pki

    pki = Pki()
    ca_file = pki.write_ca(tmp_path)
    with (
        serve(Pki.server_context(pki.good)) as good,
        serve(Pki.server_context(pki.expiring)) as expiring,
        serve(Pki.server_context(pki.untrusted)) as untrusted,
    ):
        checks = {
            "good": {"url": good.url("/healthy")},
            "expiring": {"url": expiring.url("/healthy")},
            "untrusted": {"url": untrusted.url("/healthy")},
        }
        results = {}
        for workers in (0, 1):
            cfg = config(checks, workers)
            cfg["backends"]["web"]["ca_file"] = ca_file
            e = Engine(from_dict(cfg, env={"ONCALL_TEST_WORKER_TOKEN": SECRET}))
            try:
                await e.poll_once()
                assert bool(worker_pids(e)) == (workers == 1)
                results[workers] = {n: seen(s.last) for n, s in e.checks.items() if s.last}
            finally:
                await e.stop()
    assert results[1] == results[0]
    assert [results[1][n][0].value for n in checks] == ["ok", "critical", "down"]


async def test_a_worker_killed_mid_cycle_reports_it_and_the_next_cycle_works(
    server: LocalServer,
) -> None:
    checks = {f"ok{i}": {"url": server.url("/healthy")} for i in range(5)}
    checks["slow"] = {"url": server.url("/slow?ms=20000"), "timeout": 30}
    e = engine(checks, 1)
    try:
        cycle = asyncio.create_task(e.poll_once())
        await wait_until_async("the fast checks", lambda: e.checks["ok4"].last, 10)
        (pid,) = worker_pids(e)
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(cycle, 10)
        slow = e.checks["slow"].last
        assert slow is not None and slow.status.value == "down"
        assert "probe worker died (signal 9)" in slow.summary
        # the next probes (one check at a time, as the console's loops do) start a new one
        again = await asyncio.gather(*(e.reprobe(f"ok{i}") for i in range(5)))
        assert [r.status.value for r in again if r is not None] == ["ok"] * 5
        assert worker_pids(e) and worker_pids(e) != [pid]
    finally:
        await e.stop()


async def test_a_hung_endpoint_times_out_per_check(server: LocalServer) -> None:
    checks = {
        "hung": {"url": server.url("/hang"), "timeout": 0.5},
        "fine": {"url": server.url("/healthy"), "timeout": 5},
    }
    e = engine(checks, 1)
    try:
        await e.poll_once()
        hung, fine = e.checks["hung"].last, e.checks["fine"].last
        assert hung is not None and fine is not None
        assert hung.status.value == "down" and "timed out after 0.5 s" in hung.summary
        assert fine.status.value == "ok"
    finally:
        await e.stop()


CONSOLE_ONLY = {"pydantic", "pydantic_core", "httpx", "httpcore", "anyio", "textual", "rich"}


async def test_the_worker_imports_only_what_probing_needs(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each worker is a fresh interpreter, and what it imports it holds all shift long:
    # pydantic, httpx and the UI stay in the console (#14: 65 MB a worker at 10,000 checks).
    from oncall_console.backends.http import pool

    env = pool.worker_env
    monkeypatch.setattr(pool, "worker_env", lambda: {**env(), "PYTHONPROFILEIMPORTTIME": "1"})
    checks = {
        "pair": {"url": server.url("/live"), "ready_url": server.url("/ready")},
        "deps": {"url": server.url("/degraded")},
    }
    e = engine(checks, 1)
    try:
        await e.poll_once()
        assert worker_pids(e)
        deps = e.checks["deps"].last
        assert deps is not None and deps.substatuses  # probed and judged in the worker
        (worker,) = e.backends["web"]._workers  # type: ignore[attr-defined]
        worker.stderr.seek(0)  # its stderr: a file of its own (never the terminal)
        lines = worker.stderr.read().decode().splitlines()
    finally:
        await e.stop()
    imported = {ln.rsplit("|", 1)[1].strip() for ln in lines if ln.startswith("import time:")}
    assert "h11" in imported  # the worker's imports are the ones read here
    assert sorted({name.split(".")[0] for name in imported} & CONSOLE_ONLY) == []


PARENT = """
import asyncio, sys
from oncall_console.config import from_dict
from oncall_console.engine import Engine
from tests.test_probe_worker import config

async def main():
    e = Engine(from_dict(config({"a": {"url": sys.argv[1]}}, 1), env={}))
    await e.poll_once()
    print(e.backends["web"].worker_pids[0], flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_the_worker_ends_with_its_parent_and_holds_no_secret(server: LocalServer) -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "ONCALL_TEST_WORKER_TOKEN": SECRET, "PYTHONPATH": root}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, server.url("/echo-auth")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        for what in ("cmdline", "environ"):
            shown = Path(f"/proc/{pid}/{what}").read_bytes()
            assert SECRET.encode() not in shown, what
            assert b"ONCALL_TEST_WORKER_TOKEN" not in shown, what
        assert SECRET.encode() in Path(f"/proc/{parent.pid}/environ").read_bytes()  # can fail
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        wait_until("the worker's end", lambda: not _alive(pid), 10, interval=0.05)
    finally:
        if parent.poll() is None:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait(10)


def _alive(pid: int) -> bool:
    """Running (a zombie is not: its parent is gone and init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_worker_that_cannot_start_says_so_then_the_console_probes(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Why it died is on the check's line; nothing the worker writes reaches the terminal
    (the console's screen would keep it until those cells change)."""
    from oncall_console.backends.http import pool

    monkeypatch.setattr(pool, "WORKER_MODULE", "oncall_console.no_such_module")
    e = engine({"a": {"url": server.url("/healthy")}}, 1)
    try:
        await e.poll_once()
        first = e.checks["a"].last
        assert first is not None and "probe worker died (exit code 1)" in first.summary
        assert "No module named oncall_console.no_such_module" in first.summary
        assert "no_such_module" not in capfd.readouterr().err
        await e.poll_once()
        again = e.checks["a"].last
        assert again is not None and again.status.value == "ok"
        assert worker_pids(e) == []
    finally:
        await e.stop()


def test_auto_starts_a_worker_from_1000_checks_and_one_more_per_5000_up_to_the_cpus(
    monkeypatch,
):
    from oncall_console.backends.http import pool

    class Ctx:
        workers = "auto"

    probes = pool.BatchProbes.__new__(pool.BatchProbes)
    probes.context = Ctx()  # type: ignore[assignment]
    monkeypatch.setattr(pool, "_cpus", lambda: 2)
    assert [probes._worker_count(n) for n in (999, 1000, 5000, 5001, 10_000, 50_000)] == [
        0, 1, 1, 2, 2, 2,
    ]  # fmt: skip
    monkeypatch.setattr(pool, "_cpus", lambda: 1)
    assert probes._worker_count(10_000) == 1


async def test_a_scheduled_probe_of_one_check_keeps_the_workers_the_backend_needs(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto: the worker count follows the backend's checks, not a batch's. A one-check
    probe (every scheduled probe, every re-probe) asked for one worker and stopped the
    second one the first cycle had started."""
    from oncall_console.backends.http import pool

    monkeypatch.setattr(pool, "AUTO_MIN_CHECKS", 1)
    monkeypatch.setattr(pool, "AUTO_CHECKS_PER_WORKER", 2)
    monkeypatch.setattr(pool, "_cpus", lambda: 2)
    e = engine({f"ok{i}": {"url": server.url("/healthy")} for i in range(4)}, 0)
    e.backends["web"].context.workers = "auto"  # type: ignore[attr-defined]
    try:
        await e.poll_once()
        started = worker_pids(e)
        assert len(started) == 2
        result = await e.reprobe("ok0")
        assert result is not None and result.status.value == "ok"
        assert worker_pids(e) == started
    finally:
        await e.stop()


def test_the_worker_s_plain_parameters_carry_every_check_parameter() -> None:
    # a parameter added to HttpCheckParams and not to ProbeParams would be lost in the worker
    from dataclasses import fields

    from oncall_console.backends.http.judge import ProbeParams
    from oncall_console.backends.http.options import HttpCheckParams

    assert [f.name for f in fields(ProbeParams)] == list(HttpCheckParams.model_fields)
    params = HttpCheckParams(url="http://h/x", ready_url="http://h/r", degraded_status=[429])
    plain = ProbeParams.of(params)
    assert plain.expect_status == (200, 204) and plain.degraded_status == (429,)
    assert {f.name: getattr(plain, f.name) for f in fields(plain)} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in params.model_dump().items()
    }


async def test_a_worker_whose_process_cannot_be_made_leaves_no_file_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed fork (EAGAIN at the process limit, ENOMEM) raised out of start() with its
    stderr file and socket open; the console retries every cycle, so they piled up."""
    from oncall_console.backends.http import pool

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(pool.subprocess, "Popen", refuse)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        worker = pool.ProbeWorker("web", None, None)  # type: ignore[arg-type]
        with pytest.raises(BlockingIOError):
            await worker.start()
        assert worker.stderr is None
    assert len(os.listdir("/proc/self/fd")) == before
