"""The ``postgres`` backend: server health from one read-only round trip, and remediation.

A probe sends, in one pipelined round trip, a read-only transaction with a local
``statement_timeout`` and one SELECT over the statistics views: the server
version, client connections by state against ``max_connections``, the sessions
running longer than the threshold (an active query, or a transaction left idle),
replication lag on a replica, and the size of one database.

Status is the worst of: the share of ``max_connections`` in use (client backends,
our own included: every one of them holds a slot), any long-running session
(DEGRADED) and, on a replica, the replay lag. Anything that stops the round trip
(refused, authentication, timeout, a server going away) is DOWN with one clean
line; the next probe opens a fresh connection, so a server that comes back is
seen again without a restart.

Probes share one connection, opened lazily and reopened after any failure
(``psycopg_pool`` is not a dependency). Previews and actions open their own
short-lived connection, so a long VACUUM never holds up a probe; ``pool_size``
bounds how many connections the backend holds at once.

- ``options.py``: the server and a check's thresholds;
- ``health.py``: the probe's SELECT and how its facts are judged (pure);
- ``actions.py``: the actions, planned read-only, then run;
- ``readonly_sql.py``: is a runbook's SQL diagnostic plainly read-only (pure; the
  runbook linter uses it too, so this package imports psycopg only when the backend
  itself is asked for);
- ``backend.py``: :class:`PostgresBackend`, its connections and the probe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall_console.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]


def __getattr__(name: str) -> Any:
    if name == "PostgresBackend":
        from oncall_console.backends.postgres.backend import PostgresBackend

        return PostgresBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
