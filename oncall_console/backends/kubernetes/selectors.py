"""Kubernetes label selectors, parsed and matched here: no IO, no server-side selectors.

The backend lists objects without server-side selectors and filters them here, so a
selector means the same against a cluster and against a test double: kubectl's
syntax (``app=web,tier in (a,b),!canary``) and a workload's ``matchLabels`` /
``matchExpressions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oncall_console.backends.kubernetes.objects import DNS_1123_SUBDOMAIN

# --- label selectors ------------------------------------------------------------------------

_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$")
_SPECIAL = "=!(),<>"
_SET_OPS = {"in": "in", "notin": "notin"}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a label selector: ``key op values``."""

    key: str
    op: str
    """One of ``=``, ``!=``, ``in``, ``notin``, ``exists``, ``!`` (does not exist), ``gt``, ``lt``."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            try:
                have, want = int(str(value)), int(self.values[0])
            except (TypeError, ValueError):
                return False
            return have > want if self.op == "gt" else have < want
        raise ValueError(f"unknown selector operator {self.op!r}")  # pragma: no cover

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        if self.op in ("gt", "lt"):
            return f"{self.key}{'>' if self.op == 'gt' else '<'}{self.values[0]}"
        return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class Selector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False
    """A missing ``spec.selector`` selects no pods, as the API server treats it."""

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.matches_nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        if self.matches_nothing:
            return "<none>"
        return ",".join(str(r) for r in self.requirements)


class SelectorError(ValueError):
    """A label selector that cannot be parsed; the message quotes it and says where."""


def _tokens(text: str) -> list[tuple[str, int]]:
    """Split into identifiers and operator tokens, each with its position."""
    out: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            out.append((text[i : i + 2], i))
            i += 2
        elif c in _SPECIAL:
            out.append((c, i))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            out.append((text[start:i], start))
    return out


def _check_key(key: str, text: str, pos: int) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (prefix and DNS_1123_SUBDOMAIN.match(prefix)):
        raise SelectorError(
            f"invalid label selector {text!r}: key {key!r} at position {pos + 1} "
            "has an invalid prefix (a DNS subdomain before '/')"
        )
    if not _LABEL_NAME.match(name):
        raise SelectorError(
            f"invalid label selector {text!r}: {key!r} at position {pos + 1} is not a valid "
            "label key (letters, digits, '-', '_', '.'; at most 63; optional 'prefix/')"
        )


def _check_value(value: str, text: str, pos: int) -> None:
    if not _LABEL_VALUE.match(value):
        raise SelectorError(
            f"invalid label selector {text!r}: {value!r} at position {pos + 1} is not a valid "
            "label value (letters, digits, '-', '_', '.'; at most 63)"
        )


def parse_selector(text: str) -> Selector:
    """Parse kubectl's label selector syntax: ``app=api,tier!=cache,env in (a,b),!legacy,team``.

    Raises :class:`SelectorError` (a ValueError) naming the selector and the position.
    """
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def fail(msg: str, at: int | None = None) -> SelectorError:
        where = f" at position {at + 1}" if at is not None else " at the end"
        return SelectorError(f"invalid label selector {text!r}: {msg}{where}")

    def peek(k: int = 0) -> tuple[str, int] | None:
        return toks[i + k] if i + k < len(toks) else None

    def is_ident(tok: tuple[str, int] | None) -> bool:
        return tok is not None and tok[0] not in ("==", "!=") and tok[0] not in _SPECIAL

    if not toks:
        return Selector()
    while True:
        tok = peek()
        if tok is None:
            raise fail("expected a requirement after ','")
        if tok[0] == "!":
            key_tok = peek(1)
            if not is_ident(key_tok):
                raise fail("expected a label key after '!'", key_tok[1] if key_tok else None)
            assert key_tok is not None
            _check_key(key_tok[0], text, key_tok[1])
            reqs.append(Requirement(key_tok[0], "!"))
            i += 2
        elif is_ident(tok):
            key, key_pos = tok
            _check_key(key, text, key_pos)
            i += 1
            op_tok = peek()
            if op_tok is None or op_tok[0] == ",":
                reqs.append(Requirement(key, "exists"))
            elif op_tok[0] in ("=", "==", "!="):
                i += 1
                val_tok = peek()
                if is_ident(val_tok):
                    assert val_tok is not None
                    _check_value(val_tok[0], text, val_tok[1])
                    value = val_tok[0]
                    i += 1
                elif val_tok is None or val_tok[0] == ",":
                    value = ""  # "app=" selects the empty value, as in Kubernetes
                else:
                    raise fail(f"expected a value after {op_tok[0]!r}", val_tok[1])
                reqs.append(Requirement(key, "!=" if op_tok[0] == "!=" else "=", (value,)))
            elif op_tok[0] in ("<", ">"):
                i += 1
                val_tok = peek()
                if not is_ident(val_tok) or not re.fullmatch(
                    r"-?\d+", val_tok[0] if val_tok else ""
                ):
                    raise fail(
                        f"expected a whole number after {op_tok[0]!r}",
                        val_tok[1] if val_tok else None,
                    )
                assert val_tok is not None
                reqs.append(Requirement(key, "gt" if op_tok[0] == ">" else "lt", (val_tok[0],)))
                i += 1
            elif is_ident(op_tok) and op_tok[0] in _SET_OPS:
                i += 1
                op = _SET_OPS[op_tok[0]]
                paren = peek()
                if paren is None or paren[0] != "(":
                    raise fail(f"expected '(' after {op!r}", paren[1] if paren else None)
                i += 1
                values: list[str] = []
                while True:
                    val_tok = peek()
                    if is_ident(val_tok):
                        assert val_tok is not None
                        _check_value(val_tok[0], text, val_tok[1])
                        values.append(val_tok[0])
                        i += 1
                        val_tok = peek()
                    if val_tok is None:
                        raise fail("expected ')' to close the value list")
                    if val_tok[0] == ")":
                        i += 1
                        break
                    if val_tok[0] != ",":
                        raise fail(f"unexpected {val_tok[0]!r} in the value list", val_tok[1])
                    if not values or not is_ident(peek(1)):
                        nxt = peek(1)
                        raise fail("expected a value in the list", nxt[1] if nxt else None)
                    i += 1
                if not values:
                    raise fail(f"{op!r} needs at least one value", paren[1])
                reqs.append(Requirement(key, op, tuple(dict.fromkeys(values))))
            else:
                raise fail(
                    f"expected an operator (=, ==, !=, in, notin, <, >) or ',' after {key!r}",
                    op_tok[1],
                )
        else:
            raise fail(f"unexpected {tok[0]!r}", tok[1])
        tok = peek()
        if tok is None:
            break
        if tok[0] != ",":
            raise fail(f"expected ',' between requirements, found {tok[0]!r}", tok[1])
        i += 1
    return Selector(tuple(reqs))


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_from_spec(spec: Mapping[str, Any] | None) -> Selector:
    """The selector of a ``metav1.LabelSelector`` (``matchLabels`` + ``matchExpressions``).

    A missing selector matches nothing; an empty one ``{}`` matches everything, as in
    the API server. An unknown operator makes the selector match nothing (never too much).
    """
    if spec is None or not isinstance(spec, Mapping):
        return Selector(matches_nothing=True)
    reqs: list[Requirement] = []
    for key, value in sorted((spec.get("matchLabels") or {}).items()):
        reqs.append(Requirement(str(key), "=", (str(value),)))
    for expr in spec.get("matchExpressions") or []:
        op = _EXPRESSION_OPS.get(str(expr.get("operator", "")))
        if op is None or not expr.get("key"):
            return Selector(matches_nothing=True)
        values = tuple(str(v) for v in expr.get("values") or ())
        if op in ("in", "notin") and not values:
            return Selector(matches_nothing=True)
        reqs.append(Requirement(str(expr["key"]), op, values if op in ("in", "notin") else ()))
    return Selector(tuple(reqs))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
