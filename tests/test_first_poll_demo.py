"""The first poll's demo checks, read and probed without pydantic
(backends/demo/sketch.py, issue #14): the lean reader gives exactly what the plugin's
models give, or nothing; what it finds is what the engine takes."""

from __future__ import annotations

import pytest

from oncall_console.backends.demo.backend import DemoCheckParams, DemoOptions
from oncall_console.backends.demo.sketch import lean_options, lean_params
from oncall_console.cli.common import demo_data
from oncall_console.config import from_dict
from oncall_console.engine.api import OnCall
from tests.support.sketchrun import sketch_in_fresh_process


@pytest.mark.parametrize(
    "raw", [{}, {"seed": 3}, {"speed": 2}, {"speed": 0.5, "start": 1_700_000_000}, {"start": None}]
)
def test_lean_options_are_the_models_dump_key_for_key(raw):
    assert repr(lean_options(raw)) == repr(DemoOptions.model_validate(raw).model_dump())


def test_lean_params_are_the_models_dump():
    raw = {"target": "api-gateway"}
    assert repr(lean_params(raw)) == repr(DemoCheckParams.model_validate(raw).model_dump())


@pytest.mark.parametrize(
    "raw", [{"seed": "7"}, {"seed": True}, {"speed": 0}, {"speed": -1}, {"start": "now"}, {"x": 1}]
)
def test_options_the_lean_reader_does_not_know_go_the_full_way(raw):
    assert lean_options(raw) is None


@pytest.mark.parametrize("raw", [{}, {"target": "nowhere"}, {"target": "redis", "x": 1}])
def test_params_the_lean_reader_does_not_know_go_the_full_way(raw):
    assert lean_params(raw) is None


def test_the_demo_s_first_poll_imports_no_pydantic_and_the_engine_takes_every_result(tmp_path):
    data = demo_data(7, 1.0)
    heavy, found = sketch_in_fresh_process(data, str(tmp_path))
    assert heavy == []
    assert len(found) == len(data["checks"]) == 11
    assert OnCall.build(from_dict(data, env={})).seed(found) == 11
