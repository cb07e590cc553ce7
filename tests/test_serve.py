"""Serving the console to a browser: loopback by default, the textual-serve page, a clean stop."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from oncall_console.ui import serve
from oncall_console.ui.serve import add_arguments, command_args, is_loopback, refusal

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_process(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the served command imports this checkout too
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "oncall_console.ui.serve", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_for_page(url: str, proc: subprocess.Popen[bytes], log: Path, within: float = 30) -> str:
    """The page once the server answers; fails early if the server died."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            response = httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)  # the server is still starting: poll again
            continue
        if response.status_code == 200:
            return response.text
    pytest.fail(f"no answer from {url} within {within} s:\n{log.read_text(errors='replace')}")


async def first_screen(url: str, wanted: bytes, within: float = 60) -> bytes:
    """What a browser receives over the websocket until ``wanted`` has been drawn."""
    import aiohttp  # textual-serve's own HTTP stack

    seen = b""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        async with asyncio.timeout(within):
            while wanted not in seen:
                message = await ws.receive()
                if message.type is aiohttp.WSMsgType.BINARY:
                    seen += message.data
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
    return seen


def test_the_demo_is_served_on_loopback_as_a_textual_page(tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    title = "oncall war room test"
    proc = serve_process("--demo", "--read-only", "--port", str(port), "--title", title, log=log)
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", proc, log)
        assert title in page
        assert f"ws://127.0.0.1:{port}/ws" in page  # the browser's console connects here
        assert "textual.js" in page
        # A browser connecting gets its own console process, read-only, drawn in the page.
        drawn = asyncio.run(
            first_screen(f"ws://127.0.0.1:{port}/ws?width=120&height=40", b"READ-ONLY")
        )
        assert b"READ-ONLY" in drawn, log.read_text(errors="replace")
    finally:
        stop(proc)
    assert proc.returncode is not None


def test_a_non_loopback_host_is_refused_without_public(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "oncall_console.ui.serve", "--host", "0.0.0.0", "--demo"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: refusing to serve on 0.0.0.0")
    assert "--public" in lines[0]
    assert done.stdout == ""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_public_serves_read_only_consoles_only():
    auth = "--behind-auth"
    assert refusal(parse("--host", "0.0.0.0", "--public", "--read-only", auth)) is None
    assert refusal(parse("--host", "0.0.0.0", "--public", "--war-room", auth)) is None
    problem = refusal(parse("--host", "0.0.0.0", "--public", auth))
    assert problem is not None and "read-only" in problem


def test_public_needs_an_authenticating_proxy_said_out_loud():
    """The page has no login: --public refuses to start unless --behind-auth says an
    authenticating proxy stands in front (issue #16)."""
    problem = refusal(parse("--host", "0.0.0.0", "--public", "--read-only"))
    assert problem is not None and "--behind-auth" in problem and "authenticating" in problem
    assert refusal(parse()) is None  # loopback, writable: the engineer's own browser


def test_loopback_is_recognised():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST."):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.5", "example.com", "localhost.example.com"):
        assert not is_loopback(host), host


def test_each_browser_runs_the_right_console_command(tmp_path):
    cfg = tmp_path / "my config.toml"
    assert command_args(parse("--demo", "--read-only")) == ["demo", "--read-only"]
    assert command_args(parse("--war-room", "--demo")) == ["war-room", "--demo"]
    assert command_args(parse("--war-room", "--config", str(cfg))) == [
        "war-room",
        "--config",
        str(cfg.resolve()),
    ]
    assert command_args(parse("--config", str(cfg))) == ["run", "--config", str(cfg.resolve())]


def test_the_served_command_is_quoted_for_the_shell(monkeypatch):
    """textual-serve runs the command through a shell: a config path with spaces stays whole."""
    made: dict[str, object] = {}

    class FakeServer:
        def __init__(self, command: str, **kwargs: object) -> None:
            made.update(kwargs, command=command)

        def serve(self) -> None:
            made["served"] = True

    monkeypatch.setattr("textual_serve.server.Server", FakeServer)
    serve.serve(["run", "--config", "/srv/on call/config.toml"], "::1", 8123, "t")
    assert shlex.split(str(made["command"])) == [
        sys.executable,
        "-m",
        "oncall_console",
        "run",
        "--config",
        "/srv/on call/config.toml",
    ]
    assert made["public_url"] == "http://[::1]:8123"
    assert made["host"] == "::1" and made["served"]
