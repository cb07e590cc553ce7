"""The ``prometheus`` backend: SLIs from PromQL, error budgets, and Prometheus's own health.

prometheus-api-client is synchronous (requests), so every exchange runs in the
engine's bounded thread pool through :meth:`BackendContext.run_sync`. The client
is built with no retries (its default retries with backoff, a ~6 s stall on a
dead server) and every request carries a timeout cut to what is left of the
SLI's deadline, so a dead or hung Prometheus costs at most the SLI's timeout and
the thread never outlives it by much.

One poll of an SLI is one trip to the pool: the value query, then the error
ratio over each SLO window (all at the same evaluation ``time``, so the windows
agree), then, only every few minutes, the ``query_range`` that seeds the
sparkline; between range queries the history is extended with each polled value.

A query with no data is a reading with no value (UNKNOWN), not an error: a ratio
over no traffic is a fact, not a failure. NaN and infinite values (a ratio that
divided by zero) are shown the same way. Unreachable servers, timeouts and bad
PromQL raise one clean line, which the poller records as the SLI's failure.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from urllib3.util.retry import Retry

from oncall_console.backends import slo as slo_math
from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.durations import parse_duration
from oncall_console.errors import describe
from oncall_console.model import (
    CheckResult,
    CheckSpec,
    DetailTable,
    SliReading,
    SliSpec,
    Status,
    Thresholds,
)
from oncall_console.secrets import SecretMissing, one_source_each, redact, resolve
from oncall_console.text import clean

Seconds = Annotated[float, BeforeValidator(parse_duration)]

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_RANGE_POINTS = 11_000  # Prometheus refuses a query_range with more points than this
_HISTORY_REFRESH_STEPS = 10  # a full query_range every 10 steps (5 min at the 30 s default)
_HISTORY_REFRESH_MIN = 60.0  # …and never more often than once a minute
_DEADLINE_SHARE = 0.9  # of the SLI timeout, for the requests; the rest is for the engine
_MAX_TABLE_ROWS = 200
_HAS_NOTE = "note" in {f.name for f in dataclasses.fields(SliReading)}


class PrometheusError(Exception):
    """One clean line that names the problem: unreachable, timed out, bad query…"""


# --- configuration ---------------------------------------------------------------------------


class PrometheusOptions(Strict):
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


class PrometheusSliParams(Strict):
    """``[slis.NAME]`` keys of a Prometheus SLI."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    query: str
    """PromQL giving the value: an instant vector (one reading per series) or a scalar."""
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
    max_series: int = Field(default=50, ge=1, le=1000)
    """Show at most this many series (the first by name); a fleet-wide query is not a panel."""

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


# --- what one trip to the pool brings back ------------------------------------------------------

Labels = tuple[tuple[str, str], ...]
"""A series' labels, sorted: the key of its history."""


@dataclass
class _Fetched:
    value: Any
    ratios: dict[float, Any] = field(default_factory=dict)
    history: Any = None
    history_error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class _History:
    fetched_at: float
    points: dict[Labels, list[tuple[float, float]]] = field(default_factory=dict)


@dataclass
class _Health:
    latency_ms: float
    ready_code: int
    ready_text: str
    targets: list[dict[str, Any]] = field(default_factory=list)


# --- the backend -----------------------------------------------------------------------------------


class PrometheusBackend(Backend):
    """SLIs from PromQL with error budgets and burn rates; health of Prometheus itself."""

    TYPE = "prometheus"
    DESCRIPTION = "Prometheus: PromQL SLIs, error budgets and burn rates, scrape target health"
    CAPABILITIES = frozenset({Capability.SLI, Capability.HEALTH})
    Options = PrometheusOptions
    CheckParams = PrometheusCheckParams
    SliParams = PrometheusSliParams

    options: PrometheusOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._session: requests.Session | None = None
        self._client: PrometheusConnect | None = None
        self._token: str | None = None
        self._token_error: str | None = None
        self._history: dict[tuple[str, str], _History] = {}
        """Sparkline points per (SLI, query): a changed query starts afresh."""
        self.last_timings_ms: dict[str, float] = {}
        """Milliseconds per request of the last SLI poll (for the detail view and tuning)."""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._resolve_token()
        with contextlib.suppress(PrometheusError):  # each poll reports it, with the SLI
            self._ensure_client()

    async def close(self) -> None:
        session, self._session, self._client = self._session, None, None
        if session is not None:
            session.close()

    def _resolve_token(self) -> None:
        try:
            self._token = resolve("token", self.options.token_env, self.options.token_file)
            self._token_error = None
        except SecretMissing as exc:
            self._token, self._token_error = None, str(exc)

    def _ensure_client(self) -> PrometheusConnect:
        """The client, built once; a token problem is retried so a fixed token needs no restart."""
        if self._token_error is not None:
            self._resolve_token()
            if self._token_error is not None:
                raise PrometheusError(self._token_error)
            self._client = None  # rebuilt with the token
        if self._client is None:
            opts = self.options
            session = requests.Session()
            session.verify = opts.ca_file if (opts.verify_tls and opts.ca_file) else opts.verify_tls
            if not opts.verify_tls:
                # Chosen in config; a warning per request would scribble over the TUI.
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            session.headers["User-Agent"] = "oncall-console"
            session.headers["Accept"] = "application/json"
            if self._token:
                session.headers["Authorization"] = f"Bearer {self._token}"
            if self._session is not None:
                self._session.close()
            self._session = session
            # No retries: the library's default (3 with backoff) stalls ~6 s on a dead server.
            self._client = PrometheusConnect(
                url=opts.url,
                session=session,
                retry=Retry(total=0, read=False, redirect=False),
                timeout=opts.timeout,
            )
        return self._client

    @property
    def _where(self) -> str:
        """host:port of the server, for messages (never the userinfo of the URL)."""
        parts = urlsplit(self.options.url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    def _fail(self, message: str) -> PrometheusError:
        return PrometheusError(clean(redact(message, self._token), limit=300))

    # --- SLIs ------------------------------------------------------------------------------

    async def diagnose(self, language: str, text: str) -> DetailTable:
        """A runbook's PromQL, evaluated now: one row per series."""
        if language != "promql":
            return await super().diagnose(language, text)
        spec = SliSpec(
            name=f"diagnostic:{hash(text)}",
            backend=self.name,
            unit="",
            thresholds=Thresholds(None, None, None),
            interval=60.0,
            timeout=self.options.timeout,
            params=PrometheusSliParams(query=text, history="0"),
        )
        readings = await self.query_sli(spec)
        rows = tuple(
            (clean(r.series or "value", limit=200), "—" if r.value is None else f"{r.value:.6g}")
            for r in readings
        )
        return DetailTable("Result", ("series", "value"), rows)

    async def query_sli(self, sli: SliSpec) -> list[SliReading]:
        params = sli.params
        if not isinstance(params, PrometheusSliParams):
            params = PrometheusSliParams.model_validate(params or {})
        client = self._ensure_client()
        now = self.context.clock()
        slo = sli.slo if params.error_ratio_query else None
        windows = slo_math.windows_of(slo) if slo is not None else ()
        cache = self._history.get((sli.name, params.query))
        history_s = params.history_seconds
        refresh = max(_HISTORY_REFRESH_MIN, _HISTORY_REFRESH_STEPS * params.step_seconds)
        want_history = history_s > 0 and (cache is None or now - cache.fetched_at >= refresh)
        deadline = time.monotonic() + sli.timeout * _DEADLINE_SHARE
        fetched = await self.context.run_sync(
            self._fetch_sli,
            client,
            params,
            windows,
            want_history,
            now,
            deadline,
            sli.timeout,
            timeout=sli.timeout,
        )
        self.last_timings_ms = fetched.timings_ms

        samples = self._samples(fetched.value, "query")
        named = _name_series(samples, params.series_label)
        if len(named) > params.max_series:
            named = sorted(named, key=lambda n: n[0])[: params.max_series]
        if not named:
            named = [("", (), math.nan)]  # no data: one reading with no value
            no_data = True
        else:
            no_data = False

        ratios = self._ratios(fetched.ratios, params.series_label)
        history = (
            self._update_history((sli.name, params.query), params, fetched, named, now)
            if history_s
            else {}
        )

        readings = []
        for series, labels, raw in sorted(named, key=lambda n: n[0]):
            value, note = _finite(raw, params.scale)
            if no_data:
                note = "no data"
            extra: dict[str, Any] = {}
            if slo is not None:
                result = slo_math.evaluate(slo, _ratios_for(ratios, series))
                extra.update(
                    budget_remaining=result.budget_remaining,
                    burn_rate=result.burn_rate,
                    burn_status=result.burn_status,
                )
            if _HAS_NOTE and note:
                extra["note"] = note
            readings.append(
                SliReading(
                    sli=sli.name,
                    value=value,
                    unit=sli.unit,
                    thresholds=sli.thresholds,
                    at=now,
                    series=series,
                    history=history.get(labels, ()),
                    **extra,
                )
            )
        return readings

    def _fetch_sli(
        self,
        client: PrometheusConnect,
        params: PrometheusSliParams,
        windows: Sequence[float],
        want_history: bool,
        at: float,
        deadline: float,
        timeout: float,
    ) -> _Fetched:
        """In the pool: every request of one poll, all evaluated at the same ``at``."""
        timings: dict[str, float] = {}
        value = self._instant(client, params.query, "query", at, deadline, timeout, timings)
        fetched = _Fetched(value=value, timings_ms=timings)
        if params.error_ratio_query:
            for w in windows:
                dur = slo_math.promql_duration(w)
                query = params.error_ratio_query.replace("{window}", dur)
                what = f"error_ratio_query [{dur}]"
                fetched.ratios[w] = self._instant(
                    client, query, what, at, deadline, timeout, timings
                )
        if want_history:
            try:
                fetched.history = self._range(client, params, at, deadline, timeout, timings)
            except PrometheusError as exc:  # the value is in hand; the sparkline can wait
                fetched.history_error = str(exc)
        return fetched

    def _left(self, deadline: float, timeout: float) -> float:
        left = min(self.options.timeout, deadline - time.monotonic())
        if left <= 0.05:
            raise self._fail(f"Prometheus at {self._where}: timed out after {timeout:g} s")
        return left

    def _instant(
        self,
        client: PrometheusConnect,
        query: str,
        what: str,
        at: float,
        deadline: float,
        timeout: float,
        timings: dict[str, float],
    ) -> Any:
        left = self._left(deadline, timeout)
        started = time.perf_counter()
        try:
            # Prometheus's own timeout stops the evaluation server-side, too.
            return client.custom_query(
                query, params={"time": f"{at:.3f}", "timeout": f"{left:.3f}"}, timeout=left
            )
        except PrometheusApiClientException as exc:
            raise self._fail(_http_error(exc, what)) from None
        except OSError as exc:  # requests' errors, and a ca_file that cannot be read
            raise self._fail(self._unreachable(exc, timeout)) from None
        finally:
            timings[what] = round((time.perf_counter() - started) * 1000, 2)

    def _range(
        self,
        client: PrometheusConnect,
        params: PrometheusSliParams,
        at: float,
        deadline: float,
        timeout: float,
        timings: dict[str, float],
    ) -> Any:
        left = self._left(deadline, timeout)
        started = time.perf_counter()
        end = datetime.fromtimestamp(at, tz=UTC)
        start = datetime.fromtimestamp(at - params.history_seconds, tz=UTC)
        try:
            return client.custom_query_range(
                params.query,
                start_time=start,
                end_time=end,
                step=f"{params.step_seconds:g}",
                params={"timeout": f"{left:.3f}"},
                timeout=left,
            )
        except PrometheusApiClientException as exc:
            raise self._fail(_http_error(exc, "query (history)")) from None
        except OSError as exc:  # requests' errors, and a ca_file that cannot be read
            raise self._fail(self._unreachable(exc, timeout)) from None
        finally:
            timings["history"] = round((time.perf_counter() - started) * 1000, 2)

    def _samples(self, result: Any, what: str) -> list[tuple[Labels, float]]:
        """(labels, value) per series of an instant query; a scalar is one unlabelled series."""
        if not result:
            return []
        if (
            isinstance(result, list)
            and len(result) == 2
            and isinstance(result[0], int | float)
            and isinstance(result[1], str)
        ):  # a scalar or a string: [time, "value"]
            try:
                return [((), float(result[1]))]
            except ValueError:
                raise self._fail(f"{what} returns a string, not a number") from None
        out = []
        for item in result:
            if not isinstance(item, dict):
                raise self._fail(f"{what}: unexpected answer from Prometheus")
            if "values" in item and "value" not in item:
                raise self._fail(
                    f"{what} returns a range vector; an SLI needs an instant vector or"
                    " a scalar (e.g. rate(x[5m]) rather than x[5m])"
                )
            labels = tuple(sorted((str(k), str(v)) for k, v in item.get("metric", {}).items()))
            try:
                out.append((labels, float(item["value"][1])))
            except (KeyError, IndexError, TypeError, ValueError):
                raise self._fail(f"{what}: unexpected answer from Prometheus") from None
        return out

    def _ratios(
        self, raw: dict[float, Any], series_label: str | None
    ) -> dict[float, dict[str | None, float]]:
        """Per window: the error ratio of each series (key None: one ratio for every series)."""
        out: dict[float, dict[str | None, float]] = {}
        for window, result in raw.items():
            samples = self._samples(
                result, f"error_ratio_query [{slo_math.promql_duration(window)}]"
            )
            if len(samples) == 1:
                out[window] = {None: samples[0][1]}
            else:
                out[window] = {
                    name: value for name, _labels, value in _name_series(samples, series_label)
                }
        return out

    def _update_history(
        self,
        key: tuple[str, str],
        params: PrometheusSliParams,
        fetched: _Fetched,
        named: list[tuple[str, Labels, float]],
        now: float,
    ) -> dict[Labels, tuple[float, ...]]:
        """The sparkline per series: the last query_range, extended with each polled value."""
        cache = self._history.get(key)
        if cache is None:
            cache = self._history[key] = _History(fetched_at=now)
        if fetched.history is not None:
            # The range ends at about ``now``: its last step is replaced by the value just read.
            cache.fetched_at = now
            cache.points = {
                labels: [(t, v) for t, v in pts if t <= now - params.step_seconds]
                for labels, pts in _range_points(fetched.history).items()
            }
        elif fetched.history_error is not None:
            # The points so far stay and go on growing; the range is tried again later.
            cache.fetched_at = now
        step, horizon = params.step_seconds, now - params.history_seconds
        current = {labels for _n, labels, _v in named}
        out: dict[Labels, tuple[float, ...]] = {}
        for labels in list(cache.points):
            if labels not in current:
                del cache.points[labels]
        for _name, labels, raw in named:
            pts = cache.points.setdefault(labels, [])
            finite = math.isfinite(raw)
            if finite and (not pts or now - pts[-1][0] >= step):
                pts.append((now, raw))
            while pts and pts[0][0] < horizon:
                pts.pop(0)
            values = [v * params.scale for _t, v in pts]
            if finite and pts and pts[-1][0] != now:
                values.append(raw * params.scale)  # always end on the value shown
            out[labels] = tuple(values)
        return out

    # --- health of Prometheus itself -----------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        started = time.perf_counter()
        try:
            params = check.params
            if not isinstance(params, PrometheusCheckParams):
                params = PrometheusCheckParams.model_validate(params or {})
            self._ensure_client()
            deadline = time.monotonic() + check.timeout * _DEADLINE_SHARE
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
                f"targets: HTTP {resp.status_code}: {_error_text(resp.content) or resp.reason}"
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
            status = Status.DOWN
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

    # --- messages ------------------------------------------------------------------------------

    def _unreachable(self, exc: BaseException, timeout: float) -> str:
        if isinstance(exc, requests.Timeout):  # the request's own timeout, or the SLI's
            shown = min(self.options.timeout, timeout)
            return f"Prometheus at {self._where}: timed out after {shown:g} s"
        return f"Prometheus at {self._where}: {describe(exc, secrets=[self._token])}"


# --- helpers ---------------------------------------------------------------------------------------


def _finite(raw: float, scale: float) -> tuple[float | None, str | None]:
    """The scaled value, or None with a note when it is NaN or infinite."""
    if math.isnan(raw):
        return None, "NaN (0/0: no traffic?)"
    if math.isinf(raw):
        return None, f"{'+' if raw > 0 else '-'}Inf (division by zero?)"
    return raw * scale, None


def _render(labels: Labels, *, with_name: bool = False) -> str:
    return ",".join(f"{k}={v}" for k, v in labels if with_name or k != "__name__")


def _name_series(
    samples: list[tuple[Labels, float]], series_label: str | None
) -> list[tuple[str, Labels, float]]:
    """(series name, labels, value): by ``series_label`` when set, else by all labels.

    Without ``series_label`` a lone series is the SLI's value and has no name.
    Names that would collide fall back to the full label set.
    """
    if not samples:
        return []
    if series_label is None and len(samples) == 1:
        return [("", samples[0][0], samples[0][1])]

    def name(labels: Labels) -> str:
        if series_label is not None:
            found = dict(labels).get(series_label)
            if found is not None:
                return f"{series_label}={found}"
        return _render(labels)

    names = [name(labels) for labels, _v in samples]
    for render in (_render, lambda labels: _render(labels, with_name=True)):
        clash = {n for n, count in Counter(names).items() if count > 1}
        names = [
            render(lb) if n in clash else n for n, (lb, _v) in zip(names, samples, strict=True)
        ]
    out = [
        (clean(n, limit=200), labels, value)
        for n, (labels, value) in zip(names, samples, strict=True)
    ]
    return out


def _ratios_for(
    ratios: dict[float, dict[str | None, float]], series: str
) -> dict[float, float | None]:
    """The error ratio of each window that belongs to this reading."""
    out: dict[float, float | None] = {}
    for window, by_series in ratios.items():
        out[window] = by_series[None] if None in by_series else by_series.get(series)
    return out


def _range_points(result: Any) -> dict[Labels, list[tuple[float, float]]]:
    points: dict[Labels, list[tuple[float, float]]] = {}
    if not isinstance(result, list):
        return points
    for item in result:
        if not isinstance(item, dict):
            continue
        labels = tuple(sorted((str(k), str(v)) for k, v in item.get("metric", {}).items()))
        pts = []
        for pair in item.get("values", []):
            try:
                t, v = float(pair[0]), float(pair[1])
            except (TypeError, ValueError, IndexError):
                continue
            if math.isfinite(v):
                pts.append((t, v))
        points[labels] = pts
    return points


_HTTP_ERROR = re.compile(r"^HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", re.DOTALL)


def _error_text(body: bytes) -> str:
    """Prometheus's own error message from a JSON error body, else the start of the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("error"):
        text = str(doc["error"])
        return re.sub(r'^invalid parameter \\?"?query\\?"?:\s*', "", text)
    return clean(body.decode("utf-8", "replace"), limit=200).strip()


def _http_error(exc: PrometheusApiClientException, what: str) -> str:
    """One line from the client's "HTTP Status Code 400 (b'{...}')"."""
    m = _HTTP_ERROR.match(str(exc))
    if m is None:
        return f"{what}: {exc}"
    code = int(m.group(1))
    try:
        body = ast.literal_eval(m.group(2))
    except (ValueError, SyntaxError):
        body = b""
    text = _error_text(body) if isinstance(body, bytes) else ""
    if code == 400:
        return f"bad {what}: {text}"
    if code == 422:
        return f"{what} failed: {text}"
    if code in (401, 403):
        return f"{what}: HTTP {code}: not allowed (check token_env / token_file)"
    if code == 503 and "timeout" in text.lower():
        return f"{what} timed out in Prometheus: {text}"
    return f"{what}: HTTP {code}" + (f": {text}" if text else "")
