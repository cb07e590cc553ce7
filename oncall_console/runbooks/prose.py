"""A runbook's prose as styled plain text: Markdown source -> (text, style) spans.

The screen and ``runbook show`` read prose through this, so both show the same thing:
paragraphs, lists (bullets, numbers, nesting), quotes, tables and code as text, with
only the weight kept (``bold``, ``italic``, ``code``, ``link``). Nothing here is markup
for a renderer to interpret: the UI turns each span into a Rich ``Text`` span with a
style, and a span's text is cleaned of escapes and controls.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it.token import Token

from oncall_console.runbooks.body import MD
from oncall_console.text import clean

STYLES = ("bold", "italic", "code", "link")


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: str = ""
    """Space-separated words of :data:`STYLES`, or empty."""


def prose(markdown: str, *, limit: int = 20_000) -> list[Span]:
    """Spans of ``markdown``: paragraphs end in a blank line, lists keep their marks."""
    if not markdown.strip():
        return []
    out = _Writer()
    _blocks(MD.parse(markdown[:limit]), out)
    return out.finish()


def plain(markdown: str) -> str:
    """The prose as plain text (no styles)."""
    return "".join(s.text for s in prose(markdown))


# --- the walk ------------------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.prefix: list[str] = []  # what each line starts with inside lists and quotes
        self.first: str | None = None  # the mark of the list item just opened
        self.at_line_start = True

    def write(self, text: str, style: str = "") -> None:
        if not text:
            return
        lines = text.split("\n")
        for n, line in enumerate(lines):
            if n:
                self._raw("\n")
                self.at_line_start = True
            if line:
                if self.at_line_start:
                    self._raw(self._lead())
                    self.at_line_start = False
                self._raw(clean(line, limit=4000), style)

    def _lead(self) -> str:
        if self.first is not None:
            lead = "".join(self.prefix[:-1]) + self.first
            self.first = None
            return lead
        return "".join(self.prefix)

    def _raw(self, text: str, style: str = "") -> None:
        if self.spans and self.spans[-1].style == style:
            self.spans[-1] = Span(self.spans[-1].text + text, style)
        else:
            self.spans.append(Span(text, style))

    def end_block(self, blank: bool) -> None:
        text = "".join(s.text for s in self.spans)
        if not text:
            return
        if not text.endswith("\n"):
            self._raw("\n")
        if blank and not text.endswith("\n\n") and not self.prefix:
            self._raw("\n")
        self.at_line_start = True

    def finish(self) -> list[Span]:
        spans = self.spans
        while spans and not spans[-1].text.strip():
            spans.pop()
        if spans:
            spans[-1] = Span(spans[-1].text.rstrip("\n"), spans[-1].style)
        return [s for s in spans if s.text]


def _blocks(tokens: list[Token], out: _Writer) -> None:
    numbers: list[int | None] = []  # per open list: the next number, None for bullets
    for i, tok in enumerate(tokens):
        kind = tok.type
        if kind == "bullet_list_open":
            numbers.append(None)
        elif kind == "ordered_list_open":
            numbers.append(int(tok.attrGet("start") or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if numbers:
                numbers.pop()
            if not numbers:
                out.end_block(blank=True)
        elif kind == "list_item_open":
            n = numbers[-1] if numbers else None
            mark = "• " if n is None else f"{n}. "
            if n is not None:
                numbers[-1] = n + 1
            out.end_block(blank=False)
            out.prefix.append(" " * len(mark))
            out.first = mark
        elif kind == "list_item_close":
            if out.prefix:
                out.prefix.pop()
        elif kind == "blockquote_open":
            out.end_block(blank=False)
            out.prefix.append("│ ")
        elif kind == "blockquote_close":
            if out.prefix:
                out.prefix.pop()
            out.end_block(blank=True)
        elif kind == "inline":
            heading = i > 0 and tokens[i - 1].type == "heading_open"
            _inline(tok, out, "bold" if heading else "")
        elif kind in ("paragraph_close", "heading_close"):
            out.end_block(blank=not tok.hidden)
        elif kind in ("fence", "code_block"):
            out.end_block(blank=False)
            out.write(tok.content.rstrip("\n"), "code")
            out.end_block(blank=True)
        elif kind == "html_block":
            out.write(tok.content.rstrip("\n"))
            out.end_block(blank=True)
        elif kind == "hr":
            out.write("───")
            out.end_block(blank=True)
        elif kind in ("th_open", "td_open"):
            if tokens[i - 1].type != "tr_open":
                out.write(" │ ")
        elif kind == "tr_close":
            out.end_block(blank=False)
        elif kind == "table_close":
            out.end_block(blank=True)


def _inline(tok: Token, out: _Writer, base: str) -> None:
    weights: dict[str, int] = {}
    links: list[str] = []

    def style(extra: str = "") -> str:
        words = [w for w in STYLES if weights.get(w) or w == extra]
        if base and base not in words:
            words.insert(0, base)
        return " ".join(words)

    for c in tok.children or []:
        kind = c.type
        if kind == "text" or kind == "html_inline":
            out.write(c.content, style())
        elif kind == "code_inline":
            out.write(c.content, style("code"))
        elif kind == "softbreak":
            out.write(" ", style())
        elif kind == "hardbreak":
            out.write("\n")
        elif kind in ("strong_open", "em_open"):
            w = "bold" if kind == "strong_open" else "italic"
            weights[w] = weights.get(w, 0) + 1
        elif kind in ("strong_close", "em_close"):
            w = "bold" if kind == "strong_close" else "italic"
            weights[w] = max(0, weights.get(w, 0) - 1)
        elif kind == "link_open":
            weights["link"] = weights.get("link", 0) + 1
            links.append(str(c.attrGet("href") or ""))
        elif kind == "link_close":
            weights["link"] = max(0, weights.get("link", 0) - 1)
            href = links.pop() if links else ""
            if href and not href.startswith("#"):
                out.write(f" <{href}>", style())
        elif kind == "image":
            out.write(c.content or "(image)", style())
