"""The configuration of ``oncall-console demo``: one demo backend and the checks, SLIs and
runbooks of the simulated platform, as the dict a TOML file would load to."""

from __future__ import annotations

from typing import Any

from oncall_console.backends.demo.simulation import SERVICES


def demo_config_dict(seed: int = 7, speed: float = 1.0) -> dict[str, Any]:
    """The config of ``oncall-console demo``, as the dict a TOML file would load to."""
    checks: dict[str, Any] = {
        name: {"backend": "demo", "target": name, "group": "services"}
        for name in (s.name for s in SERVICES)
    }
    checks["postgres"] = {
        "backend": "demo",
        "target": "postgres",
        "group": "data",
        "title": "PostgreSQL",
    }
    checks["redis"] = {"backend": "demo", "target": "redis", "group": "data", "title": "Redis"}

    def sli(metric: str, unit: str, good: str, levels: tuple[float, ...], title: str) -> dict:
        target, warning, critical = levels
        return {
            "backend": "demo",
            "metric": metric,
            "unit": unit,
            "good": good,
            "target": target,
            "warning": warning,
            "critical": critical,
            "title": title,
        }

    slis = {
        "latency-p99": sli("latency_p99", "ms", "lower", (500, 750, 1000), "API latency p99"),
        "error-rate": sli("error_rate", "%", "lower", (0.1, 0.5, 1.0), "API error rate"),
        "availability": sli("availability", "%", "higher", (99.9, 99.5, 99.0), "API availability"),
        "cache-hit-rate": sli("cache_hit_rate", "%", "higher", (90, 80, 70), "Cache hit rate"),
    }
    slis["availability"]["slo"] = {"objective": 0.999, "window": "30d"}
    from oncall_console.paths import shipped

    # The demo's own runbooks: their alert names would clash with the team runbooks'.
    for check, runbook in (
        ("prediction-service", "demo-bad-deploy"),
        ("postgres", "demo-connection-leak"),
        ("notification-service", "demo-memory-leak"),
        ("websocket-service", "demo-websocket-capacity"),
    ):
        checks[check]["runbook"] = runbook
    return {
        "console": {"environment": "demo"},
        "poller": {"interval": 2, "timeout": 1},
        "backends": {"demo": {"type": "demo", "seed": seed, "speed": speed}},
        "checks": checks,
        "slis": slis,
        "runbooks": {
            # The demo's own first (they win an alert name both claim), then the team
            # runbooks: the Redis-memory and disk alerts are theirs, and s / e, and the
            # handoff's offer, use the start- and end-of-shift checklists.
            "dirs": [str(shipped("runbooks-demo")), str(shipped("runbooks"))]
        },
    }
