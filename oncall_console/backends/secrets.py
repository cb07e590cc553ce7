"""Secrets by reference: an environment variable or a file, never a config value.

Every backend resolves its secrets here, so the messages are the same everywhere
and never contain the value.
"""

from __future__ import annotations

import os
from pathlib import Path


class SecretMissing(Exception):
    """The reference names nothing usable; the message names the reference only."""


def resolve(what: str, env: str | None, file: str | None, *, required: bool = False) -> str | None:
    """The secret's value, or None when neither reference is set and it is optional."""
    if env and file:
        raise SecretMissing(f"{what}: set {what}_env or {what}_file, not both")
    if env:
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


def redact(text: str, *secrets: str | None) -> str:
    """Belt and braces: a library error that quotes a secret must not show it."""
    for s in secrets:
        if s:
            text = text.replace(s, "[redacted]")
    return text
