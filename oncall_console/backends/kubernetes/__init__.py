"""The ``kubernetes`` backend: deployments, workloads and nodes, and the kubectl fixes.

Health: one deployment (replicas, rollout progress, its pods with restarts and
CrashLoopBackOff / OOMKilled), every deployment of some namespaces, or the nodes
(Ready, pressure, cordoned). Actions: ``rollout-restart``, ``rollout-undo``,
``scale``, ``set-env``, ``delete-pod``, ``cordon`` and ``uncordon``, each
previewed with the exact request it sends and the kubectl command it stands for.

The official client is synchronous, so every call runs in the engine's bounded
thread pool; responses are read as plain JSON. Label selectors, ownership and the
rollback choice are our own pure code, tested without a cluster (kmock, our test
server, has none of them):

- ``options.py``: how to reach the API server, what may be touched, a check's parameters;
- ``client.py``: the client, the calls in the pool, errors in one line;
- ``health.py``: the three kinds of check;
- ``actions.py``: the seven actions;
- ``diagnose.py``: a runbook's ``kubectl get pods``, answered read-only (no kubectl runs);
- ``inspect.py``: the closer looks: a workload's events, its pods' log tail;
- ``selectors.py``, ``objects.py``, ``patches.py``: the pure logic (label selectors;
  what objects say; rollback plans and patches);
- ``backend.py``: :class:`KubernetesBackend`, made of the health checks and the actions.
"""

from oncall_console.backends.kubernetes.backend import KubernetesBackend

__all__ = ["KubernetesBackend"]
