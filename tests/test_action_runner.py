"""The one path every action takes, tested at the runner: validation, read-only,
preview, confirmation, a lock shared by consoles, the audit, and failures."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oncall_console.backends.base import Backend, BackendContext, Capability, NoParams
from oncall_console.engine.actions import ActionRefused, ActionRunner
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    Confirm,
    Outcome,
    ParamSpec,
)
from oncall_console.store import Store, open_store
from oncall_console.store.audit import StoreAuditLog


class Ops(Backend):
    """A backend whose run waits for the test, records what ran, or fails on request."""

    TYPE = "ops"
    CAPABILITIES = frozenset({Capability.ACTIONS})

    def __init__(self) -> None:
        super().__init__("ops", NoParams(), BackendContext(executor=ThreadPoolExecutor(1)))
        self.ran: list[dict[str, object]] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    def actions(self) -> list[ActionSpec]:
        return [
            ActionSpec(
                "restart", "Restart", (ParamSpec("service", "name"),), target_param="service"
            ),
            ActionSpec(
                "drop",
                "Drop a table",
                (ParamSpec("table", "identifier"),),
                target_param="table",
                dangerous=True,
                confirm=Confirm.TYPE_TARGET,
            ),
            ActionSpec(
                "scale",
                "Scale",
                (ParamSpec("service", "name"), ParamSpec("replicas", "int", minimum=1, maximum=10)),
                target_param="service",
            ),
        ]

    async def preview(self, request: ActionRequest) -> str:
        if request.params.get("service") == "unknown":
            raise ActionInvalid("no such service: unknown")
        return f"{request.action} {request.params}"

    async def run(self, request: ActionRequest) -> ActionResult:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        self.ran.append(dict(request.params))
        return ActionResult(request, Outcome.SUCCEEDED, "done")


async def opened(path: Path) -> Store:
    store = open_store(str(path))
    await store.open()
    return store


def runner(
    backend: Ops, store: Store, *, read_only: bool = False, console: str = "a"
) -> ActionRunner:
    return ActionRunner(
        {"ops": backend},
        StoreAuditLog(store, console),
        operator="alex",
        read_only=read_only,
        clock=lambda: 1000.0,
        locks=store,
        console=console,
        timeout=5,
    )


@pytest.fixture
async def store(tmp_path: Path):
    s = await opened(tmp_path / "oncall.sqlite3")
    yield s
    await s.close()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"service": "api; rm -rf /"}, "not a valid name"),
        ({"service": "$(reboot)"}, "not a valid name"),
        ({"service": "[bold]api[/]"}, "not a valid name"),
        ({"service": "API"}, "not a valid name"),
        ({}, "service: required"),
        ({"service": "api", "extra": "1"}, "unknown parameter 'extra'"),
    ],
)
async def test_bad_parameters_are_refused_before_anything_else(store, params, says):
    backend = Ops()
    with pytest.raises(ActionRefused, match=says):
        await runner(backend, store).prepare(ActionRequest("ops", "restart", params))
    assert await store.audit() == [] and backend.ran == []


async def test_identifiers_and_ranges(store):
    r = runner(Ops(), store)
    for table in ('x"; DROP TABLE t; --', "a b", "1abc"):
        with pytest.raises(ActionRefused, match="not a valid identifier"):
            await r.prepare(ActionRequest("ops", "drop", {"table": table}))
    with pytest.raises(ActionRefused, match="at most 10"):
        await r.prepare(ActionRequest("ops", "scale", {"service": "api", "replicas": 11}))
    with pytest.raises(ActionRefused, match="whole number"):
        await r.prepare(ActionRequest("ops", "scale", {"service": "api", "replicas": "3; 4"}))


async def test_read_only_is_enforced_in_the_runner_not_just_the_ui(store):
    backend = Ops()
    r = runner(backend, store, read_only=True)
    assert r.available() == []
    with pytest.raises(ActionRefused, match="read-only"):
        await r.prepare(ActionRequest("ops", "restart", {"service": "api"}))
    prepared = await runner(backend, store).prepare(
        ActionRequest("ops", "restart", {"service": "api"})
    )
    result = await r.execute(prepared, "y")  # even a prepared action from elsewhere
    assert result.outcome is Outcome.REFUSED and backend.ran == []


async def test_a_backend_refusal_at_preview_stops_it_before_confirmation(store):
    with pytest.raises(ActionRefused, match="no such service"):
        await runner(Ops(), store).prepare(ActionRequest("ops", "restart", {"service": "unknown"}))


async def test_dangerous_actions_need_the_target_typed(store):
    backend = Ops()
    r = runner(backend, store)
    prepared = await r.prepare(ActionRequest("ops", "drop", {"table": "sessions"}))
    assert (await r.execute(prepared, "y")).outcome is Outcome.REFUSED
    assert (await r.execute(prepared, "session")).outcome is Outcome.REFUSED
    assert (await r.execute(prepared, "sessions")).outcome is Outcome.SUCCEEDED
    assert backend.ran == [{"table": "sessions"}]


async def test_intent_and_result_are_audited_and_chained(store):
    r = runner(Ops(), store)
    prepared = await r.prepare(ActionRequest("ops", "restart", {"service": "api"}))
    await r.execute(prepared, "yes")
    trail = await store.audit()
    assert [(t.kind, t.outcome, t.operator, t.target) for t in trail] == [
        ("intent", "outcome unknown", "alex", "api"),
        ("result", "succeeded", "alex", "api"),
    ]
    assert trail[0].preview == "restart {'service': 'api'}"
    assert (await store.verify_audit()).ok


async def test_two_consoles_on_one_store_one_runs_the_other_is_told_who_holds_the_lock(
    store, tmp_path: Path
):
    second_store = await opened(tmp_path / "oncall.sqlite3")
    try:
        first, second = Ops(), Ops()
        first.gate = asyncio.Event()
        a, b = (
            runner(first, store, console="bastion-1"),
            runner(second, second_store, console="bastion-2"),
        )
        request = ActionRequest("ops", "restart", {"service": "api"})
        running = asyncio.create_task(a.execute(await a.prepare(request), "y"))
        await first.started.wait()
        refused = await b.execute(await b.prepare(request), "y")
        assert refused.outcome is Outcome.REFUSED
        assert refused.message == "api is locked by alex on bastion-1 (ops.restart)"
        first.gate.set()
        assert (await running).outcome is Outcome.SUCCEEDED
        assert (await b.execute(await b.prepare(request), "y")).outcome is Outcome.SUCCEEDED
    finally:
        await second_store.close()


async def test_no_durable_intent_means_no_action(store):
    backend = Ops()
    r = runner(backend, store)
    prepared = await r.prepare(ActionRequest("ops", "restart", {"service": "api"}))
    await store.close()  # the store goes away between preview and confirm
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.REFUSED and backend.ran == []


async def test_a_hung_action_times_out_and_the_trail_says_so(store):
    backend = Ops()
    backend.gate = asyncio.Event()  # never set
    r = runner(backend, store)
    r.timeout = 0.2
    prepared = await r.prepare(ActionRequest("ops", "restart", {"service": "api"}))
    result = await r.execute(prepared, "y")
    assert result.outcome is Outcome.TIMED_OUT
    assert [t.outcome for t in await store.audit()] == ["outcome unknown", "timed-out"]
