"""One real server run as a child process: start, wait until ready, pause, stop, restart.

Every server runs in its own session (``start_new_session=True``), so its process
group id is its pid. Signals go to that pid, or to that group, and only while the
leader is not yet reaped: the group id then cannot belong to anyone else. Nothing
here ever looks a process up by name. Should the Python process die without
stopping them, a watchdog (stack_watchdog.py) kills what it had started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support import stack_watchdog

LOOPBACK = "127.0.0.1"
LOG_TAIL_LINES = 20

_ports_lock = threading.Lock()
_ports_handed_out: set[int] = set()


class StackError(RuntimeError):
    """A server of the test stack could not be started or reached."""


def free_port(host: str = LOOPBACK, attempts: int = 50) -> int:
    """A port that was free on ``host`` just now, never handed out twice by this process."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, 0))
            except OSError:
                time.sleep(0.01)
                continue
            port = int(sock.getsockname()[1])
        with _ports_lock:
            if port in _ports_handed_out:
                continue
            _ports_handed_out.add(port)
        return port
    raise StackError(f"no free port on {host} after {attempts} attempts")


def log_tail(path: Path, offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, from byte ``offset`` on."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def listens_on(pid: int, port: int, host: str = LOOPBACK) -> bool:
    """Does process ``pid`` itself hold the TCP listener on ``host:port``?

    Keeps readiness probes from being answered by some other process that got the
    port first. Where /proc cannot tell, the answer is yes.
    """
    want = f"{socket.htonl(int.from_bytes(socket.inet_aton(host), 'big')):08X}:{port:04X}"
    try:
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return True
    inodes = {f[9] for f in map(str.split, rows) if f[1] == want and f[3] == "0A"}
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """Status and body of a GET; HTTP errors are answers too, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def get_json(url: str, timeout: float = 2.0) -> Any:
    status, body = http_get(url, timeout)
    if status != 200:
        raise StackError(f"GET {url}: HTTP {status}: {body[:200]!r}")
    return json.loads(body)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        return http_get(url, timeout)[0] == 200
    except (OSError, ValueError):
        return False


def wait_until(what: str, condition: Any, timeout: float, interval: float = 0.2) -> Any:
    """Call ``condition()`` until it returns something truthy; raise after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # a probe failing is a "not yet"
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


async def wait_until_async(
    what: str, condition: Any, timeout: float, interval: float = 0.02
) -> Any:
    """:func:`wait_until` inside an event loop: the loop runs while it waits."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
    return result


class Server:
    """A server process. Subclasses give ``command()`` and ``is_ready()``."""

    name = "server"
    stop_signal = signal.SIGTERM
    # kill(): a crash. Servers with worker processes use a signal that makes the main
    # process end its workers and reap them itself, else they would be left as zombies
    # of pid 1 (which does not reap them in a container).
    crash_signal = signal.SIGKILL
    start_timeout = 30.0

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port if port is not None else free_port()
        self.log_path = workdir / f"{self.name}.log"
        self.user: str | None = None  # run as this user (root only)
        self.pids_started: list[int] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._initialized = False
        self._paused = False
        self._stopped_children: list[int] = []  # stopped by pause(tree=True)

    # --- what subclasses provide -------------------------------------------------------

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str] | None:
        return None

    def initialize(self) -> None:
        """Once, before the first start (e.g. initdb)."""

    def before_launch(self) -> None:
        """Before every launch (e.g. write a config file that names the port)."""

    def after_ready(self) -> None:
        """Once ready, after every start (e.g. create a database)."""

    def is_ready(self) -> bool:
        raise NotImplementedError

    @property
    def host_port(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"port": self.port}

    # --- state ----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The main process, until it is reaped (``pids_started`` keeps every one)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def running(self) -> bool:
        """Started, and its main process has not exited (paused counts as running)."""
        return self._proc is not None and not self._leader_exited()

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    def _leader_exited(self) -> bool:
        """Has the main process exited? Looks without reaping it."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _signal_group(self, sig: int) -> None:
        """Signal our process group; only while the leader is unreaped (its pid is our pgid)."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, retry_ports: bool = False, timeout: float | None = None) -> None:
        """Launch and wait until ready. With ``retry_ports``, a port already taken is swapped."""
        if self.running:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self._initialized:
            self.initialize()
            self._initialized = True
        for attempt in range(3 if retry_ports else 1):
            try:
                self._launch_and_wait(timeout or self.start_timeout)
                return
            except StackError as exc:
                if not (
                    retry_ports and attempt < 2 and "address already in use" in str(exc).lower()
                ):
                    raise
                self.port = free_port()

    def _launch_and_wait(self, timeout: float) -> None:
        self.before_launch()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        extra_env = self.environment()
        env = {**os.environ, **extra_env} if extra_env is not None else None
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} start {self.name}\n".encode())
            log.flush()
            root_as_user = self.user is not None and os.geteuid() == 0
            self._proc = subprocess.Popen(
                list(self.command()),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
                user=self.user if root_as_user else None,
                group=self.user if root_as_user else None,
                extra_groups=[] if root_as_user else None,
            )
        self._paused = False
        self.pids_started.append(self._proc.pid)
        stack_watchdog.watch(self._proc.pid)
        deadline = time.monotonic() + timeout
        while True:
            if self._leader_exited():
                code = self._reap()
                raise StackError(
                    f"{self.name} exited with code {code} while starting; "
                    f"last lines of {self.log_path}:\n{log_tail(self.log_path, offset)}"
                )
            try:
                if listens_on(self._proc.pid, self.port) and self.is_ready():
                    break
            except Exception:
                pass
            if time.monotonic() >= deadline:
                self.kill()
                raise StackError(
                    f"{self.name} not ready after {timeout:.0f}s; "
                    f"last lines of {self.log_path}:\n{log_tail(self.log_path, offset)}"
                )
            time.sleep(0.05)
        self.after_ready()

    def _reap(self) -> int | None:
        """Kill what is left of the group, then reap the main process."""
        proc = self._proc
        if proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        code = proc.wait()
        stack_watchdog.forget(proc.pid)
        self._paused = False
        return code

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop of our pid, SIGKILL after ``timeout`` s. A no-op when not running."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._continue_descendants()  # a stopped child would keep its server from exiting
        if not self._leader_exited():
            try:
                os.kill(proc.pid, self.stop_signal)
            except ProcessLookupError:
                pass
            self._signal_group(signal.SIGCONT)  # a paused server must run to exit
            deadline = time.monotonic() + timeout
            while not self._leader_exited() and time.monotonic() < deadline:
                time.sleep(0.02)
        self._reap()

    def kill(self, timeout: float = 5.0) -> None:
        """Crash it: ``crash_signal``, no clean shutdown; SIGKILL the group after ``timeout``."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._continue_descendants()
        if self.crash_signal == signal.SIGKILL:
            self._signal_group(signal.SIGKILL)
        else:
            os.kill(proc.pid, self.crash_signal)
            self._signal_group(signal.SIGCONT)
        deadline = time.monotonic() + timeout
        while not self._leader_exited() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._reap()

    def pause(self, tree: bool = False) -> None:
        """SIGSTOP the process group: the port stays open but nothing answers.

        Processes that put themselves in a session of their own are not in the group:
        PostgreSQL's backends, so sessions already open still answer. ``tree`` stops
        them too (the whole server hangs, as on a frozen host).
        """
        self._signal_group(signal.SIGSTOP)
        self._paused = True
        if tree:
            self._stop_descendants()

    def resume(self) -> None:
        self._continue_descendants()
        self._signal_group(signal.SIGCONT)
        self._paused = False

    def _stop_descendants(self) -> None:
        """SIGSTOP every process under the (stopped) main one, by pid, parents first.

        A stopped parent cannot reap its children, so each pid read from its
        ``/proc/PID/task/*/children`` still belongs to that child when it is signalled.
        """
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        parents = [proc.pid]
        while parents:
            parent = parents.pop()
            for listing in Path(f"/proc/{parent}/task").glob("*/children"):
                try:
                    children = [int(pid) for pid in listing.read_text().split()]
                except (OSError, ValueError):
                    continue
                for child in children:
                    if child in self._stopped_children:
                        continue
                    try:
                        os.kill(child, signal.SIGSTOP)
                    except ProcessLookupError:
                        continue
                    self._stopped_children.append(child)
                    parents.append(child)

    def _continue_descendants(self) -> None:
        """SIGCONT what ``pause(tree=True)`` stopped, children first: while their parents
        are still stopped, their pids cannot have been reused."""
        stopped, self._stopped_children = self._stopped_children, []
        for pid in reversed(stopped):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def restart(self, timeout: float | None = None) -> None:
        """Stop (if running) and start again on the same port with the same data."""
        self.stop()
        self.start(retry_ports=False, timeout=timeout)

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name} {self.host_port} pid={self.pid} {state}>"


class HttpServer(Server):
    """A server that is ready when GET ``ready_path`` answers 200."""

    ready_path = "/-/ready"

    def is_ready(self) -> bool:
        return http_ok(self.url + self.ready_path)
