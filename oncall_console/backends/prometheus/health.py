"""The ``prometheus`` backend's health check of Prometheus itself: ready, and its scrape targets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from oncall_console.backends.prometheus.client import (
    DEADLINE_SHARE,
    PrometheusClient,
    PrometheusError,
    error_text,
)
from oncall_console.backends.prometheus.options import PrometheusCheckParams
from oncall_console.model import CheckResult, CheckSpec, DetailTable, Status
from oncall_console.text import clean

_MAX_TABLE_ROWS = 200


@dataclass
class _Health:
    latency_ms: float
    ready_code: int
    ready_text: str
    targets: list[dict[str, Any]] = field(default_factory=list)


class PrometheusHealth(PrometheusClient):
    """Prometheus's own health: /-/ready, then how many active targets are down."""

    # --- health of Prometheus itself -----------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        started = time.perf_counter()
        try:
            params = check.params
            if not isinstance(params, PrometheusCheckParams):
                params = PrometheusCheckParams.model_validate(params or {})
            self._ensure_client()
            deadline = time.monotonic() + check.timeout * DEADLINE_SHARE
            health = await self.context.run_sync(
                self._health, deadline, check.timeout, timeout=check.timeout
            )
            return self._judge(check, params, health)
        except TimeoutError:
            error = f"timed out after {check.timeout:g} s"
        except PrometheusError as exc:
            error = str(exc)
        except Exception as exc:  # probe never raises: everything is a result
            error = self._fail(f"unexpected error: {type(exc).__name__}: {exc}").args[0]
        return CheckResult(
            check=check.name,
            status=Status.DOWN,
            summary=error,
            latency_ms=(time.perf_counter() - started) * 1000,
            at=self.context.clock(),
            details={"url": self.options.url},
            error=error,
        )

    def _health(self, deadline: float, timeout: float) -> _Health:
        """In the pool: /-/ready, then the active targets (the client has no readiness call)."""
        session, base = self._session, self.options.url
        assert session is not None
        try:
            started = time.perf_counter()
            resp = session.get(f"{base}/-/ready", timeout=self._left(deadline, timeout))
            health = _Health(
                latency_ms=(time.perf_counter() - started) * 1000,
                ready_code=resp.status_code,
                ready_text=clean(resp.text[:300], limit=120),
            )
            if resp.status_code != 200:
                return health
            resp = session.get(
                f"{base}/api/v1/targets",
                params={"state": "active"},
                timeout=self._left(deadline, timeout),
            )
        except OSError as exc:  # requests' errors, and a ca_file that cannot be read
            raise self._fail(self._unreachable(exc, timeout)) from None
        if resp.status_code != 200:
            raise self._fail(
                f"targets: HTTP {resp.status_code}: {error_text(resp.content) or resp.reason}"
            )
        try:
            health.targets = list(resp.json()["data"]["activeTargets"])
        except (ValueError, KeyError, TypeError):
            raise self._fail("targets: unexpected answer from Prometheus") from None
        return health

    def _judge(self, check: CheckSpec, p: PrometheusCheckParams, h: _Health) -> CheckResult:
        details = {"url": self.options.url, "ready": f"HTTP {h.ready_code}"}
        if h.ready_code != 200:
            summary = f"not ready: HTTP {h.ready_code}" + (
                f" {h.ready_text}" if h.ready_text else ""
            )
            return CheckResult(
                check=check.name,
                status=Status.DOWN,
                summary=summary,
                latency_ms=h.latency_ms,
                at=self.context.clock(),
                details=details,
                error=summary,
            )
        targets = [t for t in h.targets if not p.jobs or t.get("labels", {}).get("job") in p.jobs]
        down = [t for t in targets if t.get("health") == "down"]
        unknown = [t for t in targets if t.get("health") not in ("up", "down")]
        up = len(targets) - len(down) - len(unknown)
        details.update(
            targets=str(len(targets)),
            targets_up=str(up),
            targets_down=str(len(down)),
            targets_unknown=str(len(unknown)),
        )
        rows = tuple(
            (
                clean(t.get("labels", {}).get("job", ""), limit=80),
                clean(t.get("labels", {}).get("instance", ""), limit=120),
                clean(t.get("lastError", ""), limit=300),
            )
            for t in sorted(
                down, key=lambda t: (t.get("labels", {}).get("job", ""), str(t.get("labels")))
            )[:_MAX_TABLE_ROWS]
        )
        table = DetailTable("Scrape targets down", ("job", "instance", "lastError"), rows)
        crit = p.targets_down_critical
        if crit is not None and len(down) >= crit:
            status = Status.CRITICAL  # Prometheus answers: a count past its threshold
        elif len(down) >= p.targets_down_warning:
            status = Status.DEGRADED
        else:
            status = Status.OK
        if down:
            jobs = sorted({r[0] for r in rows})
            named = ", ".join(jobs[:3]) + (f" +{len(jobs) - 3}" if len(jobs) > 3 else "")
            summary = f"ready · {len(down)} of {len(targets)} targets down ({named})"
        else:
            summary = f"ready · {up} of {len(targets)} targets up"
        if unknown:
            summary += f" · {len(unknown)} not scraped yet"
        return CheckResult(
            check=check.name,
            status=status,
            summary=summary,
            latency_ms=h.latency_ms,
            at=self.context.clock(),
            details=details,
            tables=(table,),
        )
