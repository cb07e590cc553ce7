"""The ``shell`` backend: the plugin class, which plans, runs and judges declared commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from oncall_console.backends.base import Backend, BackendContext, Capability
from oncall_console.backends.shared import declared
from oncall_console.backends.shared import params as P
from oncall_console.backends.shell.options import ShellCheckParams, ShellOptions
from oncall_console.backends.shell.process import (
    Collector,
    Plan,
    Ran,
    first_line,
    join,
    kill_group,
    output_of,
    signal_name,
)
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
from oncall_console.model.health import redacted
from oncall_console.secrets import redact
from oncall_console.text import clean

EXIT_GRACE = 1.0
"""Seconds to wait for the output pipes to close after the command exits."""
REAP_WAIT = 5.0
"""Seconds to wait for a killed process to be reaped."""


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
            output=output_of(ran, plan.secrets),
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
            return Outcome.FAILED, f"killed by {signal_name(-ran.code)}"
        if ran.code in plan.command.allowed_exit_codes:
            return Outcome.SUCCEEDED, f"exit {ran.code}"
        line = first_line(ran.stderr.text()) or first_line(ran.stdout.text())
        return Outcome.FAILED, f"exit {ran.code}: {line}" if line else f"exit {ran.code}"

    async def execute(self, plan: Plan, timeout: float) -> Ran:
        """Run the argv in its own process group; kill the group on timeout or cancel."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        transport, proto = await loop.subprocess_exec(
            lambda: Collector(self.options.max_output_bytes),
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
            kill_group(pid)
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
        line = first_line(out) or first_line(err)
        if ran.timed_out or ran.code is None:
            status, summary = Status.DOWN, f"timed out after {timeout:g} s"
        elif ran.code == 0:
            status, summary = Status.OK, line or "exit 0"
        elif ran.code in p.warning_codes:
            status, summary = Status.DEGRADED, f"exit {ran.code} · {line}" if line else ""
        elif ran.code < 0:
            status, summary = Status.DOWN, f"killed by {signal_name(-ran.code)}"
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
        result = CheckResult(
            check=check.name,
            status=status,
            summary=clean(summary, limit=300),
            latency_ms=ran.seconds * 1000,
            at=self.context.clock(),
            details=details,
            error=clean(summary, limit=300) if status is Status.DOWN else None,
        )
        return redacted(result, plan.secrets)  # every line: credentials it echoes too

    def _down(self, check: CheckSpec, why: str) -> CheckResult:
        why = clean(why, limit=300)
        return CheckResult(
            check=check.name,
            status=Status.DOWN,
            summary=why,
            at=self.context.clock(),
            error=why,
        )
