"""What the kubernetes actions send, decided with no IO: rollback plans and patches.

Which ReplicaSet revision a rollout undo goes back to, and the JSON patch that
does it (as ``kubectl rollout undo`` would), the restart and set-env patches, and
the readable diff a preview shows.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from oncall_console.backends.kubernetes.objects import (
    ENV_NAME,
    POD_TEMPLATE_HASH,
    RESTARTED_AT_ANNOTATION,
    REVISION_ANNOTATION,
    meta,
    parse_time,
    revision_of,
)

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
