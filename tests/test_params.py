"""Parameter validation (model/params.py): pure, shared by the runner and the linter."""

from __future__ import annotations

import pytest

from oncall_console.model import ParamSpec
from oncall_console.model.params import MAX_TEXT, ActionRefused, validate_param

BAD = [
    (ParamSpec("count", "int", required=True), None, "count: required"),
    (ParamSpec("count", "int"), True, "count: expected a whole number"),
    (ParamSpec("count", "int"), "ten", "count: expected a whole number, got 'ten'"),
    (ParamSpec("count", "int", minimum=1), "0", "count: must be at least 1"),
    (ParamSpec("count", "int", maximum=10), "11", "count: must be at most 10"),
    (ParamSpec("force", "bool"), "perhaps", "force: expected true or false"),
    (
        ParamSpec("pod", "name"),
        "Not_A_Name",
        "pod: 'Not_A_Name' is not a valid name (lowercase letters, digits and '-', at most 63)",
    ),
    (
        ParamSpec("host", "subdomain"),
        "a..b",
        "host: 'a..b' is not a valid name (lowercase letters, digits, '-' and '.', at most 253)",
    ),
    (ParamSpec("table", "identifier"), "x; drop", "table: 'x; drop' is not a valid identifier"),
    (
        ParamSpec("state", "choice", choices=("idle", "busy")),
        "active",
        "state: must be one of idle, busy",
    ),
    (ParamSpec("body", "text"), "a\x1bb", "body: control characters are not allowed"),
    (
        ParamSpec("body", "text"),
        "a" * (MAX_TEXT + 1),
        f"body: too long (at most {MAX_TEXT} characters)",
    ),
    (ParamSpec("note", "str"), "a\nb", "note: control characters are not allowed"),
    (ParamSpec("note", "str"), "a" * 501, "note: too long (at most 500 characters)"),
]


@pytest.mark.parametrize(("spec", "value", "says"), BAD)
def test_a_refusal_names_the_parameter_and_keeps_its_words(spec, value, says):
    with pytest.raises(ActionRefused) as caught:
        validate_param(spec, value)
    assert str(caught.value) == says
    assert caught.value.param == spec.name


def test_good_values_come_back_typed():
    assert validate_param(ParamSpec("n", "int", minimum=1, maximum=10), " 7 ") == 7
    assert validate_param(ParamSpec("b", "bool"), "yes") is True
    assert validate_param(ParamSpec("b", "bool", required=False, default=False), "") is False
    assert validate_param(ParamSpec("t", "text"), "one\r\ntwo") == "one\ntwo"
    assert validate_param(ParamSpec("o", "str", required=False), None) is None


def test_a_refusal_without_a_parameter_names_none():
    refused = ActionRefused("read-only console: actions are refused")
    assert refused.param == ""
    assert str(refused) == "read-only console: actions are refused"
    assert refused.args == ("read-only console: actions are refused",)


def test_the_engine_and_the_backends_agree_with_the_model():
    from oncall_console.backends.shared import params as backend_params
    from oncall_console.engine import actions

    assert actions.ActionRefused is ActionRefused
    assert actions.validate_param is validate_param
    # backends/shared/params.py checks config values against the same longest text
    assert backend_params.MAX_TEXT == MAX_TEXT
