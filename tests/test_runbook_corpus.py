"""Real teams' runbooks load as they are (#17): every runbook of ``../shared/corpus`` (the
prometheus-operator, OpenShift, KubeSphere and GitLab files SOURCES.md names) is read from
where it lies, and what the runbook screen will show is checked: the headings, the steps
to tick, every code block, the bold warning, the words of the file. Skipped with a
message without the corpus; under CI=true its absence fails."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from oncall_console.model import Alert, Severity
from oncall_console.runbooks import ReferenceBlock, RunbookError, RunbookLibrary, load_file
from oncall_console.runbooks.lint import NO_STEPS, lint_library
from oncall_console.runbooks.outline import as_text, outline
from tests.conftest import need

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
RUNBOOKS = CORPUS / "runbooks"
FILES = sorted(RUNBOOKS.glob("*/*.md")) if RUNBOOKS.is_dir() else []


@pytest.fixture(autouse=True)
def corpus() -> None:
    need(RUNBOOKS.is_dir(), f"the shared corpus is not beside the checkout ({RUNBOOKS})")


def one(name: str) -> Path:
    return RUNBOOKS / name


# file -> (steps, fenced code blocks, headings in order (the first few))
SHOWN = {
    "po/KubePodCrashLooping.md": (12, 0, ["Meaning", "Impact", "Diagnosis", "Mitigation"]),
    "po/KubePersistentVolumeFillingUp.md": (10, 4, ["Meaning", "Impact", "Diagnosis"]),
    "po/etcdMembersDown.md": (0, 5, ["Meaning", "Impact", "Diagnosis", "General etcd health"]),
    "openshift/CollectorNodeDown.md": (19, 14, ["Meaning", "Impact", "Diagnosis"]),
    "openshift/HighRBDCloneSnapshotCount.md": (10, 6, ["Meaning", "Impact", "Diagnosis"]),
    "kubesphere-zh/KubePersistentVolumeFillingUp.md": (0, 4, ["含义", "影响", "诊断", "缓解"]),
    "gitlab/gitaly-token-rotation.md": (15, 1, ["Execution", "Rollback"]),
    "gitlab/postgresql-role-credential-rotation.md": (54, 32, ["Change issue creation"]),
    "gitlab/cmoc.md": (9, 0, ["Shift Start", "Declaring an Incident"]),
    "gitlab/upgrade-and-rollback.md": (5, 2, ["Overview", "Application Upgrade"]),
}


def test_the_table_names_every_runbook_of_the_corpus():
    assert sorted(str(f.relative_to(RUNBOOKS)) for f in FILES) == sorted(SHOWN)


@pytest.mark.parametrize("name", sorted(SHOWN))
def test_each_runbook_shows_its_headings_steps_and_every_code_block(name):
    path = one(name)
    rb = load_file(path)
    steps, fenced, headings = SHOWN[name]
    assert rb.problems == ()
    assert len(rb.steps) == steps
    assert [p.title for p in rb.phases][: len(headings)] == headings
    # Every fenced block of the file is on screen, none hidden behind a heading.
    source = path.read_text(encoding="utf-8")
    shown = [b for p in rb.all_phases() for b in _blocks_of(p)]
    written = [b for b in shown if not _inline(b, rb)]
    assert len(written) == _code_blocks(source) == fenced
    # And every word of the file is somewhere on the screen: prose, steps, notes, code.
    seen = json.dumps(outline(rb), ensure_ascii=False)
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_]{3,}|[\u4e00-\u9fff]{2,}", source))
    assert sorted(w for w in words if w not in seen) == []


def _code_blocks(source: str) -> int:
    """Code blocks as CommonMark reads the file (a checklist kept in a fence is walked as
    Markdown instead, its own blocks counted)."""
    from oncall_console.runbooks.body import _TASK_LINE, MD

    count = 0
    for tok in MD.parse(source):
        if tok.type == "code_block":
            count += 1
        elif tok.type == "fence":
            lang = (tok.info.split() or [""])[0].lower()
            if lang in ("", "markdown", "md") and _TASK_LINE.search(tok.content):
                count += _code_blocks(tok.content)
            else:
                count += 1
    return count


def _blocks_of(phase):
    yield from (x for x in phase.parts if not isinstance(x, str))
    for s in phase.steps:
        yield from s.blocks


def _inline(block, rb) -> bool:
    """A command lifted from a step's inline code (the step's own line)."""
    return isinstance(block, ReferenceBlock) and any(
        block in s.blocks and block.line == s.line for s in rb.steps
    )


def test_the_common_public_style_is_a_walkable_checklist():
    """Meaning / Impact / Diagnosis / Mitigation in YAML front matter, prose and plain
    bullets: the bullets of Diagnosis are the steps, the commands in them copyable."""
    rb = load_file(one("po/KubePodCrashLooping.md"))
    assert (rb.title, rb.weight) == ("Kube Pod Crash Looping", 20)  # from the YAML
    assert not any("weight" in p.title for p in rb.phases)  # no fake phase of front matter
    diagnosis = next(p for p in rb.phases if p.title == "Diagnosis")
    assert [s.text for s in diagnosis.steps][:2] == [
        "Check template via kubectl -n $NAMESPACE get pod $POD.",
        "Check pod events via kubectl -n $NAMESPACE describe pod $POD.",
    ]
    assert not any(s.checkbox for s in diagnosis.steps)
    assert "pod priority" in diagnosis.steps[3].note  # sub-bullets stay with their step
    assert [b.text for b in diagnosis.steps[0].blocks] == ["kubectl -n $NAMESPACE get pod $POD"]
    meaning = next(p for p in rb.phases if p.title == "Meaning")
    assert meaning.steps == () and "CrashLoop" in meaning.parts[0]
    # With the alert's labels, the commands read as they are to be pasted.
    shown = outline(rb, {"namespace": "payments", "pod": "api-7d9f"})
    step = shown["phases"][2]["steps"][2]
    assert step["blocks"][0]["text"] == "kubectl -n payments logs api-7d9f -c $CONTAINER"
    assert step["blocks"][0]["placeholders"] == ["CONTAINER"]


def test_code_blocks_under_headings_are_shown_between_their_paragraphs():
    rb = load_file(one("po/etcdMembersDown.md"))
    health = next(p for p in rb.phases if p.title == "General etcd health")
    kinds = ["prose" if isinstance(x, str) else x.language for x in health.parts]
    assert kinds == ["prose", "shell", "prose", "shell", "prose", "shell"]
    assert health.parts[-1].text == "$ etcdctl endpoint health -w table"
    assert health.parent == next(p.id for p in rb.phases if p.title == "Diagnosis")


def test_the_bold_warning_keeps_its_weight():
    rb = load_file(one("gitlab/upgrade-and-rollback.md"))
    shown = outline(rb)
    rollback = next(p for p in shown["phases"] if p["title"] == "Application Rollback")
    bold = [e["text"] for part in rollback["parts"] for e in part.get("emphasis", ())]
    assert any(
        e.startswith("Before rolling back the application on GitLab.com the following steps")
        for e in bold
    )
    styles = {
        e["style"]
        for part in rollback["parts"]
        for e in part.get("emphasis", ())
        if "Before" in e["text"]
    }
    assert styles == {"bold"}
    assert len(rollback["steps"]) == 5


def test_runbook_show_prints_what_the_screen_shows():
    text = as_text(outline(load_file(one("po/etcdMembersDown.md"))))
    assert "## Diagnosis" in text and "### General etcd health" in text
    assert "$ shell (line" in text and "etcdctl version" in text


def test_the_corpus_folder_loads_whole_found_by_alert_name_and_url():
    lib = RunbookLibrary.load([RUNBOOKS])
    assert lib.errors == [] and lib.problems == []
    # The same file name in po/ and kubesphere-zh/ is a translation, not a duplicate.
    assert [r.id for r in lib.translations("kubepersistentvolumefillingup")] == [
        "kubepersistentvolumefillingup.zh"
    ]
    for name in ("KubePodCrashLooping", "etcdMembersDown", "CollectorNodeDown"):
        assert lib.for_alert(name).file.endswith(f"/{name}.md"), name
    assert lib.for_alert("KubePersistentVolumeFillingUp").file.endswith(
        "po/KubePersistentVolumeFillingUp.md"
    )
    url = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"
    alert = Alert("fp", "SomethingElse", Severity.SEV2, "", runbook_url=url)
    assert lib.for_alert(alert).id == "kubepodcrashlooping"
    labelled = Alert("fp", "NoSuchAlert", Severity.SEV2, "", labels={"runbook": "cmoc"})
    assert lib.for_alert(labelled).id == "cmoc"
    # lint: a runbook with nothing to tick is a warning, each named.
    quiet = {
        p.file.rsplit("/", 2)[-2] + "/" + p.file.rsplit("/", 1)[-1]
        for p in lint_library(lib, None)
        if p.message == NO_STEPS
    }
    assert quiet == {"po/etcdMembersDown.md", "kubesphere-zh/KubePersistentVolumeFillingUp.md"}


def test_what_is_not_a_runbook_is_refused_with_a_clear_message():
    rules = sorted((CORPUS / "rules").glob("*.y*ml"))
    assert rules
    for path in rules:
        with pytest.raises(RunbookError) as caught:
            load_file(path)
        assert "not a runbook" in str(caught.value), path
        assert "Prometheus rules" in str(caught.value), path
    for path in sorted((CORPUS / "slo").glob("*")) + sorted(
        (CORPUS / "alertmanager").glob("*.json")
    ):
        with pytest.raises(RunbookError, match="not a runbook"):
            load_file(path)
    lib = RunbookLibrary.load([CORPUS])
    assert {Path(p).parent.name for p, _ in lib.skipped} >= {"rules", "slo", "alertmanager"}


# --- whole public runbook repositories, when a checkout of them is at hand ------------------------

REPOS = Path(os.environ.get("ONCALL_RUNBOOK_REPOS") or CORPUS / "repos")
"""Folders of whole runbook repositories (prometheus-operator/runbooks, openshift/runbooks,
gitlab-com/runbooks ...), one per repository; not part of the shipped corpus."""


def _repos() -> list[Path]:
    return sorted(p for p in REPOS.iterdir() if p.is_dir()) if REPOS.is_dir() else []


@pytest.mark.parametrize("repo", _repos() or [None], ids=lambda p: p.name if p else "none")
def test_a_whole_runbook_repository_loads_found_by_alert_name_with_every_block_shown(repo):
    if repo is None:
        pytest.skip(f"no runbook repositories at {REPOS} (set ONCALL_RUNBOOK_REPOS)")
    lib = RunbookLibrary.load([repo])
    # What fails is a template (Hugo's archetypes: {{ .Name }} in its front matter).
    assert [
        e.file for e in lib.errors if "{{" not in Path(e.file).read_text("utf-8", "replace")
    ] == []
    assert [p for p in lib.problems if p.is_error] == []
    for rb in lib.runbooks.values():
        if rb.id in lib.sections:
            continue
        stem = Path(rb.file).stem
        if re.fullmatch(r"[A-Za-z]+[A-Z][A-Za-z0-9]+", stem) and "." not in rb.id:
            found = lib.matches(stem)
            assert rb in found, (stem, [r.file for r in found])
        source = Path(rb.file).read_text("utf-8", "replace")
        shown = sum(1 for p in rb.all_phases() for b in _blocks_of(p) if not _inline(b, rb))
        assert shown == _code_blocks(source), rb.file


def test_promql_written_in_a_bash_fence_is_offered_as_a_live_query():
    from oncall_console.runbooks.placeholders import promql_like

    rb = load_file(one("openshift/HighRBDCloneSnapshotCount.md"))
    blocks = [b for _, _, b in rb.blocks() if isinstance(b, ReferenceBlock)]
    queries = [q for b in blocks if (q := promql_like(b.text))]
    assert queries == ["rate(ocs_rbd_children_count[30m]) > 10"]  # the rest are oc / rbd commands
