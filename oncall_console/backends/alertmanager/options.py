"""The ``alertmanager`` backend's settings: the server, how alerts are read, silence limits."""

from __future__ import annotations

import re
from typing import Annotated

import httpx
from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Strict
from oncall_console.backends.shared.alerts import AlertReading
from oncall_console.durations import parse_duration
from oncall_console.secrets import one_source_each

Seconds = Annotated[float, BeforeValidator(parse_duration)]

MIN_SILENCE = 60.0


class AlertmanagerOptions(AlertReading):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str
    """Base URL of Alertmanager, e.g. http://alertmanager:9093 (a path prefix is kept)."""
    token_env: str | None = None
    """Environment variable holding a bearer token (the token never goes in config)."""
    token_file: str | None = None
    """File holding a bearer token."""
    verify_tls: bool = True
    """Verify the server certificate; off only for endpoints you trust another way."""
    timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds one request may take, from connect to the last byte."""
    group_by: list[str] = Field(default_factory=lambda: ["alertname"])
    """Labels whose values form an alert's group, e.g. "alertname=HighErrorRate · service=api"."""
    read_groups: bool = False
    """Read ``/api/v2/alerts/groups`` instead of ``/api/v2/alerts``: an alert's group is
    the one Alertmanager's route made (its group_by labels and receiver), not group_by."""
    include_silenced: bool = True
    """Show silenced and inhibited alerts too (as suppressed / inhibited)."""
    silence_max_duration: Seconds = 86400.0
    """The longest silence the console will create, e.g. "24h"."""
    receiver_filter: str | None = None
    """Only alerts routed to receivers matching this regex (Alertmanager's receiver filter)."""
    max_alerts: int = Field(default=10_000, ge=1, le=1_000_000)
    """Alerts kept from one answer, the most severe first; more are cut, and a synthetic
    alert says how many, of which severities."""

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        try:
            parsed = httpx.URL(url)
        except Exception as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return url.rstrip("/")

    @field_validator("silence_max_duration")
    @classmethod
    def _max_duration(cls, value: float) -> float:
        if value < MIN_SILENCE:
            raise ValueError("must be at least 1m")
        return value

    @field_validator("receiver_filter")
    @classmethod
    def _receiver_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    _one_source = model_validator(mode="after")(one_source_each)


class AlertmanagerCheckParams(Strict):
    """``[checks.NAME]`` keys for an Alertmanager health check: none is required."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    warning_ms: float = Field(default=1000.0, gt=0)
    """Slower than this is DEGRADED."""
