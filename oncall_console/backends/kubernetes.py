"""The ``kubernetes`` backend: deployments, workloads and nodes, and the kubectl fixes.

Health: one deployment (replicas, rollout progress, its pods with restarts and
CrashLoopBackOff / OOMKilled), every deployment of some namespaces, or the nodes
(Ready, pressure, cordoned). Actions: ``rollout-restart``, ``rollout-undo``,
``scale``, ``set-env``, ``delete-pod``, ``cordon`` and ``uncordon``, each
previewed with the exact request it sends and the kubectl command it stands for.

The official client is synchronous, so every call runs in the engine's bounded
thread pool (``BackendContext.run_sync``), with a timeout on the request and on
the wait. Responses are read as plain JSON, not the client's models: what we
judge is what the server sent, and a partial object cannot fail a model's
validation. Objects are listed without server-side selectors; label selectors,
ownership and rollback choice are decided by :mod:`k8s_logic`, where they are
tested without a cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oncall_console import errors
from oncall_console.backends import k8s_logic as kl
from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.durations import format_age, parse_duration
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    Confirm,
    DetailTable,
    Outcome,
    ParamSpec,
    Status,
    SubStatus,
)
from oncall_console.secrets import SecretMissing, one_source_each, redact, resolve
from oncall_console.text import clean

_MAX_ROWS = 200  # a table longer than this says how many more there are
_MAX_PAGES = 100  # of 500 objects each: a list that never ends is a server bug, not ours
_PAGE = 500
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class KubernetesOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    kubeconfig: str | None = None
    """Path of the kubeconfig file; default $KUBECONFIG, then ~/.kube/config."""
    context: str | None = None
    """kubeconfig context to use; default its current-context."""
    in_cluster: bool = False
    """Use the pod's service account (when the console itself runs in the cluster)."""
    host: str | None = None
    """API server URL for direct access, e.g. https://10.0.0.1:6443 (skips kubeconfig)."""
    token_env: str | None = None
    """With host: environment variable holding a bearer token."""
    token_file: str | None = None
    """With host: file holding a bearer token."""
    verify_tls: bool = True
    """Verify the API server's certificate; off only for a server you trust another way."""
    ca_file: str | None = None
    """PEM bundle of CAs that signed the API server's certificate."""
    namespaces: list[str] = Field(default_factory=lambda: ["default"])
    """Namespaces watched by workload checks; actions may only touch these (first = default)."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds one API request may take."""
    max_scale: int = Field(default=20, ge=1, le=10_000)
    """Most replicas the scale action may set."""
    env_allowlist: list[str] = Field(default_factory=list)
    """Environment variables set-env may change; empty = the action is not offered."""
    restart_window: str = "1h"
    """Window over which pod restarts are counted against the check's thresholds."""

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one namespace")
        for ns in value:
            if not kl.DNS_1123_LABEL.match(ns):
                raise ValueError(f"{ns!r} is not a valid namespace name")
        return value

    @field_validator("env_allowlist")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not kl.ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value

    @field_validator("restart_window")
    @classmethod
    def _window(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("the restart window must be longer than zero")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> KubernetesOptions:
        if self.host and self.in_cluster:
            raise ValueError("set host or in_cluster, not both")
        if (self.host or self.in_cluster) and (self.kubeconfig or self.context):
            raise ValueError("kubeconfig and context apply only without host and in_cluster")
        if (self.token_env or self.token_file) and not self.host:
            raise ValueError("token_env / token_file apply only with host")
        return one_source_each(self)

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.restart_window)


class KubernetesCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: Literal["deployment", "workloads", "nodes"] = "deployment"
    """deployment: one deployment and its pods; workloads: every deployment; nodes: the nodes."""
    name: str | None = None
    """The deployment's name (kind = "deployment")."""
    namespace: str | None = None
    """Namespace of the deployment, or the only one for workloads; default: the backend's."""
    selector: str | None = None
    """Label selector (kubectl syntax): deployments for workloads, nodes for nodes, extra pod filter for a deployment."""
    restart_warning: int = Field(default=3, ge=0)
    """A pod restarting more than this many times in the restart window is DEGRADED."""
    restart_critical: int = Field(default=10, ge=0)
    """More than this is marked critical (still DEGRADED: a restarting pod serves between restarts)."""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not kl.DNS_1123_LABEL.match(value):
            raise ValueError(f"{value!r} is not a valid namespace name")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not kl.DNS_1123_SUBDOMAIN.match(value):
            raise ValueError(f"{value!r} is not a valid deployment name")
        return value

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            kl.parse_selector(value)  # SelectorError is a ValueError: reported with its line
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> KubernetesCheckParams:
        if self.kind == "deployment" and not self.name:
            raise ValueError('kind = "deployment" needs the deployment\'s name')
        if self.kind != "deployment" and self.name:
            raise ValueError(f'name applies to kind = "deployment", not {self.kind!r}')
        if self.kind == "nodes" and self.namespace:
            raise ValueError("nodes have no namespace")
        if self.restart_warning > self.restart_critical:
            raise ValueError("restart_warning must not exceed restart_critical")
        return self


class _ApiError(Exception):
    """One clean line for a failed request (or a client that cannot be built)."""


class _Refused(Exception):
    """The action cannot sensibly go ahead; nothing was sent."""


class _Unsure(Exception):
    """A change was sent and no answer came: it may or may not have been applied."""


@dataclass
class _Found:
    status: Status
    summary: str
    details: dict[str, str] = field(default_factory=dict)
    tables: list[DetailTable] = field(default_factory=list)
    subs: list[SubStatus] = field(default_factory=list)


def _c(text: object, limit: int = 200) -> str:
    return clean(text, limit=limit)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class KubernetesBackend(Backend):
    """Watches deployments, workloads and nodes; restarts, rolls back, scales and cordons."""

    TYPE = "kubernetes"
    DESCRIPTION = "Kubernetes deployments, workloads and nodes, with kubectl-style remediation"
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS})
    Options = KubernetesOptions
    CheckParams = KubernetesCheckParams

    options: KubernetesOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._api: k8s.ApiClient | None = None
        self._host = ""
        self._token: str | None = None
        self._build_lock = asyncio.Lock()
        self._tracker = kl.RestartTracker(self.options.window_seconds)

    # --- client --------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._client()
        except _ApiError:
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
                        raise _ApiError(
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
                    raise _ApiError(f"kubeconfig {path} not found")
                kconfig.load_kube_config(
                    config_file=str(Path(path).expanduser()) if os.pathsep not in path else path,
                    context=opts.context,
                    client_configuration=cfg,
                    persist_config=False,
                )
        except (SecretMissing, _ApiError) as exc:
            raise _ApiError(str(exc)) from None
        except kconfig.ConfigException as exc:
            raise _ApiError(_c(f"kubernetes config: {exc}", 300)) from None
        except OSError as exc:
            raise _ApiError(_c(f"kubernetes config: {exc.strerror or exc}", 300)) from None
        except Exception as exc:  # yaml errors, exec credential plugins, …
            raise _ApiError(_c(f"kubernetes config: {type(exc).__name__}: {exc}", 300)) from None
        if not self._token:  # a kubeconfig token: known only so that errors never show it
            bearer = str(cfg.api_key.get("BearerToken") or "")
            self._token = bearer.split(" ", 1)[-1] or None
        if opts.ca_file:
            ca = Path(opts.ca_file).expanduser()
            if not ca.is_file():
                raise _ApiError(f"ca_file {opts.ca_file} not found")
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
        api = await self._client()

        def call() -> dict[str, Any]:
            try:
                resp = fn(api)
                raw = resp.data
            except ApiException as exc:
                raise _ApiError(kl.api_error_line(exc.status, exc.reason, exc.body)) from None
            except Exception as exc:
                raise _ApiError(_describe(exc, timeout, self._host)) from None
            try:
                doc = json.loads(raw) if raw else {}
            except ValueError:
                snippet = raw[:120].decode("utf-8", "replace") if isinstance(raw, bytes) else ""
                raise _ApiError(
                    f"unreadable answer from the API server (not JSON): {' '.join(snippet.split())}"
                ) from None
            if not isinstance(doc, dict):
                raise _ApiError("unreadable answer from the API server (not an object)")
            return doc

        try:
            # A little longer than the request's own timeout, whose error says more.
            return await self.context.run_sync(call, timeout=timeout + 1.0)
        except TimeoutError:
            if mutating:
                raise _Unsure(f"no answer after {timeout:g} s") from None
            raise _ApiError(f"timed out after {timeout:g} s") from None
        except _ApiError as exc:
            if mutating and str(exc).startswith("timed out"):
                raise _Unsure(str(exc)) from None
            raise _ApiError(_c(redact(str(exc), self._token), 400)) from None

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
        raise _ApiError(f"the list did not end after {_MAX_PAGES} pages")

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

    # --- health ---------------------------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        started = time.perf_counter()
        try:
            params = check.params
            if not isinstance(params, KubernetesCheckParams):
                params = KubernetesCheckParams.model_validate(params or {})
            t = min(self.options.timeout, check.timeout)
            async with asyncio.timeout(check.timeout):
                if params.kind == "deployment":
                    found = await self._probe_deployment(params, t)
                elif params.kind == "workloads":
                    found = await self._probe_workloads(params, t)
                else:
                    found = await self._probe_nodes(params, t)
            error = None
        except (_ApiError, _Unsure) as exc:
            found, error = _Found(Status.DOWN, str(exc)), str(exc)
        except TimeoutError:
            error = f"timed out after {check.timeout:g} s"
            found = _Found(Status.DOWN, error)
        except Exception as exc:  # probe never raises: everything is a result
            error = _c(f"unexpected error: {type(exc).__name__}: {exc}", 300)
            found = _Found(Status.DOWN, error)
        secret = self._token
        return CheckResult(
            check=check.name,
            status=found.status,
            summary=_c(redact(found.summary, secret), 500),
            latency_ms=(time.perf_counter() - started) * 1000,
            at=self.context.clock(),
            details={k: redact(v, secret) for k, v in found.details.items()},
            substatuses=tuple(found.subs),
            error=_c(redact(error, secret), 500) if error is not None else None,
            tables=tuple(found.tables),
        )

    def _views(self, pods: Sequence[dict[str, Any]], now: float) -> list[kl.PodView]:
        views = []
        for pod in pods:
            f = kl.pod_facts(pod)
            key = f.uid or f"{f.namespace}/{f.name}"
            recent = sum(
                self._tracker.observe(
                    f"{key}/{c.name}",
                    c.restarts,
                    now,
                    started_at=f.started_at,
                    last_restart_at=c.last_restart_at,
                )
                for c in f.containers
            )
            views.append(kl.PodView(f, recent))
        self._tracker.forget_older_than(now - 2 * self._tracker.window)
        return views

    def _assess(
        self, dep: dict[str, Any], pods: Sequence[dict[str, Any]], p: KubernetesCheckParams
    ) -> tuple[kl.Assessment, list[kl.PodView]]:
        selector = kl.selector_from_spec((dep.get("spec") or {}).get("selector"))
        mine = [pod for pod in pods if selector.matches(kl.labels_of(pod))]
        views = self._views(mine, self.context.clock())
        a = kl.assess_deployment(
            dep,
            views,
            restart_warning=p.restart_warning,
            restart_critical=p.restart_critical,
            window_label=self.options.restart_window,
        )
        return a, views

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.options.namespaces[0]

    async def _probe_deployment(self, p: KubernetesCheckParams, t: float) -> _Found:
        ns, name = self._ns(p.namespace), str(p.name)
        dep, pods = await asyncio.gather(self._read_deployment(ns, name, t), self._list_pods(ns, t))
        if p.selector:
            extra = kl.parse_selector(p.selector)
            pods = [pod for pod in pods if extra.matches(kl.labels_of(pod))]
        a, views = self._assess(dep, pods, p)
        r = a.rollout
        window = self.options.restart_window
        parts = [
            f"{r.ready}/{r.desired} ready",
            f"rev {r.revision if r.revision is not None else '?'}",
            f"{_plural(a.recent_restarts, 'restart')} in {window}",
            *a.notes,
        ]
        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        images = [
            f"{c.get('name')}={c.get('image')}"
            for c in (template.get("spec") or {}).get("containers") or []
            if isinstance(c, dict)
        ]
        progressing = kl.condition(dep, "Progressing") or {}
        details = {
            "namespace": ns,
            "deployment": name,
            "replicas": f"desired {r.desired} · ready {r.ready} · updated {r.updated} · "
            f"available {r.available} · total {r.current}",
            "revision": str(r.revision) if r.revision is not None else "unknown",
            "generation": f"{r.generation} (observed {r.observed})",
            "rollout": r.state + (f": {r.message}" if r.message else ""),
            "strategy": str((spec.get("strategy") or {}).get("type") or "RollingUpdate"),
            "selector": str(kl.selector_from_spec(spec.get("selector"))),
            "images": ", ".join(images),
            "pods": str(len(views)),
        }
        if progressing:
            details["progressing"] = (
                f"{progressing.get('status')} {progressing.get('reason') or ''}: "
                f"{progressing.get('message') or ''}"
            )
        return _Found(
            a.status,
            " · ".join(parts),
            {k: _c(v, 500) for k, v in details.items()},
            [self._pods_table(views)],
        )

    def _pods_table(self, views: Sequence[kl.PodView]) -> DetailTable:
        now = self.context.clock()
        window = self.options.restart_window
        ordered = sorted(views, key=lambda v: (not v.facts.trouble, v.facts.ready, v.facts.name))
        rows = [
            (
                _c(v.facts.name, 120),
                _c(v.facts.phase, 40),
                f"{v.facts.ready_count}/{len(v.facts.main)}",
                str(v.facts.restarts),
                str(v.recent_restarts),
                _c(v.facts.reason, 60),
                _c(v.facts.node or "—", 120),
                format_age(now - v.facts.started_at) if v.facts.started_at else "—",
            )
            for v in ordered[:_MAX_ROWS]
        ]
        if len(ordered) > _MAX_ROWS:
            rows.append((f"(+{len(ordered) - _MAX_ROWS} more)", "", "", "", "", "", "", ""))
        columns = ("Pod", "Phase", "Ready", "Restarts", f"In {window}", "Reason", "Node", "Age")
        return DetailTable("Pods", columns, tuple(rows))

    async def _probe_workloads(self, p: KubernetesCheckParams, t: float) -> _Found:
        namespaces = [p.namespace] if p.namespace else list(self.options.namespaces)
        selector = kl.parse_selector(p.selector or "")

        async def one(ns: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
            try:
                deps, pods = await asyncio.gather(
                    self._list_deployments(ns, t), self._list_pods(ns, t)
                )
            except _ApiError as exc:
                raise _ApiError(f"{ns}: {exc}") from None
            return ns, deps, pods

        listed = await asyncio.gather(*(one(ns) for ns in namespaces))
        rows: list[tuple[str, ...]] = []
        subs: list[SubStatus] = []
        bad: list[str] = []
        window = self.options.restart_window
        for ns, deps, pods in listed:
            for dep in sorted(deps, key=lambda d: str(kl.meta(d, "name") or "")):
                if not selector.matches(kl.labels_of(dep)):
                    continue
                a, _ = self._assess(dep, pods, p)
                r = a.rollout
                name = _c(kl.meta(dep, "name") or "?", 120)
                note = "; ".join(a.notes)
                rows.append(
                    (
                        _c(ns, 80),
                        name,
                        f"{r.ready}/{r.desired}",
                        str(r.updated),
                        str(r.available),
                        str(r.revision if r.revision is not None else "?"),
                        str(a.recent_restarts),
                        a.status.label,
                        _c(note, 300),
                    )
                )
                subs.append(SubStatus(f"{_c(ns, 80)}/{name}", a.status, _c(note or "ok", 200)))
                if a.status is not Status.OK:
                    bad.append(f"{name} ({_c(a.notes[0], 80) if a.notes else a.status.label})")
        where = ", ".join(namespaces)
        if not rows:
            what = f" matching {p.selector!r}" if p.selector else ""
            return _Found(Status.UNKNOWN, f"no deployments{what} in {where}")
        status = Status.worst([s.status for s in subs])
        summary = _plural(len(rows), "deployment")
        if bad:
            summary += f" · {len(bad)} not OK: " + ", ".join(bad[:3])
            summary += f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        else:
            summary += " · all ready"
        columns = (
            "Namespace", "Deployment", "Ready", "Up-to-date", "Available", "Rev",
            f"Restarts/{window}", "Status", "Notes",
        )  # fmt: skip
        table = DetailTable("Deployments", columns, tuple(rows[:_MAX_ROWS]))
        details = {"namespaces": _c(where, 300)}
        if p.selector:
            details["selector"] = _c(p.selector, 300)
        return _Found(status, summary, details, [table], subs[:100])

    async def _probe_nodes(self, p: KubernetesCheckParams, t: float) -> _Found:
        selector = kl.parse_selector(p.selector or "")
        nodes = await self._list(lambda a: k8s.CoreV1Api(a).list_node, t)
        facts = sorted(
            (kl.node_facts(n) for n in nodes if selector.matches(kl.labels_of(n))),
            key=lambda f: (-f.status.rank, f.name),
        )
        if not facts:
            what = f" match {p.selector!r}" if p.selector else " found"
            return _Found(Status.UNKNOWN, f"no nodes{what}")
        ready_word = {"True": "Ready", "False": "NotReady"}
        rows = tuple(
            (
                _c(f.name, 120),
                ready_word.get(f.ready, "Unknown"),
                ", ".join(f.pressures) or "—",
                "no (cordoned)" if f.cordoned else "yes",
                _c(f.version or "—", 40),
                _c(f.message or "", 200),
            )
            for f in facts[:_MAX_ROWS]
        )

        def names(fs: list[kl.NodeFacts]) -> str:
            shown = ", ".join(_c(f.name, 80) for f in fs[:3])
            return shown + (f" (+{len(fs) - 3} more)" if len(fs) > 3 else "")

        ready = [f for f in facts if f.ready == "True"]
        parts = [_plural(len(facts), "node"), f"{len(ready)} ready"]
        not_ready = [f for f in facts if f.ready != "True"]
        if not_ready:
            parts.append(f"NotReady: {names(not_ready)}")
        for kind in kl.PRESSURES:
            under = [f for f in facts if kind in f.pressures]
            if under:
                parts.append(f"{kind}: {names(under)}")
        cordoned = [f for f in facts if f.cordoned]
        if cordoned:
            parts.append(f"cordoned: {names(cordoned)}")
        table = DetailTable(
            "Nodes", ("Node", "Ready", "Pressure", "Schedulable", "Kubelet", "Message"), rows
        )
        details = {"selector": _c(p.selector, 300)} if p.selector else {}
        return _Found(Status.worst([f.status for f in facts]), " · ".join(parts), details, [table])

    # --- actions --------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        opts = self.options
        ns = ParamSpec(
            "namespace",
            "name",
            f"namespace (one of: {', '.join(opts.namespaces)})",
            required=False,
            default=opts.namespaces[0],
        )
        dep = ParamSpec("deployment", "name", "the deployment's name")
        specs = [
            ActionSpec(
                "rollout-restart",
                "Rolling restart of a deployment",
                (dep, ns),
                target_param="deployment",
            ),
            ActionSpec(
                "rollout-undo",
                "Roll a deployment back to its previous (or a named) revision",
                (
                    dep,
                    ns,
                    ParamSpec(
                        "revision",
                        "int",
                        "revision to go back to; default the previous one",
                        required=False,
                        minimum=1,
                    ),
                ),
                target_param="deployment",
            ),
            ActionSpec(
                "scale",
                "Scale a deployment",
                (
                    dep,
                    ParamSpec(
                        "replicas",
                        "int",
                        f"replicas (0 to {opts.max_scale})",
                        minimum=0,
                        maximum=opts.max_scale,
                    ),
                    ns,
                ),
                target_param="deployment",
            ),
        ]
        if opts.env_allowlist:
            specs.append(
                ActionSpec(
                    "set-env",
                    "Set an environment variable of a deployment (rolls its pods)",
                    (
                        dep,
                        ParamSpec(
                            "variable",
                            "choice",
                            "variable to set",
                            choices=tuple(opts.env_allowlist),
                        ),
                        ParamSpec("value", "str", "new value"),
                        ParamSpec(
                            "container",
                            "name",
                            "container; may be left out when there is only one",
                            required=False,
                        ),
                        ns,
                    ),
                    target_param="deployment",
                )
            )
        node = ParamSpec("node", "subdomain", "the node's name")  # node names may hold dots
        specs += [
            ActionSpec(
                "delete-pod",
                "Delete a pod (its controller starts a new one)",
                (ParamSpec("pod", "subdomain", "the pod's name"), ns),
                target_param="pod",
            ),
            ActionSpec(
                "cordon",
                "Cordon a node: no new pods are scheduled on it",
                (node,),
                target_param="node",
                dangerous=True,
                confirm=Confirm.TYPE_TARGET,
            ),
            ActionSpec(
                "uncordon",
                "Uncordon a node: pods may be scheduled on it again",
                (node,),
                target_param="node",
            ),
        ]
        return specs

    def _handlers(
        self,
    ) -> dict[str, tuple[Callable[[dict[str, Any]], Awaitable[str]], Callable[..., Any]]]:
        return {
            "rollout-restart": (self._preview_restart, self._run_restart),
            "rollout-undo": (self._preview_undo, self._run_undo),
            "scale": (self._preview_scale, self._run_scale),
            "set-env": (self._preview_set_env, self._run_set_env),
            "delete-pod": (self._preview_delete_pod, self._run_delete_pod),
            "cordon": (self._preview_cordon, self._run_cordon),
            "uncordon": (self._preview_cordon, self._run_cordon),
        }

    def _checked(self, request: ActionRequest) -> dict[str, Any]:
        """The request's parameters after our own checks (the runner validated kinds)."""
        p = dict(request.params)
        p["_action"] = request.action
        known = {s.id: s for s in self.actions()}
        spec = known.get(request.action)
        if spec is None:
            raise _Refused(f"no action {request.action!r} on this backend")
        for param in spec.params:
            if p.get(param.name) in (None, "") and param.default is not None:
                p[param.name] = param.default
        if "namespace" in {s.name for s in spec.params}:
            ns = str(p.get("namespace") or "")
            if ns not in self.options.namespaces:
                raise _Refused(
                    f"namespace {ns!r} is not one this backend may change "
                    f"({', '.join(self.options.namespaces)})"
                )
        if "node" in p and not kl.DNS_1123_SUBDOMAIN.match(str(p["node"])):
            raise _Refused(f"{_c(p['node'], 80)!r} is not a valid node name")
        if request.action == "scale":
            n = p.get("replicas")
            if (
                not isinstance(n, int)
                or isinstance(n, bool)
                or not 0 <= n <= self.options.max_scale
            ):
                raise _Refused(
                    f"replicas must be a whole number from 0 to {self.options.max_scale}"
                )
        if request.action == "set-env" and p.get("variable") not in self.options.env_allowlist:
            raise _Refused(f"{_c(p.get('variable'), 80)!r} is not in env_allowlist")
        return p

    async def preview(self, request: ActionRequest) -> str:
        """What will be sent; ActionInvalid (refused before any confirmation) when it cannot go."""
        handlers = self._handlers()
        try:
            p = self._checked(request)
            return await handlers[request.action][0](p)
        except _Refused as exc:
            raise ActionInvalid(str(exc)) from None
        except (_ApiError, _Unsure) as exc:
            raise ActionInvalid(f"cannot prepare: {redact(str(exc), self._token)}") from None
        except Exception as exc:  # only ActionInvalid may leave: the runner turns it into a refusal
            why = redact(f"{type(exc).__name__}: {exc}", self._token)
            raise ActionInvalid(_c(f"cannot prepare: unexpected error: {why}", 300)) from None

    async def run(self, request: ActionRequest) -> ActionResult:
        handlers = self._handlers()
        try:
            p = self._checked(request)
            message, output = await handlers[request.action][1](p)
            outcome = Outcome.SUCCEEDED
        except _Refused as exc:
            outcome, message, output = Outcome.REFUSED, str(exc), ""
        except _Unsure as exc:
            outcome, output = Outcome.TIMED_OUT, ""
            message = f"{exc}: the change may or may not have been applied"
        except _ApiError as exc:
            outcome, message, output = Outcome.FAILED, str(exc), ""
        except Exception as exc:
            outcome, output = Outcome.FAILED, ""
            message = f"unexpected error: {type(exc).__name__}: {exc}"
        return ActionResult(
            request,
            outcome,
            _c(redact(message, self._token), 500),
            output=clean(redact(output, self._token), limit=20_000, single_line=False),
            at=self.context.clock(),
        )

    # Each action: a preview that reads the current state and shows the request,
    # and a run that re-reads what it needs (the state may have moved since).

    @property
    def _t(self) -> float:
        return self.options.timeout

    async def _state_line(self, ns: str, name: str) -> str:
        try:
            dep = await self._read_deployment(ns, name, self._t)
        except _ApiError as exc:
            return f"now: cannot read the deployment: {exc}"
        r = kl.rollout_of(dep)
        rev = r.revision if r.revision is not None else "?"
        return f"now: {r.ready}/{r.desired} ready · rev {rev} · rollout {r.state}"

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.context.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _request_text(method: str, path: str, ctype: str | None, body: Any) -> str:
        head = f"{method} {path}" + (f"\nContent-Type: {ctype}" if ctype else "")
        return head + ("\n" + json.dumps(body, indent=2) if body is not None else "")

    @staticmethod
    def _dep_path(ns: str, name: str) -> str:
        return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"

    async def _preview_restart(self, p: dict[str, Any]) -> str:
        ns, name = p["namespace"], p["deployment"]
        body = kl.restart_patch(self._stamp())
        return "\n".join(
            [
                f"Rolling restart of deployment {ns}/{name}: new pods replace the old ones.",
                await self._state_line(ns, name),
                self._request_text("PATCH", self._dep_path(ns, name), STRATEGIC_PATCH, body),
                "(restartedAt is stamped again with the time it runs)",
                f"like: kubectl rollout restart deployment/{name} -n {ns}",
            ]
        )

    async def _run_restart(self, p: dict[str, Any]) -> tuple[str, str]:
        ns, name = p["namespace"], p["deployment"]
        body = kl.restart_patch(self._stamp())
        await self._patch_deployment(ns, name, body, STRATEGIC_PATCH)
        stamp = body["spec"]["template"]["metadata"]["annotations"][kl.RESTARTED_AT_ANNOTATION]
        return f"restarted deployment {ns}/{name} at {stamp}", json.dumps(body)

    async def _patch_deployment(self, ns: str, name: str, body: Any, ctype: str) -> dict[str, Any]:
        t = self._t
        return await self._call(
            lambda a: k8s.AppsV1Api(a).patch_namespaced_deployment(
                name, ns, body, _content_type=ctype, _preload_content=False, _request_timeout=t
            ),
            t,
            mutating=True,
        )

    async def _plan_undo(
        self, p: dict[str, Any]
    ) -> tuple[dict[str, Any], kl.RollbackPlan, list[str]]:
        ns, name = p["namespace"], p["deployment"]
        dep, sets = await asyncio.gather(
            self._read_deployment(ns, name, self._t), self._list_replica_sets(ns, self._t)
        )
        try:
            plan = kl.plan_rollback(dep, sets, p.get("revision"))
        except kl.RollbackRefused as exc:
            raise _Refused(_c(str(exc), 300)) from None
        current = (dep.get("spec") or {}).get("template") or {}
        return dep, plan, kl.template_diff(current, plan.template)

    async def _preview_undo(self, p: dict[str, Any]) -> str:
        ns, name = p["namespace"], p["deployment"]
        _, plan, diff = await self._plan_undo(p)
        flag = f" --to-revision={p['revision']}" if p.get("revision") else ""
        return "\n".join(
            [
                f"Roll back deployment {ns}/{name}: revision {plan.from_revision} → "
                f"{plan.to_revision} (ReplicaSet {plan.replica_set})",
                *(diff or ["  (no image or environment change)"]),
                self._request_text(
                    "PATCH", self._dep_path(ns, name), JSON_PATCH, kl.undo_patch(plan)
                ),
                f"like: kubectl rollout undo deployment/{name} -n {ns}{flag}",
            ]
        )

    async def _run_undo(self, p: dict[str, Any]) -> tuple[str, str]:
        ns, name = p["namespace"], p["deployment"]
        _, plan, diff = await self._plan_undo(p)
        await self._patch_deployment(ns, name, kl.undo_patch(plan), JSON_PATCH)
        return (
            f"rolled back deployment {ns}/{name} from revision {plan.from_revision} "
            f"to {plan.to_revision}",
            "\n".join(diff),
        )

    async def _preview_scale(self, p: dict[str, Any]) -> str:
        ns, name, n = p["namespace"], p["deployment"], p["replicas"]
        try:
            dep = await self._read_deployment(ns, name, self._t)
            now = f"{kl.rollout_of(dep).desired}"
        except _ApiError as exc:
            now = f"? (cannot read the deployment: {exc})"
        lines = [f"Scale deployment {ns}/{name}: {now} → {n} replicas."]
        if n == 0:
            lines.append("WARNING: 0 stops every pod of this deployment.")
        lines += [
            self._request_text(
                "PATCH", self._dep_path(ns, name) + "/scale", MERGE_PATCH, _scale_body(n)
            ),
            f"like: kubectl scale deployment/{name} -n {ns} --replicas={n}",
        ]
        return "\n".join(lines)

    async def _run_scale(self, p: dict[str, Any]) -> tuple[str, str]:
        ns, name, n = p["namespace"], p["deployment"], p["replicas"]
        t = self._t
        doc = await self._call(
            lambda a: k8s.AppsV1Api(a).patch_namespaced_deployment_scale(
                name,
                ns,
                _scale_body(n),
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=t,
            ),
            t,
            mutating=True,
        )
        got = (doc.get("spec") or {}).get("replicas", n)
        return f"scaled deployment {ns}/{name} to {got} replicas", ""

    async def _plan_env(self, p: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str | None]:
        ns, name = p["namespace"], p["deployment"]
        dep = await self._read_deployment(ns, name, self._t)
        try:
            return kl.set_env_patch(dep, p.get("container"), p["variable"], p["value"])
        except ValueError as exc:
            raise _Refused(_c(str(exc), 300)) from None

    async def _preview_set_env(self, p: dict[str, Any]) -> str:
        ns, name, var, value = p["namespace"], p["deployment"], p["variable"], p["value"]
        patch, container, old = await self._plan_env(p)
        was = "(unset)" if old is None else old
        return "\n".join(
            [
                f"Set {var} on container {container} of deployment {ns}/{name}: {was} → {value}",
                "This changes the pod template: the deployment rolls out new pods.",
                self._request_text("PATCH", self._dep_path(ns, name), JSON_PATCH, patch),
                f"like: kubectl set env deployment/{name} -n {ns} -c {container} {var}={value}",
            ]
        )

    async def _run_set_env(self, p: dict[str, Any]) -> tuple[str, str]:
        ns, name, var = p["namespace"], p["deployment"], p["variable"]
        patch, container, old = await self._plan_env(p)
        await self._patch_deployment(ns, name, patch, JSON_PATCH)
        was = "(unset)" if old is None else old
        return (
            f"set {var} on {ns}/{name} container {container}",
            f"{var}: {was} → {p['value']}",
        )

    async def _preview_delete_pod(self, p: dict[str, Any]) -> str:
        ns, name = p["namespace"], p["pod"]
        t = self._t
        try:
            pod = await self._call(
                lambda a: k8s.CoreV1Api(a).read_namespaced_pod(
                    name, ns, _preload_content=False, _request_timeout=t
                ),
                t,
            )
            f = kl.pod_facts(pod)
            owners = [
                f"{r.get('kind')} {r.get('name')}"
                for r in kl.meta(pod, "ownerReferences") or []
                if isinstance(r, dict) and r.get("controller")
            ]
            state = f"now: {f.phase}, {f.ready_count}/{len(f.main)} ready, node {f.node or '—'}"
            fate = (
                f"owned by {', '.join(owners)}: a new pod replaces it."
                if owners
                else "WARNING: no controller owns this pod: it will NOT come back."
            )
        except _ApiError as exc:
            state, fate = f"now: cannot read the pod: {exc}", ""
        return "\n".join(
            line
            for line in [
                f"Delete pod {ns}/{name}.",
                state,
                fate,
                self._request_text("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", None, None),
                f"like: kubectl delete pod {name} -n {ns}",
            ]
            if line
        )

    async def _run_delete_pod(self, p: dict[str, Any]) -> tuple[str, str]:
        ns, name = p["namespace"], p["pod"]
        t = self._t
        await self._call(
            lambda a: k8s.CoreV1Api(a).delete_namespaced_pod(
                name, ns, _preload_content=False, _request_timeout=t
            ),
            t,
            mutating=True,
        )
        return f"deleted pod {ns}/{name}", ""

    async def _preview_cordon(self, p: dict[str, Any]) -> str:
        name, on = p["node"], p["_action"] == "cordon"
        t = self._t
        try:
            node = await self._call(
                lambda a: k8s.CoreV1Api(a).read_node(
                    name, _preload_content=False, _request_timeout=t
                ),
                t,
            )
            f = kl.node_facts(node)
            now = f"now: {'cordoned' if f.cordoned else 'schedulable'}, Ready={f.ready}"
        except _ApiError as exc:
            now = f"now: cannot read the node: {exc}"
        what = (
            f"Cordon node {name}: no new pods are scheduled on it; running pods stay."
            if on
            else f"Uncordon node {name}: pods may be scheduled on it again."
        )
        return "\n".join(
            [
                what,
                now,
                self._request_text("PATCH", f"/api/v1/nodes/{name}", MERGE_PATCH, _cordon_body(on)),
                f"like: kubectl {'cordon' if on else 'uncordon'} {name}",
            ]
        )

    async def _run_cordon(self, p: dict[str, Any]) -> tuple[str, str]:
        name, on = p["node"], p["_action"] == "cordon"
        t = self._t
        await self._call(
            lambda a: k8s.CoreV1Api(a).patch_node(
                name,
                _cordon_body(on),
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=t,
            ),
            t,
            mutating=True,
        )
        return f"{'cordoned' if on else 'uncordoned'} node {name}", ""


def _scale_body(n: int) -> dict[str, Any]:
    return {"spec": {"replicas": n}}


def _cordon_body(on: bool) -> dict[str, Any]:
    return {"spec": {"unschedulable": on}}


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
