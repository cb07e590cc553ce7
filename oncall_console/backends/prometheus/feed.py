"""The ``prometheus`` backend's alerts and rules: ``/api/v1/alerts`` for a team without
Alertmanager, and the alerting rules of ``rule_files`` or of ``/api/v1/rules``.

Firing alerts are read only when ``alerts = true``, or when it is unset and no other
backend gives alerts (the engine puts the capability in standby: ``Backend.fallback``).
Pending alerts are not alerts yet: they show as the state of their rule.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from oncall_console.backends.base import BackendContext, Capability
from oncall_console.backends.prometheus.client import (
    DEADLINE_SHARE,
    PrometheusClient,
    PrometheusError,
    error_text,
)
from oncall_console.backends.prometheus.rules import (
    RuleFileError,
    alerts_from_api,
    read_rule_file,
    rules_from_api,
    with_state,
)
from oncall_console.model import Alert
from oncall_console.model.rules import AlertRule, RuleSet


class PrometheusFeed(PrometheusClient):
    """Firing alerts and alerting rules, read from Prometheus itself or its rule files."""

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        alerts = self.options.alerts
        self.fallback = frozenset({Capability.ALERTS}) if alerts is None else frozenset()
        self.standby = frozenset({Capability.ALERTS}) if alerts is False else frozenset()

    async def alerts(self) -> list[Alert]:
        data = await self._read("/api/v1/alerts", "alerts")
        try:
            return alerts_from_api(data, self.name, self.options)
        except ValueError as exc:
            raise self._fail(f"alerts: unexpected answer from Prometheus: {exc}") from None

    async def rules(self) -> RuleSet:
        if not self.options.rule_files:
            data = await self._read("/api/v1/rules", "rules", {"type": "alert"})
            try:
                rules, recording = rules_from_api(data, f"prometheus {self.name}", self.options)
            except ValueError as exc:
                raise self._fail(f"rules: unexpected answer from Prometheus: {exc}") from None
            return RuleSet(self.name, tuple(rules), recording=recording)
        # Globbing and YAML parsing are blocking: in the pool.
        found = await self.context.run_sync(self._read_files, timeout=self.options.timeout * 4)
        rules, recording, errors = found
        try:  # the state of each rule, from the alerts the server has now
            data = await self._read("/api/v1/alerts", "alerts")
            alerts = data.get("alerts") if isinstance(data, dict) else None
            rules = with_state(rules, alerts if isinstance(alerts, list) else [])
        except PrometheusError as exc:
            errors.append(f"state unknown: {exc}")
        return RuleSet(self.name, tuple(rules), tuple(errors), recording)

    def _read_files(self) -> tuple[list[AlertRule], int, list[str]]:
        rules: list[AlertRule] = []
        recording = 0
        errors: list[str] = []
        paths = self.options.rule_paths()
        if not paths:
            errors.append(f"no file matches rule_files {self.options.rule_files}")
        for path in paths:
            try:
                found, recorded = read_rule_file(path, self.options)
            except RuleFileError as exc:
                errors.append(str(exc))
                continue
            rules += found
            recording += recorded
        return rules, recording, errors

    async def _read(self, path: str, what: str, params: dict[str, str] | None = None) -> Any:
        """``data`` of a GET on the API, in the pool, bounded by ``timeout``."""
        timeout = self.options.timeout
        self._ensure_client()
        deadline = time.monotonic() + timeout * DEADLINE_SHARE
        return await self.context.run_sync(
            self._get, path, what, params or {}, deadline, timeout, timeout=timeout
        )

    def _get(
        self, path: str, what: str, params: dict[str, str], deadline: float, timeout: float
    ) -> Any:
        session = self._session
        assert session is not None
        try:
            resp = session.get(
                f"{self.options.url}{path}", params=params, timeout=self._left(deadline, timeout)
            )
        except OSError as exc:
            raise self._fail(self._unreachable(exc, timeout)) from None
        if resp.status_code != 200:
            raise self._fail(
                f"{what}: HTTP {resp.status_code}: {error_text(resp.content) or resp.reason}"
            )
        try:
            return resp.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise self._fail(f"{what}: unexpected answer from Prometheus") from None
