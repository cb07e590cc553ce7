"""The ``shell`` backend's settings: the allowlist, the declared commands, a check's parameters.

A command's binary is fixed (absolute, or a bare name on PATH at start) and must be
in the allowlist; its argv templates may only use declared parameters, and free
text is never handed to a binary that gives its arguments to a shell. Secrets are
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

# Binaries that hand an argument to a shell (sh -c, or ssh's remote command line):
# a free-text placeholder there would be shell injection again, so it is refused.
SHELL_LIKE = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "busybox", "ssh"}
)
# Everything that runs code given as an argument, by the basename of any argv element
# (a version suffix allowed: python3.11, perl5.36), wherever it stands: "timeout 10 sh
# -c", "env sh -c", "sudo sh -c", "kubectl exec pod -- sh -c" are all a shell.
INTERPRETER = re.compile(
    r"^(?:sh|bash|dash|zsh|ksh|mksh|ash|fish|csh|tcsh|busybox|ssh|rsh|su|"
    r"python|pypy|perl|ruby|irb|node|nodejs|deno|bun|php|lua|luajit|tclsh|wish|expect|"
    r"[gnm]?awk|sed|osascript|pwsh|powershell|rscript|julia|jq|make|eval)"
    r"(?:[0-9][0-9.]*)?(?:\.exe)?$",
    re.IGNORECASE,
)
# Wrappers that run their arguments as a program: a template right after them (and
# their options) would choose the program.
EXEC_WRAPPERS = frozenset(
    {
        "env",
        "timeout",
        "nice",
        "ionice",
        "sudo",
        "doas",
        "stdbuf",
        "nohup",
        "setsid",
        "chroot",
        "flock",
        "xargs",
        "chrt",
        "taskset",
        "unshare",
        "nsenter",
        "runuser",
        "watch",
        "strace",
        "time",
        "exec",
        "command",
        "systemd-run",
    }
)


ALWAYS_CODE = re.compile(
    r"^(?:ssh|rsh|su|eval|busybox|[gnm]?awk|sed|jq|expect|osascript|make)(?:[0-9][0-9.]*)?$",
    re.IGNORECASE,
)
"""Interpreters whose arguments after them are always (part of) code or a command line."""
CODE_FLAGS = frozenset(
    {
        "-c",
        "-e",
        "-E",
        "--eval",
        "-r",
        "--command",
        "-command",
        "-Command",
        "-m",
        "-p",
        "--print",
        "-x",
        "/c",
    }
)
"""Flags after which an interpreter takes its next argument as code (or a module)."""


def interpreting_from(argv: list[str]) -> tuple[int, str] | None:
    """Where a template in argv would become code: (index, why), or None.

    - after ssh, su, eval, busybox, awk, sed, jq …: every argument is code or a command;
    - after a shell or an interpreter given a code flag (``sh -c``, ``python3 -c``,
      ``perl -e``, ``node --eval``, ``python -m``): everything from it on;
    - an interpreter given a script: the script's place (its arguments are data, as
      ``sys.argv`` / ``$1``);
    - right after a wrapper that runs its arguments as a program (env, timeout, sudo,
      nice, xargs …, and their options): the program's place.
    Found anywhere in argv, not only at its start ("timeout 10 sh -c", "sudo sh -c",
    "kubectl exec pod -- sh -c")."""

    def templated(item: str) -> bool:
        return "{" in item.replace("{{", "")

    for i, item in enumerate(argv):
        if templated(item):
            continue
        name = os.path.basename(item)
        if not INTERPRETER.match(name):
            continue
        if ALWAYS_CODE.match(name):
            return i, f"{name} runs its arguments as code"
        rest = argv[i + 1 :]
        if any(flag in CODE_FLAGS for flag in rest if not templated(flag)):
            return i, f"{name} is given code to run"
        for j, arg in enumerate(rest, start=i + 1):  # the script: its place is code
            if templated(arg):
                return j, f"{name} would run it as its script"
            if not arg.startswith("-"):
                break
    i = 0
    while i < len(argv) and os.path.basename(argv[i]) in EXEC_WRAPPERS:
        i += 1
        while i < len(argv) and (
            argv[i].startswith("-") or re.fullmatch(r"[0-9.]+[smhd]?|\w+=.*", argv[i])
        ):
            i += 1
        if i < len(argv) and templated(argv[i]):
            return i, f"{os.path.basename(argv[i - 1])} runs it as a program"
    return None


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
                raise ValueError(f"{name}: {source!r} is not an environment variable name")
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
        interpreting = interpreting_from(self.argv)
        for i, item in enumerate(self.argv):
            parts = P.parse(item)
            P.check_refs(f"argv[{i}] {item!r}", parts, self.params)
            refs = list(P.names(parts))
            if interpreting is not None and refs and i >= interpreting[0]:
                # Whatever its kind: a value that reaches an interpreter is code.
                raise ValueError(
                    f"argv[{i}]: {{{refs[0]}}} would reach an interpreter "
                    f"(argv[{interpreting[0]}]: {interpreting[1]}); pass values only to "
                    "programs that take them as data, never through a shell or interpreter"
                )
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
