"""The servers of the test stack: PostgreSQL, Redis, Prometheus, Alertmanager, exporters.

Binaries come from Debian's packages (scripts/debian-packages.txt). Every server
listens on 127.0.0.1 only, on a port picked at random, and keeps its data and its
log in its own working directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.support.stack_config import (
    alert_rules,
    alertmanager_config,
    prometheus_config,
    write_yaml,
)
from tests.support.stack_server import LOOPBACK, HttpServer, Server, StackError, log_tail

POSTGRES_USER = "postgres"
BINARIES = {
    "redis": "redis-server",
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "postgres_exporter": "prometheus-postgres-exporter",
    "redis_exporter": "prometheus-redis-exporter",
    "node_exporter": "prometheus-node-exporter",
}


def is_root() -> bool:
    return os.geteuid() == 0


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/bin", "/usr/sbin", "/usr/local/bin"):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/VERSION/bin that has initdb and postgres."""
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bindir = Path(initdb).parent
        version = bindir.parent.name
        if (bindir / "postgres").exists() and version.replace(".", "").isdigit():
            candidates.append((float(version), bindir))
    if not candidates:
        found = shutil.which("initdb")
        return Path(found).parent if found and shutil.which("postgres") else None
    return max(candidates)[1]


def missing_binaries() -> list[str]:
    """What the stack needs and this machine lacks (empty: everything is there)."""
    missing = [] if postgres_bindir() else ["postgres/initdb (package postgresql)"]
    missing += [name for name in BINARIES.values() if find_binary(name) is None]
    if is_root():
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            missing.append(f"user {POSTGRES_USER} (initdb refuses to run as root)")
    return missing


def _binary(key: str) -> str:
    path = find_binary(BINARIES[key])
    if path is None:
        raise StackError(f"{BINARIES[key]} not found: install scripts/debian-packages.txt")
    return path


def _traversable_by(path: Path, uid: int) -> bool:
    """Can ``uid`` reach ``path`` (checked by owner or by the 'others' x bit on each folder)?"""
    for folder in [path, *path.parents]:
        st = folder.stat()
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            return False
    return True


class PostgresServer(Server):
    """A throwaway cluster: trust auth, TCP on 127.0.0.1 only, socket in its own dir."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for idle clients
    crash_signal = signal.SIGQUIT  # "immediate" shutdown: no checkpoint, recovery on start
    database = "app"

    def __init__(self, workdir: Path, max_connections: int = 50) -> None:
        super().__init__(workdir)
        self.max_connections = max_connections
        self.bindir = postgres_bindir() or Path("/usr/lib/postgresql/missing/bin")
        self.user = POSTGRES_USER if is_root() else None
        self.external_dir: Path | None = None  # used when postgres cannot reach workdir

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.workdir / "sock"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}@{self.host_port}/{database}?sslmode=disable"

    @property
    def dsn(self) -> str:
        """The ``app`` database, as the superuser ``postgres`` (no password: trust auth)."""
        return self.dsn_for(self.database)

    @property
    def admin_dsn(self) -> str:
        return self.dsn_for("postgres")

    @property
    def url(self) -> str:
        return self.dsn

    def _prepare_dir_for_postgres(self) -> None:
        if not is_root():
            return
        pw = pwd.getpwnam(POSTGRES_USER)
        sock_path_len = len(str(self.socket_dir)) + len("/.s.PGSQL.65535")
        if not _traversable_by(self.workdir.parent, pw.pw_uid) or sock_path_len > 100:
            # e.g. pytest's tmp dirs are 0700 root: move to a dir of our own under /tmp
            self.external_dir = Path(tempfile.mkdtemp(prefix="oncall-stack-pg-"))
            self.workdir = self.external_dir
            self.log_path = self.workdir / f"{self.name}.log"
        os.chown(self.workdir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.workdir, 0o700)

    def initialize(self) -> None:
        bindir = self.bindir
        if not (bindir / "initdb").exists():
            raise StackError("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin")
        self._prepare_dir_for_postgres()
        self.socket_dir.mkdir(exist_ok=True)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.socket_dir, pw.pw_uid, pw.pw_gid)
        argv = [
            str(bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            POSTGRES_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        with self.log_path.open("ab") as log:
            root_as_user = self.user is not None
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "LC_ALL": "C"},
                timeout=120,
                user=self.user if root_as_user else None,
                group=self.user if root_as_user else None,
                extra_groups=[] if root_as_user else None,
            )
        if result.returncode != 0:
            raise StackError(
                f"initdb failed ({result.returncode}); last lines of {self.log_path}:\n"
                f"{log_tail(self.log_path)}"
            )

    def command(self) -> Sequence[str]:
        settings = {
            "max_connections": self.max_connections,
            "shared_buffers": "16MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
        }
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-h",
            LOOPBACK,
            "-k",
            str(self.socket_dir),
        ]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def environment(self) -> Mapping[str, str]:
        return {"LC_ALL": "C"}

    def is_ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.admin_dsn, connect_timeout=2, autocommit=True) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def after_ready(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn, connect_timeout=5, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def connect(self, **kwargs: object) -> object:
        """A new psycopg connection to the ``app`` database."""
        import psycopg

        return psycopg.connect(self.dsn, connect_timeout=5, **kwargs)  # type: ignore[arg-type]


class RedisServer(Server):
    name = "redis"
    maxmemory = "64mb"

    @property
    def url(self) -> str:
        return f"redis://{self.host_port}/0"

    def command(self) -> Sequence[str]:
        return [
            _binary("redis"),
            "--port",
            str(self.port),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--maxmemory",
            self.maxmemory,
            "--maxmemory-policy",
            "allkeys-lru",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]

    def is_ready(self) -> bool:
        return self.ping()

    def ping(self, timeout: float = 1.0) -> bool:
        """Does Redis answer PING (without the redis library)?"""
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=timeout) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class AlertmanagerServer(HttpServer):
    name = "alertmanager"

    def initialize(self) -> None:
        write_yaml(self.workdir / "alertmanager.yml", alertmanager_config())

    def command(self) -> Sequence[str]:
        return [
            _binary("alertmanager"),
            f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.host_port}",
            "--cluster.listen-address=",  # empty: no clustering, no gossip port
        ]


class PrometheusServer(HttpServer):
    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        alertmanager: Server,
        jobs: Callable[[], Mapping[str, Sequence[str]]],
    ) -> None:
        super().__init__(workdir)
        self.alertmanager = alertmanager
        self.jobs = jobs

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    def before_launch(self) -> None:
        rules = write_yaml(self.workdir / "rules.yml", alert_rules())
        config = prometheus_config(rules, self.alertmanager.host_port, self.jobs())
        write_yaml(self.config_path, config)

    def command(self) -> Sequence[str]:
        return [
            _binary("prometheus"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            "--storage.tsdb.retention.time=2h",
            f"--web.listen-address={self.host_port}",
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=1s",
            "--alertmanager.notification-queue-capacity=1000",
        ]


class PostgresExporter(HttpServer):
    name = "postgres-exporter"
    ready_path = "/metrics"

    def __init__(self, workdir: Path, postgres: PostgresServer) -> None:
        super().__init__(workdir)
        self.postgres = postgres

    def environment(self) -> Mapping[str, str]:
        return {"DATA_SOURCE_NAME": self.postgres.admin_dsn}

    def command(self) -> Sequence[str]:
        return [_binary("postgres_exporter"), f"--web.listen-address={self.host_port}"]


class RedisExporter(HttpServer):
    name = "redis-exporter"
    ready_path = "/metrics"

    def __init__(self, workdir: Path, redis: RedisServer) -> None:
        super().__init__(workdir)
        self.redis = redis

    def command(self) -> Sequence[str]:
        return [
            _binary("redis_exporter"),
            f"--redis.addr=redis://{self.redis.host_port}",
            f"--web.listen-address={self.host_port}",
        ]


class NodeExporter(HttpServer):
    name = "node-exporter"
    ready_path = "/metrics"

    def command(self) -> Sequence[str]:
        return [
            _binary("node_exporter"),
            f"--web.listen-address={self.host_port}",
            "--no-collector.systemd",  # no systemd/dbus in a container
            "--no-collector.textfile",  # its default dir belongs to the system package
        ]
