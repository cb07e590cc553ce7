"""Check runbooks against the configured backends, without connecting to anything.

``lint_runbook(runbook, backends)`` takes backend *instances* (the engine's, or
those :func:`instantiate_backends` builds from config without starting them):
an action's list depends on its options (the redis allowlist, the kubernetes
namespaces), so a class alone cannot answer.

``read_only_problem`` (is a ```` ```sql ```` block plainly read-only?) is PostgreSQL's
rule, on PostgreSQL's tokens: it lives with the postgres backend
(``backends/postgres/readonly_sql.py``), which applies it again before it runs one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.backends.postgres.readonly_sql import read_only_problem as read_only_problem
from oncall_console.model.params import ActionRefused, validate_param
from oncall_console.runbooks.model import (
    ActionBlock,
    ProblemSeverity,
    PromqlBlock,
    Runbook,
    RunbookProblem,
    SqlBlock,
)
from oncall_console.text import clean

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig
    from oncall_console.runbooks.library import RunbookLibrary

PROMETHEUS, POSTGRES = "prometheus", "postgres"


def instantiate_backends(loaded: LoadedConfig) -> dict[str, Backend]:
    """Backends built as the engine builds them, never started: no IO happens."""
    from oncall_console import backends as registry

    executor = ThreadPoolExecutor(1, thread_name_prefix="oncall-lint")  # no thread until used
    context = BackendContext(
        executor=executor,
        environment=loaded.config.console.environment,
        read_only=loaded.config.console.read_only,
    )
    try:
        return {
            name: registry.load(type_name)(name, options, context)
            for name, (type_name, options) in loaded.backend_options.items()
        }
    finally:
        executor.shutdown(wait=False)


def lint_runbook(runbook: Runbook, backends: Mapping[str, Backend] | None) -> list[RunbookProblem]:
    """The parser's own problems, then one per block that could not run as written.

    ``backends=None`` checks only what needs no config: the format and read-only SQL.
    """
    found = list(runbook.problems)
    file = runbook.file

    def problem(line: int, message: str, severity: ProblemSeverity = "error") -> None:
        found.append(RunbookProblem(file, line, severity, message))

    if backends is None:
        for _phase, _step, block in runbook.blocks():
            if isinstance(block, SqlBlock) and block.sql and (why := read_only_problem(block.sql)):
                problem(block.line, f"sql block: {why}")
        return sorted(found, key=lambda p: (p.line, p.severity))
    promql_backends = [n for n, b in backends.items() if b.TYPE == PROMETHEUS]
    for _phase, _step, block in runbook.blocks():
        if isinstance(block, ActionBlock):
            for line, message in action_problems(block, backends):
                problem(line, message)
        elif isinstance(block, PromqlBlock):
            if not block.query:
                continue  # the parser said so already
            if block.backend:
                b = backends.get(block.backend)
                if b is None:
                    problem(block.line, f"promql block: {_no_backend(block.backend, backends)}")
                elif b.TYPE != PROMETHEUS:
                    problem(
                        block.line,
                        f"promql block: backend {block.backend!r} is {b.TYPE}, not prometheus",
                    )
            elif not promql_backends:
                problem(
                    block.line,
                    "promql block: no prometheus backend is configured; it will not show a value",
                    "warning",
                )
        elif isinstance(block, SqlBlock):
            b = backends.get(block.backend)
            if b is None:
                problem(block.line, f"sql block: {_no_backend(block.backend, backends)}")
            elif b.TYPE != POSTGRES:
                problem(
                    block.line, f"sql block: backend {block.backend!r} is {b.TYPE}, not postgres"
                )
            if block.sql and (why := read_only_problem(block.sql)):
                problem(block.line, f"sql block: {why}")
    return sorted(found, key=lambda p: (p.line, p.severity))


def action_problems(block: ActionBlock, backends: Mapping[str, Backend]) -> list[tuple[int, str]]:
    """Why this action block could not run as written: (line, message) pairs."""
    backend = backends.get(block.backend)
    if backend is None:
        return [(block.line, f"action block: {_no_backend(block.backend, backends)}")]
    if not backend.can(Capability.ACTIONS) or not backend.actions():
        return [
            (block.line, f"action block: backend {block.backend!r} ({backend.TYPE}) has no actions")
        ]
    try:
        specs = {s.id: s for s in backend.actions()}
    except Exception as exc:  # a plugin's bug must not stop the lint of everything else
        return [
            (
                block.line,
                f"action block: backend {block.backend!r} cannot list its actions: {clean(str(exc), limit=200)}",
            )
        ]
    spec = specs.get(block.action)
    if spec is None:
        ids = ", ".join(sorted(specs)) or "none"
        return [
            (
                block.line,
                f"action block: backend {block.backend!r} has no action {block.action!r} ({ids})",
            )
        ]
    out: list[tuple[int, str]] = []
    known = {p.name for p in spec.params}
    for name in block.params:
        if name not in known:
            line = block.param_lines.get(name, block.line)
            out.append(
                (
                    line,
                    f"action block: {block.key} has no parameter {name!r} "
                    f"({', '.join(sorted(known)) or 'none'})",
                )
            )
    for name in block.ask:
        if name not in known:
            out.append(
                (block.line, f"action block: ask names {name!r}, not a parameter of {block.key}")
            )
    for p in spec.params:
        if p.name in block.ask and p.name not in block.params:
            continue  # the operator gives it at run time; the runner validates it then
        line = block.param_lines.get(p.name, block.line)
        try:
            validate_param(p, block.params.get(p.name))
        except ActionRefused as exc:
            out.append((line, f"action block: {block.key}: {clean(str(exc), limit=200)}"))
    return out


def lint_library(
    library: RunbookLibrary, backends: Mapping[str, Backend] | None
) -> list[RunbookProblem]:
    """Every load error, folder problem (duplicate ids) and runbook problem, by file and line."""
    found = [p for err in library.errors for p in err.problems]
    found += library.problems
    for rb in library.all():
        found += lint_runbook(rb, backends)
    return sorted(found, key=lambda p: (p.file, p.line))


def errors(problems: Iterable[RunbookProblem]) -> list[RunbookProblem]:
    return [p for p in problems if p.is_error]


def _no_backend(name: str, backends: Mapping[str, Backend]) -> str:
    names = ", ".join(sorted(backends)) or "none configured"
    return f"no backend named {name!r} ({names})"
