"""Typed parameters declared in config, and the ``{param}`` templates that use them.

The ``shell`` backend (argv items) and the ``http`` backend's webhooks (JSON string
leaves, URL paths) share one declaration, :class:`ParamDecl`, and one template
grammar:

- ``{name}`` is a placeholder for the parameter ``name`` (letters, digits, ``_``);
- ``{{`` and ``}}`` are a literal ``{`` and ``}`` (e.g. ``--format={{.Name}}``);
- any other brace is an error, found when config is loaded.

A template is parsed once into literal parts and placeholders; a value is only
ever placed into one part, so it can never become syntax (another argv item,
another JSON key, another URL segment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Strict
from oncall_console.model import ParamSpec
from oncall_console.model.actions import DNS_1123, DNS_SUBDOMAIN, IDENTIFIER
from oncall_console.model.params import MAX_TEXT

ParamKind = Literal["name", "subdomain", "identifier", "int", "str", "text", "choice", "bool"]
Value = str | int | bool

PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PLACEHOLDER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Values from config (check parameters, defaults) are checked here before any request
# reaches the runner, with the same longest text as the runner's validate_param.


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Ref:
    """A ``{name}`` placeholder in a parsed template."""

    name: str


Part = str | Ref


def parse(template: str) -> tuple[Part, ...]:
    """Split a template into literal strings and :class:`Ref` placeholders."""
    parts: list[Part] = []
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c == "{" and template.startswith("{{", i):
            literal.append("{")
            i += 2
        elif c == "}" and template.startswith("}}", i):
            literal.append("}")
            i += 2
        elif c == "{":
            end = template.find("}", i + 1)
            if end < 0:
                raise TemplateError(
                    f"unbalanced '{{' at position {i} (write '{{{{' for a literal brace)"
                )
            inner = template[i + 1 : end]
            if not inner:
                raise TemplateError(f"empty placeholder '{{}}' at position {i}")
            if not _PLACEHOLDER.fullmatch(inner):
                raise TemplateError(
                    f"'{{{inner}}}' at position {i} is not a placeholder: a placeholder is "
                    "a parameter name (letters, digits, '_'); write '{{' and '}}' for literal braces"
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Ref(inner))
            i = end + 1
        elif c == "}":
            raise TemplateError(
                f"unbalanced '}}' at position {i} (write '}}}}' for a literal brace)"
            )
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def names(parts: Iterable[Part]) -> list[str]:
    return [p.name for p in parts if isinstance(p, Ref)]


def exact(parts: tuple[Part, ...]) -> str | None:
    """The parameter's name when the template is exactly one placeholder, e.g. ``"{n}"``."""
    if len(parts) == 1 and isinstance(parts[0], Ref):
        return parts[0].name
    return None


def text_of(value: Value) -> str:
    """How a typed value reads inside a string: ints as digits, bools as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(parts: tuple[Part, ...], values: Mapping[str, Value], quote: Any = None) -> str:
    """Join the parts, each placeholder replaced by its value's text (``quote``d if given)."""
    out = []
    for p in parts:
        if isinstance(p, Ref):
            text = text_of(values[p.name])
            out.append(quote(text) if quote is not None else text)
        else:
            out.append(p)
    return "".join(out)


class ParamDecl(Strict):
    """One typed parameter of a configured action (a shell command or a webhook)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: ParamKind
    """name (DNS-1123 label), subdomain (DNS-1123 with dots), identifier (SQL-style),
    int, str (free text, one line), text (free text, several lines: a message), choice (one of ``choices``) or bool."""
    help: str = ""
    """Shown next to the field when a person fills it in."""
    required: bool = True
    """A required parameter with no default must be given."""
    default: Value | None = None
    """Used when the parameter is not given; checked against the kind."""
    minimum: int | None = None
    """Smallest allowed value (int only)."""
    maximum: int | None = None
    """Largest allowed value (int only)."""
    choices: list[str] = Field(default_factory=list)
    """The allowed values (choice only)."""

    @field_validator("choices")
    @classmethod
    def _choices(cls, choices: list[str]) -> list[str]:
        if len(set(choices)) != len(choices):
            raise ValueError("choices must not repeat")
        return choices

    @model_validator(mode="after")
    def _consistent(self) -> ParamDecl:
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice parameter needs choices")
        if self.kind != "choice" and self.choices:
            raise ValueError(f"choices are for kind 'choice', not {self.kind!r}")
        if self.kind != "int" and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"minimum and maximum are for kind 'int', not {self.kind!r}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum must not exceed maximum")
        if self.default is not None:
            check_value("default", self, self.default)
        return self

    def spec(self, name: str) -> ParamSpec:
        return ParamSpec(
            name=name,
            kind=self.kind,
            help=self.help,
            required=self.required,
            default=self.default,
            minimum=self.minimum,
            maximum=self.maximum,
            choices=tuple(self.choices),
        )


def check_value(name: str, decl: ParamDecl, value: Any) -> Value:
    """The typed value, or ValueError naming the parameter.

    The runner has validated a request's values already; this checks them again where
    they are used, and checks values that come from config (defaults, check parameters).
    Free text may hold any character here: it is one argv item or one JSON string,
    never syntax. The runner refuses control characters in what a person types.
    """
    kind = decl.kind
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"{name}: expected a whole number")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(f"{name}: expected a whole number") from None
        if not isinstance(value, int):
            raise ValueError(f"{name}: expected a whole number")
        if decl.minimum is not None and value < decl.minimum:
            raise ValueError(f"{name}: must be at least {decl.minimum}")
        if decl.maximum is not None and value > decl.maximum:
            raise ValueError(f"{name}: must be at most {decl.maximum}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected text")
    if kind == "name" and not DNS_1123.match(value):
        raise ValueError(f"{name}: not a valid name (lowercase letters, digits and '-')")
    if kind == "subdomain" and not DNS_SUBDOMAIN.match(value):
        raise ValueError(f"{name}: not a valid name (lowercase letters, digits, '-' and '.')")
    if kind == "identifier" and not IDENTIFIER.match(value):
        raise ValueError(f"{name}: not a valid identifier")
    if kind == "choice" and value not in decl.choices:
        raise ValueError(f"{name}: must be one of {', '.join(decl.choices)}")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{name}: too long (at most {MAX_TEXT} characters)")
    return value


def check_refs(where: str, parts: tuple[Part, ...], params: Mapping[str, ParamDecl]) -> None:
    """Every placeholder names a declared parameter that always has a value."""
    for ref in names(parts):
        decl = params.get(ref)
        if decl is None:
            known = ", ".join(params) or "none declared"
            raise ValueError(f"{where}: unknown placeholder {{{ref}}} (parameters: {known})")
        if not decl.required and decl.default is None:
            raise ValueError(
                f"{where}: placeholder {{{ref}}} needs a value: make {ref} required "
                "or give it a default"
            )
