"""Issue #16, finding 3: secrets are redacted wherever remote text is shown.

A health endpoint that echoes the request's bearer token back in a dependency line
showed it in full in `status --format json` and the detail view (only the summary line
was redacted). Redaction now happens where the http and shell backends build a result,
and again as the poller records every result of every backend, so the JSON, the detail
view, the table and a verification's before/after read the same redacted result."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from oncall_console.backends.base import BackendContext
from oncall_console.backends.http import HttpBackend
from oncall_console.engine.poller import Poller
from oncall_console.engine.state import new_check_state
from oncall_console.model import CheckSpec
from oncall_console.secrets import one_source_each, redact
from tests.support.httpserver import serve

SECRET = "s3cr3t-token-value-0042"


@pytest.fixture
def server():
    with serve() as s:
        yield s


async def test_an_echoed_token_is_redacted_in_every_line(server, monkeypatch):
    from oncall_console.ui.screens.detail import check_detail

    monkeypatch.setenv("ONCALL_TEST_ECHO_TOKEN", SECRET)
    with ThreadPoolExecutor(2) as pool:
        backend = HttpBackend(
            "web", HttpBackend.Options(token_env="ONCALL_TEST_ECHO_TOKEN"), BackendContext(pool)
        )
        await backend.start()
        try:
            spec = CheckSpec(
                "api", "web", 10, 3, params=HttpBackend.CheckParams(url=server.url("/echo-auth"))
            )
            raw = await backend.probe(spec)  # what the backend itself builds
            # the echo is real, and redacted where the result is built (a verification's
            # before/after reads this one, not the poller's)
            assert any("Bearer [redacted]" in s.detail for s in raw.substatuses)
            assert SECRET not in repr(raw)
            state = new_check_state(spec, 10)
            poller = Poller(
                {"web": backend}, {"api": state}, {}, {}, concurrency=2, clock=time.time
            )
            await poller.poll_once()
        finally:
            await backend.close()
    result = state.last
    assert result is not None
    every = [result.summary, result.error or "", *result.details.values()]
    every += [f"{s.name} {s.detail}" for s in result.substatuses]
    assert not [line for line in every if SECRET in line]
    assert any("[redacted]" in s.detail for s in result.substatuses)
    doc = json.dumps(
        {"substatuses": [s.detail for s in result.substatuses], "details": result.details}
    )
    assert SECRET not in doc
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(check_detail(state, time.time()))
    assert SECRET not in console.export_text()


def test_a_pasted_secret_in_password_env_is_refused_without_being_echoed():
    from oncall_console.config import ConfigError, from_dict

    pasted = "hunter2!Xq9#pasted"
    with pytest.raises(ConfigError) as caught:
        from_dict(
            {"store": {"url": "postgresql://db/x", "password_env": pasted}},
            filename="c.toml",
            env={},
        )
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "password_env" in text and "environment variable" in text
    assert pasted not in text


def test_credentials_in_remote_text_read_as_such():
    assert redact("auth: saw Bearer abcdefgh12345678") == "auth: saw Bearer [redacted]"
    assert redact("password=hunter2hunter2; ok") == "password=[redacted]; ok"
    assert redact("token: environment variable X is not set") == (
        "token: environment variable X is not set"  # our own words stay
    )
    assert one_source_each  # the validator that refuses a pasted secret


def test_our_own_words_about_a_secret_stay_readable():
    for line in (
        "password: environment variable ONCALL_TEST_NO_SUCH_PW is not set",
        "token: cannot read /run/secrets/token: No such file or directory",
    ):
        assert redact(line) == line


def test_status_json_and_table_show_no_echoed_token(server, tmp_path):
    """The reviewer's command: `oncall-console status --format json` (and the table)
    against a real health endpoint that echoes the Authorization header back in a
    dependency line. Before: `saw Bearer s3cr3t…` in full in the substatus."""
    import os
    import subprocess
    import sys

    import tomli_w

    path = tmp_path / "oncall.toml"
    doc = {
        "console": {"environment": "t"},
        "store": {"url": str(tmp_path / "s.sqlite3")},
        "backends": {"web": {"type": "http", "token_env": "ONCALL_TEST_ECHO_TOKEN"}},
        "checks": {"api": {"backend": "web", "url": server.url("/echo-auth")}},
    }
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    env = {**os.environ, "ONCALL_TEST_ECHO_TOKEN": SECRET}
    shown = {}
    for fmt in ("json", "table"):
        done = subprocess.run(
            [sys.executable, "-m", "oncall_console", "status", "-c", str(path), "--format", fmt],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert SECRET not in done.stdout + done.stderr, fmt
        shown[fmt] = done.stdout
    [check] = json.loads(shown["json"])["checks"]
    assert check["substatuses"], check  # the dependency line is there, redacted
    assert any("Bearer [redacted]" in s["detail"] for s in check["substatuses"])
    assert "[redacted]" in shown["table"]


@pytest.mark.parametrize(
    "backend",
    [
        {"type": "postgres", "dsn": "postgresql://db/x", "password_env": "{pasted}"},
        {"type": "http", "token_env": "{pasted}"},
        {
            "type": "http",
            "webhooks": {
                "hook": {"url_env": "{pasted}", "body": {"text": "hi"}},
            },
        },
        {
            "type": "http",
            "webhooks": {
                "hook": {
                    "url": "https://hooks.example/x",
                    "body": {"key": "{routing_key}"},
                    "secret_env": {"routing_key": "{pasted}"},
                },
            },
        },
        {
            "type": "shell",
            "allowlist": ["/bin/true"],
            "commands": {"t": {"argv": ["/bin/true"], "env_from": {"API_TOKEN": "{pasted}"}}},
        },
    ],
    ids=["password_env", "token_env", "url_env", "secret_env", "env_from"],
)
def test_a_secret_pasted_where_a_variable_name_belongs_is_never_echoed(backend):
    """Every place that takes a variable's name: a value that is not one ([A-Za-z_]
    [A-Za-z0-9_]*) is refused at load, and the message does not show it."""
    from oncall_console.config import ConfigError, from_dict

    pasted = "xoxb-1234-hunter2/Secret+Value=="
    spec = json.loads(json.dumps(backend).replace("{pasted}", pasted))
    with pytest.raises(ConfigError) as caught:
        from_dict({"backends": {"b": spec}}, filename="c.toml", env={})
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "environment variable" in text, text
    assert pasted not in text and "hunter2" not in text, text


def test_resolving_a_pasted_secret_does_not_echo_it(monkeypatch):
    from oncall_console.secrets import SecretMissing, resolve

    pasted = "hunter2!Xq9#pasted"
    with pytest.raises(SecretMissing) as caught:
        resolve("password", pasted, None)
    assert pasted not in str(caught.value) and "not shown" in str(caught.value)
