"""Whatever bytes sit in the config file, `check` ends in ConfigError naming the file
(and the line and key when it can), never in a traceback or an escape on the terminal."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oncall_console.config import ConfigError, Problem, load, loads

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus" / "config"
SEEDS = ROOT.parent / "shared" / "seeds"
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")

# Deterministic in CI: the same examples every run, no example database to drift.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# What a terminal would act on: C0 (bar newline), DEL, C1, bidi overrides.
TERMINAL_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def outcome(run: Any, filename: str) -> None:
    """It loads, or it raises ConfigError whose every line names the file (or the
    $ONCALL_ variable that overrode the key) and holds nothing a terminal acts on."""
    try:
        run()
    except ConfigError as exc:
        assert exc.problems, "a ConfigError says what is wrong"
        for problem in exc.problems:
            assert isinstance(problem, Problem)
            said = str(problem)
            assert said.startswith(filename) or said.startswith("$ONCALL_"), said
            assert not TERMINAL_CONTROL.search(said), repr(said)
            assert "\n" not in said, repr(said)
        assert not TERMINAL_CONTROL.search(str(exc))


def load_bytes(tmp_path: Path, data: bytes, env: dict[str, str] | None = None) -> None:
    path = tmp_path / "oncall.toml"
    path.write_bytes(data)
    outcome(lambda: load(path, env=env or {}), str(path))


# --- the seeded corpus -----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_each_tricky_file_of_the_corpus_loads_or_says_where(path: Path) -> None:
    outcome(lambda: load(path, env={}), str(path))


def test_nesting_too_deep_is_one_problem_not_a_recursion_error():
    for name in ("deep-arrays.toml", "deep-inline-tables.toml", "deep-dotted-keys.toml"):
        with pytest.raises(ConfigError) as info:
            load(CORPUS / name, env={})
        assert "nested" in str(info.value) and "deep" in str(info.value), str(info.value)


def test_an_escape_in_a_key_is_named_without_being_played():
    with pytest.raises(ConfigError) as info:
        load(CORPUS / "escape-in-key.toml", env={})
    said = str(info.value)
    assert ":2:1: console." in said and "unknown key" in said
    assert "\x1b" not in said and "\x07" not in said
    assert "[bold red]boom[/]" in said  # shown as written: nobody parses it as markup


def test_a_comment_with_a_line_separator_does_not_shift_the_line_numbers():
    with pytest.raises(ConfigError) as info:
        load(CORPUS / "line-separators.toml", env={})
    assert str(info.value).startswith(f"{CORPUS / 'line-separators.toml'}:3:1: console.read_only:")


def test_a_byte_order_mark_is_not_a_syntax_error():
    assert load(CORPUS / "bom.toml", env={}).config.console.environment == "staging"


def test_inline_secrets_and_passwords_in_urls_are_never_echoed():
    for name, secret in (
        ("inline-secrets.toml", "pg-inline-secret"),
        ("redis-url-with-password.toml", "hunter2-in-url"),
    ):
        with pytest.raises(ConfigError) as info:
            load(CORPUS / name, env={})
        assert secret not in str(info.value)


def test_seed_documents_and_the_mis_encoded_seed_004_as_config(tmp_path):
    seeds = sorted(SEEDS.glob("*.txt"))
    if not seeds:
        pytest.skip("shared/seeds is not beside the checkout")
    for seed in seeds:
        load_bytes(tmp_path, seed.read_bytes())
    # 004 read as Latin-1 and written back: what a wrong editor setting does to it.
    mangled = next(s for s in seeds if s.name.startswith("004")).read_bytes()
    load_bytes(tmp_path, mangled.decode("utf-8", "replace").encode("latin-1", "replace"))


# --- random input ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=400))
@example(b"\xef\xbb\xbf[console]\n")
@example(b'[console]\nenvironment = "\xff\xfe"\n')
@example(b"x = " + b"[" * 3000)
def test_random_bytes(tmp_path, data):
    load_bytes(tmp_path, data)


_KEYS = st.sampled_from(
    [
        "console", "poller", "store", "bus", "runbooks", "incidents", "warroom", "backends",
        "checks", "slis", "keys", "type", "url", "dsn", "backend", "interval", "timeout",
        "password_env", "token_file", "redis_url", "response_minutes", "escalation", "SEV1",
        "P2", "argv", "commands", "webhooks", "body", "headers", "allowlist", "slo",
        "objective", "burn_windows", "dirs", "http", "shell", "demo", "prometheus", "web",
        "a-b", "", "\x1b[2J", "[bold]k[/]", "token", "password",
    ]
)  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "30s", "1h30m", "-5m", "http", "shell", "demo", "postgres", "redis", "prometheus",
            "redis://:pw@h/0", "redis://h:70000", "http://[::1", "{", "{x}", "~/x", "SEV9",
            "web", "api", "\x1b]52;c;aGk=\x07",
        ]
    ),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=10,
)


def _toml(data: dict[str, Any]) -> str | None:
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):  # None and mixed arrays have no TOML form
        return None


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    """The example config with one value somewhere replaced by something else."""
    data = tomllib.loads(EXAMPLE)
    node: Any = data
    for _ in range(draw(st.integers(1, 5))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()) or not isinstance(node[key], dict | list):
                node[key] = draw(_VALUES)
                break
            node = node[key]
        elif isinstance(node, list) and node:
            index = draw(st.integers(0, len(node) - 1))
            node[index] = draw(_VALUES)
            break
    return _toml(data) or EXAMPLE


@FUZZ
@given(mutated_example())
def test_the_example_with_one_value_changed(text):
    outcome(lambda: loads(text, filename="oncall.toml", env={}), "oncall.toml")


@FUZZ
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_random_documents_of_known_keys(data):
    text = _toml(data)
    if text is not None:
        outcome(lambda: loads(text, filename="oncall.toml", env={}), "oncall.toml")


@FUZZ
@given(st.lists(st.sampled_from(EXAMPLE.splitlines()), max_size=40), st.text(max_size=30))
def test_the_example_lines_shuffled_with_noise(lines, noise):
    text = "\n".join([*lines, noise])
    outcome(lambda: loads(text, filename="oncall.toml", env={}), "oncall.toml")


_ENV_NAMES = st.from_regex(r"ONCALL_[A-Z_]{1,10}__[A-Z_]{1,10}(__[A-Z_]{1,8})?", fullmatch=True)


@FUZZ
@given(st.dictionaries(st.one_of(_ENV_NAMES, st.sampled_from([
    "ONCALL_CONSOLE__READ_ONLY", "ONCALL_POLLER__THREADS", "ONCALL_BACKENDS__WEB__TYPE",
    "ONCALL_CHECKS__API_GATEWAY__TIMEOUT", "ONCALL_BUS__REDIS_URL", "ONCALL____", "ONCALL_X__",
])), st.one_of(st.text(max_size=20), st.just("[" * 2000)), max_size=3))  # fmt: skip
def test_environment_overrides_of_any_value(env):
    outcome(lambda: loads(EXAMPLE, filename="oncall.toml", env=env), "oncall.toml")
