"""Looking closer at a Kubernetes workload (issue #15, point 9) through the real client
over real HTTP, against kmock's emulator (see tests/test_kubernetes_backend.py): the
events of the deployment, its ReplicaSets and its pods, chosen by our own selector and
ownership code (the emulator lists every event), and its pods' log tails, merged in
time order, the crash-looping pod's previous run."""

from __future__ import annotations

from typing import Any

from oncall_console.backends.kubernetes import inspect as k8s_inspect
from oncall_console.backends.kubernetes.options import KubernetesCheckParams
from oncall_console.model import CheckSpec
from tests.test_kubernetes_backend import NOW, cluster, executor, iso, make

__all__ = ["cluster", "executor", "make"]  # fixtures

EVENTS = "v1/events"


def spec(**params: Any) -> CheckSpec:
    return CheckSpec("k", "k8s", 15, 5.0, params=KubernetesCheckParams(**params))


def event(
    name: str, kind: str, obj: str, reason: str, message: str, ago: float, **extra: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "prod"},
        "involvedObject": {"kind": kind, "name": obj, "namespace": "prod"},
        "reason": reason,
        "message": message,
        "type": extra.pop("type", "Normal"),
        "lastTimestamp": iso(ago),
        "count": extra.pop("count", 1),
        **extra,
    }


async def test_the_events_of_the_deployment_its_replica_sets_and_its_pods(
    cluster: Any, make: Any
) -> None:
    o = cluster.objects
    o[EVENTS, "prod", "e1"] = event(
        "e1", "Pod", "api-crash", "BackOff", "Back-off restarting\x1b[31m failed [b]c", 30,
        type="Warning", count=12,
    )  # fmt: skip
    o[EVENTS, "prod", "e2"] = event(
        "e2", "Deployment", "api", "ScalingReplicaSet", "Scaled up replica set api-h3 to 3", 600
    )
    o[EVENTS, "prod", "e3"] = event(
        "e3", "ReplicaSet", "api-h3", "FailedCreate", "exceeded quota: pods", 90, type="Warning"
    )
    o[EVENTS, "prod", "e4"] = event("e4", "Pod", "web-1", "Pulled", "not api's", 10)
    o[EVENTS, "prod", "e5"] = event("e5", "ReplicaSet", "api-h9", "Owned", "by another", 5)
    # api-h3 is owned by the deployment (uid-api); api-h9 by someone else
    from tests.test_kubernetes_backend import REPLICASETS, replica_set

    o[REPLICASETS, "prod", "api-h3"] = replica_set("api-h3", "prod", "uid-api", 3, "registry/api:3")
    b = await make(clock=lambda: NOW)
    assert [v.id for v in b.inspect_views(spec(kind="deployment", name="api"))] == [
        "logs",
        "events",
    ]
    found = await b.inspect(spec(kind="deployment", name="api", namespace="prod"), "events")
    rows = found.tables[0].rows
    assert [r[3] for r in rows] == ["pod/api-crash", "replicaset/api-h3", "deployment/api"]
    assert rows[0][:3] == ("30s", "Warning", "BackOff") and rows[0][4] == "12"
    assert rows[0][5] == "Back-off restarting failed [b]c"  # escapes gone, markup literal
    assert "prod/api" in found.note

    # Workloads: every event of the namespace, newest first; nodes: only nodes' events.
    every = await b.inspect(spec(kind="workloads", namespace="prod"), "events")
    assert [r[3] for r in every.tables[0].rows][:2] == ["replicaset/api-h9", "pod/web-1"]
    assert [v.id for v in b.inspect_views(spec(kind="nodes"))] == ["events"]
    o[EVENTS, "prod", "n"] = event("n", "Node", "n2", "NodeNotReady", "Node n2 is not ready", 3)
    nodes = await b.inspect(spec(kind="nodes"), "events")
    assert [r[3] for r in nodes.tables[0].rows] == ["node/n2"]


async def test_the_log_tail_of_the_pods_merged_in_time_order(cluster: Any, make: Any) -> None:
    base = "/api/v1/namespaces/prod/pods"
    cluster[f"get {base}/api-ok/log"] << (
        b"2024-06-01T11:59:01.000000000Z GET /players 200\n"
        b"2024-06-01T11:59:03.000000000Z GET /teams \x1b]0;pwned\x07200 [red]x[/]\n"
    )
    cluster[f"get {base}/api-oom/log"] << b"2024-06-01T11:59:02.000000000Z gc pause 900ms\n"
    cluster[f"get {base}/api-crash/log"] << b"2024-06-01T11:58:00.000000000Z panic: nil map\n"
    cluster[f"get {base}/web-1/log"] << b"2024-06-01T11:59:00.000000000Z not api's\n"
    b = await make()
    found = await b.inspect(spec(kind="deployment", name="api", namespace="prod"), "logs")
    assert list(found.lines) == [
        "api-crash (previous) 2024-06-01T11:58:00.000000000Z panic: nil map",
        "api-ok 2024-06-01T11:59:01.000000000Z GET /players 200",
        "api-oom 2024-06-01T11:59:02.000000000Z gc pause 900ms",
        "api-ok 2024-06-01T11:59:03.000000000Z GET /teams 200 [red]x[/]",
    ]
    assert found.note == "prod · 3 pods · last 100 lines each"


async def test_one_pod_without_a_log_says_so_and_the_others_still_show(
    cluster: Any, make: Any
) -> None:
    base = "/api/v1/namespaces/prod/pods"
    cluster[f"get {base}/api-ok/log"] << 400 << {
        "kind": "Status", "code": 400, "reason": "BadRequest",
        "message": 'container "api" in pod "api-ok" is waiting to start: ContainerCreating',
    }  # fmt: skip
    cluster[f"get {base}/api-oom/log"] << b"2024-06-01T11:59:02Z still here\n"
    cluster[f"get {base}/api-crash/log"] << b""
    b = await make()
    found = await b.inspect(spec(kind="deployment", name="api", namespace="prod"), "logs")
    assert "api-oom 2024-06-01T11:59:02Z still here" in found.lines
    (missing,) = [line for line in found.lines if line.startswith("api-ok")]
    assert "no log" in missing and "waiting to start" in missing


def test_pods_in_trouble_are_read_first_and_the_count_is_bounded() -> None:
    from tests.test_kubernetes_backend import pod

    pods = [pod(f"p{i}", "prod", "api", started_ago=100 * i) for i in range(10)]
    pods.append(pod("bad", "prod", "api", ready=False, waiting="CrashLoopBackOff"))
    chosen = [f.name for f in k8s_inspect.log_pods(pods)]
    assert chosen == ["bad", "p0", "p1", "p2", "p3", "p4"]
