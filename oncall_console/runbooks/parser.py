"""Markdown (+ optional TOML front matter) -> :class:`Runbook`.

The format, exactly:

- Optional front matter: the very first line is ``+++`` (TOML) or ``---`` (YAML,
  read with ``yaml.safe_load``), the next line that is the same fence ends it, and
  in between are ``id``, ``title``, ``alerts``, ``severity``,
  ``escalate_after_minutes``, ``tags``, ``when``, ``weight`` and ``numbered_steps``.
  A wrong type or bad TOML / YAML raises :class:`RunbookError` naming file and line;
  a key that looks like a misspelt one of these (``alert``, ``Tags``) is a warning;
  any other key (a site generator's: ``date``, ``draft``, ``bookToc`` ...) is ignored.
- The first H1 before any other heading is the title heading. Every other
  heading (H2-H6, or a later H1) starts a phase. What comes before the first
  phase is the intro.
- A list item whose text starts with ``[ ]`` or ``[x]`` is a step. Steps are
  kept flat in document order; a step inside another step's item has
  ``depth`` + 1 and names it as ``parent``. When a phase has no checkbox at all,
  its top-level numbered items (``1.``) are taken as steps (``checkbox=False``),
  except items that are only a link (tables of contents). ``numbered_steps =
  false`` in the front matter turns that off.
- Step ids: ``slug(phase title)/slug(step text)``, then ``-2``, ``-3``... for repeats.
- Fenced blocks by info string: ``action`` (TOML), ``promql``, ``sql`` with a
  backend (``sql backend=pg`` or a first line ``-- backend: pg`` / ``# backend: pg``),
  anything else (and ``sql`` without a backend, and indented code) is a
  reference block. A block belongs to the closest step before it in its phase,
  or to the phase when no step comes before it.
- A ``markdown``/``md`` fenced block, or one with no language, that holds checkboxes
  (a checklist pasted as a code sample, or kept in a fence to paste into a change
  issue, as in some team documents) is read as Markdown in place: its headings
  become phases, its checkboxes steps.
- Bytes that are not UTF-8 are replaced; such lines, and lines that look like
  mis-decoded UTF-8 (mojibake), give a warning that names the line.
- A broken action block (bad TOML, missing or unknown keys) stays in the
  runbook as a reference block, and the problem is recorded with its line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from oncall_console.runbooks.body import MD, Walker, slugify
from oncall_console.runbooks.frontmatter import fail, front_matter
from oncall_console.runbooks.model import Runbook, RunbookProblem
from oncall_console.text import clean

__all__ = ["load_file", "parse_bytes", "parse_text", "slugify"]

MAX_BYTES = 2_000_000
"""Larger files are refused: a runbook is read by people, not generated."""
MAX_WARNINGS = 20
# A Latin-1 letter that starts a UTF-8 sequence, followed by what a continuation byte
# looks like when decoded as Windows-1252: the signature of UTF-8 read as the wrong code.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022"
    "\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


# --- entry points ------------------------------------------------------------------------------


def load_file(path: str | Path, *, stem: str | None = None) -> Runbook:
    """Read and parse one file. Raises :class:`RunbookError` (never OSError), also for a
    file that is not a runbook (a rules file, a binary)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise fail(str(p), 0, f"too large ({size} bytes; at most {MAX_BYTES})")
        data = p.read_bytes()
    except OSError as exc:
        raise fail(str(p), 0, f"cannot read: {exc.strerror or exc}") from None
    if why := not_a_runbook(p.name, data):
        raise fail(str(p), 0, f"not a runbook: {why}")
    return parse_bytes(data, str(p), stem=p.stem if stem is None else stem)


RUNBOOK_SUFFIXES = (".md", ".markdown", ".mdown", ".txt", "")
_RULES = re.compile(rb"^\s*(groups:|kind:\s*PrometheusRule|\s*-\s*alert:)", re.MULTILINE)


def not_a_runbook(name: str, data: bytes) -> str:
    """Why these bytes are not a runbook (empty: they may be one): Markdown or text only."""
    head = data[:8192]
    if b"\x00" in head or (
        head and head.decode("utf-8", "replace").count("\ufffd") > len(head) // 10
    ):
        return "a binary file (runbooks are Markdown text)"
    suffix = Path(name).suffix.lower()
    if suffix in (".yml", ".yaml", ".json") and _RULES.search(head):
        return "a Prometheus rules file (groups / alert rules); runbooks are Markdown"
    if suffix not in RUNBOOK_SUFFIXES:
        return f"a {suffix} file; runbooks are Markdown (.md, .markdown) or text (.txt)"
    return ""


def parse_bytes(data: bytes, file: str = "<runbook>", *, stem: str | None = None) -> Runbook:
    """Decode (bad bytes replaced, with a warning per line) and parse."""
    if len(data) > MAX_BYTES:
        raise fail(file, 0, f"too large ({len(data)} bytes; at most {MAX_BYTES})")
    digest = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8", errors="replace")
    return parse_text(text, file, stem=stem, digest=digest)


def parse_text(
    text: str, file: str = "<runbook>", *, stem: str | None = None, digest: str = ""
) -> Runbook:
    """Parse Markdown text. Returns a Runbook or raises one :class:`RunbookError`."""
    if not digest:
        digest = hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x00", "\ufffd")
    lines = text.split("\n")
    problems = _encoding_warnings(file, lines)
    front, body_start, warnings = front_matter(file, lines)
    problems += warnings
    body = "\n".join(lines[body_start:])
    walker = Walker(file, lines, problems, numbered_steps=front.get("numbered_steps", True))
    walker.walk(MD.parse(body), offset=body_start, level_base=0, embed=0)
    phases, intro = walker.finish()

    default_id = slugify(stem if stem is not None else Path(file).stem)
    rb_id = front.get("id", default_id)
    title = front.get("title") or walker.title or walker.first_h1 or _humanize(rb_id)
    return Runbook(
        id=rb_id,
        title=title,
        file=file,
        intro=replace(intro, title=title),
        phases=phases,
        alerts=tuple(front.get("alerts", ())),
        severity=front.get("severity"),
        escalate_after_minutes=front.get("escalate_after_minutes"),
        tags=tuple(front.get("tags", ())),
        weight=front.get("weight"),
        when=front.get("when"),
        problems=tuple(problems),
        digest=digest,
        id_line=front.get("_id_line", 0),
    )


# --- problems ------------------------------------------------------------------------------------


def _encoding_warnings(file: str, lines: list[str]) -> list[RunbookProblem]:
    """One warning per run of consecutive bad lines, naming the first (and the last)."""
    runs: list[tuple[int, int, str]] = []  # first line, last line, why
    for n, line in enumerate(lines, start=1):
        if "\ufffd" in line:
            why = "bytes that are not UTF-8 (shown as \ufffd)"
        elif m := _MOJIBAKE.search(line):
            sample = clean(line[max(0, m.start() - 8) : m.start() + 12], limit=40)
            why = f"text that looks mis-encoded (UTF-8 read as another code page): {sample!r}"
        else:
            continue
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n, runs[-1][2])
        else:
            runs.append((n, n, why))
    found = [
        RunbookProblem(file, a, "warning", why if a == b else f"{why}; lines {a}-{b}")
        for a, b, why in runs[:MAX_WARNINGS]
    ]
    if len(runs) > MAX_WARNINGS:
        more = sum(b - a + 1 for a, b, _ in runs[MAX_WARNINGS:])
        found.append(RunbookProblem(file, 0, "warning", f"{more} more mis-encoded lines"))
    return found


def _humanize(slug: str) -> str:
    words = re.sub(r"[-_.]+", " ", slug).strip()
    return words[:1].upper() + words[1:] if words else "Runbook"
