"""The shell backend with real processes: argv substitution, allowlist, timeouts that kill
the whole process group, capped and cleaned output, secrets by reference, health checks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from oncall_console import backends
from oncall_console.backends.base import BackendContext, Capability
from oncall_console.backends.shell import ShellBackend
from oncall_console.engine.actions import ActionRefused, ActionRunner
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    CheckSpec,
    Confirm,
    Outcome,
    Status,
)
from oncall_console.store.audit import MemoryAuditLog

PY = sys.executable
PARAM_KINDS = {"name", "subdomain", "identifier", "int", "str", "choice", "bool"}
SECRET = "s3cr3t-Ξ-value"

TOOL = r"""
import hashlib, json, os, subprocess, sys, time

mode, args = sys.argv[1], sys.argv[2:]
if mode == "argv":
    print(json.dumps(args))
elif mode == "env":
    secret = os.environ.get("API_TOKEN", "")
    env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
    print(json.dumps({"env": env, "cwd": os.getcwd(), "stdin": sys.stdin.read() if sys.stdin else None,
                      "token_sha": hashlib.sha256(secret.encode()).hexdigest()}))
elif mode == "echo-secret":
    print("token is " + os.environ["API_TOKEN"])
    print("again: " + os.environ["API_TOKEN"], file=sys.stderr)
elif mode == "exit":
    print("out line")
    print("", file=sys.stderr)
    print("first error line\nsecond error line", file=sys.stderr)
    sys.exit(int(args[0]))
elif mode == "say":
    print(args[0])
    sys.exit(int(args[1]))
elif mode == "spew":
    sys.stdout.write("x" * int(args[0]))
    sys.stderr.write("e" * int(args[1]))
elif mode == "markup":
    print("[bold red]boom[/]\x1b[31m red\x1b]52;c;SGVsbG8=\x07 done\x9b2J \u202eevil\x07")
elif mode in ("spawn", "orphan"):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(args[0], "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    print("started", flush=True)
    if mode == "spawn":
        time.sleep(60)
elif mode == "sleep":
    time.sleep(float(args[0]))
"""


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tool") / "tool.py"
    path.write_text(TOOL, encoding="utf-8")
    return str(path)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


def options(commands: dict[str, Any], **extra: Any) -> Any:
    return ShellBackend.Options.model_validate({"allowlist": [PY], "commands": commands, **extra})


@pytest.fixture
async def make(executor: ThreadPoolExecutor) -> AsyncIterator[Any]:
    made: list[ShellBackend] = []

    async def build(
        commands: dict[str, Any], read_only: bool = False, **extra: Any
    ) -> ShellBackend:
        backend = ShellBackend(
            "ops", options(commands, **extra), BackendContext(executor, read_only=read_only)
        )
        await backend.start()
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.close()


def runner(backend: ShellBackend, read_only: bool = False, timeout: float = 20.0) -> ActionRunner:
    return ActionRunner(
        {"ops": backend},
        MemoryAuditLog(),
        operator="tester",
        read_only=read_only,
        clock=time.time,
        timeout=timeout,
    )


def echo(tool: str, **extra: Any) -> dict[str, Any]:
    """A command that prints its arguments as JSON: ``value`` goes in twice."""
    return {
        "argv": [PY, tool, "argv", "{value}", "--label={value}!", "{{literal}}"],
        "title": "Echo",
        "params": {"value": {"kind": "str"}},
        "target": "value",
        **extra,
    }


async def run(backend: ShellBackend, action: str, **params: Any) -> ActionResult:
    return await backend.run(ActionRequest("ops", action, params, "tester"))


def alive(pid: int) -> bool:
    """Running (a zombie that nobody reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(*pids: int, within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


# --- argv substitution -----------------------------------------------------------------------

HOSTILE = [
    "; rm -rf /",
    "$(id)",
    "`id`",
    "*",
    "/etc/*",
    "a b  c",
    "two\nlines",
    "quotes ' \" and \\ backslash",
    "{value} and {{braces}}",
    "x && echo pwned | tee /tmp/x > /dev/null",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_value_is_one_literal_argv_item_whatever_it_holds(make, tool, value):
    backend = await make({"echo": echo(tool)})
    result = await run(backend, "echo", value=value)
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert json.loads(result.output) == [value, f"--label={value}!", "{literal}"]


async def test_the_preview_is_the_exact_argv_quoted_for_reading(make, tool):
    backend = await make({"echo": echo(tool)})
    text = await backend.preview(ActionRequest("ops", "echo", {"value": "; rm -rf /"}))
    first = text.splitlines()[0]
    assert first == f"$ {PY} {tool} argv '; rm -rf /' '--label=; rm -rf /!' '{{literal}}'"
    # what a terminal would not show is spelled out, not dropped
    text = await backend.preview(ActionRequest("ops", "echo", {"value": "two\nlines\u202e"}))
    assert "$'two\\nlines\\u202e'" in text.splitlines()[0]


async def test_through_the_runner_with_its_audit(make, tool):
    backend = await make({"echo": echo(tool)})
    r = runner(backend)
    prepared = await r.prepare(ActionRequest("ops", "echo", {"value": "$(id) *"}))
    assert prepared.target == "$(id) *"
    assert "'$(id) *'" in prepared.preview
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.SUCCEEDED
    assert json.loads(result.output)[0] == "$(id) *"
    [entry] = r.audit.entries()
    assert entry.outcome is Outcome.SUCCEEDED and "'$(id) *'" in entry.preview


async def test_the_runner_refuses_values_of_the_wrong_kind(make, tool, tmp_path):
    marker = tmp_path / "ran"
    backend = await make(
        {
            "scale": {
                "argv": [PY, tool, "argv", "{deployment}", "{replicas}", "{mode}", "{note}"],
                "params": {
                    "deployment": {"kind": "name"},
                    "replicas": {"kind": "int", "minimum": 0, "maximum": 10},
                    "mode": {"kind": "choice", "choices": ["fast", "safe"], "default": "safe"},
                    "note": {"kind": "str", "default": "-"},
                },
                "target": "deployment",
            }
        }
    )
    r = runner(backend)
    bad = [
        ({"deployment": "Checkout_API", "replicas": 1}, "not a valid name"),
        ({"deployment": "checkout;id", "replicas": 1}, "not a valid name"),
        ({"deployment": "checkout", "replicas": "3; id"}, "whole number"),
        ({"deployment": "checkout", "replicas": 11}, "at most 10"),
        ({"deployment": "checkout", "replicas": 1, "mode": "yolo"}, "one of fast, safe"),
        ({"deployment": "checkout", "replicas": 1, "note": "a\nb"}, "control characters"),
        ({"deployment": "checkout", "replicas": 1, "extra": "x"}, "unknown parameter"),
        ({"replicas": 1}, "deployment: required"),
    ]
    for params, why in bad:
        with pytest.raises(ActionRefused, match=why):
            await r.prepare(ActionRequest("ops", "scale", params))
    assert not marker.exists()
    assert r.audit.entries() == []
    # the default "-" would stand alone as an option: refused before anything runs
    with pytest.raises(ActionRefused, match="read as an option"):
        await r.prepare(ActionRequest("ops", "scale", {"deployment": "checkout", "replicas": 2}))
    ok = await r.prepare(
        ActionRequest("ops", "scale", {"deployment": "checkout", "replicas": "2", "note": "n"})
    )
    result = await r.execute(ok, "y")
    assert json.loads(result.output) == ["checkout", "2", "safe", "n"]


async def test_a_value_that_would_be_an_option_is_refused(make, tool):
    backend = await make({"echo": echo(tool)})
    for value in ("--output=/etc/passwd", "-rf"):
        with pytest.raises(ActionInvalid, match="read as an option"):
            await backend.preview(ActionRequest("ops", "echo", {"value": value}))
        result = await run(backend, "echo", value=value)
        assert result.outcome is Outcome.REFUSED
    # inside an item (--label=...) a dash is just text, and "x-y" is fine alone
    result = await run(backend, "echo", value="x-y")
    assert json.loads(result.output)[0] == "x-y"


async def test_actions_are_built_from_config(make, tool):
    backend = await make(
        {
            "echo": echo(tool),
            "flush-cache": {"argv": [PY, tool, "say", "flushed", "0"], "dangerous": True},
        }
    )
    specs = {s.id: s for s in backend.actions()}
    assert set(specs) == {"echo", "flush-cache"}
    for spec in specs.values():  # what the contract test checks, on a configured backend
        assert re.fullmatch(r"[a-z][a-z0-9-]*", spec.id)
        assert spec.target_param in {p.name for p in spec.params}
        assert all(p.kind in PARAM_KINDS for p in spec.params)
        assert not spec.dangerous or spec.confirm is Confirm.TYPE_TARGET
    assert specs["echo"].confirm is Confirm.YES_NO and specs["echo"].target_param == "value"
    assert specs["echo"].title == "Echo"
    flush = specs["flush-cache"]
    assert flush.dangerous and flush.confirm is Confirm.TYPE_TARGET
    [only] = flush.params
    assert flush.target_param == "target" and only.choices == ("flush-cache",)
    assert flush.title.endswith("say flushed 0")
    r = runner(backend)
    prepared = await r.prepare(ActionRequest("ops", "flush-cache", {}))
    assert prepared.target == "flush-cache"
    assert (await r.execute(prepared, "y")).outcome is Outcome.REFUSED
    result = await r.execute(prepared, "flush-cache")
    assert result.outcome is Outcome.SUCCEEDED and result.output == "flushed"


async def test_an_unknown_command_is_invalid(make, tool):
    backend = await make({"echo": echo(tool)})
    with pytest.raises(ActionInvalid, match="no command 'nope'"):
        await backend.preview(ActionRequest("ops", "nope", {}))
    assert (await run(backend, "nope")).outcome is Outcome.REFUSED


# --- config-time validation ------------------------------------------------------------------


def config_error(commands: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(ValidationError) as info:
        options(commands, **extra)
    return str(info.value)


def test_placeholder_errors_name_the_command_and_the_placeholder(tool):
    text = config_error({"restart": echo(tool, argv=[PY, tool, "{nope}"])})
    assert "commands.restart" in text and "{nope}" in text and "parameters: value" in text
    text = config_error({"restart": echo(tool, argv=[PY, "--x={value"])})
    assert "commands.restart" in text and "unbalanced '{'" in text
    text = config_error({"restart": echo(tool, argv=[PY, "a}b"])})
    assert "unbalanced '}'" in text
    text = config_error({"restart": echo(tool, argv=[PY, "{value.__class__}"])})
    assert "not a placeholder" in text
    text = config_error({"restart": echo(tool, argv=["{value}", "x"])})
    assert "argv[0]" in text and "takes no placeholder" in text


def test_declarations_are_checked(tool):
    assert "target is required" in config_error({"x": echo(tool, target=None)})
    assert "not a declared parameter" in config_error({"x": echo(tool, target="nope")})
    assert "command id 'Restart_All'" in config_error({"Restart_All": echo(tool)})
    optional = echo(tool, params={"value": {"kind": "str", "required": False}})
    assert "needs a value" in config_error({"x": optional})
    assert "needs choices" in config_error({"x": echo(tool, params={"value": {"kind": "choice"}})})
    text = config_error(
        {"x": echo(tool, params={"value": {"kind": "int", "default": 99, "maximum": 10}})}
    )
    assert "default: must be at most 10" in text
    text = config_error({"x": echo(tool, params={"value": {"kind": "regex"}})})
    assert "'subdomain'" in text  # the kinds are listed
    assert "Extra inputs" in config_error({"x": echo(tool, **{"shell": True})})


def test_only_allowlisted_binaries(tool):
    text = config_error({"wipe": {"argv": ["/bin/rm", "-rf", "/"], "title": "no"}})
    assert "commands.wipe" in text and "'/bin/rm' is not in the allowlist" in text
    text = config_error({"x": {"argv": ["./run.sh"]}}, allowlist=["./run.sh"])
    assert "absolute path or a bare name" in text
    assert "allowlist" in config_error({}, allowlist=[])


def test_free_text_is_never_handed_to_a_shell():
    text = config_error(
        {
            "remote": {
                "argv": ["ssh", "bastion", "systemctl restart {unit}"],
                "params": {"unit": {"kind": "str"}},
                "target": "unit",
            }
        },
        allowlist=["ssh"],
    )
    assert "would reach an interpreter" in text and "ssh runs its arguments as code" in text
    # Whatever the kind (issue #16): a value that reaches a shell is code. ssh hands its
    # arguments to the remote shell, so no templated value goes there at all.
    text = config_error(
        {
            "remote": {
                "argv": ["ssh", "bastion", "systemctl restart {unit}"],
                "params": {"unit": {"kind": "name"}},
                "target": "unit",
            }
        },
        allowlist=["ssh"],
    )
    assert "would reach an interpreter" in text


def test_secrets_are_passed_by_reference_only(tool):
    text = config_error({"x": echo(tool, env={"DB_PASSWORD": "hunter2"})})
    assert "DB_PASSWORD looks like a secret" in text and "env_from" in text
    assert "hunter2" not in text.split("input_value")[0]
    text = config_error({"x": echo(tool, env={"A": "1"}, env_from={"A": "B"})})
    assert "both env and env_from" in text


@pytest.mark.skipif("shell" not in backends.available(), reason="shell entry point not installed")
def test_config_errors_name_the_key_through_from_dict(tool):
    from oncall_console.config import ConfigError, from_dict

    good = {
        "backends": {
            "ops": {
                "type": "shell",
                "allowlist": [PY],
                "commands": {"echo": echo(tool), "ready": {"argv": [PY, tool], "read_only": True}},
            }
        },
        "checks": {"db": {"backend": "ops", "command": "ready", "warning_codes": [1]}},
    }
    loaded = from_dict(good)
    assert loaded.backend_options["ops"][0] == "shell"
    assert loaded.checks[0].params.command == "ready"
    bad = json.loads(json.dumps(good))
    bad["backends"]["ops"]["commands"]["echo"]["argv"][2] = "{nope}"
    with pytest.raises(ConfigError) as info:
        from_dict(bad)
    [problem] = info.value.problems
    assert problem.key.startswith("backends.ops.commands.echo")
    assert "{nope}" in problem.message


# --- running ---------------------------------------------------------------------------------


async def test_a_binary_missing_from_path_is_refused_at_preview(make, executor):
    backend = ShellBackend(
        "ops",
        ShellBackend.Options.model_validate(
            {
                "allowlist": ["surely-not-a-binary-xyz"],
                "commands": {"x": {"argv": ["surely-not-a-binary-xyz", "go"]}},
            }
        ),
        BackendContext(executor),
    )
    await backend.start()
    with pytest.raises(ActionInvalid, match="not found on PATH"):
        await backend.preview(ActionRequest("ops", "x", {}))
    result = await run(backend, "x")
    assert result.outcome is Outcome.REFUSED and "not found on PATH" in result.message


async def test_a_binary_outside_the_allowlist_never_runs_even_if_config_was_bypassed(executor):
    from oncall_console.backends.shell.options import CommandSpec

    unchecked = ShellBackend.Options.model_construct(
        allowlist=[PY], commands={"x": CommandSpec(argv=["/bin/echo", "hi"])}
    )
    backend = ShellBackend("ops", unchecked, BackendContext(executor))
    await backend.start()
    with pytest.raises(ActionInvalid, match="not in the allowlist"):
        await backend.preview(ActionRequest("ops", "x", {}))
    assert (await run(backend, "x")).outcome is Outcome.REFUSED


async def test_a_bare_name_is_resolved_on_path(make, executor):
    backend = ShellBackend(
        "ops",
        ShellBackend.Options.model_validate(
            {"allowlist": ["true"], "commands": {"t": {"argv": ["true"], "read_only": True}}}
        ),
        BackendContext(executor),
    )
    await backend.start()
    text = await backend.preview(ActionRequest("ops", "t", {}))
    assert text.splitlines()[0].startswith("$ /") and text.splitlines()[0].endswith("/true")
    assert (await run(backend, "t")).outcome is Outcome.SUCCEEDED


async def test_exit_codes_decide_the_outcome(make, tool):
    backend = await make(
        {
            "fail": {
                "argv": [PY, tool, "exit", "{code}"],
                "params": {"code": {"kind": "int", "minimum": 0, "maximum": 255}},
                "target": "code",
                "allowed_exit_codes": [0, 3],
            }
        }
    )
    ok = await run(backend, "fail", code=0)
    assert ok.outcome is Outcome.SUCCEEDED and ok.message == "exit 0"
    allowed = await run(backend, "fail", code=3)
    assert allowed.outcome is Outcome.SUCCEEDED and allowed.message == "exit 3"
    failed = await run(backend, "fail", code=2)
    assert failed.outcome is Outcome.FAILED
    assert failed.message == "exit 2: first error line"
    assert "out line" in failed.output
    assert "--- stderr ---\n\nfirst error line\nsecond error line" in failed.output


async def test_a_timeout_kills_the_whole_process_group(make, tool, tmp_path):
    pids = tmp_path / "pids"
    backend = await make({"hang": {"argv": [PY, tool, "spawn", str(pids)], "timeout": 1.5}})
    started = time.monotonic()
    result = await run(backend, "hang")
    assert time.monotonic() - started < 8
    assert result.outcome is Outcome.TIMED_OUT
    assert "process group was killed" in result.message
    assert "started" in result.output  # what it said before it was killed is kept
    parent, child = (int(p) for p in pids.read_text().split())
    assert wait_gone(parent, child) == []


async def test_the_runners_timeout_kills_the_group_too(make, tool, tmp_path):
    pids = tmp_path / "pids"
    backend = await make({"hang": {"argv": [PY, tool, "spawn", str(pids)], "timeout": 60}})
    r = runner(backend, timeout=1.5)
    result = await r.execute(await r.prepare(ActionRequest("ops", "hang", {})), "y")
    assert result.outcome is Outcome.TIMED_OUT
    parent, child = (int(p) for p in pids.read_text().split())
    assert wait_gone(parent, child) == []


async def test_a_background_child_neither_holds_the_run_nor_outlives_it(make, tool, tmp_path):
    pids = tmp_path / "pids"
    backend = await make({"fork": {"argv": [PY, tool, "orphan", str(pids)], "timeout": 30}})
    started = time.monotonic()
    result = await run(backend, "fork")
    assert time.monotonic() - started < 10  # not the child's 60 s, nor the 30 s timeout
    assert result.outcome is Outcome.SUCCEEDED and result.output == "started"
    parent, child = (int(p) for p in pids.read_text().split())
    assert wait_gone(parent, child) == []


async def test_output_is_capped_per_stream(make, tool):
    backend = await make(
        {"spew": {"argv": [PY, tool, "spew", "300000", "5000"]}}, max_output_bytes=1024
    )
    result = await run(backend, "spew")
    assert result.outcome is Outcome.SUCCEEDED  # the rest was read and dropped, not blocked
    assert "[stdout truncated: kept 1024 of 300000 bytes]" in result.output
    assert "[stderr truncated: kept 1024 of 5000 bytes]" in result.output
    assert result.output.count("x") == 1024
    assert len(result.output) < 3000


async def test_a_large_output_keeps_room_for_stderr(make, tool):
    backend = await make({"spew": {"argv": [PY, tool, "spew", "60000", "100"]}})
    result = await run(backend, "spew")
    assert len(result.output) < 20_000
    assert "e" * 100 in result.output and "[stdout truncated" in result.output


async def test_the_environment_is_clean_and_secrets_go_by_reference(
    make, tool, tmp_path, monkeypatch
):
    monkeypatch.setenv("ONCALL_TEST_SECRET", SECRET)
    monkeypatch.setenv("ONCALL_TEST_LEAK", "must not pass")
    backend = await make(
        {
            "env": {
                "argv": [PY, tool, "env"],
                "cwd": str(tmp_path),
                "env": {"REGION": "eu west"},
                "env_from": {"API_TOKEN": "ONCALL_TEST_SECRET"},
            },
            "leak": {
                "argv": [PY, tool, "echo-secret"],
                "env_from": {"API_TOKEN": "ONCALL_TEST_SECRET"},
            },
        }
    )
    text = await backend.preview(ActionRequest("ops", "env", {}))
    assert SECRET not in text
    assert "API_TOKEN=(from $ONCALL_TEST_SECRET, not shown)" in text
    assert "REGION='eu west'" in text and f"cwd: {tmp_path}" in text
    result = await run(backend, "env")
    seen = json.loads(result.output)
    assert set(seen["env"]) <= {"PATH", "LANG", "REGION", "LC_CTYPE"}
    assert seen["env"]["LANG"] == "C.UTF-8" and seen["env"]["REGION"] == "eu west"
    assert seen["env"]["PATH"] == os.environ["PATH"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["stdin"] == ""  # /dev/null: nothing to read, nothing to wait for
    assert seen["token_sha"] == hashlib.sha256(SECRET.encode()).hexdigest()
    leak = await run(backend, "leak")
    assert leak.outcome is Outcome.SUCCEEDED
    for text in (leak.message, leak.output, leak.preview):
        assert SECRET not in text
    assert "token is [redacted]" in leak.output and "again: [redacted]" in leak.output
    monkeypatch.delenv("ONCALL_TEST_SECRET")
    with pytest.raises(ActionInvalid, match="ONCALL_TEST_SECRET is not set"):
        await backend.preview(ActionRequest("ops", "env", {}))


async def test_output_is_cleaned_of_escapes(make, tool):
    backend = await make({"markup": {"argv": [PY, tool, "markup"]}})
    result = await run(backend, "markup")
    assert result.outcome is Outcome.SUCCEEDED
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "52;c;"):
        assert bad not in result.output
    assert result.output.startswith("[bold red]boom[/] red done")  # text, never markup


async def test_read_only_commands_are_declared_as_diagnostics(make, tool):
    backend = await make(
        {"echo": echo(tool), "status": {"argv": [PY, tool, "say", "fine", "0"], "read_only": True}}
    )
    specs = {s.id: s for s in backend.actions()}
    assert specs["status"].read_only and not specs["echo"].read_only
    ok = await run(backend, "status")
    assert ok.outcome is Outcome.SUCCEEDED and ok.output == "fine"
    assert "read-only diagnostic" in await backend.preview(ActionRequest("ops", "status", {}))
    # A read-only console refuses in the runner, before the backend is asked.
    with pytest.raises(ActionRefused, match="read-only"):
        await runner(backend, read_only=True).prepare(ActionRequest("ops", "echo", {"value": "x"}))


async def test_dry_run_runs_nothing(make, tool, tmp_path):
    pids = tmp_path / "pids"
    backend = await make({"fork": {"argv": [PY, tool, "orphan", str(pids)]}})
    result = await backend.run(ActionRequest("ops", "fork", {}, "tester", dry_run=True))
    assert result.outcome is Outcome.DRY_RUN and "orphan" in result.preview
    assert not pids.exists()


# --- health ----------------------------------------------------------------------------------


def check(command: str, timeout: float = 5.0, **params: Any) -> CheckSpec:
    p = ShellBackend.CheckParams.model_validate({"command": command, **params})
    return CheckSpec(name="db", backend="ops", interval=10, timeout=timeout, params=p)


async def test_a_check_maps_exit_codes_to_status(make, tool):
    backend = await make(
        {
            "ready": {
                "argv": [PY, tool, "say", "{line}", "{code}"],
                "params": {"line": {"kind": "str"}, "code": {"kind": "int"}},
                "target": "line",
                "read_only": True,
            },
            "hang": {"argv": [PY, tool, "sleep", "30"], "read_only": True},
            "restart": {"argv": [PY, tool, "say", "restarted", "0"]},
        }
    )
    assert backend.can(Capability.HEALTH)
    ok = await backend.probe(
        check("ready", params={"line": "/run/postgresql:5432 - accepting connections", "code": 0})
    )
    assert ok.status is Status.OK
    assert ok.summary == "/run/postgresql:5432 - accepting connections"
    assert ok.latency_ms is not None and ok.details["exit_code"] == "0"
    warn = await backend.probe(
        check("ready", params={"line": "rejecting connections", "code": 1}, warning_codes=[1])
    )
    assert warn.status is Status.DEGRADED and warn.summary == "exit 1 · rejecting connections"
    down = await backend.probe(check("ready", params={"line": "no response", "code": 2}))
    assert down.status is Status.DOWN and down.summary == "exit 2 · no response"
    slow = await backend.probe(check("hang", timeout=1.0))
    assert slow.status is Status.DOWN and "timed out" in slow.summary
    not_ro = await backend.probe(check("restart"))
    assert not_ro.status is Status.DOWN and "not read_only" in not_ro.summary
    missing = await backend.probe(check("nope"))
    assert missing.status is Status.DOWN and "no command 'nope'" in missing.summary
    bad = await backend.probe(check("ready", params={"line": "x", "code": "two"}))
    assert bad.status is Status.DOWN and "whole number" in bad.summary


def test_check_parameters_refuse_unknown_keys():
    with pytest.raises(ValidationError):
        ShellBackend.CheckParams.model_validate({"command": "x", "argv": ["/bin/sh"]})
    with pytest.raises(ValidationError, match="0 is OK"):
        ShellBackend.CheckParams.model_validate({"command": "x", "warning_codes": [0]})
