"""The ``redis`` backend: one Redis server's health, and the remediations runbooks do
by hand with ``redis-cli`` (BGSAVE, delete keys by pattern, CONFIG SET, FLUSHDB).

A probe is a PING (its round trip is the latency), then INFO, DBSIZE and one LLEN per
configured queue in one pipeline. Status is the worst of: memory used against
``maxmemory``, each queue against its limits, the hit ratio (when a floor is set),
blocked clients (when a limit is set), a replica's link to its master, a dataset
still loading and a failed background save. Every error is DOWN, in one clean line
that never contains the password. The connection pool reconnects by itself, so a
restarted server needs nothing from the console.

The actions live in :mod:`oncall_console.backends.redis_actions`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from oncall_console import errors
from oncall_console.backends import redis_actions
from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.backends.redis_actions import as_int
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    DetailTable,
    Outcome,
    Status,
)
from oncall_console.secrets import SecretMissing, one_source_each, redact, resolve
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


@dataclass
class Assessment:
    """What one INFO (plus DBSIZE and the queue lengths) says about the server."""

    status: Status = Status.OK
    parts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    tables: list[DetailTable] = field(default_factory=list)

    def worse(self, status: Status, note: str) -> None:
        self.status = Status.worst([self.status, status])
        self.notes.append(note)

    @property
    def summary(self) -> str:
        return " · ".join(self.parts + self.notes)


def assess(
    info: Mapping[str, Any],
    dbsize: int,
    lengths: Mapping[str, int | BaseException],
    p: RedisCheckParams,
    db: int = 0,
) -> Assessment:
    """Judge one server from its INFO; no IO, so each rule can be tested on its own."""
    a = Assessment()
    d = a.details
    used, maxmem = as_int(info.get("used_memory")), as_int(info.get("maxmemory"))
    d["used_memory"] = size(used)
    d["maxmemory"] = size(maxmem) if maxmem else "0 (no limit)"
    if policy := info.get("maxmemory_policy"):
        d["maxmemory_policy"] = clean(policy, limit=40)
    if maxmem > 0:
        ratio = used / maxmem
        d["memory_ratio"] = f"{ratio * 100:.1f} %"
        a.parts.append(f"memory {ratio * 100:.0f} % of {size(maxmem)}")
        if p.memory_critical is not None and ratio >= p.memory_critical:
            a.worse(Status.DOWN, f"memory ≥ {p.memory_critical * 100:g} %")
        elif p.memory_warning is not None and ratio >= p.memory_warning:
            a.worse(Status.DEGRADED, f"memory ≥ {p.memory_warning * 100:g} %")
    else:
        a.parts.append(f"memory {size(used)} (no maxmemory)")

    hits, misses = as_int(info.get("keyspace_hits")), as_int(info.get("keyspace_misses"))
    d["keyspace_hits"], d["keyspace_misses"] = str(hits), str(misses)
    if hits + misses > 0:
        hit = hits / (hits + misses)
        d["hit_ratio"] = f"{hit * 100:.1f} %"
        a.parts.append(f"hit {hit * 100:.0f} %")
        if p.hit_ratio_warning is not None and hit < p.hit_ratio_warning:
            a.worse(Status.DEGRADED, f"hit ratio < {p.hit_ratio_warning * 100:g} %")

    clients, blocked = as_int(info.get("connected_clients")), as_int(info.get("blocked_clients"))
    d["connected_clients"], d["blocked_clients"] = str(clients), str(blocked)
    a.parts.append(f"{clients} client" + ("" if clients == 1 else "s"))
    if p.blocked_clients_warning is not None and blocked >= p.blocked_clients_warning:
        a.worse(Status.DEGRADED, f"{blocked} blocked clients")
    for key in ("evicted_keys", "expired_keys", "rejected_connections"):
        if key in info:
            d[key] = str(as_int(info.get(key)))

    d["keys"] = str(dbsize)
    total = 0
    for name, value in info.items():
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, Mapping):
            total += as_int(value.get("keys"))
    d["keys_all_databases"] = str(total)
    d["database"] = str(db)

    role = clean(info.get("role", ""), limit=20)
    d["role"] = role
    if role in ("slave", "replica"):
        link = clean(info.get("master_link_status", "unknown"), limit=20)
        d["master_link_status"] = link
        a.parts.append("replica")
        if link != "up":
            a.worse(Status.DEGRADED, f"replica: link to master {link}")
    elif "connected_slaves" in info:
        d["connected_replicas"] = str(as_int(info.get("connected_slaves")))
    for key in ("redis_version", "uptime_in_seconds"):
        if key in info:
            d[key] = clean(info[key], limit=40)
    if as_int(info.get("loading")) == 1:
        a.worse(Status.DEGRADED, "loading the dataset")
    if info.get("rdb_last_bgsave_status") == "err":
        a.worse(Status.DEGRADED, "last background save failed")

    rows = []
    for name, n in lengths.items():
        limit = p.queues[name]
        label = clean(name, limit=80)
        if isinstance(n, BaseException):
            state, shown = Status.DEGRADED, clean(f"error: {n}", limit=120)
            a.worse(state, f"queue {label}: cannot read its length")
        else:
            shown = str(n)
            state = (
                Status.DOWN
                if n >= limit.critical
                else Status.DEGRADED
                if n >= limit.warning
                else Status.OK
            )
            if state is not Status.OK:
                bound = limit.critical if state is Status.DOWN else limit.warning
                a.worse(state, f"queue {label} {n} ≥ {bound}")
        d[f"queue.{label}"] = shown
        rows.append((label, shown, str(limit.warning), str(limit.critical), state.label))
    if rows:
        a.tables.append(
            DetailTable(
                "Queues (LLEN)", ("queue", "length", "warning", "critical", "status"), tuple(rows)
            )
        )
    return a


def size(n: float) -> str:
    """Bytes as people read them: 64 MiB, 1.5 GiB, 812 KiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if n == int(n) or unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns


class RedisBackend(Backend):
    """Watches one Redis server and runs its cache and queue remediations."""

    TYPE = "redis"
    DESCRIPTION = (
        "Redis: memory, hit ratio, clients, queue lengths; BGSAVE, delete keys, CONFIG SET, FLUSHDB"
    )
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS})
    Options = RedisOptions
    CheckParams = RedisCheckParams

    options: RedisOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._client: aioredis.Redis | None = None
        self._password: str | None = None
        self._secret_error: str | None = None
        self._secret_read = False

    async def start(self) -> None:
        self._resolve_password()  # no IO to the server: the first probe connects

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()  # closes the pool it owns

    # --- connection ------------------------------------------------------------------------

    def _resolve_password(self) -> None:
        opts = self.options
        self._secret_read, self._secret_error = True, None
        try:
            self._password = resolve("password", opts.password_env, opts.password_file)
        except SecretMissing as exc:
            self._password, self._secret_error = None, str(exc)

    def client(self) -> aioredis.Redis:
        """The shared client; SecretMissing when the password reference is broken."""
        if not self._secret_read or self._secret_error:
            self._resolve_password()  # retried so that a fixed secret needs no restart
        if self._secret_error:
            raise SecretMissing(self._secret_error)
        if self._client is None:
            # Built synchronously (no IO), so two first probes cannot make two pools.
            opts = self.options
            pool = aioredis.BlockingConnectionPool.from_url(
                opts.url,
                max_connections=opts.max_connections,
                timeout=opts.socket_timeout,
                username=opts.username,
                password=self._password,
                socket_timeout=opts.socket_timeout,
                socket_connect_timeout=opts.socket_timeout,
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
            )
            self._client = aioredis.Redis.from_pool(pool)
        return self._client

    def redact(self, text: str) -> str:
        return redact(text, self._password)

    def describe(self, exc: BaseException, timeout: float | None = None) -> str:
        """One clean line for a failure, never with the password in it."""
        return describe(exc, timeout, self._password)

    # --- health ----------------------------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        ping_ms: float | None = None
        try:
            params = check.params
            if not isinstance(params, RedisCheckParams):
                params = RedisCheckParams.model_validate(params or {})
            client = self.client()
            async with asyncio.timeout(check.timeout):
                started = time.perf_counter()
                await client.ping()
                ping_ms = (time.perf_counter() - started) * 1000
                queues = list(params.queues)
                async with client.pipeline(transaction=False) as pipe:
                    pipe.info()
                    pipe.dbsize()
                    for q in queues:
                        pipe.llen(q)
                    replies = await pipe.execute(raise_on_error=False)
            for reply in replies[:2]:
                if isinstance(reply, BaseException):
                    raise reply
            lengths = dict(zip(queues, replies[2:], strict=True))
            found = assess(replies[0], as_int(replies[1]), lengths, params, self.options.db)
        except SecretMissing as exc:
            return self._down(check, str(exc), ping_ms)
        except Exception as exc:  # a probe never raises (CancelledError is not an Exception)
            return self._down(check, self.describe(exc, check.timeout), ping_ms)
        found.details["ping"] = f"{ping_ms:.1f} ms"
        return CheckResult(
            check=check.name,
            status=found.status,
            summary=self.redact(found.summary),
            latency_ms=ping_ms,
            at=self.context.clock(),
            details={k: self.redact(v) for k, v in found.details.items()},
            tables=tuple(found.tables),
        )

    def _down(self, check: CheckSpec, error: str, latency_ms: float | None) -> CheckResult:
        error = clean(self.redact(error), limit=300)
        return CheckResult(
            check=check.name,
            status=Status.DOWN,
            summary=error,
            latency_ms=latency_ms,
            at=self.context.clock(),
            details={"server": self.options.server, "database": str(self.options.db)},
            error=error,
        )

    # --- actions ---------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        return redis_actions.specs(self.name, self.options.db, self.options.config_set_allowlist)

    def _limits(self) -> redis_actions.Limits:
        o = self.options
        return redis_actions.Limits(
            batch=o.delete_batch,
            max_keys=o.delete_max_keys,
            allowlist=tuple(o.config_set_allowlist),
            db=o.db,
            server=o.server,
            backend=self.name,
        )

    async def preview(self, request: ActionRequest) -> str:
        # No preview, no action: what cannot be shown cannot be confirmed.
        try:
            text = await redis_actions.preview(self.client(), self._limits(), request)
        except ActionInvalid:
            raise
        except SecretMissing as exc:
            raise ActionInvalid(f"cannot preview: {exc}") from None
        except Exception as exc:
            raise ActionInvalid(f"cannot preview: {self.describe(exc)}") from None
        return self.redact(text)

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock
        if request.dry_run:
            shown = await self.preview(request)
            return ActionResult(
                request, Outcome.DRY_RUN, "dry run: nothing was done", preview=shown, at=now()
            )
        try:
            outcome, message, output = await redis_actions.run(
                self.client(), self._limits(), request
            )
        except SecretMissing as exc:
            return ActionResult(request, Outcome.FAILED, str(exc), at=now())
        except Exception as exc:
            return ActionResult(request, Outcome.FAILED, self.describe(exc), at=now())
        return ActionResult(
            request,
            outcome,
            clean(self.redact(message), limit=500),
            output=clean(self.redact(output), limit=20_000, single_line=False),
            at=now(),
        )


def describe(exc: BaseException, timeout: float | None = None, secret: str | None = None) -> str:
    """One line for a failed exchange with Redis: what Redis itself said (its error
    replies, a connection it reports lost), else :func:`oncall_console.errors.describe`."""
    said = None
    if isinstance(exc, rexc.TimeoutError):
        said = errors.timed_out(timeout)
    elif isinstance(exc, rexc.AuthenticationError) or (
        isinstance(exc, rexc.ResponseError) and str(exc).startswith(("WRONGPASS", "NOAUTH"))
    ):
        said = f"authentication failed: {exc}"
    elif isinstance(exc, rexc.BusyLoadingError):
        said = "the server is loading its dataset"
    elif isinstance(exc, rexc.ResponseError):
        said = f"server error: {exc}"
    elif isinstance(exc, rexc.ConnectionError) and errors.telling_cause(exc) is None:
        text = str(exc)
        if "refused" in text.lower():
            said = "connection refused"
        else:
            said = f"connection failed: {errors.os_error(exc) or text or 'closed by the server'}"
    if said is None:
        return errors.describe(exc, timeout, secrets=[secret])
    return clean(redact(said, secret), limit=errors.LIMIT)
