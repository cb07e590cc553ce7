"""The command line as scripts and newcomers use it: exit codes, JSON, located errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.httpserver import LocalServer, serve

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oncall_console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


def test_every_subcommand_has_help_and_there_is_a_version():
    for sub in ("run", "demo", "status", "check", "init", "backends"):
        out = run(sub, "--help")
        assert out.returncode == 0 and "usage: oncall-console" in out.stdout, sub
    assert run("--version").stdout.startswith("oncall-console ")


def test_status_of_the_demo_is_json_and_the_exit_code_is_the_worst_status():
    calm = run("status", "--demo", "--at", "5", "--format", "json")
    snap = json.loads(calm.stdout)
    assert snap["overall"] == "ok" and calm.returncode == 0
    assert len(snap["checks"]) == 11 and len(snap["slis"]) == 4
    burning = run("status", "--demo", "--at", "90", "--format", "json")
    snap = json.loads(burning.stdout)
    assert snap["overall"] == "down" and burning.returncode == 2
    assert {a["name"] for a in snap["alerts"]} >= {"HighErrorRate", "PredictionServiceDown"}
    assert snap["incidents"][0]["severity"] == "SEV2"


def config_for(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "oncall.toml"
    path.write_text(
        f'[backends.web]\ntype = "http"\n[checks.api]\nbackend = "web"\nurl = "{url}"\n'
    )
    return path


@pytest.mark.parametrize(
    ("route", "code", "status"),
    [("/healthy", 0, "ok"), ("/degraded", 2, "down"), ("/429", 2, "down")],
)
def test_status_against_a_real_endpoint(server, tmp_path, route, code, status):
    out = run(
        "status", "--config", str(config_for(tmp_path, server.url(route))), "--format", "json"
    )
    assert out.returncode == code, out.stderr
    assert json.loads(out.stdout)["checks"][0]["status"] == status


def test_status_exit_1_when_only_degraded(server, tmp_path):
    path = tmp_path / "oncall.toml"
    path.write_text(
        '[backends.web]\ntype = "http"\n[checks.api]\nbackend = "web"\n'
        f'url = "{server.url("/429")}"\ndegraded_status = [429]\n'
    )
    out = run("status", "--config", str(path))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "▲ WARN" in out.stdout


def test_check_accepts_the_example_and_names_every_bad_key_with_its_line(tmp_path):
    ok = run("check", "--config", str(ROOT / "config.example.toml"))
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[console]\nrefresh = "often"\n\n[poller]\nthreads = 4\ncolour = "blue"\n')
    out = run("check", "--config", str(bad))
    assert out.returncode == 2
    assert f"{bad}:2:1: console.refresh:" in out.stderr
    assert f"{bad}:6:1: poller.colour: unknown key" in out.stderr
    assert "Traceback" not in out.stderr


def test_init_writes_a_starter_that_checks_clean_and_never_overwrites(tmp_path):
    path = tmp_path / "conf" / "config.toml"
    assert run("init", "--path", str(path)).returncode == 0
    assert run("check", "--config", str(path)).returncode == 0
    again = run("init", "--path", str(path))
    assert again.returncode == 2 and "exists" in again.stderr


def test_a_missing_config_is_one_line_not_a_traceback(tmp_path):
    out = run("status", "--config", str(tmp_path / "nope.toml"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "init" in out.stderr


def test_audit_verify_passes_on_a_new_trail_and_fails_when_tampered(tmp_path):
    import sqlite3

    db = tmp_path / "oncall.sqlite3"
    conf = tmp_path / "oncall.toml"
    conf.write_text(f'[store]\nurl = "{db}"\n')
    ok = run("audit", "verify", "--config", str(conf))
    assert ok.returncode == 0 and "audit chain ok: 0 entries" in ok.stdout
    code = (
        "import asyncio,sys;from oncall_console.store import open_store\n"
        "async def m():\n s=open_store(sys.argv[1]);await s.open()\n"
        " for n in range(3):\n"
        "  await s.append_audit(dict(at=float(n),kind='intent',intent_id=None,operator='alex',"
        "ssh_client='',console='c',backend='pg',action='terminate-idle',target='app',params='{}',"
        "preview='p',outcome='outcome unknown',message=''))\n"
        " await s.close()\nasyncio.run(m())"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True)
    listed = run("audit", "list", "--config", str(conf))
    assert listed.stdout.count("pg.terminate-idle app: outcome unknown") == 3
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_no_delete")
    con.execute("DELETE FROM audit WHERE id = 2")
    con.commit()
    con.close()
    broken = run("audit", "verify", "--config", str(conf))
    assert broken.returncode == 2 and "entry 2 is missing" in broken.stderr


def demo_file_config(tmp_path: Path) -> Path:
    conf = tmp_path / "demo.toml"
    conf.write_text(
        f'[store]\nurl = "{tmp_path / "oncall.sqlite3"}"\n'
        '[backends.demo]\ntype = "demo"\n[checks.prediction-service]\nbackend = "demo"\n'
        'target = "prediction-service"\n'
    )
    return conf


def test_action_dry_run_previews_and_runs_nothing(tmp_path):
    conf = demo_file_config(tmp_path)
    out = run(
        "action",
        "--config",
        str(conf),
        "demo",
        "rollback",
        "service=prediction-service",
        "--dry-run",
    )
    assert out.returncode == 0, out.stderr
    assert "roll back deployment/prediction-service" in out.stdout and "dry run" in out.stdout
    listed = run("audit", "list", "--config", str(conf))
    assert listed.stdout.strip() == ""


def test_action_needs_confirmation_without_a_terminal_and_then_runs_audited(tmp_path):
    conf = demo_file_config(tmp_path)
    args = ("action", "--config", str(conf), "demo", "rollback", "service=prediction-service")
    unconfirmed = run(*args)
    assert unconfirmed.returncode == 1 and "pass --yes" in unconfirmed.stderr
    done = run(*args, "--yes")
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    listed = run("audit", "list", "--config", str(conf))
    assert "demo.rollback prediction-service: succeeded" in listed.stdout
    assert run("audit", "verify", "--config", str(conf)).returncode == 0


def test_action_refuses_injection_before_anything(tmp_path):
    conf = demo_file_config(tmp_path)
    out = run("action", "--config", str(conf), "demo", "rollback", "service=x; rm -rf /", "--yes")
    assert out.returncode == 2 and "not a valid name" in out.stderr
    assert run("audit", "list", "--config", str(conf)).stdout.strip() == ""


# --- issue #15, point 8 --------------------------------------------------------------------


def test_check_reports_every_error_at_once_with_line_column_and_a_suggestion(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[check.api]\nbackend = "web"\n\n[poller]\ninterval = 0\n\n'
        '[keys]\nquit = "r"\nrefres = "f5"\n\n[backends.web]\ntype = "htp"\n'
    )
    out = run("check", "--config", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {bad}:1:2: check: unknown section (did you mean 'checks'?)",
        f"error: {bad}:5:1: poller.interval: must be more than 0 seconds (got 0; leave it "
        "out for the default)",
        f"error: {bad}:8:1: keys.quit: 'r' is already the key of 'refresh' on Dashboard: one "
        "key, one meaning (remap 'refresh' too, or pick another key)",
        f"error: {bad}:9:1: keys.refres: no binding has this id (did you mean 'refresh'?) "
        "(`?` lists them)",
        errors[4],
    ], out.stderr
    assert errors[4].startswith(f"error: {bad}:12:1: backends.web.type: unknown backend type")
    assert errors[4].endswith("(did you mean 'http'?)")
    assert f"{bad}: 5 errors" in out.stderr


def test_check_gives_a_syntax_errors_line_and_column(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[console]\nenvironment = "prod\n')
    out = run("check", "--config", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {bad}:2:20: TOML syntax: ")


def test_check_warns_on_a_config_that_watches_nothing_and_still_exits_zero(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text('[console]\nenvironment = "staging"\n')
    out = run("check", "--config", str(path))
    assert out.returncode == 0, out.stderr
    assert f"warning: {path}: it watches nothing" in out.stderr
    assert f"{path}: ok, with warnings" in out.stdout
    ok = run("check", "--config", str(ROOT / "config.example.toml"))
    assert ok.returncode == 0 and "warning" not in ok.stderr and ": ok — " in ok.stdout


def test_runbook_lint_without_a_config_checks_the_format_as_no_config_does(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ONCALL_CONSOLE_CONFIG"}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "nothing"), "HOME": str(tmp_path)}
    runbook = tmp_path / "restart.md"
    runbook.write_text("# Restart the API\n\n1. Look at the dashboard.\n")
    out = run("runbook", "lint", str(runbook), env=env)
    assert out.returncode == 0, out.stderr
    assert "--no-config" in out.stderr and "init" not in out.stderr
    assert "1 runbooks: ok" in out.stdout
    named = run("runbook", "lint", "--config", str(tmp_path / "missing.toml"), str(runbook))
    assert named.returncode == 2 and "no such file" in named.stderr  # named: it must exist


def test_action_dry_run_that_would_fail_or_is_refused_exits_non_zero(tmp_path):
    conf = demo_file_config(tmp_path)
    args = ("action", "--config", str(conf), "demo")
    fails = run(*args, "rollback", "service=no-such-service", "--dry-run")
    assert fails.returncode == 1, fails.stdout + fails.stderr
    assert "would fail: unknown service" in fails.stdout
    refused = run(*args, "terminate-idle", "database=other", "--dry-run")
    assert refused.returncode == 2 and "refused" in refused.stderr


def test_the_console_refuses_a_keys_clash_too_rather_than_lose_a_key(tmp_path):
    path = config_for(tmp_path, "http://127.0.0.1:9/health")
    path.write_text(path.read_text() + '\n[keys]\nquit = "r"\n')
    out = run("run", "--config", str(path))  # no terminal: validated before anything runs
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"error: {path}:8:1: keys.quit: 'r' is already the key of 'refresh'" in out.stderr


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["run"],
        ["-c", "a.toml"],
        ["run", "-c", "a.toml", "--read-only", "--theme", "oncall-light"],
        ["run", "--config=a.toml", "--theme=x", "--theme", "y"],
        ["run", "--config="],
        ["demo", "--seed", "3", "--speed=2.5", "--read-only"],
        ["demo", "--seed=07", "--theme", "oncall-dark"],
        ["demo", "--speed", "nan"],
    ],
)
def test_plain_console_arguments_are_read_as_argparse_reads_them(argv):
    """cli.main reads a plain run/demo argument list without argparse (issue #14: ~10 ms
    of the first frame): it must give what argparse gives, attribute for attribute."""
    from oncall_console.cli import build_parser, console_args

    fast = console_args(list(argv))
    words = argv if argv[:1] in (["run"], ["demo"]) else ["run", *argv]
    expected = vars(build_parser().parse_args(words))
    assert fast is not None
    got = vars(fast)
    if expected.get("speed") != expected.get("speed"):  # nan
        assert got["speed"] != got["speed"]
        got, expected = dict(got, speed=0), dict(expected, speed=0)
    assert got == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--seed", "x"],  # argparse's error message, exit 2
        ["demo", "--seed"],
        ["run", "--conf", "a.toml"],  # an abbreviation
        ["status"],
        ["--version"],
        ["run", "-h"],
        ["demo", "--seed", "-3"],
    ],
)
def test_anything_else_goes_to_argparse(argv):
    from oncall_console.cli import console_args

    assert console_args(list(argv)) is None
