"""The ``kubernetes`` backend's health checks: one deployment, every workload, or the nodes.

One deployment: replicas, rollout progress, its pods with restarts and
CrashLoopBackOff / OOMKilled. Workloads: every deployment of some namespaces.
Nodes: Ready, pressure, cordoned. What each object says is read by ``objects.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s
from pydantic import BaseModel

from oncall_console.backends.base import BackendContext
from oncall_console.backends.kubernetes import objects, selectors
from oncall_console.backends.kubernetes.client import ApiError, KubernetesClient, Unsure, _c
from oncall_console.backends.kubernetes.options import KubernetesCheckParams
from oncall_console.durations import format_age
from oncall_console.model import CheckResult, CheckSpec, DetailTable, Status, SubStatus
from oncall_console.secrets import redact

_MAX_ROWS = 200  # a table longer than this says how many more there are


@dataclass
class _Found:
    status: Status
    summary: str
    details: dict[str, str] = field(default_factory=dict)
    tables: list[DetailTable] = field(default_factory=list)
    subs: list[SubStatus] = field(default_factory=list)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class KubernetesHealth(KubernetesClient):
    """Deployments, workloads and nodes, judged; pod restarts counted over a window."""

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._tracker = objects.RestartTracker(self.options.window_seconds)

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
        except (ApiError, Unsure) as exc:
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

    def _views(self, pods: Sequence[dict[str, Any]], now: float) -> list[objects.PodView]:
        views = []
        for pod in pods:
            f = objects.pod_facts(pod)
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
            views.append(objects.PodView(f, recent))
        self._tracker.forget_older_than(now - 2 * self._tracker.window)
        return views

    def _assess(
        self, dep: dict[str, Any], pods: Sequence[dict[str, Any]], p: KubernetesCheckParams
    ) -> tuple[objects.Assessment, list[objects.PodView]]:
        selector = selectors.selector_from_spec((dep.get("spec") or {}).get("selector"))
        mine = [pod for pod in pods if selector.matches(selectors.labels_of(pod))]
        views = self._views(mine, self.context.clock())
        a = objects.assess_deployment(
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
            extra = selectors.parse_selector(p.selector)
            pods = [pod for pod in pods if extra.matches(selectors.labels_of(pod))]
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
        progressing = objects.condition(dep, "Progressing") or {}
        details = {
            "namespace": ns,
            "deployment": name,
            "replicas": f"desired {r.desired} · ready {r.ready} · updated {r.updated} · "
            f"available {r.available} · total {r.current}",
            "revision": str(r.revision) if r.revision is not None else "unknown",
            "generation": f"{r.generation} (observed {r.observed})",
            "rollout": r.state + (f": {r.message}" if r.message else ""),
            "strategy": str((spec.get("strategy") or {}).get("type") or "RollingUpdate"),
            "selector": str(selectors.selector_from_spec(spec.get("selector"))),
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

    def _pods_table(self, views: Sequence[objects.PodView]) -> DetailTable:
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
        selector = selectors.parse_selector(p.selector or "")

        async def one(ns: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
            try:
                deps, pods = await asyncio.gather(
                    self._list_deployments(ns, t), self._list_pods(ns, t)
                )
            except ApiError as exc:
                raise ApiError(f"{ns}: {exc}") from None
            return ns, deps, pods

        listed = await asyncio.gather(*(one(ns) for ns in namespaces))
        rows: list[tuple[str, ...]] = []
        subs: list[SubStatus] = []
        bad: list[str] = []
        window = self.options.restart_window
        for ns, deps, pods in listed:
            for dep in sorted(deps, key=lambda d: str(objects.meta(d, "name") or "")):
                if not selector.matches(selectors.labels_of(dep)):
                    continue
                a, _ = self._assess(dep, pods, p)
                r = a.rollout
                name = _c(objects.meta(dep, "name") or "?", 120)
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
        selector = selectors.parse_selector(p.selector or "")
        nodes = await self._list(lambda a: k8s.CoreV1Api(a).list_node, t)
        facts = sorted(
            (objects.node_facts(n) for n in nodes if selector.matches(selectors.labels_of(n))),
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

        def names(fs: list[objects.NodeFacts]) -> str:
            shown = ", ".join(_c(f.name, 80) for f in fs[:3])
            return shown + (f" (+{len(fs) - 3} more)" if len(fs) > 3 else "")

        ready = [f for f in facts if f.ready == "True"]
        parts = [_plural(len(facts), "node"), f"{len(ready)} ready"]
        not_ready = [f for f in facts if f.ready != "True"]
        if not_ready:
            parts.append(f"NotReady: {names(not_ready)}")
        for kind in objects.PRESSURES:
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
