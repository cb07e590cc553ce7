"""The ``kubernetes`` backend's connection: the official client, in the thread pool, read as JSON.

The client is synchronous, so every call runs in the engine's bounded thread pool
(``BackendContext.run_sync``), with a timeout on the request and on the wait.
Responses are read as plain JSON, not the client's models: what we judge is what
the server sent, and a partial object cannot fail a model's validation. Objects are
listed page by page without server-side selectors (``selectors.py`` filters them).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

from oncall_console import errors
from oncall_console.backends.base import Backend, BackendContext
from oncall_console.backends.kubernetes import objects
from oncall_console.backends.kubernetes.options import KubernetesOptions
from oncall_console.secrets import SecretMissing, redact, resolve
from oncall_console.text import clean

_MAX_PAGES = 100  # of 500 objects each: a list that never ends is a server bug, not ours
_PAGE = 500


class ApiError(Exception):
    """One clean line for a failed request (or a client that cannot be built)."""


class Unsure(Exception):
    """A change was sent and no answer came: it may or may not have been applied."""


def _c(text: object, limit: int = 200) -> str:
    return clean(text, limit=limit)


class KubernetesClient(Backend):
    """This backend's own client configuration (never the global default), and the calls."""

    options: KubernetesOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._api: k8s.ApiClient | None = None
        self._host = ""
        self._token: str | None = None
        self._build_lock = asyncio.Lock()

    # --- client --------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._client()
        except ApiError:
            pass  # each probe and action reports it, and tries again

    async def close(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api.close()

    async def _client(self) -> k8s.ApiClient:
        if self._api is None:
            async with self._build_lock:
                if self._api is None:
                    try:
                        self._api = await self.context.run_sync(
                            self._build, timeout=self.options.timeout
                        )
                    except TimeoutError:
                        raise ApiError(
                            f"client setup timed out after {self.options.timeout:g} s"
                        ) from None
        return self._api

    def _build(self) -> k8s.ApiClient:
        """Build this backend's own configuration and client (never the global default)."""
        from kubernetes import config as kconfig

        opts = self.options
        cfg = k8s.Configuration()
        try:
            if opts.host:
                cfg.host = opts.host.rstrip("/")
                self._token = resolve("token", opts.token_env, opts.token_file)
                if self._token:
                    cfg.api_key = {"BearerToken": self._token}
                    cfg.api_key_prefix = {"BearerToken": "Bearer"}
                if opts.token_file:
                    hook = self._token_refresher(opts.token_file)
                    cfg.refresh_api_key_hook = hook  # type: ignore[assignment]
            elif opts.in_cluster:
                kconfig.load_incluster_config(client_configuration=cfg)
            else:
                path = opts.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
                first = Path(path.split(os.pathsep)[0]).expanduser()
                if not first.exists():
                    raise ApiError(f"kubeconfig {path} not found")
                kconfig.load_kube_config(
                    config_file=str(Path(path).expanduser()) if os.pathsep not in path else path,
                    context=opts.context,
                    client_configuration=cfg,
                    persist_config=False,
                )
        except (SecretMissing, ApiError) as exc:
            raise ApiError(str(exc)) from None
        except kconfig.ConfigException as exc:
            raise ApiError(_c(f"kubernetes config: {exc}", 300)) from None
        except OSError as exc:
            raise ApiError(_c(f"kubernetes config: {exc.strerror or exc}", 300)) from None
        except Exception as exc:  # yaml errors, exec credential plugins, …
            raise ApiError(_c(f"kubernetes config: {type(exc).__name__}: {exc}", 300)) from None
        if not self._token:  # a kubeconfig token: known only so that errors never show it
            bearer = str(cfg.api_key.get("BearerToken") or "")
            self._token = bearer.split(" ", 1)[-1] or None
        if opts.ca_file:
            ca = Path(opts.ca_file).expanduser()
            if not ca.is_file():
                raise ApiError(f"ca_file {opts.ca_file} not found")
            cfg.ssl_ca_cert = str(ca)
        if not opts.verify_tls:
            cfg.verify_ssl = False
        # One quick retry for a connection that cannot be made; never re-send a request
        # that may have been read (a PATCH twice is not the same as once).
        cfg.retries = urllib3.Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0)
        api = k8s.ApiClient(cfg)
        api.user_agent = "oncall-console"
        self._host = cfg.host
        return api

    def _token_refresher(self, path: str) -> Callable[[Any], None]:
        """Re-read a token file now and then: projected service-account tokens rotate."""
        clock = self.context.clock
        last = clock()

        def refresh(cfg: Any) -> None:
            nonlocal last
            if abs(clock() - last) < 60:
                return
            last = clock()
            try:
                token = resolve("token", None, path)
            except SecretMissing:
                return  # keep the last good token; a failing request will say why
            if token:
                cfg.api_key["BearerToken"] = self._token = token

        return refresh

    async def _call(
        self,
        fn: Callable[[k8s.ApiClient], Any],
        timeout: float,
        *,
        mutating: bool = False,
    ) -> dict[str, Any]:
        """Run one request in the pool and return its JSON body, or raise one clean line."""
        raw = await self._request(fn, timeout, mutating=mutating)
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            snippet = raw[:120].decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            line = f"unreadable answer from the API server (not JSON): {' '.join(snippet.split())}"
            raise ApiError(_c(redact(line, self._token), 400)) from None
        if not isinstance(doc, dict):
            raise ApiError("unreadable answer from the API server (not an object)")
        return doc

    async def _request(
        self,
        fn: Callable[[k8s.ApiClient], Any],
        timeout: float,
        *,
        mutating: bool = False,
    ) -> bytes:
        """Run one request in the pool and return its raw body (a log is text, not JSON)."""
        api = await self._client()

        def call() -> bytes:
            try:
                resp = fn(api)
                raw = resp.data
            except ApiException as exc:
                raise ApiError(objects.api_error_line(exc.status, exc.reason, exc.body)) from None
            except Exception as exc:
                raise ApiError(_describe(exc, timeout, self._host)) from None
            return raw if isinstance(raw, bytes) else str(raw or "").encode()

        try:
            # A little longer than the request's own timeout, whose error says more.
            return await self.context.run_sync(call, timeout=timeout + 1.0)
        except TimeoutError:
            if mutating:
                raise Unsure(f"no answer after {timeout:g} s") from None
            raise ApiError(f"timed out after {timeout:g} s") from None
        except ApiError as exc:
            if mutating and str(exc).startswith("timed out"):
                raise Unsure(str(exc)) from None
            raise ApiError(_c(redact(str(exc), self._token), 400)) from None

    async def _list(
        self, lister: Callable[..., Any], timeout: float, *args: str
    ) -> list[dict[str, Any]]:
        """Every object of a list, page by page; no server-side selectors."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(_MAX_PAGES):
            page_token = token

            def fn(api: k8s.ApiClient, page_token: str | None = page_token) -> Any:
                kw: dict[str, Any] = {"limit": _PAGE}
                if page_token:
                    kw["_continue"] = page_token
                return lister(api)(*args, _preload_content=False, _request_timeout=timeout, **kw)

            doc = await self._call(fn, timeout)
            items.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
            token = (doc.get("metadata") or {}).get("continue") or None
            if not token:
                return items
        raise ApiError(f"the list did not end after {_MAX_PAGES} pages")

    async def _list_pods(self, ns: str, t: float) -> list[dict[str, Any]]:
        return await self._list(lambda a: k8s.CoreV1Api(a).list_namespaced_pod, t, ns)

    async def _list_deployments(self, ns: str, t: float) -> list[dict[str, Any]]:
        return await self._list(lambda a: k8s.AppsV1Api(a).list_namespaced_deployment, t, ns)

    async def _list_replica_sets(self, ns: str, t: float) -> list[dict[str, Any]]:
        return await self._list(lambda a: k8s.AppsV1Api(a).list_namespaced_replica_set, t, ns)

    async def _read_deployment(self, ns: str, name: str, t: float) -> dict[str, Any]:
        return await self._call(
            lambda a: k8s.AppsV1Api(a).read_namespaced_deployment(
                name, ns, _preload_content=False, _request_timeout=t
            ),
            t,
        )


def _describe(exc: BaseException, timeout: float, host: str) -> str:
    """One clean line for a request that got no HTTP answer: urllib3's timeouts (which
    tell whether anything was sent), else :func:`oncall_console.errors.describe`, with
    the API server named when the connection itself failed."""
    where = f" ({host})" if host else ""
    found = errors.telling_cause(exc)
    if found is not None:
        return _c(f"{found}{where}", 300)
    for e in errors.chain(exc):
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            continue  # (a subclass of ConnectTimeoutError, whatever its cause)
        if isinstance(e, urllib3.exceptions.ConnectTimeoutError):
            return f"connect timed out after {timeout:g} s{where}"  # nothing was sent
        if isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError):
            return errors.timed_out(timeout)
    if strerror := errors.os_error(exc):
        return _c(f"connect failed: {strerror}{where}", 300)
    return errors.describe(exc, timeout)
