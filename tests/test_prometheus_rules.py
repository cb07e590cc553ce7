"""A team without Alertmanager (#17, point 7): Prometheus's own firing alerts reach the
alerts panel, and its alerting rules — from rule files or from the server — are listed
with their thresholds, ``for``, severity and state on a read-only screen (``R``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from oncall_console.backends.alertmanager import AlertmanagerBackend
from oncall_console.backends.alertmanager.options import AlertmanagerOptions
from oncall_console.backends.base import BackendContext, Capability
from oncall_console.backends.prometheus import PrometheusBackend
from oncall_console.backends.prometheus.options import PrometheusOptions
from oncall_console.engine.core import standby_fallbacks
from oncall_console.model import AlertState, Severity
from oncall_console.ui.screens.rules import RulesScreen
from tests.support.console import console, until
from tests.support.rules_prometheus import RulesPrometheus, rules_prometheus
from tests.support.stack_server import get_json, wait_until
from tests.test_cli import run as cli

pytestmark = [pytest.mark.integration]

DEPLOY_RULES = {
    "groups": [
        {
            "name": "deploy-checks",
            "interval": "1s",
            "rules": [
                {
                    "alert": "CanaryErrorsHigh",
                    "expr": "vector(0.07) > 0.05",
                    "labels": {"severity": "critical", "team": "shop"},
                    "annotations": {"message": "canary 5xx ratio above 5 %"},
                },
                {
                    "alert": "QueueSlowlyGrowing",
                    "expr": "vector(120) >= 100",
                    "for": "1h",
                    "labels": {"priority": "P4"},
                    "annotations": {"description": "queue over 100 for an hour"},
                },
                {
                    "alert": "NeverFires",
                    "expr": 'absent(up{job="nothing"}) == 0',
                    "labels": {"severity": "page"},
                },
            ],
        }
    ]
}


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesPrometheus]:
    folder = tmp_path_factory.mktemp("rules-prometheus")
    rules = folder / "deploy.rules.yml"
    rules.write_text(json.dumps(DEPLOY_RULES), encoding="utf-8")
    with rules_prometheus(folder / "server", [rules]) as server:
        wait_until(
            "the canary alert firing",
            lambda: any(
                a["state"] == "firing"
                for a in get_json(f"{server.url}/api/v1/alerts")["data"]["alerts"]
            ),
            30,
        )
        yield server


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def backend(url: str, pool: ThreadPoolExecutor, **opts: Any) -> PrometheusBackend:
    return PrometheusBackend(
        "prom", PrometheusOptions(url=url, **opts), BackendContext(executor=pool)
    )


async def test_firing_alerts_come_from_prometheus_itself(
    prom: RulesPrometheus, pool: ThreadPoolExecutor
) -> None:
    alerts = await backend(prom.url, pool).alerts()
    assert [a.name for a in alerts] == ["CanaryErrorsHigh"]  # pending is not firing yet
    canary = alerts[0]
    assert canary.severity is Severity.SEV2 and canary.state is AlertState.ACTIVE
    assert canary.summary == "canary 5xx ratio above 5 %"  # from `message`
    assert canary.labels["team"] == "shop" and canary.source == "prom"
    assert canary.starts_at <= time.time()
    again = await backend(prom.url, pool).alerts()
    assert again[0].fingerprint == canary.fingerprint  # stable across polls


def test_prometheus_alerts_stand_by_when_an_alertmanager_is_configured(
    pool: ThreadPoolExecutor,
) -> None:
    context = BackendContext(executor=pool)
    alone = backend("http://prom:9090", pool)
    standby_fallbacks([alone])
    assert alone.can(Capability.ALERTS)
    prom = backend("http://prom:9090", pool)
    am = AlertmanagerBackend("am", AlertmanagerOptions(url="http://am:9093"), context)
    standby_fallbacks([prom, am])
    assert not prom.can(Capability.ALERTS) and prom.can(Capability.RULES)
    both = backend("http://prom:9090", pool, alerts=True)
    standby_fallbacks([both, am])
    assert both.can(Capability.ALERTS)
    never = backend("http://prom:9090", pool, alerts=False)
    standby_fallbacks([never])
    assert not never.can(Capability.ALERTS)


async def test_the_servers_rules_list_thresholds_for_and_state(
    prom: RulesPrometheus, pool: ThreadPoolExecutor
) -> None:
    found = await backend(prom.url, pool).rules()
    assert found.errors == ()
    rules = {r.name: r for r in found.rules}
    assert set(rules) == {"CanaryErrorsHigh", "QueueSlowlyGrowing", "NeverFires"}
    canary, queue, never = (
        rules[n] for n in ("CanaryErrorsHigh", "QueueSlowlyGrowing", "NeverFires")
    )
    assert (canary.threshold, canary.state, canary.active) == ("> 0.05", "firing", 1)
    assert (queue.threshold, queue.for_, queue.state) == (">= 100", "1h", "pending")
    assert queue.severity is Severity.SEV4 and queue.summary == "queue over 100 for an hour"
    assert (never.state, never.severity) == ("inactive", Severity.SEV1)
    assert found.recording == 0 and canary.group == "deploy-checks"


async def test_rule_files_are_listed_with_the_servers_state(
    prom: RulesPrometheus, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "deploy.yml").write_text(json.dumps(DEPLOY_RULES), encoding="utf-8")
    opts = PrometheusOptions.model_validate(
        {"url": prom.url, "rule_files": ["rules/*.yml"]}, context={"config_dir": str(tmp_path)}
    )
    files = PrometheusBackend("prom", opts, BackendContext(executor=pool))
    found = await files.rules()
    rules = {r.name: r for r in found.rules}
    assert rules["CanaryErrorsHigh"].state == "firing"
    assert rules["QueueSlowlyGrowing"].state == "pending"
    assert rules["NeverFires"].state == "inactive"
    assert rules["CanaryErrorsHigh"].origin == str(tmp_path / "rules" / "deploy.yml")
    with pytest.raises(ValueError, match=r"no file matches 'nope/\*\.yml'"):
        PrometheusOptions.model_validate(
            {"url": prom.url, "rule_files": ["nope/*.yml"]}, context={"config_dir": str(tmp_path)}
        )


def screen_text(app: Any) -> str:
    return "\n".join(s.text for s in app.screen._compositor.render_strips())


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "oncall.toml"
    path.write_text(
        f'[console]\nenvironment = "test"\n\n[backends.prom]\ntype = "prometheus"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


async def test_the_rules_screen_opens_with_R_and_shows_the_firing_rule_first(
    prom: RulesPrometheus, tmp_path: Path
) -> None:
    app = console(write_config(tmp_path, prom.url))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            pilot,
            "the canary alert on the dashboard",
            lambda: any(a.name == "CanaryErrorsHigh" for a in app.oncall.alerts()),
        )
        await until(
            pilot,
            "the canary alert in the alerts panel",
            lambda: "CanaryErrorsHigh" in screen_text(app),
        )
        await pilot.press("R")
        await until(pilot, "the rules screen", lambda: isinstance(app.screen, RulesScreen))
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        await until(pilot, "the rules read", lambda: bool(screen.rules))
        assert [r.name for r in screen.rules] == [
            "CanaryErrorsHigh",
            "QueueSlowlyGrowing",
            "NeverFires",
        ]
        await pilot.pause()
        text = "\n".join(s.text for s in screen._compositor.render_strips())
        assert "3 alerting rules · 1 firing · 1 pending" in text
        assert "firing" in text and "> 0.05" in text and "CanaryErrorsHigh" in text
        assert "expr: vector(0.07) > 0.05" in text  # the selected rule in full
        await pilot.press("down")
        await pilot.pause()
        text = "\n".join(s.text for s in screen._compositor.render_strips())
        assert "for: 1h" in text
        await pilot.press("escape")
        await until(pilot, "back", lambda: app.screen is app.dashboard)


def test_rule_files_are_found_beside_the_config_or_named_with_file_and_line(
    tmp_path: Path,
) -> None:
    from oncall_console.config import ConfigError, load

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text(json.dumps(DEPLOY_RULES), encoding="utf-8")
    path = write_config(tmp_path, "http://prom:9090")
    path.write_text(path.read_text() + 'rule_files = ["rules/*.yml"]\n', encoding="utf-8")
    loaded = load(path, env={})
    (_, opts) = loaded.backend_options["prom"]
    # The config's folder counts, not the working directory.
    assert opts.rule_paths() == [tmp_path / "rules" / "a.yml"]  # type: ignore[attr-defined]
    path.write_text(path.read_text().replace("rules/*.yml", "missing/*.yml"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    problem = str(info.value)
    assert f"{path}:7:1: backends.prom.rule_files" in problem
    assert "no file matches 'missing/*.yml'" in problem


def test_a_broken_rule_file_is_found_by_check(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "broken.yml").write_text("groups:\n  - name: x\n    rules: [\n")
    path = write_config(tmp_path, "http://prom:9090")
    path.write_text(path.read_text() + 'rule_files = ["rules/*.yml"]\n', encoding="utf-8")
    out = cli("check", "--config", str(path))
    assert out.returncode == 2
    assert "backends.prom" in out.stderr + out.stdout
    assert f"{tmp_path / 'rules' / 'broken.yml'}:4: not YAML" in out.stderr + out.stdout
