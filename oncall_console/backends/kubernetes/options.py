"""The ``kubernetes`` backend's settings: how to reach the API server, what it may touch,
and a check's parameters (one deployment, every workload, or the nodes)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Strict
from oncall_console.backends.kubernetes import objects, selectors
from oncall_console.durations import parse_duration
from oncall_console.secrets import one_source_each


class KubernetesOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    kubeconfig: str | None = None
    """Path of the kubeconfig file; default $KUBECONFIG, then ~/.kube/config."""
    context: str | None = None
    """kubeconfig context to use; default its current-context."""
    in_cluster: bool = False
    """Use the pod's service account (when the console itself runs in the cluster)."""
    host: str | None = None
    """API server URL for direct access, e.g. https://10.0.0.1:6443 (skips kubeconfig)."""
    token_env: str | None = None
    """With host: environment variable holding a bearer token."""
    token_file: str | None = None
    """With host: file holding a bearer token."""
    verify_tls: bool = True
    """Verify the API server's certificate; off only for a server you trust another way."""
    ca_file: str | None = None
    """PEM bundle of CAs that signed the API server's certificate."""
    namespaces: list[str] = Field(default_factory=lambda: ["default"])
    """Namespaces watched by workload checks; actions may only touch these (first = default)."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds one API request may take."""
    max_scale: int = Field(default=20, ge=1, le=10_000)
    """Most replicas the scale action may set."""
    env_allowlist: list[str] = Field(default_factory=list)
    """Environment variables set-env may change; empty = the action is not offered."""
    restart_window: str = "1h"
    """Window over which pod restarts are counted against the check's thresholds."""

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one namespace")
        for ns in value:
            if not objects.DNS_1123_LABEL.match(ns):
                raise ValueError(f"{ns!r} is not a valid namespace name")
        return value

    @field_validator("env_allowlist")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not objects.ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value

    @field_validator("restart_window")
    @classmethod
    def _window(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("the restart window must be longer than zero")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> KubernetesOptions:
        if self.host and self.in_cluster:
            raise ValueError("set host or in_cluster, not both")
        if (self.host or self.in_cluster) and (self.kubeconfig or self.context):
            raise ValueError("kubeconfig and context apply only without host and in_cluster")
        if (self.token_env or self.token_file) and not self.host:
            raise ValueError("token_env / token_file apply only with host")
        return one_source_each(self)

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.restart_window)


class KubernetesCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: Literal["deployment", "workloads", "nodes"] = "deployment"
    """deployment: one deployment and its pods; workloads: every deployment; nodes: the nodes."""
    name: str | None = None
    """The deployment's name (kind = "deployment")."""
    namespace: str | None = None
    """Namespace of the deployment, or the only one for workloads; default: the backend's."""
    selector: str | None = None
    """Label selector (kubectl syntax): deployments for workloads, nodes for nodes, extra pod filter for a deployment."""
    restart_warning: int = Field(default=3, ge=0)
    """A pod restarting more than this many times in the restart window is DEGRADED."""
    restart_critical: int = Field(default=10, ge=0)
    """More than this is marked critical (still DEGRADED: a restarting pod serves between restarts)."""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not objects.DNS_1123_LABEL.match(value):
            raise ValueError(f"{value!r} is not a valid namespace name")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not objects.DNS_1123_SUBDOMAIN.match(value):
            raise ValueError(f"{value!r} is not a valid deployment name")
        return value

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            selectors.parse_selector(value)  # SelectorError is a ValueError: reported with its line
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> KubernetesCheckParams:
        if self.kind == "deployment" and not self.name:
            raise ValueError('kind = "deployment" needs the deployment\'s name')
        if self.kind != "deployment" and self.name:
            raise ValueError(f'name applies to kind = "deployment", not {self.kind!r}')
        if self.kind == "nodes" and self.namespace:
            raise ValueError("nodes have no namespace")
        if self.restart_warning > self.restart_critical:
            raise ValueError("restart_warning must not exceed restart_critical")
        return self
