"""The kubernetes backend end to end: the real kubernetes client over real HTTP.

No Kubernetes API server can run here, so kmock's KubernetesEmulator stands in for
one (the ``kmock`` pytest fixture: an aiohttp server on a random local port that
stores objects in memory). It serves GET / LIST / POST / PATCH (JSON merge patch and
RFC 6902 JSON patch) / DELETE of whatever objects it holds, and lets a test replace
any URL's answer (403, 500, garbage, a slow reply). It does not implement label or
field selectors (they are ignored: every object is listed), strategic-merge
semantics (a strategic patch is applied as a plain merge), subresources (a PATCH of
``…/scale`` merges into the deployment itself) or any controller: no rollout, no
ReplicaSets, no pods are made for you. That is why the backend filters by label
selector, follows ownership and chooses the rollback revision in its own code, and
why these tests can prove it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from oncall_console.backends.base import BackendContext
from oncall_console.backends.kubernetes import KubernetesBackend
from oncall_console.backends.kubernetes.objects import POD_TEMPLATE_HASH, RESTARTED_AT_ANNOTATION
from oncall_console.backends.kubernetes.options import KubernetesCheckParams
from oncall_console.engine import ActionRefused, ActionRunner
from oncall_console.model import ActionRequest, CheckResult, CheckSpec, Confirm, Outcome, Status
from oncall_console.store.audit import MemoryAuditLog

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC).timestamp()
DEPLOYMENTS = "apps/v1/deployments"
REPLICASETS = "apps/v1/replicasets"
PODS = "v1/pods"
NODES = "v1/nodes"


def iso(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template(app: str, image: str, pod_hash: str | None = None, **env: str) -> dict[str, Any]:
    labels = {"app": app}
    if pod_hash:
        labels[POD_TEMPLATE_HASH] = pod_hash
    container: dict[str, Any] = {"name": app, "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": {"labels": labels}, "spec": {"containers": [container]}}


def deployment(
    name: str,
    ns: str,
    *,
    replicas: int,
    ready: int,
    revision: int,
    image: str,
    labels: dict[str, str],
    reason: str = "NewReplicaSetAvailable",
    **env: str,
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "generation": 4,
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": labels["app"]}},
            "template": template(labels["app"], image, **env),
        },
        "status": {
            "observedGeneration": 4,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True" if ready else "False"},
                {
                    "type": "Progressing",
                    "status": "False" if reason == "ProgressDeadlineExceeded" else "True",
                    "reason": reason,
                    "message": f'ReplicaSet "{name}-x" {reason}',
                },
            ],
        },
    }


def replica_set(
    name: str, ns: str, owner: str | None, revision: int, image: str, **env: str
) -> dict[str, Any]:
    pod_hash = name.rsplit("-", 1)[-1]
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ns,
        "creationTimestamp": iso(10_000 - revision),
        "labels": {"app": "api", POD_TEMPLATE_HASH: pod_hash},
        "annotations": {"deployment.kubernetes.io/revision": str(revision)},
    }
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": owner}
        ]
    return {
        "metadata": meta,
        "spec": {"template": template("api", image, pod_hash, **env)},
    }


def pod(
    name: str,
    ns: str,
    app: str,
    *,
    ready: bool = True,
    restarts: int = 0,
    started_ago: float = 1800,
    waiting: str | None = None,
    last: str | None = None,
    last_ago: float = 120,
    node: str = "n1",
) -> dict[str, Any]:
    status: dict[str, Any] = {"name": app, "ready": ready, "restartCount": restarts}
    status["state"] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    if last:
        status["lastState"] = {"terminated": {"reason": last, "finishedAt": iso(last_ago)}}
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "labels": {"app": app, POD_TEMPLATE_HASH: "h3"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"{app}-h3", "uid": "rs", "controller": True}
            ],
        },
        "spec": {"nodeName": node},
        "status": {
            "phase": "Running",
            "startTime": iso(started_ago),
            "containerStatuses": [status],
        },
    }


def node(
    name: str, role: str, ready: str = "True", pressure: str | None = None, cordoned: bool = False
) -> dict[str, Any]:
    conditions = [
        {"type": "Ready", "status": ready, "message": "kubelet stopped posting node status"},
        {"type": "MemoryPressure", "status": "False"},
        {"type": "DiskPressure", "status": "True" if pressure == "DiskPressure" else "False"},
        {"type": "PIDPressure", "status": "False"},
    ]
    return {
        "metadata": {"name": name, "labels": {"role": role}},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": "v1.30.1"}},
    }


@pytest.fixture
def cluster(kmock: Any) -> Any:
    """A namespace of deployments, their ReplicaSets and pods, and four nodes."""
    o = kmock.objects
    o[DEPLOYMENTS, "prod", "api"] = deployment(
        "api", "prod", replicas=3, ready=2, revision=3, image="registry/api:3",
        labels={"app": "api", "tier": "backend"}, MODE="fast",
    )  # fmt: skip
    o[DEPLOYMENTS, "prod", "web"] = deployment(
        "web", "prod", replicas=2, ready=2, revision=1, image="registry/web:1",
        labels={"app": "web", "tier": "frontend"},
    )  # fmt: skip
    o[DEPLOYMENTS, "prod", "cache"] = deployment(
        "cache", "prod", replicas=1, ready=0, revision=1, image="redis:7",
        labels={"app": "cache", "tier": "cache", "legacy": "yes"},
    )  # fmt: skip
    o[DEPLOYMENTS, "staging", "worker"] = deployment(
        "worker", "staging", replicas=1, ready=1, revision=2, image="registry/worker:2",
        labels={"app": "worker"}, reason="ProgressDeadlineExceeded",
    )  # fmt: skip
    for rev in (1, 2, 3):
        env = {"MODE": "safe"} if rev == 2 else {"MODE": "fast"}
        o[REPLICASETS, "prod", f"api-h{rev}"] = replica_set(
            f"api-h{rev}", "prod", "uid-api", rev, f"registry/api:{rev}", **env
        )
    # Labelled like api's but owned by someone else, or by nobody: never rollback targets.
    o[REPLICASETS, "prod", "api-h9"] = replica_set("api-h9", "prod", "uid-other", 9, "evil:9")
    o[REPLICASETS, "prod", "api-h8"] = replica_set("api-h8", "prod", None, 8, "evil:8")
    o[REPLICASETS, "prod", "web-h1"] = replica_set("web-h1", "prod", "uid-web", 1, "web:1")
    o[PODS, "prod", "api-ok"] = pod("api-ok", "prod", "api")
    o[PODS, "prod", "api-crash"] = pod(
        "api-crash", "prod", "api", ready=False, restarts=12, waiting="CrashLoopBackOff",
        last="Error",
    )  # fmt: skip
    o[PODS, "prod", "api-oom"] = pod("api-oom", "prod", "api", restarts=4, last="OOMKilled")
    o[PODS, "prod", "web-1"] = pod(
        "web-1", "prod", "web", restarts=50, started_ago=86400 * 3, last="Error", last_ago=86400
    )
    o[PODS, "prod", "web-2"] = pod("web-2", "prod", "web")
    o[NODES, None, "n1"] = node("n1", "web")
    o[NODES, None, "n2"] = node("n2", "web", ready="False")
    o[NODES, None, "n3"] = node("n3", "db", pressure="DiskPressure")
    o[NODES, None, "n4"] = node("n4", "db", cordoned=True)
    return kmock


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.fixture
async def make(executor: ThreadPoolExecutor, kmock: Any) -> AsyncIterator[Any]:
    """Started backends pointed at the emulator; all closed afterwards."""
    made: list[KubernetesBackend] = []

    async def build(
        read_only: bool = False, clock: Any = lambda: NOW, **options: Any
    ) -> KubernetesBackend:
        options.setdefault("host", str(kmock.url).rstrip("/"))
        options.setdefault("namespaces", ["prod", "staging"])
        options.setdefault("timeout", 5)
        opts = KubernetesBackend.Options(**options)
        ctx = BackendContext(executor, clock=clock, read_only=read_only)
        backend = KubernetesBackend("k8s", opts, ctx)
        await backend.start()
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.close()


async def probe(backend: KubernetesBackend, timeout: float = 5.0, **params: Any) -> CheckResult:
    spec = CheckSpec(
        name="k",
        backend="k8s",
        interval=15,
        timeout=timeout,
        params=KubernetesCheckParams(**params),
    )
    return await backend.probe(spec)


def runner(backend: KubernetesBackend, read_only: bool = False) -> ActionRunner:
    return ActionRunner(
        {"k8s": backend}, MemoryAuditLog(), operator="alice", read_only=read_only, clock=lambda: NOW
    )


async def act(backend: KubernetesBackend, action: str, answer: str = "y", **params: Any) -> Any:
    r = runner(backend)
    prepared = await r.prepare(ActionRequest("k8s", action, params))
    result = await r.execute(prepared, answer)
    return prepared, result


def obj(kmock: Any, resource: str, ns: str | None, name: str) -> dict[str, Any]:
    return dict(kmock.objects[resource, ns, name].raw)


# --- probes ------------------------------------------------------------------------------------


async def test_deployment_probe_sees_pods_restarts_crash_loops_and_oom(cluster: Any, make: Any):
    b = await make()
    r = await probe(b, kind="deployment", name="api", namespace="prod")
    assert r.status is Status.DEGRADED, r.summary
    assert r.summary.startswith("2/3 ready · rev 3 · 16 restarts in 1h")
    assert "CrashLoopBackOff: api-crash" in r.summary
    assert "OOMKilled: api-oom" in r.summary
    assert "critical restarts 12 in 1h (> 10): api-crash" in r.summary
    assert r.error is None and r.latency_ms is not None and r.at == NOW
    (table,) = r.tables
    assert table.title == "Pods"
    names = [row[0] for row in table.rows]
    assert names == ["api-crash", "api-oom", "api-ok"]  # trouble first; web pods excluded
    crash = table.rows[0]
    assert crash[1:6] == ("Running", "0/1", "12", "12", "CrashLoopBackOff")
    assert crash[6:] == ("n1", "30m")
    assert r.details["selector"] == "app=api"
    assert r.details["images"] == "api=registry/api:3"
    assert r.details["rollout"] == "progressing: 2 of 3 updated replicas available"
    assert "rolling out" not in r.summary


async def test_deployment_probe_healthy_and_down(cluster: Any, make: Any):
    b = await make()
    web = await probe(b, kind="deployment", name="web", namespace="prod")
    # web-1 restarted 50 times over three days but not lately: not a restart problem.
    assert web.status is Status.OK and web.summary == "2/2 ready · rev 1 · 0 restarts in 1h"
    cache = await probe(b, kind="deployment", name="cache", namespace="prod")
    assert cache.status is Status.DOWN and "no ready replicas of 1" in cache.summary
    worker = await probe(b, kind="deployment", name="worker", namespace="staging")
    assert worker.status is Status.DOWN
    assert 'rollout failed: ReplicaSet "worker-x" ProgressDeadlineExceeded' in worker.summary


async def test_namespace_defaults_to_the_first_configured(cluster: Any, make: Any):
    b = await make(namespaces=["prod"])
    assert (await probe(b, kind="deployment", name="web")).status is Status.OK


async def test_extra_selector_narrows_a_deployments_pods(cluster: Any, make: Any):
    canary = pod("api-canary", "prod", "api")
    canary["metadata"]["labels"]["track"] = "canary"
    cluster.objects[PODS, "prod", "api-canary"] = canary
    b = await make()
    r = await probe(b, kind="deployment", name="api", namespace="prod", selector="track=canary")
    assert [row[0] for row in r.tables[0].rows] == ["api-canary"]


async def test_workloads_filters_by_selector_in_our_code(cluster: Any, make: Any):
    b = await make()
    everything = await probe(b, kind="workloads", namespace="prod")
    assert [row[1] for row in everything.tables[0].rows] == ["api", "cache", "web"]
    assert everything.status is Status.DOWN
    assert everything.summary.startswith("3 deployments · 2 not OK: ")

    r = await probe(b, kind="workloads", namespace="prod", selector="tier!=cache")
    assert [row[1] for row in r.tables[0].rows] == ["api", "web"]
    assert r.status is Status.DEGRADED
    assert [(s.name, s.status) for s in r.substatuses] == [
        ("prod/api", Status.DEGRADED),
        ("prod/web", Status.OK),
    ]
    # The emulator ignored any selector: every deployment went over the wire.
    listed = [req for req in cluster if req.url.path.endswith("/deployments")]
    assert all("labelSelector" not in req.params for req in listed)

    r = await probe(b, kind="workloads", namespace="prod", selector="app in (web, cache),!legacy")
    assert [row[1] for row in r.tables[0].rows] == ["web"] and r.status is Status.OK
    assert r.summary == "1 deployment · all ready"


async def test_workloads_across_namespaces_and_none_matching(cluster: Any, make: Any):
    b = await make()
    r = await probe(b, kind="workloads", selector="app in (web,worker)")
    assert [(row[0], row[1]) for row in r.tables[0].rows] == [
        ("prod", "web"),
        ("staging", "worker"),
    ]
    assert r.status is Status.DOWN
    none = await probe(b, kind="workloads", selector="app=nothing")
    assert none.status is Status.UNKNOWN
    assert none.summary == "no deployments matching 'app=nothing' in prod, staging"


async def test_nodes(cluster: Any, make: Any):
    b = await make()
    r = await probe(b, kind="nodes")
    assert r.status is Status.DOWN
    assert r.summary == ("4 nodes · 3 ready · NotReady: n2 · DiskPressure: n3 · cordoned: n4")
    rows = {row[0]: row for row in r.tables[0].rows}
    assert rows["n2"][1] == "NotReady" and "kubelet stopped" in rows["n2"][5]
    assert rows["n3"][2] == "DiskPressure" and rows["n4"][3] == "no (cordoned)"
    assert r.tables[0].rows[0][0] == "n2"  # worst first
    db = await probe(b, kind="nodes", selector="role=db")
    assert db.status is Status.DEGRADED and [row[0] for row in db.tables[0].rows] == ["n3", "n4"]
    web = await probe(b, kind="nodes", selector="role=web,!gpu")
    assert web.status is Status.DOWN and len(web.tables[0].rows) == 2


async def test_long_lists_are_read_page_by_page(cluster: Any, make: Any):
    page2 = {"metadata": {}, "items": [node("p2", "web")]}
    page1 = {"metadata": {"continue": "tok1"}, "items": [node("p1", "web")]}
    cluster["get /api/v1/nodes?continue=tok1"] << page2
    cluster["get /api/v1/nodes"] << page1
    b = await make()
    r = await probe(b, kind="nodes")
    assert sorted(row[0] for row in r.tables[0].rows) == ["p1", "p2"]
    asked = [req.params for req in cluster if req.url.path == "/api/v1/nodes"]
    assert asked == [{"limit": "500"}, {"limit": "500", "continue": "tok1"}]


async def test_remote_text_is_cleaned(cluster: Any, make: Any):
    evil = pod("api-x", "prod", "api", ready=False, waiting="Crash\x1b[31mLoop\x07")
    evil["metadata"]["name"] = "api-\x1b]0;pwned\x07[bold red]x[/]\x1b[2J"
    cluster.objects[PODS, "prod", "api-x"] = evil
    n1 = node("n1", "web", ready="False")
    n1["status"]["conditions"][0]["message"] = "disk\x1b[5m gone\r\n[link=http://x]y[/link]"
    cluster.objects[NODES, None, "n1"] = n1
    b = await make()
    r = await probe(b, kind="deployment", name="api", namespace="prod")
    cells = [cell for row in r.tables[0].rows for cell in row]
    assert not any("\x1b" in c or "\x07" in c for c in cells)
    assert "api-[bold red]x[/]" in cells  # markup stays literal text, shown as plain text
    assert "\x1b" not in r.summary
    nodes = await probe(b, kind="nodes")
    msg = {row[0]: row[5] for row in nodes.tables[0].rows}["n1"]
    assert msg == "disk gone [link=http://x]y[/link]"


# --- errors -------------------------------------------------------------------------------------


async def test_forbidden_is_one_clean_line(cluster: Any, make: Any):
    (
        cluster["get /apis/apps/v1/namespaces/prod/deployments"]
        << 403
        << {
            "kind": "Status",
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
            "message": 'deployments.apps is forbidden: User "system:serviceaccount:ops:console" '
            'cannot list resource "deployments" in API group "apps" in the namespace "prod"',
        }
    )
    b = await make()
    r = await probe(b, kind="workloads", namespace="prod")
    assert r.status is Status.DOWN
    assert r.summary.startswith("prod: forbidden: deployments.apps is forbidden: User ")
    assert r.error == r.summary and "\n" not in r.summary and "Traceback" not in r.summary


async def test_server_error_with_garbage_html_is_one_clean_line(cluster: Any, make: Any):
    cluster["get /api/v1/namespaces/prod/pods"] << 500 << b"<html>\x1b[31mupstream\n down</html>"
    b = await make()
    r = await probe(b, kind="deployment", name="api", namespace="prod")
    assert r.status is Status.DOWN
    assert r.summary == "HTTP 500 Internal Server Error: <html>upstream down</html>"


async def test_a_body_that_is_not_json_is_down(cluster: Any, make: Any):
    cluster["get /api/v1/nodes"] << b"\x00\x1b[2Jnot json at all"
    b = await make()
    r = await probe(b, kind="nodes")
    assert r.status is Status.DOWN
    assert r.summary == "unreadable answer from the API server (not JSON): not json at all"


async def test_missing_deployment_is_down(cluster: Any, make: Any):
    b = await make()
    r = await probe(b, kind="deployment", name="nope", namespace="prod")
    assert r.status is Status.DOWN
    assert r.summary.startswith("object not found: ")
    assert "\n" not in r.summary and "Traceback" not in r.summary


async def test_a_slow_server_times_out(cluster: Any, make: Any):
    cluster["get /api/v1/nodes"] << (lambda: asyncio.sleep(3))
    b = await make(timeout=0.5)
    r = await probe(b, kind="nodes", timeout=2)
    assert r.status is Status.DOWN and r.summary == "timed out after 0.5 s"


async def test_connection_refused(make: Any):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = await make(host=f"http://127.0.0.1:{port}")
    r = await probe(b, kind="nodes")
    assert r.status is Status.DOWN
    assert r.summary == f"connection refused (http://127.0.0.1:{port})"


async def test_missing_kubeconfig_is_reported_by_each_probe(make: Any, tmp_path: Path):
    b = await make(host=None, kubeconfig=str(tmp_path / "nope"))
    r = await probe(b, kind="nodes")
    assert r.status is Status.DOWN and r.summary == f"kubeconfig {tmp_path / 'nope'} not found"


async def test_kubeconfig_context_and_bearer_token(
    cluster: Any, make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = str(cluster.url).rstrip("/")
    cfg = tmp_path / "config"
    cfg.write_text(
        f"""
apiVersion: v1
kind: Config
current-context: other
clusters:
- name: emu
  cluster: {{server: "{url}"}}
- name: nowhere
  cluster: {{server: "http://127.0.0.1:9"}}
users:
- name: ops
  user: {{token: kube-token}}
contexts:
- name: emu
  context: {{cluster: emu, user: ops}}
- name: other
  context: {{cluster: nowhere, user: ops}}
"""
    )
    b = await make(host=None, kubeconfig=str(cfg), context="emu")
    assert (await probe(b, kind="nodes")).tables[0].rows
    assert list(cluster)[-1].headers["Authorization"] == "Bearer kube-token"

    monkeypatch.setenv("K8S_TEST_TOKEN", "env-token")
    b = await make(token_env="K8S_TEST_TOKEN")
    await probe(b, kind="nodes")
    assert list(cluster)[-1].headers["Authorization"] == "Bearer env-token"
    monkeypatch.delenv("K8S_TEST_TOKEN")
    b = await make(token_env="K8S_TEST_TOKEN")
    r = await probe(b, kind="nodes")
    assert r.summary == "token: environment variable K8S_TEST_TOKEN is not set"


async def test_a_rotated_token_file_is_read_again(cluster: Any, make: Any, tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("one\n")
    now = [NOW]
    b = await make(token_file=str(token), clock=lambda: now[0])
    await probe(b, kind="nodes")
    assert list(cluster)[-1].headers["Authorization"] == "Bearer one"
    token.write_text("two")
    await probe(b, kind="nodes")
    assert list(cluster)[-1].headers["Authorization"] == "Bearer one"  # not every request
    now[0] += 61
    await probe(b, kind="nodes")
    assert list(cluster)[-1].headers["Authorization"] == "Bearer two"


async def test_a_missing_ca_file_is_named(make: Any, tmp_path: Path):
    b = await make(host="https://127.0.0.1:6443", ca_file=str(tmp_path / "ca.pem"))
    r = await probe(b, kind="nodes")
    assert r.status is Status.DOWN and r.summary == f"ca_file {tmp_path / 'ca.pem'} not found"


# --- actions ------------------------------------------------------------------------------------


async def test_rollout_undo_goes_to_the_previous_owned_revision(cluster: Any, make: Any):
    b = await make()
    prepared, result = await act(b, "rollout-undo", deployment="api", namespace="prod")
    preview = prepared.preview
    assert "Roll back deployment prod/api: revision 3 → 2 (ReplicaSet api-h2)" in preview
    assert "  api: image registry/api:3 → registry/api:2" in preview
    assert "  api: env MODE fast → safe" in preview
    assert "like: kubectl rollout undo deployment/api -n prod" in preview
    assert result.outcome is Outcome.SUCCEEDED, result.message
    assert result.message == "rolled back deployment prod/api from revision 3 to 2"
    dep = obj(cluster, DEPLOYMENTS, "prod", "api")
    tpl = dep["spec"]["template"]
    assert tpl["spec"]["containers"][0]["image"] == "registry/api:2"
    assert tpl["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "safe"}]
    assert tpl["metadata"]["labels"] == {"app": "api"}  # pod-template-hash removed
    assert dep["spec"]["replicas"] == 3  # nothing else touched
    patch = [req for req in cluster if req.method == "PATCH"][-1]
    assert patch.headers["Content-Type"] == "application/json-patch+json"


async def test_rollout_undo_to_a_named_revision(cluster: Any, make: Any):
    b = await make()
    _, result = await act(b, "rollout-undo", deployment="api", namespace="prod", revision=1)
    assert result.outcome is Outcome.SUCCEEDED
    dep = obj(cluster, DEPLOYMENTS, "prod", "api")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry/api:1"


async def test_rollout_undo_refuses_without_a_previous_or_owned_revision(cluster: Any, make: Any):
    b = await make()
    with pytest.raises(ActionRefused, match=r"^no previous revision of deployment 'web'"):
        await act(b, "rollout-undo", deployment="web", namespace="prod")
    with pytest.raises(
        ActionRefused, match=r"revision 9 of deployment 'api' not found \(revisions: 1, 2, 3\)"
    ):
        await act(b, "rollout-undo", deployment="api", namespace="prod", revision=9)
    with pytest.raises(ActionRefused, match=r"^cannot prepare: object not found: "):
        await act(b, "rollout-undo", deployment="ghost", namespace="prod")
    # Called directly, around the runner, the backend refuses the same way.
    direct = await b.run(ActionRequest("k8s", "rollout-undo", {"deployment": "web"}))
    assert direct.outcome is Outcome.REFUSED and "no previous revision" in direct.message
    dep = obj(cluster, DEPLOYMENTS, "prod", "api")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry/api:3"
    assert not [req for req in cluster if req.method == "PATCH"]


async def test_rollout_restart_sets_the_annotation(cluster: Any, make: Any):
    b = await make()
    prepared, result = await act(b, "rollout-restart", deployment="web")  # namespace defaulted
    assert '"kubectl.kubernetes.io/restartedAt": "2024-06-01T12:00:00Z"' in prepared.preview
    assert "PATCH /apis/apps/v1/namespaces/prod/deployments/web" in prepared.preview
    assert "application/strategic-merge-patch+json" in prepared.preview
    assert "now: 2/2 ready · rev 1 · rollout complete" in prepared.preview
    # The blast radius: the pods the deployment's selector matches now (our selector code).
    touched = next(line for line in prepared.preview.splitlines() if line.startswith("touches"))
    assert touched == "touches 2 pod(s) now: web-1, web-2"  # the api pods are not touched
    assert result.outcome is Outcome.SUCCEEDED
    annotations = obj(cluster, DEPLOYMENTS, "prod", "web")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations == {RESTARTED_AT_ANNOTATION: "2024-06-01T12:00:00Z"}


async def test_scale_sets_replicas_and_the_runner_refuses_above_max_scale(cluster: Any, make: Any):
    b = await make(max_scale=6)
    prepared, result = await act(b, "scale", deployment="web", namespace="prod", replicas=5)
    assert "Scale deployment prod/web: 2 → 5 replicas." in prepared.preview
    assert result.outcome is Outcome.SUCCEEDED and result.message.endswith("to 5 replicas")
    assert obj(cluster, DEPLOYMENTS, "prod", "web")["spec"]["replicas"] == 5
    with pytest.raises(ActionRefused, match="replicas: must be at most 6"):
        await runner(b).prepare(ActionRequest("k8s", "scale", {"deployment": "web", "replicas": 7}))
    # Called directly, around the runner, the backend still refuses.
    direct = await b.run(ActionRequest("k8s", "scale", {"deployment": "web", "replicas": 7}))
    assert direct.outcome is Outcome.REFUSED
    assert obj(cluster, DEPLOYMENTS, "prod", "web")["spec"]["replicas"] == 5
    prepared, _ = await act(b, "scale", answer="n", deployment="web", replicas=0)
    assert "WARNING: 0 stops every pod" in prepared.preview


async def test_scale_of_a_missing_deployment_fails_in_one_line(cluster: Any, make: Any):
    b = await make()
    _, result = await act(b, "scale", deployment="ghost", namespace="prod", replicas=1)
    assert result.outcome is Outcome.FAILED
    assert result.message.startswith("object not found: ") and "\n" not in result.message


async def test_a_change_without_an_answer_is_not_called_a_failure(cluster: Any, make: Any):
    # The emulator applies the PATCH, then the reply is held back past the timeout.
    cluster["patch /api/v1/nodes/n1"] << (lambda: asyncio.sleep(3))
    b = await make(timeout=0.5)
    _, result = await act(b, "cordon", answer="n1", node="n1")
    assert result.outcome is Outcome.TIMED_OUT
    assert result.message == "timed out after 0.5 s: the change may or may not have been applied"


async def test_a_server_error_on_a_change_fails_in_one_line(cluster: Any, make: Any):
    (
        cluster["patch /apis/apps/v1/namespaces/prod/deployments/web"]
        << 500
        << {
            "kind": "Status",
            "reason": "InternalError",
            "message": "etcdserver: request timed out\n\x1b[31mretry",
        }
    )
    b = await make()
    _, result = await act(b, "rollout-restart", deployment="web", namespace="prod")
    assert result.outcome is Outcome.FAILED
    assert result.message == "internal error: etcdserver: request timed out retry"


async def test_preview_says_when_it_cannot_read_the_current_state(cluster: Any, make: Any):
    b = await make()
    prepared, result = await act(b, "rollout-restart", answer="n", deployment="ghost")
    assert "now: cannot read the deployment: object not found: " in prepared.preview
    assert result.outcome is Outcome.REFUSED  # not confirmed


async def test_delete_pod(cluster: Any, make: Any):
    b = await make()
    prepared, result = await act(b, "delete-pod", pod="api-crash", namespace="prod")
    assert "owned by ReplicaSet api-h3: a new pod replaces it." in prepared.preview
    assert "DELETE /api/v1/namespaces/prod/pods/api-crash" in prepared.preview
    assert result.outcome is Outcome.SUCCEEDED
    assert cluster.objects[PODS, "prod", "api-crash"].deleted
    r = await probe(b, kind="deployment", name="api", namespace="prod")
    assert [row[0] for row in r.tables[0].rows] == ["api-oom", "api-ok"]


async def test_delete_pod_warns_about_a_pod_nothing_will_replace(cluster: Any, make: Any):
    bare = pod("lonely", "prod", "api")
    del bare["metadata"]["ownerReferences"]
    cluster.objects[PODS, "prod", "lonely"] = bare
    b = await make()
    prepared, _ = await act(b, "delete-pod", answer="n", pod="lonely", namespace="prod")
    assert "WARNING: no controller owns this pod: it will NOT come back." in prepared.preview
    assert not cluster.objects[PODS, "prod", "lonely"].deleted


async def test_cordon_needs_the_node_name_typed_and_uncordon_undoes_it(cluster: Any, make: Any):
    b = await make()
    spec = next(s for s in b.actions() if s.id == "cordon")
    assert spec.dangerous and spec.confirm is Confirm.TYPE_TARGET
    prepared, result = await act(b, "cordon", answer="y", node="n1")
    assert prepared.confirm_prompt == "Type 'n1' to confirm"
    assert result.outcome is Outcome.REFUSED
    assert "unschedulable" not in obj(cluster, NODES, None, "n1")["spec"]
    prepared, result = await act(b, "cordon", answer="n1", node="n1")
    assert "Cordon node n1: no new pods are scheduled on it" in prepared.preview
    assert '"unschedulable": true' in prepared.preview
    assert result.outcome is Outcome.SUCCEEDED
    assert obj(cluster, NODES, None, "n1")["spec"]["unschedulable"] is True
    _, result = await act(b, "uncordon", node="n1")
    assert result.outcome is Outcome.SUCCEEDED
    assert obj(cluster, NODES, None, "n1")["spec"]["unschedulable"] is False


async def test_node_names_with_dots_are_accepted_and_junk_is_refused(cluster: Any, make: Any):
    cluster.objects[NODES, None, "ip-10-0-0-1.ec2.internal"] = node("x", "web")
    b = await make()
    _, result = await act(
        b, "cordon", answer="ip-10-0-0-1.ec2.internal", node="ip-10-0-0-1.ec2.internal"
    )
    assert result.outcome is Outcome.SUCCEEDED
    with pytest.raises(ActionRefused, match=r"^node: '\.\./x' is not a valid name"):
        await act(b, "cordon", answer="../x", node="../x")


async def test_set_env_only_for_allowlisted_variables(cluster: Any, make: Any):
    assert "set-env" not in {s.id for s in (await make()).actions()}
    b = await make(env_allowlist=["MODE", "FEATURE_X"])
    spec = next(s for s in b.actions() if s.id == "set-env")
    assert next(p for p in spec.params if p.name == "variable").choices == ("MODE", "FEATURE_X")
    prepared, result = await act(
        b, "set-env", deployment="api", namespace="prod", variable="MODE", value="slow"
    )
    assert "Set MODE on container api of deployment prod/api: fast → slow" in prepared.preview
    assert result.outcome is Outcome.SUCCEEDED
    _, result = await act(
        b, "set-env", deployment="api", namespace="prod", variable="FEATURE_X", value="on"
    )
    assert result.outcome is Outcome.SUCCEEDED
    env = obj(cluster, DEPLOYMENTS, "prod", "api")["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert env == [{"name": "MODE", "value": "slow"}, {"name": "FEATURE_X", "value": "on"}]
    with pytest.raises(ActionRefused, match="variable: must be one of MODE, FEATURE_X"):
        await runner(b).prepare(
            ActionRequest(
                "k8s", "set-env", {"deployment": "api", "variable": "PATH", "value": "/x"}
            )
        )
    with pytest.raises(ActionRefused, match="no container 'nope' \\(containers: api\\)"):
        await act(b, "set-env", deployment="api", container="nope", variable="MODE", value="x")


async def test_actions_only_touch_configured_namespaces(cluster: Any, make: Any):
    b = await make(namespaces=["prod"])
    with pytest.raises(ActionRefused, match=r"^namespace 'staging' is not one this backend"):
        await act(b, "rollout-restart", deployment="worker", namespace="staging")
    direct = await b.run(
        ActionRequest("k8s", "rollout-restart", {"deployment": "worker", "namespace": "staging"})
    )
    assert direct.outcome is Outcome.REFUSED
    assert (
        "annotations"
        not in obj(cluster, DEPLOYMENTS, "staging", "worker")["spec"]["template"]["metadata"]
    )


async def test_read_only_is_refused_by_the_runner(cluster: Any, make: Any):
    b = await make()
    scale = ActionRequest("k8s", "scale", {"deployment": "web", "replicas": 1})
    with pytest.raises(ActionRefused, match="read-only"):
        await runner(b, read_only=True).prepare(scale)
    refused = await runner(b, read_only=True).execute(await runner(b).prepare(scale), "y")
    assert refused.outcome is Outcome.REFUSED and "read-only" in refused.message
    assert obj(cluster, DEPLOYMENTS, "prod", "web")["spec"]["replicas"] == 2


async def test_every_change_is_audited(cluster: Any, make: Any):
    b = await make()
    audit = MemoryAuditLog()
    r = ActionRunner({"k8s": b}, audit, operator="alice", read_only=False, clock=lambda: NOW)
    prepared = await r.prepare(ActionRequest("k8s", "uncordon", {"node": "n4"}))
    await r.execute(prepared, "y")
    (entry,) = audit.entries()
    assert (entry.operator, entry.target, entry.outcome) == ("alice", "n4", Outcome.SUCCEEDED)
    assert "PATCH /api/v1/nodes/n4" in entry.preview


# --- options ------------------------------------------------------------------------------------


def test_options_and_params_validation():
    with pytest.raises(ValidationError, match="set host or in_cluster, not both"):
        KubernetesBackend.Options(host="https://k", in_cluster=True)
    with pytest.raises(ValidationError, match="token_env / token_file apply only with host"):
        KubernetesBackend.Options(token_env="T")
    with pytest.raises(ValidationError, match="not a valid namespace"):
        KubernetesBackend.Options(namespaces=["Prod"])
    with pytest.raises(ValidationError, match="not a valid environment variable"):
        KubernetesBackend.Options(env_allowlist=["A-B"])
    with pytest.raises(ValidationError, match="is not a duration"):
        KubernetesBackend.Options(restart_window="soon")
    with pytest.raises(ValidationError, match="needs the deployment's name"):
        KubernetesCheckParams(kind="deployment")
    with pytest.raises(ValidationError, match=r"expected '\(' after 'in' at position 6"):
        KubernetesCheckParams(kind="workloads", selector="a in b")
    with pytest.raises(ValidationError, match="restart_warning must not exceed"):
        KubernetesCheckParams(kind="nodes", restart_warning=5, restart_critical=2)


def test_scale_bound_comes_from_options():
    b = KubernetesBackend(
        "k", KubernetesBackend.Options(max_scale=7), BackendContext(ThreadPoolExecutor(1))
    )
    spec = next(s for s in b.actions() if s.id == "scale")
    replicas = next(p for p in spec.params if p.name == "replicas")
    assert (replicas.minimum, replicas.maximum) == (0, 7)
    ns = next(p for p in spec.params if p.name == "namespace")
    assert (ns.kind, ns.default, ns.required) == ("name", "default", False)
    assert all(s.verify_check == "" for s in b.actions())


# --- a runbook's `kubectl get pods`, answered read-only (#17, point 4) -----------------------------


async def test_a_runbooks_kubectl_get_pods_is_answered_from_the_api(cluster: Any, make: Any):
    b = await make()
    table = await b.diagnose("kubectl", "$ kubectl -n prod get pods -l app=api -o wide")
    assert table.title == "Pods"
    assert [row[0] for row in table.rows] == ["api-crash", "api-oom", "api-ok"]
    one = await b.diagnose("kubectl", "oc get pod api-oom --namespace=prod")
    assert [row[0] for row in one.rows] == ["api-oom"]
    everywhere = await b.diagnose("kubectl", "kubectl get po -A")
    assert len(everywhere.rows) == 5  # prod's five; staging has none
    default = await b.diagnose("kubectl", "kubectl get pods web-2")  # the first namespace
    assert [row[0] for row in default.rows] == ["web-2"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("kubectl -n prod delete pod api-ok", "only 'kubectl get pods"),
        ("kubectl get deployments", "only 'kubectl get pods"),
        ("kubectl -n prod get pods $POD", "no pipes or substitutions"),
        ("kubectl get pods | grep api", "no pipes or substitutions"),
        ("kubectl get pods --context other", "option '--context' is not understood"),
        (
            "kubectl -n kube-system get pods",
            "namespace 'kube-system' is not one this backend reads",
        ),
        ("kubectl get pods\nkubectl get nodes", "one command at a time"),
        ("rm -rf /", "only 'kubectl get pods"),
    ],
)
async def test_anything_else_is_refused_in_one_line(cluster: Any, make: Any, line: str, why: str):
    from oncall_console.backends.kubernetes.diagnose import KubectlRefused

    b = await make()
    with pytest.raises(KubectlRefused, match=why.replace("(", r"\(").replace("$", r"\$")):
        await b.diagnose("kubectl", line)
    assert obj(cluster, PODS, "prod", "api-ok")["metadata"]["name"] == "api-ok"  # untouched


async def test_a_rows_actions_are_those_of_what_it_watches(make: Any) -> None:
    """Cordon on a deployment's row, a rollback on the nodes' row: offered before, as
    every action of the backend was; the runner keeps what ``applies``."""
    b = await make()
    r = runner(b)

    def ids(**params: Any) -> set[str]:
        spec = CheckSpec("k", "k8s", 15, 5, params=KubernetesCheckParams(**params))
        return {s.id for _, s in r.available("k8s", spec)}

    deployment_ids = {"rollout-restart", "rollout-undo", "scale", "delete-pod"}
    assert deployment_ids <= ids(kind="deployment", name="api")
    assert not {"cordon", "uncordon"} & ids(kind="deployment", name="api")
    assert deployment_ids <= ids(kind="workloads", selector="tier=backend")
    assert ids(kind="nodes") == {"cordon", "uncordon"}
    assert {s.id for _, s in r.available("k8s")} >= deployment_ids | {"cordon"}
