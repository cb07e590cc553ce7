"""Config: every problem names the file, the key and the line; secrets stay references."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_console.config import ConfigError, discover, load, loads

ROOT = Path(__file__).resolve().parent.parent


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        loads(text, filename="oncall.toml", env=env or {})
    return [str(p) for p in info.value.problems]


def test_the_example_config_loads_and_documents_every_section():
    loaded = load(ROOT / "config.example.toml", env={})
    text = (ROOT / "config.example.toml").read_text()
    for section in ("[console]", "[poller]", "[backends.", "[checks.", "[keys]"):
        assert section in text
    assert {c.name for c in loaded.checks} >= {"api-gateway", "auth-service"}


def test_wrong_type_and_unknown_key_are_both_named_with_their_lines():
    text = '[console]\nenvironment = "prod"\nread_only = "sometimes"\ncolour = "blue"\n'
    found = problems_of(text)
    assert any(p.startswith("oncall.toml:3:1: console.read_only:") for p in found), found
    assert any(p.startswith("oncall.toml:4:1: console.colour: unknown key") for p in found), found


def test_backend_specific_keys_are_validated_by_the_backend():
    text = """
[backends.web]
type = "http"
verify_tls = "maybe"

[checks.api]
backend = "web"
url = "http://127.0.0.1/health"
warning_ms = "fast"
"""
    found = problems_of(text)
    assert any(p.startswith("oncall.toml:4:1: backends.web.verify_tls:") for p in found), found
    assert any(p.startswith("oncall.toml:9:1: checks.api.warning_ms:") for p in found), found


def test_unknown_backend_type_lists_the_installed_ones():
    found = problems_of('[backends.x]\ntype = "carrier-pigeon"\n')
    assert len(found) == 1
    assert "oncall.toml:2:1: backends.x.type: unknown backend type 'carrier-pigeon'" in found[0]
    assert "http" in found[0] and "demo" in found[0]


def test_a_check_naming_a_missing_backend_is_an_error():
    found = problems_of('[checks.api]\nbackend = "nope"\nurl = "http://x"\n')
    assert found == [
        "oncall.toml:2:1: checks.api.backend: no backend named 'nope' (none configured)"
    ]


def test_toml_syntax_error_names_the_line_and_column():
    found = problems_of('[console]\nenvironment = "prod\n')
    assert found[0].startswith("oncall.toml:2:20: TOML syntax:"), found
    assert "(at line" not in found[0]  # said once, in front


def test_inline_secrets_are_refused_and_never_echoed():
    found = problems_of('[backends.web]\ntype = "http"\ntoken = "hunter2"\n')
    assert found[0].startswith(
        "oncall.toml:3:1: backends.web.token: secrets are not accepted inline"
    )
    assert "hunter2" not in "".join(found)


def test_environment_overrides_win_and_are_named_when_wrong():
    loaded = loads("[console]\nread_only = false\n", env={"ONCALL_CONSOLE__READ_ONLY": "true"})
    assert loaded.config.console.read_only is True
    found = problems_of("", env={"ONCALL_POLLER__THREADS": "many"})
    assert found[0].startswith("$ONCALL_POLLER__THREADS: poller.threads:")


def test_env_override_reaches_a_dashed_check_name():
    text = (
        '[backends.web]\ntype = "http"\n[checks.api-gateway]\nbackend = "web"\nurl = "http://x/h"\n'
    )
    loaded = loads(text, env={"ONCALL_CHECKS__API_GATEWAY__TIMEOUT": "2"})
    assert loaded.checks[0].timeout == 2.0


def test_durations_accept_people_units():
    text = '[poller]\ninterval = "1m30s"\ntimeout = "500ms"\n'
    loaded = loads(text, env={})
    assert loaded.config.poller.interval == 90.0
    assert loaded.config.poller.timeout == 0.5


def test_discovery_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("ONCALL_CONSOLE_CONFIG", raising=False)
    assert discover(None) == tmp_path / "xdg" / "oncall-console" / "config.toml"
    monkeypatch.setenv("ONCALL_CONSOLE_CONFIG", str(tmp_path / "env.toml"))
    assert discover(None) == tmp_path / "env.toml"
    assert discover(tmp_path / "flag.toml") == tmp_path / "flag.toml"


def test_missing_and_undecodable_files_are_one_clear_problem(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "nope.toml")
    assert "no such file" in str(info.value)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[console]\nenvironment = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load(bad)
    assert str(info.value) == f"{bad}:2: not valid UTF-8"


def test_the_starter_sections_document_every_field_from_the_source():
    from oncall_console.config import ConsoleConfig, PollerConfig, field_docs

    for model in (ConsoleConfig, PollerConfig):
        docs = field_docs(model)
        assert set(docs) == set(model.model_fields), model.__name__
        assert all(docs.values())
    assert field_docs(ConsoleConfig)["read_only"].startswith("Refuse every action")


# --- issue #15, point 8: every error at once, located, with a suggestion -----------------

EVERYTHING_WRONG = """\
[console]
enviroment = "prod"

[poller]
interval = 0

[backends.web]
type = "htp"

[backends.ok]
type = "http"
verify_tl = true

[checks.api]
backend = "ok"
url = "http://127.0.0.1/health"
titel = "API"

[checks.db]
backend = "wbe"

[slis.latency]
backend = "ok"
unitt = "ms"

[incidents]
response_minutes = { SEV9 = 5 }
"""


def test_every_problem_of_every_section_is_reported_at_once_in_file_order():
    found = problems_of(EVERYTHING_WRONG)
    assert found == [
        "oncall.toml:2:1: console.enviroment: unknown key (did you mean 'environment'?)",
        "oncall.toml:5:1: poller.interval: must be more than 0 seconds (got 0; leave it out "
        "for the default)",
        "oncall.toml:8:1: backends.web.type: unknown backend type 'htp'; installed types: "
        + found[2].split("installed types: ")[1],
        "oncall.toml:12:1: backends.ok.verify_tl: unknown key (did you mean 'verify_tls'?)",
        "oncall.toml:17:1: checks.api.titel: unknown key (did you mean 'title'?)",
        "oncall.toml:20:1: checks.db.backend: no backend named 'wbe' (ok, web) "
        "(did you mean 'web'?)",
        "oncall.toml:23:1: slis.latency.backend: backend 'ok' (http) cannot do sli",
        "oncall.toml:27:1: incidents.response_minutes: 'SEV9' is not a severity (use "
        "SEV1-SEV4 or P1-P4)",
    ], found
    assert found[2].endswith("(did you mean 'http'?)")


def test_a_misspelled_section_names_its_line_and_column_and_the_right_name():
    found = problems_of('[check.api]\nbackend = "web"\n')
    assert found == ["oncall.toml:1:2: check: unknown section (did you mean 'checks'?)"]
    found = problems_of("[console]\nutc = true\n\n[poler]\ninterval = 5\n")
    assert found == ["oncall.toml:4:2: poler: unknown section (did you mean 'poller'?)"]


def test_a_key_inside_an_inline_table_or_an_array_of_tables_is_located():
    text = '[backends.web]\ntype = "http"\n[checks]\napi = { backend = "web", interval = 0 }\n'
    found = problems_of(text)
    assert len(found) == 1 and found[0].startswith("oncall.toml:4:26: checks.api.interval:")
    text = (
        "[[incidents.escalation]]\nafter_minutes = 0\nwho = 'a'\n"
        "[[incidents.escalation]]\nafter_minutes = 5\nhwo = 'b'\n"
    )
    found = problems_of(text)
    assert "oncall.toml:6:1: incidents.escalation.1.hwo: unknown key (did you mean 'who'?)" in found


@pytest.mark.parametrize("value", ["0", "-1", '"0s"', "0.0"])
@pytest.mark.parametrize("key", ["poller.interval", "poller.timeout", "checks.api.interval"])
def test_a_zero_or_negative_interval_is_refused_not_read_as_the_default(key, value):
    section, _, name = key.rpartition(".")
    text = '[backends.web]\ntype = "http"\n[checks.api]\nbackend = "web"\nurl = "http://x/"\n'
    text += f"[{section}]\n{name} = {value}\n" if section == "poller" else f"{name} = {value}\n"
    found = problems_of(text)
    assert len(found) == 1 and f" {key}: " in found[0], found
    assert "more than 0" in found[0] or "negative" in found[0], found


def test_an_interval_given_is_the_interval_used():
    text = '[backends.web]\ntype = "http"\n[checks.api]\nbackend = "web"\nurl = "http://x/"\n'
    loaded = loads(text + 'interval = "250ms"\n', env={})
    assert loaded.checks[0].interval == 0.25


def test_the_loaded_config_keeps_specs_not_the_raw_check_and_sli_models():
    # 10,000 checks kept ~9.5 MB of CheckConfig models nothing read after loading (#14).
    loaded = load(ROOT / "config.example.toml", env={})
    assert loaded.checks and loaded.slis
    assert loaded.config.checks == {} and loaded.config.slis == {}


def test_checks_params_share_equal_field_sets_and_lists_and_stay_apart_when_copied():
    # 10,000 HTTP checks each kept its own set of fields given and default lists (#14).
    text = '[backends.web]\ntype = "http"\n'
    for name in ("a", "b", "c"):
        text += f'[checks.{name}]\nbackend = "web"\nurl = "http://x/{name}"\n'
    loaded = loads(text + "expect_status = [200]\n", env={})
    a, b, c = (spec.params for spec in loaded.checks)
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__ == {"url"}
    assert a.expect_status is b.expect_status == [200, 204]
    assert c.expect_status == [200] and c.model_fields_set == {"url", "expect_status"}
    copied = a.model_copy(update={"method": "HEAD"})
    assert copied.model_fields_set == {"url", "method"} and b.model_fields_set == {"url"}
    assert a == type(a).model_validate({"url": "http://x/a"})
