"""Runbooks: the format, the seeds teams bring, lint against real backends, our own folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall_console.backends.demo import demo_config_dict
from oncall_console.config import LoadedConfig, from_dict, loads
from oncall_console.model import Alert, Severity
from oncall_console.runbooks import (
    ActionBlock,
    PromqlBlock,
    ReferenceBlock,
    Runbook,
    RunbookError,
    RunbookLibrary,
    ShiftMoment,
    SqlBlock,
    load_file,
    parse_bytes,
    parse_text,
    slugify,
)
from oncall_console.runbooks.library import kebab, url_slugs
from oncall_console.runbooks.lint import (
    errors,
    instantiate_backends,
    lint_library,
    lint_runbook,
    read_only_problem,
)
from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "runbooks"
DEMO_RUNBOOKS = ROOT / "runbooks-demo"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runbooks"
SEEDS = ROOT.parent / "shared" / "seeds"


def team_config(*, prometheus: bool = True) -> LoadedConfig:
    """The conventional team config the runbooks are written for; no server is reached."""
    backends = {
        "pg": {"type": "postgres", "dsn": "postgresql://oncall@db.invalid:5432/app"},
        "cache": {"type": "redis", "url": "redis://cache.invalid:6379/0"},
        "am": {"type": "alertmanager", "url": "http://alertmanager.invalid:9093"},
        "k8s": {"type": "kubernetes", "kubeconfig": "/nonexistent/kubeconfig"},
        "web": {"type": "http"},
    }
    if prometheus:
        backends["prom"] = {"type": "prometheus", "url": "http://prometheus.invalid:9090"}
    return from_dict({"backends": backends}, filename="<test>", env={})


@pytest.fixture(scope="module")
def backends():
    return instantiate_backends(team_config())


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return hits[nth - 1]


def seed(prefix: str) -> Path:
    found = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    # The seeds live in shared/ beside the checkout (CI has it); fail there if missing.
    need(bool(found), f"seed {prefix} not found in {SEEDS}")
    return found[0]


# --- our own runbooks folder ----------------------------------------------------------------


OUR_FILES = sorted(RUNBOOKS.glob("*.md"))


@pytest.mark.parametrize("path", OUR_FILES, ids=lambda p: p.name)
def test_each_of_our_runbooks_parses_and_lints_clean(path, backends):
    rb = load_file(path)
    assert rb.steps, "a runbook is a checklist"
    assert lint_runbook(rb, backends) == []


def test_our_folder_covers_the_topics_and_the_alerts():
    lib = RunbookLibrary.load([RUNBOOKS])
    assert lib.errors == [] and lib.problems == []
    assert len(lib) == 11
    for alert in (
        "HighErrorRate",
        "PredictionServiceDown",
        "PostgresConnectionPoolHigh",
        "PostgresConnectionPoolWarning",
        "RedisMemoryHigh",
        "ServiceDown",
        "DiskUsageHigh",
        "KubePodCrashLooping",
        "CertificateExpiringSoon",
        "ExternalProviderDown",
        "HighLatency",
    ):
        assert lib.for_alert(alert) is not None, alert
    assert [r.id for r in lib.for_shift(ShiftMoment.START)] == ["start-of-shift"]
    assert [r.id for r in lib.for_shift(ShiftMoment.END)] == ["end-of-shift"]


def test_incident_runbooks_carry_the_sev_policy():
    expected = {Severity.SEV1: 15, Severity.SEV2: 30, Severity.SEV3: 120}
    for rb in RunbookLibrary.load([RUNBOOKS]).all():
        if rb.when is None:
            assert rb.severity is not None, rb.id
            assert rb.escalate_after_minutes == expected[rb.severity], rb.id


def test_every_incident_runbook_has_something_to_run_and_something_to_look_at():
    for rb in RunbookLibrary.load([RUNBOOKS]).all():
        if rb.when is not None:
            continue
        kinds = {type(b) for _, _, b in rb.blocks()}
        assert ActionBlock in kinds, rb.id
        assert kinds & {PromqlBlock, SqlBlock}, rb.id


def test_the_demo_runbooks_run_against_the_demo_platform():
    demo = instantiate_backends(from_dict(demo_config_dict(), filename="<demo>", env={}))
    lib = RunbookLibrary.load([DEMO_RUNBOOKS])
    assert lint_library(lib, demo) == []
    rollback = lib.for_alert("PredictionServiceDown")
    assert rollback is not None and rollback.id == "demo-bad-deploy"
    first = rollback.actions[0]
    assert (first.backend, first.action, first.params) == (
        "demo",
        "rollback",
        {"service": "prediction-service"},
    )
    assert first.request(operator="ana").params == {"service": "prediction-service"}


# --- the seeds teams bring ---------------------------------------------------------------------

# (steps, of which from checkboxes, bash reference blocks)
SEED_COUNTS = {
    "000": (76, 7, 0),
    "001": (19, 6, 30),
    "002": (37, 35, 32),  # + 2 plain bullets under the template's "Mitigation"
    "003": (37, 6, 12),
    "004": (123, 82, 47),  # + checklists kept in bare ``` fences (templates to paste), walked
}


@pytest.mark.parametrize("prefix", sorted(SEED_COUNTS))
def test_each_seed_loads_as_a_walkable_checklist(prefix):
    rb = load_file(seed(prefix))
    steps, checkboxes, bash = SEED_COUNTS[prefix]
    assert len(rb.steps) == steps
    assert sum(s.checkbox for s in rb.steps) == checkboxes
    assert len({s.id for s in rb.steps}) == steps, "step ids are unique"
    blocks = [b for _, _, b in rb.blocks()]
    shell = [b for b in blocks if isinstance(b, ReferenceBlock) and b.language == "bash"]
    assert len(shell) == bash
    assert all(b.text for b in shell)
    # Nothing in a seed is ever runnable: no action, and its sql blocks name no backend.
    assert not [b for b in blocks if isinstance(b, ActionBlock | SqlBlock)]
    assert rb.title and rb.id == slugify(seed(prefix).stem)


def test_seed_checklists_inside_markdown_code_samples_become_steps():
    rb = load_file(seed("002"))
    start = next(p for p in rb.phases if p.title == "Start of Shift")
    assert [s.text for s in start.steps][:2] == [
        "Check PagerDuty schedule",
        "Review active incidents",
    ]
    assert start.steps[0].line == line_of(seed("002"), "Check PagerDuty schedule")


def test_seed_numbered_procedures_become_steps_only_where_there_is_no_checkbox():
    rb = load_file(seed("000"))
    diag = next(p for p in rb.phases if p.title == "3.5 High Error Rate Alert")
    assert diag.steps[0].text == "Check recent deployments" or diag.steps[1].text == (
        "Check recent deployments"
    )
    assert not any(s.checkbox for s in diag.steps)
    checklist = next(p for p in rb.phases if p.title == "1.2 Deployment Procedures")
    assert all(s.checkbox for s in checklist.steps) and len(checklist.steps) == 7


def test_a_table_of_contents_is_not_a_checklist():
    rb = load_file(seed("002"))
    toc = next(p for p in rb.phases if p.title == "Table of Contents")
    assert toc.steps == () and "System Overview" in toc.text


def test_seed_004_mojibake_loads_with_a_warning_naming_the_line():
    path = seed("004")
    rb = load_file(path)
    line = line_of(path, "Rate limiting")
    warning = next(p for p in rb.problems if p.line == line)
    assert warning.severity == "warning" and "mis-encoded" in warning.message
    assert str(warning).startswith(f"{path}:{line}: warning:")
    assert not rb.has_errors
    step = next(s for s in rb.steps if s.text.startswith("Rate limiting"))
    assert step.line == line


def test_bytes_that_are_not_utf8_load_with_a_warning():
    data = b"# Broken bytes\n\n## Do\n\n- [ ] restart \xff\xfe the thing\n- [ ] then check\n"
    rb = parse_bytes(data, "pasted.md")
    assert [s.text for s in rb.steps] == ["restart \ufffd\ufffd the thing", "then check"]
    assert [(p.line, p.severity) for p in rb.problems] == [(5, "warning")]


# --- the format ---------------------------------------------------------------------------------

EXAMPLE = """\
+++
id = "payments-errors"
alerts = ["PaymentsErrors"]
severity = "P2"
escalate_after_minutes = 30
tags = ["payments"]
+++

# Payments errors

Payments fail at checkout.

```bash
echo intro reference
```

## Triage

Look before you touch.

- [ ] Check the error ratio

```promql
# backend: prom
sum(rate(payments_errors_total[5m]))
```

- [x] Check the database
  - [ ] Count sessions

    ```sql backend=pg
    SELECT count(*) FROM pg_stat_activity;
    ```
  - a plain note under the step

## Fix

- [ ] Restart payments

```action
title = "Restart"
backend = "k8s"
action = "rollout-restart"
params = { deployment = "payments" }
```

```yaml
kind: Deployment
```
"""


def test_the_format_end_to_end():
    rb = parse_text(EXAMPLE, "payments.md")
    assert (rb.id, rb.title, rb.alerts, rb.severity) == (
        "payments-errors",
        "Payments errors",
        ("PaymentsErrors",),
        Severity.SEV2,
    )
    assert (rb.escalate_after_minutes, rb.tags, rb.id_line) == (30, ("payments",), 2)
    assert rb.intro.text == "Payments fail at checkout."
    assert [b.language for b in rb.intro.blocks if isinstance(b, ReferenceBlock)] == ["bash"]
    triage, fix = rb.phases
    assert (triage.id, triage.level, triage.line, triage.text) == (
        "triage",
        2,
        17,
        "Look before you touch.",
    )
    ratio, db, sessions = triage.steps
    assert ratio.id == "triage/check-the-error-ratio" and ratio.line == 21
    (query,) = ratio.blocks
    assert isinstance(query, PromqlBlock)
    assert (query.backend, query.query, query.line) == (
        "prom",
        "sum(rate(payments_errors_total[5m]))",
        23,
    )
    assert db.checked and db.depth == 0 and db.note == "- a plain note under the step"
    assert (sessions.depth, sessions.parent, sessions.line) == (1, db.id, 29)
    (sql,) = sessions.blocks
    assert isinstance(sql, SqlBlock) and sql.backend == "pg" and sql.line == 31
    (restart,) = fix.steps
    action, yaml = restart.blocks
    assert isinstance(action, ActionBlock) and isinstance(yaml, ReferenceBlock)
    assert (action.key, action.params, action.title, action.line) == (
        "k8s.rollout-restart",
        {"deployment": "payments"},
        "Restart",
        40,
    )
    assert action.param_lines == {"deployment": 44}
    assert yaml.language == "yaml" and yaml.text == "kind: Deployment"


def test_defaults_come_from_the_file_name_and_the_first_heading():
    rb = parse_text("# Disk Full!\n\n- [ ] look\n", "/srv/runbooks/Disk Full (prod).md")
    assert (rb.id, rb.title, rb.severity, rb.alerts) == ("disk-full-prod", "Disk Full!", None, ())
    assert [s.id for s in rb.steps] == ["intro/look"]


def test_remote_text_stays_data():
    rb = parse_text("# T\n\n## P\n\n- [ ] run [bold red]this[/] \x1b[31mnow\x1b[0m\n", "x.md")
    (step,) = rb.steps
    assert step.text == "run [bold red]this[/] now"


def test_step_ids_survive_a_reparse_a_new_step_and_a_reorder():
    before = {s.text: s.id for s in parse_text(EXAMPLE, "a.md").steps}
    assert before == {s.text: s.id for s in parse_text(EXAMPLE, "a.md").steps}
    edited = EXAMPLE.replace(
        "- [ ] Restart payments", "- [ ] Tell the payments team\n- [ ] Restart payments"
    )
    after = {s.text: s.id for s in parse_text(edited, "a.md").steps}
    assert after.pop("Tell the payments team") == "fix/tell-the-payments-team"
    assert after == before
    swapped = EXAMPLE.replace("- [ ] Check the error ratio", "- [ ] Check the error ratio again")
    moved = {s.text: s.id for s in parse_text(swapped, "a.md").steps}
    assert moved["Restart payments"] == before["Restart payments"]


def test_repeated_step_text_gets_numbered_ids():
    rb = parse_text("## Verify\n\n- [ ] wait\n- [ ] wait\n- [ ] wait\n", "x.md")
    assert [s.id for s in rb.steps] == ["verify/wait", "verify/wait-2", "verify/wait-3"]


def test_numbered_steps_can_be_turned_off():
    text = "+++\nnumbered_steps = false\n+++\n## Do\n\n1. one\n2. two\n"
    assert parse_text(text, "x.md").steps == ()
    assert [s.text for s in parse_text(text.split("+++\n", 2)[2], "x.md").steps] == [
        "one",
        "two",
    ]


def test_a_block_before_any_step_belongs_to_the_phase():
    rb = parse_text("## Look\n\n```promql\nup\n```\n\n- [ ] then act\n", "x.md")
    (phase,) = rb.phases
    assert [type(b) for b in phase.blocks] == [PromqlBlock]
    assert phase.steps[0].blocks == ()


def test_sql_without_a_backend_is_only_a_reference():
    rb = parse_text("## Look\n\n- [ ] count\n\n```sql\nDELETE FROM t;\n```\n", "x.md")
    (block,) = rb.steps[0].blocks
    assert isinstance(block, ReferenceBlock) and block.language == "sql"


# --- broken files: one clear message with file and line ---------------------------------------


def test_bad_front_matter_toml_names_file_and_line():
    path = FIXTURES / "bad-front-matter-toml.md"
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    err = caught.value
    assert err.file == str(path) and err.line in (3, 4)
    assert str(err).startswith(f"{path}:{err.line}: error: front matter: TOML syntax")


def test_unknown_front_matter_key_is_a_warning_naming_its_line():
    # Front matter written for a site generator loads (owner is ignored); a slip of a
    # known key still shows in lint.
    path = FIXTURES / "unknown-front-matter-key.md"
    rb = load_file(path)
    (problem,) = rb.problems
    assert problem.line == line_of(path, "alert =") == 4 and problem.severity == "warning"
    assert "unknown key 'alert', ignored (did you mean 'alerts'?)" in problem.message
    assert rb.steps[0].text == "never reached"


def test_wrong_front_matter_values_are_each_reported():
    path = FIXTURES / "bad-front-matter-values.md"
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    lines = {p.line: p.message for p in caught.value.problems}
    assert set(lines) == {2, 3, 4}
    assert "SEV1-SEV4" in lines[2] and "minutes" in lines[3] and "start-of-shift" in lines[4]


def test_front_matter_that_never_closes_is_an_error_on_line_1():
    with pytest.raises(RunbookError) as caught:
        load_file(FIXTURES / "unclosed-front-matter.md")
    assert caught.value.line == 1 and "never closed" in str(caught.value)


def test_a_broken_action_block_is_kept_as_text_and_reported(backends):
    path = FIXTURES / "bad-action-toml.md"
    rb = load_file(path)
    assert rb.actions == ()  # none of them may run
    assert all(isinstance(s.blocks[0], ReferenceBlock) for s in rb.steps)
    problems = {p.line: p.message for p in lint_runbook(rb, backends)}
    assert any("TOML syntax" in m for m in problems.values())
    syntax_line = next(n for n, m in problems.items() if "TOML syntax" in m)
    assert line_of(path, "```action") < syntax_line <= line_of(path, "```action") + 4
    assert "unknown key 'run_immediately'" in problems[line_of(path, "run_immediately")]
    assert "backend is missing" in problems[line_of(path, "```action", 3)]


def test_actions_the_backends_cannot_run_are_errors_on_their_lines(backends):
    path = FIXTURES / "bad-actions.md"
    problems = {p.line: p.message for p in lint_runbook(load_file(path), backends)}
    assert "no backend named or of type 'mysql'" in problems[line_of(path, "```action", 1)]
    assert "no action 'rollout-pause'" in problems[line_of(path, "```action", 2)]
    assert "rollout-restart" in problems[line_of(path, "```action", 2)]  # lists what exists
    assert "no parameter 'force'" in problems[line_of(path, "force = true")]
    assert "replicas: required" in problems[line_of(path, "```action", 4)]
    assert "at most 1440" in problems[line_of(path, "older_than_minutes = 100000")]
    assert "ask names 'replicas'" in problems[line_of(path, "```action", 6)]
    assert "has no actions" in problems[line_of(path, "```action", 7)]
    assert len(problems) == 7


def test_parameters_that_smuggle_commands_are_refused(backends):
    path = FIXTURES / "injection-params.md"
    problems = lint_runbook(load_file(path), backends)
    by_line = {p.line: p.message for p in problems}
    assert len(errors(problems)) == 5
    assert "not a valid identifier" in by_line[line_of(path, "DROP TABLE")]
    assert "not a valid name" in by_line[line_of(path, "reboot")]
    assert "not a valid name" in by_line[line_of(path, "etc/passwd")]
    assert "whole number" in by_line[line_of(path, "pg_sleep")]
    assert "control characters" in by_line[line_of(path, "aGk=")]


def test_sql_blocks_must_be_one_read_only_statement(backends):
    path = FIXTURES / "write-sql.md"
    problems = {p.line: p.message for p in lint_runbook(load_file(path), backends)}
    fences = [n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("```sql")]
    delete, update, cte, kill, fine, not_pg = fences
    assert "only SELECT" in problems[delete]
    assert "more than one statement" in problems[update]
    assert "DELETE is not allowed" in problems[cte]
    assert "pg_terminate_backend" in problems[kill]
    assert fine not in problems
    assert "is redis, not postgres" in problems[not_pg]


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT 1", None),
        ("select state, count(*) from pg_stat_activity group by 1;", None),
        ("SHOW max_connections", None),
        ("EXPLAIN SELECT * FROM t", None),
        ("WITH a AS (SELECT 1) SELECT * FROM a", None),
        ("SELECT CASE WHEN x THEN 1 END FROM t", None),
        ("SELECT 'a; DELETE FROM t'", None),
        ("SELECT $tag$; DROP TABLE t$tag$", None),
        ('SELECT "update" FROM t', None),
        ("SELECT 1 /* ; DROP TABLE t */", None),
        ("DELETE FROM t", "only SELECT"),
        ("UPDATE t SET a = 1; SELECT 1", "more than one statement"),
        ("SELECT 1; SELECT 2", "more than one statement"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
        ("WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM u", "UPDATE"),
        ("WITH i AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1", "INSERT"),
        ("EXPLAIN ANALYZE DELETE FROM t", "ANALYZE"),
        ("EXPLAIN (ANALYZE) SELECT 1", "ANALYZE"),
        ("SELECT * INTO copy FROM t", "INTO"),
        ("SELECT * FROM t FOR UPDATE", "UPDATE"),
        ("SELECT * FROM t FOR SHARE", "row-locking"),
        ("SELECT set_config('x', 'y', false)", "set_config"),
        ("SELECT nextval('s')", "nextval"),
        ("select PG_CANCEL_BACKEND(42)", "PG_CANCEL_BACKEND"),
        ("SELECT E'\\'; DELETE FROM t", "never closed"),
        ("SELECT 1 /* unclosed", "never closed"),
        ("-- only a comment", "no statement"),
        ("VACUUM t", "only SELECT"),
        ("COPY t TO '/tmp/x'", "only SELECT"),
    ],
)
def test_read_only_sql(sql, why):
    got = read_only_problem(sql)
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got


def test_promql_without_a_prometheus_backend_is_a_warning():
    no_prom = instantiate_backends(team_config(prometheus=False))
    path = FIXTURES / "promql-without-prometheus.md"
    problems = lint_runbook(load_file(path), no_prom)
    first, second = (line_of(path, "```promql", n) for n in (1, 2))
    assert [(p.line, p.severity) for p in problems] == [(first, "warning"), (second, "error")]
    assert "is postgres, not prometheus" in problems[1].message


def test_lint_does_no_io(backends):
    # The backends point at *.invalid hosts: lint must answer without touching them.
    for b in backends.values():
        for attr in ("_client", "_conn", "_api", "_session"):
            held = getattr(b, attr, None)
            assert held is None or callable(held), (b.name, attr)  # a method is no connection


# --- the library ---------------------------------------------------------------------------------


def test_duplicate_ids_and_shared_alerts_across_a_folder():
    lib = RunbookLibrary.load([FIXTURES / "duplicates"])
    assert sorted(lib.runbooks) == ["same-id", "third"]
    dup = next(p for p in lib.problems if p.severity == "error")
    assert dup.file.endswith("two.md") and dup.line == 3
    assert "duplicate runbook id 'same-id'" in dup.message and "one.md" in dup.message
    shared = next(p for p in lib.problems if p.severity == "warning")
    assert "'Shared'" in shared.message
    assert lib.for_alert("Shared").id == "same-id"  # the file that sorts first


def test_a_folder_with_broken_files_still_loads_the_good_ones():
    lib = RunbookLibrary.load([FIXTURES, FIXTURES / "missing-folder"])
    assert {e.file.rsplit("/", 1)[-1] for e in lib.errors} == {
        "bad-front-matter-toml.md",
        "bad-front-matter-values.md",
        "unclosed-front-matter.md",
    }
    assert "bad-actions" in lib.runbooks
    assert any("no such file or folder" in p.message for p in lib.problems)


def test_finding_the_runbook_for_an_alert():
    lib = RunbookLibrary.load([RUNBOOKS])
    by_front_matter = lib.for_alert("PostgresConnectionPoolWarning")
    assert by_front_matter.id == "database-connection-exhaustion"
    assert lib.for_alert("highlatency").id == "high-latency"  # case is forgiven
    url = "https://runbooks.example.com/oncall/disk-full.md#free-space"
    assert lib.for_alert("SomethingElse", url).id == "disk-full"
    alert = Alert(
        "fp",
        "NotInAnyFrontMatter",
        Severity.SEV3,
        "",
        runbook_url="https://wiki.example.com/runbooks/certificate-expiry",
    )
    assert lib.for_alert(alert).id == "certificate-expiry"
    assert lib.for_alert("BadDeployRollback").id == "bad-deploy-rollback"  # kebab of the name
    assert lib.for_alert("NobodyKnowsThis") is None


def test_url_and_name_slugs():
    assert url_slugs("https://runbooks.example.com/oncall/high-error-rate") == ["high-error-rate"]
    assert url_slugs("runbooks/Disk%20Full.md") == ["disk-full"]
    assert url_slugs("") == []
    assert kebab("KubePodCrashLooping") == "kube-pod-crash-looping"
    assert kebab("HTTPErrors5xx") == "http-errors5xx"


# --- nothing crashes ---------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "+++\n",
        'id = "x"\n',
        "alerts = [\n",
        "# Title\n",
        "## Phase\n",
        "### Sub\n",
        "- [ ] step\n",
        "  - [x] sub-step\n",
        "1. numbered\n",
        "```action\n",
        'backend = "k8s"\naction = "scale"\n',
        "params = { replicas = 3 }\n",
        "```\n",
        "```sql backend=pg\n",
        "```promql\n",
        "```markdown\n",
        "# backend: pg\n",
        "> quote\n",
        "| a | b |\n|---|---|\n",
        "\n",
        "    indented code\n",
        "\x1b[31m",
        "\r\n",
        "æ£å¸¸\n",
    ]
)
_MARKDOWN = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=40)), max_size=40).map("".join)


def _parses_or_says_where(run) -> None:
    try:
        rb = run()
    except RunbookError as exc:
        assert exc.problems and all(p.file == "fuzz.md" for p in exc.problems)
        assert str(exc).startswith("fuzz.md")
        return
    assert isinstance(rb, Runbook)
    assert len({s.id for s in rb.steps}) == len(rb.steps)
    assert all(p.line >= 0 for p in rb.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MARKDOWN)
def test_random_markdown_never_crashes_the_parser(text):
    _parses_or_says_where(lambda: parse_text(text, "fuzz.md"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_parser(data):
    _parses_or_says_where(lambda: parse_bytes(data, "fuzz.md"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_sql_never_crashes_the_read_only_check(sql):
    result = read_only_problem(sql)
    assert result is None or isinstance(result, str)


def test_steps_text_is_one_clean_line():
    rb = load_file(seed("001"))
    for s in rb.steps:
        assert "\n" not in s.text and not re.search(r"[\x00-\x1f]", s.text)


def test_without_a_config_lint_still_checks_the_format_and_the_sql():
    assert lint_runbook(load_file(FIXTURES / "bad-actions.md"), None) == []
    problems = lint_runbook(load_file(FIXTURES / "write-sql.md"), None)
    assert len(errors(problems)) == 4  # the four writes; the backend type needs a config
    assert len(errors(lint_runbook(load_file(FIXTURES / "bad-action-toml.md"), None))) == 3


def test_the_builtin_folder_is_ours_in_a_checkout():
    from oncall_console.runbooks.library import builtin_dir

    assert builtin_dir().resolve() == RUNBOOKS.resolve()


def test_the_team_runbooks_run_on_the_devstack_but_for_kubernetes():
    """scripts/devstack's config names the team runbooks, to walk them on real servers:
    every block but the kubernetes ones (no API server runs here) finds its backend."""
    from tests.support.stack_config import dev_config_toml

    text = dev_config_toml(
        postgres_dsn="postgresql://u@127.0.0.1:5432/app",
        redis_url="redis://127.0.0.1:6379/0",
        prometheus_url="http://127.0.0.1:9090",
        alertmanager_url="http://127.0.0.1:9093",
        http_checks={},
        runbook_dirs=[str(RUNBOOKS)],
    )
    loaded = loads(text, filename="config.dev.toml", env={})
    assert [str(d) for d in loaded.config.runbooks.dirs] == [str(RUNBOOKS)]
    problems = lint_library(RunbookLibrary.load([RUNBOOKS]), instantiate_backends(loaded))
    assert problems, "the kubernetes blocks should be the ones left"
    for problem in problems:
        assert "no backend named or of type 'kubernetes'" in problem.message, problem
