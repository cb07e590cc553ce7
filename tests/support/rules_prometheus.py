"""A Prometheus of a test's own: no scrape targets, no Alertmanager, the rule files it is
given, evaluated every second. Synthetic counters come from recording rules
(``vector(time() * rate)``), so the numbers a test expects are known in advance."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import need
from tests.support.stack_config import write_yaml
from tests.support.stack_server import HttpServer
from tests.support.stack_servers import find_binary


class RulesPrometheus(HttpServer):
    name = "prometheus-rules"

    def __init__(self, workdir: Path, rule_files: Sequence[Path]) -> None:
        super().__init__(workdir)
        self.rule_files = list(rule_files)

    def before_launch(self) -> None:
        config: dict[str, Any] = {
            "global": {"evaluation_interval": "1s", "scrape_interval": "1s"},
            "rule_files": [str(p) for p in self.rule_files],
        }
        write_yaml(self.workdir / "prometheus.yml", config)

    def command(self) -> Sequence[str]:
        binary = find_binary("prometheus")
        assert binary is not None
        return [
            binary,
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.host_port}",
        ]


@contextmanager
def rules_prometheus(workdir: Path, rule_files: Sequence[Path]) -> Iterator[RulesPrometheus]:
    """A running RulesPrometheus; skipped (failed under CI=true) without the binary."""
    need(find_binary("prometheus") is not None, "no prometheus binary on PATH")
    server = RulesPrometheus(workdir, rule_files)
    server.start(retry_ports=True)
    try:
        yield server
    finally:
        server.stop()


def counter_rules(job: str, per_second: dict[str, float]) -> dict[str, Any]:
    """Recording rules that make ``http_request_duration_seconds_count{job, code}``
    counters growing at ``per_second[code]`` a second (what Sloth's example queries)."""
    return {
        "groups": [
            {
                "name": "synthetic-traffic",
                "interval": "1s",
                "rules": [
                    {
                        "record": "http_request_duration_seconds_count",
                        "expr": f"vector(time() * {rate})",
                        "labels": {"job": job, "code": code},
                    }
                    for code, rate in per_second.items()
                ],
            }
        ]
    }
