"""engine/batch.py: a batched check's timeout bounds its exchange, not its wait in the
backend's queue. With 10,000 checks every probe is asked for at start-up; the probe
worker's queue took ~1.5 s to drain, and counting that wait marked hundreds of healthy
checks "timed out after 2 s" on a console just opened (seen in tmux)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from oncall_console.engine import batch
from oncall_console.engine.state import new_check_state
from oncall_console.model import CheckResult, CheckSpec, Status


class Queued:
    """A backend whose answers come after a wait in its queue (the probe itself is fast)."""

    def __init__(self, wait: float) -> None:
        self.wait = wait

    def secrets(self) -> tuple[str, ...]:
        return ()

    async def probe_batch(
        self, checks: Sequence[CheckSpec], deliver: Callable[[int, object], None]
    ) -> None:
        await asyncio.sleep(self.wait)  # the queue, not the exchange
        for i, spec in enumerate(checks):
            deliver(i, CheckResult(check=spec.name, status=Status.OK, summary="200 OK"))


async def test_a_wait_in_the_queue_longer_than_the_timeout_is_not_a_timeout() -> None:
    state = new_check_state(CheckSpec("svc", "web", interval=5, timeout=0.2), 5)
    result = await batch.probe_one(Queued(0.5), state, lambda: 0.0, lambda r: None, lambda: None)  # type: ignore[arg-type]
    assert result.status is Status.OK and result.summary == "200 OK"
    states = [new_check_state(CheckSpec(f"c{i}", "web", 5, 0.2), 5) for i in range(3)]
    await batch.probe_batch(Queued(0.5), states, lambda: 0.0, lambda r: None, lambda: None)  # type: ignore[arg-type]
    assert [s.last.status for s in states] == [Status.OK] * 3  # type: ignore[union-attr]


async def test_a_backend_that_never_answers_still_times_out(monkeypatch) -> None:
    monkeypatch.setattr(batch, "QUEUE_GRACE", 0.3)
    state = new_check_state(CheckSpec("svc", "web", interval=5, timeout=0.2), 5)
    result = await batch.probe_one(Queued(60), state, lambda: 0.0, lambda r: None, lambda: None)  # type: ignore[arg-type]
    assert result.status is Status.DOWN and "timed out" in result.summary
