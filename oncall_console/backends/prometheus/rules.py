"""Alerting rules read from rule files and from ``/api/v1/rules``; firing alerts from
``/api/v1/alerts``. Pure: text and decoded JSON in, model objects out.

A rule file is Prometheus's own (``groups:``), or a PrometheusRule object of the
Prometheus Operator (``spec.groups``), or several YAML documents of either. Every
name, expression, label and annotation is remote text: cleaned and bounded here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from oncall_console.backends.shared.alerts import AlertReading
from oncall_console.model import Alert, AlertState
from oncall_console.model.rules import AlertRule
from oncall_console.text import clean

MAX_RULE_FILE_BYTES = 16 * 1024 * 1024
MAX_RULES = 5000
_EXPR_LIMIT = 4000

# A comparison with a number: the threshold of most alerting rules ("> 0.05", "< 15").
_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_COMPARISON = re.compile(  # "> 0.05", "< 15", Sloth's "> (14.4 * 0.001)"
    rf"(==|!=|>=|<=|>|<)\s*(?:bool\s+)?(\(\s*{_NUMBER}(?:\s*[*/]\s*{_NUMBER})*\s*\)"
    rf"|{_NUMBER}(?:\s*[*/]\s*{_NUMBER})*)(?![\w.(])"
)
# What may hold a comparison character that is not one: strings and label matchers.
_NOT_OPERATORS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`|\{[^{}]*\}')


class RuleFileError(ValueError):
    """A rule file that cannot be read; the message names the file and, where known, the line."""


def threshold(expr: str) -> str:
    """The comparisons of ``expr`` with a number, outside strings and label matchers."""
    blanked = _NOT_OPERATORS.sub(lambda m: " " * len(m.group(0)), expr)
    found = [f"{op} {' '.join(number.split())}" for op, number in _COMPARISON.findall(blanked)]
    return ", ".join(dict.fromkeys(found))  # each once, in the order written


def read_rule_file(path: Path, reading: AlertReading) -> tuple[list[AlertRule], int]:
    """The alerting rules of one file, and how many recording rules it has beside them."""
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise RuleFileError(f"{path}: larger than {MAX_RULE_FILE_BYTES // 2**20} MB")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleFileError(f"{path}{where}: not YAML: {clean(problem, limit=200)}") from None
    rules: list[AlertRule] = []
    recording = 0
    for doc in docs:
        groups = _groups_of(doc)
        if groups is None:
            raise RuleFileError(
                f"{path}: not a rule file (expected `groups:` or a PrometheusRule's `spec.groups`)"
            )
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("rules", []), list):
                raise RuleFileError(f"{path}: a group must be a mapping with a `rules` list")
            name = clean(group.get("name", ""), limit=200)
            for rule in group.get("rules") or []:
                if not isinstance(rule, dict):
                    raise RuleFileError(f"{path}: group {name}: a rule must be a mapping")
                if "record" in rule:
                    recording += 1
                elif "alert" in rule:
                    rules.append(_rule(rule, name, str(path), reading))
    return rules[:MAX_RULES], recording


def _groups_of(doc: object) -> list[Any] | None:
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("groups"), list):
        return list(doc["groups"])
    spec = doc.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("groups"), list):
        return list(spec["groups"])
    return None


def _text_map(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {clean(k, limit=100): clean(str(v), limit=1000) for k, v in list(raw.items())[:100]}


def _rule(
    raw: Mapping[str, Any],
    group: str,
    origin: str,
    reading: AlertReading,
    *,
    state: str = "",
    active: int = 0,
) -> AlertRule:
    labels = _text_map(raw.get("labels"))
    annotations = _text_map(raw.get("annotations"))
    expr = str(raw.get("expr", raw.get("query", "")))
    duration = raw.get("for", raw.get("duration", ""))
    if isinstance(duration, (int, float)):  # the API gives seconds
        duration = _seconds_text(float(duration))
    return AlertRule(
        name=clean(raw.get("alert", raw.get("name", "")), limit=200) or "(no name)",
        expr=clean(expr.strip(), limit=_EXPR_LIMIT, single_line=False),
        severity=reading.severity_of(labels),
        threshold=clean(threshold(expr), limit=200),
        for_=clean(str(duration or ""), limit=20),
        labels=labels,
        summary=clean(reading.summary_of(annotations), limit=500),
        runbook_url=clean(annotations.get("runbook_url", ""), limit=500),
        group=group,
        origin=origin,
        state=state,
        active=active,
    )


def _seconds_text(seconds: float) -> str:
    if seconds <= 0:
        return ""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def rules_from_api(data: object, origin: str, reading: AlertReading) -> tuple[list[AlertRule], int]:
    """``/api/v1/rules``'s ``data``: its alerting rules with their state, and the count of
    recording rules. Raises ValueError when it is not that shape."""
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError("expected data.groups, a list")
    rules: list[AlertRule] = []
    recording = 0
    for group in data["groups"]:
        if not isinstance(group, dict):
            continue
        name = clean(group.get("name", ""), limit=200)
        for rule in group.get("rules") or []:
            if not isinstance(rule, dict):
                continue
            if rule.get("type") == "recording":
                recording += 1
                continue
            alerts = rule.get("alerts") if isinstance(rule.get("alerts"), list) else []
            rules.append(
                _rule(
                    rule,
                    name,
                    origin,
                    reading,
                    state=clean(rule.get("state", ""), limit=20),
                    active=len(alerts),
                )
            )
    return rules[:MAX_RULES], recording


def with_state(rules: Iterable[AlertRule], alerts: Iterable[Mapping[str, Any]]) -> list[AlertRule]:
    """Rules read from files, with the state ``/api/v1/alerts`` gives their alerts."""
    firing: dict[str, int] = {}
    pending: dict[str, int] = {}
    for a in alerts:
        labels = a.get("labels") if isinstance(a.get("labels"), dict) else {}
        name = str(labels.get("alertname", ""))
        bucket = firing if a.get("state") == "firing" else pending
        bucket[name] = bucket.get(name, 0) + 1
    out = []
    for r in rules:
        n_firing, n_pending = firing.get(r.name, 0), pending.get(r.name, 0)
        state = "firing" if n_firing else "pending" if n_pending else "inactive"
        out.append(replace(r, state=state, active=n_firing + n_pending))
    return out


def alerts_from_api(data: object, source: str, reading: AlertReading) -> list[Alert]:
    """``/api/v1/alerts``'s ``data``: the firing alerts (pending ones are not alerts yet).
    Raises ValueError when it is not that shape."""
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise ValueError("expected data.alerts, a list")
    out: list[Alert] = []
    for item in data["alerts"]:
        if not isinstance(item, dict) or item.get("state") != "firing":
            continue
        labels = _text_map(item.get("labels"))
        annotations = _text_map(item.get("annotations"))
        ident = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
        out.append(
            Alert(
                fingerprint=f"{source}:" + hashlib.sha256(ident.encode()).hexdigest()[:16],
                name=labels.get("alertname", "") or "(no alertname)",
                severity=reading.severity_of(labels),
                summary=clean(reading.summary_of(annotations), limit=500),
                state=AlertState.ACTIVE,
                starts_at=_parse_time(item.get("activeAt")),
                labels=labels,
                annotations=annotations,
                source=source,
                runbook_url=clean(annotations.get("runbook_url", ""), limit=500),
                group=f"alertname={labels.get('alertname', '')}",
            )
        )
    return out


def _parse_time(value: object) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0
