"""The first poll's ``demo`` checks without pydantic (issue #14): the demo's options
(``seed``, ``speed``, ``start``) and a check's ``target`` read into the very dicts the
plugin's models would dump (the fingerprint the parent checks is computed over them),
and each check read off a simulation as the plugin reads it (:func:`probe_result`, which
``backend.py`` uses too). Anything else goes the full way (None).
tests/test_first_poll_demo.py keeps the dumps equal to the models'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from oncall_console.backends.demo.simulation import TARGETS, Simulation, SimulationError
from oncall_console.backends.shared.plain import number
from oncall_console.model import CheckResult, CheckSpec, Status


def lean_options(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``DemoOptions.model_validate(raw).model_dump()`` for the plain cases, else None."""
    out: dict[str, Any] = {"seed": 7, "speed": 1.0, "start": None}
    for key, value in raw.items():
        if key == "seed" and type(value) is int:
            out[key] = value
        elif key == "speed" and (n := number(value)) is not None and n > 0:
            out[key] = n
        elif key == "start" and (value is None or number(value) is not None):
            out[key] = None if value is None else float(value)
        else:
            return None
    return out


plain_options = lean_options


def lean_params(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``DemoCheckParams.model_validate(raw).model_dump()``, else None."""
    target = raw.get("target")
    if set(raw) != {"target"} or target not in TARGETS:
        return None
    return {"target": target}


def probe_result(simulation: Simulation, check: CheckSpec, target: str, now: float) -> CheckResult:
    """``check`` read off ``simulation`` at ``now`` (the plugin's probe)."""
    try:
        status, summary, ms, details, subs = simulation.check(target, now)
    except SimulationError as exc:
        return CheckResult(check.name, Status.UNKNOWN, str(exc), at=now, error=str(exc))
    return CheckResult(
        check=check.name,
        status=status,
        summary=summary,
        latency_ms=ms,
        at=now,
        details=details,
        substatuses=subs,
    )


async def probe_plain(
    options: Mapping[str, Any],
    checks: list[tuple[CheckSpec, dict[str, Any]]],
    emit: Callable[[CheckSpec, CheckResult], None],
) -> None:
    now = time.time()
    start = options["start"] if options["start"] is not None else now
    simulation = Simulation(seed=options["seed"], start=start, speed=options["speed"])
    for spec, params in checks:
        emit(spec, probe_result(simulation, spec, params["target"], now))
