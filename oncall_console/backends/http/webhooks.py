"""The ``http`` backend's actions: webhooks sending JSON built from a template.

A webhook (``[backends.NAME.webhooks.ID]``) is a status-page update or a chat
message. Placeholders are filled in the parsed document's string values, never by
formatting JSON text: a value is always one JSON string (or, for a leaf that is
exactly ``"{param}"``, the parameter's typed value), whatever quotes, braces or
newlines it holds. In the URL, placeholders may only follow the host, and each
value is percent-encoded as one segment. The preview shows the method, the URL,
header names (never the token) and the exact body.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as url_quote

import httpx

from oncall_console.backends.http.connections import HttpConnections, SetupError, read_capped
from oncall_console.backends.http.options import WebhookSpec, check_url
from oncall_console.backends.shared import declared
from oncall_console.backends.shared import params as P
from oncall_console.backends.shared.params import Value
from oncall_console.errors import describe
from oncall_console.model import ActionInvalid, ActionRequest, ActionResult, ActionSpec, Outcome
from oncall_console.secrets import redact, reference
from oncall_console.text import clean

WEBHOOK_BODY_CAP = 65_536
"""Bytes of a webhook's answer that are read (at most max_body_bytes)."""
SHOWN_BODY = 19_000
"""Characters of a webhook's answer kept in the result (the runner shows 20 000)."""


def fill(node: Any, values: Mapping[str, Value]) -> Any:
    """The document with each string value's placeholders filled (keys are never templates)."""
    if isinstance(node, str):
        parts = P.parse(node)
        one = P.exact(parts)
        return values[one] if one is not None else P.render(parts, values)
    if isinstance(node, dict):
        return {k: fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [fill(v, values) for v in node]
    return node


# Characters a terminal would hide or act on (the ones text.clean removes), and the
# line/paragraph separators: written as JSON escapes, so the preview is the body.
_HIDDEN = re.compile(r"[\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_for_reading(doc: Any) -> str:
    """Pretty JSON equal to what is sent, with invisible characters escaped."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True)
class WebhookCall:
    """Exactly what will be sent."""

    key: str
    spec: WebhookSpec
    url: str
    shown_url: str
    body: Any
    shown_body: Any
    headers: dict[str, str]
    header_names: tuple[str, ...]
    secrets: tuple[str, ...]

    def render(self) -> str:
        s = self.spec
        codes = ", ".join(str(c) for c in s.expect_status)
        return "\n".join(
            [
                f"{s.method} {self.shown_url}",
                "headers: " + ", ".join(self.header_names),
                f"expects: HTTP {codes} · timeout {s.timeout:g} s",
                "body:",
                json_for_reading(self.shown_body),
            ]
        )

    @property
    def content(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class HttpWebhooks(HttpConnections):
    """The configured webhooks, as actions: listed, previewed and sent."""

    def actions(self) -> list[ActionSpec]:
        return [
            declared.declared_action(key, w, default_title=f"{w.method} webhook {key}")
            for key, w in self.options.webhooks.items()
        ]

    def webhook_call(self, key: str, given: Mapping[str, Any]) -> WebhookCall:
        """Fill the templates: ActionInvalid when the request cannot be sent."""
        spec, values = declared.declared_values(
            self.options.webhooks, key, given, what="webhook", backend=self.name
        )
        secrets: list[str] = []
        if spec.url is not None:
            parts = P.parse(spec.url)
            for ref in P.names(parts):
                if P.text_of(values[ref]) in (".", ".."):
                    raise ActionInvalid(f"{ref}: '.' and '..' would move along the URL path")
            url = P.render(parts, values, quote=lambda v: url_quote(v, safe=""))
            shown_url = url
        else:
            env = str(spec.url_env)
            url = os.environ.get(env, "").strip()
            if not url:
                raise ActionInvalid(f"url: environment variable {env} is not set")
            try:
                parsed = check_url(url, f"url from ${env}")
            except ValueError as exc:
                raise ActionInvalid(str(exc)) from None
            secrets.append(url)
            shown_url = f"{parsed.scheme}://{parsed.host}/… (from ${env}, not shown)"
        sent, shown = dict(values), dict(values)
        for pname, var in spec.secret_env.items():
            secret = os.environ.get(var, "").strip()
            if not secret:
                raise ActionInvalid(f"secret_env: environment variable {var} is not set")
            sent[pname], shown[pname] = secret, f"[secret from ${var}]"
            secrets.append(secret)
        headers = dict(spec.headers)
        if not any(h.lower() == "content-type" for h in headers):
            headers = {"Content-Type": "application/json", **headers}
        names = ["User-Agent", *self.options.headers, *headers]
        if spec.send_token and (self.options.token_env or self.options.token_file):
            if not self._token_read or self._token_error:
                self._resolve_token()  # retried so that a fixed token needs no restart
            if self._token_error or not self._token:
                raise ActionInvalid(self._token_error or "token: not set")
            headers["Authorization"] = f"{spec.auth_scheme} {self._token}"
            where = reference(self.options.token_env, self.options.token_file)
            names.append(f"Authorization ({spec.auth_scheme} token from {where}, not shown)")
            secrets.append(self._token)
        seen: set[str] = set()
        unique = []
        for n in names:
            low = n.split(" ", 1)[0].lower()
            if low not in seen:
                seen.add(low)
                unique.append(n)
        return WebhookCall(
            key=key,
            spec=spec,
            url=url,
            shown_url=shown_url,
            body=fill(spec.body, sent),
            shown_body=fill(spec.body, shown),
            headers=headers,
            header_names=tuple(unique),
            secrets=tuple(secrets),
        )

    async def preview(self, request: ActionRequest) -> str:
        call = self.webhook_call(request.action, request.params)
        return redact(call.render(), *call.secrets)

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock
        try:
            call = self.webhook_call(request.action, request.params)
        except ActionInvalid as exc:
            return ActionResult(request, Outcome.REFUSED, clean(str(exc), limit=300), at=now())
        shown = redact(call.render(), *call.secrets)
        if request.dry_run:
            return ActionResult(
                request, Outcome.DRY_RUN, "dry run: nothing was done", preview=shown, at=now()
            )
        try:
            client = self._ensure_client()
        except SetupError as exc:
            return ActionResult(request, Outcome.FAILED, str(exc), preview=shown, at=now())
        spec = call.spec
        cap = min(self.options.max_body_bytes, WEBHOOK_BODY_CAP)
        try:
            async with asyncio.timeout(spec.timeout):
                req = client.build_request(
                    spec.method,
                    call.url,
                    content=call.content,
                    headers=call.headers,
                    timeout=httpx.Timeout(spec.timeout),
                )
                resp = await client.send(req, stream=True)
                try:
                    body, truncated = await read_capped(resp, cap)
                finally:
                    await resp.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return ActionResult(
                request,
                Outcome.TIMED_OUT,
                f"no answer after {spec.timeout:g} s: it may or may not have been applied",
                preview=shown,
                at=now(),
            )
        except httpx.HTTPError as exc:
            why = describe(exc, secrets=call.secrets)
            return ActionResult(request, Outcome.FAILED, why, preview=shown, at=now())
        text = redact(body.decode(resp.encoding or "utf-8", errors="replace"), *call.secrets)
        output = clean(text, limit=SHOWN_BODY, single_line=False)
        if truncated:
            output += f"\n[answer truncated at {cap} bytes]"
        code = resp.status_code
        head = f"HTTP {code} {clean(resp.reason_phrase, limit=80)}".strip()
        if code in spec.expect_status:
            outcome, message = Outcome.SUCCEEDED, head
        else:
            line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            message = f"HTTP {code}: {clean(line, limit=200)}" if line else head
            outcome = Outcome.FAILED
        return ActionResult(
            request,
            outcome,
            clean(redact(message, *call.secrets), limit=500),
            preview=shown,
            output=output,
            at=now(),
        )
