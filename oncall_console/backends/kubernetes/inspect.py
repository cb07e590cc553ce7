"""The ``kubernetes`` backend's closer looks (issue #15, point 9), as k9s shows them: the
events of the workload (the deployment, its ReplicaSets, its pods), and a log tail of
its pods. Read-only: lists and ``GET …/log`` only.

Which objects belong to the workload is decided here, as the health checks do (label
selectors and ownership in our own code, no server-side selectors): the emulator the
tests run against has neither, and a selector then means the same everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubernetes import client as k8s

from oncall_console.backends.kubernetes import objects, selectors
from oncall_console.backends.kubernetes.client import ApiError, KubernetesClient, _c
from oncall_console.backends.kubernetes.options import KubernetesCheckParams
from oncall_console.durations import format_age
from oncall_console.model import CheckSpec, DetailTable, Inspection, InspectView

EVENTS = InspectView("events", "Events")
LOGS = InspectView("logs", "Log tail", log=True)
MAX_EVENTS = 200
LOG_PODS = 6
"""Pods whose logs one look reads (in trouble first, then the newest)."""
TAIL_LINES = 100
"""Lines read from the end of each pod's log."""

Ref = tuple[str, str]
"""(kind, name) of an object an event may be about."""


def event_time(event: Mapping[str, Any]) -> float | None:
    """When an event was last seen: its series, its last timestamp, its event time."""
    series = event.get("series") or {}
    for value in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        objects.meta(event, "creationTimestamp"),
    ):
        if (at := objects.parse_time(value)) is not None:
            return at
    return None


def event_rows(
    events: Iterable[Mapping[str, Any]], about: set[Ref] | None, kind: str | None, now: float
) -> tuple[tuple[str, ...], ...]:
    """Events about ``about`` (every one when None; only of ``kind`` when set), newest
    first: Last seen, Type, Reason, Object, Count, Message. Pure."""
    picked = []
    for e in events:
        obj = e.get("involvedObject") or e.get("regarding") or {}
        ref = (str(obj.get("kind") or ""), str(obj.get("name") or ""))
        if about is not None and ref not in about:
            continue
        if kind is not None and ref[0] != kind:
            continue
        picked.append((event_time(e) or 0.0, ref, e))
    picked.sort(key=lambda p: -p[0])
    rows = []
    for at, (k, name), e in picked[:MAX_EVENTS]:
        count = (e.get("series") or {}).get("count") or e.get("count") or 1
        rows.append(
            (
                format_age(now - at) if at else "—",
                _c(e.get("type") or "", 20),
                _c(e.get("reason") or "", 60),
                _c(f"{k.lower()}/{name}", 160),
                str(objects.as_int(count, 1)),
                _c(e.get("message") or e.get("note") or "", 500),
            )
        )
    return tuple(rows)


def workload_refs(
    dep: Mapping[str, Any],
    replica_sets: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
) -> set[Ref]:
    """The deployment, the ReplicaSets it owns (by uid), and their pods. Pure."""
    refs: set[Ref] = {("Deployment", str(objects.meta(dep, "name") or ""))}
    uid = objects.meta(dep, "uid")
    for rs in replica_sets:
        owners = objects.meta(rs, "ownerReferences") or []
        if uid and any(isinstance(o, Mapping) and o.get("uid") == uid for o in owners):
            refs.add(("ReplicaSet", str(objects.meta(rs, "name") or "")))
    refs.update(("Pod", str(objects.meta(p, "name") or "")) for p in pods)
    return refs


def log_pods(pods: Sequence[Mapping[str, Any]]) -> list[objects.PodFacts]:
    """The pods whose logs to read: in trouble first, then the newest started."""
    facts = [objects.pod_facts(p) for p in pods]
    facts.sort(key=lambda f: (not f.trouble, -(f.started_at or 0.0), f.name))
    return facts[:LOG_PODS]


def merge_logs(tails: Sequence[tuple[str, str]]) -> list[str]:
    """Each pod's tail (``--timestamps`` lines), merged in time order, each line led by
    its pod's name as k9s does. RFC 3339 stamps in UTC sort as text. Pure."""
    stamped = []
    for pod, text in tails:
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            stamp, _, rest = line.partition(" ")
            if not stamp[:1].isdigit():
                stamp, rest = "", line
            stamped.append((stamp, pod, i, " ".join(x for x in (pod, stamp, rest) if x)))
    stamped.sort(key=lambda s: (s[0], s[1], s[2]))
    return [_c(s[3], 2000) for s in stamped]


class KubernetesInspect(KubernetesClient):
    """Events and log tails of what a check watches."""

    def inspect_views(self, check: CheckSpec) -> list[InspectView]:
        params = check.params
        if isinstance(params, KubernetesCheckParams) and params.kind == "deployment":
            return [LOGS, EVENTS]
        return [EVENTS]

    async def inspect(self, check: CheckSpec, view: str) -> Inspection:
        params = check.params
        if not isinstance(params, KubernetesCheckParams):
            params = KubernetesCheckParams.model_validate(params or {})
        if view not in {v.id for v in self.inspect_views(check)}:
            raise ValueError(f"no view {view!r}")
        t = min(self.options.timeout, check.timeout * 2)
        now = self.context.clock()
        if params.kind == "deployment":
            ns, name = params.namespace or self.options.namespaces[0], str(params.name)
            dep, pods = await asyncio.gather(
                self._read_deployment(ns, name, t), self._list_pods(ns, t)
            )
            spec_selector = selectors.selector_from_spec((dep.get("spec") or {}).get("selector"))
            extra = selectors.parse_selector(params.selector or "")
            pods = [
                p
                for p in pods
                if spec_selector.matches(selectors.labels_of(p))
                and extra.matches(selectors.labels_of(p))
            ]
            if view == "logs":
                return await self._logs(ns, pods, t, now)
            rs = await self._list_replica_sets(ns, t)
            events = await self._events(ns, t)
            rows = event_rows(events, workload_refs(dep, rs, pods), None, now)
            note = f"{ns}/{name} · {len(pods)} pods · newest first"
        elif params.kind == "workloads":
            namespaces = [params.namespace] if params.namespace else list(self.options.namespaces)
            listed = await asyncio.gather(*(self._events(ns, t) for ns in namespaces))
            rows = event_rows([e for events in listed for e in events], None, None, now)
            note = f"{', '.join(namespaces)} · newest first"
        else:
            events = await self._list(lambda a: k8s.CoreV1Api(a).list_event_for_all_namespaces, t)
            rows = event_rows(events, None, "Node", now)
            note = "nodes · newest first"
        columns = ("Last seen", "Type", "Reason", "Object", "Count", "Message")
        return Inspection(view, now, tables=(DetailTable("Events", columns, rows),), note=note)

    async def _events(self, ns: str, t: float) -> list[dict[str, Any]]:
        return await self._list(lambda a: k8s.CoreV1Api(a).list_namespaced_event, t, ns)

    async def _logs(
        self, ns: str, pods: Sequence[Mapping[str, Any]], t: float, now: float
    ) -> Inspection:
        chosen = log_pods(pods)

        async def tail(f: objects.PodFacts, container: str) -> tuple[str, str]:
            previous = f.crash_looping  # the log of the run that crashed, as k9s's p
            label = f"{f.name}{' (previous)' if previous else ''}"

            def fn(api: k8s.ApiClient) -> Any:
                kw: dict[str, Any] = {"tail_lines": TAIL_LINES, "timestamps": True}
                if container:
                    kw["container"] = container
                if previous:
                    kw["previous"] = True
                return k8s.CoreV1Api(api).read_namespaced_pod_log(
                    f.name, ns, _preload_content=False, _request_timeout=t, **kw
                )

            try:
                raw = await self._request(fn, t)
            except ApiError as exc:
                return label, f"- (no log: {exc})"
            return label, raw.decode("utf-8", "replace")

        by_name = {objects.meta(p, "name"): p for p in pods}
        tails = await asyncio.gather(
            *(tail(f, _first_container(by_name.get(f.name) or {})) for f in chosen)
        )
        lines = merge_logs(tails)
        more = f" of {len(pods)}" if len(pods) > len(chosen) else ""
        note = f"{ns} · {len(chosen)}{more} pods · last {TAIL_LINES} lines each"
        return Inspection("logs", now, lines=tuple(lines), note=note)


def _first_container(pod: Mapping[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    first = containers[0] if containers and isinstance(containers[0], Mapping) else {}
    return str(first.get("name") or "")
