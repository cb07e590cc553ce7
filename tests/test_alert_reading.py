"""Alerts as real teams label them (#17, point 9): severity from whichever label a team
uses, a summary from whichever annotation it writes, UTF-8 label names silenced, and a
post-deploy check that fails while something severe fires."""

from __future__ import annotations

import subprocess
import sys

import pytest

from oncall_console.backends.alertmanager.matchers import MatcherError, parse_matchers
from oncall_console.backends.alertmanager.options import AlertmanagerOptions
from oncall_console.model import Severity

URL = "http://alertmanager.test:9093"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, Severity.SEV2),
        ({"severity": "Warning"}, Severity.SEV3),
        ({"priority": "P1"}, Severity.SEV1),
        ({"priority": "high"}, Severity.SEV2),
        # Sloth: the team's own routing word first, then Sloth's page / ticket.
        ({"severity": "pageteam", "sloth_severity": "page"}, Severity.SEV1),
        ({"severity": "slack", "sloth_severity": "ticket"}, Severity.SEV3),
        ({"level": "info"}, Severity.SEV4),
        ({"severity": "catastrophic"}, Severity.SEV3),  # unknown everywhere: the default
        ({}, Severity.SEV3),
    ],
)
def test_severity_comes_from_the_first_label_with_a_known_value(
    labels: dict[str, str], expected: Severity
) -> None:
    assert AlertmanagerOptions(url=URL).severity_of(labels) is expected


def test_a_team_orders_its_own_labels_and_adds_its_own_words() -> None:
    opts = AlertmanagerOptions(
        url=URL,
        severity_labels=["urgency", "severity"],
        severity_map={"wake-me": "SEV1"},
        default_severity="P4",
    )
    assert opts.severity_of({"urgency": "wake-me", "severity": "info"}) is Severity.SEV1
    assert opts.severity_of({"priority": "P1"}) is Severity.SEV4  # not a label it reads
    assert opts.severity_of({"severity": "critical"}) is Severity.SEV2  # built-ins stay
    older = AlertmanagerOptions(url=URL, severity_label="tier")
    assert older.severity_of({"tier": "P2", "severity": "info"}) is Severity.SEV2


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"summary": "disk full", "description": "long text"}, "disk full"),
        ({"message": "kube-state-metrics style"}, "kube-state-metrics style"),
        ({"summary": " ", "description": "only a description"}, "only a description"),
        ({"alert": "karma's mock writes this"}, "karma's mock writes this"),
        ({"runbook_url": "https://x"}, ""),
    ],
)
def test_the_summary_falls_back_over_the_usual_annotations(
    annotations: dict[str, str], expected: str
) -> None:
    assert AlertmanagerOptions(url=URL).summary_of(annotations) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('"Σ"="c"', ["Σ"]),
        ('Σ="c"', ["Σ"]),
        ('{"🙂"=~"d.*", a="a"}', ["🙂", "a"]),
        ('"service name"="api"', ["service name"]),
        ('"00"="b"', ["00"]),
    ],
)
def test_utf8_label_names_are_silenced_as_alertmanager_027_writes_them(
    text: str, names: list[str]
) -> None:
    matchers = parse_matchers(text)
    assert [m.body()["name"] for m in matchers] == names
    labels = {"a": "a", "00": "b", "Σ": "c", "🙂": "dΘ", "service name": "api"}
    assert all(m.matches(labels) for m in matchers)
    # Written back the way Alertmanager 0.27+ reads it: a non-classic name in quotes.
    assert parse_matchers(",".join(m.render() for m in matchers)) == matchers
    assert matchers[0].render().startswith('"') == (names[0] != "a")


def test_a_label_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(MatcherError, match="printable"):
        parse_matchers('"a\\nb"="x"')


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oncall_console", "status", "--demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_fail_on_makes_a_severe_firing_alert_fail_a_post_deploy_check() -> None:
    # At 5 s into the demo only a SEV4 disk warning fires; at 90 s two SEV2 alerts do.
    calm = status("--at", "5", "--fail-on", "SEV2")
    assert calm.returncode == 0, calm.stderr
    assert status("--at", "5").returncode == 0
    picky = status("--at", "5", "--fail-on", "P4")
    assert picky.returncode == 2 and "DiskUsageHigh" in picky.stderr
    burning = status("--at", "90", "--fail-on", "SEV2", "--format", "json")
    assert burning.returncode == 2
    assert "2 alert(s) firing at SEV2 or worse: HighErrorRate, PredictionServiceDown" in (
        burning.stderr
    )
    bad = status("--fail-on", "SEV9")
    assert bad.returncode == 2 and "not a severity: 'SEV9'" in bad.stderr
