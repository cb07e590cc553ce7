"""The ``redis`` backend: one Redis server's health, and the remediations runbooks do
by hand with ``redis-cli`` (BGSAVE, delete keys by pattern, CONFIG SET, FLUSHDB).

A probe is a PING (its round trip is the latency), then INFO, DBSIZE and one LLEN per
configured queue in one pipeline. Status is the worst of: memory used against
``maxmemory``, each queue against its limits, the hit ratio (when a floor is set),
blocked clients (when a limit is set), a replica's link to its master, a dataset
still loading and a failed background save. Every error is DOWN, in one clean line
that never contains the password. The connection pool reconnects by itself, so a
restarted server needs nothing from the console.

- ``options.py``: the server, what CONFIG SET may change, a check's thresholds;
- ``health.py``: what INFO says, judged (pure);
- ``actions.py``: what each action previews and does;
- ``backend.py``: :class:`RedisBackend`, its client and the probe.
"""

from oncall_console.backends.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
