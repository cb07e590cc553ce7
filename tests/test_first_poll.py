"""The first poll on the second core (issue #14): a console on a terminal forks before
it imports Textual; the child probes every check once while the frame is painted, the
parent shows what it found and seeds its engine, which then waits out the interval
instead of probing again. The child never outlives the console."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from bench import _pty as procs
from bench._pty import PtyApp
from oncall_console.config import from_dict
from oncall_console.engine.api import OnCall, first_results
from tests.support.httpserver import serve
from tests.support.stack_server import StackError, wait_until

SIZE = {"COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}


def _config(tmp_path: Path, url: str, interval: int = 3600, n: int = 1) -> Path:
    lines = ['[backends.web]\ntype = "http"\n', f'[store]\nurl = "{tmp_path / "s.sqlite3"}"\n']
    for i in range(n):
        lines.append(f'[checks.api-{i}]\nbackend = "web"\nurl = "{url}"\ninterval = {interval}\n')
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines))
    return path


def _argv(config: Path) -> list[str]:
    return [sys.executable, "-m", "oncall_console", "run", "-c", str(config)]


def _until(what: str, condition, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    return wait_until(what, condition, timeout, interval=0.02)


def _wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(wait_until("", condition, timeout, interval=0.02))
    except StackError:
        return False


def _probe_worker(pid: int) -> bool:
    try:
        return b"backends.http.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_a_console_probes_once_at_start_shows_it_and_leaves_no_child(tmp_path):
    with serve() as server:
        config = _config(tmp_path, server.url("/healthy"))
        argv = [sys.executable, "-m", "oncall_console", "run", "-c", str(config)]
        with PtyApp(argv, env=SIZE) as term:
            children = _until("the first poll's child", lambda: procs.children(term.proc.pid))
            _until("the result painted", lambda: b"200 OK" in term.raw)
            # The engine is built once the SLI panel stops saying what is starting and
            # the health panel's "1 of 1 checks in" is gone: from then on it polls.
            _until("the engine attached", lambda: not any(procs.alive(c) for c in children))
            _until("the engine's store is open", lambda: (tmp_path / "s.sqlite3").exists())

            # A manual refresh still probes at once. Its key does nothing until the engine
            # is attached (shown, disabled): pressed until the console says it polls.
            def refreshed() -> bool:
                term.write(b"r")
                return _wait_for(lambda: b"Polling everything" in term.raw, 1.0)

            _until("the refresh taken", refreshed)
            _until("the refresh probed", lambda: len(server.requests) >= 2)
            term.write(b"q")
            assert term.proc.wait(10) == 0
        paths = [r["path"] for r in server.requests]
    # One probe for the first result (the child's), one for the refresh: the engine,
    # seeded, did not probe again on start (interval 3600 s).
    assert paths == ["/healthy", "/healthy"]
    assert not any(procs.alive(c) for c in children)


def test_turned_off_the_console_starts_as_before(tmp_path):
    with serve() as server:
        config = _config(tmp_path, server.url("/healthy"))
        argv = [sys.executable, "-m", "oncall_console", "run", "-c", str(config)]
        with PtyApp(argv, env={**SIZE, "ONCALL_FIRST_POLL": "0"}) as term:
            _until("the result painted", lambda: b"200 OK" in term.raw)
            assert procs.children(term.proc.pid) == []
            term.write(b"q")
            assert term.proc.wait(10) == 0
    assert len(server.requests) == 1


def test_the_child_dies_with_a_console_that_is_killed(tmp_path):
    # A hung endpoint keeps the child waiting (timeout 20 s); SIGKILL on the console
    # (a dropped session that took the parent down hard) must take the child too.
    with serve() as server:
        path = tmp_path / "config.toml"
        path.write_text(
            '[backends.web]\ntype = "http"\n\n[checks.hung]\nbackend = "web"\n'
            f'url = "{server.url("/hang")}"\ntimeout = 20\n'
        )
        argv = [sys.executable, "-m", "oncall_console", "run", "-c", str(path)]
        with PtyApp(argv, env=SIZE) as term:
            children = _until("the first poll's child", lambda: procs.children(term.proc.pid))
            _until("the hung probe sent", lambda: server.requests)
            term.proc.kill()
            term.proc.wait(10)
            _until("the child gone with it", lambda: not any(procs.alive(c) for c in children))


async def test_seeded_checks_wait_their_interval_the_others_probe_at_once(tmp_path):
    with serve() as server:
        data = {
            "backends": {"web": {"type": "http"}},
            "checks": {
                "seeded": {"backend": "web", "url": server.url("/healthy?s"), "interval": 3600},
                "fresh": {"backend": "web", "url": server.url("/live"), "interval": 3600},
            },
            "store": {"url": ":memory:"},
        }
        found = []
        await first_results(from_dict(data, env={}), found.append)
        assert [e.spec.name for e in found] == ["seeded", "fresh"] or len(found) == 2
        assert all(e.spec.params is None for e in found)  # plain data crosses the pipe
        server.requests.clear()
        oncall = OnCall.build(from_dict(data, env={}))
        seeded = [e for e in found if e.spec.name == "seeded"]
        assert oncall.seed(seeded) == 1
        assert oncall.seed(seeded) == 0  # a check with a result is not seeded twice
        await oncall.start()
        try:
            deadline = time.monotonic() + 20
            while not any(r["path"] == "/live" for r in server.requests):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # what the seeded check would have done by now
            assert [r["path"] for r in server.requests] == ["/live"]
            states = {s.spec.name: s for s in oncall.view().checks}
            assert states["seeded"].last is not None
        finally:
            await oncall.stop()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_refused_config_in_the_child_is_reported_once_by_the_parent(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[backends.web]\ntype = "http"\n\n[checks.a]\nbackend = "web"\ninterval = 5\n')
    argv = [sys.executable, "-m", "oncall_console", "run", "-c", str(path)]
    with PtyApp(argv, env=SIZE) as term:
        assert term.proc.wait(20) == 2
        out = bytes(term.raw)
    assert out.count(b"checks.a") == 1, out[-600:]


def test_a_config_of_many_checks_starts_without_the_child(tmp_path):
    """Past FIRST_POLL_MAX checks the child's results cost the frame more than they gave
    (10,000 checks: the frame was held back a minute); the console polls as before."""
    from oncall_console.cli.firstpoll import FIRST_POLL_MAX

    with serve() as server:
        path = tmp_path / "config.toml"
        checks = "".join(
            f'[checks.c{i}]\nbackend = "web"\nurl = "{server.url("/healthy")}"\ninterval = 3600\n'
            for i in range(FIRST_POLL_MAX + 1)
        )
        path.write_text(f'[backends.web]\ntype = "http"\n\n{checks}')
        argv = [sys.executable, "-m", "oncall_console", "run", "-c", str(path)]
        with PtyApp(argv, env=SIZE) as term:
            _until("a result painted", lambda: b"200 OK" in term.raw)
            # a probe worker (backends/http/worker.py: 1,000 checks and more) is not the
            # first poll's child
            assert [p for p in procs.children(term.proc.pid) if not _probe_worker(p)] == []
            term.write(b"q")
            assert term.proc.wait(10) == 0


def test_the_sketch_reads_the_check_fields_and_defaults_the_schema_has():
    """The first poll's sketch (no pydantic) must read a check's own keys and the
    poller's defaults as the schema does: anything else would be a backend parameter."""
    from oncall_console.config import CheckConfig, PollerConfig
    from oncall_console.engine import prefetch

    assert set(CheckConfig.model_fields) == prefetch.CHECK_KEYS
    assert PollerConfig().timeout == prefetch._DEFAULT_TIMEOUT
    assert PollerConfig().interval == prefetch._DEFAULT_INTERVAL


async def test_a_result_for_a_target_the_validated_config_changed_is_not_taken(tmp_path):
    """The validated config is the authority: the child probed what the sketch read
    (here /healthy); the config the engine runs says /ready (503) for the same check. The
    child's 200 must not stand for it: the engine probes the real target at once."""
    from oncall_console.engine.prefetch import read_sketch, sketch_results

    with serve() as server:

        def data(path: str) -> dict:
            return {
                "backends": {"web": {"type": "http"}},
                "checks": {
                    "api": {"backend": "web", "url": server.url(path), "interval": 3600},
                    "same": {"backend": "web", "url": server.url("/live"), "interval": 3600},
                },
                "store": {"url": ":memory:"},
            }

        groups, settings = read_sketch(data("/healthy"))
        found = []
        await sketch_results(groups, settings, str(tmp_path), found.append)
        assert sorted(e.spec.name for e in found) == ["api", "same"]
        assert all(e.result.summary.startswith("200") for e in found)
        server.requests.clear()
        oncall = OnCall.build(from_dict(data("/ready"), env={}))  # 503 there
        assert oncall.seed(found) == 1  # "same" only: its target did not change
        await oncall.start()
        try:
            deadline = time.monotonic() + 20
            while (oncall.view().checks and _check(oncall, "api").last) is None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            assert "503" in _check(oncall, "api").last.summary
            assert [r["path"] for r in server.requests] == ["/ready"]
        finally:
            await oncall.stop()


def _check(oncall: OnCall, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in oncall.view().checks if s.spec.name == name)


@pytest.mark.parametrize("source", ["env", "file"])
def test_a_secret_reference_is_resolved_by_the_child_and_never_shown(tmp_path, source):
    """token_env / token_file: the child (before the config's schema is built) sends
    the same Authorization header the engine would; its result is taken (one request
    in all, interval 3600 s) and the token is never on screen."""
    token = "s3cr3t-first-poll-token"
    (tmp_path / "token").write_text(token + "\n")
    reference = 'token_env = "FIRST_POLL_TOKEN"' if source == "env" else 'token_file = "token"'
    with serve() as server:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[backends.web]\ntype = "http"\n{reference}\n\n'
            f'[store]\nurl = "{tmp_path / "s.sqlite3"}"\n\n'
            f'[checks.api]\nbackend = "web"\nurl = "{server.url("/healthy")}"\ninterval = 3600\n'
        )
        env = {**SIZE, "FIRST_POLL_TOKEN": token}
        with PtyApp(_argv(path), env=env, cwd=tmp_path) as term:
            children = _until("the first poll's child", lambda: procs.children(term.proc.pid))
            _until("the result painted", lambda: b"200 OK" in term.raw)
            _until("the engine attached", lambda: not any(procs.alive(c) for c in children))
            _until("the engine's store is open", lambda: (tmp_path / "s.sqlite3").exists())
            term.write(b"q")
            assert term.proc.wait(10) == 0
            screen = bytes(term.raw)
        requests = list(server.requests)
    assert [r["path"] for r in requests] == ["/healthy"]  # the child's, taken by the engine
    assert requests[0]["headers"].get("Authorization") == f"Bearer {token}"
    assert token.encode() not in screen


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_config_the_schema_refuses_stops_located_though_the_sketch_probed(tmp_path):
    """The sketch reads the check plainly and the child probes it, but the schema
    refuses another section: the console stops with the located line, exit 2."""
    with serve() as server:
        path = tmp_path / "config.toml"
        path.write_text(
            '[console]\nrefresh = "soon"\n\n[backends.web]\ntype = "http"\n\n'
            f'[checks.api]\nbackend = "web"\nurl = "{server.url("/healthy")}"\n'
        )
        with PtyApp(_argv(path), env=SIZE) as term:
            assert term.proc.wait(20) == 2
            out = bytes(term.raw)
    assert f"{path}:2:1: console.refresh:".encode() in out, out[-600:]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("run", {})),
        (["-c", "a.toml"], ("run", {"config": "a.toml"})),
        (
            ["run", "--config=a.toml", "--read-only", "--theme", "x"],
            ("run", {"config": "a.toml", "read_only": "yes", "theme": "x"}),
        ),
        (["demo", "--seed", "3", "--speed=2"], ("demo", {"seed": "3", "speed": "2"})),
        (["status", "-c", "a.toml"], None),  # not the console
        (["run", "--conf", "a.toml"], None),  # an abbreviation: argparse's to read
        (["run", "-c"], None),
        (["demo", "-c", "a.toml"], None),
        (["--help"], None),
    ],
)
def test_the_early_fork_reads_only_plain_console_arguments(argv, expected):
    """cli.main forks the first poll before argparse: only argument lists it reads
    exactly as argparse will; anything else waits for the command (a later fork)."""
    from oncall_console.cli.firstpoll import _early_args

    assert _early_args(argv) == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
async def test_first_results_that_came_before_the_frame_are_in_it():
    """The demo's child answers before Textual has composed the dashboard: its rows
    must be in the first frame, not only once the engine is built (they were dropped:
    the demo's first result came ~0.5 s after its frame)."""
    import threading

    from oncall_console.cli.common import demo_config, demo_sketch
    from oncall_console.cli.firstpoll import FirstPoll, probe_demo
    from oncall_console.ui.app import OncallApp
    from oncall_console.ui.widgets.health import HealthTable

    poll = FirstPoll.start(probe_demo(7, 1.0))
    assert poll is not None
    _until("the child has sent everything", lambda: not procs.alive(poll.pid))
    go = threading.Event()

    def load():  # type: ignore[no-untyped-def]
        assert go.wait(20), "the test never let the config load"
        return demo_config(7, 1.0)

    app = OncallApp(sketch=demo_sketch(), load=load, first_poll=poll)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert not app.ready
            assert app.dashboard.query_one(HealthTable).row_count == 11
    finally:  # the app quits with the config still loading; the worker is let go
        go.set()
        poll.close()


def test_once_the_first_rows_process_is_forked_the_rest_yields(tmp_path, monkeypatch):
    """The first poll's preload (pydantic) ran at full priority beside the console's
    Textual import, though the first row's process (PostgreSQL) was already forked."""
    from oncall_console.cli import firstpoll
    from oncall_console.engine import prefetch

    seen = tmp_path / "niceness"
    monkeypatch.setattr(prefetch, "preload", lambda: seen.write_text(str(os.nice(0))))
    document = {
        "backends": {
            "pg": {"type": "postgres", "dsn": "postgresql://127.0.0.1:9/x?connect_timeout=1"},
            "cache": {"type": "redis", "url": "redis://127.0.0.1:9/0"},
        },
        "checks": {"db": {"backend": "pg"}, "kv": {"backend": "cache"}},
    }
    poll = firstpoll.FirstPoll.start(firstpoll.probe_sketch(lambda: document, tmp_path / "c.toml"))
    assert poll is not None
    try:
        _until("the preload", seen.exists)
        _until("its niceness written", lambda: seen.read_text() != "")
        assert int(seen.read_text()) >= firstpoll.LATER_NICE > os.nice(0)
    finally:
        poll.close()


def test_a_process_yields_once_it_has_sent_its_first_result():
    """The first row's process went on probing every other check at full priority beside
    the console's first frame; once its first result is sent it yields (nice 19)."""
    from oncall_console.cli import firstpoll
    from oncall_console.model import CheckResult, CheckSpec, Early, Status

    def job(emit):  # type: ignore[no-untyped-def]
        for name in ("first", "second"):
            niceness = str(os.nice(0))  # as this process is when it sends this result
            result = CheckResult(name, Status.OK, niceness)
            emit(Early(CheckSpec(name, "web", 15.0, 5.0), result, "t"))

    poll = firstpoll.FirstPoll.start(job)
    assert poll is not None
    got: list[Early] = []

    def both() -> bool:
        got.extend(poll.drain())
        return len(got) >= 2 or poll.done

    try:
        _until("both results", both)
    finally:
        poll.close()
    assert [e.spec.name for e in got] == ["first", "second"]
    before, after = (int(e.result.summary) for e in got)
    assert before == os.nice(0) < firstpoll.LATER_NICE <= after


@contextlib.contextmanager
def _silent_listener():  # type: ignore[no-untyped-def]
    """A TCP port that accepts connections and never says a word (a hung PostgreSQL)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _drain_until(poll, got, condition):  # type: ignore[no-untyped-def]
    def seen() -> bool:
        got.extend(poll.drain())
        return condition() or poll.done

    _until("the first poll's results", seen)


def test_the_other_backends_wait_for_the_frame(tmp_path, monkeypatch):
    """The first check's backend is probed at once; the others, whose imports and probes
    took CPU from the console's first frame, wait until the parent says it is painted.
    The first row here hangs (a PostgreSQL that never answers, 2 s to time out): the
    HTTP check, probed beside it before, must not be probed until ``go``."""
    from oncall_console.cli import firstpoll

    monkeypatch.setattr(firstpoll, "FRAME_WAIT", 60.0)  # inherited by the fork
    with serve() as server, _silent_listener() as port:
        document = {
            "backends": {
                "pg": {"type": "postgres", "dsn": f"postgresql://u@127.0.0.1:{port}/x"},
                "web": {"type": "http"},
            },
            "checks": {
                "db": {"backend": "pg", "timeout": 2},
                "api": {"backend": "web", "url": server.url("/healthy")},
            },
        }
        poll = firstpoll.FirstPoll.start(firstpoll.probe_sketch(lambda: document, tmp_path / "c"))
        assert poll is not None
        got: list = []
        try:
            _drain_until(poll, got, lambda: any(e.spec.name == "db" for e in got))
            assert server.requests == []  # ~2 s after the fork, still waiting
            poll.go()
            _drain_until(poll, got, lambda: any(e.spec.name == "api" for e in got))
        finally:
            poll.close()
        assert [r["path"] for r in server.requests] == ["/healthy"]


def test_the_first_backends_checks_below_the_fold_wait_for_the_frame(tmp_path, monkeypatch):
    """200 checks on one backend were all probed, answered, sent and read beside the
    frame, which shows a screenful: the rest now wait for it, or for FRAME_WAIT."""
    with serve() as server:
        poll = _http_poll(monkeypatch, tmp_path, server, checks=6, rows=3, frame_wait=60.0)
        got: list = []
        try:
            _drain_until(poll, got, lambda: len(got) >= 3)
            assert sorted(e.spec.name for e in got) == ["c0", "c1", "c2"]
            assert len(server.requests) == 3  # the other three were not even sent
            poll.go()
            _drain_until(poll, got, lambda: len(got) >= 6)
        finally:
            poll.close()
        assert sorted(e.spec.name for e in got) == [f"c{i}" for i in range(6)]


def test_without_a_word_from_the_parent_the_rest_comes_after_frame_wait(tmp_path, monkeypatch):
    """A console whose frame never comes (or a parent that forgot to say so) must still
    get every first result: the wait ends FRAME_WAIT after the fork."""

    with serve() as server:
        poll = _http_poll(monkeypatch, tmp_path, server, checks=3, rows=1, frame_wait=0.3)
        got: list = []
        try:
            _drain_until(poll, got, lambda: len(got) >= 3)
        finally:
            poll.close()
    assert sorted(e.spec.name for e in got) == ["c0", "c1", "c2"]


def _http_poll(monkeypatch, tmp_path, server, *, checks, rows, frame_wait):  # type: ignore[no-untyped-def]
    """A first poll of ``checks`` HTTP checks on ``server``, forked with a terminal of
    ``rows`` lines (the child's screenful) and ``frame_wait`` seconds of waiting."""
    from oncall_console.cli import firstpoll

    def no_terminal(fd: int = 1) -> os.terminal_size:
        raise OSError("not a terminal")

    monkeypatch.setattr(firstpoll, "FRAME_WAIT", frame_wait)  # inherited by the fork
    monkeypatch.setattr(firstpoll, "_screen_rows", rows)
    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    table = {
        f"c{i}": {"backend": "web", "url": server.url(f"/healthy?n={i}")} for i in range(checks)
    }
    document = {"backends": {"web": {"type": "http"}}, "checks": table}
    poll = firstpoll.FirstPoll.start(firstpoll.probe_sketch(lambda: document, tmp_path / "c"))
    assert poll is not None
    return poll


async def test_the_console_says_when_its_first_frame_is_painted():
    """The app's side of the wait: on Ready (the first frame is on the terminal) it lets
    the rest of the first poll go."""
    import threading

    from oncall_console.cli.common import demo_config, demo_sketch
    from oncall_console.ui.app import OncallApp

    read_end, write_end = os.pipe()

    class Source:  # a first poll that has sent nothing yet
        done = False
        went = 0

        def fileno(self) -> int:
            return read_end

        def drain(self) -> list:
            return []

        def go(self) -> None:
            Source.went += 1

        def close(self) -> None:
            pass

    hold = threading.Event()

    def load():  # type: ignore[no-untyped-def]
        assert hold.wait(20), "the test never let the config load"
        return demo_config(7, 1.0)

    app = OncallApp(sketch=demo_sketch(), load=load, first_poll=Source())
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert Source.went == 1
    finally:
        hold.set()
        os.close(read_end)
        os.close(write_end)
