"""SLO specs written for other tools, read as ``[slis.NAME]`` tables of a Prometheus backend.

- Sloth ``prometheus/v1`` (``version: prometheus/v1``, ``slos:``) and its Kubernetes
  CRD (``kind: PrometheusServiceLevel``): ``events`` (error / total queries) or ``raw``
  (an error ratio query); the objective is a percent; the window is Sloth's 30 days.
- OpenSLO ``v1alpha`` (``objectives[].ratioMetrics``, ``timeWindows``) and ``v1``
  (``indicator`` or ``indicatorRef`` to an ``SLI`` in the same file, ``ratioMetric``,
  ``timeWindow``, ``budgetingMethod`` with time slices).

``{{.window}}`` is read as ``{window}`` by the SLI's own parameters; a ratio query
with no window placeholder (OpenSLO's are often fixed-range) is averaged over the
window with a subquery. Pure: YAML text in, plain dicts out (the CLI writes TOML).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

SLOTH_WINDOW = "30d"
_GO_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]+")
_UNITS = {"day": "d", "week": "w", "month": "d", "hour": "h", "minute": "m"}


class SpecError(ValueError):
    """The file is not an SLO spec we read; the message says what was expected."""


@dataclass
class Imported:
    """The ``[slis]`` tables made from one file, and what a person should check."""

    slis: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_specs(text: str, backend: str, *, no_data_is_zero: bool = True) -> Imported:
    """Every SLO of every YAML document of ``text``; raises SpecError when none is one."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SpecError(f"{where}not YAML: {getattr(exc, 'problem', None) or exc}") from None
    out = Imported()
    indicators = {
        str(_get(d, "metadata", "name")): d.get("spec") or {}
        for d in docs
        if isinstance(d, dict) and d.get("kind") == "SLI"
    }
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        for name, sli in _slos_of(doc, indicators, out.notes):
            sli = {"backend": backend, **sli}
            if no_data_is_zero and "error_query" in sli:
                sli["no_data_is_zero"] = True
            out.slis[_unique(_NAME_OK.sub("-", name).strip("-.")[:63], out.slis)] = sli
    if not out.slis:
        raise SpecError(
            "no SLO found: expected Sloth (version: prometheus/v1, or kind:"
            " PrometheusServiceLevel) or OpenSLO (apiVersion: openslo/v1 or v1alpha, kind: SLO)"
        )
    return out


def _unique(name: str, taken: dict[str, Any]) -> str:
    name = name or "slo"
    found, n = name, 2
    while found in taken:
        found, n = f"{name}-{n}", n + 1
    return found


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _slos_of(
    doc: dict[str, Any], indicators: dict[str, Any], notes: list[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    api = str(doc.get("apiVersion", ""))
    if doc.get("version") == "prometheus/v1":
        yield from _sloth(doc, notes)
    elif doc.get("kind") == "PrometheusServiceLevel" and api.startswith("sloth.slok.dev/"):
        yield from _sloth(doc.get("spec") or {}, notes)
    elif api == "openslo/v1alpha" and doc.get("kind") == "SLO":
        yield from _openslo_v1alpha(doc, notes)
    elif api == "openslo/v1" and doc.get("kind") == "SLO":
        yield from _openslo_v1(doc, indicators, notes)


# --- Sloth -------------------------------------------------------------------------------


def _sloth(spec: dict[str, Any], notes: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    service = str(spec.get("service", ""))
    for slo in spec.get("slos") or []:
        if not isinstance(slo, dict):
            continue
        name = f"{service}-{slo.get('name', '')}"
        sli = slo.get("sli") or {}
        events = sli.get("events") or {}
        raw = sli.get("raw") or {}
        queries: dict[str, Any]
        events = {k: _GO_WINDOW.sub("{window}", str(v)) for k, v in events.items()}
        raw = {k: _GO_WINDOW.sub("{window}", str(v)) for k, v in raw.items()}
        if events:
            queries = {
                "error_query": events.get("error_query", events.get("errorQuery")),
                "total_query": events.get("total_query", events.get("totalQuery")),
            }
        elif raw:
            queries = {
                "error_ratio_query": raw.get("error_ratio_query", raw.get("errorRatioQuery"))
            }
        else:
            notes.append(f"{name}: an SLI plugin is Sloth's own code: left out")
            continue
        objective = float(slo.get("objective", 0))
        yield (
            name,
            _sli(
                title=str(slo.get("description") or name),
                queries=queries,
                objective=round(objective / 100, 12) if objective > 1 else objective,
                window=SLOTH_WINDOW,
            ),
        )


# --- OpenSLO -----------------------------------------------------------------------------


def _openslo_v1alpha(doc: dict[str, Any], notes: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = doc.get("spec") or {}
    base = str(_get(doc, "metadata", "name") or spec.get("service", "slo"))
    title = str(_get(doc, "metadata", "displayName") or spec.get("description") or base)
    window = _alpha_window(spec.get("timeWindows") or [], notes, base)
    method = str(spec.get("budgetingMethod") or "Occurrences")
    for n, objective in enumerate(spec.get("objectives") or []):
        ratio = objective.get("ratioMetrics") if isinstance(objective, dict) else None
        if not isinstance(ratio, dict):
            notes.append(f"{base}: objective {n + 1} has no ratioMetrics: left out")
            continue
        queries = _ratio_queries({k: _get(ratio, k, "query") for k in ("good", "bad", "total")})
        yield _objective(n, objective, base, title, queries, window, method)


def _alpha_window(windows: list[Any], notes: list[str], name: str) -> str:
    if not windows or not isinstance(windows[0], dict):
        return SLOTH_WINDOW
    w = windows[0]
    count, unit = w.get("count", 30), str(w.get("unit", "Day")).lower()
    if unit == "month":
        notes.append(f"{name}: a calendar month is read as a rolling {count * 30}d window")
        count *= 30
    elif unit == "quarter":
        notes.append(f"{name}: a quarter is read as a rolling {count * 90}d window")
        return f"{count * 90}d"
    return f"{count}{_UNITS.get(unit, 'd')}"


def _openslo_v1(
    doc: dict[str, Any], indicators: dict[str, Any], notes: list[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = doc.get("spec") or {}
    base = str(_get(doc, "metadata", "name") or spec.get("service", "slo"))
    title = str(_get(doc, "metadata", "displayName") or spec.get("description") or base)
    indicator = _get(spec, "indicator", "spec")
    if indicator is None and spec.get("indicatorRef"):
        indicator = indicators.get(str(spec["indicatorRef"]))
    ratio = _get(indicator, "ratioMetric")
    if not isinstance(ratio, dict):
        notes.append(f"{base}: only ratioMetric indicators are read: left out")
        return
    sources = {k: _get(ratio, k, "metricSource") for k in ("good", "bad", "total") if k in ratio}
    for k, source in sources.items():
        kind = str(_get(source, "type") or "?")
        if kind.lower() != "prometheus":
            notes.append(
                f"{base}: the {k} query's metricSource is {kind}, not Prometheus: check it"
            )
    queries = _ratio_queries({k: _get(src, "spec", "query") for k, src in sources.items()})
    windows = spec.get("timeWindow") or []
    window = str(_get(windows[0], "duration") or SLOTH_WINDOW) if windows else SLOTH_WINDOW
    if windows and _get(windows[0], "isRolling") is False:
        notes.append(f"{base}: a calendar window is read as a rolling {window}")
    method = str(spec.get("budgetingMethod") or "Occurrences")
    for n, objective in enumerate(spec.get("objectives") or []):
        if not isinstance(objective, dict):
            continue
        yield _objective(n, objective, base, title, queries, window, method)


def _objective(
    n: int,
    objective: dict[str, Any],
    base: str,
    title: str,
    queries: dict[str, Any],
    window: str,
    method: str,
) -> tuple[str, dict[str, Any]]:
    """One OpenSLO objective (target or targetPercent) as one SLI."""
    target = objective.get("target")
    if target is None and objective.get("targetPercent") is not None:
        target = float(objective["targetPercent"]) / 100
    name = base if n == 0 else f"{base}-{objective.get('displayName') or n + 1}"
    return name, _sli(
        title=title,
        queries=queries,
        objective=float(target or 0),
        window=window,
        method=method,
        slice_target=objective.get("timeSliceTarget"),
        slice_window=objective.get("timeSliceWindow"),
    )


def _ratio_queries(found: dict[str, Any]) -> dict[str, Any]:
    """good / bad / total queries as our keys; a query with no window is averaged over it."""
    out: dict[str, Any] = {}
    for key, ours in (("bad", "error_query"), ("good", "good_query"), ("total", "total_query")):
        query = found.get(key)
        if query is None:
            continue
        query = _GO_WINDOW.sub("{window}", str(query).strip())
        if "{window}" not in query:
            query = f"avg_over_time(({query})[{{window}}:1m])"
        out[ours] = query
    return out


def _sli(
    *,
    title: str,
    queries: dict[str, Any],
    objective: float,
    window: str,
    method: str = "Occurrences",
    slice_target: Any = None,
    slice_window: Any = None,
) -> dict[str, Any]:
    slo: dict[str, Any] = {"objective": objective, "window": window}
    budgeting = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", method).lower()
    if budgeting != "occurrences":
        slo["budgeting_method"] = budgeting
        slo["time_slice_window"] = str(slice_window or "1m")
        if slice_target is not None:
            slo["time_slice_target"] = float(slice_target)
    return {
        "title": title[:120],
        "unit": "%",
        "good": "higher",
        "target": round(objective * 100, 6),
        **{k: v for k, v in queries.items() if v is not None},
        "slo": slo,
    }
