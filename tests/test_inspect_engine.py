"""The front door's closer looks (issue #15, point 9): OnCall.inspect_views / inspect
ask the check's backend when it declares INSPECT, bound the look by [poller] timeout,
redact what comes back, and refuse in one line (no such check, nothing to look at, a
source that fails or hangs)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.engine import inspect as closer
from oncall_console.engine.api import InspectRefused, OnCall
from oncall_console.engine.state import new_check_state
from oncall_console.model import (
    CheckResult,
    CheckSpec,
    DetailTable,
    Inspection,
    InspectView,
    Status,
)
from tests.support.demoapp import demo_app

SECRET = "hunter2-s3cr3t"


class Looking(Backend):
    """A plugin that looks closer, for the engine's side of the contract."""

    TYPE = "looking"
    CAPABILITIES = frozenset({Capability.HEALTH, Capability.INSPECT})
    behaviour = "answer"

    async def probe(self, check: CheckSpec) -> CheckResult:
        return CheckResult(check.name, Status.OK, "ok")

    def secrets(self) -> tuple[str, ...]:
        return (SECRET,)

    def inspect_views(self, check: CheckSpec) -> list[InspectView]:
        return [InspectView("queries", "Queries")]

    async def inspect(self, check: CheckSpec, view: str) -> Inspection:
        if self.behaviour == "hang":
            await asyncio.sleep(60)
        if self.behaviour == "fail":
            raise ConnectionError(f"lost, password {SECRET}\nagain")
        table = DetailTable("Q", ("query",), ((f"ALTER ROLE x PASSWORD '{SECRET}'",),))
        return Inspection(
            view, 1.0, tables=(table,), lines=(f"token={SECRET}",), note=f"as {SECRET}"
        )


class Blind(Backend):
    TYPE = "blind"
    CAPABILITIES = frozenset({Capability.HEALTH})

    async def probe(self, check: CheckSpec) -> CheckResult:
        return CheckResult(check.name, Status.OK, "ok")


@pytest.fixture
def parts() -> Any:
    ctx = BackendContext(ThreadPoolExecutor(1))
    backends = {"l": Looking("l", None, ctx), "b": Blind("b", None, ctx)}  # type: ignore[arg-type]
    states = {name: new_check_state(CheckSpec(name, name, 10, 1), 10) for name in ("l", "b")}
    return backends, states


async def test_a_look_is_redacted_and_a_backend_without_it_has_nothing(parts: Any) -> None:
    backends, states = parts
    assert [v.id for v in closer.views_for(backends, states["l"])] == ["queries"]
    found = await closer.look(backends, states["l"], "queries", 2.0)
    assert SECRET not in repr(found) and "[redacted]" in found.tables[0].rows[0][0]
    assert closer.views_for(backends, states["b"]) == []
    with pytest.raises(InspectRefused, match="nothing to look closer at"):
        await closer.look(backends, states["b"], "queries", 2.0)
    with pytest.raises(InspectRefused, match="no view 'slowlog'"):
        await closer.look(backends, states["l"], "slowlog", 2.0)
    with pytest.raises(InspectRefused, match="no such check"):
        await closer.look(backends, None, "queries", 2.0)


async def test_a_failing_or_hanging_source_is_one_redacted_line(parts: Any) -> None:
    backends, states = parts
    backends["l"].behaviour = "fail"
    with pytest.raises(InspectRefused) as info:
        await closer.look(backends, states["l"], "queries", 2.0)
    assert SECRET not in str(info.value) and "\n" not in str(info.value)
    backends["l"].behaviour = "hang"
    with pytest.raises(InspectRefused, match="timed out"):
        await closer.look(backends, states["l"], "queries", 0.05)


async def test_the_front_door_offers_the_demos_views() -> None:
    app = demo_app(at=90)
    oncall = OnCall(app.engine)
    assert [v.id for v in oncall.inspect_views("postgres")] == ["sessions", "queries"]
    assert oncall.inspect_views("no-such-check") == []
    found = await oncall.inspect("redis", "slowlog")
    assert found.tables[0].title == "Slowlog" and found.view == "slowlog"
