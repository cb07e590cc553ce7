"""Runbooks teams bring, however broken: the seeded corpus, the mis-encoded seed 004 with
bytes flipped, escape-laden Markdown. Each loads or fails with a message naming the file,
and what the parser calls plain text holds nothing a terminal would act on.
(tests/test_runbooks.py fuzzes random Markdown and bytes; this adds what it does not.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oncall_console.runbooks import Runbook, RunbookError
from oncall_console.runbooks.parser import load_file, parse_bytes, parse_text

CORPUS = Path(__file__).resolve().parent / "corpus" / "runbooks"
SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TERMINAL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def seed_004() -> bytes:
    found = sorted(SEEDS.glob("004_*"))
    if not found:
        pytest.skip("shared/seeds is not beside the checkout")
    return found[0].read_bytes()


def loads_or_says_where(run, file: str) -> Runbook | None:
    try:
        rb = run()
    except RunbookError as exc:
        assert exc.problems and all(p.file == file for p in exc.problems)
        assert not TERMINAL_CONTROL.search(str(exc).replace("\n", " ")), repr(str(exc))
        return None
    assert len({s.id for s in rb.steps}) == len(rb.steps)
    one_line = [rb.title, *(p.title for p in rb.phases), *(s.text for s in rb.steps)]
    for text in one_line:
        assert not TERMINAL_CONTROL.search(text), repr(text)
    for problem in rb.problems:
        assert problem.file == file and problem.line >= 0
        assert not TERMINAL_CONTROL.search(problem.message), repr(problem.message)
    return rb


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_each_runbook_of_the_corpus_loads_or_says_where(path: Path) -> None:
    loads_or_says_where(lambda: load_file(path), str(path))


def test_toml_nested_too_deep_is_a_problem_on_its_line_not_a_recursion_error():
    with pytest.raises(RunbookError) as info:
        load_file(CORPUS / "deep-front-matter.md")
    assert "nested too deeply" in str(info.value)
    rb = load_file(CORPUS / "deep-action-params.md")
    assert [p.line for p in rb.problems if "nested too deeply" in p.message] == [5]
    assert not [b for _, _, b in rb.blocks() if type(b).__name__ == "ActionBlock"]


def test_escapes_and_markup_in_a_runbook_stay_literal_text():
    rb = load_file(CORPUS / "escapes-everywhere.md")
    assert rb.title == "[bold red]T[/]"
    assert "[bold]now[/]" in rb.steps[0].text


# --- the mis-encoded seed 004, mangled further ----------------------------------------------


@FUZZ
@given(st.data())
def test_seed_004_with_bytes_flipped_cut_or_inserted(data):
    raw = bytearray(seed_004())
    for _ in range(data.draw(st.integers(1, 8), label="edits")):
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        edit = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="edit")
        if edit == "flip":
            raw[at] = data.draw(st.integers(0, 255), label="byte")
        elif edit == "cut":
            del raw[at : at + data.draw(st.integers(1, 400), label="length")]
        else:
            raw[at:at] = data.draw(
                st.sampled_from(
                    [b"\x1b[2J", b"\x1b]52;c;aGk=\x07", b"\xc3", b"\xff\xfe", b"+++\n", b"```action\n",
                     b"- [ ] ", b"\r", b"\x00", b"\xc2\x9b31m", b"[bold red]x[/]"]
                ),
                label="insert",
            )  # fmt: skip
        if not raw:
            break
    loads_or_says_where(lambda: parse_bytes(bytes(raw), "seed.md"), "seed.md")


def test_seed_004_read_through_the_wrong_code_page_twice():
    text = seed_004().decode("utf-8", "replace")
    twice = text.encode("utf-8").decode("cp1252", "replace").encode("utf-8")
    rb = loads_or_says_where(lambda: parse_bytes(twice, "seed.md"), "seed.md")
    assert rb is not None and rb.problems  # warned about, still walkable
    assert len(rb.steps) > 50


# --- escape-laden Markdown -------------------------------------------------------------------

_NASTY = st.sampled_from(
    [
        "\x1b[31m", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x9b2J", "\x90q\x9c", "\x07",
        "\x08", "\x7f", "\u202e", "[bold red]", "[/]", "[@click=app.quit]", "\x00", "\r", "\t",
        "漢字", "🧯", "e\u0301",
    ]
)  # fmt: skip
_LINE_STARTS = st.sampled_from(
    ["# ", "## ", "### ", "- [ ] ", "  - [x] ", "1. ", "> ", "| ", "", "    "]
)
_FENCES = st.sampled_from(
    [
        '```action\nbackend = "ops"\naction = "restart"\nparams = { service = "',
        "```sh\n", "```promql\n", "```sql backend=pg\n", "```markdown\n- [ ] ", "```\n", "+++\n",
        'title = "', '"\n', "alerts = [\"",
    ]
)  # fmt: skip
_LINE = st.tuples(_LINE_STARTS, st.lists(st.one_of(_NASTY, st.text(max_size=12)), max_size=5))
_DOCUMENT = st.lists(
    st.one_of(_LINE.map(lambda t: t[0] + "".join(t[1]) + "\n"), _FENCES), max_size=30
).map("".join)


@FUZZ
@given(_DOCUMENT)
@example('+++\ntitle = "\\u001b[2J[bold]x[/]"\n+++\n# \x1b]0;t\x07H\n- [ ] \x9b31mstep\n')
@example("# x\n- [ ] a\n```action\nparams = " + "[" * 1500 + "\n```\n")
def test_escape_laden_markdown(text):
    loads_or_says_where(lambda: parse_text(text, "fuzz.md"), "fuzz.md")
