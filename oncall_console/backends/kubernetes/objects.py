"""Kubernetes objects read with no IO: rollout state, pod trouble, restarts, nodes, API errors.

Everything here works on plain API-shaped dicts (camelCase keys, as the API server
sends them), so it is tested without a cluster; the backend never lets the server
(or a test double of it) do the thinking.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oncall_console.model import Status

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_1123_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# --- small readers ---------------------------------------------------------------------------


def meta(obj: Mapping[str, Any], key: str, default: Any = None) -> Any:
    return (obj.get("metadata") or {}).get(key, default)


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp, or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def revision_of(obj: Mapping[str, Any]) -> int | None:
    """The ``deployment.kubernetes.io/revision`` annotation, or None if missing or not a number."""
    raw = (meta(obj, "annotations") or {}).get(REVISION_ANNOTATION)
    try:
        rev = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return rev if rev >= 0 else None


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


# --- rollout state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rollout:
    """Where a deployment's rollout stands, as ``kubectl rollout status`` would say."""

    desired: int
    ready: int
    updated: int
    available: int
    current: int
    """All pods of all its ReplicaSets (status.replicas): old ones still terminating count here."""
    revision: int | None
    generation: int
    observed: int
    state: str
    """complete | progressing | failed | paused | pending (spec change not yet observed)."""
    message: str = ""
    reason: str = ""


def rollout_of(dep: Mapping[str, Any]) -> Rollout:
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    desired = as_int(spec.get("replicas", 1), 1)
    ready = as_int(status.get("readyReplicas"))
    updated = as_int(status.get("updatedReplicas"))
    available = as_int(status.get("availableReplicas"))
    current = as_int(status.get("replicas"))
    generation = as_int(meta(dep, "generation"))
    observed = as_int(status.get("observedGeneration"))
    progressing = condition(dep, "Progressing") or {}
    reason = str(progressing.get("reason") or "")
    pmsg = str(progressing.get("message") or "")

    def make(state: str, message: str) -> Rollout:
        return Rollout(
            desired, ready, updated, available, current, revision_of(dep),
            generation, observed, state, message, reason,
        )  # fmt: skip

    if spec.get("paused"):
        return make("paused", "rollout paused")
    if generation > observed:
        return make(
            "pending",
            f"spec change not yet observed (generation {generation}, observed {observed})",
        )
    if reason == "ProgressDeadlineExceeded":
        return make("failed", pmsg or "progress deadline exceeded")
    if updated < desired:
        return make("progressing", f"{updated} of {desired} updated replicas")
    if current > updated:
        return make("progressing", f"{current - updated} old replicas pending termination")
    if available < updated:
        return make("progressing", f"{available} of {updated} updated replicas available")
    return make("complete", "")


# --- pods ----------------------------------------------------------------------------------

TROUBLE_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
TROUBLE_TERMINATED = frozenset({"OOMKilled", "Error", "ContainerCannotRun", "DeadlineExceeded"})


@dataclass(frozen=True, slots=True)
class ContainerFacts:
    name: str
    ready: bool
    restarts: int
    waiting: str = ""
    """state.waiting.reason, e.g. CrashLoopBackOff."""
    terminated: str = ""
    """state.terminated.reason (the container is down now), e.g. OOMKilled."""
    last_terminated: str = ""
    """lastState.terminated.reason (why it restarted last), e.g. OOMKilled."""
    last_restart_at: float | None = None
    """When it last stopped (lastState.terminated.finishedAt), epoch seconds."""
    started_at: float | None = None
    init: bool = False
    """An init container: its restarts and trouble count, its readiness does not."""


@dataclass(frozen=True, slots=True)
class PodFacts:
    namespace: str
    name: str
    uid: str
    phase: str
    node: str
    containers: tuple[ContainerFacts, ...]
    started_at: float | None
    terminating: bool = False
    status_reason: str = ""
    """status.reason, e.g. Evicted."""

    @property
    def main(self) -> tuple[ContainerFacts, ...]:
        return tuple(c for c in self.containers if not c.init)

    @property
    def ready_count(self) -> int:
        return sum(c.ready for c in self.main)

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.containers)

    @property
    def ready(self) -> bool:
        return bool(self.main) and all(c.ready for c in self.main)

    @property
    def crash_looping(self) -> bool:
        return any(c.waiting == "CrashLoopBackOff" for c in self.containers)

    @property
    def oom_killed(self) -> bool:
        return any("OOMKilled" in (c.terminated, c.last_terminated) for c in self.containers)

    @property
    def trouble(self) -> str:
        """The most telling reason this pod is in trouble, or '' when it is not."""
        for c in self.containers:
            if c.waiting in TROUBLE_WAITING:
                return c.waiting
        for c in self.containers:
            if c.terminated in TROUBLE_TERMINATED:
                return c.terminated
        if self.oom_killed:
            return "OOMKilled"
        if self.status_reason:
            return self.status_reason
        if self.phase == "Failed":
            return "Failed"
        return ""

    @property
    def reason(self) -> str:
        """What the Reason column shows: trouble first, then waiting, terminating, or ''."""
        if trouble := self.trouble:
            return trouble
        if self.terminating:
            return "Terminating"
        for c in self.containers:
            if c.waiting:
                return c.waiting
        return ""


def _container_facts(cs: Mapping[str, Any], *, init: bool = False) -> ContainerFacts:
    state = cs.get("state") or {}
    last = cs.get("lastState") or {}
    waiting = state.get("waiting") or {}
    term = state.get("terminated") or {}
    last_term = last.get("terminated") or {}
    running = state.get("running") or {}
    return ContainerFacts(
        name=str(cs.get("name") or ""),
        ready=bool(cs.get("ready")),
        restarts=max(0, as_int(cs.get("restartCount"))),
        waiting=str(waiting.get("reason") or ""),
        terminated=str(term.get("reason") or ""),
        last_terminated=str(last_term.get("reason") or ""),
        last_restart_at=parse_time(last_term.get("finishedAt")),
        started_at=parse_time(running.get("startedAt")),
        init=init,
    )


def pod_facts(pod: Mapping[str, Any]) -> PodFacts:
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    facts = [
        _container_facts(cs, init=init)
        for key, init in (("initContainerStatuses", True), ("containerStatuses", False))
        for cs in status.get(key) or []
        if isinstance(cs, Mapping)
    ]
    return PodFacts(
        namespace=str(meta(pod, "namespace") or ""),
        name=str(meta(pod, "name") or ""),
        uid=str(meta(pod, "uid") or ""),
        phase=str(status.get("phase") or "Unknown"),
        node=str(spec.get("nodeName") or ""),
        containers=tuple(facts),
        started_at=parse_time(status.get("startTime"))
        or parse_time(meta(pod, "creationTimestamp")),
        terminating=bool(meta(pod, "deletionTimestamp")),
        status_reason=str(status.get("reason") or ""),
    )


# --- restarts within a window ----------------------------------------------------------------


@dataclass
class RestartTracker:
    """Restarts per container within a sliding window, from what successive probes saw.

    ``restartCount`` only ever grows over a container's life, so once this tracker has
    watched a container for a whole window the answer is exact: now minus the count
    seen at the window's start. Before that it is the best the pod itself tells:

    - its last restart ended before the window started: 0 (exact);
    - the pod started inside the window: every restart counts (exact);
    - otherwise: its average rate over its life, scaled to the window (at least 1, since
      the last restart is inside the window, and never less than what we saw grow).
    """

    window: float
    samples: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)

    def observe(
        self,
        key: str,
        count: int,
        now: float,
        *,
        started_at: float | None = None,
        last_restart_at: float | None = None,
    ) -> int:
        hist = self.samples.setdefault(key, deque())
        if hist and count < hist[-1][1]:
            hist.clear()  # a new container under an old key: start over
        hist.append((now, count))
        start = now - self.window
        while len(hist) >= 2 and hist[1][0] <= start:
            hist.popleft()  # keep only the latest sample at or before the window's start
        if hist[0][0] <= start:
            return count - hist[0][1]
        seen_growth = count - hist[0][1]
        return max(
            seen_growth, estimate_restarts(count, now, self.window, started_at, last_restart_at)
        )

    def forget_older_than(self, cutoff: float) -> None:
        """Drop containers not seen since ``cutoff`` (pods that are gone)."""
        for key in [k for k, h in self.samples.items() if not h or h[-1][0] < cutoff]:
            del self.samples[key]


def estimate_restarts(
    count: int,
    now: float,
    window: float,
    started_at: float | None,
    last_restart_at: float | None,
) -> int:
    """Restarts inside ``[now - window, now]`` from one look at a container (see RestartTracker)."""
    if count <= 0:
        return 0
    start = now - window
    if last_restart_at is not None and last_restart_at < start:
        return 0
    if started_at is None or started_at >= start:
        return count
    age = max(now - started_at, window)
    estimate = math.ceil(count * window / age)
    return max(1 if last_restart_at is not None else 0, min(count, estimate))


# --- assessment ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodView:
    """One pod with its restarts inside the window, as the assessment needs it."""

    facts: PodFacts
    recent_restarts: int


@dataclass(frozen=True, slots=True)
class Assessment:
    status: Status
    notes: tuple[str, ...]
    rollout: Rollout
    recent_restarts: int
    critical: bool = False


def assess_deployment(
    dep: Mapping[str, Any],
    pods: Sequence[PodView],
    *,
    restart_warning: int,
    restart_critical: int,
    window_label: str = "1h",
) -> Assessment:
    """DOWN: none ready of some desired, or the rollout failed. DEGRADED: some not ready,
    a pod restarting more than ``restart_warning`` times in the window, CrashLoopBackOff,
    OOMKilled or another container trouble. Otherwise OK."""
    r = rollout_of(dep)
    status = Status.OK
    notes: list[str] = []
    critical = False
    if r.desired > 0 and r.ready == 0:
        status = Status.DOWN
        notes.append(f"no ready replicas of {r.desired}")
    elif r.ready < r.desired:
        status = Status.DEGRADED
        notes.append(f"{r.desired - r.ready} not ready")
    if r.state == "failed":
        status = Status.DOWN
        notes.append(f"rollout failed: {r.message}")
    elif r.state in ("pending", "paused"):
        notes.append(r.message)
    elif r.state == "progressing" and (r.updated < r.desired or r.current > r.updated):
        notes.append(f"rolling out: {r.message}")  # (unavailable pods alone: "not ready" says it)
    if r.desired == 0:
        notes.append("scaled to 0")

    def names(views: Iterable[PodView]) -> str:
        found = [v.facts.name for v in views]
        return ", ".join(found[:3]) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")

    by_trouble: dict[str, list[PodView]] = {}
    for v in pods:
        if t := v.facts.trouble:
            by_trouble.setdefault(t, []).append(v)
    for trouble, views in sorted(by_trouble.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        status = Status.worst([status, Status.DEGRADED])
        notes.append(f"{trouble}: {names(views)}")
    hot = [v for v in pods if v.recent_restarts > restart_warning]
    if hot:
        status = Status.worst([status, Status.DEGRADED])
        worst = max(v.recent_restarts for v in hot)
        critical = worst > restart_critical
        level = f"> {restart_critical}" if critical else f"> {restart_warning}"
        notes.append(
            f"{'critical ' if critical else ''}restarts {worst} in {window_label} ({level}): {names(hot)}"
        )
    return Assessment(status, tuple(notes), r, sum(v.recent_restarts for v in pods), critical)


@dataclass(frozen=True, slots=True)
class NodeFacts:
    name: str
    ready: str
    """Status of the Ready condition: True, False or Unknown."""
    pressures: tuple[str, ...]
    cordoned: bool
    version: str = ""
    message: str = ""

    @property
    def status(self) -> Status:
        if self.ready != "True":
            return Status.DOWN
        if self.pressures or self.cordoned:
            return Status.DEGRADED
        return Status.OK


PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def node_facts(node: Mapping[str, Any]) -> NodeFacts:
    ready = condition(node, "Ready") or {}
    pressures = tuple(
        kind for kind in PRESSURES if str((condition(node, kind) or {}).get("status")) == "True"
    )
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return NodeFacts(
        name=str(meta(node, "name") or ""),
        ready=str(ready.get("status") or "Unknown"),
        pressures=pressures,
        cordoned=bool((node.get("spec") or {}).get("unschedulable")),
        version=str(info.get("kubeletVersion") or ""),
        message=str(ready.get("message") or "") if ready.get("status") != "True" else "",
    )


# --- API errors ----------------------------------------------------------------------------


def _words(reason: str) -> str:
    """``NotFound`` -> ``not found``; ``Object Not Found`` -> ``object not found``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", reason.strip())
    return " ".join(spaced.split()).lower()


def api_error_line(status: int | None, reason: str | None, body: str | bytes | None) -> str:
    """One line for an API error: ``forbidden: deployments.apps is forbidden: …``.

    Reads a ``kind: Status`` body when there is one; otherwise falls back to the HTTP
    status and the start of whatever came back. Not yet sanitised: the caller cleans it.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    doc: Any = None
    if text.strip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
    if isinstance(doc, Mapping) and (doc.get("message") or doc.get("reason")):
        why = _words(str(doc.get("reason") or reason or f"HTTP {status}"))
        msg = str(doc.get("message") or "").strip()
        return f"{why}: {msg}" if msg else why
    head = (
        f"HTTP {status}" + (f" {reason}" if reason else "") if status else (reason or "API error")
    )
    snippet = " ".join(text.split())[:160]
    return f"{head}: {snippet}" if snippet else head
