"""The backend contract: one configured connection that declares what it can do.

A backend subclasses :class:`Backend`, sets ``CAPABILITIES`` and the pydantic
models for its options and per-check / per-SLI parameters, and implements the
methods its capabilities promise. The engine never calls a method the backend
did not declare, and the UI never offers one.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from oncall_console.model import (
    ActionRequest,
    ActionResult,
    ActionSpec,
    Alert,
    CheckResult,
    CheckSpec,
    DetailTable,
    Incident,
    Silence,
    SliReading,
    SliSpec,
)

T = TypeVar("T")


class Capability(enum.Enum):
    HEALTH = "health"
    SLI = "sli"
    ALERTS = "alerts"
    INCIDENTS = "incidents"
    SILENCES = "silences"
    ACTIONS = "actions"


class Strict(BaseModel):
    """Base for backend option models: unknown keys are errors, not surprises."""

    # Built when first validated: a model imported but never used (params.ParamDecl comes
    # with the engine) builds no schema.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NoParams(Strict):
    """A check or SLI of this backend takes no parameters."""


@dataclass
class BackendContext:
    """What the engine lends a backend: the clock and the bounded thread pool."""

    executor: ThreadPoolExecutor
    clock: Callable[[], float] = time.time
    environment: str = ""
    read_only: bool = False
    """The console is read-only. For information only: the engine's ActionRunner refuses
    every action before a backend is called, so a backend never checks this itself."""
    extra: dict[str, Any] = field(default_factory=dict)

    async def run_sync(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run a blocking call in the bounded pool; give up waiting after ``timeout``.

        The thread cannot be killed, but the caller is never held past the timeout,
        and the pool's size bounds how many such calls can pile up.
        """
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.executor, fn, *args)
        return await asyncio.wait_for(fut, timeout)


class Backend:
    """Base class of every backend plugin."""

    TYPE: ClassVar[str] = ""
    """The ``type = "..."`` that selects this backend in config."""
    DESCRIPTION: ClassVar[str] = ""
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()
    Options: ClassVar[type[BaseModel]] = NoParams
    CheckParams: ClassVar[type[BaseModel]] = NoParams
    SliParams: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        self.name = name
        self.options = options
        self.context = context

    def can(self, capability: Capability) -> bool:
        return capability in self.CAPABILITIES

    async def start(self) -> None:
        """Open pools or clients. Called once before the first use."""

    async def probe(self, check: CheckSpec) -> CheckResult:
        raise NotImplementedError

    async def query_sli(self, sli: SliSpec) -> list[SliReading]:
        raise NotImplementedError

    async def alerts(self) -> list[Alert]:
        """The active alerts. Return a new list when anything changed, never change a
        list returned before in place: the engine keeps its sorted view while a feed
        hands back the same list."""
        raise NotImplementedError

    async def incidents(self) -> list[Incident]:
        raise NotImplementedError

    async def silences(self) -> list[Silence]:
        raise NotImplementedError

    def actions(self) -> list[ActionSpec]:
        return []

    async def diagnose(self, language: str, text: str) -> DetailTable:
        """Run a read-only diagnostic from a runbook (``promql``, ``sql``) and return rows.

        Only backends that understand the language implement it; the engine checks the
        text is read-only first, and the backend must enforce it again on its side.
        """
        raise NotImplementedError(f"{self.TYPE} backends cannot run {language} diagnostics")

    async def preview(self, request: ActionRequest) -> str:
        raise NotImplementedError

    async def run(self, request: ActionRequest) -> ActionResult:
        raise NotImplementedError

    async def close(self) -> None:
        """Release everything :meth:`start` opened. Safe to call twice."""
