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
from dataclasses import replace
from typing import TYPE_CHECKING

from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.backends.postgres.readonly_sql import read_only_problem as read_only_problem
from oncall_console.model.params import ActionRefused, validate_param
from oncall_console.runbooks.model import (
    ActionBlock,
    Block,
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


def resolve_backend(name: str, backends: Mapping[str, Backend]) -> tuple[str | None, str]:
    """The backend a block means: a configured name, else a type the config has exactly
    one backend of (``kubernetes`` when it has one kubernetes backend, whatever its name).
    Returns (its name, "") or (None, why not: unknown, or the candidates when several)."""
    if name in backends:
        return name, ""
    of_type = sorted(n for n, b in backends.items() if name == b.TYPE)
    if len(of_type) == 1:
        return of_type[0], ""
    if of_type:
        return None, (
            f"backend type {name!r} is ambiguous: {len(of_type)} {name} backends "
            f"({', '.join(of_type)}); name one of them"
        )
    return None, _no_backend(name, backends)


def resolve_blocks(runbook: Runbook, backends: Mapping[str, Backend]) -> Runbook:
    """``runbook`` with every block that names a backend by its type naming the one
    backend of that type (blocks that cannot be resolved are left as written: lint and
    the runner say why)."""

    def change(block: Block) -> Block:
        if isinstance(block, ActionBlock | SqlBlock | PromqlBlock) and block.backend:
            found, _why = resolve_backend(block.backend, backends)
            if found is not None and found != block.backend:
                return replace(block, backend=found)
        return block

    return runbook.map_blocks(change)


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
    runbook = resolve_blocks(runbook, backends)
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
                    why = resolve_backend(block.backend, backends)[1]
                    problem(block.line, f"promql block: {why}")
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
                problem(block.line, f"sql block: {resolve_backend(block.backend, backends)[1]}")
            elif b.TYPE != POSTGRES:
                problem(
                    block.line, f"sql block: backend {block.backend!r} is {b.TYPE}, not postgres"
                )
            if block.sql and (why := read_only_problem(block.sql)):
                problem(block.line, f"sql block: {why}")
    return sorted(found, key=lambda p: (p.line, p.severity))


def action_problems(block: ActionBlock, backends: Mapping[str, Backend]) -> list[tuple[int, str]]:
    """Why this action block could not run as written: (line, message) pairs."""
    name, why = resolve_backend(block.backend, backends)
    if name is None:
        return [(block.line, f"action block: {why}")]
    if name != block.backend:
        block = replace(block, backend=name)
    backend = backends[name]
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
        if not rb.steps and rb.id not in library.sections:
            found.append(RunbookProblem(rb.file, 0, "warning", NO_STEPS))
    return sorted(found, key=lambda p: (p.file, p.line))


NO_STEPS = (
    "no steps found: it shows as text to read, nothing to tick (checkboxes, numbered "
    "items, or bullets under a Diagnosis / Mitigation-like heading make steps)"
)


def errors(problems: Iterable[RunbookProblem]) -> list[RunbookProblem]:
    return [p for p in problems if p.is_error]


def _no_backend(name: str, backends: Mapping[str, Backend]) -> str:
    have = ", ".join(n if n == b.TYPE else f"{n} ({b.TYPE})" for n, b in sorted(backends.items()))
    return f"no backend named or of type {name!r} (configured: {have or 'none'})"
