"""The ``redis`` backend: the plugin class (the client, the probe's round trips, actions),
and what Redis's own errors say."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from oncall_console import errors
from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.backends.redis import actions as redis_actions
from oncall_console.backends.redis import inspect as redis_inspect
from oncall_console.backends.redis.health import as_int, assess
from oncall_console.backends.redis.options import RedisCheckParams, RedisOptions
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    Confirm,
    Inspection,
    InspectView,
    Outcome,
    ParamSpec,
    Status,
)
from oncall_console.secrets import SecretMissing, redact, resolve
from oncall_console.text import clean


class RedisBackend(Backend):
    """Watches one Redis server and runs its cache and queue remediations."""

    TYPE = "redis"
    DESCRIPTION = (
        "Redis: memory, hit ratio, clients, queue lengths; BGSAVE, delete keys, CONFIG SET, FLUSHDB"
    )
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS, Capability.INSPECT})
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

    # --- looking closer ---------------------------------------------------------------------

    def inspect_views(self, check: CheckSpec) -> list[InspectView]:
        return list(redis_inspect.VIEWS)

    async def inspect(self, check: CheckSpec, view: str) -> Inspection:
        """The slowlog, or the biggest keys of a bounded SCAN: read-only."""
        if view not in {v.id for v in redis_inspect.VIEWS}:
            raise ValueError(f"no view {view!r}")
        now = self.context.clock()
        try:
            client = self.client()
            if view == "slowlog":
                table, note = await redis_inspect.slowlog(client, now)
            else:
                table, note = await redis_inspect.big_keys(client)
        except SecretMissing:
            raise
        except Exception as exc:
            raise RuntimeError(self.describe(exc, self.options.socket_timeout)) from None
        return Inspection(view, now, tables=(table,), note=f"{self.options.server} · {note}")

    # --- actions ---------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        backend, db, allowlist = self.name, self.options.db, self.options.config_set_allowlist
        return [
            ActionSpec(
                id="bgsave",
                title="Save a snapshot to disk in the background (BGSAVE)",
                params=(
                    ParamSpec(
                        "server",
                        "choice",
                        help="This Redis server",
                        required=False,
                        default=backend,
                        choices=(backend,),
                    ),
                ),
                target_param="server",
            ),
            ActionSpec(
                id="delete-keys",
                title="Delete the keys matching a pattern (SCAN + UNLINK)",
                params=(
                    ParamSpec(
                        "pattern",
                        "str",
                        help=(
                            "Glob pattern with a literal part, e.g. session:* (one that could"
                            " match every key is typed to confirm; *, ?* are refused: flushdb)"
                        ),
                    ),
                ),
                target_param="pattern",
            ),
            ActionSpec(
                id="config-set",
                title="Change a server setting (CONFIG SET)",
                params=(
                    ParamSpec(
                        "parameter", "choice", help="Setting to change", choices=tuple(allowlist)
                    ),
                    ParamSpec("value", "str", help="New value, e.g. 256mb or allkeys-lru"),
                ),
                target_param="parameter",
            ),
            ActionSpec(
                id="flushdb",
                title="Delete every key of this database (FLUSHDB)",
                params=(
                    ParamSpec(
                        "database",
                        "choice",
                        help=f"The database to empty: {db}, the one this backend uses",
                        choices=(str(db),),
                    ),
                ),
                target_param="database",
                dangerous=True,
                confirm=Confirm.TYPE_TARGET,
            ),
        ]

    def _limits(self) -> redis_actions.Limits:
        o = self.options
        return redis_actions.Limits(
            batch=o.delete_batch,
            max_keys=o.delete_max_keys,
            allowlist=tuple(o.config_set_allowlist),
            db=o.db,
            server=o.server,
            backend=self.name,
            typed_per_request=runner_asks_per_request(),
        )

    def confirmation_for(self, request: ActionRequest) -> Confirm | None:
        """How ``request`` must be confirmed when its action's spec is not enough; None:
        as the spec says. A delete-keys pattern with no literal character could match
        every key (``[a-z]*``): it is confirmed by typing it, as flushdb is by typing the
        database (the runner's policy, ``engine/actions.py`` ``confirmation``)."""
        if request.action == "delete-keys":
            pattern = str(request.params.get("pattern") or "")
            if redis_actions.reach(pattern) is not redis_actions.Reach.SOME:
                return Confirm.TYPE_TARGET
        return None

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


def runner_asks_per_request() -> bool:
    """Does the runner ask a backend how to confirm each request? Once the contract
    (``backends/base.py``) declares ``Backend.confirmation_for``, the runner's policy
    consults it; until then a pattern that must be typed is refused instead, so that no
    pattern that could match every key is ever confirmed with a plain y/n."""
    return hasattr(Backend, "confirmation_for")


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
