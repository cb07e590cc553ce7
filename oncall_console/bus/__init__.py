"""How consoles of a team see each other: events and per-target locks. See bus.base.Bus.

In-process (:class:`LocalBus`) by default; Redis pub/sub + locks (:class:`RedisBus`) when
``[bus] redis_url`` is set. ``bus.redis`` (and the redis library) is imported only then.
"""

from __future__ import annotations

from typing import Protocol

from oncall_console.bus.base import (
    KINDS,
    Bus,
    BusUnavailable,
    Event,
    LocalBus,
    LocalHub,
    MalformedEvent,
    check_redis_url,
)

__all__ = [
    "KINDS",
    "Bus",
    "BusSettings",
    "BusUnavailable",
    "Event",
    "LocalBus",
    "LocalHub",
    "MalformedEvent",
    "bus_from_config",
    "check_redis_url",
]


class BusSettings(Protocol):
    """What :func:`bus_from_config` reads: the ``[bus]`` section of the config."""

    redis_url: str
    username: str | None
    password_env: str | None
    password_file: str | None
    timeout: float


def bus_from_config(settings: BusSettings | None, *, environment: str, console: str) -> Bus:
    """The configured bus: RedisBus when ``redis_url`` is set, else an in-process LocalBus.

    No IO here; the password reference is resolved by ``start()``."""
    if settings is None or not settings.redis_url:
        return LocalBus(console)
    from oncall_console.bus.redis import RedisBus

    return RedisBus(
        settings.redis_url,
        console=console,
        environment=environment,
        username=settings.username,
        password_env=settings.password_env,
        password_file=settings.password_file,
        timeout=settings.timeout,
    )
