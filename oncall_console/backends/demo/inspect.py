"""The demo's closer looks (issue #15, point 9): what ``kubectl get events``, ``kubectl
logs``, ``pg_stat_activity`` and ``SLOWLOG GET`` would show on the simulated platform.

Pure: every row is a function of the target, the simulation's check at that moment and
a hash of the second, so a snapshot shows the same rows every run, and the rows move
with the story (the bad release's 503s, the leaked idle sessions, the cache pressure).
"""

from __future__ import annotations

import hashlib
import time

from oncall_console.backends.demo.state import Check
from oncall_console.model import DetailTable, Inspection, InspectView

SERVICE_VIEWS = (InspectView("logs", "Log tail", log=True), InspectView("events", "Events"))
POSTGRES_VIEWS = (InspectView("sessions", "Sessions"), InspectView("queries", "Longest queries"))
REDIS_VIEWS = (InspectView("slowlog", "Slowlog"), InspectView("bigkeys", "Big keys"))
LOG_SECONDS = 40
"""Seconds of log shown: two lines a second, the last ones at the bottom."""

_PATHS = ("/api/players", "/api/teams/42", "/api/predictions", "/api/leagues", "/healthz")


def views(target: str) -> list[InspectView]:
    if target == "postgres":
        return list(POSTGRES_VIEWS)
    if target == "redis":
        return list(REDIS_VIEWS)
    return list(SERVICE_VIEWS)


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(), "big")


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _pods(target: str, details: dict[str, str]) -> list[str]:
    desired = details.get("replicas", "1/1").split(" ")[0].split("/")[-1]
    count = max(1, min(10, int(desired))) if desired.isdigit() else 1
    rs = f"{_h(target, details.get('version', '')) % 0xFFFFF:05x}"
    return [f"{target}-{rs}-{chr(ord('a') + i)}{_h(target, i) % 1000:03d}" for i in range(count)]


def look(target: str, check: Check, view: str, now: float) -> Inspection:
    status, summary, _ms, details, _subs = check
    second = int(now)
    if view == "logs":
        lines = []
        pods = _pods(target, details)
        err = float(details.get("5xx", "0 %").split(" ")[0] or 0)
        for t in range(second - LOG_SECONDS, second + 1):
            for half in (0, 1):
                h = _h(target, t, half)
                pod = pods[h % len(pods)]
                path = _PATHS[(h >> 4) % len(_PATHS)]
                if (h % 10_000) / 100 < err * 8:
                    code, level = 503, "ERROR"
                    tail = f"upstream failed: {summary}"[:120]
                else:
                    code, level, tail = 200, "INFO ", ""
                ms = 8 + (h >> 8) % 90
                text = f"{_clock(t)} {pod} {level} GET {path} {code} {ms}ms {tail}".rstrip()
                lines.append(text)
        note = f"{len(pods)} pods · last {LOG_SECONDS} s · simulated"
        return Inspection(view, now, lines=tuple(lines), note=note)
    if view == "events":
        rows = []
        pods = _pods(target, details)
        if "rollout" in details:
            rows.append(("Normal", "ScalingReplicaSet", f"deployment/{target}", details["rollout"]))
        if status.label not in ("OK",):
            rows.append(("Warning", "Unhealthy", f"pod/{pods[0]}", f"probe: {summary}"[:200]))
        rows.append(("Normal", "Pulled", f"pod/{pods[-1]}", f"image {details.get('version')}"))
        rows.append(("Normal", "Started", f"pod/{pods[-1]}", f"Started container {target}"))
        table = DetailTable(
            "Events",
            ("Age", "Type", "Reason", "Object", "Message"),
            tuple((f"{_age(i)}", *r) for i, r in enumerate(rows)),
        )
        return Inspection(view, now, tables=(table,), note="newest first · simulated")
    if view == "sessions":
        active, idle = int(details.get("active", "0")), int(details.get("idle", "0"))
        leaked = int(details.get("idle for minutes", "0").split(" ")[0] or 0)
        rows = (
            ("active", str(active), "2.1 s"),
            ("idle", str(idle - leaked), "—"),
            ("idle in transaction", str(leaked), f"{8 + leaked % 30} min" if leaked else "—"),
        )
        table = DetailTable("Sessions by state", ("State", "Sessions", "Longest"), rows)
        return Inspection(view, now, tables=(table,), note=summary)
    if view == "queries":
        leaked = int(details.get("idle for minutes", "0").split(" ")[0] or 0)
        rows = [
            (
                str(4100 + i),
                "scheduler",
                "idle in transaction",
                f"{40 - i} min",
                "UPDATE jobs SET state = $1 WHERE id = $2",
            )
            for i in range(min(leaked, 8))
        ]
        rows += [
            (
                "3321",
                "player-service",
                "active",
                "2.1 s",
                "SELECT * FROM player_stats WHERE season = $1 ORDER BY points DESC",
            ),
            (
                "3390",
                "auth-service",
                "active",
                "0.4 s",
                "SELECT token FROM sessions WHERE user_id = $1",
            ),
        ]
        columns = ("PID", "Application", "State", "Running", "Query")
        return Inspection(view, now, tables=(DetailTable("Longest queries", columns, tuple(rows)),))
    if view == "slowlog":
        rows = tuple(
            (
                str(9000 - i),
                _clock(now - 7 * i - _h("slow", i) % 5),
                f"{12_000 + _h('slowus', second // 10, i) % 40_000}",
                cmd,
                "10.0.3.17:51122",
            )
            for i, cmd in enumerate(
                (
                    "HGETALL leaderboard:2027",
                    "ZRANGE rankings:global 0 -1 WITHSCORES",
                    "SMEMBERS session:index",
                    "LRANGE notifications:queue 0 999",
                )
            )
        )
        table = DetailTable("Slowlog", ("ID", "When", "µs", "Command", "Client"), rows)
        return Inspection(view, now, tables=(table,), note=summary)
    if view == "bigkeys":
        grow = 1 + (_h("grow", second // 5) % 7) / 100
        rows = tuple(
            (key, kind, f"{size * grow:.1f} MiB")
            for key, kind, size in (
                ("rankings:global", "zset", 412.0),
                ("leaderboard:2027", "hash", 188.5),
                ("session:index", "set", 96.2),
                ("notifications:queue", "list", 41.7),
            )
        )
        table = DetailTable("Big keys (sampled)", ("Key", "Type", "Memory"), rows)
        return Inspection(view, now, tables=(table,), note="sampled 10,000 keys · simulated")
    raise ValueError(f"no view {view!r}")


def _age(i: int) -> str:
    return f"{5 + 40 * i}s"
