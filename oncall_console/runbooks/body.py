"""The Markdown body of a runbook: tokens -> phases, steps and typed blocks.

Headings start phases, checkbox items (or a phase's numbered items) are steps, fenced
blocks are typed (action, promql, sql with a backend, references). See
:mod:`oncall_console.runbooks.parser` for the format.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from oncall_console.config import toml_loads
from oncall_console.runbooks.frontmatter import TOML_AT, toml_key_lines
from oncall_console.runbooks.model import (
    ActionBlock,
    Block,
    Phase,
    ProblemSeverity,
    PromqlBlock,
    ReferenceBlock,
    RunbookProblem,
    SqlBlock,
    Step,
)
from oncall_console.text import clean

MAX_EMBED_DEPTH = 3
ACTION_KEYS = ("backend", "action", "params", "title", "ask")
SQL_LANGUAGES = ("sql", "postgres", "postgresql", "pgsql")
MARKDOWN_LANGUAGES = ("markdown", "md")

BACKEND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_TASK = re.compile(r"^\[([ xX])\](?:[ \t]+|$)")
_TASK_LINE = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\[[ xX]\]", re.MULTILINE)
_BACKEND_COMMENT = re.compile(
    r"^\s*(?:#|--|//)\s*backend\s*[:=]\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,62})\s*$", re.IGNORECASE
)

MD = MarkdownIt("commonmark", {"maxNesting": 20}).enable("table")

MAX_INLINE_COMMANDS = 5
# A code span in a step's text that is a command line: a known tool, then arguments.
_COMMAND = re.compile(
    r"^(sudo\s+)?(kubectl|oc|helm|etcdctl|curl|wget|docker|podman|crictl|systemctl|journalctl|"
    r"psql|pg_\w+|redis-cli|mysql|mongosh?|gcloud|gsutil|aws|az|ssh|scp|git|df|du|ls|cat|tail|"
    r"grep|ps|top|kill|free|dig|nslookup|ping|openssl|jq|promtool|amtool|terraform|knife|"
    r"gitlab-\w+|consul|vault|nomad|nodetool|ceph|rbd|rados|virtctl|velero|argocd|flux|"
    r"istioctl|linkerd|cilium|calicoctl|ip|ss|netstat|tcpdump|iostat|vmstat|lsof|strace|"
    r"chef-client|knife|ansible\S*|salt\S*|make|python3?|go|npm|yarn|bundle|rake|rails)"
    r"(\s+\S.*)$",
    re.DOTALL,
)
# Headings under which plain bullets are things to do (and the sections below them).
_STEPS_WORDS = re.compile(
    r"\b(diagnos\w*|mitigat\w*|resolution|resolve|resolving|remediat\w*|steps?|procedures?|"
    r"troubleshoot\w*|triage|investigation|checklists?|actions?|fix(es|ing)?|"
    r"roll-?back|rollbacks?|workarounds?|what to do|instructions?|verif\w*|solutions?)\b",
    re.IGNORECASE,
)
_STEPS_CJK = (
    "诊断",
    "緩和",
    "缓解",
    "解决",
    "解決",
    "步骤",
    "处理",
    "處理",
    "手順",
    "対処",
    "対応",
    "診断",
    "修复",
    "排查",
)


def steps_heading(title: str) -> bool:
    """A heading whose plain bullets are steps: Diagnosis, Mitigation, Resolution, Steps..."""
    return bool(_STEPS_WORDS.search(title)) or any(w in title for w in _STEPS_CJK)


def slugify(text: str, fallback: str = "runbook", limit: int = 64) -> str:
    """Lowercase letters and digits (any script) joined by '-'."""
    s = unicodedata.normalize("NFKC", text).lower()
    s = re.sub(r"[\W_]+", "-", s).strip("-")
    if len(s) > limit:
        cut = s[: limit + 1]
        s = cut[: cut.rindex("-")] if "-" in cut[1:] else s[:limit]
    return s.strip("-") or fallback


# --- the body -------------------------------------------------------------------------------------


@dataclass
class _Item:
    parent: _Item | None
    ordered: bool
    start: int
    end: int
    task: bool = False
    checked: bool = False
    text: str = ""
    markdown: str = ""
    head: tuple[int, int] = (0, 0)
    link_only: bool = False
    commands: list[str] = field(default_factory=list)
    """Commands written inline in the item's text (``kubectl -n $NAMESPACE get pod``)."""
    step: Step | None = None


@dataclass
class _PhaseAcc:
    title: str
    level: int
    line: int
    events: list[_Item | Block] = field(default_factory=list)
    owned: set[int] = field(default_factory=set)
    consumed: set[int] = field(default_factory=set)


class Walker:
    def __init__(
        self, file: str, lines: list[str], problems: list[RunbookProblem], *, numbered_steps: bool
    ) -> None:
        self.file = file
        self.lines = lines
        self.problems = problems
        self.numbered_steps = numbered_steps
        self.phases: list[_PhaseAcc] = [_PhaseAcc("", 1, 1)]
        self.title = ""
        self.title_seen = False
        self.first_h1 = ""

    @property
    def phase(self) -> _PhaseAcc:
        return self.phases[-1]

    def problem(self, line: int, message: str, severity: ProblemSeverity = "error") -> None:
        self.problems.append(RunbookProblem(self.file, line, severity, message))

    # --- tokens -> events

    def walk(self, tokens: list[Token], *, offset: int, level_base: int, embed: int) -> None:
        items: list[_Item] = []
        lists: list[bool] = []  # ordered?
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            span = (tok.map[0] + offset, tok.map[1] + offset) if tok.map else None
            kind = tok.type
            if kind == "heading_open" and tok.level == 0 and span is not None:
                inline = tokens[i + 1] if i + 1 < len(tokens) else None
                title = clean(_plain(inline), limit=200) if inline is not None else ""
                self._heading(int(tok.tag[1:] or 2), title, span, level_base)
                i += 3  # heading_open, inline, heading_close
                continue
            if tok.level == 0 and span is not None:
                self.phase.owned.update(range(*span))
            if kind in ("bullet_list_open", "ordered_list_open"):
                lists.append(kind == "ordered_list_open")
            elif kind in ("bullet_list_close", "ordered_list_close"):
                if lists:
                    lists.pop()
            elif kind == "list_item_open" and span is not None:
                item = _Item(
                    parent=items[-1] if items else None,
                    ordered=bool(lists and lists[-1]),
                    start=span[0],
                    end=span[1],
                )
                if i + 2 < len(tokens) and tokens[i + 1].type == "paragraph_open":
                    self._item_head(item, tokens[i + 2], offset)
                items.append(item)
                self.phase.events.append(item)
            elif kind == "list_item_close":
                if items:
                    items.pop()
            elif kind in ("fence", "code_block") and span is not None:
                self._block(tok, span, level_base, embed)
            i += 1

    def _heading(self, tag: int, title: str, span: tuple[int, int], level_base: int) -> None:
        level = max(1, tag + level_base - 1) if level_base else tag
        if tag == 1 and not self.first_h1:
            self.first_h1 = title
        if level == 1 and not level_base and not self.title_seen and len(self.phases) == 1:
            self.title = title
            self.title_seen = True
            self.phase.owned.update(range(*span))
            self.phase.consumed.update(range(*span))
            return
        acc = _PhaseAcc(title or "(untitled)", level, span[0] + 1)
        acc.owned.update(range(*span))
        acc.consumed.update(range(*span))
        self.phases.append(acc)

    def _item_head(self, item: _Item, inline: Token, offset: int) -> None:
        content = inline.content
        if inline.map:
            item.head = (inline.map[0] + offset, inline.map[1] + offset)
        m = _TASK.match(content)
        plain = _plain(inline)
        if m:
            item.task, item.checked = True, m.group(1) in "xX"
            content = content[m.end() :]
            plain = _TASK.sub("", plain.lstrip(), count=1)
        children = [c for c in inline.children or [] if c.type != "softbreak"]
        item.link_only = (
            bool(children)
            and children[0].type == "link_open"
            and (children[-1].type == "link_close")
        )
        item.text = clean(plain.strip(), limit=500)
        item.markdown = clean(content.strip(), limit=2000)
        item.commands = [
            clean(c.content.strip(), limit=2000)
            for c in inline.children or []
            if c.type == "code_inline" and _COMMAND.match(c.content.strip())
        ][:MAX_INLINE_COMMANDS]

    def _block(self, tok: Token, span: tuple[int, int], level_base: int, embed: int) -> None:
        phase = self.phase
        phase.consumed.update(range(*span))
        line = span[0] + 1
        if tok.type == "code_block":
            phase.events.append(ReferenceBlock("", _block_text(tok.content), line))
            return
        words = tok.info.strip().split()
        lang = clean(words[0], limit=40).lower() if words else ""
        attrs = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        content = tok.content
        if lang == "action":
            phase.events.append(self._action(content, line))
        elif lang == "promql" or (lang in SQL_LANGUAGES and "backend" in attrs):
            self._query(lang, attrs.get("backend", ""), content, line)
        elif lang in SQL_LANGUAGES and _BACKEND_COMMENT.match(_first_line(content)):
            self._query(lang, "", content, line)
        elif (
            lang in (*MARKDOWN_LANGUAGES, "")
            and embed < MAX_EMBED_DEPTH
            and _TASK_LINE.search(content)
        ):  # a checklist kept in a fence to paste into a change issue: walked as Markdown
            level = max(level_base, phase.level)
            tokens = MD.parse(content)
            self.walk(tokens, offset=span[0] + 1, level_base=level, embed=embed + 1)
        else:
            phase.events.append(ReferenceBlock(lang, _block_text(content), line))

    def _query(self, lang: str, backend: str, content: str, line: int) -> None:
        body = content
        first = _first_line(content)
        if m := _BACKEND_COMMENT.match(first):
            backend = backend or m.group(1)
            body = content[content.index(first) + len(first) :]
        body = body.strip()
        if backend and not BACKEND_NAME.match(backend):
            self.problem(line, f"{lang} block: {clean(backend, limit=40)!r} is not a backend name")
            self.phase.events.append(ReferenceBlock(lang, _block_text(content), line))
            return
        if not body:
            self.problem(line, f"{lang} block is empty")
        if lang == "promql":
            self.phase.events.append(PromqlBlock(body, line, backend))
        else:
            self.phase.events.append(SqlBlock(body, backend, line))

    def _action(self, content: str, line: int) -> Block:
        fallback = ReferenceBlock("action", _block_text(content), line)
        try:
            data = toml_loads(content)
        except tomllib.TOMLDecodeError as exc:
            m = TOML_AT.search(str(exc))
            at = line + int(m.group(1)) if m else line
            self.problem(at, f"action block: TOML syntax: {TOML_AT.sub('', str(exc))}")
            return fallback
        key_lines = toml_key_lines(content.split("\n"), first_line=line + 1)
        before = len(self.problems)

        def bad(key: str, message: str) -> None:
            self.problem(key_lines.get(key, line), f"action block: {message}")

        for key in data:
            if key not in ACTION_KEYS:
                bad(key, f"unknown key {key!r} (known: {', '.join(ACTION_KEYS)})")
        backend, action = data.get("backend"), data.get("action")
        for key, value in (("backend", backend), ("action", action)):
            if value is None:
                bad(key, f"{key} is missing")
            elif not isinstance(value, str) or not BACKEND_NAME.match(value):
                bad(key, f'{key}: expected a name such as "pg" or "terminate-idle"')
        params = data.get("params", {})
        if not isinstance(params, dict):
            bad("params", 'params: expected a table, e.g. params = { service = "api" }')
            params = {}
        for name, value in params.items():
            if not isinstance(value, str | int | float | bool):
                bad(f"params.{name}", f"params.{name}: expected a string, number or boolean")
        title = data.get("title", "")
        if not isinstance(title, str):
            bad("title", "title: expected a string")
        ask = data.get("ask", [])
        if not isinstance(ask, list) or not all(isinstance(a, str) for a in ask):
            bad("ask", 'ask: expected a list of parameter names, e.g. ["deployment"]')
            ask = []
        if len(self.problems) > before:
            return fallback
        assert isinstance(backend, str) and isinstance(action, str)
        param_lines = {
            name: key_lines.get(f"params.{name}", key_lines.get("params", line)) for name in params
        }
        return ActionBlock(
            backend=backend,
            action=action,
            params=dict(params),
            line=line,
            title=clean(title, limit=200) if isinstance(title, str) else "",
            ask=tuple(ask),
            param_lines=param_lines,
            source=_block_text(content),
        )

    # --- events -> phases

    def finish(self) -> tuple[tuple[Phase, ...], Phase]:
        ids = _Ids()
        built: list[Phase] = []
        above: list[tuple[int, str, bool]] = []  # the open headings: level, id, steps-like
        for n, acc in enumerate(self.phases):
            phase_id = "intro" if n == 0 else ids.take(slugify(acc.title, "phase"))
            while above and above[-1][0] >= acc.level:
                above.pop()
            parent = above[-1][1] if above and n else ""
            bullets = n > 0 and (steps_heading(acc.title) or any(a[2] for a in above))
            built.append(self._phase(acc, phase_id, ids, parent=parent, bullets=bullets))
            if n:
                above.append((acc.level, phase_id, bullets))
        return tuple(built[1:]), built[0]

    def _phase(
        self, acc: _PhaseAcc, phase_id: str, ids: _Ids, *, parent: str, bullets: bool
    ) -> Phase:
        items = [e for e in acc.events if isinstance(e, _Item)]
        has_checkbox = any(it.task for it in items)

        def listed(it: _Item) -> bool:
            return it.parent is None and bool(it.text) and not it.link_only

        numbered = self.numbered_steps and any(it.ordered and listed(it) for it in items)

        def is_step(it: _Item) -> bool:
            if it.task:
                return True
            if has_checkbox or not listed(it):
                return False
            # Numbers win over bullets; plain bullets only under a steps-like heading, and
            # not a one-word item (a list of names: "cassandra", "ceph", ...).
            if numbered:
                return it.ordered
            return bullets and not it.ordered and len(it.text.split()) > 1

        steps: list[_Item] = [it for it in items if is_step(it)]
        step_set = {id(it) for it in steps}
        phase_slug = slugify(acc.title, "intro" if phase_id == "intro" else "phase", limit=40)
        consumed = set(acc.consumed)
        for it in steps:
            consumed.update(range(it.start, it.end))

        blocks_of: dict[int, list[Block]] = {id(it): [] for it in steps}
        phase_blocks: list[Block] = []
        last: _Item | None = None
        for ev in acc.events:
            if isinstance(ev, _Item):
                if id(ev) in step_set:
                    last = ev
            elif last is None:
                phase_blocks.append(ev)
            else:
                blocks_of[id(last)].append(ev)

        out: list[Step] = []
        for k, it in enumerate(steps):
            ancestors = []
            p = it.parent
            while p is not None:
                if id(p) in step_set:
                    ancestors.append(p)
                p = p.parent
            hidden = set(range(*it.head)) | {it.start}
            j = k + 1  # sub-steps follow their step in document order
            while j < len(steps) and steps[j].start < it.end:
                hidden.update(range(steps[j].start, steps[j].end))
                j += 1
            note = self._text(range(it.start, it.end), hidden, acc.consumed)
            inline = tuple(ReferenceBlock("shell", c, it.start + 1) for c in it.commands)
            step = Step(
                id=ids.take(f"{phase_slug}/{slugify(it.text or it.markdown, 'step', limit=60)}"),
                text=it.text or "(empty step)",
                line=it.start + 1,
                markdown=it.markdown,
                depth=len(ancestors),
                parent=ancestors[0].step.id if ancestors and ancestors[0].step else None,
                checked=it.checked,
                checkbox=it.task,
                note=note,
                blocks=inline + tuple(blocks_of[id(it)]),
            )
            it.step = step
            out.append(step)
        owned = sorted(acc.owned)
        text = self._text(owned, consumed)
        parts: list[str | Block] = []
        chunk: list[int] = []
        waiting = sorted(phase_blocks, key=lambda b: b.line)

        def flush() -> None:
            if prose := self._text(chunk, consumed):
                parts.append(prose)
            chunk.clear()

        for n in owned:
            while waiting and waiting[0].line - 1 <= n:
                flush()
                parts.append(waiting.pop(0))
            chunk.append(n)
        flush()
        parts.extend(waiting)
        return Phase(
            phase_id,
            acc.title,
            acc.level,
            acc.line,
            text,
            tuple(out),
            tuple(phase_blocks),
            parts=tuple(parts),
            parent=parent,
        )

    def _text(self, lines: Any, hidden: set[int], also: set[int] | None = None) -> str:
        kept: list[str] = []
        last = None
        for n in lines:
            if n in hidden or (also and n in also) or not 0 <= n < len(self.lines):
                continue
            if last is not None and n != last + 1:
                kept.append("")  # something was left out (or was blank): keep blocks apart
            kept.append(self.lines[n])
            last = n
        text = _dedent("\n".join(kept))
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        return clean(text, limit=20_000, single_line=False)


class _Ids:
    """Hands out ids, adding -2, -3... to repeats."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.last: dict[str, int] = {}

    def take(self, base: str) -> str:
        candidate, n = base, self.last.get(base, 1)
        if n > 1:
            candidate = f"{base}-{n}"
        while candidate in self.seen:
            n += 1
            candidate = f"{base}-{n}"
        self.seen.add(candidate)
        self.last[base] = n
        return candidate


# --- helpers -----------------------------------------------------------------------------------


def _plain(inline: Token) -> str:
    """The text of an inline token without its markup: code spans keep their content."""
    if not inline.children:
        return inline.content
    parts: list[str] = []
    for c in inline.children:
        if c.type in ("text", "code_inline", "html_inline"):
            parts.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif c.type == "image":
            parts.append(c.content)
    return "".join(parts)


def _first_line(content: str) -> str:
    for line in content.split("\n"):
        if line.strip():
            return line
    return ""


def _block_text(content: str) -> str:
    return clean(content.rstrip("\n"), limit=20_000, single_line=False)


def _dedent(text: str) -> str:
    lines = text.split("\n")
    widths = [len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()]
    cut = min(widths, default=0)
    return "\n".join(ln[cut:] for ln in lines) if cut else text
