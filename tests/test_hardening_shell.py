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

from oncall_console.backends.shell.interpreters import interpreting_from

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
    # shapes the first guard missed: a shell behind a split string, a program chosen by
    # a value after a wrapper's options, wrappers that go through a shell themselves, and
    # programs that run the program named after them
    ["/usr/bin/env", "-S", "sh -c", "{message}"],
    ["/usr/bin/env", "-S", "timeout 10", "{message}"],
    ["/usr/bin/env", "A=1", "LD_PRELOAD={message}", "/usr/bin/logger", "x"],
    ["/usr/bin/sudo", "-u", "root", "{message}"],
    ["/usr/bin/sudo", "-s", "echo", "{message}"],
    ["/usr/bin/sudo", "-Es", "echo", "{message}"],
    ["/usr/bin/sudo", "-Z", "/usr/bin/logger", "{message}"],  # an option we cannot read
    ["/usr/bin/doas", "-s", "echo", "{message}"],
    ["/usr/bin/timeout", "-s", "KILL", "10", "{message}"],
    ["/usr/bin/nice", "-n", "5", "{message}"],
    ["/usr/bin/ionice", "-c", "2", "-n", "7", "{message}"],
    ["/usr/bin/stdbuf", "-oL", "{message}"],
    ["/usr/bin/chroot", "/srv", "{message}"],
    ["/usr/bin/flock", "/run/lock/x", "-c", "logger {message}"],
    ["/usr/bin/xargs", "-I", "X", "{message}"],
    ["/usr/bin/watch", "-n", "1", "logger", "{message}"],
    ["/usr/bin/script", "-qc", "logger {message}", "/dev/null"],
    ["/usr/bin/find", "/tmp", "-exec", "{message}", ";"],
    ["/usr/bin/kubectl", "exec", "pod", "--", "{message}", "{message}"],
    ["/usr/bin/timeout", "5", "/usr/bin/kubectl", "exec", "pod", "--", "{message}"],
    ["/usr/bin/python3", "-W", "ignore", "{message}"],
    ["/usr/bin/python3", "-u", "/opt/tool.py", "{message}"],  # options: strict
    ["/usr/bin/python3", "-c{message}"],
    ["/usr/bin/perl", "-ne", "{message}"],
    ["/usr/bin/ruby", "-e", "puts '{message}'"],
    ["/bin/bash", "-xc", "{message}"],
    ["/usr/bin/php8.2", "-r", "{message}"],
    ["/usr/bin/lua5.4", "-e", "{message}"],
    ["/usr/bin/gawk", "BEGIN {{ print }}", "{message}"],
    ["/usr/bin/sed", "-e", "s/x/{message}/"],
    ["/usr/bin/busybox", "sh", "-c", "{message}"],
    ["/usr/bin/tclsh", "{message}"],
    ["/usr/bin/pwsh", "-Command", "{message}"],
    ["/usr/bin/osascript", "-e", "{message}"],
    ["/usr/bin/python3", "/opt/tool.py", "sh", "-c", "{message}"],  # a shell anywhere
]
ALLOWED = [
    [PY, "/opt/tool.py", "notify", "{message}"],  # a script: its arguments are data
    ["/usr/bin/kubectl", "rollout", "restart", "deployment/{message}"],
    ["/usr/bin/timeout", "10", "/usr/bin/kubectl", "delete", "pod", "{message}"],
    ["/usr/bin/logger", "--", "{message}"],
    ["/usr/bin/stdbuf", "-o", "L", "/usr/bin/kubectl", "annotate", "pod", "{message}"],
    ["/usr/bin/env", "A=1", "/usr/bin/kubectl", "get", "{message}"],
    [
        "/usr/bin/sudo",
        "--preserve-env=A",
        "-u",
        "ops",
        "/usr/bin/systemctl",
        "restart",
        "{message}",
    ],
    ["/usr/bin/kubectl", "exec", "{message}", "--", "nginx", "-s", "reload"],
    ["/usr/bin/kubectl", "-n", "{message}", "rollout", "restart", "deployment/{message}"],
    ["/bin/sh", "/opt/notify.sh", "{message}"],  # a script's $1
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


def argv_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.lstrip().startswith("argv"))


@pytest.mark.parametrize("kind", ["str", "text", "name", "choice"])
@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/timeout", "10", "sh", "-c", "echo {message}"],
        ["/usr/bin/env", "sh", "-c", "echo {message}"],
        ["/usr/bin/sudo", "sh", "-c", "echo {message}"],
        ["/usr/bin/python3", "-c", "print('{message}')"],
        ["/usr/bin/perl", "-e", "print '{message}'"],
        ["/usr/bin/env", "-S", "sh -c", "{message}"],
        ["/usr/bin/sudo", "-u", "root", "{message}"],
        ["/usr/bin/kubectl", "exec", "pod", "--", "{message}"],
    ],
    ids=[
        "timeout sh -c",
        "env sh -c",
        "sudo sh -c",
        "python3 -c",
        "perl -e",
        "env -S",
        "sudo -u root {}",
        "kubectl exec --",
    ],
)
def test_check_names_the_argv_line_for_every_wrapper_shape(tmp_path, argv, kind):
    """The reviewer's list (finding 2) and the shapes found since, for every kind: `check`
    exits 2 with file:line of the argv and why."""
    path = config(tmp_path, argv, kind)
    if kind == "choice":  # a closed list is still a command when it reaches a shell
        doc = path.read_text(encoding="utf-8").replace(
            'kind = "choice"', 'kind = "choice"\nchoices = [ "ok",]'
        )
        path.write_text(doc, encoding="utf-8")
    done = check(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"oncall.toml:{argv_line(path)}:1: backends.ops.commands.notify.argv:" in done.stderr
    assert "would reach an interpreter" in done.stderr


def test_post_to_names_an_existing_webhook(tmp_path):
    import tomli_w

    path = tmp_path / "oncall.toml"
    doc = {
        "console": {"environment": "t"},
        "backends": {
            "chat": {
                "type": "http",
                "webhooks": {
                    "post": {
                        "url": "http://127.0.0.1:9/hook",
                        "body": {"text": "{message}"},
                        "params": {"message": {"kind": "text"}},
                        "target": "message",
                    }
                },
            }
        },
        "incidents": {"post_to": ["chat.post", "chat.nope"]},
    }
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    done = check(path)
    assert done.returncode == 2
    assert "incidents.post_to.1" in done.stderr and "no webhook 'nope'" in done.stderr
    assert "incidents.post_to.0" not in done.stderr


TOOL = r"""
import json, sys
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps(sys.argv[2:]) + "\n")
"""
ATTACKS = ["$(id > {mark})", "`id > {mark}`", '"; id > {mark}; echo "', "'; id > {mark}; '"]


async def _post(commands: dict, message: str):
    """Run the shell command 'notify' with this message the way the console does: the
    action runner (validate, preview, confirm, audit, run) and a real process."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from oncall_console.backends.base import BackendContext
    from oncall_console.backends.shell import ShellBackend
    from oncall_console.engine.actions import ActionRunner
    from oncall_console.model import ActionRequest
    from oncall_console.store.audit import MemoryAuditLog

    allow = sorted({c["argv"][0] for c in commands.values()})
    options = ShellBackend.Options.model_validate({"allowlist": allow, "commands": commands})
    with ThreadPoolExecutor(2) as pool:
        backend = ShellBackend("ops", options, BackendContext(pool))
        await backend.start()
        try:
            runner = ActionRunner(
                {"ops": backend},
                MemoryAuditLog(),
                operator="t",
                read_only=False,
                clock=time.time,
                timeout=20,
            )
            plan = await runner.prepare(ActionRequest("ops", "notify", {"message": message}))
            return await runner.execute(plan, "y")
        finally:
            await backend.close()


@pytest.mark.parametrize("attack", ATTACKS)
async def test_the_reviewers_config_is_refused_before_anything_runs(tmp_path, attack):
    """Finding 1 replayed against a real /bin/sh: the reviewer's command, posted with an
    alert summary holding a command substitution. The config is refused; were it loaded
    (as before), the shell would run `id` and the mark would exist."""
    from oncall_console.config import ConfigError, from_dict

    mark = tmp_path / "pwned"
    log = tmp_path / "notify.log"
    command = {
        "title": "Tell",
        "argv": ["/bin/sh", "-c", f'echo "{{message}}" >> {log}'],
        "target": "message",
        "params": {"message": {"kind": "text"}},
    }
    doc = {
        "console": {"environment": "t"},
        "backends": {
            "ops": {"type": "shell", "allowlist": ["/bin/sh"], "commands": {"notify": command}}
        },
        "incidents": {"post_to": ["ops.notify"]},
    }
    try:
        from_dict(doc, filename="oncall.toml", env={})
    except ConfigError as exc:
        said = "\n".join(str(p) for p in exc.problems)
        assert "would reach an interpreter" in said and "http webhooks only" in said
    else:  # the old code loaded it: show what that meant
        await _post({"notify": command}, attack.format(mark=mark))
    assert not mark.exists()


@pytest.mark.parametrize("attack", ATTACKS)
async def test_a_posted_message_reaches_a_real_process_as_data(tmp_path, attack):
    """What may take a message: a program (here a script run by the interpreter, which
    hands it its arguments as sys.argv) that gets it as one argv item. The attack text
    arrives as text; nothing runs it."""
    import json

    mark = tmp_path / "pwned"
    log = tmp_path / "notify.log"
    script = tmp_path / "notify.py"
    script.write_text(TOOL, encoding="utf-8")
    message = attack.format(mark=mark)
    result = await _post(
        {
            "notify": {
                "title": "Tell",
                "argv": [PY, str(script), str(log), "{message}"],
                "target": "message",
                "params": {"message": {"kind": "text"}},
            }
        },
        message,
    )
    assert result.outcome.value == "succeeded", result.message
    assert json.loads(log.read_text(encoding="utf-8")) == [message]
    assert not mark.exists()
