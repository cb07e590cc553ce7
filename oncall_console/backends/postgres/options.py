"""The ``postgres`` backend's settings: the server (no password in the dsn) and a check's thresholds."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import ConfigDict, Field, field_validator, model_validator

from oncall_console import secrets
from oncall_console.backends.base import Strict


class PostgresOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    dsn: str
    """libpq URI or key=value string, without a password: postgresql://user@host:5432/db."""
    password_env: str | None = None
    """Environment variable holding the password."""
    password_file: str | None = None
    """File holding the password, read at every (re)connect so a rotated one is picked up."""
    pool_size: int = Field(default=2, ge=2, le=20)
    """Most connections held at once: one for probes, the rest for previews and actions."""
    connect_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds to wait for a connection to be established."""
    statement_timeout_ms: int = Field(default=3000, ge=10, le=3_600_000)
    """Server-side limit on the probe's and the previews' queries (not on VACUUM/REINDEX)."""
    application_name: str = "oncall-console"
    """Shown in pg_stat_activity for every connection of the console."""
    allow_superuser_termination: bool = False
    """Let terminate and cancel actions signal superuser sessions."""

    @field_validator("dsn")
    @classmethod
    def _no_inline_password(cls, dsn: str) -> str:
        try:
            parts = conninfo_to_dict(dsn)
        except psycopg.Error:
            # libpq's message may quote the string, password and all: not repeated here.
            raise ValueError(
                "not a libpq connection string: write a URI such as "
                "postgresql://user@host:5432/db or key=value pairs"
            ) from None
        if parts.get("password"):
            raise ValueError(
                "the dsn must not contain a password: put it in an environment variable "
                "or a file and set password_env or password_file"
            )
        return dsn

    _one_source = model_validator(mode="after")(secrets.one_source_each)


class PostgresCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    pool_warning: float = Field(default=0.7, gt=0, le=1)
    """Connections in use above this share of max_connections are DEGRADED."""
    pool_critical: float = Field(default=0.9, gt=0, le=1)
    """Connections in use above this share of max_connections are DOWN."""
    long_query_seconds: float = Field(default=60.0, gt=0)
    """A query (or an open transaction left idle) running longer than this is DEGRADED."""
    replication_lag_warning_s: float = Field(default=30.0, ge=0)
    """On a replica, replay lag above this is DEGRADED."""
    replication_lag_critical_s: float = Field(default=300.0, ge=0)
    """On a replica, replay lag above this is DOWN."""
    database: str | None = None
    """Database whose size is reported (default: the one connected to)."""

    @model_validator(mode="after")
    def _ordered(self) -> PostgresCheckParams:
        if self.pool_warning > self.pool_critical:
            raise ValueError("pool_warning must not exceed pool_critical")
        if self.replication_lag_warning_s > self.replication_lag_critical_s:
            raise ValueError("replication_lag_warning_s must not exceed replication_lag_critical_s")
        return self
