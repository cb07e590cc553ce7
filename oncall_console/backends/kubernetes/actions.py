"""The ``kubernetes`` backend's actions: the kubectl fixes, previewed with the exact request.

``rollout-restart``, ``rollout-undo``, ``scale``, ``set-env``, ``delete-pod``,
``cordon`` and ``uncordon``. Each preview reads the current state and shows the
request it sends and the kubectl command it stands for; each run re-reads what it
needs (the state may have moved since). Rollback choice and patches come from
``patches.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s

from oncall_console.backends.kubernetes import objects, patches, selectors
from oncall_console.backends.kubernetes.client import ApiError, KubernetesClient, Unsure, _c
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckSpec,
    Confirm,
    Outcome,
    ParamSpec,
)
from oncall_console.secrets import redact
from oncall_console.text import clean

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class _Refused(Exception):
    """The action cannot sensibly go ahead; nothing was sent."""


class KubernetesActions(KubernetesClient):
    """The remediation actions, limited to the configured namespaces."""

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

    def applies(self, spec: ActionSpec, check: CheckSpec) -> bool:
        """A node's actions on a nodes check's row; a deployment's and a pod's on a
        deployment's or workloads' row."""
        on_nodes = getattr(check.params, "kind", "deployment") == "nodes"
        return (spec.target_param == "node") is on_nodes

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
        if "node" in p and not objects.DNS_1123_SUBDOMAIN.match(str(p["node"])):
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
        except (ApiError, Unsure) as exc:
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
        except Unsure as exc:
            outcome, output = Outcome.TIMED_OUT, ""
            message = f"{exc}: the change may or may not have been applied"
        except ApiError as exc:
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
        """The deployment now, and the blast radius: the pods its selector matches (our
        own selector code, as the probe uses), which a restart or a rollout replaces."""
        try:
            dep = await self._read_deployment(ns, name, self._t)
        except ApiError as exc:
            return f"now: cannot read the deployment: {exc}"
        r = objects.rollout_of(dep)
        rev = r.revision if r.revision is not None else "?"
        line = f"now: {r.ready}/{r.desired} ready · rev {rev} · rollout {r.state}"
        try:
            pods = await self._list_pods(ns, self._t)
        except ApiError:
            return line
        selector = selectors.selector_from_spec((dep.get("spec") or {}).get("selector"))
        mine = sorted(
            str((pod.get("metadata") or {}).get("name", "?"))
            for pod in pods
            if selector.matches(selectors.labels_of(pod))
        )
        shown = ", ".join(mine[:5]) + (f" +{len(mine) - 5}" if len(mine) > 5 else "")
        return f"{line}\ntouches {len(mine)} pod(s) now" + (f": {shown}" if mine else "")

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
        body = patches.restart_patch(self._stamp())
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
        body = patches.restart_patch(self._stamp())
        await self._patch_deployment(ns, name, body, STRATEGIC_PATCH)
        stamp = body["spec"]["template"]["metadata"]["annotations"][objects.RESTARTED_AT_ANNOTATION]
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
    ) -> tuple[dict[str, Any], patches.RollbackPlan, list[str]]:
        ns, name = p["namespace"], p["deployment"]
        dep, sets = await asyncio.gather(
            self._read_deployment(ns, name, self._t), self._list_replica_sets(ns, self._t)
        )
        try:
            plan = patches.plan_rollback(dep, sets, p.get("revision"))
        except patches.RollbackRefused as exc:
            raise _Refused(_c(str(exc), 300)) from None
        current = (dep.get("spec") or {}).get("template") or {}
        return dep, plan, patches.template_diff(current, plan.template)

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
                    "PATCH", self._dep_path(ns, name), JSON_PATCH, patches.undo_patch(plan)
                ),
                f"like: kubectl rollout undo deployment/{name} -n {ns}{flag}",
            ]
        )

    async def _run_undo(self, p: dict[str, Any]) -> tuple[str, str]:
        ns, name = p["namespace"], p["deployment"]
        _, plan, diff = await self._plan_undo(p)
        await self._patch_deployment(ns, name, patches.undo_patch(plan), JSON_PATCH)
        return (
            f"rolled back deployment {ns}/{name} from revision {plan.from_revision} "
            f"to {plan.to_revision}",
            "\n".join(diff),
        )

    async def _preview_scale(self, p: dict[str, Any]) -> str:
        ns, name, n = p["namespace"], p["deployment"], p["replicas"]
        try:
            dep = await self._read_deployment(ns, name, self._t)
            now = f"{objects.rollout_of(dep).desired}"
        except ApiError as exc:
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
            return patches.set_env_patch(dep, p.get("container"), p["variable"], p["value"])
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
            f = objects.pod_facts(pod)
            owners = [
                f"{r.get('kind')} {r.get('name')}"
                for r in objects.meta(pod, "ownerReferences") or []
                if isinstance(r, dict) and r.get("controller")
            ]
            state = f"now: {f.phase}, {f.ready_count}/{len(f.main)} ready, node {f.node or '—'}"
            fate = (
                f"owned by {', '.join(owners)}: a new pod replaces it."
                if owners
                else "WARNING: no controller owns this pod: it will NOT come back."
            )
        except ApiError as exc:
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
            f = objects.node_facts(node)
            now = f"now: {'cordoned' if f.cordoned else 'schedulable'}, Ready={f.ready}"
        except ApiError as exc:
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
