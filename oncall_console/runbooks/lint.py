"""Check runbooks against the configured backends, without connecting to anything.

``lint_runbook(runbook, backends)`` takes backend *instances* (the engine's, or
those :func:`instantiate_backends` builds from config without starting them):
an action's list depends on its options (the redis allowlist, the kubernetes
namespaces), so a class alone cannot answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from oncall_console.backends.base import Backend, BackendContext, Capability
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


# --- read-only SQL -------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_FIRST = {"SELECT", "SHOW", "EXPLAIN", "WITH"}
_WRITES = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "DROP", "ALTER", "CREATE", "GRANT",
    "REVOKE", "COPY", "CALL", "DO", "VACUUM", "ANALYZE", "ANALYSE", "REINDEX", "CLUSTER",
    "LOCK", "REFRESH", "IMPORT", "LISTEN", "NOTIFY", "UNLISTEN", "PREPARE", "EXECUTE",
    "DEALLOCATE", "DISCARD", "BEGIN", "COMMIT", "ROLLBACK", "ABORT", "SAVEPOINT",
    "CHECKPOINT", "INTO", "REASSIGN",
}  # fmt: skip
"""Words that make a statement change something (or hold locks), wherever they appear.
``INTO`` catches SELECT ... INTO (a new table); ``ANALYZE`` catches EXPLAIN ANALYZE,
which runs its statement."""
_SIDE_EFFECTS = re.compile(
    r"^(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal"
    r"|pg_promote|pg_create_\w+|pg_drop_\w+|pg_advisory\w*|pg_try_advisory\w*"
    r"|pg_replication_origin\w*|pg_logical_emit_message|pg_stat_reset\w*|pg_read_\w+"
    r"|pg_file_\w+|pg_log_backend_memory_contexts|pg_import_system_collations|pg_sleep\w*"
    r"|lo_\w+|dblink\w*|set_config|nextval|setval|pg_notify|txid_current|query_to_xml\w*"
    r"|pg_current_xact_id)$",
    re.IGNORECASE,
)
"""Functions a SELECT may call that change state, reach outside, read files, or stall."""


def read_only_problem(sql: str) -> str | None:
    """Why ``sql`` is not one plainly read-only statement; None when it is.

    Conservative on purpose: comments are removed, string literals and quoted
    identifiers blanked, then one statement of SELECT / SHOW / EXPLAIN / WITH ...
    SELECT is accepted, with no write keyword anywhere (so no data-modifying CTE,
    no SELECT INTO, no FOR UPDATE) and no function known to have side effects.
    The runner must still run it in a READ ONLY transaction with a timeout.
    """
    try:
        code = _strip(sql)
    except ValueError as exc:
        return str(exc)
    statements = [s for s in code.split(";") if s.strip()]
    if not statements:
        return "no statement"
    if len(statements) > 1:
        return "more than one statement (only one read-only statement may run)"
    words = [w.upper() for w in _WORD.findall(statements[0])]
    if not words or words[0] not in _FIRST:
        first = words[0] if words else statements[0].strip()[:20]
        return f"starts with {first!r}: only SELECT, SHOW, EXPLAIN or WITH ... SELECT may run"
    for w in words:
        if w in _WRITES:
            return f"{w} is not allowed in a read-only diagnostic"
    for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_$]*)\s*\(", statements[0]):
        if _SIDE_EFFECTS.match(m.group(1)):
            return f"{m.group(1)}() changes state or reaches outside the database"
    if re.search(r"(^|\n)\s*\\", statements[0]):
        return "psql meta-commands (\\...) are not SQL"
    if "FOR" in words and any(w in words for w in ("SHARE", "KEY", "NOWAIT", "SKIP")):
        return "row-locking clauses (FOR SHARE / FOR KEY SHARE) are not allowed"
    return None


def _strip(sql: str) -> str:
    """Comments removed, literals and quoted identifiers blanked; ValueError if unclosed."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            if depth:
                raise ValueError("a /* comment is never closed")
            out.append(" ")
        elif c == "'":
            escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
            i = _skip_quoted(sql, i, "'", backslash=escapes)
            out.append(" '' ")
        elif c == '"':
            i = _skip_quoted(sql, i, '"', backslash=False)
            out.append(' "x" ')
        elif c == "$" and (m := _DOLLAR_TAG.match(sql, i)) and not (i and sql[i - 1].isalnum()):
            end = sql.find(m.group(0), m.end())
            if end < 0:
                raise ValueError("a $$ string is never closed")
            i = end + len(m.group(0))
            out.append(" '' ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _skip_quoted(sql: str, i: int, quote: str, *, backslash: bool) -> int:
    """Index after the closing quote of the literal opening at ``i``."""
    j = i + 1
    while j < len(sql):
        if backslash and sql[j] == "\\":
            j += 2
            continue
        if sql[j] == quote:
            if sql.startswith(quote * 2, j):
                j += 2
                continue
            return j + 1
        j += 1
    raise ValueError(f"a {quote} quote is never closed")
