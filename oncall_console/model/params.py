"""Parameter validation: the one policy a request's values pass before anything runs.

Pure (no IO): a :class:`~oncall_console.model.ParamSpec` and a value in, the typed value
or :class:`ActionRefused` out. The action runner (``engine/actions.py``) applies it to
every request, and the runbook linter (``runbooks/lint.py``) to the parameters an
action block carries, so both refuse the same values with the same words.
"""

from __future__ import annotations

from typing import Any

from oncall_console.model.actions import DNS_1123, DNS_SUBDOMAIN, IDENTIFIER, ParamSpec
from oncall_console.text import clean

# The longest ``text`` value (a status message); backends/shared/params.py uses it too.
MAX_TEXT = 4096


class ActionRefused(Exception):
    """The request cannot go ahead; the message says why, in one line.

    ``param`` names the parameter at fault when one is (set by :func:`validate_param`),
    so a form can show the message beside that field; "" otherwise.
    """

    def __init__(self, message: str = "", param: str = "") -> None:
        super().__init__(message)
        self.param = param


def validate_param(spec: ParamSpec, value: Any) -> Any:
    """Return the typed value or raise ActionRefused naming the parameter."""
    name = spec.name
    if value is None or value == "":
        if spec.required and spec.default is None:
            raise ActionRefused(f"{name}: required", param=name)
        value = spec.default
        if value is None:
            return None
    if spec.kind == "int":
        if isinstance(value, bool):
            raise ActionRefused(f"{name}: expected a whole number", param=name)
        try:
            n = int(str(value).strip())
        except ValueError:
            raise ActionRefused(
                f"{name}: expected a whole number, got {clean(value, limit=40)!r}",
                param=name,
            ) from None
        if spec.minimum is not None and n < spec.minimum:
            raise ActionRefused(f"{name}: must be at least {spec.minimum}", param=name)
        if spec.maximum is not None and n > spec.maximum:
            raise ActionRefused(f"{name}: must be at most {spec.maximum}", param=name)
        return n
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1"):
            return True
        if text in ("false", "no", "n", "0"):
            return False
        raise ActionRefused(f"{name}: expected true or false", param=name)
    text = str(value)
    if spec.kind == "name":
        if not DNS_1123.match(text):
            raise ActionRefused(
                f"{name}: {clean(text, limit=60)!r} is not a valid name "
                "(lowercase letters, digits and '-', at most 63)",
                param=name,
            )
        return text
    if spec.kind == "subdomain":
        if not DNS_SUBDOMAIN.match(text):
            raise ActionRefused(
                f"{name}: {clean(text, limit=60)!r} is not a valid name "
                "(lowercase letters, digits, '-' and '.', at most 253)",
                param=name,
            )
        return text
    if spec.kind == "identifier":
        if not IDENTIFIER.match(text):
            raise ActionRefused(
                f"{name}: {clean(text, limit=60)!r} is not a valid identifier", param=name
            )
        return text
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ActionRefused(f"{name}: must be one of {', '.join(spec.choices)}", param=name)
        return text
    if spec.kind == "text":  # several lines (a status message): newlines, no other controls
        text = text.replace("\r\n", "\n")
        if clean(text, limit=MAX_TEXT + 1, single_line=False) != text.replace("\t", "    "):
            raise ActionRefused(f"{name}: control characters are not allowed", param=name)
        if len(text) > MAX_TEXT:
            raise ActionRefused(f"{name}: too long (at most {MAX_TEXT} characters)", param=name)
        return text
    if clean(text, limit=10_000) != text:
        raise ActionRefused(f"{name}: control characters are not allowed", param=name)
    if len(text) > 500:
        raise ActionRefused(f"{name}: too long (at most 500 characters)", param=name)
    return text
