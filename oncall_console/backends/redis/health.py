"""What one ``redis`` probe's INFO (plus DBSIZE and the queue lengths) says about the server.

Status is the worst of: memory used against ``maxmemory``, each queue against its
limits, the hit ratio (when a floor is set), blocked clients (when a limit is set),
a replica's link to its master, a dataset still loading and a failed background
save. :func:`assess` is pure: no IO, so each rule can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oncall_console.backends.redis.options import RedisCheckParams
from oncall_console.model import DetailTable, Status
from oncall_console.text import clean


@dataclass
class Assessment:
    """What one INFO (plus DBSIZE and the queue lengths) says about the server."""

    status: Status = Status.OK
    parts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    tables: list[DetailTable] = field(default_factory=list)

    def worse(self, status: Status, note: str) -> None:
        self.status = Status.worst([self.status, status])
        self.notes.append(note)

    @property
    def summary(self) -> str:
        return " · ".join(self.parts + self.notes)


def assess(
    info: Mapping[str, Any],
    dbsize: int,
    lengths: Mapping[str, int | BaseException],
    p: RedisCheckParams,
    db: int = 0,
) -> Assessment:
    """Judge one server from its INFO; no IO, so each rule can be tested on its own."""
    a = Assessment()
    d = a.details
    used, maxmem = as_int(info.get("used_memory")), as_int(info.get("maxmemory"))
    d["used_memory"] = size(used)
    d["maxmemory"] = size(maxmem) if maxmem else "0 (no limit)"
    if policy := info.get("maxmemory_policy"):
        d["maxmemory_policy"] = clean(policy, limit=40)
    if maxmem > 0:
        ratio = used / maxmem
        d["memory_ratio"] = f"{ratio * 100:.1f} %"
        a.parts.append(f"memory {ratio * 100:.0f} % of {size(maxmem)}")
        if p.memory_critical is not None and ratio >= p.memory_critical:
            a.worse(Status.CRITICAL, f"memory ≥ {p.memory_critical * 100:g} %")
        elif p.memory_warning is not None and ratio >= p.memory_warning:
            a.worse(Status.DEGRADED, f"memory ≥ {p.memory_warning * 100:g} %")
    else:
        a.parts.append(f"memory {size(used)} (no maxmemory)")

    hits, misses = as_int(info.get("keyspace_hits")), as_int(info.get("keyspace_misses"))
    d["keyspace_hits"], d["keyspace_misses"] = str(hits), str(misses)
    if hits + misses > 0:
        hit = hits / (hits + misses)
        d["hit_ratio"] = f"{hit * 100:.1f} %"
        a.parts.append(f"hit {hit * 100:.0f} %")
        if p.hit_ratio_warning is not None and hit < p.hit_ratio_warning:
            a.worse(Status.DEGRADED, f"hit ratio < {p.hit_ratio_warning * 100:g} %")

    clients, blocked = as_int(info.get("connected_clients")), as_int(info.get("blocked_clients"))
    d["connected_clients"], d["blocked_clients"] = str(clients), str(blocked)
    a.parts.append(f"{clients} client" + ("" if clients == 1 else "s"))
    if p.blocked_clients_warning is not None and blocked >= p.blocked_clients_warning:
        a.worse(Status.DEGRADED, f"{blocked} blocked clients")
    for key in ("evicted_keys", "expired_keys", "rejected_connections"):
        if key in info:
            d[key] = str(as_int(info.get(key)))

    d["keys"] = str(dbsize)
    total = 0
    for name, value in info.items():
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, Mapping):
            total += as_int(value.get("keys"))
    d["keys_all_databases"] = str(total)
    d["database"] = str(db)

    role = clean(info.get("role", ""), limit=20)
    d["role"] = role
    if role in ("slave", "replica"):
        link = clean(info.get("master_link_status", "unknown"), limit=20)
        d["master_link_status"] = link
        a.parts.append("replica")
        if link != "up":
            a.worse(Status.DEGRADED, f"replica: link to master {link}")
    elif "connected_slaves" in info:
        d["connected_replicas"] = str(as_int(info.get("connected_slaves")))
    for key in ("redis_version", "uptime_in_seconds"):
        if key in info:
            d[key] = clean(info[key], limit=40)
    if as_int(info.get("loading")) == 1:
        a.worse(Status.DEGRADED, "loading the dataset")
    if info.get("rdb_last_bgsave_status") == "err":
        a.worse(Status.DEGRADED, "last background save failed")

    rows = []
    for name, n in lengths.items():
        limit = p.queues[name]
        label = clean(name, limit=80)
        if isinstance(n, BaseException):
            state, shown = Status.DEGRADED, clean(f"error: {n}", limit=120)
            a.worse(state, f"queue {label}: cannot read its length")
        else:
            shown = str(n)
            state = (
                Status.CRITICAL
                if n >= limit.critical
                else Status.DEGRADED
                if n >= limit.warning
                else Status.OK
            )
            if state is not Status.OK:
                bound = limit.critical if state is Status.CRITICAL else limit.warning
                a.worse(state, f"queue {label} {n} ≥ {bound}")
        d[f"queue.{label}"] = shown
        rows.append((label, shown, str(limit.warning), str(limit.critical), state.label))
    if rows:
        a.tables.append(
            DetailTable(
                "Queues (LLEN)", ("queue", "length", "warning", "critical", "status"), tuple(rows)
            )
        )
    return a


def size(n: float) -> str:
    """Bytes as people read them: 64 MiB, 1.5 GiB, 812 KiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if n == int(n) or unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns


def as_int(value: Any) -> int:
    """An INFO field as a number; 0 when it is missing or not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
