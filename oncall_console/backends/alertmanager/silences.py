"""The ``alertmanager`` backend's silences: listed, created and expired.

Only silences still in force (``active``) or about to be (``pending``) are listed:
expired ones are history that Alertmanager keeps for days, and the console's
question is "what is muted now, and until when".

``silence`` takes matchers in Alertmanager's own syntax
(``alertname="HighErrorRate",service=~"api|web"``). The preview shows the JSON body
that will be POSTed and the alerts it matches now. ``expire-silence`` takes a
silence id (a UUID). A request that cannot go ahead raises ``ActionInvalid`` from
the preview (the runner refuses it before any confirmation) and its ``run``
refuses with the same words.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from oncall_console.backends.alertmanager.client import (
    KEY_LIMIT,
    MAX_LABELS,
    VALUE_LIMIT,
    AlertmanagerClient,
    AlertmanagerError,
    as_dict,
    format_time,
    parse_time,
)
from oncall_console.backends.alertmanager.matchers import Matcher, MatcherError, parse_matchers
from oncall_console.backends.alertmanager.options import MIN_SILENCE
from oncall_console.backends.shared.silences import silence_specs
from oncall_console.durations import parse_duration
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    Outcome,
    Silence,
)
from oncall_console.text import clean

PREVIEW_ALERTS = 20
"""Matching alerts listed by a silence preview; the rest are counted."""


def matcher_from_api(raw: object) -> str:
    if not isinstance(raw, dict):
        return "?"
    name = clean(raw.get("name", "?"), limit=KEY_LIMIT)
    value = clean(raw.get("value", ""), limit=VALUE_LIMIT)
    equal = raw.get("isEqual", True) is not False
    return Matcher(name, value, bool(raw.get("isRegex")), equal).render()


def human_duration(seconds: float) -> str:
    s = round(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or "0s"


class Refusal(ActionInvalid):
    """The request cannot go ahead: the runner refuses it at preview; ``run`` refuses too."""


@dataclass(frozen=True)
class _SilencePlan:
    matchers: list[Matcher]
    duration: float
    comment: str
    author: str

    def body(self, now: float) -> dict[str, Any]:
        return {
            "matchers": [m.body() for m in self.matchers],
            "startsAt": format_time(now),
            "endsAt": format_time(now + self.duration),
            "createdBy": self.author,
            "comment": self.comment,
        }


class Silences(AlertmanagerClient):
    """Silences listed, and the silence and expire-silence actions."""

    # --- silences -------------------------------------------------------------------------

    async def silences(self) -> list[Silence]:
        """Silences in force (active) or about to be (pending); expired ones are history."""
        _, doc = await self._request("GET", "/api/v2/silences")
        if doc is None:
            return []
        if not isinstance(doc, list):
            raise AlertmanagerError(
                f"GET {self.options.url}/api/v2/silences: expected a list of silences,"
                f" got a JSON {type(doc).__name__}"
            )
        out = []
        for item in doc:
            s = self._silence(item)
            if s is not None and s.state in ("active", "pending"):
                out.append(s)
                if len(out) >= self.options.max_alerts:
                    break
        return sorted(out, key=lambda s: s.ends_at)

    def _silence(self, item: object) -> Silence | None:
        if not isinstance(item, dict) or not item.get("id"):
            return None
        status = as_dict(item.get("status"))
        matchers = item.get("matchers")
        matchers = matchers if isinstance(matchers, list) else []
        return Silence(
            id=clean(item["id"], limit=64),
            matchers=tuple(matcher_from_api(m) for m in matchers[:MAX_LABELS]),
            starts_at=parse_time(item.get("startsAt")),
            ends_at=parse_time(item.get("endsAt")),
            created_by=clean(item.get("createdBy", ""), limit=200),
            comment=clean(item.get("comment", ""), limit=VALUE_LIMIT),
            state=clean(status.get("state", "unknown"), limit=20),
            source=self.name,
        )

    # --- actions --------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        return silence_specs(
            'Comma-separated, e.g. alertname="HighErrorRate",service=~"api|web"',
            "The silence's id (a UUID)",
        )

    def _plan_silence(self, request: ActionRequest) -> _SilencePlan:
        p = request.params
        try:
            matchers = parse_matchers(str(p.get("matchers") or ""))
        except MatcherError as exc:
            raise Refusal(f"matchers: {exc}") from None
        raw_duration = p.get("duration") or "1h"
        try:
            duration = parse_duration(raw_duration)
        except ValueError as exc:
            raise Refusal(f"duration: {exc}") from None
        longest = self.options.silence_max_duration
        if duration < MIN_SILENCE:
            raise Refusal("duration: a silence lasts at least 1m")
        if duration > longest:
            raise Refusal(
                f"duration: {human_duration(duration)} is longer than the maximum"
                f" {human_duration(longest)} (silence_max_duration)"
            )
        comment = str(p.get("comment") or "").strip()
        if not comment:
            raise Refusal("comment: required (say why the alerts are silenced)")
        author = (request.operator or "").strip()
        if not author:
            raise Refusal("operator: unknown; a silence needs an author")
        return _SilencePlan(matchers, duration, comment, author)

    def _silence_id(self, request: ActionRequest) -> str:
        raw = str(request.params.get("silence_id") or "").strip()
        try:
            parsed = uuid.UUID(raw)
        except ValueError:
            raise Refusal(
                f"silence_id: {clean(raw, limit=60)!r} is not a silence id"
                " (a UUID like 0b6e0f0e-3c5c-4c1a-9a39-8f8a5c1b2d3e)"
            ) from None
        if str(parsed) != raw.lower():
            raise Refusal(f"silence_id: write the UUID in its usual form, e.g. {parsed}")
        return str(parsed)

    async def preview(self, request: ActionRequest) -> str:
        if request.action == "silence":
            return await self._preview_silence(request)
        if request.action == "expire-silence":
            return await self._preview_expire(request)
        raise Refusal(f"unknown action {clean(request.action, limit=40)!r}")

    async def _preview_silence(self, request: ActionRequest) -> str:
        plan = self._plan_silence(request)
        now = self.context.clock()
        body = json.dumps(plan.body(now), indent=2, ensure_ascii=False)
        lines = [
            f"POST {self.options.url}/api/v2/silences",
            body,
            f"(startsAt and endsAt are set again when it runs: now, and now + "
            f"{human_duration(plan.duration)}.)",
            "",
        ]
        try:
            alerts = await self.alerts()
        except AlertmanagerError as exc:
            lines.append(f"Cannot list the alerts it would match now: {exc}")
            return "\n".join(lines)
        # AlertFeedTruncated has no labels: parse_matchers makes sure it cannot match.
        hits = [a for a in alerts if all(m.matches(a.labels) for m in plan.matchers)]
        if not hits:
            lines.append("Matches no alert firing now (it will mute matching alerts that fire).")
            return "\n".join(lines)
        lines.append(f"Matches {len(hits)} alert{'s' if len(hits) != 1 else ''} firing now:")
        for a in hits[:PREVIEW_ALERTS]:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname")
            lines.append(
                f"  {a.severity.label} {a.state.value:<10} {a.name}  {clean(shown, limit=160)}"
            )
        if len(hits) > PREVIEW_ALERTS:
            lines.append(f"  … and {len(hits) - PREVIEW_ALERTS} more")
        return "\n".join(lines)

    async def _fetch_silence(self, silence_id: str) -> dict[str, Any] | None:
        code, doc = await self._request("GET", f"/api/v2/silence/{silence_id}", ok=(200, 404))
        if code == 404:
            return None
        if not isinstance(doc, dict):
            raise AlertmanagerError(f"GET /api/v2/silence/{silence_id}: not a silence")
        return doc

    async def _preview_expire(self, request: ActionRequest) -> str:
        silence_id = self._silence_id(request)
        try:
            doc = await self._fetch_silence(silence_id)
        except AlertmanagerError as exc:
            return (
                f"DELETE {self.options.url}/api/v2/silence/{silence_id}\n"
                f"Cannot read the silence first: {exc}"
            )
        if doc is None:
            raise Refusal(f"no silence with id {silence_id} in Alertmanager {self.name}")
        s = self._silence(doc)
        if s is None:
            raise Refusal(f"silence {silence_id}: Alertmanager's answer is not a silence")
        if s.state == "expired":
            raise Refusal(f"silence {silence_id} has already expired")
        ends = format_time(s.ends_at) if s.ends_at else "unknown"
        return "\n".join(
            [
                f"DELETE {self.options.url}/api/v2/silence/{silence_id}",
                f"Expires silence {s.id} ({s.state}, by {s.created_by or 'unknown'},"
                f" until {ends}):",
                f"  matchers: {', '.join(s.matchers) or '(none)'}",
                f"  comment:  {s.comment or '(none)'}",
                "The alerts it mutes will notify again.",
            ]
        )

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock()
        try:
            if request.action == "silence":
                plan = self._plan_silence(request)
                if request.dry_run:
                    return ActionResult(
                        request, Outcome.DRY_RUN, "dry run: nothing was done", at=now
                    )
                return await self._create_silence(request, plan)
            if request.action == "expire-silence":
                silence_id = self._silence_id(request)
                if request.dry_run:
                    return ActionResult(
                        request, Outcome.DRY_RUN, "dry run: nothing was done", at=now
                    )
                return await self._expire_silence(request, silence_id)
            raise Refusal(f"unknown action {clean(request.action, limit=40)!r}")
        except Refusal as exc:
            return ActionResult(request, Outcome.REFUSED, str(exc), at=now)
        except AlertmanagerError as exc:
            return ActionResult(request, Outcome.FAILED, str(exc), at=self.context.clock())

    async def _create_silence(self, request: ActionRequest, plan: _SilencePlan) -> ActionResult:
        body = plan.body(self.context.clock())
        _, doc = await self._request("POST", "/api/v2/silences", body=body)
        silence_id = doc.get("silenceID") if isinstance(doc, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise AlertmanagerError("POST /api/v2/silences: the answer carries no silenceID")
        silence_id = clean(silence_id, limit=64)
        matchers = ",".join(m.render() for m in plan.matchers)
        return ActionResult(
            request,
            Outcome.SUCCEEDED,
            f"silence {silence_id} created until {body['endsAt']} for {matchers}",
            output=silence_id,
            at=self.context.clock(),
        )

    async def _expire_silence(self, request: ActionRequest, silence_id: str) -> ActionResult:
        doc = await self._fetch_silence(silence_id)
        if doc is None:
            raise Refusal(f"no silence with id {silence_id} in Alertmanager {self.name}")
        state = as_dict(doc.get("status")).get("state")
        if state == "expired":
            raise Refusal(f"silence {silence_id} has already expired")
        await self._request("DELETE", f"/api/v2/silence/{silence_id}")
        return ActionResult(
            request,
            Outcome.SUCCEEDED,
            f"silence {silence_id} expired",
            output=silence_id,
            at=self.context.clock(),
        )
