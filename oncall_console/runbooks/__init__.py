"""Runbooks: Markdown checklists with typed blocks (actions, live queries, references).

No Textual and no IO outside :func:`load_file` and the library's folder scan.
The parser is ``parser`` (entry points), ``frontmatter`` (TOML) and ``body`` (phases,
steps, blocks). Lint lives in :mod:`oncall_console.runbooks.lint` (it imports the
backend contract, so it is not imported here: off the first frame's path).
"""

from oncall_console.runbooks.library import RunbookLibrary
from oncall_console.runbooks.model import (
    ActionBlock,
    Block,
    BlockKind,
    Phase,
    PromqlBlock,
    ReferenceBlock,
    Runbook,
    RunbookError,
    RunbookProblem,
    ShiftMoment,
    SqlBlock,
    Step,
)

_PARSER = {"load_file", "parse_bytes", "parse_text", "slugify"}


def __getattr__(name: str) -> object:
    # The parser pulls in markdown-it: loaded on first use, off the path to the first frame.
    if name in _PARSER:
        from oncall_console.runbooks import parser

        return getattr(parser, name)
    raise AttributeError(name)


__all__ = [
    "ActionBlock",
    "Block",
    "BlockKind",
    "Phase",
    "PromqlBlock",
    "ReferenceBlock",
    "Runbook",
    "RunbookError",
    "RunbookLibrary",
    "RunbookProblem",
    "ShiftMoment",
    "SqlBlock",
    "Step",
    "load_file",
    "parse_bytes",
    "parse_text",
    "slugify",
]
