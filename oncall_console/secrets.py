"""Secrets by reference: an environment variable or a file, never a config value.

A secret ``X`` is referenced by a pair of settings, ``X_env`` (the name of an
environment variable) and ``X_file`` (a path); at most one of them is set. Two
functions cover every such pair in the console (backends, the store, the bus):

- :func:`one_source_each`, a pydantic after-validator: setting both halves of a
  pair is an error when config is loaded, with the same words everywhere;
- :func:`resolve`, at connect time: the value, or :class:`SecretMissing` whose
  message names the reference, never the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What an environment variable's name looks like (a pasted secret does not, mostly)."""

M = TypeVar("M")


class SecretMissing(Exception):
    """The reference names nothing usable; the message names the reference only."""


def both_set(what: str) -> str:
    return f"set {what}_env or {what}_file, not both"


def one_source_each(model: M) -> M:
    """Pydantic after-validator: every secret of the model is referenced at most one way.

    A secret is any pair of fields ``X_env`` and ``X_file``; setting both is a
    ValueError ("set X_env or X_file, not both"). Attach it to a model with

        _one_source = model_validator(mode="after")(one_source_each)

    or call it from the model's own after-validator.
    """
    fields: dict[str, Any] = type(model).model_fields  # type: ignore[attr-defined]
    for name in fields:
        what = name.removesuffix("_env")
        file = f"{what}_file"
        value = getattr(model, name) if what != name else None
        if isinstance(value, str) and value and not ENV_NAME.match(value):
            # Not echoed: a secret pasted where its variable's name belongs.
            raise ValueError(
                f"{name} must name an environment variable (letters, digits, _); the value "
                "is not shown: if a secret was pasted here, rotate it"
            )
        if what != name and file in fields and getattr(model, name) and getattr(model, file):
            raise ValueError(both_set(what))
    return model


def resolve(what: str, env: str | None, file: str | None, *, required: bool = False) -> str | None:
    """The secret's value, or None when neither reference is set and it is optional."""
    if env and file:
        raise SecretMissing(f"{what}: {both_set(what)}")
    if env:
        if not ENV_NAME.match(env):
            raise SecretMissing(f"{what}: {what}_env is not a variable name (not shown)")
        value = os.environ.get(env, "").strip()
        if not value:
            raise SecretMissing(f"{what}: environment variable {env} is not set")
        return value
    if file:
        try:
            value = Path(file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretMissing(f"{what}: cannot read {file}: {exc.strerror}") from None
        if not value:
            raise SecretMissing(f"{what}: file {file} is empty")
        return value
    if required:
        raise SecretMissing(f"{what}: set {what}_env or {what}_file")
    return None


def reference(env: str | None, file: str | None) -> str:
    """Where a secret comes from, for messages: ``$VAR`` or the file's path."""
    return f"${env}" if env else str(file or "")


CREDENTIAL = re.compile(
    r"(?i)(\b(?:bearer|basic|token|bot)\s+|"
    r"\b(?:authorization|x-api-key|api[_-]?key|access[_-]?token|password|passwd|secret)"
    r"\s*[:=]\s*(?:bearer\s+|basic\s+)?(?=[A-Za-z]*[0-9._~+/=-]))"
    r"([A-Za-z0-9._~+/\-]{8,}=*)"
)
"""A credential as remote text echoes it: ``Bearer s3cr3t…``, ``token=…``,
``Authorization: …``, ``password: …`` (the value part; eight characters or more, and
after a ``key:`` with a digit or a symbol in it, so "password: environment variable X
is not set", our own words, stays)."""


_CREDENTIAL_WORDS = ("bearer", "basic", "token", "bot", "authorization", "api", "passw", "secret")
"""What every CREDENTIAL match holds, lower-cased (api: x-api-key, api_key; token: access_token)."""


def needs_redaction(texts: list[str], secrets: tuple[str, ...]) -> bool:
    """Whether ``redact`` would change any of ``texts``: one search over them joined by
    NUL, which no part of CREDENTIAL matches (so no match spans two texts and each
    text's edges are word boundaries, as alone), and a substring test per secret (one
    holding a NUL is not tested that way: always True). Most results hold nothing to
    redact; this spares them a regex pass per line and the rebuilt result."""
    joined = "\x00".join(texts)
    for s in secrets:
        if s and ("\x00" in s or s in joined):
            return True
    if joined.isascii():
        # ASCII folds to ASCII only: without one of the words CREDENTIAL starts with
        # (lower-cased), it cannot match. Outside ASCII, case folding has its own ideas
        # (the Kelvin sign is a k, the long s an s): the regex decides.
        lower = joined.lower()
        if not any(word in lower for word in _CREDENTIAL_WORDS):
            return False
    return CREDENTIAL.search(joined) is not None


def redact(text: str, *secrets: str | None) -> str:
    """Belt and braces: a known secret's value, and anything that reads as a credential
    (a bearer token a health endpoint echoes back), never shown."""
    for s in secrets:
        if s:
            text = text.replace(s, "[redacted]")
    return CREDENTIAL.sub(lambda m: m.group(1) + "[redacted]", text)
