"""Label matchers in Alertmanager's own syntax, parsed strictly and matched locally.

``name="v"``, ``name=~"re"``, ``name!="v"``, ``name!~"re"``, comma-separated; a
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
        return f"{self.name}{op[self.regex, self.equal]}{quote(self.value)}"

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


def parse_matchers(text: str) -> list[Matcher]:
    """``name="v"``, ``name=~"re"``, ``name!="v"``, ``name!~"re"``, comma-separated.

    Values are double-quoted, with ``\\"``, ``\\\\`` and ``\\n`` as the only escapes.
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

    skip_space()
    if i == n:
        raise MatcherError('no matchers given (write e.g. alertname="HighErrorRate")')
    while True:
        skip_space()
        m = _LABEL_NAME.match(text, i)
        if not m:
            raise MatcherError(f"expected a label name {where()}")
        name = m.group(0)
        i = m.end()
        skip_space()
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is None:
            raise MatcherError(f"expected =, !=, =~ or !~ after {name} {where()}")
        i += len(op)
        skip_space()
        if i >= n or text[i] != '"':
            raise MatcherError(f"the value of {name} must be in double quotes {where()}")
        i += 1
        chars: list[str] = []
        while True:
            if i >= n:
                raise MatcherError(f"the value of {name} has no closing quote")
            c = text[i]
            if c == '"':
                i += 1
                break
            if c == "\\":
                nxt = text[i + 1] if i + 1 < n else ""
                if nxt not in _ESCAPES:
                    raise MatcherError(
                        f"unknown escape \\{clean(nxt, limit=1)} in the value of {name}"
                        ' (only \\" \\\\ \\n)'
                    )
                chars.append(_ESCAPES[nxt])
                i += 2
                continue
            chars.append(c)
            i += 1
        value = "".join(chars)
        regex, equal = op in ("=~", "!~"), op in ("=", "=~")
        if regex:
            if _NOT_RE2.search(value):
                raise MatcherError(
                    f"the regex of {name} uses syntax Alertmanager does not support"
                    " (lookaround, backreferences, possessive or atomic groups)"
                )
            try:
                re.compile(value)
            except re.error as exc:
                raise MatcherError(f"the regex of {name} is invalid: {exc}") from None
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
