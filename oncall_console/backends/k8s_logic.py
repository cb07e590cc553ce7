"""Kubernetes logic with no IO: label selectors, rollout state, pod trouble, rollback plans.

Everything here works on plain API-shaped dicts (camelCase keys, as the API server
sends them), so it is tested without a cluster. The backend lists objects without
server-side selectors and filters them here; it asks this module which
ReplicaSet revision to roll back to and how to patch; it never lets the server
(or a test double of it) do the thinking.
"""

from __future__ import annotations

import copy
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

# Annotations kubectl does not copy from the ReplicaSet back onto the deployment on undo.
_UNDO_SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)

# --- label selectors ------------------------------------------------------------------------

_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$")
_SPECIAL = "=!(),<>"
_SET_OPS = {"in": "in", "notin": "notin"}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a label selector: ``key op values``."""

    key: str
    op: str
    """One of ``=``, ``!=``, ``in``, ``notin``, ``exists``, ``!`` (does not exist), ``gt``, ``lt``."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            try:
                have, want = int(str(value)), int(self.values[0])
            except (TypeError, ValueError):
                return False
            return have > want if self.op == "gt" else have < want
        raise ValueError(f"unknown selector operator {self.op!r}")  # pragma: no cover

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        if self.op in ("gt", "lt"):
            return f"{self.key}{'>' if self.op == 'gt' else '<'}{self.values[0]}"
        return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class Selector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False
    """A missing ``spec.selector`` selects no pods, as the API server treats it."""

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.matches_nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        if self.matches_nothing:
            return "<none>"
        return ",".join(str(r) for r in self.requirements)


class SelectorError(ValueError):
    """A label selector that cannot be parsed; the message quotes it and says where."""


def _tokens(text: str) -> list[tuple[str, int]]:
    """Split into identifiers and operator tokens, each with its position."""
    out: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            out.append((text[i : i + 2], i))
            i += 2
        elif c in _SPECIAL:
            out.append((c, i))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            out.append((text[start:i], start))
    return out


def _check_key(key: str, text: str, pos: int) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (prefix and DNS_1123_SUBDOMAIN.match(prefix)):
        raise SelectorError(
            f"invalid label selector {text!r}: key {key!r} at position {pos + 1} "
            "has an invalid prefix (a DNS subdomain before '/')"
        )
    if not _LABEL_NAME.match(name):
        raise SelectorError(
            f"invalid label selector {text!r}: {key!r} at position {pos + 1} is not a valid "
            "label key (letters, digits, '-', '_', '.'; at most 63; optional 'prefix/')"
        )


def _check_value(value: str, text: str, pos: int) -> None:
    if not _LABEL_VALUE.match(value):
        raise SelectorError(
            f"invalid label selector {text!r}: {value!r} at position {pos + 1} is not a valid "
            "label value (letters, digits, '-', '_', '.'; at most 63)"
        )


def parse_selector(text: str) -> Selector:
    """Parse kubectl's label selector syntax: ``app=api,tier!=cache,env in (a,b),!legacy,team``.

    Raises :class:`SelectorError` (a ValueError) naming the selector and the position.
    """
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def fail(msg: str, at: int | None = None) -> SelectorError:
        where = f" at position {at + 1}" if at is not None else " at the end"
        return SelectorError(f"invalid label selector {text!r}: {msg}{where}")

    def peek(k: int = 0) -> tuple[str, int] | None:
        return toks[i + k] if i + k < len(toks) else None

    def is_ident(tok: tuple[str, int] | None) -> bool:
        return tok is not None and tok[0] not in ("==", "!=") and tok[0] not in _SPECIAL

    if not toks:
        return Selector()
    while True:
        tok = peek()
        if tok is None:
            raise fail("expected a requirement after ','")
        if tok[0] == "!":
            key_tok = peek(1)
            if not is_ident(key_tok):
                raise fail("expected a label key after '!'", key_tok[1] if key_tok else None)
            assert key_tok is not None
            _check_key(key_tok[0], text, key_tok[1])
            reqs.append(Requirement(key_tok[0], "!"))
            i += 2
        elif is_ident(tok):
            key, key_pos = tok
            _check_key(key, text, key_pos)
            i += 1
            op_tok = peek()
            if op_tok is None or op_tok[0] == ",":
                reqs.append(Requirement(key, "exists"))
            elif op_tok[0] in ("=", "==", "!="):
                i += 1
                val_tok = peek()
                if is_ident(val_tok):
                    assert val_tok is not None
                    _check_value(val_tok[0], text, val_tok[1])
                    value = val_tok[0]
                    i += 1
                elif val_tok is None or val_tok[0] == ",":
                    value = ""  # "app=" selects the empty value, as in Kubernetes
                else:
                    raise fail(f"expected a value after {op_tok[0]!r}", val_tok[1])
                reqs.append(Requirement(key, "!=" if op_tok[0] == "!=" else "=", (value,)))
            elif op_tok[0] in ("<", ">"):
                i += 1
                val_tok = peek()
                if not is_ident(val_tok) or not re.fullmatch(
                    r"-?\d+", val_tok[0] if val_tok else ""
                ):
                    raise fail(
                        f"expected a whole number after {op_tok[0]!r}",
                        val_tok[1] if val_tok else None,
                    )
                assert val_tok is not None
                reqs.append(Requirement(key, "gt" if op_tok[0] == ">" else "lt", (val_tok[0],)))
                i += 1
            elif is_ident(op_tok) and op_tok[0] in _SET_OPS:
                i += 1
                op = _SET_OPS[op_tok[0]]
                paren = peek()
                if paren is None or paren[0] != "(":
                    raise fail(f"expected '(' after {op!r}", paren[1] if paren else None)
                i += 1
                values: list[str] = []
                while True:
                    val_tok = peek()
                    if is_ident(val_tok):
                        assert val_tok is not None
                        _check_value(val_tok[0], text, val_tok[1])
                        values.append(val_tok[0])
                        i += 1
                        val_tok = peek()
                    if val_tok is None:
                        raise fail("expected ')' to close the value list")
                    if val_tok[0] == ")":
                        i += 1
                        break
                    if val_tok[0] != ",":
                        raise fail(f"unexpected {val_tok[0]!r} in the value list", val_tok[1])
                    if not values or not is_ident(peek(1)):
                        nxt = peek(1)
                        raise fail("expected a value in the list", nxt[1] if nxt else None)
                    i += 1
                if not values:
                    raise fail(f"{op!r} needs at least one value", paren[1])
                reqs.append(Requirement(key, op, tuple(dict.fromkeys(values))))
            else:
                raise fail(
                    f"expected an operator (=, ==, !=, in, notin, <, >) or ',' after {key!r}",
                    op_tok[1],
                )
        else:
            raise fail(f"unexpected {tok[0]!r}", tok[1])
        tok = peek()
        if tok is None:
            break
        if tok[0] != ",":
            raise fail(f"expected ',' between requirements, found {tok[0]!r}", tok[1])
        i += 1
    return Selector(tuple(reqs))


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_from_spec(spec: Mapping[str, Any] | None) -> Selector:
    """The selector of a ``metav1.LabelSelector`` (``matchLabels`` + ``matchExpressions``).

    A missing selector matches nothing; an empty one ``{}`` matches everything, as in
    the API server. An unknown operator makes the selector match nothing (never too much).
    """
    if spec is None or not isinstance(spec, Mapping):
        return Selector(matches_nothing=True)
    reqs: list[Requirement] = []
    for key, value in sorted((spec.get("matchLabels") or {}).items()):
        reqs.append(Requirement(str(key), "=", (str(value),)))
    for expr in spec.get("matchExpressions") or []:
        op = _EXPRESSION_OPS.get(str(expr.get("operator", "")))
        if op is None or not expr.get("key"):
            return Selector(matches_nothing=True)
        values = tuple(str(v) for v in expr.get("values") or ())
        if op in ("in", "notin") and not values:
            return Selector(matches_nothing=True)
        reqs.append(Requirement(str(expr["key"]), op, values if op in ("in", "notin") else ()))
    return Selector(tuple(reqs))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


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


# --- rollback ------------------------------------------------------------------------------


class RollbackRefused(ValueError):
    """There is nothing sensible to roll back to; the message says why."""


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    from_revision: int
    to_revision: int
    replica_set: str
    template: dict[str, Any]
    """The target pod template, ``pod-template-hash`` already removed."""
    annotations: dict[str, str]
    """The deployment's annotations after the undo (kubectl copies some from the RS)."""


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    """Whether a controller reference (or any owner reference) of ``obj`` has this uid."""
    if not uid:
        return False
    return any(
        isinstance(ref, Mapping) and ref.get("uid") == uid
        for ref in meta(obj, "ownerReferences") or []
    )


def without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a pod template without the ``pod-template-hash`` label (as kubectl does)."""
    out = copy.deepcopy(dict(template))
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return out


def _by_revision(replica_sets: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Revision -> ReplicaSet; of two claiming one revision, the newest (then the last name) wins."""
    found: dict[int, Mapping[str, Any]] = {}
    keyed = sorted(
        replica_sets,
        key=lambda rs: (
            parse_time(meta(rs, "creationTimestamp")) or 0.0,
            str(meta(rs, "name") or ""),
        ),
    )
    for rs in keyed:
        rev = revision_of(rs)
        if rev is not None and rev > 0:
            found[rev] = rs
    return found


def plan_rollback(
    deployment: Mapping[str, Any],
    replica_sets: Iterable[Mapping[str, Any]],
    to_revision: int | None = None,
) -> RollbackPlan:
    """What ``kubectl rollout undo [--to-revision=N]`` would do, or RollbackRefused.

    Only ReplicaSets whose owner reference carries the deployment's uid count; those
    without a readable revision annotation are ignored. The current revision is the
    highest; "previous" is the next highest that exists (revisions may have gaps).
    """
    name = str(meta(deployment, "name") or "")
    uid = str(meta(deployment, "uid") or "")
    revisions = _by_revision(rs for rs in replica_sets if owned_by(rs, uid))
    if not revisions:
        raise RollbackRefused(f"no rollout history found for deployment {name!r}")
    ordered = sorted(revisions)
    current = ordered[-1]
    if to_revision is None:
        if len(ordered) < 2:
            raise RollbackRefused(
                f"no previous revision of deployment {name!r} to roll back to (only revision {current})"
            )
        target = ordered[-2]
    else:
        if to_revision not in revisions:
            have = ", ".join(str(r) for r in ordered)
            raise RollbackRefused(
                f"revision {to_revision} of deployment {name!r} not found (revisions: {have})"
            )
        target = to_revision
    rs = revisions[target]
    template = without_hash((rs.get("spec") or {}).get("template") or {})
    current_template = without_hash((deployment.get("spec") or {}).get("template") or {})
    if target == current or template == current_template:
        raise RollbackRefused(
            f"deployment {name!r} already runs the template of revision {target}: nothing to undo"
        )
    # As kubectl: keep the deployment's own bookkeeping annotations, take the rest from
    # the ReplicaSet (which got the deployment's annotations of that revision when made).
    annotations = {
        str(k): str(v)
        for k, v in (meta(deployment, "annotations") or {}).items()
        if k in _UNDO_SKIPPED_ANNOTATIONS
    }
    for k, v in (meta(rs, "annotations") or {}).items():
        if k not in _UNDO_SKIPPED_ANNOTATIONS:
            annotations[str(k)] = str(v)
    return RollbackPlan(current, target, str(meta(rs, "name") or ""), template, annotations)


def undo_patch(plan: RollbackPlan) -> list[dict[str, Any]]:
    """The JSON patch (RFC 6902) kubectl sends: replace the template, set the annotations."""
    return [
        {"op": "replace", "path": "/spec/template", "value": plan.template},
        {"op": "add", "path": "/metadata/annotations", "value": plan.annotations},
    ]


_SECRETISH = re.compile(r"(PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE)", re.IGNORECASE)


def _env_view(container: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in container.get("env") or []:
        if not isinstance(e, Mapping) or not e.get("name"):
            continue
        if "value" in e:
            out[str(e["name"])] = str(e.get("value"))
        elif e.get("valueFrom"):
            out[str(e["name"])] = "from " + json.dumps(e["valueFrom"], sort_keys=True)
        else:
            out[str(e["name"])] = ""
    return out


def _containers(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    spec = template.get("spec") or {}
    return {
        str(c.get("name")): c
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        if isinstance(c, Mapping)
    }


def template_diff(current: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    """What changes for people: images and environment, container by container.

    Values of variables whose names look secret are not shown, only that they change.
    """
    lines: list[str] = []
    now, then = _containers(current), _containers(target)
    for name in [*now, *(n for n in then if n not in now)]:
        a, b = now.get(name), then.get(name)
        if a is None:
            lines.append(f"+ container {name}: image {b.get('image', '?') if b else '?'}")
            continue
        if b is None:
            lines.append(f"- container {name} (removed)")
            continue
        if a.get("image") != b.get("image"):
            lines.append(f"  {name}: image {a.get('image')} → {b.get('image')}")
        ea, eb = _env_view(a), _env_view(b)
        for var in [*ea, *(v for v in eb if v not in ea)]:
            if ea.get(var) == eb.get(var):
                continue
            hidden = bool(_SECRETISH.search(var))
            old = "(unset)" if var not in ea else ("…" if hidden else ea[var])
            new = "(unset)" if var not in eb else ("…" if hidden else eb[var])
            lines.append(f"  {name}: env {var} {old} → {new}")
    if not lines and without_hash(current) != without_hash(target):
        lines.append("  (images and environment unchanged; other template fields differ)")
    return lines


# --- other patches -------------------------------------------------------------------------


def restart_patch(stamp: str) -> dict[str, Any]:
    """The strategic-merge patch of ``kubectl rollout restart``."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}}


def choose_container(deployment: Mapping[str, Any], wanted: str | None) -> tuple[int, str]:
    """Index and name of the container to change; with none named, the only one there is."""
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or []
    names = [str(c.get("name")) for c in containers if isinstance(c, Mapping)]
    if wanted is None:
        if len(names) == 1:
            return 0, names[0]
        raise ValueError(f"name the container: this deployment has {', '.join(names) or 'none'}")
    if wanted not in names:
        raise ValueError(f"no container {wanted!r} (containers: {', '.join(names) or 'none'})")
    return names.index(wanted), wanted


def set_env_patch(
    deployment: Mapping[str, Any], container: str | None, variable: str, value: str
) -> tuple[list[dict[str, Any]], str, str | None]:
    """A JSON patch setting one variable of one container, with the old value.

    The patch first tests that the container is still at the index read, so a change
    made in between fails instead of editing the wrong container. Returns
    (patch, container name, previous value or None when unset; a ``valueFrom`` reads
    as ``from {...}``).
    """
    if not ENV_NAME.match(variable):
        raise ValueError(f"{variable!r} is not a valid environment variable name")
    index, name = choose_container(deployment, container)
    c = deployment["spec"]["template"]["spec"]["containers"][index]
    base = f"/spec/template/spec/containers/{index}"
    patch: list[dict[str, Any]] = [{"op": "test", "path": f"{base}/name", "value": name}]
    env = c.get("env")
    entry = {"name": variable, "value": value}
    old = _env_view(c).get(variable) if isinstance(env, list) else None
    if not isinstance(env, list):
        patch.append({"op": "add", "path": f"{base}/env", "value": [entry]})
        return patch, name, None
    for j, e in enumerate(env):
        if isinstance(e, Mapping) and e.get("name") == variable:
            patch.append({"op": "test", "path": f"{base}/env/{j}/name", "value": variable})
            patch.append({"op": "replace", "path": f"{base}/env/{j}", "value": entry})
            return patch, name, old
    patch.append({"op": "add", "path": f"{base}/env/-", "value": entry})
    return patch, name, None


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
