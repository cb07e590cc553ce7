"""Pytest fixtures for the integration stack (tests/support/stack.py).

Import both in tests/conftest.py:

    from tests.support.stack_fixture import healthy_stack, stack  # noqa: F401

``stack`` is one Stack per test session (per xdist worker: mark the tests
``pytest.mark.xdist_group("stack")`` and run with ``--dist loadgroup`` to share one).
``healthy_stack`` is that same stack, first repaired after a fault test (paused
servers resumed, stopped ones restarted) and with every Prometheus target up.
A missing binary skips, or fails under CI=true (``need`` in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, missing_binaries


def require_stack_binaries() -> None:
    """Skip (locally) or fail (CI=true) when a server binary of the stack is missing."""
    from tests.conftest import need  # here, not at the top: conftest imports this module

    missing = missing_binaries()
    need(
        not missing,
        f"integration stack needs {', '.join(missing)}"
        " (Debian packages listed in scripts/debian-packages.txt)",
    )


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    require_stack_binaries()
    started = Stack().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def healthy_stack(stack: Stack) -> Stack:
    stack.ensure_running()
    stack.wait_for_targets_up()
    return stack
