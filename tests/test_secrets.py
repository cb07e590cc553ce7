"""Passwords and tokens, referenced by environment variable and by file, never show: not on
the screen (screenshots included), not in `status` (text or JSON), `check`, `action`,
`handoff` or `audit list`, not in the audit trail, not in logs, and not in the messages
of servers that refuse them. Every surface is searched for each secret as written, in
base64 (alone and as HTTP Basic `user:secret`), URL-encoded and as Python would repr it."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from oncall_console.cli import main
from oncall_console.config import load
from oncall_console.engine import Engine
from oncall_console.store import open_store
from oncall_console.ui.app import OncallApp
from oncall_console.ui.screens.detail import DetailScreen
from oncall_console.ui.widgets.health import HealthTable
from tests.support.httpserver import LocalServer, serve

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stack")]

# Distinctive, and each with a character that URL-encoding changes.
SECRETS = {
    "ONCALL_T_PG_PASSWORD": "pg-Pa55/word+env",  # postgres, by env
    "redis": "redis-S3cret%file",  # redis, by file
    "ONCALL_T_HEALTH_TOKEN": "health-tok=env&1",  # http health, by env
    "hook": "hook-tok/file?2",  # http webhooks, by file
    "ONCALL_T_BUS_PASSWORD": "bus-pw#env:3",  # the bus's Redis, by env
    "ONCALL_T_STORE_PASSWORD": "store-pw@env 4",  # a PostgreSQL store's password, by env
}


def forms(secret: str) -> set[str]:
    """The secret as it could leak: raw, encoded, or quoted by a library or repr()."""
    found = {secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]}
    for raw in (secret, f"default:{secret}", f"oncall:{secret}", f":{secret}"):
        found.add(base64.b64encode(raw.encode()).decode().rstrip("="))
    found.add(base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="))
    return found


USER = "oncall-secret-test"
BUS_USER = "oncall-secret-test-bus"
ALL_FORMS = {form: secret for secret in SECRETS.values() for form in forms(secret)}


def assert_no_secret(where: str, text: str) -> None:
    leaked = sorted({secret for form, secret in ALL_FORMS.items() if form in text})
    assert not leaked, f"{where} shows {leaked}"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


@pytest.fixture
def refusing_user(healthy_stack) -> Iterator[str]:
    """A Redis ACL user whose password is not the one we hold: the server refuses ours."""
    import redis

    client = redis.Redis.from_url(healthy_stack.redis.url)
    client.acl_setuser(USER, enabled=True, passwords=["+not-the-one-we-hold"], commands=["+@all"], keys=["*"], channels=["*"])  # fmt: skip
    # The bus's user does hold its password: actions need the bus's locks.
    client.acl_setuser(BUS_USER, enabled=True, passwords=[f"+{SECRETS['ONCALL_T_BUS_PASSWORD']}"], commands=["+@all"], keys=["*"], channels=["*"])  # fmt: skip
    try:
        yield USER
    finally:
        client.acl_deluser(USER, BUS_USER)
        client.close()


@pytest.fixture
def console_config(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    healthy_stack,
    server: LocalServer,
    refusing_user: str,
) -> Path:
    for name, value in SECRETS.items():
        if name.startswith("ONCALL_T_"):
            monkeypatch.setenv(name, value)
    (tmp_path / "redis.pw").write_text(SECRETS["redis"] + "\n")
    (tmp_path / "hook.tok").write_text(SECRETS["hook"] + "\n")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = tmp_path / "oncall.toml"
    config.write_text(
        f"""
[console]
environment = "secret-test"
operator = "alex"

[store]
url = "{tmp_path / "oncall.sqlite3"}"
password_env = "ONCALL_T_STORE_PASSWORD"

[bus]
redis_url = "{healthy_stack.redis.url}"
username = "{BUS_USER}"
password_env = "ONCALL_T_BUS_PASSWORD"
timeout = 1

[backends.pg]
type = "postgres"
dsn = "{healthy_stack.postgres.dsn}"
password_env = "ONCALL_T_PG_PASSWORD"

[backends.cache]
type = "redis"
url = "{healthy_stack.redis.url}"
username = "{refusing_user}"
password_file = "{tmp_path / "redis.pw"}"

[backends.web]
type = "http"
token_env = "ONCALL_T_HEALTH_TOKEN"

[backends.hooks]
type = "http"
token_file = "{tmp_path / "hook.tok"}"

[backends.hooks.webhooks.notify]
title = "Tell the chat"
url = "{server.url("/hook/notify")}"
method = "POST"
target = "channel"
[backends.hooks.webhooks.notify.params]
channel = {{ kind = "name" }}
message = {{ kind = "str" }}
[backends.hooks.webhooks.notify.body]
channel = "{{channel}}"
text = "{{message}}"

[checks.postgres]
backend = "pg"

[checks.redis]
backend = "cache"

[checks.api]
backend = "web"
url = "{server.url("/healthy")}"

[checks.api-down]
backend = "web"
url = "{server.url("/500")}"
""",
        encoding="utf-8",
    )
    return config


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    out = capsys.readouterr()
    return out.out + out.err


def test_no_surface_shows_a_secret(console_config, server, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    config = str(console_config)
    seen: dict[str, str] = {}

    seen["check"] = run_cli(capsys, "check", "--config", config)
    seen["status"] = run_cli(capsys, "status", "--config", config)
    main(["status", "--config", config, "--format", "json"])
    out = capsys.readouterr()
    seen["status --format json"] = out.out + out.err
    snapshot = json.loads(out.out)
    # Redis refuses our password for that user, and we say so without quoting it.
    redis = next(c for c in snapshot["checks"] if c["name"] == "redis")
    assert redis["status"] == "down" and "authentication failed" in redis["summary"], redis

    seen["action"] = run_cli(
        capsys, "action", "--config", config, "hooks", "notify", "channel=oncall",
        "message=db failover done", "--yes",
    )  # fmt: skip
    posted = [r for r in server.requests if r["path"] == "/hook/notify"]
    assert posted, seen["action"]
    assert posted and posted[-1]["headers"]["Authorization"] == f"Bearer {SECRETS['hook']}"
    # ...and the server echoed every header it got, the token included, in its answer.

    seen["audit list"] = run_cli(capsys, "audit", "--config", config, "list")
    seen["audit verify"] = run_cli(capsys, "audit", "--config", config, "verify")
    seen["handoff"] = run_cli(capsys, "handoff", "--config", config)
    seen["audit trail"] = asyncio.run(audit_trail(console_config.parent / "oncall.sqlite3"))
    seen["screen"] = asyncio.run(screens(console_config))
    seen["logs"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )

    assert "intent" in seen["audit trail"] and "notify" in seen["audit trail"]
    # The server echoed the Authorization header it got; the console shows it redacted.
    assert "Bearer [redacted]" in seen["action"]
    for where, text in seen.items():
        assert_no_secret(where, text)


async def audit_trail(db: Path) -> str:
    store = open_store(str(db))
    await store.open()
    try:
        return "\n".join(repr(r) for r in await store.audit())
    finally:
        await store.close()


async def screens(config: Path) -> str:
    """The dashboard and the detail of every check, as screenshots (SVG) and as text."""
    app = OncallApp(Engine(load(config)), poll=False, themes_dir=Path("/nonexistent"))
    shots: list[str] = []
    async with app.run_test(size=(140, 45)) as pilot:
        await app.engine.poll_once()
        app.dashboard.sync(force=True)
        await pilot.pause()
        shots.append(app.export_screenshot())
        health = app.screen.query_one(HealthTable)
        for row in range(health.row_count):
            health.move_cursor(row=row)
            app.dashboard.action_detail()
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            shots.append(app.export_screenshot())
            shots.append(str(app.screen.query_one("#detail-body").render()))
            app.pop_screen()
            await pilot.pause()
    return "\n".join(shots)
