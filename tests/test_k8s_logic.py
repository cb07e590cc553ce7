"""Pure Kubernetes logic: label selectors, rollout state, pod trouble, restarts, rollback plans."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oncall_console.backends.kubernetes import objects, patches, selectors
from oncall_console.model import Status

# --- label selectors ----------------------------------------------------------------------


LABELS = {"app": "api", "tier": "backend", "env": "prod", "team": "core", "version": "7"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=api", True),
        ("app==api", True),
        ("app=web", False),
        ("app!=web", True),
        ("app!=api", False),
        ("missing!=x", True),  # != matches when the label is absent, as in Kubernetes
        ("env in (prod,staging)", True),
        ("env in (staging)", False),
        ("missing in (a)", False),
        ("env notin (dev,qa)", True),
        ("env notin (prod)", False),
        ("missing notin (a)", True),
        ("team", True),
        ("missing", False),
        ("!legacy", True),
        ("!team", False),
        ("version>5", True),
        ("version<5", False),
        ("app>5", False),  # a non-number never compares
        ("app=api,tier!=cache,env in (prod,staging),!legacy,team", True),
        ("app=api,tier=cache", False),
        ("  app = api ,  env   in(  prod , qa )  ,! legacy ", True),
        ("example.com/owner!=x", True),
        ("missing=", False),
    ],
)
def test_selector_matching(selector: str, matches: bool) -> None:
    assert selectors.parse_selector(selector).matches(LABELS) is matches


def test_selector_empty_value_matches_the_empty_label() -> None:
    assert selectors.parse_selector("flag=").matches({"flag": ""})
    assert not selectors.parse_selector("flag=").matches({})


def test_selector_renders_back_in_canonical_form() -> None:
    text = "app=api,tier!=cache,env in (prod,staging),!legacy,team,version>3"
    assert str(selectors.parse_selector(text)) == text


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ("app in prod", "expected '(' after 'in' at position 8"),
        ("app in (prod", "expected ')' to close the value list at the end"),
        ("app in ()", "'in' needs at least one value"),
        ("app in (a,,b)", "expected a value in the list"),
        ("app in (a b)", "unexpected 'b' in the value list at position 11"),
        ("app=api,", "expected a requirement after ','"),
        (",app", "unexpected ','"),
        ("app api", "expected an operator"),
        ("app=api tier=x", "expected ',' between requirements"),
        ("!", "expected a label key after '!'"),
        ("app=(x)", "expected a value after '='"),
        ("app>x", "expected a whole number after '>'"),
        ("bad key=x", "expected an operator"),
        ("-app=x", "is not a valid label key"),
        ("app=-x", "is not a valid label value"),
        ("a" * 64 + "=x", "is not a valid label key"),
        ("Bad_Prefix!/app=x", "after 'Bad_Prefix' at position 11"),
        ("UPPER.com/app=x", "invalid prefix"),
    ],
)
def test_selector_syntax_errors_say_what_and_where(selector: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        selectors.parse_selector(selector)
    assert fragment in str(info.value)
    assert repr(selector) in str(info.value)


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@given(st.dictionaries(_label, _label, max_size=6), st.dictionaries(_label, _label, max_size=6))
def test_equality_selector_from_labels_matches_exactly_the_supersets(
    wanted: dict[str, str], labels: dict[str, str]
) -> None:
    sel = selectors.parse_selector(",".join(f"{k}={v}" for k, v in wanted.items()))
    assert sel.matches(labels) == all(labels.get(k) == v for k, v in wanted.items())
    assert sel.matches({**labels, **wanted})


@given(st.lists(st.tuples(_label, st.sampled_from(["=", "!=", "in", "notin", "", "!"]), _label)))
def test_rendered_selector_parses_to_the_same_selector(
    terms: list[tuple[str, str, str]],
) -> None:
    parts = []
    for key, op, value in terms:
        if op in ("in", "notin"):
            parts.append(f"{key} {op} ({value})")
        elif op == "!":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key}{op}{value}" if op else key)
    sel = selectors.parse_selector(",".join(parts))
    assert selectors.parse_selector(str(sel)) == sel


@given(st.text(max_size=30))
def test_parser_only_ever_raises_value_error(text: str) -> None:
    try:
        selectors.parse_selector(text)
    except ValueError:
        pass


def test_selector_from_a_label_selector_spec() -> None:
    spec = {
        "matchLabels": {"app": "api"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["backend", "worker"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "team", "operator": "Exists"},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
        ],
    }
    sel = selectors.selector_from_spec(spec)
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "legacy": "1"})
    assert not sel.matches({**LABELS, "tier": "cache"})
    assert not sel.matches({k: v for k, v in LABELS.items() if k != "team"})


def test_a_missing_or_broken_spec_selects_nothing_and_an_empty_one_everything() -> None:
    assert not selectors.selector_from_spec(None).matches(LABELS)
    assert selectors.selector_from_spec({}).matches(LABELS)
    weird = {"matchExpressions": [{"key": "a", "operator": "Near", "values": ["x"]}]}
    assert not selectors.selector_from_spec(weird).matches(LABELS)
    empty_in = {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}
    assert not selectors.selector_from_spec(empty_in).matches({"a": "x"})


# --- rollout state ------------------------------------------------------------------------


def deployment(
    replicas: int = 3,
    ready: int = 3,
    updated: int | None = None,
    available: int | None = None,
    total: int | None = None,
    generation: int = 2,
    observed: int = 2,
    reason: str = "NewReplicaSetAvailable",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "api",
            "uid": "uid-api",
            "generation": generation,
            "annotations": {objects.REVISION_ANNOTATION: "7"},
        },
        "spec": {"replicas": replicas, **extra},
        "status": {
            "observedGeneration": observed,
            "replicas": total if total is not None else replicas,
            "readyReplicas": ready,
            "updatedReplicas": updated if updated is not None else replicas,
            "availableReplicas": available if available is not None else ready,
            "conditions": [
                {"type": "Progressing", "status": "True", "reason": reason, "message": "m"}
            ],
        },
    }


@pytest.mark.parametrize(
    ("dep", "state", "message"),
    [
        (deployment(), "complete", ""),
        (deployment(generation=3, observed=2), "pending", "generation 3, observed 2"),
        (deployment(reason="ProgressDeadlineExceeded"), "failed", "m"),
        (deployment(updated=1), "progressing", "1 of 3 updated replicas"),
        (deployment(total=5), "progressing", "2 old replicas pending termination"),
        (deployment(available=2, ready=2), "progressing", "2 of 3 updated replicas available"),
        (deployment(paused=True), "paused", "rollout paused"),
    ],
)
def test_rollout_state(dep: dict[str, Any], state: str, message: str) -> None:
    r = objects.rollout_of(dep)
    assert r.state == state
    assert message in r.message
    assert r.revision == 7


def test_rollout_of_a_bare_object_defaults_to_one_replica_none_ready() -> None:
    r = objects.rollout_of({"metadata": {"name": "x"}})
    assert (r.desired, r.ready, r.revision) == (1, 0, None)


# --- pods ------------------------------------------------------------------------------------


def pod(name: str = "api-1", *containers: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "prod", "uid": f"uid-{name}"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running", "containerStatuses": list(containers), **status},
    }


def cs(name: str = "app", ready: bool = True, restarts: int = 0, **state: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, **state}


def test_crash_loop_and_oom_are_classified() -> None:
    crash = objects.pod_facts(
        pod("a", cs(ready=False, restarts=12, state={"waiting": {"reason": "CrashLoopBackOff"}}))
    )
    assert crash.crash_looping and crash.trouble == "CrashLoopBackOff" and not crash.ready
    oom = objects.pod_facts(
        pod(
            "b",
            cs(restarts=4, lastState={"terminated": {"reason": "OOMKilled"}}),
        )
    )
    assert oom.oom_killed and oom.trouble == "OOMKilled" and oom.ready
    fine = objects.pod_facts(pod("c", cs(), cs("sidecar")))
    assert fine.trouble == "" and fine.ready and fine.ready_count == 2


def test_pull_errors_evictions_and_terminating_pods() -> None:
    pull = objects.pod_facts(
        pod("a", cs(ready=False, state={"waiting": {"reason": "ErrImagePull"}}))
    )
    assert pull.trouble == "ErrImagePull"
    evicted = objects.pod_facts(pod("b", phase="Failed", reason="Evicted"))
    assert evicted.trouble == "Evicted"
    creating = objects.pod_facts(
        pod("c", cs(ready=False, state={"waiting": {"reason": "ContainerCreating"}}))
    )
    assert creating.trouble == "" and creating.reason == "ContainerCreating"
    gone = objects.pod_facts(pod("d", cs()))
    gone_obj = pod("d", cs())
    gone_obj["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert objects.pod_facts(gone_obj).reason == "Terminating" and gone.reason == ""


def test_init_containers_count_restarts_but_not_readiness() -> None:
    p = pod(
        "a",
        cs(),
        initContainerStatuses=[
            cs("init", ready=False, restarts=2, state={"terminated": {"reason": "Completed"}})
        ],
    )
    f = objects.pod_facts(p)
    assert f.ready and f.ready_count == 1 and f.restarts == 2 and f.trouble == ""


# --- restarts within a window ------------------------------------------------------------------

H = 3600.0


def test_estimate_from_one_look() -> None:
    now = 100 * H
    # Last restart ended before the window: none inside it, whatever the count.
    assert objects.estimate_restarts(50, now, H, now - 10 * H, now - 2 * H) == 0
    # The pod started inside the window: every restart is inside it.
    assert objects.estimate_restarts(7, now, H, now - 0.5 * H, now - 60) == 7
    # Older pod, recent restart: its average rate, at least one.
    assert objects.estimate_restarts(240, now, H, now - 24 * H, now - 60) == 10
    assert objects.estimate_restarts(2, now, H, now - 24 * H, now - 60) == 1
    assert objects.estimate_restarts(0, now, H, now - 24 * H, None) == 0


def test_tracker_becomes_exact_after_a_whole_window() -> None:
    t = objects.RestartTracker(window=H)
    start = 10 * H
    born = start - 24 * H
    # First look: old pod, last restart long ago -> 0.
    assert t.observe("p/c", 5, start, started_at=born, last_restart_at=born) == 0
    # It starts crashing: growth seen is counted even before a whole window passed.
    assert t.observe("p/c", 9, start + 600, started_at=born, last_restart_at=start + 590) >= 4
    # A window after the first look: exactly the growth since the window's start.
    assert t.observe("p/c", 12, start + H + 1, started_at=born, last_restart_at=start + H) == 7
    # Two windows later with no new restarts: 0.
    later = start + 3 * H
    assert t.observe("p/c", 12, later, started_at=born, last_restart_at=start + H) == 0


def test_tracker_starts_over_when_the_count_drops_and_forgets_old_pods() -> None:
    t = objects.RestartTracker(window=H)
    t.observe("p/c", 9, 0.0, started_at=0.0)
    assert t.observe("p/c", 1, 60.0, started_at=30.0, last_restart_at=50.0) == 1
    t.forget_older_than(120.0)
    assert "p/c" not in t.samples


@given(
    st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40),
    st.floats(min_value=1, max_value=900),
)
def test_tracker_never_counts_more_than_the_pod_ever_restarted(
    steps: list[int], gap: float
) -> None:
    t = objects.RestartTracker(window=H)
    count, now = 0, 0.0
    for step in steps:
        count += step
        now += gap
        got = t.observe("k", count, now, started_at=0.0, last_restart_at=now if step else None)
        assert 0 <= got <= count


# --- assessment -----------------------------------------------------------------------------


def views(*specs: tuple[dict[str, Any], int]) -> list[objects.PodView]:
    return [objects.PodView(objects.pod_facts(p), recent) for p, recent in specs]


def assess(dep: dict[str, Any], pods: list[objects.PodView]) -> objects.Assessment:
    return objects.assess_deployment(dep, pods, restart_warning=3, restart_critical=10)


def test_assessment_statuses() -> None:
    ok = views((pod("a", cs()), 0), (pod("b", cs()), 3))
    assert assess(deployment(), ok).status is Status.OK
    assert assess(deployment(ready=0), ok).status is Status.DOWN
    assert assess(deployment(reason="ProgressDeadlineExceeded"), ok).status is Status.DOWN
    assert assess(deployment(ready=2), ok).status is Status.DEGRADED
    assert assess(deployment(replicas=0, ready=0), []).status is Status.OK


def test_restart_thresholds_and_trouble_degrade() -> None:
    warm = assess(deployment(), views((pod("a", cs(restarts=4)), 4)))
    assert warm.status is Status.DEGRADED and not warm.critical
    assert any("restarts 4 in 1h (> 3): a" in n for n in warm.notes)
    hot = assess(deployment(), views((pod("a", cs(restarts=11)), 11)))
    assert hot.status is Status.DEGRADED and hot.critical
    assert any(n.startswith("critical restarts 11") for n in hot.notes)
    oom = assess(
        deployment(),
        views((pod("b", cs(lastState={"terminated": {"reason": "OOMKilled"}})), 1)),
    )
    assert oom.status is Status.DEGRADED and "OOMKilled: b" in oom.notes


# --- nodes -----------------------------------------------------------------------------------


def node(name: str, ready: str = "True", *pressures: str, cordoned: bool = False) -> dict[str, Any]:
    conds = [{"type": "Ready", "status": ready, "message": "kubelet stopped"}]
    conds += [{"type": p, "status": "True"} for p in pressures]
    conds += [{"type": "PIDPressure", "status": "False"}]
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": cordoned},
        "status": {"conditions": conds},
    }


def test_node_statuses() -> None:
    assert objects.node_facts(node("a")).status is Status.OK
    assert objects.node_facts(node("b", "False")).status is Status.DOWN
    assert objects.node_facts(node("b", "Unknown")).status is Status.DOWN
    disk = objects.node_facts(node("c", "True", "DiskPressure"))
    assert disk.status is Status.DEGRADED and disk.pressures == ("DiskPressure",)
    assert objects.node_facts(node("d", cordoned=True)).status is Status.DEGRADED
    assert (
        objects.node_facts({"metadata": {"name": "e"}}).status is Status.DOWN
    )  # no Ready: unknown


# --- rollback ----------------------------------------------------------------------------------


def rs(
    name: str,
    revision: str | None,
    image: str,
    owner: str = "uid-api",
    created: str = "2024-01-01T00:00:00Z",
    **annotations: str,
) -> dict[str, Any]:
    ann = dict(annotations)
    if revision is not None:
        ann[objects.REVISION_ANNOTATION] = revision
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "annotations": ann,
            "ownerReferences": [{"kind": "Deployment", "uid": owner, "controller": True}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "api", objects.POD_TEMPLATE_HASH: name[-4:]}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            }
        },
    }


def dep_running(image: str) -> dict[str, Any]:
    d = deployment()
    d["spec"]["template"] = {
        "metadata": {"labels": {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": image}]},
    }
    return d


def test_previous_revision_is_the_next_highest_even_across_gaps() -> None:
    sets = [
        rs("api-aaa1", "1", "api:1"),
        rs("api-aaa3", "3", "api:3"),
        rs("api-aaa7", "7", "api:7"),
    ]
    plan = patches.plan_rollback(dep_running("api:7"), sets)
    assert (plan.from_revision, plan.to_revision, plan.replica_set) == (7, 3, "api-aaa3")
    assert plan.template["spec"]["containers"][0]["image"] == "api:3"


def test_named_revision_and_missing_one() -> None:
    sets = [
        rs("api-aaa1", "1", "api:1"),
        rs("api-aaa2", "2", "api:2"),
        rs("api-aaa3", "3", "api:3"),
    ]
    assert patches.plan_rollback(dep_running("api:3"), sets, 1).to_revision == 1
    with pytest.raises(
        patches.RollbackRefused, match=r"revision 5 .* not found \(revisions: 1, 2, 3\)"
    ):
        patches.plan_rollback(dep_running("api:3"), sets, 5)


def test_only_owned_replica_sets_with_readable_revisions_count() -> None:
    sets = [
        rs("api-aaa1", "1", "api:1"),
        rs("api-aaa2", "2", "api:2"),
        rs("other-bbb9", "9", "other:9", owner="uid-other"),
        rs("api-ccc8", "eight", "api:8"),
        rs("api-ddd6", None, "api:6"),
    ]
    plan = patches.plan_rollback(dep_running("api:2"), sets)
    assert (plan.from_revision, plan.to_revision) == (2, 1)


def test_refusals() -> None:
    with pytest.raises(patches.RollbackRefused, match="no rollout history"):
        patches.plan_rollback(dep_running("api:1"), [rs("x-1111", "1", "x", owner="someone")])
    with pytest.raises(patches.RollbackRefused, match="no previous revision"):
        patches.plan_rollback(dep_running("api:1"), [rs("api-aaa1", "1", "api:1")])
    sets = [rs("api-aaa1", "1", "api:1"), rs("api-aaa2", "2", "api:2")]
    with pytest.raises(patches.RollbackRefused, match="already runs the template of revision 2"):
        patches.plan_rollback(dep_running("api:2"), sets, 2)
    with pytest.raises(patches.RollbackRefused, match="already runs the template of revision 1"):
        patches.plan_rollback(dep_running("api:1"), sets)  # rolled back already: nothing to undo
    unowned = dep_running("api:2")
    del unowned["metadata"]["uid"]
    with pytest.raises(patches.RollbackRefused, match="no rollout history"):
        patches.plan_rollback(unowned, sets)


def test_two_replica_sets_claiming_one_revision_the_newest_wins() -> None:
    sets = [
        rs("api-new2", "2", "api:2-new", created="2024-02-01T00:00:00Z"),
        rs("api-old2", "2", "api:2-old", created="2024-01-01T00:00:00Z"),
        rs("api-aaa3", "3", "api:3", created="2024-03-01T00:00:00Z"),
    ]
    plan = patches.plan_rollback(dep_running("api:3"), sets)
    assert plan.replica_set == "api-new2"


def test_undo_patch_drops_the_pod_template_hash_and_keeps_bookkeeping() -> None:
    sets = [
        rs("api-aaa1", "1", "api:1", **{"kubernetes.io/change-cause": "deploy 1"}),
        rs("api-aaa2", "2", "api:2"),
    ]
    dep = dep_running("api:2")
    dep["metadata"]["annotations"]["note"] = "dropped, as kubectl drops it"
    plan = patches.plan_rollback(dep, sets)
    patch = patches.undo_patch(plan)
    assert patch[0]["op"] == "replace" and patch[0]["path"] == "/spec/template"
    assert objects.POD_TEMPLATE_HASH not in patch[0]["value"]["metadata"]["labels"]
    assert patch[0]["value"]["metadata"]["labels"] == {"app": "api"}
    assert sets[0]["spec"]["template"]["metadata"]["labels"][
        objects.POD_TEMPLATE_HASH
    ]  # not mutated
    assert patch[1] == {
        "op": "add",
        "path": "/metadata/annotations",
        "value": {objects.REVISION_ANNOTATION: "7", "kubernetes.io/change-cause": "deploy 1"},
    }
    json.dumps(patch)  # sendable as is


def test_template_diff_shows_images_and_env_and_hides_secret_values() -> None:
    a = {
        "spec": {
            "containers": [
                {
                    "name": "api",
                    "image": "api:3",
                    "env": [
                        {"name": "MODE", "value": "fast"},
                        {"name": "DB_PASSWORD", "value": "hunter2"},
                        {"name": "GONE", "value": "1"},
                    ],
                },
                {"name": "sidecar", "image": "envoy:1"},
            ]
        }
    }
    b = {
        "spec": {
            "containers": [
                {
                    "name": "api",
                    "image": "api:2",
                    "env": [
                        {"name": "MODE", "value": "safe"},
                        {"name": "DB_PASSWORD", "value": "old-secret"},
                    ],
                }
            ]
        }
    }
    lines = patches.template_diff(a, b)
    assert "  api: image api:3 → api:2" in lines
    assert "  api: env MODE fast → safe" in lines
    assert "  api: env DB_PASSWORD … → …" in lines
    assert "  api: env GONE 1 → (unset)" in lines
    assert "- container sidecar (removed)" in lines
    assert not any("hunter2" in line or "old-secret" in line for line in lines)


# --- other patches ------------------------------------------------------------------------------


def test_restart_patch() -> None:
    assert patches.restart_patch("2024-05-01T10:00:00Z") == {
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {objects.RESTARTED_AT_ANNOTATION: "2024-05-01T10:00:00Z"}
                }
            }
        }
    }


def env_dep(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_set_env_patch_replaces_adds_and_creates() -> None:
    dep = env_dep(
        {"name": "api", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "side"},
    )
    patch, name, old = patches.set_env_patch(dep, "api", "B", "3")
    assert (name, old) == ("api", "2")
    assert patch == [
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "api"},
        {"op": "test", "path": "/spec/template/spec/containers/0/env/1/name", "value": "B"},
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/env/1",
            "value": {"name": "B", "value": "3"},
        },
    ]
    patch, _, old = patches.set_env_patch(dep, "api", "C", "x")
    assert old is None and patch[-1]["op"] == "add" and patch[-1]["path"].endswith("/env/-")
    patch, name, old = patches.set_env_patch(dep, "side", "C", "x")
    assert patch[-1] == {
        "op": "add",
        "path": "/spec/template/spec/containers/1/env",
        "value": [{"name": "C", "value": "x"}],
    }


def test_set_env_container_choice() -> None:
    one = env_dep({"name": "only"})
    assert patches.set_env_patch(one, None, "A", "1")[1] == "only"
    two = env_dep({"name": "a"}, {"name": "b"})
    with pytest.raises(ValueError, match="name the container: this deployment has a, b"):
        patches.set_env_patch(two, None, "A", "1")
    with pytest.raises(ValueError, match="no container 'c'"):
        patches.set_env_patch(two, "c", "A", "1")
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        patches.set_env_patch(one, None, "1BAD", "1")


# --- API errors ----------------------------------------------------------------------------------


def test_api_error_lines() -> None:
    body = json.dumps(
        {
            "kind": "Status",
            "reason": "Forbidden",
            "message": 'deployments.apps is forbidden: User "x" cannot list',
        }
    )
    assert (
        objects.api_error_line(403, "Forbidden", body)
        == 'forbidden: deployments.apps is forbidden: User "x" cannot list'
    )
    nf = json.dumps({"reason": "NotFound", "message": 'deployments.apps "api" not found'})
    assert (
        objects.api_error_line(404, "Not Found", nf)
        == 'not found: deployments.apps "api" not found'
    )
    assert (
        objects.api_error_line(500, "Internal Server Error", "<html>\n  oops</html>")
        == "HTTP 500 Internal Server Error: <html> oops</html>"
    )
    assert objects.api_error_line(502, "Bad Gateway", "") == "HTTP 502 Bad Gateway"
    assert objects.api_error_line(500, None, b"{not json") == "HTTP 500: {not json"
