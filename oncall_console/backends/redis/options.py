"""The ``redis`` backend's settings: the server (no password in the url), what CONFIG SET
may change, and a check's thresholds and queues."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Strict
from oncall_console.secrets import one_source_each
from oncall_console.text import clean
from oncall_console.urls import check_redis_url

DEFAULT_CONFIG_SET_ALLOWLIST = (
    "maxmemory",
    "maxmemory-policy",
    "slowlog-log-slower-than",
    "timeout",
)
# Settings that write files where the server chooses, or change credentials and
# replication: the classic way from CONFIG SET to a shell. Never offered.
FORBIDDEN_CONFIG = frozenset(
    {
        "dir",
        "dbfilename",
        "logfile",
        "pidfile",
        "aclfile",
        "appendfilename",
        "appenddirname",
        "requirepass",
        "masterauth",
        "masteruser",
        "replicaof",
        "slaveof",
        "unixsocket",
        "unixsocketperm",
        "enable-debug-command",
        "enable-module-command",
        "enable-protected-configs",
    }
)


class RedisOptions(Strict):
    # hide_input: a URL refused for holding a password must not print it back.
    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    url: str
    """``redis://host:port/db`` or ``rediss://`` for TLS; no password in it (see password_env)."""
    username: str | None = None
    """ACL user name (Redis 6+); unset means the default user."""
    password_env: str | None = None
    """Environment variable holding the password (the password never goes in config)."""
    password_file: str | None = None
    """File holding the password, read when the backend starts."""
    socket_timeout: float = Field(default=3.0, gt=0)
    """Seconds to wait for a connection or an answer before giving up."""
    max_connections: int = Field(default=4, ge=1, le=100)
    """Connections this console may hold open to the server."""
    config_set_allowlist: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CONFIG_SET_ALLOWLIST)
    )
    """Settings the config-set action may change (never dir, dbfilename or credentials)."""
    delete_batch: int = Field(default=500, ge=1, le=10_000)
    """Keys per SCAN step and per UNLINK in the delete-keys action."""
    delete_max_keys: int = Field(default=100_000, ge=1)
    """At most this many keys are counted by a preview and deleted by one delete-keys run."""

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        check_redis_url(url)
        _db_of(url)
        return url

    @field_validator("config_set_allowlist")
    @classmethod
    def _allowlist(cls, names: list[str]) -> list[str]:
        out = []
        for raw in names:
            name = raw.strip().lower()
            if not name or not all(c.isalnum() or c == "-" for c in name):
                raise ValueError(f"{clean(raw, limit=60)!r} is not a Redis setting name")
            if name in FORBIDDEN_CONFIG:
                raise ValueError(f"{name!r} cannot be allowed: it writes files or credentials")
            if name not in out:
                out.append(name)
        return out

    @model_validator(mode="after")
    def _consistent(self) -> RedisOptions:
        one_source_each(self)
        if self.username and urlsplit(self.url).username:
            raise ValueError("set the user name in username or in the url, not both")
        return self

    @property
    def db(self) -> int:
        return _db_of(self.url)

    @property
    def server(self) -> str:
        """host:port, for messages (the URL itself holds no secret, but keep it short)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 6379}"


def _db_of(url: str) -> int:
    parts = urlsplit(url)
    text = parts.path.strip("/")
    for item in parts.query.split("&"):
        if item.startswith("db="):
            text = item[3:]
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError("the database in the url must be a number, e.g. redis://host:6379/0")
    return int(text)


class QueueLimit(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    warning: int = Field(ge=0)
    """A list at least this long is DEGRADED."""
    critical: int = Field(ge=0)
    """A list at least this long is DOWN."""

    @model_validator(mode="after")
    def _ordered(self) -> QueueLimit:
        if self.warning > self.critical:
            raise ValueError("warning must not exceed critical")
        return self


class RedisCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    memory_warning: float | None = Field(default=0.8, gt=0, le=1)
    """Used memory at or above this fraction of maxmemory is DEGRADED (unset: never)."""
    memory_critical: float | None = Field(default=0.9, gt=0, le=1)
    """Used memory at or above this fraction of maxmemory is DOWN (unset: never, e.g. an LRU cache)."""
    hit_ratio_warning: float | None = Field(default=None, ge=0, le=1)
    """A hit ratio (keyspace hits over lookups, since the server started) below this is DEGRADED."""
    blocked_clients_warning: int | None = Field(default=None, ge=1)
    """This many clients blocked (BLPOP...) or more is DEGRADED; unset, as queue workers block."""
    queues: dict[str, QueueLimit] = Field(default_factory=dict)
    """Lists to watch by key, e.g. ``queues = { celery = { warning = 100, critical = 1000 } }``."""

    @model_validator(mode="after")
    def _ordered(self) -> RedisCheckParams:
        w, c = self.memory_warning, self.memory_critical
        if w is not None and c is not None and w > c:
            raise ValueError("memory_warning must not exceed memory_critical")
        if len(self.queues) > 50:
            raise ValueError("at most 50 queues per check")
        return self
