"""The redaction's fast path (secrets.needs_redaction): one search over a result's
lines joined, instead of a regex pass per line. It must say "nothing to do" exactly
when redacting each line alone would change none of them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oncall_console.model import CheckResult, Status, SubStatus
from oncall_console.model.health import redacted
from oncall_console.secrets import needs_redaction, redact

WORDS = [
    "Bearer ",
    "bearer\t",
    "token=",
    "Token ",
    "password: ",
    "secret=",
    "api_key:",
    "Authorization: Basic ",
    "bot ",
    "x",
    "\x00",
    " ",
    "s3cr3t-Value.42",
    "abcdefgh",
    "ok",
    "200 OK",
    "é",
    "_",
    "-",
    "=",
    "\n",
]
text = st.lists(st.sampled_from(WORDS), max_size=6).map("".join) | st.text(max_size=30)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(text, max_size=5),
    st.lists(st.sampled_from(["", "s3cr3t", "a\x00b", "ok"]), max_size=2),
)
def test_fast_check_agrees_with_redacting_each_line(texts: list[str], secrets: list[str]) -> None:
    changed = any(redact(t, *secrets) != t for t in texts)
    if changed:
        assert needs_redaction(texts, tuple(secrets))
    elif not any(s and "\x00" in s for s in secrets):
        assert not needs_redaction(texts, tuple(secrets))


def test_a_match_never_spans_two_lines() -> None:
    # "token" ends one line, a long value starts the next: alone, neither is a credential
    assert not needs_redaction(["my token", "abcdefgh1234"], ())
    joined = "my token abcdefgh1234"  # joined by a space, it would be one
    assert redact(joined) != joined
    assert needs_redaction(["ok", "saw Bearer abcdefgh1234"], ())


def test_a_clean_result_is_returned_as_is_and_a_dirty_one_redacted() -> None:
    clean = CheckResult("c", Status.OK, "200 OK", details={"url": "http://x/health"})
    assert redacted(clean, ("tok3n-value",)) is clean
    dirty = CheckResult(
        "c",
        Status.DOWN,
        "503",
        substatuses=(SubStatus("db", Status.DOWN, "saw Bearer abcdefgh1234"),),
    )
    out = redacted(dirty)
    assert out is not dirty and out.substatuses[0].detail == "saw Bearer [redacted]"
    secret = CheckResult("c", Status.OK, "200 OK", details={"echo": "tok3n-value"})
    assert redacted(secret, ("tok3n-value",)).details["echo"] == "[redacted]"


def test_case_folding_outside_ascii_still_goes_to_the_regex() -> None:
    long_s = "\u017fecret: abcdefgh1234"  # LATIN SMALL LETTER LONG S matches s, lower() keeps it
    assert redact(long_s) != long_s
    assert needs_redaction([long_s], ())
    assert needs_redaction(["PASSWORD: hunter2-x9"], ())
