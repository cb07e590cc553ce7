"""The ``prometheus`` backend's SLIs: PromQL values, error budgets, burn rates, history.

One poll of an SLI is one trip to the pool: the value query, then the error ratio
over each SLO window (all at the same evaluation ``time``, so the windows agree),
then, only every few minutes, the ``query_range`` that seeds the sparkline; between
range queries the history is extended with each polled value.

A query with no data is a reading with no value (UNKNOWN), not an error: a ratio
over no traffic is a fact, not a failure. NaN and infinite values (a ratio that
divided by zero) are shown the same way. Unreachable servers, timeouts and bad
PromQL raise one clean line, which the poller records as the SLI's failure. The
budget and burn-rate arithmetic is pure (``slo.py``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from pydantic import BaseModel

from oncall_console.backends.base import BackendContext
from oncall_console.backends.prometheus import slo as slo_math
from oncall_console.backends.prometheus.client import (
    DEADLINE_SHARE,
    PrometheusClient,
    PrometheusError,
    http_error,
)
from oncall_console.backends.prometheus.options import PrometheusSliParams
from oncall_console.model import DetailTable, SliReading, SliSpec, SloSpec
from oncall_console.text import clean

_HISTORY_REFRESH_STEPS = 10  # a full query_range every 10 steps (5 min at the 30 s default)
_HISTORY_REFRESH_MIN = 60.0  # …and never more often than once a minute

_HAS_NOTE = "note" in {f.name for f in dataclasses.fields(SliReading)}

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


class PrometheusSlis(PrometheusClient):
    """SLIs from PromQL, with error budgets and burn rates; runbook PromQL diagnostics."""

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._history: dict[tuple[str, str], _History] = {}
        """Sparkline points per (SLI, query): a changed query starts afresh."""
        self.last_timings_ms: dict[str, float] = {}
        """Milliseconds per request of the last SLI poll (for the detail view and tuning)."""

    # --- SLIs ------------------------------------------------------------------------------

    async def diagnose(self, language: str, text: str) -> DetailTable:
        """A runbook's PromQL, evaluated now: one row per series, named as Prometheus
        names it (``name{label="value", …}``), a lone series too: which instance a value
        is about is what the engineer reads it for."""
        if language != "promql":
            return await super().diagnose(language, text)
        params = PrometheusSliParams(query=text, history="0")
        fetched = await self._fetch(params, self.options.timeout, self.context.clock())
        samples = sorted(
            (_promql_name(labels), value) for labels, value in self._samples(fetched.value, "query")
        )
        rows = tuple(
            (clean(name, limit=200), _number(value)) for name, value in samples[: params.max_series]
        )
        if len(samples) > params.max_series:
            rows += ((f"… {len(samples) - params.max_series} more series", ""),)
        return DetailTable("Result", ("series", "value"), rows)

    async def query_sli(self, sli: SliSpec) -> list[SliReading]:
        params = sli.params
        if not isinstance(params, PrometheusSliParams):
            params = PrometheusSliParams.model_validate(params or {})
        now = self.context.clock()
        slo = sli.slo if params.error_ratio_query else None
        windows = slo_math.windows_of(slo) if slo is not None else ()
        cache = self._history.get((sli.name, params.query))
        history_s = params.history_seconds
        refresh = max(_HISTORY_REFRESH_MIN, _HISTORY_REFRESH_STEPS * params.step_seconds)
        want_history = history_s > 0 and (cache is None or now - cache.fetched_at >= refresh)
        fetched = await self._fetch(params, sli.timeout, now, slo, windows, want_history)
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

    async def _fetch(
        self,
        params: PrometheusSliParams,
        timeout: float,
        at: float,
        slo: SloSpec | None = None,
        windows: Sequence[float] = (),
        want_history: bool = False,
    ) -> _Fetched:
        """:meth:`_fetch_sli` in the pool, its requests sharing most of ``timeout``."""
        deadline = time.monotonic() + timeout * DEADLINE_SHARE
        return await self.context.run_sync(
            self._fetch_sli,
            self._ensure_client(),
            params,
            slo,
            windows,
            want_history,
            at,
            deadline,
            timeout,
            timeout=timeout,
        )

    async def sli_range(
        self, sli: SliSpec, seconds: float, points: int
    ) -> dict[str, tuple[float, ...]]:
        """The sparkline's ``[`` / ``]`` range: one ``query_range`` of the SLI's query over
        the last ``seconds``, ``points`` steps, each series named as :meth:`query_sli`
        names it (scaled the same way)."""
        params = sli.params
        if not isinstance(params, PrometheusSliParams):
            params = PrometheusSliParams.model_validate(params or {})
        client = self._ensure_client()
        now = self.context.clock()
        points = max(2, min(points, 1000))
        step = max(1, round(seconds / (points - 1)))
        wide = params.model_copy(update={"history": f"{round(seconds)}s", "step": f"{step}s"})
        deadline = time.monotonic() + sli.timeout * DEADLINE_SHARE
        result = await self.context.run_sync(
            self._range, client, wide, now, deadline, sli.timeout, {}, timeout=sli.timeout
        )
        by_labels = _range_points(result)
        named = _name_series([(labels, 0.0) for labels in by_labels], params.series_label)
        if len(named) > params.max_series:
            named = sorted(named, key=lambda n: n[0])[: params.max_series]
        return {
            name: tuple(v * params.scale for _t, v in by_labels[labels])
            for name, labels, _v in named
        }

    def _fetch_sli(
        self,
        client: PrometheusConnect,
        params: PrometheusSliParams,
        slo: SloSpec | None,
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
                query = slo_math.ratio_query(params.error_ratio_query, w, slo)
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
            raise self._fail(http_error(exc, what)) from None
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
            raise self._fail(http_error(exc, "query (history)")) from None
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


# --- helpers ---------------------------------------------------------------------------------------


def _finite(raw: float, scale: float) -> tuple[float | None, str | None]:
    """The scaled value, or None with a note when it is NaN or infinite."""
    if math.isnan(raw):
        return None, "NaN (0/0: no traffic?)"
    if math.isinf(raw):
        return None, f"{'+' if raw > 0 else '-'}Inf (division by zero?)"
    return raw * scale, None


def _promql_name(labels: Labels) -> str:
    """A series as Prometheus writes it: ``up{instance="a:9100", job="node"}``."""
    name = dict(labels).get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _number(raw: float) -> str:
    value, _note = _finite(raw, 1.0)  # NaN and infinities read as no value, as in a reading
    return "—" if value is None else f"{value:.6g}"


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
