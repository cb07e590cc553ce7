"""Configuration files for the test stack: Prometheus, its rules, Alertmanager.

They are written as JSON, which is valid YAML, so no YAML library is needed.
Rule wording is this project's own; the runbook URLs are placeholders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RUNBOOKS = "https://runbooks.example.com/oncall"

# Alert names the tests (and the console's demo data) refer to.
SERVICE_DOWN = "ServiceDown"
POOL_HIGH = "PostgresConnectionPoolHigh"
POOL_WARNING = "PostgresConnectionPoolWarning"
POSTGRES_DOWN = "PostgresDown"
REDIS_DOWN = "RedisDown"
REDIS_MEMORY_HIGH = "RedisMemoryHigh"
DB_POOL_LOW = "DatabaseConnectionPoolLow"
"""Seed 002's rule under its own name, for the 3 a.m. drill (bench/drill.py): labelled
with the console's check (``service``) and the bundled runbook's id (``runbook_url``)."""

# sum of client connections over all databases, per instance, divided by max_connections
PG_POOL_RATIO = (
    "sum by (instance, job) (pg_stat_activity_count)"
    " / on (instance, job) max by (instance, job) (pg_settings_max_connections)"
)
REDIS_MEMORY_RATIO = "redis_memory_used_bytes / on (instance, job) (redis_memory_max_bytes > 0)"


def _alert(
    name: str, expr: str, severity: str, summary: str, description: str, for_: str = "2s"
) -> dict[str, Any]:
    slug = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{RUNBOOKS}/{slug}",
        },
    }


def _db_pool_low() -> dict[str, Any]:
    """Seed 002's ``DatabaseConnectionPoolLow`` (``pg_stat_activity_count /
    pg_settings_max_connections > 0.9``, for 5m, critical), for the drill: the seed's
    ratio summed per instance as above (the two series' labels differ, so the seed's
    bare division matches nothing), ``for`` 5 s, and labels that say what it is about."""
    return {
        "alert": DB_POOL_LOW,
        "expr": f"({PG_POOL_RATIO}) > 0.9",
        "for": "5s",
        "labels": {"severity": "critical", "service": "postgres"},  # the dev config's check
        "annotations": {
            "summary": "Database connection pool nearly exhausted",
            "description": "{{ $value | humanizePercentage }} of max_connections are in use on"
            " {{ $labels.instance }}.",
            "runbook_url": f"{RUNBOOKS}/database-connection-exhaustion",
        },
    }


def alert_rules() -> dict[str, Any]:
    """The rule file: recording rules for the two ratios, and the alerts."""
    return {
        "groups": [
            {
                "name": "oncall-stack-recording",
                "interval": "1s",
                "rules": [
                    {"record": "instance:pg_connections:ratio", "expr": PG_POOL_RATIO},
                    {"record": "instance:redis_memory:ratio", "expr": REDIS_MEMORY_RATIO},
                ],
            },
            {
                "name": "oncall-stack-alerts",
                "interval": "1s",
                "rules": [
                    _alert(
                        SERVICE_DOWN,
                        "up == 0",
                        "critical",
                        "{{ $labels.job }} is not answering scrapes",
                        "Prometheus could not scrape {{ $labels.instance }} (job"
                        " {{ $labels.job }}) for a few seconds: the process is down or hung.",
                    ),
                    _alert(
                        POSTGRES_DOWN,
                        "pg_up == 0",
                        "critical",
                        "PostgreSQL at {{ $labels.instance }} refuses its exporter",
                        "postgres-exporter is up but cannot connect to the database.",
                    ),
                    _alert(
                        POOL_HIGH,
                        f"({PG_POOL_RATIO}) > 0.9",
                        "critical",
                        "PostgreSQL connection pool almost exhausted",
                        "{{ $value | humanizePercentage }} of max_connections are in use on"
                        " {{ $labels.instance }}; new clients will soon be refused.",
                    ),
                    _alert(
                        POOL_WARNING,
                        f"({PG_POOL_RATIO}) > 0.7",
                        "warning",
                        "PostgreSQL connection pool filling up",
                        "{{ $value | humanizePercentage }} of max_connections are in use on"
                        " {{ $labels.instance }}.",
                    ),
                    _db_pool_low(),
                    _alert(
                        REDIS_DOWN,
                        "redis_up == 0",
                        "critical",
                        "Redis at {{ $labels.instance }} is unreachable",
                        "redis-exporter is up but cannot reach Redis.",
                    ),
                    _alert(
                        REDIS_MEMORY_HIGH,
                        f"({REDIS_MEMORY_RATIO}) > 0.9",
                        "warning",
                        "Redis memory close to maxmemory",
                        "Redis on {{ $labels.instance }} uses {{ $value | humanizePercentage }}"
                        " of maxmemory; keys are being evicted.",
                    ),
                ],
            },
        ]
    }


def prometheus_config(
    rules_file: Path,
    alertmanager: str,
    jobs: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """``jobs``: job name -> ``host:port`` targets (scraped at /metrics every second)."""
    return {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "900ms",
            "evaluation_interval": "1s",
            "external_labels": {"stack": "oncall-console-tests"},
        },
        "rule_files": [str(rules_file)],
        "alerting": {
            "alertmanagers": [
                {"api_version": "v2", "static_configs": [{"targets": [alertmanager]}]}
            ]
        },
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in jobs.items()
        ],
    }


def alertmanager_config() -> dict[str, Any]:
    """Everything goes to a receiver that notifies nobody; alerts still show in the API."""
    return {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "instance"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "null"}],
    }


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as JSON, which every YAML parser reads."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def dev_config_toml(
    *,
    postgres_dsn: str,
    redis_url: str,
    prometheus_url: str,
    alertmanager_url: str,
    http_checks: Mapping[str, str],
    store_path: str = "",
    interval: float = 2.0,
    timeout: float | None = None,
    refresh: float | None = None,
    runbook_dirs: Sequence[str] = (),
) -> str:
    """A console config pointing at a running stack (``http_checks``: name -> health URL).

    ``timeout``: of each probe (default: the interval, at most 1.5 s); ``refresh``: the
    screen's tick (default: the console's own); ``runbook_dirs``: ``[runbooks] dirs``.
    """
    # "or vector(0)": no 5xx series at all means no errors, not no data.
    api_errors = (
        '(sum(rate(prometheus_http_requests_total{code=~"5.."}[{window}])) or vector(0))'
        " / sum(rate(prometheus_http_requests_total[{window}]))"
    )
    lines = [
        "# Written by the test stack (tests/support/stack.py); points at servers on 127.0.0.1.",
        "# Regenerated on every start: do not edit, do not commit.",
        "",
        "[console]",
        'environment = "devstack"',
        *([f"refresh = {refresh}"] if refresh is not None else []),
        "",
        "[poller]",
        f"interval = {interval}",
        f"timeout = {timeout if timeout is not None else min(1.5, interval)}",
        "",
        "[store]",
        f"url = {_toml_str(store_path)}",
        "",
        "[backends.pg]",
        'type = "postgres"',
        f"dsn = {_toml_str(postgres_dsn)}",
        "",
        "[backends.cache]",
        'type = "redis"',
        f"url = {_toml_str(redis_url)}",
        "",
        "[backends.prom]",
        'type = "prometheus"',
        f"url = {_toml_str(prometheus_url)}",
        "",
        "[backends.am]",
        'type = "alertmanager"',
        f"url = {_toml_str(alertmanager_url)}",
        'group_by = ["alertname", "instance"]',
        "",
        "[backends.web]",
        'type = "http"',
        "",
        "[checks.postgres]",
        'backend = "pg"',
        'group = "data"',
        'title = "PostgreSQL"',
        "long_query_seconds = 30",
        "",
        "[checks.redis]",
        'backend = "cache"',
        'group = "data"',
        'title = "Redis"',
        "queues = { celery = { warning = 100, critical = 1000 } }",
        "",
        "[checks.scrape-targets]",
        'backend = "prom"',
        'group = "monitoring"',
        'title = "Scrape targets"',
        "",
        "[checks.alertmanager]",
        'backend = "am"',
        'group = "monitoring"',
        'title = "Alertmanager"',
        "",
    ]
    for name, url in http_checks.items():
        lines += [
            f"[checks.{name}]",
            'backend = "web"',
            'group = "endpoints"',
            f"url = {_toml_str(url)}",
            "",
        ]
    lines += [
        "[slis.pg-pool]",
        'backend = "prom"',
        'title = "PostgreSQL pool used"',
        'query = "max(instance:pg_connections:ratio)"',
        "scale = 100",
        'unit = "%"',
        'good = "lower"',
        "target = 50",
        "warning = 70",
        "critical = 90",
        "",
        "[slis.redis-memory]",
        'backend = "prom"',
        'title = "Redis memory used"',
        'query = "max(instance:redis_memory:ratio)"',
        "scale = 100",
        'unit = "%"',
        'good = "lower"',
        "target = 60",
        "warning = 80",
        "critical = 90",
        "",
        "[slis.api-errors]",
        'backend = "prom"',
        'title = "Prometheus API 5xx"',
        f"query = {_toml_str(api_errors.replace('{window}', '1m'))}",
        f"error_ratio_query = {_toml_str(api_errors)}",
        "scale = 100",
        'unit = "%"',
        'good = "lower"',
        "target = 0.1",
        "warning = 0.5",
        "critical = 1",
        "",
        "[slis.api-errors.slo]",
        "objective = 0.999",
        'window = "30d"',
        "",
        "[slis.scrape-time]",
        'backend = "prom"',
        'title = "Scrape time"',
        'query = "max by (job) (scrape_duration_seconds)"',
        'series_label = "job"',
        "scale = 1000",
        'unit = "ms"',
        'good = "lower"',
        "target = 100",
        "warning = 500",
        "critical = 900",
        "",
    ]
    if runbook_dirs:
        lines += ["[runbooks]", f"dirs = [{', '.join(_toml_str(d) for d in runbook_dirs)}]", ""]
    return "\n".join(lines)
