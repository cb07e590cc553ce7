"""SLO specs a team already has (#17, point 8): Sloth and OpenSLO files become ``[slis]``
our config accepts, and on the same data in a real Prometheus the imported SLI's error
budget is the one Sloth's own recording rules compute."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall_console.backends.prometheus import slo as slo_math
from oncall_console.config import load
from oncall_console.engine.api import OnCall
from oncall_console.model import SloSpec
from tests.support.public_corpus import corpus_file
from tests.support.rules_prometheus import RulesPrometheus, counter_rules, rules_prometheus
from tests.support.stack_server import get_json, wait_until
from tests.test_cli import run as cli

pytestmark = [pytest.mark.integration]

# myservice: 1000 good and 0.5 bad requests a second; quietservice: never an error.
ERRORS, GOOD = 0.5, 1000.0
RATIO = ERRORS / (ERRORS + GOOD)


def imported(path: Path, *flags: str) -> str:
    out = cli("slo", "import", str(path), *flags)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesPrometheus]:
    sloth_rules = corpus_file("rules", "sloth-generated-getting-started.yml")
    folder = tmp_path_factory.mktemp("slo-prometheus")
    traffic = counter_rules("myservice", {"200": GOOD, "500": ERRORS})
    traffic["groups"] += counter_rules("quietservice", {"200": 50.0})["groups"]
    traffic["groups"][1]["name"] = "quiet-traffic"
    (folder / "traffic.yml").write_text(json.dumps(traffic), encoding="utf-8")
    with rules_prometheus(folder / "server", [folder / "traffic.yml", sloth_rules]) as server:
        yield server


def sloth_says(prom: RulesPrometheus, series: str) -> float:
    """A value Sloth's own recording rules computed, once they have one."""

    def found() -> float | None:
        url = f"{prom.url}/api/v1/query?query={series}"
        result = get_json(url)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    return float(wait_until(f"Sloth's {series}", found, 60))


def config(tmp_path: Path, url: str, slis: str) -> Path:
    path = tmp_path / "oncall.toml"
    path.write_text(
        f'[console]\nenvironment = "test"\n\n[backends.prom]\ntype = "prometheus"\n'
        f'url = "{url}"\nalerts = false\n\n{slis}',
        encoding="utf-8",
    )
    return path


async def readings(
    path: Path, wanted: tuple[str, ...] = ("value", "budget_remaining")
) -> dict[str, Any]:
    """The first reading of each SLI once every one has each of ``wanted`` (polls again
    until so). Both: a CI run read the budget on a poll whose value query came back empty
    (Prometheus under the suite's load) and the test then asserted on that value."""
    oncall = OnCall.build(load(path, env={}))
    try:
        deadline = time.monotonic() + 60
        while True:
            await oncall.poll_once()
            slis = oncall.status()["slis"]
            got = {s["name"]: (s["readings"] or [{}])[0] | {"status": s["status"]} for s in slis}
            if all(r.get(w) is not None for r in got.values() for w in wanted):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"no {wanted} within 60 s: {got}")
            await oncall.poll_once()
    finally:
        await oncall.stop()


@pytest.mark.parametrize(
    "spec",
    [
        "sloth-prometheus-v1-getting-started.yml",
        "sloth-k8s-PrometheusServiceLevel.yml",
        "sloth-openslo-v1alpha-getting-started.yml",
    ],
)
async def test_an_imported_sloth_slo_spends_the_budget_sloths_rules_say(
    prom: RulesPrometheus, tmp_path: Path, spec: str
) -> None:
    toml = imported(corpus_file("slo", spec))
    assert "{{.window}}" not in toml and "[{window}]" in toml  # translated to ours
    got = await readings(config(tmp_path, prom.url, toml))
    (reading,) = got.values()
    sloth_budget = sloth_says(
        prom, 'slo:period_error_budget_remaining:ratio{sloth_service="myservice"}'
    )
    # Sloth: 1 - (mean 5m error ratio over 30d) / (1 - 0.999); ours: the same over [30d].
    assert reading["budget_remaining"] == pytest.approx(sloth_budget, rel=1e-6)
    assert reading["budget_remaining"] == pytest.approx(1 - RATIO / 0.001, rel=1e-6)
    sloth_burn = sloth_says(prom, 'slo:current_burn_rate:ratio{sloth_service="myservice"}')
    assert reading["burn_rate"] == pytest.approx(sloth_burn, rel=1e-6)
    assert reading["value"] == pytest.approx(100 * (1 - RATIO), rel=1e-9)
    assert reading["status"] == "ok"


QUIET_SPEC = """\
version: "prometheus/v1"
service: "quietservice"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="quietservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="quietservice"}[{{.window}}]))
"""


def test_a_service_with_no_errors_reads_ok_not_unknown(
    prom: RulesPrometheus, tmp_path: Path
) -> None:
    spec = tmp_path / "quiet.yml"
    spec.write_text(QUIET_SPEC, encoding="utf-8")
    wait_until(
        "quiet traffic",
        lambda: get_json(
            f"{prom.url}/api/v1/query?query=rate(http_request_duration_seconds_count"
            '{job="quietservice"}[1m])'
        )["data"]["result"],
        60,
    )
    zero = cli(
        "status", "--config", str(config(tmp_path, prom.url, imported(spec))), "--format", "json"
    )
    assert zero.returncode == 0, zero.stdout + zero.stderr
    (sli,) = json.loads(zero.stdout)["slis"]
    (reading,) = sli["readings"]
    assert (reading["value"], reading["budget_remaining"], reading["note"]) == (100.0, 1.0, None)

    strict = tmp_path / "strict"
    strict.mkdir()
    unknown = cli(
        "status",
        "--config",
        str(config(strict, prom.url, imported(spec, "--no-data-unknown"))),
    )
    assert unknown.returncode == 2 and "no data" in unknown.stdout


TIMESLICES_SPEC = """\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: myservice-responses
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        type: Prometheus
        spec:
          query: sum(rate(http_request_duration_seconds_count{{job="myservice",code=~"5.."}}[{{{{.window}}}}]))
    total:
      metricSource:
        type: Prometheus
        spec:
          query: sum(rate(http_request_duration_seconds_count{{job="myservice"}}[{{{{.window}}}}]))
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: myservice-slices
spec:
  service: myservice
  indicatorRef: myservice-responses
  timeWindow:
    - duration: 1h
      isRolling: true
  budgetingMethod: {method}
  objectives:
    - target: 0.99
      timeSliceTarget: {slice_target}
      timeSliceWindow: 10s
"""


@pytest.mark.parametrize(
    ("method", "slice_target", "budget"),
    [
        # Every 10 s slice is 99.95 % good: above 99.9 % all are good, below 99.99 % all bad.
        ("Timeslices", 0.999, 1.0),
        ("Timeslices", 0.9999, 1 - 1.0 / 0.01),
        # The mean of the slices' error ratios: the error ratio itself on steady traffic.
        ("RatioTimeslices", 0.9, 1 - RATIO / 0.01),
    ],
)
async def test_time_slice_budgeting_counts_slices(
    prom: RulesPrometheus, tmp_path: Path, method: str, slice_target: float, budget: float
) -> None:
    spec = tmp_path / "slices.yml"
    spec.write_text(
        TIMESLICES_SPEC.format(method=method, slice_target=slice_target), encoding="utf-8"
    )
    toml = imported(spec)
    assert f'budgeting_method = "{method.replace("Time", "_time").lower().lstrip("_")}"' in toml
    got = await readings(config(tmp_path, prom.url, toml))
    (reading,) = got.values()
    assert reading["budget_remaining"] == pytest.approx(budget, rel=1e-6)


def test_the_time_slice_query_judges_each_slice() -> None:
    spec = SloSpec(0.99, 3600.0, budgeting="timeslices", time_slice=10.0, time_slice_target=0.999)
    query = slo_math.ratio_query("errors[{window}] / total[{window}]", 3600.0, spec)
    assert query == "avg_over_time(((errors[10s] / total[10s]) > bool 0.001)[1h:10s])"
    mean = SloSpec(0.99, 3600.0, budgeting="ratio_timeslices", time_slice=60.0)
    assert slo_math.ratio_query("r[{window}]", 300.0, mean) == "avg_over_time((r[1m])[5m:1m])"
    assert slo_math.ratio_query("r[{window}]", 300.0, SloSpec(0.99)) == "r[5m]"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("just: text\n", "no SLO found"),
        ("version: [unclosed\n", "line 2: not YAML"),
    ],
)
def test_a_file_that_is_not_an_slo_spec_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    out = cli("slo", "import", str(path))
    assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr
