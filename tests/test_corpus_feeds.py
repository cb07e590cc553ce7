"""The public corpus of real rules, SLO specs and Alertmanager answers (#17, point 10):
every file loads, and what the console shows of it is asserted, not only that nothing
crashed. The files stay in ``../shared/corpus`` (SOURCES.md); without it these tests
skip with a message, and fail under CI=true."""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oncall_console.backends.alertmanager import AlertmanagerBackend
from oncall_console.backends.alertmanager.matchers import parse_matchers
from oncall_console.backends.alertmanager.options import AlertmanagerOptions
from oncall_console.backends.base import BackendContext
from oncall_console.backends.prometheus.rules import read_rule_file
from oncall_console.backends.prometheus.slo_specs import read_specs
from oncall_console.backends.shared.alerts import AlertReading
from oncall_console.config import loads
from oncall_console.model import AlertState, Severity
from oncall_console.ui.screens.rules import RulesScreen
from tests.support.console import console, until
from tests.support.public_corpus import CORPUS, corpus, corpus_file


def files(kind: str, pattern: str) -> list[str]:
    """The corpus's files of a kind, for parametrize (none when it is absent: the
    test of the kind as a whole then skips or fails)."""
    return sorted(p.name for p in (CORPUS / kind).glob(pattern)) if CORPUS.is_dir() else []


def test_the_corpus_is_there_or_the_tests_say_why() -> None:
    for kind in ("rules", "slo", "alertmanager"):
        assert any(corpus(kind).iterdir()), kind


# --- Prometheus rule files -----------------------------------------------------------------

# file -> (alerting rules, recording rules) as the files hold them.
RULE_COUNTS = {
    "awesome-node-exporter.yml": (35, 0),
    "awesome-postgres-exporter.yml": (20, 0),
    "kube-prometheus-kubernetesControlPlane-prometheusRule.yaml": (63, 71),
    "kube-prometheus-nodeExporter-prometheusRule.yaml": (26, 15),
    "sloth-generated-getting-started.yml": (2, 15),
}


@pytest.mark.parametrize("name", files("rules", "*.y*ml"))
def test_every_rule_file_lists_its_alerting_rules(name: str) -> None:
    rules, recording = read_rule_file(corpus_file("rules", name), AlertReading())
    assert rules, f"{name}: no alerting rule read"
    for rule in rules:
        assert rule.name and rule.expr and rule.origin.endswith(name) and rule.group
    if name in RULE_COUNTS:
        assert (len(rules), recording) == RULE_COUNTS[name]


def test_rule_thresholds_for_and_severity_are_what_the_files_say() -> None:
    def rules(name: str) -> dict[tuple[str, Severity], object]:
        found, _ = read_rule_file(corpus_file("rules", name), AlertReading())
        return {(r.name, r.severity): r for r in found}

    node = rules("awesome-node-exporter.yml")
    memory = node["HostOutOfMemory", Severity.SEV3]
    assert (memory.threshold, memory.for_) == ("< .10", "2m")  # type: ignore[attr-defined]
    assert memory.summary.startswith("Host out of memory")  # type: ignore[attr-defined]
    kube = rules("kube-prometheus-kubernetesControlPlane-prometheusRule.yaml")
    crash = kube["KubePodCrashLooping", Severity.SEV3]
    assert (crash.threshold, crash.for_) == (">= 1", "15m")  # type: ignore[attr-defined]
    assert crash.runbook_url.endswith("/kubernetes/kubepodcrashlooping")  # type: ignore[attr-defined]
    filling = rules("kube-prometheus-nodeExporter-prometheusRule.yaml")
    # The same alert twice: a warning at 15 % left, critical at 10 %.
    assert filling["NodeFilesystemSpaceFillingUp", Severity.SEV3].threshold.startswith("< 15")  # type: ignore[attr-defined]
    assert filling["NodeFilesystemSpaceFillingUp", Severity.SEV2].threshold.startswith("< 10")  # type: ignore[attr-defined]
    sloth = rules("sloth-generated-getting-started.yml")
    # Sloth's page and ticket burn alerts: its own severities, not the team's routing words.
    assert set(sloth) == {
        ("MyServiceHighErrorRate", Severity.SEV1),
        ("MyServiceHighErrorRate", Severity.SEV3),
    }
    page = sloth["MyServiceHighErrorRate", Severity.SEV1]
    assert page.threshold.startswith("> (14.4 * 0.000999999")  # type: ignore[attr-defined]


async def test_the_rules_screen_lists_the_corpus_files(tmp_path: Path) -> None:
    folder = corpus("rules")
    path = tmp_path / "oncall.toml"
    path.write_text(
        '[console]\nenvironment = "corpus"\n\n[backends.prom]\ntype = "prometheus"\n'
        'url = "http://127.0.0.1:9"\ntimeout = 1\nalerts = false\n'
        f"rule_files = [{str(folder / '*.y*ml')!r}]\n",
        encoding="utf-8",
    )
    total = sum(a for a, _ in RULE_COUNTS.values())
    app = console(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, "the console", lambda: app.screen is app.dashboard)
        await pilot.press("R")
        await until(pilot, "the rules screen", lambda: isinstance(app.screen, RulesScreen))
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        await until(pilot, "the rules read", lambda: bool(screen.rules), timeout=30)
        await pilot.pause()
        text = "\n".join(s.text for s in screen._compositor.render_strips())
        assert f"{total} alerting rules" in text
        assert "recording rules not listed" in text and "state unknown" in text
        assert screen.rules[0].severity is Severity.SEV1  # no state known: the worst first


# --- SLO specs -----------------------------------------------------------------------------

# file -> (SLI name, objective, window, budgeting method, error / good query key)
SLO_EXPECTED = {
    "openslo-v1-ratio-timeslices.yaml": (
        "main-page",
        0.99,
        "2w",
        "ratio_timeslices",
        "good_query",
    ),
    "sloth-prometheus-v1-getting-started.yml": (
        "myservice-requests-availability",
        0.999,
        "30d",
        "occurrences",
        "error_query",
    ),
    "sloth-openslo-v1alpha-getting-started.yml": (
        "sloth-slo-my-service",
        0.999,
        "30d",
        "occurrences",
        "good_query",
    ),
    "sloth-k8s-PrometheusServiceLevel.yml": (
        "myservice-requests-availability",
        0.999,
        "30d",
        "occurrences",
        "error_query",
    ),
}


@pytest.mark.parametrize("name", files("slo", "*.y*ml"))
def test_every_slo_spec_imports_into_slis_our_config_accepts(name: str) -> None:
    import tomli_w

    found = read_specs(corpus_file("slo", name).read_text(encoding="utf-8"), "prom")
    assert found.slis, name
    text = '[backends.prom]\ntype = "prometheus"\nurl = "http://prom:9090"\n\n'
    text += tomli_w.dumps({"slis": found.slis})
    loaded = loads(text, filename=name, env={})
    assert [s.name for s in loaded.slis] == list(found.slis)
    for sli in loaded.slis:
        assert sli.slo is not None and 0 < sli.slo.objective < 1
        assert "{window}" in sli.params.error_ratio_query
    if name in SLO_EXPECTED:
        sli_name, objective, window, method, query_key = SLO_EXPECTED[name]
        table = tomllib.loads(tomli_w.dumps(found.slis))[sli_name]
        assert (table["slo"]["objective"], table["slo"]["window"]) == (objective, window)
        assert table["slo"].get("budgeting_method", "occurrences") == method
        assert query_key in table and table["target"] == pytest.approx(objective * 100)
        (spec,) = [s for s in loaded.slis if s.name == sli_name]
        assert spec.slo is not None and spec.slo.budgeting == method


# --- Alertmanager answers ------------------------------------------------------------------


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


def read(pool: ThreadPoolExecutor, name: str, **opts: object) -> list:  # type: ignore[type-arg]
    backend = AlertmanagerBackend(
        "am", AlertmanagerOptions(url="http://am:9093", **opts), BackendContext(executor=pool)
    )
    body = corpus_file("alertmanager", name).read_bytes()
    return backend._parse_alerts((body, "application/json"))


# file -> (alerts, {severity: count}, {state: count})
AM_EXPECTED = {
    "am-real-0.25-answer.json": (101, {"SEV2": 18, "SEV3": 76, "SEV4": 7}, {"active": 101}),
    "am-karma-demo.json": (
        1079,
        {"SEV2": 19, "SEV3": 1028, "SEV4": 32},
        {"active": 1045, "suppressed": 33, "inhibited": 1},
    ),
    "am-karma-mock-0.31.0.json": (12, {"SEV3": 12}, {"active": 8, "suppressed": 4}),
    "am-amp-sample.json": (1, {"SEV3": 1}, {"active": 1}),
    "am-utf8-labels.json": (1, {"SEV3": 1}, {"active": 1}),
}


@pytest.mark.parametrize("name", files("alertmanager", "*.json"))
def test_every_alertmanager_answer_reads_with_its_severities(
    pool: ThreadPoolExecutor, name: str
) -> None:
    alerts = read(pool, name)
    assert alerts and all(a.name and a.fingerprint for a in alerts)
    if name in AM_EXPECTED:
        count, severities, states = AM_EXPECTED[name]
        assert len(alerts) == count
        assert Counter(a.severity.label for a in alerts) == severities
        assert Counter(a.state.value for a in alerts) == states


def test_what_the_alerts_panel_shows_of_real_answers(pool: ThreadPoolExecutor) -> None:
    mock = {a.name: a for a in read(pool, "am-karma-mock-0.31.0.json")}
    assert all(a.summary for a in mock.values())  # summary, or karma's `alert` annotation
    amp = read(pool, "am-amp-sample.json")[0]
    assert (amp.name, amp.summary) == ("metric:alerting_rule", "")
    utf8 = read(pool, "am-utf8-labels.json")[0]
    assert utf8.name == "(no alertname)" and utf8.labels["🙂"] == "dΘ"
    # Silencing it by its UTF-8 label names: the preview's matchers match it.
    matchers = parse_matchers('"Σ"="c", 🙂=~"d.*"')
    assert all(m.matches(utf8.labels) for m in matchers)
    real = read(pool, "am-real-0.25-answer.json")
    assert sum(1 for a in real if a.runbook_url.startswith("https://runbooks.prometheus")) >= 80


def test_a_cut_answer_keeps_every_critical_alert(pool: ThreadPoolExecutor) -> None:
    # 1,079 alerts, 19 critical; 500 kept: the 19 critical are among them.
    kept = read(pool, "am-karma-demo.json", max_alerts=500)
    shown = kept[:-1]
    assert len(shown) == 500 and kept[-1].name == "AlertFeedTruncated"
    assert sum(1 for a in shown if a.severity is Severity.SEV2) == 19
    assert all(a.severity is Severity.SEV2 for a in shown[:19])  # the worst first
    firing = [a.state is AlertState.ACTIVE for a in shown[:19]]
    assert firing == sorted(firing, reverse=True)  # firing before muted
    assert "579 cut:" in kept[-1].summary


def test_the_groups_answer_of_a_real_alertmanager_gives_each_alert_once(
    pool: ThreadPoolExecutor,
) -> None:
    backend = AlertmanagerBackend(
        "am",
        AlertmanagerOptions(url="http://am:9093", read_groups=True),
        BackendContext(executor=pool),
    )
    raw = corpus_file("alertmanager", "raw/karma-mock-0.31.0-alerts-groups.json").read_bytes()
    grouped = backend._parse_groups((raw, "application/json"))
    flat = read(pool, "am-karma-mock-0.31.0.json")  # the same answer, flattened by hand
    assert sorted(a.fingerprint for a in grouped) == sorted(a.fingerprint for a in flat)
    assert len(grouped) == 12  # 24 rows in 10 groups: an alert is in every group it matched
    disk = [a for a in grouped if a.name == "Free_Disk_Space_Too_Low"]
    assert disk and all(a.group == "alertname=Free_Disk_Space_Too_Low" for a in disk)
