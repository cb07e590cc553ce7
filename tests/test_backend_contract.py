"""Every registered backend keeps the contract: declared capabilities are implemented,
option models refuse unknown keys, actions are well formed, close() is idempotent."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel, ValidationError

from oncall_console import backends
from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.model import ActionSpec, Confirm

METHODS = {
    Capability.HEALTH: ("probe",),
    Capability.SLI: ("query_sli",),
    Capability.ALERTS: ("alerts",),
    Capability.INCIDENTS: ("incidents",),
    Capability.SILENCES: ("silences",),
    Capability.ACTIONS: ("preview", "run"),
    Capability.RULES: ("rules",),
    Capability.INSPECT: ("inspect_views", "inspect"),
}
PARAM_KINDS = {"name", "subdomain", "identifier", "int", "str", "choice", "bool"}

TYPES = sorted(backends.available())


def test_the_built_ins_are_registered_through_entry_points():
    assert {"http", "demo"} <= set(TYPES)


def test_an_unknown_type_is_one_error_listing_the_installed():
    with pytest.raises(backends.UnknownBackendType) as info:
        backends.load("no-such-thing")
    for name in TYPES:
        assert name in str(info.value)


@pytest.mark.parametrize("type_name", TYPES)
def test_class_declares_what_it_can_do(type_name):
    cls = backends.load(type_name)
    assert issubclass(cls, Backend)
    assert type_name == cls.TYPE
    assert cls.CAPABILITIES, "a backend that can do nothing is a mistake"
    for capability in cls.CAPABILITIES:
        for method in METHODS[capability]:
            assert getattr(cls, method) is not getattr(Backend, method), (
                f"{type_name} declares {capability.value} but does not implement {method}()"
            )


@pytest.mark.parametrize("type_name", TYPES)
def test_a_backend_that_runs_diagnostics_names_their_languages(type_name):
    """A runbook step says it cannot run before r is pressed from DIAGNOSES alone."""
    cls = backends.load(type_name)
    runs = cls.diagnose is not Backend.diagnose
    assert bool(cls.DIAGNOSES) == runs, f"{type_name}: diagnose() and DIAGNOSES disagree"
    assert cls.DIAGNOSES.issubset({"sql", "promql", "kubectl"})


def test_a_declared_capability_without_its_methods_is_refused_when_defined():
    with pytest.raises(
        TypeError, match=r"declares actions but does not implement preview\(\), run\(\)"
    ):

        class HalfDone(Backend):
            TYPE = "half-done"
            CAPABILITIES = frozenset({Capability.ACTIONS})

            def actions(self) -> list[ActionSpec]:
                return []

    class Mixin(Backend):  # no capability declared: nothing required yet
        async def probe(self, check):
            raise NotImplementedError

    class Whole(Mixin):
        TYPE = "whole"
        CAPABILITIES = frozenset({Capability.HEALTH})

    assert Whole.probe is Mixin.probe


@pytest.mark.parametrize("type_name", TYPES)
def test_option_and_parameter_models_refuse_unknown_keys(type_name):
    cls = backends.load(type_name)
    for model in (cls.Options, cls.CheckParams, cls.SliParams):
        assert issubclass(model, BaseModel)
        with pytest.raises(ValidationError):
            model.model_validate({"surely_not_a_key": 1})


def _instance(cls: type[Backend]) -> Backend | None:
    try:
        options = cls.Options()
    except ValidationError:
        return None  # needs real settings (a URL, a DSN): covered by its own tests
    return cls("contract", options, BackendContext(executor=ThreadPoolExecutor(1)))


@pytest.mark.parametrize("type_name", TYPES)
def test_actions_are_well_formed(type_name):
    cls = backends.load(type_name)
    backend = _instance(cls)
    if backend is None or Capability.ACTIONS not in cls.CAPABILITIES:
        pytest.skip(f"{type_name} has no actions to list without settings")
    specs = backend.actions()
    if not specs:
        pytest.skip(f"{type_name} lists no actions without settings")
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    for spec in specs:
        assert isinstance(spec, ActionSpec)
        assert re.fullmatch(r"[a-z][a-z0-9-]*", spec.id)
        names = {p.name for p in spec.params}
        assert spec.target_param in names
        assert not spec.verify_check or spec.verify_check in names
        assert all(p.kind in PARAM_KINDS for p in spec.params)
        if spec.dangerous:
            assert spec.confirm is Confirm.TYPE_TARGET


@pytest.mark.parametrize("type_name", TYPES)
async def test_start_and_close_twice(type_name):
    backend = _instance(backends.load(type_name))
    if backend is None:
        pytest.skip(f"{type_name} needs settings to start")
    await backend.start()
    await backend.close()
    await backend.close()
