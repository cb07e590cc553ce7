"""The demo platform's silences: like Alertmanager's, kept in memory.

``silence`` takes equality matchers in Alertmanager's syntax (``alertname="X",service="y"``),
a duration and a comment; the operator is the author. Matching alerts come back as
``suppressed`` until the silence ends or is expired (``expire-silence``). No IO.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

from oncall_console.backends.shared.silences import silence_specs as shared_silence_specs
from oncall_console.durations import parse_duration
from oncall_console.model import Alert, AlertState, Silence
from oncall_console.model.actions import ActionSpec

MAX_SILENCE = 7 * 86400.0
"""The longest silence the demo accepts (Alertmanager's backend has its own setting)."""
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class SilenceError(ValueError):
    """A silence request the demo refuses (one line, naming the parameter)."""


def parse_equal_matchers(text: str) -> tuple[tuple[str, str], ...]:
    """``a="x",b="y"`` -> (("a", "x"), ("b", "y")); only equality (the demo's labels are few)."""
    out, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _MATCHER.match(text, pos)
        if m is None:
            raise SilenceError(f'matchers: expected name="value" at {text[pos : pos + 30]!r}')
        out.append((m.group(1), re.sub(r"\\(.)", r"\1", m.group(2))))
        pos = m.end()
    if not out:
        raise SilenceError('matchers: at least one, e.g. alertname="HighErrorRate"')
    return tuple(out)


def silence_specs() -> list[ActionSpec]:
    return shared_silence_specs('e.g. alertname="HighErrorRate",service="api"', "The silence's id")


class DemoSilences:
    """Silences in force on the simulated platform."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._by_id: dict[str, tuple[Silence, tuple[tuple[str, str], ...]]] = {}

    def _plan(
        self, params: dict[str, object], operator: str
    ) -> tuple[tuple[tuple[str, str], ...], float, str]:
        matchers = parse_equal_matchers(str(params.get("matchers") or ""))
        try:
            seconds = parse_duration(str(params.get("duration") or "1h"))
        except ValueError as exc:
            raise SilenceError(f"duration: {exc}") from None
        if not 60 <= seconds <= MAX_SILENCE:
            raise SilenceError("duration: between 1m and 7d")
        comment = str(params.get("comment") or "").strip()
        if not comment:
            raise SilenceError("comment: required (say why the alerts are silenced)")
        if not operator.strip():
            raise SilenceError("operator: unknown; a silence needs an author")
        return matchers, seconds, comment

    def _found(self, params: dict[str, object], now: float) -> Silence:
        ident = str(params.get("silence_id") or "").strip()
        found = self._by_id.get(ident)
        if found is None or found[0].ends_at <= now:
            raise SilenceError(f"silence_id: no silence {ident!r} in force")
        return found[0]

    def preview(
        self, action: str, params: dict[str, object], now: float, operator: str, alerts: list[Alert]
    ) -> str:
        if action == "silence":
            matchers, seconds, comment = self._plan(params, operator)
            hits = [a.name for a in alerts if _matches(matchers, a)]
            said = ",".join(f'{k}="{v}"' for k, v in matchers)
            return f"Silence {said} for {_human(seconds)} by {operator}: {comment}\n" + (
                f"Mutes {len(hits)} alert(s) firing now: {', '.join(hits)}"
                if hits
                else "Matches no alert firing now."
            )
        s = self._found(params, now)
        return (
            f"Expire silence {s.id} ({', '.join(s.matchers)}, by {s.created_by}): "
            "the alerts it mutes will notify again."
        )

    def apply(self, action: str, params: dict[str, object], now: float, operator: str) -> str:
        if action == "silence":
            matchers, seconds, comment = self._plan(params, operator)
            ident = str(uuid.uuid4())
            shown = tuple(f'{k}="{v}"' for k, v in matchers)
            silence = Silence(
                ident, shown, now, now + seconds, operator, comment, source=self.source
            )
            self._by_id[ident] = (silence, matchers)
            return f"silence {ident} created for {_human(seconds)} ({','.join(shown)})"
        s = self._found(params, now)
        self._by_id[s.id] = (replace(s, ends_at=now, state="expired"), self._by_id[s.id][1])
        return f"silence {s.id} expired"

    def silences(self, now: float) -> list[Silence]:
        return sorted(
            (s for s, _ in self._by_id.values() if s.ends_at > now), key=lambda s: s.ends_at
        )

    def mute(self, alerts: list[Alert], now: float) -> list[Alert]:
        """Alerts a silence in force matches come back suppressed, as Alertmanager's do."""
        live = [m for s, m in self._by_id.values() if s.ends_at > now]
        if not live:
            return alerts
        return [
            replace(a, state=AlertState.SUPPRESSED) if any(_matches(m, a) for m in live) else a
            for a in alerts
        ]


def _matches(matchers: tuple[tuple[str, str], ...], alert: Alert) -> bool:
    return all(alert.labels.get(k) == v for k, v in matchers)


def _human(seconds: float) -> str:
    s, parts = round(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or f"{s}s"
