"""Label matchers in Alertmanager's own syntax, parsed strictly and matched locally.

``name="v"``, ``name=~"re"``, ``name!="v"``, ``name!~"re"``, comma-separated, in
optional braces (``{a="b"}``, as amtool takes them). A label name may be any UTF-8
text as Alertmanager 0.27+ allows: bare when it has no space or operator character
(``Σ="c"``), else double-quoted (``"service name"="api"``); one that is not a classic
name is written back quoted, as Alertmanager's UTF-8 matchers write it. A
regex is anchored at both ends as Alertmanager anchors it, and syntax that Python
accepts but Alertmanager's RE2 refuses is refused here too. A silence's preview
matches the alerts firing now with these, so what it shows is what it will mute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from oncall_console.text import clean

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A bare UTF-8 name: anything but space, quotes, braces, operators, comma, backslash.
_BARE_NAME = re.compile(r"[^\s{}!=~,\\\"'`]+")
_OPS = ("=~", "!~", "!=", "=")  # longest first
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}
# Perl syntax that Python accepts but Alertmanager's RE2 refuses.
_NOT_RE2 = re.compile(r"\(\?(?:=|!|<=|<!|P=|\(|>)|\\[1-9]|(?<!\\)[*+?}]\+")


class MatcherError(ValueError):
    """The matcher text is not in Alertmanager's syntax; the message says where."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    value: str
    regex: bool
    equal: bool

    def render(self) -> str:
        op = {(False, True): "=", (True, True): "=~", (False, False): "!=", (True, False): "!~"}
        return f"{render_name(self.name)}{op[self.regex, self.equal]}{quote(self.value)}"

    def matches_value(self, value: str) -> bool:
        # Anchored at both ends like Alertmanager's "^(?:re)$"; "." skips newlines, as in RE2.
        hit = re.fullmatch(self.value, value) is not None if self.regex else value == self.value
        return hit if self.equal else not hit

    def matches(self, labels: dict[str, str]) -> bool:
        # A missing label is the empty string, as in Alertmanager.
        return self.matches_value(labels.get(self.name, ""))

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.regex,
            "isEqual": self.equal,
        }


def quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render_name(name: str) -> str:
    """A classic label name as it is; any other (UTF-8, spaces) in double quotes."""
    return name if _LABEL_NAME.fullmatch(name) else quote(name)


def parse_matchers(text: str) -> list[Matcher]:
    """``name="v"``, ``name=~"re"``, ``name!="v"``, ``name!~"re"``, comma-separated.

    Values (and names that need it) are double-quoted, with ``\\"``, ``\\\\`` and
    ``\\n`` as the only escapes.
    Raises MatcherError naming the position and what was expected.
    """
    matchers: list[Matcher] = []
    i, n = 0, len(text)

    def skip_space() -> None:
        nonlocal i
        while i < n and text[i] in " \t":
            i += 1

    def where() -> str:
        rest = text[i : i + 20]
        return f"at position {i + 1} ({clean(rest, limit=20)!r})" if rest else "at the end"

    def quoted(what: str) -> str:
        """The double-quoted string at ``i`` (its quotes and escapes taken off)."""
        nonlocal i
        i += 1
        chars: list[str] = []
        while True:
            if i >= n:
                raise MatcherError(f"{what} has no closing quote")
            c = text[i]
            if c == '"':
                i += 1
                return "".join(chars)
            if c == "\\":
                nxt = text[i + 1] if i + 1 < n else ""
                if nxt not in _ESCAPES:
                    raise MatcherError(
                        f'unknown escape \\{clean(nxt, limit=1)} in {what} (only \\" \\\\ \\n)'
                    )
                chars.append(_ESCAPES[nxt])
                i += 2
                continue
            chars.append(c)
            i += 1

    skip_space()
    braced = text.startswith("{", i) and text.rstrip(" \t").endswith("}")
    if braced:  # {a="b", c="d"}, as amtool and Alertmanager's UI write a silence
        i += 1
        n = len(text.rstrip(" \t")) - 1
        skip_space()
    if i == n:
        raise MatcherError('no matchers given (write e.g. alertname="HighErrorRate")')
    while True:
        skip_space()
        if i < n and text[i] == '"':
            name = quoted("a quoted label name")
            if not name:
                raise MatcherError(f"a label name must not be empty {where()}")
        else:
            m = _BARE_NAME.match(text, i, n)
            if not m:
                raise MatcherError(f"expected a label name {where()}")
            name = m.group(0)
            i = m.end()
        if not name.isprintable():
            raise MatcherError(f"a label name must be printable text {where()}")
        shown = clean(render_name(name), limit=60)
        skip_space()
        op = next((o for o in _OPS if text.startswith(o, i, n)), None)
        if op is None:
            raise MatcherError(f"expected =, !=, =~ or !~ after {shown} {where()}")
        i += len(op)
        skip_space()
        if i >= n or text[i] != '"':
            raise MatcherError(f"the value of {shown} must be in double quotes {where()}")
        value = quoted(f"the value of {shown}")
        regex, equal = op in ("=~", "!~"), op in ("=", "=~")
        if regex:
            if _NOT_RE2.search(value):
                raise MatcherError(
                    f"the regex of {shown} uses syntax Alertmanager does not support"
                    " (lookaround, backreferences, possessive or atomic groups)"
                )
            try:
                re.compile(value)
            except re.error as exc:
                raise MatcherError(f"the regex of {shown} is invalid: {exc}") from None
        matchers.append(Matcher(name, value, regex, equal))
        skip_space()
        if i == n:
            break
        if text[i] != ",":
            raise MatcherError(f"expected a comma between matchers {where()}")
        i += 1
        skip_space()
        if i == n:
            raise MatcherError("a comma must be followed by another matcher")
    if all(m.matches_value("") for m in matchers):
        raise MatcherError(
            "at least one matcher must not match the empty string"
            " (otherwise the silence would mute every alert)"
        )
    return matchers
