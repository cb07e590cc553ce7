"""The ``shell`` backend's settings: the allowlist, the declared commands, a check's parameters.

A command's binary is fixed (absolute, or a bare name on PATH at start) and must be
in the allowlist; its argv templates may only use declared parameters, and no
templated value, whatever its kind, reaches a shell or an interpreter, nor chooses the
program a wrapper runs (:mod:`.interpreters`). Secrets are
passed by reference (``env_from``), never written in ``env``.
"""

from __future__ import annotations

import os
import re

from pydantic import ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Strict
from oncall_console.backends.shared import declared
from oncall_console.backends.shared import params as P
from oncall_console.backends.shared.params import ParamDecl, Value
from oncall_console.backends.shell.interpreters import interpreting_from

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRETISH = re.compile(r"password|passwd|token|secret|api_?key|credential", re.IGNORECASE)


def _binary_ok(path: str) -> bool:
    return os.path.isabs(path) or "/" not in path


class CommandSpec(Strict):
    """One command: a binary from the allowlist and argv templates."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    argv: list[str] = Field(min_length=1)
    """The binary (absolute, or a bare name found on PATH at start) and its arguments;
    an argument may hold ``{param}`` placeholders, each filled with exactly one value."""
    title: str = ""
    """What the action does, in a few words (default: the argv)."""
    params: dict[str, ParamDecl] = Field(default_factory=dict)
    """Typed parameters: ``{ namespace = { kind = "name" } }``."""
    target: str | None = None
    """The parameter that names what is changed (locks and confirmation use it);
    required when there are parameters."""
    dangerous: bool = False
    """The person types the target's name to confirm."""
    timeout: float = Field(default=60.0, gt=0, le=3600)
    """Seconds before the command and everything it started are killed."""
    cwd: str | None = None
    """Absolute working directory (default: the console's)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Plain environment variables for the command (no secrets: see env_from)."""
    env_from: dict[str, str] = Field(default_factory=dict)
    """VAR = "CONSOLE_VAR": pass the console's variable through; its value is never shown."""
    allowed_exit_codes: list[int] = Field(default_factory=lambda: [0])
    """Exit codes that mean success."""
    read_only: bool = False
    """A diagnostic that changes nothing (its action is declared read-only); it may back a
    health check."""

    @field_validator("argv")
    @classmethod
    def _argv(cls, argv: list[str]) -> list[str]:
        binary = argv[0]
        if not binary or "{" in binary or "}" in binary:
            raise ValueError(f"argv[0] {binary!r}: the binary is fixed, it takes no placeholder")
        if not _binary_ok(binary):
            raise ValueError(
                f"argv[0] {binary!r}: give an absolute path or a bare name found on PATH"
            )
        for i, item in enumerate(argv):
            if "\x00" in item:
                raise ValueError(f"argv[{i}]: NUL characters cannot be passed")
            try:
                P.parse(item)
            except P.TemplateError as exc:
                raise ValueError(f"argv[{i}] {item!r}: {exc}") from None
        # Whatever the parameter's kind: a value that reaches an interpreter is code.
        if (found := interpreting_from(argv)) is not None:
            at, why = found
            for i, item in enumerate(argv[at:], start=at):
                if refs := P.names(P.parse(item)):
                    raise ValueError(
                        f"argv[{i}]: {{{refs[0]}}} would reach an interpreter or choose the "
                        f"program (argv[{at}]: {why}); pass values only to programs that "
                        "take them as data, never through a shell or interpreter"
                    )
        return argv

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, cwd: str | None) -> str | None:
        if cwd is not None and not os.path.isabs(cwd):
            raise ValueError("cwd must be an absolute path")
        return cwd

    @field_validator("env", "env_from")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return env

    @field_validator("env")
    @classmethod
    def _no_inline_secret(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if "\x00" in value:
                raise ValueError(f"{name}: NUL characters cannot be passed")
            if _SECRETISH.search(name):
                raise ValueError(
                    f"{name} looks like a secret: pass it by reference, "
                    f'env_from = {{ {name} = "CONSOLE_VAR" }}'
                )
        return env

    @field_validator("env_from")
    @classmethod
    def _env_from(cls, env_from: dict[str, str]) -> dict[str, str]:
        for name, source in env_from.items():
            if not _ENV_NAME.match(source):
                # Not echoed: a secret pasted where its variable's name belongs.
                raise ValueError(
                    f"env_from.{name} must name an environment variable (letters, digits, _); "
                    "the value is not shown: if a secret was pasted here, rotate it"
                )
        return env_from

    @field_validator("allowed_exit_codes")
    @classmethod
    def _codes(cls, codes: list[int]) -> list[int]:
        if not codes or any(not 0 <= c <= 255 for c in codes):
            raise ValueError("exit codes are between 0 and 255 (at least one)")
        return codes

    @model_validator(mode="after")
    def _consistent(self) -> CommandSpec:
        declared.check_declarations(self.params, self.target)
        both = sorted(set(self.env) & set(self.env_from))
        if both:
            raise ValueError(f"{both[0]} is set in both env and env_from")
        for i, item in enumerate(self.argv):
            P.check_refs(f"argv[{i}] {item!r}", P.parse(item), self.params)
        return self


class ShellOptions(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    allowlist: list[str] = Field(min_length=1)
    """Binaries that may be run: absolute paths, or bare names resolved on PATH at start."""
    commands: dict[str, CommandSpec]
    """The actions, by id (lowercase letters, digits and '-')."""
    max_output_bytes: int = Field(default=65_536, ge=1024, le=16 * 1024 * 1024)
    """Bytes kept of each of stdout and stderr; the rest is read and dropped."""

    @field_validator("allowlist")
    @classmethod
    def _allowlist(cls, allowlist: list[str]) -> list[str]:
        for entry in allowlist:
            if not entry or not _binary_ok(entry):
                raise ValueError(f"{entry!r}: give an absolute path or a bare name")
        return allowlist

    @field_validator("commands")
    @classmethod
    def _ids(cls, commands: dict[str, CommandSpec]) -> dict[str, CommandSpec]:
        return declared.check_ids("command", commands)

    @model_validator(mode="after")
    def _allowed(self) -> ShellOptions:
        allowed = set(self.allowlist)
        for key, cmd in self.commands.items():
            binary = cmd.argv[0]
            if binary not in allowed:
                raise ValueError(
                    f"commands.{key}: binary {binary!r} is not in the allowlist "
                    f"({', '.join(self.allowlist)})"
                )
        return self


class ShellCheckParams(Strict):
    model_config = ConfigDict(use_attribute_docstrings=True)

    command: str
    """Id of a read_only command of this backend."""
    params: dict[str, Value] = Field(default_factory=dict)
    """Values for the command's parameters."""
    warning_codes: list[int] = Field(default_factory=list)
    """Exit codes that mean DEGRADED rather than DOWN (exit 0 is OK)."""

    @field_validator("warning_codes")
    @classmethod
    def _codes(cls, codes: list[int]) -> list[int]:
        if any(not 1 <= c <= 255 for c in codes):
            raise ValueError("warning codes are between 1 and 255 (0 is OK)")
        return codes
