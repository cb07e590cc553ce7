"""The ``alertmanager`` backend's alert feed: ``GET /api/v2/alerts``, read one alert at a time.

With ``read_groups`` the answer of ``/api/v2/alerts/groups`` is read instead (whole:
it is grouped, not a flat array), each alert once, its group the route's. Silenced
alerts come back as ``suppressed`` and inhibited ones as ``inhibited`` (or
not at all with ``include_silenced = false``). Severity and summary are read as
``backends.shared.alerts`` says (an ordered list of labels, of annotations). More than
``max_alerts`` alerts are cut, the least severe first, and one extra synthetic alert
(``AlertFeedTruncated``) says how many were left out, of which severities. The answer is read one alert at a time in the thread pool, and an alert whose
JSON did not change since the last poll keeps its ``Alert`` (json_array.ArrayMemo).

What "no alert" means is decided here, and only a well-formed answer may say it: a
JSON array whose every item is an alert object. An empty body, ``null``, anything
but an array, or an item that is not an object is an error (the feed is DOWN and
keeps its last alerts), never "every alert resolved". Alertmanager itself always
answers ``[]`` when nothing fires. A cut answer is a :class:`CutAlerts`, whose
``complete`` is False: an alert missing from it may only have been cut off, so
the engine resolves nothing on its account (``Engine.sync_incidents``).
"""

from __future__ import annotations

import dataclasses
import json

from pydantic import BaseModel

from oncall_console.backends.alertmanager.client import (
    KEY_LIMIT,
    MAX_LABELS,
    MAX_RESPONSE_BYTES,
    VALUE_LIMIT,
    AlertmanagerClient,
    AlertmanagerError,
    Answer,
    as_dict,
    decode_json,
    not_json,
    parse_time,
)
from oncall_console.backends.alertmanager.json_array import ArrayMemo, Malformed, NotAnArray
from oncall_console.backends.base import BackendContext
from oncall_console.backends.shared.alerts import cut_summary, most_severe
from oncall_console.model import Alert, AlertState, Severity
from oncall_console.text import clean


class CutAlerts(list[Alert]):
    """The ``max_alerts`` most severe alerts of a longer answer, then ``AlertFeedTruncated``.

    ``complete`` is False: an alert that is not in it may be in the part cut off, so it
    must not be taken for resolved (the engine reads ``complete`` of every feed's list;
    a plain list is complete)."""

    complete = False


class AlertFeed(AlertmanagerClient):
    """The active alerts, polled; unchanged alerts are not made again."""

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        # The last answer's alerts, by the text of each: most of a poll's answer is unchanged.
        # Every alert is read (the answer is bounded by MAX_RESPONSE_BYTES): the ones kept
        # are the most severe, wherever they are in the answer.
        self._feed = ArrayMemo(self._alert, _fingerprint, MAX_RESPONSE_BYTES)
        self._feed_alerts: tuple[list[Alert | None], int, list[Alert]] = ([], 0, [])

    # --- alerts ---------------------------------------------------------------------------

    def _alert_params(self) -> dict[str, str]:
        opts = self.options
        flag = "true" if opts.include_silenced else "false"
        params = {"active": "true", "unprocessed": "true", "silenced": flag, "inhibited": flag}
        if opts.receiver_filter:
            params["receiver"] = opts.receiver_filter
        return params

    async def alerts(self) -> list[Alert]:
        if self.options.read_groups:
            _, answer = await self._request(
                "GET", "/api/v2/alerts/groups", params=self._alert_params(), decode=False
            )
            return await self.context.run_sync(
                self._parse_groups, answer, timeout=self.options.timeout
            )
        _, answer = await self._request(
            "GET", "/api/v2/alerts", params=self._alert_params(), decode=False
        )
        # Decoding and cleaning 10,000 alerts is CPU-bound: off the event loop, one alert
        # at a time, so keys and frames keep flowing (the GIL is handed back between them).
        return await self.context.run_sync(self._parse_alerts, answer, timeout=self.options.timeout)

    def _parse_alerts(self, answer: Answer) -> list[Alert]:
        """The answer's alerts; the very same list as last time when no alert changed.

        Raises AlertmanagerError for anything but an array of alert objects: an empty
        body or ``null`` is a broken answer, not "no alerts" (Alertmanager sends ``[]``)."""
        body, content_type = answer
        what = f"GET {self.options.url}/api/v2/alerts"
        # One C call, but short: 4 MB of ASCII in ~0.2 ms (~1 ms a MB when not ASCII).
        text = body.decode("utf-8", errors="replace")
        if not text.strip():
            raise AlertmanagerError(f"{what}: empty answer, expected a list of alerts")
        try:
            alerts, total = self._feed.update(text)
        except NotAnArray:
            doc = decode_json(what, text, content_type)
            kind = "JSON null" if doc is None else f"a JSON {type(doc).__name__}"
            raise AlertmanagerError(f"{what}: expected a list of alerts, got {kind}") from None
        except Malformed:
            raise not_json(what, text, content_type) from None
        last, last_total, out = self._feed_alerts
        if alerts is last and total == last_total:
            return out  # the very list read (and checked) last time
        out = self._kept(what, alerts, total)
        self._feed_alerts = (alerts, total, out)
        return out

    def _kept(self, what: str, alerts: list[Alert | None], total: int) -> list[Alert]:
        """Every item an alert (else AlertmanagerError), cut to the most severe."""
        for index, found in enumerate(alerts):
            if found is None:
                raise AlertmanagerError(f"{what}: item {index} of the list is not an alert")
        out = [a for a in alerts if a is not None]
        if total > self.options.max_alerts:
            kept, cut = most_severe(out, self.options.max_alerts)
            out = CutAlerts(kept)
            out.append(self._truncation_alert(total, len(kept), cut_summary(cut)))
        return out

    def _parse_groups(self, answer: Answer) -> list[Alert]:
        """``/api/v2/alerts/groups``: each alert once (it is in a group per route that
        matched), its group the route's labels and receiver."""
        body, content_type = answer
        what = f"GET {self.options.url}/api/v2/alerts/groups"
        doc = decode_json(what, body.decode("utf-8", errors="replace"), content_type)
        if not isinstance(doc, list):
            kind = "JSON null" if doc is None else f"a JSON {type(doc).__name__}"
            raise AlertmanagerError(f"{what}: expected a list of alert groups, got {kind}")
        seen: dict[str, Alert | None] = {}
        for index, group in enumerate(doc):
            if not isinstance(group, dict) or not isinstance(group.get("alerts"), list):
                raise AlertmanagerError(f"{what}: item {index} of the list is not a group")
            labels = _clean_map(group.get("labels"))
            receiver = _clean(as_dict(group.get("receiver")).get("name", ""), KEY_LIMIT)
            name = " · ".join(f"{k}={v}" for k, v in labels.items()) or receiver
            for item in group["alerts"]:
                key = _fingerprint(item) or f"{index}:{len(seen)}"
                if key not in seen:
                    found = self._alert(item)
                    seen[key] = dataclasses.replace(found, group=name) if found else None
        return self._kept(what, list(seen.values()), len(seen))

    def _truncation_alert(self, total: int, cap: int, cut: str) -> Alert:
        return Alert(
            fingerprint=f"{self.name}:truncated",
            name="AlertFeedTruncated",
            severity=Severity.SEV3,
            summary=(
                f"Alertmanager {self.name} returned {total:,} alerts; the {cap:,} most severe"
                f" are shown (max_alerts), {total - cap:,} cut: {cut}"
            ),
            starts_at=self.context.clock(),
            source=self.name,
            group="alertname=AlertFeedTruncated",
        )

    def _alert(self, item: object) -> Alert | None:
        if not isinstance(item, dict):
            return None
        labels = _clean_map(item.get("labels"))
        annotations = _clean_map(item.get("annotations"))
        fingerprint = _clean(item.get("fingerprint") or "", 64)
        if not fingerprint:
            # Alertmanager always sends one; without it, identity is the sorted label set.
            fingerprint = "labels:" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        status = as_dict(item.get("status"))
        state = AlertState.ACTIVE
        if status.get("silencedBy") or status.get("state") == "suppressed":
            state = AlertState.SUPPRESSED
        if status.get("inhibitedBy"):
            state = AlertState.INHIBITED if not status.get("silencedBy") else AlertState.SUPPRESSED
        return Alert(
            fingerprint=fingerprint,
            name=labels.get("alertname", "") or "(no alertname)",
            severity=self.options.severity_of(labels),
            summary=_clean(self.options.summary_of(annotations), 500),
            state=state,
            starts_at=parse_time(item.get("startsAt")),
            labels=labels,
            annotations=annotations,
            source=self.name,
            runbook_url=_clean(annotations.get("runbook_url", ""), 500),
            group=" · ".join(
                f"{key}={labels[key]}" for key in self.options.group_by if key in labels
            ),
        )


def _clean(value: object, limit: int) -> str:
    """``clean()``, skipped when there is nothing to strip: a printable str (no controls, no
    escapes, no format characters) within ``limit``. 13 cleans per alert were 60 % of a parse."""
    if isinstance(value, str) and len(value) <= limit and value.isprintable():
        return value
    return clean(value, limit=limit)


def _clean_map(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in list(raw.items())[:MAX_LABELS]:
        k = _clean(key, KEY_LIMIT)
        if k:
            out[k] = _clean(value if isinstance(value, str) else json.dumps(value), VALUE_LIMIT)
    return out


def _fingerprint(item: object) -> str | None:
    fingerprint = item.get("fingerprint") if isinstance(item, dict) else None
    return fingerprint if isinstance(fingerprint, str) and fingerprint else None
