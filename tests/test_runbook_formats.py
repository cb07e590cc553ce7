"""Runbooks written for other tools (#17): YAML front matter, folders of folders with
section pages and translations, backends named by their type, placeholders filled from
an alert's labels, `runbook show` and `runbook lint` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oncall_console.cli import main
from oncall_console.config import from_dict
from oncall_console.runbooks import RunbookError, RunbookLibrary, load_file, parse_text
from oncall_console.runbooks.lint import instantiate_backends, lint_runbook, resolve_blocks
from oncall_console.runbooks.placeholders import copyable, fill, pieces, unknown

ROOT = Path(__file__).resolve().parent.parent


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- front matter ---------------------------------------------------------------------------


def test_yaml_front_matter_gives_title_tags_alerts_and_weight():
    rb = parse_text(
        "---\ntitle: Disk filling up\nweight: 20\ntags: storage\nalerts: [DiskFull]\n"
        "date: 2024-01-01\ndraft: false\n---\n\n# DiskFull\n\n## Mitigation\n\n- Free some space\n",
        "disk.md",
    )
    assert (rb.title, rb.weight, rb.tags, rb.alerts) == (
        "Disk filling up",
        20,
        ("storage",),
        ("DiskFull",),
    )
    assert [p.title for p in rb.phases] == ["Mitigation"]  # no phase made of front matter
    assert rb.problems == ()  # Hugo's own keys are not a problem


def test_bad_yaml_front_matter_is_one_message_with_file_and_line():
    with pytest.raises(RunbookError) as caught:
        parse_text("---\ntitle: ok\ntags: [a, b\nweight: 2\n---\n# x\n", "bad.md")
    (problem,) = caught.value.problems
    assert problem.file == "bad.md" and problem.line >= 3
    assert "front matter: YAML syntax" in problem.message


def test_yaml_is_read_safely():
    with pytest.raises(RunbookError, match="YAML syntax"):
        parse_text("---\ntitle: !!python/object/apply:os.system ['true']\n---\n# x\n", "evil.md")


def test_a_wrong_value_in_yaml_names_its_line():
    with pytest.raises(RunbookError) as caught:
        parse_text("---\ntitle: x\nseverity: loud\n---\n# x\n", "sev.md")
    assert caught.value.line == 3 and "SEV1-SEV4" in str(caught.value)


def test_a_thematic_break_on_line_one_is_not_front_matter():
    rb = parse_text("---\n\n# Title\n\n## Steps\n\n- do the thing\n", "hr.md")
    assert rb.title == "Title" and [s.text for s in rb.steps] == ["do the thing"]


# --- what is a step ---------------------------------------------------------------------------


def test_plain_bullets_are_steps_only_under_a_steps_like_heading_and_numbers_win():
    rb = parse_text(
        "# T\n\n## Impact\n\n- users wait\n- jobs pile up\n\n## Diagnosis\n\n- look at the logs\n"
        "- check the pods\n\n### Database side\n\n- read pg_stat_activity rows\n\n"
        "## Remediation\n\n- note this first\n\n1. restart it\n2. watch it\n",
        "t.md",
    )
    by_phase = {p.title: [s.text for s in p.steps] for p in rb.phases}
    assert by_phase == {
        "Impact": [],
        "Diagnosis": ["look at the logs", "check the pods"],
        "Database side": ["read pg_stat_activity rows"],  # under Diagnosis
        "Remediation": ["restart it", "watch it"],  # numbers win over bullets
    }
    impact = next(p for p in rb.phases if p.title == "Impact")
    assert "users wait" in impact.text  # still shown, as prose


# --- folders --------------------------------------------------------------------------------


def test_folders_are_read_recursively_with_sections_translations_and_what_was_skipped(tmp_path):
    write(tmp_path, "_index.md", "---\ntitle: Runbooks\n---\n")
    write(tmp_path, "kubernetes/_index.md", "---\ntitle: Kubernetes\n---\n")
    write(
        tmp_path,
        "kubernetes/KubePodCrashLooping.md",
        "# KubePodCrashLooping\n\n## Diagnosis\n\n- look at it\n",
    )
    write(
        tmp_path,
        "kubernetes/KubePodCrashLooping.ja.md",
        "# KubePodCrashLooping\n\n## 診断\n\n- 確認する 手順\n",
    )
    write(tmp_path, "etcd/README.md", "# etcd\n")
    write(tmp_path, "etcd/KubePodCrashLooping.md", "# another one of the same name\n")
    write(tmp_path, ".git/HEAD.md", "# hidden\n")
    write(tmp_path, "images/diagram.png", "png")
    lib = RunbookLibrary.load([tmp_path])
    assert lib.errors == [] and lib.problems == []
    top = next(r for r in lib.all() if r.title == "Runbooks")  # the folder's own page
    assert sorted(set(lib.runbooks) - {top.id}) == [
        "etcd",
        "kubepodcrashlooping",  # the first of two files of one name (etcd/ sorts first)
        "kubernetes",
        "kubernetes.kubepodcrashlooping",  # the second: its folder in front
        "kubernetes.kubepodcrashlooping.ja",
    ]
    assert top.id in lib.sections
    assert {"kubernetes", "etcd"} <= lib.sections
    # The translation beside its original, grouped with it (not a duplicate id).
    assert [r.id for r in lib.translations("kubernetes.kubepodcrashlooping")] == [
        "kubernetes.kubepodcrashlooping.ja"
    ]
    assert [r.id for r in lib.matches("KubePodCrashLooping")] == [
        "kubepodcrashlooping",
        "kubernetes.kubepodcrashlooping",
    ]
    assert lib.for_alert("Kubernetes") is None  # a section page answers no alert
    skipped = {Path(p).name: why for p, why in lib.skipped}
    assert skipped == {".git": "hidden folder", "diagram.png": "not Markdown or text"}


def test_an_id_written_twice_in_front_matter_is_still_an_error(tmp_path):
    write(tmp_path, "a/one.md", '+++\nid = "same"\n+++\n# one\n')
    write(tmp_path, "b/two.md", '+++\nid = "same"\n+++\n# two\n')
    lib = RunbookLibrary.load([tmp_path])
    (problem,) = lib.problems
    assert "duplicate runbook id 'same'" in problem.message and problem.line == 2


# --- backends by type -----------------------------------------------------------------------

ACTION = """# Restart

## Steps

- [ ] Restart it

```action
backend = "kubernetes"
action = "rollout-restart"
params = { namespace = "prod", deployment = "api" }
```
"""


def backends_named(**named: str):
    options = {
        "kubernetes": {"kubeconfig": "/nonexistent/kubeconfig"},
        "postgres": {"dsn": "postgresql://oncall@db.invalid:5432/app"},
        "redis": {"url": "redis://cache.invalid:6379/0"},
        "alertmanager": {"url": "http://alertmanager.invalid:9093"},
        "prometheus": {"url": "http://prometheus.invalid:9090"},
    }
    return instantiate_backends(
        from_dict(
            {"backends": {n: {"type": t, **options.get(t, {})} for n, t in named.items()}},
            filename="<test>",
            env={},
        )
    )


def test_an_action_may_name_the_backend_type_when_the_config_has_one_of_it():
    rb = parse_text(ACTION, "restart.md")
    backends = backends_named(cluster_eu="kubernetes", web="http")
    assert lint_runbook(rb, backends) == []
    assert resolve_blocks(rb, backends).actions[0].backend == "cluster_eu"


def test_two_backends_of_the_type_are_an_error_naming_both():
    rb = parse_text(ACTION, "restart.md")
    (problem,) = lint_runbook(rb, backends_named(eu="kubernetes", us="kubernetes"))
    assert "backend type 'kubernetes' is ambiguous" in problem.message
    assert "(eu, us)" in problem.message and problem.line == 7


def test_the_bundled_runbooks_lint_clean_whatever_the_backends_are_called():
    backends = backends_named(
        main_db="postgres",
        sessions="redis",
        alerting="alertmanager",
        prod="kubernetes",
        metrics="prometheus",
    )
    lib = RunbookLibrary.load([ROOT / "runbooks"])
    problems = [p for rb in lib.all() for p in lint_runbook(rb, backends)]
    assert problems == []


# --- placeholders ---------------------------------------------------------------------------


def test_placeholders_are_filled_from_labels_and_the_rest_marked():
    labels = {"namespace": "payments", "pod": "api-7d9f", "instance": "10.0.0.4:9100"}
    text = "kubectl -n $NAMESPACE logs ${POD} -c $CONTAINER; ssh <instance>; curl <my-host>"
    assert fill(text, labels) == (
        "kubectl -n payments logs api-7d9f -c $CONTAINER; ssh 10.0.0.4:9100; curl 10.0.0.4:9100"
    )
    assert unknown(text, labels) == ["CONTAINER"]


def test_a_label_value_that_is_not_a_plain_name_is_never_pasted():
    labels = {"pod": "x; rm -rf /", "namespace": "$(curl evil)"}
    assert fill("kubectl -n $NAMESPACE delete pod $POD", labels) == (
        "kubectl -n $NAMESPACE delete pod $POD"
    )
    assert [p.kind for p in pieces("$POD", labels)] == ["unknown"]


def test_variables_the_script_sets_itself_are_not_placeholders():
    text = 'for POD in $(kubectl get pods -o name); do echo "$POD"; done; N=3; echo $N $HOME'
    assert unknown(text, {}) == []


def test_a_copied_block_keeps_the_commands_not_the_prompt_or_output():
    text = "$ kubectl get nodes \\\n    -o wide\nNAME   STATUS\nnode-1 Ready\n$ etcdctl version"
    assert copyable(text) == "kubectl get nodes \\\n    -o wide\netcdctl version"
    assert copyable("kubectl get nodes") == "kubectl get nodes"


# --- the command line -----------------------------------------------------------------------


def test_runbook_show_prints_json_of_what_the_screen_shows(tmp_path, capsys):
    path = write(
        tmp_path,
        "KubePodCrashLooping.md",
        "---\ntitle: Crash loop\n---\n# KubePodCrashLooping\n\n## Meaning\n\nPods **restart** a lot.\n\n"
        "## Diagnosis\n\n- Read events via `kubectl -n $NAMESPACE describe pod $POD`\n\n"
        "```shell\nkubectl -n $NAMESPACE logs $POD\n```\n",
    )
    code = main(["runbook", "show", str(path), "--format", "json", "--label", "namespace=prod"])
    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["title"] == "Crash loop" and shown["steps"] == 1
    meaning, diagnosis = shown["phases"]
    assert meaning["parts"][0]["emphasis"] == [{"text": "restart", "style": "bold"}]
    step = diagnosis["steps"][0]
    assert [b["text"] for b in step["blocks"]] == [
        "kubectl -n prod describe pod $POD",
        "kubectl -n prod logs $POD",
    ]
    assert step["blocks"][0]["placeholders"] == ["POD"]


def test_runbook_show_of_an_unknown_id_is_one_line(tmp_path, capsys):
    config = write(tmp_path, "c.toml", '[runbooks]\ndirs = ["rb"]\n')
    (tmp_path / "rb").mkdir()
    assert main(["runbook", "show", "NoSuchThing", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no runbook with that id or alert" in err[0]


def test_lint_refuses_what_is_not_a_runbook_and_counts_steps(tmp_path, capsys):
    rules = write(
        tmp_path, "rules.yml", "groups:\n- name: x\n  rules:\n  - alert: Down\n    expr: up == 0\n"
    )
    binary = tmp_path / "tool.md"
    binary.write_bytes(b"\x7fELF\x00\x00\x01binary")
    prose = write(tmp_path, "notes.md", "# Notes\n\nNothing to do here.\n")
    steps = write(tmp_path, "fix.md", "# Fix\n\n## Steps\n\n- do one thing\n- do another\n")
    code = main(["runbook", "lint", "--no-config", str(rules), str(binary), str(prose), str(steps)])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{rules}: error: not a runbook: a Prometheus rules file" in err
    assert f"{binary}: error: not a runbook: a binary file" in err
    assert f"{prose}: warning: no steps found" in err
    assert f"{steps}: fix: 2 steps, 0 blocks" in out
    assert load_file(steps).steps


async def test_the_engine_serves_blocks_naming_this_configs_backends():
    """The library the console walks names backends, so progress, the audit and the action
    flow see the config's own names (kubernetes -> prod, postgres -> main_db)."""
    from concurrent.futures import ThreadPoolExecutor

    from oncall_console.engine.runbooks import RunbookService

    backends = backends_named(
        main_db="postgres", sessions="redis", alerting="alertmanager", prod="kubernetes"
    )
    with ThreadPoolExecutor(1) as pool:
        service = RunbookService(
            paths=[ROOT / "runbooks"],
            executor=pool,
            store=None,  # type: ignore[arg-type]  # loading touches no store
            incidents=None,  # type: ignore[arg-type]
            backends=backends,
            operator="alex",
            clock=lambda: 0.0,
            timeout=1.0,
        )
        await service.load()
    named = {b.backend for rb in service.library.all() for b in rb.actions}
    assert named == {"main_db", "sessions", "alerting", "prod"}
    rb = service.library.get("pod-restart-loop")
    assert {b.backend for b in rb.actions} == {"prod"}


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ('sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))', "same"),
        (
            '# free space\nnode_filesystem_avail_bytes{mountpoint="/"}',
            'node_filesystem_avail_bytes{mountpoint="/"}',
        ),
        ("kubectl -n prod get pods", ""),
        ("$ etcdctl endpoint health -w table", ""),
        ("oc delete pvc <pvc-name> -n <namespace>", ""),
        ("up == 0", ""),  # too little to tell from a command: left as text
    ],
)
def test_promql_in_a_shell_fence_is_told_from_commands(text, query):
    from oncall_console.runbooks.placeholders import promql_like

    assert promql_like(text) == (text if query == "same" else query)


def test_a_folder_name_ending_like_a_language_code_is_not_a_translation(tmp_path):
    write(tmp_path, "service-id/Down.md", "# Down\n")
    write(tmp_path, "content.zh/Down.md", "# 宕机\n")
    write(tmp_path, "ja/Down.md", "# ダウン\n")
    lib = RunbookLibrary.load([tmp_path])
    assert sorted(lib.runbooks) == ["down", "down.ja", "down.zh"]
    assert lib.get("down").file.endswith("service-id/Down.md")


def test_one_kubectl_get_pods_is_offered_to_the_kubernetes_backend():
    from oncall_console.runbooks.placeholders import kubectl_get_pods

    assert kubectl_get_pods("$ kubectl -n prod get pods\nNAME  READY\napi-1 1/1") == (
        "kubectl -n prod get pods"
    )
    assert kubectl_get_pods("oc get po -l app=api") == "oc get po -l app=api"
    assert kubectl_get_pods("kubectl delete pod x") == ""
    assert kubectl_get_pods("kubectl get pods | grep x") == ""
    assert kubectl_get_pods("kubectl get pods $(cat name)") == ""
    assert kubectl_get_pods("kubectl get pods\nkubectl get nodes") == ""


async def test_without_a_kubernetes_backend_the_engine_says_so():
    from concurrent.futures import ThreadPoolExecutor

    from oncall_console.engine.runbooks import DiagnosticRefused, RunbookService
    from oncall_console.runbooks import ReferenceBlock

    with ThreadPoolExecutor(1) as pool:
        service = RunbookService(
            paths=[],
            executor=pool,
            store=None,  # type: ignore[arg-type]
            incidents=None,  # type: ignore[arg-type]
            backends=backends_named(main_db="postgres"),
            operator="alex",
            clock=lambda: 0.0,
            timeout=1.0,
        )
        with pytest.raises(DiagnosticRefused, match="no backend named or of type 'kubernetes'"):
            await service.diagnose(ReferenceBlock("kubectl", "kubectl get pods", 3))
