"""The integration stack itself: real PostgreSQL, Redis, Prometheus, Alertmanager, exporters.

Each test waits for a condition with a deadline (``wait_until``), never sleeps and
hopes. Tests that break a server (stop, pause, kill) put it back before they end;
``healthy_stack`` repairs anything a failed test left behind.
"""

from __future__ import annotations

import math
import os
import socket
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

import tests.conftest as _conftest
from tests.support.stack import Stack, write_dev_config
from tests.support.stack_config import POOL_HIGH, POOL_WARNING, REDIS_DOWN
from tests.support.stack_fixture import require_stack_binaries
from tests.support.stack_server import get_json, http_get, wait_until

if not hasattr(_conftest, "stack"):  # until tests/conftest.py imports the fixtures itself
    from tests.support.stack_fixture import healthy_stack, stack  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

ALERT_TIMEOUT = 25.0


def _value(stack: Stack, expr: str) -> str | None:
    """The single sample value of an instant query, or None when there is none."""
    result = stack.query(expr)
    return result[0]["value"][1] if len(result) == 1 else None


def _am_alert(stack: Stack, name: str) -> dict[str, Any] | None:
    for alert in stack.alertmanager_alerts():
        if alert["labels"].get("alertname") == name and alert["status"]["state"] == "active":
            return alert
    return None


def test_every_server_answers(stack: Stack) -> None:
    with psycopg.connect(stack.postgres.dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("app",)
        assert conn.execute("SHOW max_connections").fetchone() == ("50",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)

    client = redis.Redis.from_url(stack.redis.url, socket_timeout=5)
    try:
        assert client.ping()
        assert client.config_get("maxmemory")["maxmemory"] == str(64 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    finally:
        client.close()

    assert http_get(f"{stack.prometheus.url}/-/ready")[0] == 200
    assert http_get(f"{stack.alertmanager.url}/-/ready")[0] == 200
    status = get_json(f"{stack.alertmanager.url}/api/v2/status")
    assert status["cluster"]["status"] == "disabled"

    metrics = {
        stack.postgres_exporter: b"\npg_up 1",
        stack.redis_exporter: b"\nredis_up 1",
        stack.node_exporter: b"\nnode_load1 ",
    }
    for exporter, needle in metrics.items():
        code, body = http_get(f"{exporter.url}/metrics", timeout=5)
        assert code == 200 and needle in body, exporter

    for server in stack.servers:
        assert server.running and server.log_path.exists(), server


def test_prometheus_sees_every_target_up_and_loads_the_rules(healthy_stack: Stack) -> None:
    targets = healthy_stack.wait_for_targets_up()
    assert sorted(t["labels"]["job"] for t in targets) == sorted(healthy_stack.own_jobs())
    assert all(t["scrapeUrl"].startswith("http://127.0.0.1:") for t in targets)

    groups = get_json(f"{healthy_stack.prometheus.url}/api/v1/rules")["data"]["groups"]
    alerts = {r["name"]: r for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert {"ServiceDown", POOL_HIGH, POOL_WARNING, "RedisMemoryHigh", REDIS_DOWN} <= set(alerts)
    for rule in alerts.values():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["name"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["name"]
    wait_until(  # recording rules evaluate (at most a second after the first scrape)
        "a recorded series", lambda: healthy_stack.query("instance:redis_memory:ratio"), 10
    )


def test_connection_pool_alert_reaches_alertmanager(healthy_stack: Stack) -> None:
    stack = healthy_stack
    held = math.floor(stack.postgres.max_connections * 0.9) + 1  # alone already > 90 %
    conns: list[psycopg.Connection[Any]] = []
    try:
        for _ in range(held):
            conns.append(psycopg.connect(stack.postgres.dsn, connect_timeout=5))
        alert = wait_until(
            f"{POOL_HIGH} in Alertmanager", lambda: _am_alert(stack, POOL_HIGH), ALERT_TIMEOUT
        )
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["job"] == "postgres"
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"])
        assert _am_alert(stack, POOL_WARNING) is not None  # > 70 % as well
    finally:
        for conn in conns:
            conn.close()
    # leave the pool as we found it for the tests that follow
    wait_until(
        "pool ratio back to normal",
        lambda: float(_value(stack, "instance:pg_connections:ratio") or 1) < 0.5,
        10,
    )


def test_stopping_redis_is_seen_and_restart_recovers(healthy_stack: Stack) -> None:
    stack = healthy_stack
    port = stack.redis.port
    stack.redis.stop()
    try:
        assert not stack.redis.ping()
        wait_until("redis_up == 0", lambda: _value(stack, "redis_up") == "0", 10)
        wait_until(
            f"{REDIS_DOWN} firing",
            lambda: any(
                a["labels"]["alertname"] == REDIS_DOWN and a["state"] == "firing"
                for a in stack.prometheus_alerts()
            ),
            ALERT_TIMEOUT,
        )
        # the exporter itself stays up: it reports Redis as down
        assert _value(stack, 'up{job="redis"}') == "1"
    finally:
        stack.redis.restart()
    assert stack.redis.port == port and stack.redis.ping()
    wait_until("redis_up == 1", lambda: _value(stack, "redis_up") == "1", 10)


def test_dev_config_points_at_the_stack(stack: Stack, tmp_path: Path) -> None:
    path = write_dev_config(stack, tmp_path / "config.dev.toml")
    config = tomllib.loads(path.read_text())
    backends = config["backends"]
    assert backends["pg"] == {"type": "postgres", "dsn": stack.postgres.dsn}
    assert backends["cache"] == {"type": "redis", "url": stack.redis.url}
    assert backends["prom"] == {"type": "prometheus", "url": stack.prometheus.url}
    assert backends["am"]["url"] == stack.alertmanager.url
    assert config["checks"]["prometheus-ready"]["url"] == f"{stack.prometheus.url}/-/ready"
    assert {"postgres", "redis", "scrape-targets", "alertmanager"} <= set(config["checks"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _group_members(groups: set[int]) -> list[int]:
    """Pids of live or zombie processes whose process group is one of ``groups``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) in groups:
                members.append(int(entry.name))
    return members


def test_fault_primitives_and_stop_leave_no_process() -> None:
    """On a second, private stack: pause/resume, crash/restart, then stop kills every pid."""
    require_stack_binaries()
    own = Stack().start()
    try:
        own.redis.pause()
        with socket.create_connection(("127.0.0.1", own.redis.port), timeout=2) as sock:
            sock.settimeout(0.5)
            sock.sendall(b"PING\r\n")
            with pytest.raises(TimeoutError):
                sock.recv(64)  # the port accepts, nobody answers: a hang
        own.redis.resume()
        assert own.redis.ping()

        pg_port, first_pid = own.postgres.port, own.postgres.pid
        own.postgres.kill()  # a crash: immediate shutdown, no checkpoint
        assert not own.postgres.running
        own.postgres.restart()  # crash recovery, same port, same data
        assert (own.postgres.port, own.postgres.pid != first_pid) == (pg_port, True)
        with psycopg.connect(own.postgres.dsn, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        pids = own.pids()
        assert len(pids) == len(own.servers) + 1  # the crashed postgres and its successor
        assert all(s.pid is not None and _alive(s.pid) for s in own.servers)
    finally:
        own.stop()
    assert [p for p in pids if _alive(p)] == []
    assert _group_members(set(pids)) == []  # no worker left behind, not even a zombie
    assert not own.base_dir.exists()
