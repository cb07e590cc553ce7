"""The ``shell`` backend: commands declared in config, run as argv lists, never by a shell.

Each ``[backends.NAME.commands.ID]`` is one action: a fixed binary from the
backend's ``allowlist`` and argv templates whose ``{param}`` placeholders are
filled from typed parameters. A value always becomes part of exactly one argv
item, whatever it contains (spaces, quotes, ``;``, ``$(...)``, ``*``, newlines):
no shell ever parses it, nothing is split or globbed. A value that would stand
alone as an item and starts with ``-`` is refused, since the binary would read
it as an option.

A run gets a clean environment (``PATH``, ``LANG=C.UTF-8``, the command's
``env``, and ``env_from`` variables passed through from the console by name),
no stdin, its own session and process group, capped output and a timeout after
which the whole group is killed. When the command itself exits, anything it
left running in its group is killed too, so nothing outlives the action.

A ``read_only`` command (a diagnostic) may also back a health check: exit 0 is
OK, ``warning_codes`` are DEGRADED, anything else is DOWN, and the first line of
output is the summary (``pg_isready``, ``systemctl is-active``, a probe script).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oncall_console.backends.base import Backend, BackendContext, Capability, Strict
from oncall_console.backends.shared import declared
from oncall_console.backends.shared import params as P
from oncall_console.backends.shared.params import ParamDecl, Value
from oncall_console.model import (
    ActionInvalid,
    ActionRequest,
    ActionResult,
    ActionSpec,
    CheckResult,
    CheckSpec,
    Outcome,
    Status,
)
from oncall_console.secrets import redact
from oncall_console.text import clean

# Binaries that hand an argument to a shell (sh -c, or ssh's remote command line):
# a free-text placeholder there would be shell injection again, so it is refused.
SHELL_LIKE = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "busybox", "ssh"}
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRETISH = re.compile(r"password|passwd|token|secret|api_?key|credential", re.IGNORECASE)
EXIT_GRACE = 1.0
"""Seconds to wait for the output pipes to close after the command exits."""
REAP_WAIT = 5.0
"""Seconds to wait for a killed process to be reaped."""
SHOWN_OUTPUT = 19_000
"""Characters of stdout + stderr in a result (the runner shows at most 20 000)."""


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
        shell_like = os.path.basename(self.argv[0]) in SHELL_LIKE
        for i, item in enumerate(self.argv):
            parts = P.parse(item)
            P.check_refs(f"argv[{i}] {item!r}", parts, self.params)
            if shell_like:
                for ref in P.names(parts):
                    if self.params[ref].kind == "str":
                        raise ValueError(
                            f"argv[{i}]: {{{ref}}} is free text passed to "
                            f"{os.path.basename(self.argv[0])}, which gives it to a shell; "
                            "use kind name, subdomain, identifier, int, bool or choice"
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


@dataclass(frozen=True)
class Plan:
    """Exactly what will be executed."""

    key: str
    command: CommandSpec
    argv: tuple[str, ...]
    env: dict[str, str]
    secrets: tuple[str, ...]

    def render(self) -> str:
        c = self.command
        lines = [f"$ {join(self.argv)}"]
        lines.append(f"cwd: {quote(c.cwd) if c.cwd else '(the console’s)'}")
        shown = ["LANG=C.UTF-8", "PATH=(the console’s)"]
        shown += [f"{k}={quote(v)}" for k, v in c.env.items()]
        shown += [f"{k}=(from ${v}, not shown)" for k, v in c.env_from.items()]
        lines.append("env: " + " ".join(shown))
        codes = ", ".join(str(x) for x in c.allowed_exit_codes)
        lines.append(f"timeout: {c.timeout:g} s · success: exit {codes}")
        if c.read_only:
            lines.append("read-only diagnostic")
        return "\n".join(lines)


@dataclass
class _Buffer:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def truncated(self) -> bool:
        return self.total > len(self.data)


class _Collector(asyncio.SubprocessProtocol):
    """Keeps the first ``cap`` bytes of each stream, and says when the process exits.

    ``Process.wait()`` also waits for the pipes to close, which a background child can
    hold open forever; this protocol learns of the exit itself.
    """

    def __init__(self, cap: int) -> None:
        self.out = _Buffer(cap)
        self.err = _Buffer(cap)
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        (self.out if fd == 1 else self.err).add(bytes(data))

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


@dataclass
class Ran:
    code: int | None
    stdout: _Buffer
    stderr: _Buffer
    seconds: float
    timed_out: bool


class ShellBackend(Backend):
    """Runs the commands declared in config, as argv lists, with a timeout."""

    TYPE = "shell"
    DESCRIPTION = "Declared commands run as argv lists (no shell), and checks from their exit codes"
    CAPABILITIES = frozenset({Capability.ACTIONS, Capability.HEALTH})
    Options = ShellOptions
    CheckParams = ShellCheckParams

    options: ShellOptions

    def __init__(self, name: str, options: BaseModel, context: BackendContext) -> None:
        super().__init__(name, options, context)
        self._binaries: dict[str, str | None] = {}

    async def start(self) -> None:
        self._resolve_binaries()

    async def close(self) -> None:
        pass  # every run waits for its own process group: nothing stays open

    def _resolve_binaries(self) -> None:
        path = os.environ.get("PATH", os.defpath)
        for entry in self.options.allowlist:
            self._binaries[entry] = (
                entry if os.path.isabs(entry) else shutil.which(entry, path=path)
            )

    def _binary(self, name: str) -> str:
        if name not in self.options.allowlist:  # config refuses it; options built otherwise too
            raise ActionInvalid(f"{name}: not in the allowlist")
        if name not in self._binaries:
            self._resolve_binaries()
        found = self._binaries.get(name)
        if found is None:
            found = shutil.which(name, path=os.environ.get("PATH", os.defpath))
            self._binaries[name] = found  # installed since start: fine
        if found is None:
            raise ActionInvalid(f"{name}: not found on PATH")
        if not (os.path.isfile(found) and os.access(found, os.X_OK)):
            raise ActionInvalid(f"{found}: not an executable file")
        return found

    # --- actions ---------------------------------------------------------------------------

    def actions(self) -> list[ActionSpec]:
        return [
            declared.declared_action(
                key, cmd, default_title=join(cmd.argv), read_only=cmd.read_only
            )
            for key, cmd in self.options.commands.items()
        ]

    def plan(self, key: str, given: Mapping[str, Any]) -> Plan:
        """Substitute the parameters: ActionInvalid when the request cannot be run."""
        cmd, vals = declared.declared_values(
            self.options.commands, key, given, what="command", backend=self.name
        )
        argv = [self._binary(cmd.argv[0])]
        for item in cmd.argv[1:]:
            parts = P.parse(item)
            text = P.render(parts, vals)
            first = parts[0] if parts else ""
            if isinstance(first, P.Ref) and text.startswith("-"):
                raise ActionInvalid(
                    f"{first.name}: a value starting with '-' would be read as an option "
                    f"by {os.path.basename(cmd.argv[0])}"
                )
            if "\x00" in text:
                raise ActionInvalid("NUL characters cannot be passed")
            argv.append(text)
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", **cmd.env}
        secrets = []
        for var, source in cmd.env_from.items():
            value = os.environ.get(source, "")
            if not value:
                raise ActionInvalid(
                    f"env_from: {source} is not set in the console's environment (for {var})"
                )
            env[var] = value
            secrets.append(value)
        return Plan(key, cmd, tuple(argv), env, tuple(secrets))

    async def preview(self, request: ActionRequest) -> str:
        return self.plan(request.action, request.params).render()

    async def run(self, request: ActionRequest) -> ActionResult:
        now = self.context.clock
        try:
            plan = self.plan(request.action, request.params)
        except ActionInvalid as exc:
            return ActionResult(request, Outcome.REFUSED, clean(str(exc), limit=300), at=now())
        shown = plan.render()
        if request.dry_run:
            return ActionResult(
                request, Outcome.DRY_RUN, "dry run: nothing was done", preview=shown, at=now()
            )
        try:
            ran = await self.execute(plan, plan.command.timeout)
        except OSError as exc:
            why = f"cannot start {plan.argv[0]}: {exc.strerror or exc}"
            if plan.command.cwd and not os.path.isdir(plan.command.cwd):
                why += f" (cwd {plan.command.cwd} does not exist)"
            return ActionResult(request, Outcome.FAILED, clean(why, limit=300), at=now())
        outcome, message = self._judge(plan, ran)
        return ActionResult(
            request,
            outcome,
            clean(redact(message, *plan.secrets), limit=500),
            preview=shown,
            output=_output(ran, plan.secrets),
            at=now(),
        )

    def _judge(self, plan: Plan, ran: Ran) -> tuple[Outcome, str]:
        if ran.timed_out:
            return Outcome.TIMED_OUT, (
                f"timed out after {plan.command.timeout:g} s: the process group was killed"
            )
        if ran.code is None:
            return Outcome.UNKNOWN, "the process could not be reaped"
        if ran.code < 0:
            return Outcome.FAILED, f"killed by {_signal_name(-ran.code)}"
        if ran.code in plan.command.allowed_exit_codes:
            return Outcome.SUCCEEDED, f"exit {ran.code}"
        line = _first_line(ran.stderr.text()) or _first_line(ran.stdout.text())
        return Outcome.FAILED, f"exit {ran.code}: {line}" if line else f"exit {ran.code}"

    async def execute(self, plan: Plan, timeout: float) -> Ran:
        """Run the argv in its own process group; kill the group on timeout or cancel."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        transport, proto = await loop.subprocess_exec(
            lambda: _Collector(self.options.max_output_bytes),
            *plan.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=plan.command.cwd,
            env=plan.env,
            start_new_session=True,
        )
        pid = transport.get_pid()
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                await proto.exited.wait()
                # The command is done; whatever it left holding the pipes gets a moment.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(EXIT_GRACE):
                        await proto.closed.wait()
        except TimeoutError:
            timed_out = True
        finally:
            # On timeout, on cancel, and after a normal exit: nothing of it stays behind.
            _kill_group(pid)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REAP_WAIT):
                    await proto.exited.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(EXIT_GRACE):
                    await proto.closed.wait()  # the last of the output, now that all are gone
            transport.close()
        return Ran(
            code=transport.get_returncode(),
            stdout=proto.out,
            stderr=proto.err,
            seconds=time.perf_counter() - started,
            timed_out=timed_out,
        )

    # --- health ----------------------------------------------------------------------------

    async def probe(self, check: CheckSpec) -> CheckResult:
        try:
            params = check.params
            if not isinstance(params, ShellCheckParams):
                params = ShellCheckParams.model_validate(params or {})
            cmd = self.options.commands.get(params.command)
            if cmd is None:
                known = ", ".join(k for k, c in self.options.commands.items() if c.read_only)
                return self._down(check, f"no command {params.command!r} ({known or 'none'})")
            if not cmd.read_only:
                return self._down(
                    check, f"command {params.command!r} is not read_only: checks run diagnostics"
                )
            plan = self.plan(params.command, params.params)
            timeout = max(0.1, min(cmd.timeout, check.timeout - 0.05))
            ran = await self.execute(plan, timeout)
        except ActionInvalid as exc:
            return self._down(check, str(exc))
        except OSError as exc:
            return self._down(check, f"cannot start the command: {exc.strerror or exc}")
        except Exception as exc:  # a probe never raises
            return self._down(check, f"unexpected error: {type(exc).__name__}: {exc}")
        return self._result(check, params, plan, ran, timeout)

    def _result(
        self, check: CheckSpec, p: ShellCheckParams, plan: Plan, ran: Ran, timeout: float
    ) -> CheckResult:
        out = redact(ran.stdout.text(), *plan.secrets)
        err = redact(ran.stderr.text(), *plan.secrets)
        line = _first_line(out) or _first_line(err)
        if ran.timed_out or ran.code is None:
            status, summary = Status.DOWN, f"timed out after {timeout:g} s"
        elif ran.code == 0:
            status, summary = Status.OK, line or "exit 0"
        elif ran.code in p.warning_codes:
            status, summary = Status.DEGRADED, f"exit {ran.code} · {line}" if line else ""
        elif ran.code < 0:
            status, summary = Status.DOWN, f"killed by {_signal_name(-ran.code)}"
        else:
            status, summary = Status.DOWN, f"exit {ran.code} · {line}" if line else ""
        summary = summary or f"exit {ran.code}"
        details = {
            "command": clean(join(plan.argv), limit=500),
            "exit_code": "" if ran.code is None else str(ran.code),
            "duration": f"{ran.seconds * 1000:.0f} ms",
        }
        if err.strip():
            details["stderr"] = clean(err, limit=500)
        return CheckResult(
            check=check.name,
            status=status,
            summary=clean(summary, limit=300),
            latency_ms=ran.seconds * 1000,
            at=self.context.clock(),
            details=details,
            error=clean(summary, limit=300) if status is Status.DOWN else None,
        )

    def _down(self, check: CheckSpec, why: str) -> CheckResult:
        why = clean(why, limit=300)
        return CheckResult(
            check=check.name,
            status=Status.DOWN,
            summary=why,
            at=self.context.clock(),
            error=why,
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return clean(line.strip(), limit=200)
    return ""


def _output(ran: Ran, secrets: tuple[str, ...]) -> str:
    """stdout, then stderr, cleaned, secrets redacted, within what the runner shows."""
    streams = []
    for label, buf in (("stdout", ran.stdout), ("stderr", ran.stderr)):
        text = clean(redact(buf.text(), *secrets), limit=10**9, single_line=False)
        note = ""
        if buf.truncated:
            note = f"[{label} truncated: kept {len(buf.data)} of {buf.total} bytes]"
        streams.append((label, text, note))
    (_, out, out_note), (_, err, err_note) = streams
    if len(out) + len(err) > SHOWN_OUTPUT:
        err_share = min(len(err), max(SHOWN_OUTPUT // 2, SHOWN_OUTPUT - len(out)))
        out_share = SHOWN_OUTPUT - err_share
        if len(out) > out_share:
            out, out_note = (
                out[:out_share],
                out_note or f"[stdout truncated: {len(out)} characters]",
            )
        if len(err) > err_share:
            err, err_note = (
                err[:err_share],
                err_note or f"[stderr truncated: {len(err)} characters]",
            )
    parts = [out.rstrip("\n")] if out else []
    if out_note:
        parts.append(out_note)
    if err or err_note:
        parts.append("--- stderr ---")
        if err:
            parts.append(err.rstrip("\n"))
        if err_note:
            parts.append(err_note)
    return "\n".join(parts)


def quote(item: str) -> str:
    """``shlex.quote``, except that what a terminal would not show is spelled out ($'...')."""
    if item.isprintable():
        return shlex.quote(item)
    out = []
    for c in item:
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "$'" + "".join(out) + "'"


def join(argv: Any) -> str:
    """``shlex.join`` for reading: one quoted word per argv item."""
    return " ".join(quote(str(a)) for a in argv)
