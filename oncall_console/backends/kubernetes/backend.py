"""The ``kubernetes`` backend: the plugin class, made of its health checks and its actions."""

from __future__ import annotations

from oncall_console.backends.base import Capability
from oncall_console.backends.kubernetes.actions import KubernetesActions
from oncall_console.backends.kubernetes.diagnose import KubernetesDiagnose
from oncall_console.backends.kubernetes.inspect import KubernetesInspect
from oncall_console.backends.kubernetes.options import KubernetesCheckParams, KubernetesOptions


class KubernetesBackend(KubernetesDiagnose, KubernetesActions, KubernetesInspect):
    """Watches deployments, workloads and nodes; restarts, rolls back, scales and cordons;
    answers a runbook's ``kubectl get pods`` (read-only); shows a workload's events and
    its pods' log tail."""

    TYPE = "kubernetes"
    DIAGNOSES = frozenset({"kubectl"})
    DESCRIPTION = "Kubernetes deployments, workloads and nodes, with kubectl-style remediation"
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.ACTIONS, Capability.INSPECT})
    Options = KubernetesOptions
    CheckParams = KubernetesCheckParams

    options: KubernetesOptions
