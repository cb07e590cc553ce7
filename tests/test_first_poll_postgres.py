"""The first poll's plain ``postgres`` checks, read and probed without pydantic
(backends/postgres/sketch.py, issue #14): the lean reader must give exactly what the
backend's models give, or nothing; what it probes is what the engine takes."""

from __future__ import annotations

import pytest

from oncall_console.backends.postgres.options import PostgresCheckParams, PostgresOptions
from oncall_console.backends.postgres.sketch import lean_options, lean_params
from oncall_console.config import from_dict
from oncall_console.engine.api import OnCall
from tests.support.sketchrun import sketch_in_fresh_process
from tests.support.stack import Stack

DSN = "postgresql://app@127.0.0.1:5432/app"


@pytest.mark.parametrize(
    "raw",
    [
        {"dsn": DSN},
        {"dsn": "host=db.internal port=6432 dbname=app user=oncall sslmode=require"},
        {"dsn": DSN, "password_env": "PGPASSWORD_ONCALL", "connect_timeout": 2},
        {"dsn": DSN, "statement_timeout_ms": 500, "pool_size": 3, "application_name": "x"},
        {"dsn": DSN, "allow_superuser_termination": True, "connect_timeout": 2.5},
    ],
)
def test_lean_options_are_the_models_dump_key_for_key(raw):
    # the fingerprint the parent checks is the repr of these: same keys, order and types
    assert repr(lean_options(raw)) == repr(PostgresOptions.model_validate(raw).model_dump())


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"long_query_seconds": 30},
        {"pool_warning": 0.5, "pool_critical": 1, "database": "orders"},
        {"replication_lag_warning_s": 0, "replication_lag_critical_s": 60.5},
    ],
)
def test_lean_params_are_the_models_dump_key_for_key(raw):
    assert repr(lean_params(raw)) == repr(PostgresCheckParams.model_validate(raw).model_dump())


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"dsn": 5},
        {"dsn": "postgresql://app:secret@127.0.0.1/app"},  # refused by the model too
        {"dsn": "host=db password=secret"},
        {"dsn": "not a dsn ' at all"},
        {"dsn": DSN, "password_file": "pw"},
        {"dsn": DSN, "password_env": "not a name"},
        {"dsn": DSN, "pool_size": 1},
        {"dsn": DSN, "connect_timeout": 0},
        {"dsn": DSN, "connect_timeout": True},
        {"dsn": DSN, "statement_timeout_ms": 2.5},
        {"dsn": DSN, "application_name": 3},
        {"dsn": DSN, "sslmode": "require"},
    ],
)
def test_options_the_lean_reader_does_not_know_go_the_full_way(raw):
    assert lean_options(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"pool_warning": 0},
        {"pool_warning": 1.5},
        {"pool_warning": 0.95},  # above pool_critical's 0.9
        {"long_query_seconds": 0},
        {"long_query_seconds": "60"},
        {"long_query_seconds": True},
        {"replication_lag_warning_s": -1},
        {"replication_lag_warning_s": 400},  # above the critical 300
        {"database": 5},
        {"queues": {}},
    ],
)
def test_params_the_lean_reader_does_not_know_go_the_full_way(raw):
    assert lean_params(raw) is None


@pytest.mark.integration
def test_the_first_poll_probes_a_plain_postgres_without_pydantic_and_the_engine_takes_it(
    stack: Stack, tmp_path
):
    """The whole path of a postgres group (the sketch, the probe on the stack's server,
    the result) imports no pydantic, and the validated config gives the same
    fingerprint: the engine seeds the result."""
    data = {
        "backends": {"pg": {"type": "postgres", "dsn": stack.postgres.dsn, "connect_timeout": 5}},
        "checks": {"db": {"backend": "pg", "long_query_seconds": 30, "timeout": 5}},
        "store": {"url": ":memory:"},
    }
    heavy, found = sketch_in_fresh_process(data, str(tmp_path))
    assert heavy == []
    assert [e.spec.name for e in found] == ["db"]
    assert " connections (" in found[0].result.summary, found[0].result.summary
    oncall = OnCall.build(from_dict(data, env={}))
    assert oncall.seed(found) == 1
