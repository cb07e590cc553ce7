"""The http backend's webhooks against a real local server: JSON built from templates in
the parsed document (never from text), typed values, failures, the token, read-only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import ValidationError

from oncall_console.backends.base import BackendContext, Capability
from oncall_console.backends.http import HttpBackend
from oncall_console.backends.http.webhooks import json_for_reading
from oncall_console.engine.actions import ActionRefused, ActionRunner
from oncall_console.model import ActionInvalid, ActionRequest, ActionResult, Confirm, Outcome
from oncall_console.store.audit import MemoryAuditLog
from tests.support.httpserver import LocalServer, serve

TOKEN = "tok-3f9a-very-secret"
PARAM_KINDS = {"name", "subdomain", "identifier", "int", "str", "choice", "bool"}
STATUSES = ["investigating", "identified", "monitoring", "resolved"]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture
async def make(executor: ThreadPoolExecutor) -> AsyncIterator[Any]:
    made: list[HttpBackend] = []

    async def build(
        webhooks: dict[str, Any], read_only: bool = False, **options: Any
    ) -> HttpBackend:
        opts = HttpBackend.Options.model_validate({"webhooks": webhooks, **options})
        backend = HttpBackend("status", opts, BackendContext(executor, read_only=read_only))
        await backend.start()
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.close()


def runner(backend: HttpBackend, read_only: bool = False) -> ActionRunner:
    return ActionRunner(
        {"status": backend},
        MemoryAuditLog(),
        operator="tester",
        read_only=read_only,
        clock=time.time,
        timeout=20.0,
    )


def incident_update(server: LocalServer, **extra: Any) -> dict[str, Any]:
    """A Statuspage-style incident update; the page id goes into the URL."""
    return {
        "url": server.url("/hook/pages/{page}/incidents"),
        "method": "POST",
        "title": "Post an incident update to the status page",
        "body": {
            "incident": {
                "name": "{title}",
                "status": "{status}",
                "impact": "{impact}",
                "components": ["{component}", "api"],
                "body": "Status: {status} (updated by the on-call {{console}})",
            }
        },
        "params": {
            "page": {"kind": "str"},
            "title": {"kind": "str", "help": "Incident title"},
            "status": {"kind": "choice", "choices": STATUSES},
            "impact": {"kind": "choice", "choices": ["none", "minor", "major", "critical"]},
            "component": {"kind": "name", "default": "checkout"},
        },
        "target": "page",
        **extra,
    }


def received(server: LocalServer, marker: str) -> list[dict[str, Any]]:
    return [r for r in server.requests if marker in r["path"] and "body" in r]


def everything(result: ActionResult) -> str:
    return "\n".join([result.message, result.preview, result.output])


def assert_well_formed(backend: HttpBackend) -> None:
    """What the contract test checks, on a configured backend."""
    specs = backend.actions()
    assert specs and len({s.id for s in specs}) == len(specs)
    for spec in specs:
        assert re.fullmatch(r"[a-z][a-z0-9-]*", spec.id)
        assert spec.target_param in {p.name for p in spec.params}
        assert all(p.kind in PARAM_KINDS for p in spec.params)
        assert not spec.dangerous or spec.confirm is Confirm.TYPE_TARGET


# --- declared ------------------------------------------------------------------------------


async def test_no_webhooks_no_actions(make):
    backend = await make({})
    assert backend.can(Capability.ACTIONS) and backend.can(Capability.HEALTH)
    assert backend.actions() == []
    assert runner(backend).available() == []


async def test_webhooks_are_actions(make, server):
    backend = await make(
        {
            "incident-update": incident_update(server),
            "page-all": {
                "url": server.url("/hook/page-all"),
                "body": {"text": "all hands"},
                "dangerous": True,
            },
        }
    )
    assert_well_formed(backend)
    specs = {s.id: s for s in backend.actions()}
    update = specs["incident-update"]
    assert update.title == "Post an incident update to the status page"
    assert update.target_param == "page" and update.confirm is Confirm.YES_NO
    status = next(p for p in update.params if p.name == "status")
    assert status.kind == "choice" and status.choices == tuple(STATUSES)
    page_all = specs["page-all"]
    assert page_all.dangerous and page_all.confirm is Confirm.TYPE_TARGET
    assert page_all.target_param == "target"


# --- sent ----------------------------------------------------------------------------------


async def test_a_status_page_update_through_the_runner(make, server):
    backend = await make({"incident-update": incident_update(server)})
    r = runner(backend)
    request = ActionRequest(
        "status",
        "incident-update",
        {
            "page": "kctbh9vrtdwd",
            "title": "Checkout errors",
            "status": "identified",
            "impact": "major",
        },
    )
    prepared = await r.prepare(request)
    lines = prepared.preview.splitlines()
    assert lines[0] == "POST " + server.url("/hook/pages/kctbh9vrtdwd/incidents")
    assert lines[1] == "headers: User-Agent, Content-Type"
    assert lines[2] == "expects: HTTP 200, 201, 202, 204 · timeout 10 s"
    body = json.loads(prepared.preview.split("body:\n", 1)[1])
    expected = {
        "incident": {
            "name": "Checkout errors",
            "status": "identified",
            "impact": "major",
            "components": ["checkout", "api"],
            "body": "Status: identified (updated by the on-call {console})",
        }
    }
    assert body == expected
    assert '\n  "incident": {\n    "name"' in prepared.preview  # pretty-printed

    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert result.message == "HTTP 201 Created"
    [seen] = received(server, "kctbh9vrtdwd")
    assert seen["method"] == "POST"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert json.loads(seen["body"]) == expected
    assert json.loads(result.output)["received"] == expected
    [entry] = r.audit.entries()
    assert entry.target == "kctbh9vrtdwd" and entry.outcome is Outcome.SUCCEEDED


async def test_a_choice_outside_its_list_is_refused_before_anything_is_sent(make, server):
    backend = await make({"incident-update": incident_update(server)})
    r = runner(backend)
    before = len(server.requests)
    with pytest.raises(ActionRefused, match="status: must be one of investigating"):
        await r.prepare(
            ActionRequest(
                "status",
                "incident-update",
                {"page": "p1", "title": "x", "status": "on fire", "impact": "major"},
            )
        )
    assert len(server.requests) == before


async def test_a_chat_webhook_whose_url_is_the_secret(make, server, monkeypatch):
    monkeypatch.setenv("ONCALL_TEST_CHAT_URL", server.url("/hook/services/T000/B000/XyZsecret"))
    backend = await make(
        {
            "notify-channel": {
                "url_env": "ONCALL_TEST_CHAT_URL",
                "title": "Tell #incidents",
                "body": {
                    "text": ":rotating_light: {sev} {summary}",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": "{summary}"}}
                    ],
                },
                "params": {
                    "sev": {"kind": "choice", "choices": ["SEV1", "SEV2", "SEV3", "SEV4"]},
                    "summary": {"kind": "str"},
                },
                "target": "sev",
            }
        }
    )
    r = runner(backend)
    prepared = await r.prepare(
        ActionRequest("status", "notify-channel", {"sev": "SEV2", "summary": "Checkout is slow"})
    )
    assert prepared.preview.splitlines()[0] == (
        "POST http://127.0.0.1/… (from $ONCALL_TEST_CHAT_URL, not shown)"
    )
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED
    for text in (everything(result), prepared.preview):
        assert "XyZsecret" not in text
    [seen] = received(server, "XyZsecret")
    assert json.loads(seen["body"])["text"] == ":rotating_light: SEV2 Checkout is slow"
    monkeypatch.delenv("ONCALL_TEST_CHAT_URL")
    with pytest.raises(ActionRefused, match="ONCALL_TEST_CHAT_URL is not set"):
        await r.prepare(ActionRequest("status", "notify-channel", {"sev": "SEV2", "summary": "x"}))


HOSTILE = [
    'quote " and \\" escaped',
    "braces {title} {{ }} } {",
    "two\nlines\r\nand\ttab",
    '", "status": "resolved", "x": "',
    "</script><b>[bold]markup[/]</b>",
    "unicode ünïcödé ☃ \u202e bidi",
    "\\u0000 not a nul",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_values_land_as_literal_json_strings(make, server, value):
    backend = await make({"incident-update": incident_update(server)})
    result = await backend.run(
        ActionRequest(
            "status",
            "incident-update",
            {"page": "hostile", "title": value, "status": "monitoring", "impact": "minor"},
            "tester",
        )
    )
    assert result.outcome is Outcome.SUCCEEDED, result.message
    seen = received(server, "hostile")[-1]
    doc = json.loads(seen["body"])  # valid JSON, whatever the value held
    assert doc["incident"]["name"] == value
    assert doc["incident"]["status"] == "monitoring"  # not overridden by an injected key
    assert set(doc["incident"]) == {"name", "status", "impact", "components", "body"}


async def test_exact_placeholders_keep_their_type(make, server):
    backend = await make(
        {
            "scale-note": {
                "url": server.url("/hook/typed"),
                "method": "PUT",
                "body": {
                    "replicas": "{replicas}",
                    "dry": "{dry}",
                    "label": "replicas={replicas} dry={dry}",
                    "nested": [["{replicas}"]],
                    "fixed": [1, 2.5, True, "plain"],
                },
                "params": {
                    "replicas": {"kind": "int", "minimum": 0, "maximum": 50},
                    "dry": {"kind": "bool", "default": False},
                },
                "target": "replicas",
            }
        }
    )
    r = runner(backend)
    prepared = await r.prepare(ActionRequest("status", "scale-note", {"replicas": "7"}))
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED
    seen = received(server, "/hook/typed")[-1]
    assert seen["method"] == "PUT"
    assert json.loads(seen["body"]) == {
        "replicas": 7,
        "dry": False,
        "label": "replicas=7 dry=false",
        "nested": [[7]],
        "fixed": [1, 2.5, True, "plain"],
    }


async def test_url_values_are_one_percent_encoded_segment(make, server):
    backend = await make({"incident-update": incident_update(server)})
    result = await backend.run(
        ActionRequest(
            "status",
            "incident-update",
            {"page": "../admin?x=1#frag", "title": "t", "status": "resolved", "impact": "none"},
            "tester",
        )
    )
    assert result.outcome is Outcome.SUCCEEDED
    assert received(server, "/hook/pages/")[-1]["path"] == (
        "/hook/pages/..%2Fadmin%3Fx%3D1%23frag/incidents"
    )
    with pytest.raises(ActionInvalid, match="would move along the URL path"):
        await backend.preview(
            ActionRequest(
                "status",
                "incident-update",
                {"page": "..", "title": "t", "status": "resolved", "impact": "none"},
            )
        )


async def test_the_preview_escapes_what_a_terminal_would_hide(make, server):
    backend = await make({"incident-update": incident_update(server)})
    text = await backend.preview(
        ActionRequest(
            "status",
            "incident-update",
            {"page": "p", "title": "a\u202eb\x85c", "status": "resolved", "impact": "none"},
        )
    )
    assert '"name": "a\\u202eb\\u0085c"' in text
    assert json.loads(json_for_reading({"x": "a\u202eb\u2028"})) == {"x": "a\u202eb\u2028"}


# --- failures ------------------------------------------------------------------------------


async def test_an_unexpected_status_fails_with_the_first_line(make, server):
    backend = await make(
        {
            "boom": {"url": server.url("/hook/500"), "body": {"text": "hi"}},
            "strict": {"url": server.url("/hook/strict"), "body": {"a": 1}, "expect_status": [200]},
        }
    )
    result = await backend.run(ActionRequest("status", "boom", {}, "tester"))
    assert result.outcome is Outcome.FAILED
    assert result.message == "HTTP 500: database is on fire"
    assert "second line" in result.output
    strict = await backend.run(ActionRequest("status", "strict", {}, "tester"))
    assert strict.outcome is Outcome.FAILED and strict.message.startswith("HTTP 201: {")


async def test_no_answer_in_time_is_timed_out(make, server):
    backend = await make(
        {"slow": {"url": server.url("/hook/slow?ms=5000"), "body": {}, "timeout": 0.5}}
    )
    result = await backend.run(ActionRequest("status", "slow", {}, "tester"))
    assert result.outcome is Outcome.TIMED_OUT
    assert "may or may not have been applied" in result.message


async def test_a_closed_port_fails_in_one_line(make):
    from tests.support.httpserver import free_port

    backend = await make({"x": {"url": f"http://127.0.0.1:{free_port()}/hook", "body": {}}})
    result = await backend.run(ActionRequest("status", "x", {}, "tester"))
    assert result.outcome is Outcome.FAILED and result.message == "connection refused"


async def test_an_unknown_webhook_is_invalid(make, server):
    backend = await make({"boom": {"url": server.url("/hook/x"), "body": {}}})
    with pytest.raises(ActionInvalid, match="no webhook 'nope'"):
        await backend.preview(ActionRequest("status", "nope", {}))


# --- secrets and read-only -------------------------------------------------------------------


async def test_the_token_is_sent_but_never_shown(make, server, monkeypatch):
    monkeypatch.setenv("ONCALL_TEST_STATUS_TOKEN", TOKEN)
    backend = await make(
        {"incident-update": incident_update(server, auth_scheme="OAuth")},
        token_env="ONCALL_TEST_STATUS_TOKEN",
        headers={"X-Team": "sre"},
    )
    r = runner(backend)
    prepared = await r.prepare(
        ActionRequest(
            "status",
            "incident-update",
            {
                "page": "tokenpage",
                "title": f"mentions {TOKEN}",
                "status": "resolved",
                "impact": "none",
            },
        )
    )
    assert prepared.preview.splitlines()[1] == (
        "headers: User-Agent, X-Team, Content-Type, "
        "Authorization (OAuth token from $ONCALL_TEST_STATUS_TOKEN, not shown)"
    )
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED
    [seen] = received(server, "tokenpage")
    assert seen["headers"]["Authorization"] == f"OAuth {TOKEN}"
    assert seen["headers"]["X-Team"] == "sre"
    # the server echoes the headers (and the title holds the token): all redacted
    assert TOKEN not in everything(result) and TOKEN not in prepared.preview
    [entry] = r.audit.entries()
    assert TOKEN not in entry.preview + entry.message
    assert "[redacted]" in result.output


async def test_a_webhook_may_keep_the_token_to_itself(make, server, monkeypatch):
    monkeypatch.setenv("ONCALL_TEST_STATUS_TOKEN", TOKEN)
    backend = await make(
        {"chat": {"url": server.url("/hook/notoken"), "body": {"t": 1}, "send_token": False}},
        token_env="ONCALL_TEST_STATUS_TOKEN",
    )
    result = await backend.run(ActionRequest("status", "chat", {}, "tester"))
    assert result.outcome is Outcome.SUCCEEDED
    assert "Authorization" not in received(server, "/hook/notoken")[-1]["headers"]


async def test_a_missing_token_refuses_before_sending(make, server, monkeypatch):
    monkeypatch.delenv("ONCALL_TEST_STATUS_TOKEN", raising=False)
    backend = await make(
        {"chat": {"url": server.url("/hook/missing"), "body": {}}},
        token_env="ONCALL_TEST_STATUS_TOKEN",
    )
    with pytest.raises(ActionRefused, match="ONCALL_TEST_STATUS_TOKEN is not set"):
        await runner(backend).prepare(ActionRequest("status", "chat", {}))
    assert received(server, "/hook/missing") == []


async def test_a_secret_the_body_must_carry_comes_from_the_environment(make, server, monkeypatch):
    monkeypatch.setenv("ONCALL_TEST_PD_KEY", "R0UT1NGKEY")
    backend = await make(
        {
            "page-oncall": {
                "url": server.url("/hook/enqueue"),
                "title": "Page the on-call through PagerDuty",
                "body": {
                    "routing_key": "{routing_key}",
                    "event_action": "trigger",
                    "payload": {
                        "summary": "{summary}",
                        "severity": "critical",
                        "source": "console",
                    },
                },
                "params": {"summary": {"kind": "str"}},
                "target": "summary",
                "secret_env": {"routing_key": "ONCALL_TEST_PD_KEY"},
                "headers": {"content-type": "application/json; charset=utf-8"},
            }
        }
    )
    r = runner(backend)
    prepared = await r.prepare(ActionRequest("status", "page-oncall", {"summary": "db down"}))
    assert '"routing_key": "[secret from $ONCALL_TEST_PD_KEY]"' in prepared.preview
    assert "R0UT1NGKEY" not in prepared.preview
    assert "headers: User-Agent, content-type" in prepared.preview  # one content type
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED
    assert "R0UT1NGKEY" not in everything(result)  # the echo is redacted
    seen = received(server, "/hook/enqueue")[-1]
    assert json.loads(seen["body"])["routing_key"] == "R0UT1NGKEY"
    types = [v for k, v in seen["headers"].items() if k.lower() == "content-type"]
    assert types == ["application/json; charset=utf-8"]
    monkeypatch.delenv("ONCALL_TEST_PD_KEY")
    with pytest.raises(ActionRefused, match="ONCALL_TEST_PD_KEY is not set"):
        await r.prepare(ActionRequest("status", "page-oncall", {"summary": "x"}))


async def test_read_only_is_refused_by_the_runner(make, server):
    backend = await make({"chat": {"url": server.url("/hook/ro"), "body": {}}})
    r = runner(backend, read_only=True)
    assert r.available() == []
    with pytest.raises(ActionRefused, match="read-only"):
        await r.prepare(ActionRequest("status", "chat", {}))
    prepared = await runner(backend).prepare(ActionRequest("status", "chat", {}))
    refused = await r.execute(prepared, "y")
    assert refused.outcome is Outcome.REFUSED and "read-only" in refused.message
    assert received(server, "/hook/ro") == []


async def test_dry_run_sends_nothing(make, server):
    backend = await make({"chat": {"url": server.url("/hook/dry"), "body": {"a": "b"}}})
    r = runner(backend)
    prepared = await r.prepare(ActionRequest("status", "chat", {}, dry_run=True))
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.DRY_RUN and '"a": "b"' in result.preview
    assert received(server, "/hook/dry") == []


# --- config ----------------------------------------------------------------------------------


def config_error(webhook: dict[str, Any], key: str = "hook") -> str:
    with pytest.raises(ValidationError) as info:
        HttpBackend.Options.model_validate({"webhooks": {key: webhook}})
    return str(info.value)


BASE = {"url": "https://status.example.com/api/incidents", "body": {"text": "{msg}"}}
MSG = {"params": {"msg": {"kind": "str"}}, "target": "msg"}


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ({**BASE, "body": {"incident": {"name": "{title}"}}, **MSG}, "body.incident.name"),
        ({**BASE, "body": {"incident": {"name": "{title}"}}, **MSG}, "unknown placeholder {title}"),
        ({**BASE, "body": {"a": ["x", "{msg"]}, **MSG}, "body.a[1]: unbalanced '{'"),
        ({**BASE, "url": "https://{msg}.example.com/x", **MSG}, "may only follow the host"),
        ({**BASE, "url": "https://example.com/{nope}", **MSG}, "url: unknown placeholder {nope}"),
        ({**BASE, "url": "ftp://example.com/x", **MSG}, "http:// or https://"),
        ({**BASE, "url_env": "HOOK_URL", **MSG}, "set url or url_env"),
        ({"body": {}, **MSG}, "set url or url_env"),
        ({**BASE, "headers": {"Authorization": "Bearer x"}, **MSG}, "use token_env"),
        ({**BASE, "headers": {"X-Api-Key": "x"}, **MSG}, "use token_env"),
        ({**BASE, "headers": {"X-Team": "a\r\nEvil: 1"}, **MSG}, "line breaks"),
        ({**BASE, "expect_status": [700], **MSG}, "between 100 and 599"),
        ({**BASE, "method": "DELETE", **MSG}, "'POST', 'PUT' or 'PATCH'"),
        ({**BASE}, "unknown placeholder {msg}"),
        ({**BASE, "params": {"msg": {"kind": "str"}}}, "target is required"),
        ({**BASE, **MSG, "body": {"when": __import__("datetime").date(2024, 1, 1)}}, "not JSON"),
        ({**BASE, **MSG, "surprise": 1}, "Extra inputs"),
        ({**BASE, **MSG, "secret_env": {"msg": "X"}}, "both a parameter and a secret_env"),
        (
            {**BASE, **MSG, "url": "https://e.com/{key}", "secret_env": {"key": "K"}},
            "url: unknown placeholder {key}",
        ),
    ],
)
def test_config_errors_say_where(webhook, expected):
    assert expected in config_error(webhook)


def test_webhook_ids_are_checked():
    assert "webhook id 'Post_Update'" in config_error({**BASE, **MSG}, key="Post_Update")
