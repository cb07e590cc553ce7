"""Read-only means no writes at all (issue #16, finding 4): not from a key, the palette,
the CLI or a served page. A read-only console's store refuses every write, so each path
is covered by one mechanism (engine/readonly.py); the keys that would write are not
offered."""

from __future__ import annotations

import pytest

from oncall_console.engine.readonly import WRITES, ReadOnlyRefused, ReadOnlyStore
from oncall_console.store import Store
from tests.support.demoapp import demo_app, select_first_alert, settle


async def test_every_write_of_the_store_contract_is_refused():
    """The wrapper knows every write: a new write method on the Store contract must be
    added to WRITES (this fails until it is)."""
    import inspect

    writes = {
        name
        for name, fn in inspect.getmembers(Store, inspect.iscoroutinefunction)
        if not name.startswith(
            (
                "_",
                "open",
                "close",
                "schema",
                "audit",
                "steps",
                "incident",
                "timeline",
                "unfinished",
                "verify",
                "incidents",
            )
        )
    }
    assert writes <= WRITES, writes - WRITES
    store = ReadOnlyStore(object())
    for name in WRITES:
        with pytest.raises(ReadOnlyRefused, match="read-only console"):
            await getattr(store, name)()


async def test_a_read_only_console_writes_nothing_from_any_key():
    app = demo_app(at=90, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        store = app.engine.store
        assert isinstance(store, ReadOnlyStore)
        before = await store.audit()

        select_first_alert(app)
        await pilot.press("i", "y")  # declare: not offered
        await pilot.pause()
        assert not app.engine.incident_service.records

        await pilot.press("S")  # the start-of-shift checklist opens, ticks nothing
        await pilot.pause(0.1)
        await pilot.press("space", "x")
        await pilot.pause(0.1)
        await pilot.press("escape")

        # The desks refuse, whatever calls them (the palette and the CLI call them too).
        alert = app.engine.alerts()[0]
        with pytest.raises(ReadOnlyRefused):
            await app.oncall.incidents.declare(from_alert=alert)
        library = await app.oncall.runbooks.ready()
        runbook = library.all()[0]
        with pytest.raises(ReadOnlyRefused):
            await app.oncall.runbooks.mark(runbook, "shift", runbook.steps[0].id, True)
        await app.engine.sync_incidents()  # the engine's own attaching writes nothing
        assert app.engine.incident_error == ""
        assert await store.audit() == before
        assert not await store.incidents()
