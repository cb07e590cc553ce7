"""The ``prometheus`` backend's settings: the server, a health check's and an SLI's parameters."""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from oncall_console.backends.base import Strict
from oncall_console.backends.shared.alerts import AlertReading
from oncall_console.durations import parse_duration
from oncall_console.secrets import one_source_each

Seconds = Annotated[float, BeforeValidator(parse_duration)]

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_RANGE_POINTS = 11_000  # Prometheus refuses a query_range with more points than this


class PrometheusOptions(AlertReading):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str
    """Base URL of Prometheus (or of a proxy in front of it), e.g. http://prometheus:9090."""
    token_env: str | None = None
    """Environment variable holding a bearer token (the token never goes in config)."""
    token_file: str | None = None
    """File holding a bearer token, read when the backend starts."""
    verify_tls: bool = True
    """Verify the server certificate; off only for a server you trust another way."""
    ca_file: str | None = None
    """PEM bundle of CAs to trust instead of the default bundle."""
    timeout: Seconds = Field(default=5.0, gt=0)
    """Longest wait for one request, seconds; also cut to what is left of the SLI's timeout."""
    rule_files: list[str] = Field(default_factory=list)
    """Alerting rule files to list on the rules screen (globs; relative to the config file):
    Prometheus's own ``groups:`` files or PrometheusRule objects. Empty: the server's
    ``/api/v1/rules``."""
    alerts: bool | None = None
    """Read firing alerts from ``/api/v1/alerts``: unset, only when no other backend
    (Alertmanager) gives alerts; true, always; false, never."""

    @field_validator("rule_files")
    @classmethod
    def _rule_files(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        base = Path((info.context or {}).get("config_dir") or ".")
        out = []
        for pattern in patterns:
            path = Path(pattern.strip()).expanduser()
            full = path if path.is_absolute() else base / path
            if not sorted(glob.glob(str(full), recursive=True)):
                raise ValueError(f"no file matches {pattern!r} (looked for {full})")
            out.append(str(full))
        return out

    @model_validator(mode="after")
    def _rule_files_read(self) -> PrometheusOptions:
        """A broken rule file is found by ``check``, not first on the rules screen."""
        from oncall_console.backends.prometheus.rules import RuleFileError, read_rule_file

        for path in self.rule_paths():
            try:
                read_rule_file(path, self)
            except RuleFileError as exc:
                raise ValueError(f"rule_files: {exc}") from None
        return self

    def rule_paths(self) -> list[Path]:
        """The files ``rule_files`` names now (globs expanded), each once, sorted."""
        found = {p for pattern in self.rule_files for p in glob.glob(pattern, recursive=True)}
        return [Path(p) for p in sorted(found) if Path(p).is_file()]

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        return url.strip().rstrip("/")

    _one_source = model_validator(mode="after")(one_source_each)


class PrometheusCheckParams(Strict):
    """A health check of Prometheus itself: ready, and how many scrape targets are down."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    targets_down_warning: int = Field(default=1, ge=1)
    """This many scrape targets down (or more) is DEGRADED."""
    targets_down_critical: int | None = Field(default=None, ge=1)
    """This many scrape targets down (or more) is DOWN; unset: never DOWN for targets."""
    jobs: list[str] = Field(default_factory=list)
    """Count only the targets of these jobs; empty: every job."""

    @model_validator(mode="after")
    def _ordered(self) -> PrometheusCheckParams:
        crit = self.targets_down_critical
        if crit is not None and crit < self.targets_down_warning:
            raise ValueError("targets_down_critical must not be below targets_down_warning")
        return self


# Sloth's and OpenSLO's Go-template placeholder, read as ours.
_GO_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_QUERY_KEYS = ("query", "error_ratio_query", "error_query", "total_query", "good_query")
_ZERO = " or on() vector(0)"


def _queries(data: Any) -> Any:
    """Before the fields: ``{{.window}}`` read as ``{window}``; error_query / good_query
    with total_query made into error_ratio_query; no query: the availability in %."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for key in _QUERY_KEYS:
        if isinstance(data.get(key), str):
            data[key] = _GO_WINDOW.sub("{window}", data[key]).strip()
    zero = data.get("no_data_is_zero") is True
    err, good, total = (data.get(k) for k in ("error_query", "good_query", "total_query"))
    parts = [k for k in ("error_query", "good_query", "total_query") if data.get(k) is not None]
    if parts:
        if data.get("error_ratio_query") is not None:
            raise ValueError(f"give error_ratio_query or {' + '.join(parts)}, not both")
        if total is None or (err is None) == (good is None):
            raise ValueError("give total_query with one of error_query or good_query")
        for key in parts:
            if not isinstance(data[key], str) or "{window}" not in data[key]:
                raise ValueError(f"{key} must contain the {{window}} placeholder")
        if err is not None:
            bad = f"(({err}){_ZERO})" if zero else f"({err})"
            data["error_ratio_query"] = f"{bad} / ({total})"
        else:
            data["error_ratio_query"] = f"1 - ({good}) / ({total})"
    elif zero and isinstance(data.get("error_ratio_query"), str):
        data["error_ratio_query"] = f"({data['error_ratio_query']}){_ZERO}"
    ratio = data.get("error_ratio_query")
    if data.get("query") is None and isinstance(ratio, str):
        window = data.get("value_window", "5m")
        data["query"] = f"100 * (1 - ({ratio.replace('{window}', str(window))}))"
    elif zero and isinstance(data.get("query"), str) and not parts:
        data["query"] = f"({data['query']}){_ZERO}"
    return data


class PrometheusSliParams(Strict):
    """``[slis.NAME]`` keys of a Prometheus SLI.

    ``{{.window}}`` (Sloth, OpenSLO) is read as ``{window}``. ``error_query`` (or
    ``good_query``) with ``total_query`` give ``error_ratio_query``; without ``query``
    the SLI's value is the availability in % over ``value_window``."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    query: str
    """PromQL giving the value: an instant vector (one reading per series) or a scalar.
    Optional with an error ratio: then 100 * (1 - the error ratio over value_window)."""
    series_label: str | None = None
    """Name each series of a vector result by this label, e.g. ``service`` -> ``service=api``.
    Unset: a single series is the SLI's value, several are named by all their labels."""
    scale: float = 1.0
    """Multiply values by this, e.g. 100 for a ratio shown as %, 1000 for seconds as ms."""
    history: str = "30m"
    """How far back the sparkline reaches (a query_range); "0" for no history."""
    step: str = "30s"
    """Resolution of the sparkline history."""
    error_ratio_query: str | None = None
    """PromQL for the error ratio (bad / total) over ``{window}``, e.g.
    ``sum(rate(http_requests_total{code=~"5.."}[{window}])) / sum(rate(http_requests_total[{window}]))``.
    With the SLI's ``[slis.NAME.slo]`` it gives the error budget and the burn rates."""
    error_query: str | None = None
    """PromQL for the bad events' rate over ``{window}`` (Sloth's error_query), with total_query."""
    good_query: str | None = None
    """PromQL for the good events' rate over ``{window}`` (OpenSLO's good), with total_query."""
    total_query: str | None = None
    """PromQL for all events' rate over ``{window}`` (Sloth's total_query)."""
    no_data_is_zero: bool = False
    """No data for the errors means no errors (a 5xx counter that never moved, Sloth's
    recording rules over a quiet service): the value and the ratio read 0, not "no data".
    Without ``query``, only the errors are read so: no traffic at all is still no data."""
    value_window: str = "5m"
    """The window of the value when it comes from the error ratio (no ``query``)."""
    max_series: int = Field(default=50, ge=1, le=1000)
    """Show at most this many series (the first by name); a fleet-wide query is not a panel."""

    _derive = model_validator(mode="before")(_queries)

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("a PromQL query is required")
        return query.strip()

    @field_validator("error_ratio_query")
    @classmethod
    def _ratio_query(cls, query: str | None) -> str | None:
        if query is None:
            return None
        if not query.strip():
            raise ValueError("a PromQL query is required (or leave the key out)")
        if "{window}" not in query:
            raise ValueError(
                "must contain the {window} placeholder, e.g. rate(errors_total[{window}])"
            )
        return query.strip()

    @field_validator("series_label")
    @classmethod
    def _label(cls, label: str | None) -> str | None:
        if label is not None and not _LABEL_NAME.match(label):
            raise ValueError("not a Prometheus label name")
        return label

    @field_validator("scale")
    @classmethod
    def _scale(cls, scale: float) -> float:
        if not math.isfinite(scale) or scale == 0:
            raise ValueError("must be a finite, non-zero number")
        return scale

    @field_validator("history", "step")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)  # raises ValueError with the right message
        return value

    @model_validator(mode="after")
    def _range(self) -> PrometheusSliParams:
        if self.history_seconds > 0:
            if self.step_seconds <= 0:
                raise ValueError("step must be more than 0")
            if self.history_seconds / self.step_seconds > _MAX_RANGE_POINTS:
                raise ValueError(
                    f"history / step is more than {_MAX_RANGE_POINTS} points; raise step"
                )
        return self

    @property
    def history_seconds(self) -> float:
        return parse_duration(self.history)

    @property
    def step_seconds(self) -> float:
        return parse_duration(self.step)
