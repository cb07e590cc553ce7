"""Shared fixtures. Integration servers live in tests/support and fail under CI=true when missing."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test writes the console's state (handoff notes, drafts) to a folder of its
    own, never to the user's ~/.local/state (a test may set its own)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


def need(condition: bool, why: str) -> None:
    """Skip when a real server is missing on a developer machine; fail in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {why}", pytrace=False)
    pytest.skip(why)


# The real-server stack (PostgreSQL, Redis, Prometheus, Alertmanager, exporters), one per
# session; tests that use it are grouped onto one xdist worker (--dist loadgroup).
from tests.support.stack_fixture import healthy_stack, stack  # noqa: E402, F401
