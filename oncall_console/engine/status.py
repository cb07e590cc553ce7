"""The console's state as plain data: ``status --format json`` (its keys are a contract
for scripts: change them only by adding)."""

from __future__ import annotations

from typing import Any


def snapshot(engine: Any, now: float) -> dict[str, Any]:
    """Everything the engine (``engine.core.Engine``: not imported, the core imports this
    module) knows, as plain data, at ``now``."""
    return {
        "environment": engine.loaded.config.console.environment,
        "at": now,
        "overall": engine.overall(now).value,
        "checks": [
            {
                "name": c.spec.name,
                "backend": c.spec.backend,
                "group": c.spec.group,
                "status": c.status(now).value,
                "summary": c.last.summary if c.last else "",
                "latency_ms": round(c.last.latency_ms, 2)
                if c.last and c.last.latency_ms is not None
                else None,
                "age_s": round(c.age(now) or 0.0, 1) if c.last else None,
                "details": dict(c.last.details) if c.last else {},
                "substatuses": [
                    {"name": s.name, "status": s.status.value, "detail": s.detail}
                    for s in (c.last.substatuses if c.last else ())
                ],
            }
            for c in engine.checks.values()
        ],
        "slis": [
            {
                "name": s.spec.name,
                "title": s.spec.label,
                "status": s.status(now).value,
                "error": s.error,
                "unit": s.spec.unit,
                "target": s.spec.thresholds.target,
                "warning": s.spec.thresholds.warning,
                "critical": s.spec.thresholds.critical,
                "good": "lower" if s.spec.thresholds.direction.value == "down" else "higher",
                "readings": [
                    {
                        "series": r.series,
                        "value": r.value,
                        "status": r.status.value,
                        "budget_remaining": r.budget_remaining,
                        "burn_rate": r.burn_rate,
                        "burn_status": r.burn_status.value if r.burn_status else None,
                        "note": r.note,
                    }
                    for r in s.readings.values()
                ],
            }
            for s in engine.slis.values()
        ],
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "name": a.name,
                "severity": a.severity.label,
                "state": a.state.value,
                "summary": a.summary,
                "source": a.source,
                "age_s": round(max(0.0, now - a.starts_at), 1),
                "labels": dict(a.labels),
            }
            for a in engine.alerts()
        ],
        "incidents": [
            {
                "id": i.id,
                "title": i.title,
                "severity": i.severity.label,
                "status": i.status.value,
                "age_s": round(max(0.0, now - i.opened_at), 1),
            }
            for i in engine.incidents()
        ],
        "errors": {**engine.start_errors, **engine.feed_errors()},
    }
