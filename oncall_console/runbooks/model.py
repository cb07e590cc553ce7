"""A runbook as plain data: phases of steps, each step with its typed blocks. No IO here.

Every text field holds text from a file: it is data, cleaned of escapes and
controls by the parser, and is to be shown as plain text, never as markup.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from oncall_console.model import ActionRequest, Severity

ProblemSeverity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class RunbookProblem:
    """One thing wrong with a runbook, located by file and line (1-based; 0 = the file)."""

    file: str
    line: int
    severity: ProblemSeverity
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class RunbookError(Exception):
    """A file that cannot be loaded as a runbook; each problem names file and line."""

    def __init__(self, problems: list[RunbookProblem]) -> None:
        if not problems:
            raise ValueError("a RunbookError needs at least one problem")
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def file(self) -> str:
        return self.problems[0].file

    @property
    def line(self) -> int:
        return self.problems[0].line


class BlockKind(enum.Enum):
    ACTION = "action"
    """A runnable action: goes through the action runner (preview, confirm, lock, audit)."""
    PROMQL = "promql"
    """A live Prometheus query, shown with its current value."""
    SQL = "sql"
    """A read-only SQL diagnostic against a postgres backend."""
    REFERENCE = "reference"
    """A command to read or copy; never executed."""


@dataclass(frozen=True, slots=True)
class ActionBlock:
    """```` ```action ````: a backend's action with its parameters."""

    kind: ClassVar[BlockKind] = BlockKind.ACTION
    backend: str
    action: str
    params: dict[str, Any]
    line: int
    """Line of the opening fence."""
    title: str = ""
    ask: tuple[str, ...] = ()
    """Parameters the operator supplies (or edits) when running it; a value in
    ``params`` is then only the suggestion."""
    param_lines: dict[str, int] = field(default_factory=dict)
    """Line of each parameter's key in the file, for lint messages."""
    source: str = ""
    """The block as written, for display."""

    @property
    def key(self) -> str:
        return f"{self.backend}.{self.action}"

    def request(
        self, *, overrides: dict[str, Any] | None = None, operator: str = "", dry_run: bool = False
    ) -> ActionRequest:
        """The request for the action runner (which validates it again)."""
        params = {**self.params, **(overrides or {})}
        return ActionRequest(self.backend, self.action, params, operator, dry_run)


@dataclass(frozen=True, slots=True)
class PromqlBlock:
    """```` ```promql ````: a live query; ``backend`` empty means the first prometheus backend."""

    kind: ClassVar[BlockKind] = BlockKind.PROMQL
    query: str
    line: int
    backend: str = ""


@dataclass(frozen=True, slots=True)
class SqlBlock:
    """```` ```sql backend=NAME ````: one read-only statement (lint checks it; so must the runner)."""

    kind: ClassVar[BlockKind] = BlockKind.SQL
    sql: str
    backend: str
    line: int


@dataclass(frozen=True, slots=True)
class ReferenceBlock:
    """Any other fenced or indented block: shown and copyable, never executed."""

    kind: ClassVar[BlockKind] = BlockKind.REFERENCE
    language: str
    """The info string's first word (``bash``, ``yaml``...), or empty."""
    text: str
    line: int


Block = ActionBlock | PromqlBlock | SqlBlock | ReferenceBlock


@dataclass(frozen=True, slots=True)
class Step:
    """One thing to do and tick off. Steps are kept flat, in document order; a
    sub-step has ``depth`` > 0 and names its ``parent`` step."""

    id: str
    """Stable: slug of the phase title and of the step text, de-duplicated with -2, -3..."""
    text: str
    """Plain text, one line (inline markup removed)."""
    line: int
    markdown: str = ""
    """The item's first paragraph as written (without the checkbox)."""
    depth: int = 0
    parent: str | None = None
    checked: bool = False
    """Ticked in the file itself (``- [x]``); progress lives in the store, not here."""
    checkbox: bool = True
    """False for a numbered item (or, under a Diagnosis / Mitigation-like heading, a plain
    bullet) taken as a step because its phase has no checkboxes."""
    note: str = ""
    """Further text inside the item (more paragraphs, plain sub-bullets)."""
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True, slots=True)
class Phase:
    """A heading and what follows it up to the next heading."""

    id: str
    title: str
    level: int
    """Heading level (2 for ``##``); the intro has level 1."""
    line: int
    text: str = ""
    """Prose of the phase as written (Markdown source), steps and blocks left out."""
    steps: tuple[Step, ...] = ()
    blocks: tuple[Block, ...] = ()
    """Blocks that come before any step of the phase."""
    parts: tuple[str | Block, ...] = ()
    """What the phase shows, in document order: prose (Markdown source, the steps'
    lines left out) and the phase's own blocks between the paragraphs."""
    parent: str = ""
    """The id of the phase whose heading this one's is under (``###`` under ``##``)."""

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.steps or self.blocks)


class ShiftMoment(enum.Enum):
    START = "start-of-shift"
    END = "end-of-shift"


@dataclass(frozen=True, slots=True)
class Runbook:
    id: str
    title: str
    file: str
    intro: Phase
    """Everything before the first phase heading (steps included, if any)."""
    phases: tuple[Phase, ...] = ()
    alerts: tuple[str, ...] = ()
    severity: Severity | None = None
    escalate_after_minutes: int | None = None
    tags: tuple[str, ...] = ()
    when: ShiftMoment | None = None
    weight: int | None = None
    """Front matter ``weight`` (Hugo's): lists put lower weights first."""
    problems: tuple[RunbookProblem, ...] = ()
    """Found while parsing: warnings (mis-encoded text) and errors (broken blocks)."""
    digest: str = ""
    """SHA-256 of the file's bytes: stored progress can tell the file changed."""
    id_line: int = 0
    """Line of ``id`` in the front matter (0 when the id comes from the file name)."""

    def all_phases(self) -> Iterator[Phase]:
        """The intro (when it holds anything) and then every phase."""
        if not self.intro.is_empty:
            yield self.intro
        yield from self.phases

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(s for p in self.all_phases() for s in p.steps)

    def step(self, step_id: str) -> Step | None:
        for s in self.steps:
            if s.id == step_id:
                return s
        return None

    def blocks(self) -> Iterator[tuple[Phase, Step | None, Block]]:
        """Every block with where it is attached."""
        for phase in self.all_phases():
            for b in phase.blocks:
                yield phase, None, b
            for s in phase.steps:
                for b in s.blocks:
                    yield phase, s, b

    @property
    def actions(self) -> tuple[ActionBlock, ...]:
        return tuple(b for _, _, b in self.blocks() if isinstance(b, ActionBlock))

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    def map_blocks(self, change: Callable[[Block], Block]) -> Runbook:
        """The same runbook with every block passed through ``change`` (e.g. a backend
        named by its type replaced by the one backend of that type)."""

        def phase(p: Phase) -> Phase:
            steps = tuple(replace(s, blocks=tuple(map(change, s.blocks))) for s in p.steps)
            parts = tuple(x if isinstance(x, str) else change(x) for x in p.parts)
            return replace(p, steps=steps, blocks=tuple(map(change, p.blocks)), parts=parts)

        return replace(self, intro=phase(self.intro), phases=tuple(map(phase, self.phases)))
