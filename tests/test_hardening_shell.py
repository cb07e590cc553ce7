"""Issue #16, findings 1 and 2: alert text must never run as a command.

The class: a templated value reaching something that runs it as code. Found anywhere in
argv (behind timeout, env, sudo, kubectl exec …), whatever the parameter's kind (str and
text are both free text; a constrained name can still be a command), refused by `check`
with the line and the reason. And a status message (remote text) goes to http webhooks
only: `[incidents] post_to` naming a shell backend is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oncall_console.backends.shell.options import interpreting_from

PY = sys.executable

REFUSED = [
    ["/bin/sh", "-c", 'echo "{message}" >> notify.log'],
    ["/usr/bin/timeout", "10", "sh", "-c", "echo {message}"],
    ["/usr/bin/env", "sh", "-c", "echo {message}"],
    ["/usr/bin/env", "FOO=1", "bash", "-c", "echo {message}"],
    ["/usr/bin/sudo", "-u", "root", "sh", "-c", "echo {message}"],
    ["/usr/bin/python3", "-c", "print({message!r})"],
    ["/usr/bin/python3.11", "-c", "{message}"],
    ["/usr/bin/perl", "-e", "print '{message}'"],
    ["/usr/bin/node", "--eval", "{message}"],
    ["/usr/bin/kubectl", "exec", "pod", "--", "sh", "-c", "echo {message}"],
    ["/usr/bin/ssh", "bastion", "logger {message}"],
    ["/usr/bin/awk", "{message}"],
    ["/usr/bin/python3", "{message}"],  # the script's place
    ["/usr/bin/env", "{message}"],  # the program's place
    ["/usr/bin/timeout", "10", "{message}"],
]
ALLOWED = [
    [PY, "/opt/tool.py", "notify", "{message}"],  # a script: its arguments are data
    ["/usr/bin/kubectl", "rollout", "restart", "deployment/{message}"],
    ["/usr/bin/timeout", "10", "/usr/bin/kubectl", "delete", "pod", "{message}"],
    ["/usr/bin/logger", "--", "{message}"],
]


@pytest.mark.parametrize("argv", REFUSED, ids=[" ".join(a)[:40] for a in REFUSED])
def test_every_argv_shape_that_reaches_an_interpreter_is_found(argv):
    found = interpreting_from(argv)
    assert found is not None
    assert found[0] <= next(i for i, a in enumerate(argv) if "{message" in a)


@pytest.mark.parametrize("argv", ALLOWED, ids=[" ".join(a)[:40] for a in ALLOWED])
def test_programs_that_take_values_as_data_are_left_alone(argv):
    assert interpreting_from(argv) is None


def config(tmp: Path, argv: list[str], kind: str, post_to: str = "") -> Path:
    import tomli_w

    path = tmp / "oncall.toml"
    doc = {
        "console": {"environment": "t"},
        "store": {"url": str(tmp / "s.sqlite3")},
        "backends": {
            "ops": {
                "type": "shell",
                "allowlist": sorted({a for a in argv if a.startswith("/")} | {argv[0]}),
                "commands": {
                    "notify": {
                        "title": "Tell",
                        "argv": argv,
                        "target": "message",
                        "params": {"message": {"kind": kind}},
                    }
                },
            }
        },
        "incidents": {"post_to": [post_to] if post_to else []},
    }
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "oncall_console", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("kind", ["str", "text", "name"])
@pytest.mark.parametrize(
    "argv",
    [
        ["/bin/sh", "-c", "echo {message} >> notify.log"],
        ["/usr/bin/timeout", "10", "/bin/sh", "-c", "echo {message}"],
        ["/usr/bin/env", "/bin/sh", "-c", "echo {message}"],
        [PY, "-c", "print('{message}')"],
    ],
    ids=["sh -c", "timeout sh -c", "env sh -c", "python -c"],
)
def test_check_refuses_the_config_with_its_line_and_reason(tmp_path, argv, kind):
    done = check(config(tmp_path, argv, kind))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "would reach an interpreter" in done.stderr
    assert "oncall.toml:" in done.stderr and "backends.ops.commands.notify" in done.stderr


def test_status_messages_go_to_http_webhooks_only(tmp_path):
    argv = [PY, "/opt/tool.py", "{message}"]
    done = check(config(tmp_path, argv, "text", post_to="ops.notify"))
    assert done.returncode == 2
    assert "incidents.post_to" in done.stderr and "http webhooks only" in done.stderr


def test_the_reviewers_attack_runs_nothing(tmp_path):
    """The reviewer's config: a shell command posting {message} through sh -c, with an
    alert whose summary holds $(id > file). It cannot be loaded, so nothing runs."""
    mark = tmp_path / "pwned"
    argv = ["/bin/sh", "-c", 'echo "{message}" >> ' + str(tmp_path / "notify.log")]
    done = check(config(tmp_path, argv, "text", post_to="ops.notify"))
    assert done.returncode == 2
    assert not mark.exists()
