"""The integration test stack: real servers on 127.0.0.1, started and stopped by the suite.

    with Stack() as stack:                  # or Stack(base_dir).start() ... stack.stop()
        stack.wait_for_targets_up()
        stack.postgres.dsn, stack.redis.url, stack.prometheus.url, stack.alertmanager.url

PostgreSQL, Redis, Alertmanager, Prometheus and the postgres, redis and node
exporters each run as a child process in its own session, on a free port, with
its data and log under the stack's base directory. ``stop()`` ends exactly the
processes the stack started, by pid. Each server can also be killed, paused,
resumed and restarted (same port, same data) by fault tests; see stack_server.py.

Binaries: the Debian packages in scripts/debian-packages.txt. ``missing_binaries()``
names the ones this machine lacks, so tests can skip (or fail under CI=true).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from tests.support.stack_config import dev_config_toml
from tests.support.stack_server import (
    Server,
    StackError,
    free_port,
    get_json,
    wait_until,
)
from tests.support.stack_servers import (
    AlertmanagerServer,
    NodeExporter,
    PostgresExporter,
    PostgresServer,
    PrometheusServer,
    RedisExporter,
    RedisServer,
    missing_binaries,
)

__all__ = [
    "Server",
    "Stack",
    "StackError",
    "free_port",
    "missing_binaries",
    "wait_for_targets_up",
    "wait_until",
    "write_dev_config",
]

KEEP_ENV = "ONCALL_STACK_KEEP"  # set to 1: keep a stack-made base dir (logs) after stop


def wait_for_targets_up(
    prometheus_url: str,
    expected: Mapping[str, int],
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """Poll ``/api/v1/targets`` until each job in ``expected`` has that many targets, all up.

    Prometheus hands static targets to its scrapers about 5 s after it starts, so
    right after a (re)start the list is empty for a while.
    """
    last: list[dict[str, Any]] = []

    def all_up() -> bool:
        nonlocal last
        data = get_json(f"{prometheus_url}/api/v1/targets?state=active")
        last = [t for t in data["data"]["activeTargets"] if t["labels"]["job"] in expected]
        for job, count in expected.items():
            mine = [t for t in last if t["labels"]["job"] == job]
            if len(mine) != count or any(t["health"] != "up" for t in mine):
                return False
        return True

    try:
        wait_until("Prometheus targets up", all_up, timeout, interval=0.25)
    except StackError as exc:
        states = ", ".join(
            f"{t['labels']['job']}={t['health']}"
            + (f" ({t['lastError']})" if t.get("lastError") else "")
            for t in last
        )
        raise StackError(f"{exc}; targets: {states or 'none yet'}") from None
    return last


class Stack:
    """Every server of the integration stack; a context manager that starts and stops them."""

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        max_connections: int = 50,
        extra_targets: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``base_dir`` None: a temp dir of the stack's own, removed by ``stop()``.

        ``extra_targets``: more Prometheus jobs, job name -> ``host:port`` list.
        """
        self._own_base = base_dir is None
        if base_dir is None:
            base_dir = Path(tempfile.mkdtemp(prefix="oncall-stack-"))
            base_dir.chmod(0o755)  # so the postgres user can reach its data dir
        base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir = base_dir
        self.extra_targets = {job: list(t) for job, t in (extra_targets or {}).items()}
        self.postgres = PostgresServer(base_dir / "postgres", max_connections)
        self.redis = RedisServer(base_dir / "redis")
        self.alertmanager = AlertmanagerServer(base_dir / "alertmanager")
        self.node_exporter = NodeExporter(base_dir / "node-exporter")
        self.postgres_exporter = PostgresExporter(base_dir / "postgres-exporter", self.postgres)
        self.redis_exporter = RedisExporter(base_dir / "redis-exporter", self.redis)
        self.prometheus = PrometheusServer(
            base_dir / "prometheus", self.alertmanager, self.scrape_jobs
        )
        self.start_seconds: float | None = None

    # Start order: phases run one after another, the servers of a phase in parallel.
    # A later phase needs the final ports of the earlier ones (a taken port is swapped).
    @property
    def phases(self) -> list[list[Server]]:
        return [
            [self.postgres, self.redis, self.alertmanager, self.node_exporter],
            [self.postgres_exporter, self.redis_exporter],
            [self.prometheus],
        ]

    @property
    def servers(self) -> list[Server]:
        return [server for phase in self.phases for server in phase]

    def scrape_jobs(self) -> dict[str, list[str]]:
        """Prometheus job name -> targets: the stack's own, then the extra ones."""
        jobs = {
            "prometheus": [self.prometheus.host_port],
            "alertmanager": [self.alertmanager.host_port],
            "postgres": [self.postgres_exporter.host_port],
            "redis": [self.redis_exporter.host_port],
            "node": [self.node_exporter.host_port],
        }
        return {**jobs, **self.extra_targets}

    def own_jobs(self) -> dict[str, int]:
        return {job: 1 for job in ("prometheus", "alertmanager", "postgres", "redis", "node")}

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Stack:
        """Start every server and wait until each answers; on failure stop them all."""
        began = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=4, thread_name_prefix="stack-start") as pool:
                for phase in self.phases:
                    futures = [pool.submit(s.start, True, timeout) for s in phase]
                    errors = [f.exception() for f in futures]
                    failed = [str(e) for e in errors if e is not None]
                    if failed:
                        raise StackError("\n\n".join(failed))
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop everything this stack started, in reverse order, by pid; idempotent."""
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="stack-stop") as pool:
            for phase in reversed(self.phases):
                for future in [pool.submit(s.stop) for s in phase]:
                    if future.exception() is not None:
                        errors.append(future.exception())  # type: ignore[arg-type]
        if self.postgres.external_dir is not None:
            shutil.rmtree(self.postgres.external_dir, ignore_errors=True)
        if self._own_base and os.environ.get(KEEP_ENV) != "1":
            shutil.rmtree(self.base_dir, ignore_errors=True)
        if errors:
            raise StackError(f"stopping the stack: {errors!r}")

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def pids(self) -> list[int]:
        """Every pid this stack ever started (restarts add new ones)."""
        return [pid for server in self.servers for pid in server.pids_started]

    def ensure_running(self, timeout: float = 30.0) -> list[str]:
        """Resume paused servers and restart stopped ones; returns the names it touched."""
        touched = []
        for server in self.servers:
            if server.paused:
                server.resume()
                touched.append(server.name)
            elif not server.running:
                server.restart(timeout=timeout)
                touched.append(server.name)
        return touched

    # --- looking at it --------------------------------------------------------------------------

    def wait_for_targets_up(
        self, timeout: float = 30.0, jobs: Mapping[str, int] | None = None
    ) -> list[dict[str, Any]]:
        """Wait until Prometheus scrapes the stack's own targets (or ``jobs``) successfully."""
        return wait_for_targets_up(self.prometheus.url, jobs or self.own_jobs(), timeout)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """A Prometheus instant query; the result vector."""
        data = get_json(f"{self.prometheus.url}/api/v1/query?query={quote(expr)}")
        return list(data["data"]["result"])

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        """Alerts Prometheus holds (pending or firing)."""
        return list(get_json(f"{self.prometheus.url}/api/v1/alerts")["data"]["alerts"])

    def alertmanager_alerts(self) -> list[dict[str, Any]]:
        """Active alerts in Alertmanager (``/api/v2/alerts``)."""
        return list(get_json(f"{self.alertmanager.url}/api/v2/alerts"))

    def summary(self) -> str:
        """One line per server: name, address, pid, log."""
        rows = [f"{s.name:<18} {s.url:<55} pid {s.pid!s:<8} log {s.log_path}" for s in self.servers]
        return "\n".join(rows)


def write_dev_config(
    stack: Stack,
    path: Path,
    interval: float = 2.0,
    *,
    timeout: float | None = None,
    refresh: float | None = None,
    runbook_dirs: Sequence[str] = (),
) -> Path:
    """Write a console config TOML that points at ``stack`` (its store beside it).

    ``timeout``, ``refresh`` and ``runbook_dirs``: see ``dev_config_toml``.
    """
    checks = {
        "prometheus-ready": f"{stack.prometheus.url}/-/ready",
        "alertmanager-ready": f"{stack.alertmanager.url}/-/ready",
        "postgres-exporter": f"{stack.postgres_exporter.url}/metrics",
        "redis-exporter": f"{stack.redis_exporter.url}/metrics",
        "node-exporter": f"{stack.node_exporter.url}/metrics",
    }
    path.write_text(
        dev_config_toml(
            postgres_dsn=stack.postgres.dsn,
            redis_url=stack.redis.url,
            prometheus_url=stack.prometheus.url,
            alertmanager_url=stack.alertmanager.url,
            http_checks=checks,
            store_path=str(path.parent / f"{path.stem}.sqlite3"),
            interval=interval,
            timeout=timeout,
            refresh=refresh,
            runbook_dirs=runbook_dirs,
        ),
        encoding="utf-8",
    )
    return path
