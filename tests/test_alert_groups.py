"""Alerts of one group (the grouping key, Alertmanager's group_by) fold into one row:
worst severity, oldest age, how many; enter unfolds it; i and b act on its worst alert."""

from __future__ import annotations

from oncall_console.model import Alert, Severity
from oncall_console.ui.widgets.alerts import MAX_ALERT_ROWS, MORE_KEY, AlertsTable
from tests.support.demoapp import EPOCH, demo_app, settle
from tests.test_alert_filter import flood


def group_of(n: int, severity: Severity = Severity.SEV3) -> list[Alert]:
    return [
        Alert(
            fingerprint=f"g{k}",
            name="HighErrorRate",
            severity=Severity.SEV2 if k == 1 else severity,
            summary=f"5xx on {svc}",
            starts_at=EPOCH - 60 * (k + 1),
            labels={"alertname": "HighErrorRate", "service": svc},
            source="am",
            group="alertname=HighErrorRate",
        )
        for k, svc in enumerate(["api", "web", "worker", "cart"][:n])
    ]


def keys(table: AlertsTable) -> list[str]:
    return [str(k.value) for k in table.rows]


async def test_a_group_folds_into_one_row_and_enter_unfolds_it():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        lone = Alert(
            "solo",
            "DiskFull",
            Severity.SEV4,
            "disk",
            starts_at=EPOCH,
            source="am",
            group="alertname=DiskFull",
        )
        await flood(app, [*group_of(3), lone])
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        rows = keys(table)
        assert "group:alertname=HighErrorRate" in rows
        assert not any(k.startswith("alert:g") for k in rows)  # folded
        assert "alert:solo" in rows  # a group of one is just its alert
        row = table.get_row("group:alertname=HighErrorRate")
        assert row[0].plain == "SEV2"  # the worst of the group
        assert row[2].plain == "3/3 active"
        assert "▸ HighErrorRate ×3" in row[3].plain

        table.focus()
        table.move_cursor(row=rows.index("group:alertname=HighErrorRate"))
        await pilot.press("enter")
        await pilot.pause()
        rows = keys(table)
        at = rows.index("group:alertname=HighErrorRate")
        assert rows[at + 1 : at + 4] == ["alert:g1", "alert:g0", "alert:g2"]  # worst first
        assert "▾" in table.get_row("group:alertname=HighErrorRate")[3].plain
        assert table.get_row("alert:g0")[3].plain.startswith("  └ HighErrorRate")

        table.move_cursor(row=rows.index("group:alertname=HighErrorRate"))
        await pilot.press("enter")
        await pilot.pause()
        assert not any(k.startswith("alert:g") for k in keys(table))


async def test_declaring_on_a_group_row_uses_its_worst_alert():
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await flood(app, group_of(4))
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        table.focus()
        table.move_cursor(row=keys(table).index("group:alertname=HighErrorRate"))
        await pilot.press("i")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(100):
            if app.engine.incident_service.records:
                break
            await pilot.pause(0.01)
        record = next(iter(app.engine.incident_service.records.values()))
        assert record.severity == 2 and record.group_key == "alertname=HighErrorRate"
        assert "5xx on web" in record.title  # g1, the SEV2 one


async def test_groups_past_the_last_row_are_counted_with_all_their_alerts():
    # 150 groups of two; the first group's second alert is the oldest of all, far down.
    alerts = [
        Alert(
            fingerprint=f"g{g}-{k}",
            name="PodCrashLooping",
            severity=Severity.SEV3,
            summary=f"pod {g}-{k}",
            starts_at=EPOCH - (10_000 if (g, k) == (0, 1) else 2 * g + k),
            source="am",
            group=f"alertname=PodCrashLooping · namespace=ns{g}",
        )
        for g in range(150)
        for k in range(2)
    ]
    app = demo_app(at=90)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await flood(app, alerts)
        await pilot.pause()
        table = app.screen.query_one(AlertsTable)
        groups = [k for k in keys(table) if k.startswith("group:")]
        assert len(groups) == MAX_ALERT_ROWS and groups[0].endswith("namespace=ns0")
        assert "… 100 more alerts" in table.get_row(MORE_KEY)[3].plain
