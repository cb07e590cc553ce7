"""``oncall-console action``: the one action path, in a terminal, through the front door."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from oncall_console.cli.common import (
    EXIT_DEGRADED,
    EXIT_DOWN,
    EXIT_NOT_RECOVERED,
    EXIT_OK,
    EXIT_USAGE,
    demo_config,
    load_config,
)
from oncall_console.tasks import within

if TYPE_CHECKING:
    from oncall_console.engine.api import ActionPlan, OnCall

    pass


def cmd_action(args: argparse.Namespace) -> int:
    from oncall_console.engine.api import ActionRefused, OnCall
    from oncall_console.model import Outcome
    from oncall_console.text import clean

    params: dict[str, str] = {}
    for item in args.params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(
                f"error: parameters are NAME=VALUE, got {clean(item, limit=60)!r}", file=sys.stderr
            )
            return EXIT_USAGE
        params[name] = value
    if not args.list and not (args.backend and args.action):
        print("error: name a BACKEND and an ACTION, or pass --list", file=sys.stderr)
        return EXIT_USAGE
    loaded = demo_config(args.seed, args.speed) if args.demo else load_config(args.config)
    oncall = OnCall.build(loaded)
    if args.list:
        return list_actions(oncall, args.backend)

    async def go() -> int:
        # SIGTERM (a closed SSH session, a supervisor) stops the action like Ctrl-C: the
        # command stops, the trail records "interrupted", the lock is released.
        main = asyncio.current_task()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, lambda: main.cancel() if main else None
            )
        await oncall.start(poll=False)
        try:
            if oncall.store_error and not args.dry_run:
                print(f"error: store unavailable: {oncall.store_error}", file=sys.stderr)
                return EXIT_DOWN
            request = oncall.request(args.backend, args.action, params, dry_run=args.dry_run)
            try:
                plan = await oncall.prepare(request, about=args.check)
            except ActionRefused as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(plan.preview)
            if plan.watch:
                minutes = max(1, round(plan.watch_for / 60))
                print(f"\nafter the run: watching {', '.join(plan.watch)} for up to {minutes} min")
            if args.dry_run:
                print("\ndry run: nothing was done")
                return dry_run_exit(plan.preview)
            if plan.lock_holder:
                print(f"\nlocked now by {plan.lock_holder}", file=sys.stderr)
            if plan.recent:
                print(f"\nnote: {plan.recent}: it runs again only if you confirm", file=sys.stderr)
            answer = _answer(args, plan)
            if not answer:
                need = f"--confirm {plan.target}" if plan.typed_target else "--yes"
                print(
                    f"not confirmed: nothing was done (non-interactive: pass {need})",
                    file=sys.stderr,
                )
                return EXIT_DEGRADED
            result = await oncall.execute(plan, answer, subject=args.check or plan.target)
            print(f"\n{result.outcome.value}: {result.message}")
            if result.output:
                print(result.output)
            if result.before or result.after:
                print(f"before: {result.before}\nafter:  {result.after}")
            if result.outcome is not Outcome.SUCCEEDED:
                return EXIT_DEGRADED
            return await _watch(oncall, args.no_watch)
        finally:
            await oncall.stop()

    try:
        return asyncio.run(go())
    except (asyncio.CancelledError, KeyboardInterrupt):
        print(
            "stopped: the action was interrupted; the audit trail says so and its lock "
            "is released. Check the target.",
            file=sys.stderr,
        )
        return 143


def _answer(args: argparse.Namespace, plan: ActionPlan) -> str:
    """The plan says how to confirm; --yes answers a y/n, --confirm types the target."""
    if plan.typed_target:
        answer = args.confirm or ""
    else:
        answer = "y" if args.yes or args.confirm == plan.target else ""
    if not answer and sys.stdin.isatty():
        prompt = (
            f"\nType {plan.typed_target!r} to run it: "
            if plan.typed_target
            else ("\nRun it again? [y/N] " if plan.recent else "\nRun it? [y/N] ")
        )
        answer = input(prompt)
    return answer


async def _watch(oncall: OnCall, skip: bool) -> int:
    """Follow the target until it recovers or the deadline passes, saying how it goes."""
    watches = [w for w in oncall.watches() if not w.done]
    if not watches:
        return EXIT_OK
    if skip:
        print("not watching (--no-watch): check the target yourself")
        return EXIT_OK
    oncall.start_polling()
    watch = watches[-1]
    print(f"verifying: {watch.line(oncall.clock())}", flush=True)
    seen = ""
    while True:
        try:
            ended = await within(oncall.wait_for_watch(watch.id), 10.0)
            break
        except TimeoutError:
            current = next((w for w in oncall.watches() if w.id == watch.id), watch)
            line = current.line(oncall.clock())
            if line != seen:
                print(f"  {line}", flush=True)
                seen = line
    await asyncio.sleep(0)  # let the outcome be recorded (audit, timeline)
    final = next((w for w in oncall.watches() if w.id == ended.id), ended)
    print(final.line(oncall.clock()))
    return EXIT_OK if final.state == "recovered" else EXIT_NOT_RECOVERED


def list_actions(oncall: OnCall, backend: str | None) -> int:
    """Every action a person may run here (of ``backend`` when given), with parameters."""
    found = oncall.actions_for(backend or None)
    if backend and not found:
        names = sorted({b for b, _ in oncall.actions_for()})
        print(
            f"error: no actions for {backend!r}"
            + (f" (backends with actions: {', '.join(names)})" if names else ""),
            file=sys.stderr,
        )
        return EXIT_USAGE
    for name, spec in found:
        flags = " [dangerous: type the target]" if spec.dangerous else ""
        print(f"{name} {spec.id}: {spec.title}{flags}")
        for p in spec.params:
            bits = [p.kind]
            if p.choices:
                bits.append("one of " + "|".join(p.choices))
            if p.minimum is not None or p.maximum is not None:
                bits.append(f"{p.minimum}..{p.maximum}")
            if p.default not in (None, ""):
                bits.append(f"default {p.default}")
            if not p.required or p.default not in (None, ""):
                bits.append("optional")
            help_ = f" — {p.help}" if p.help else ""
            print(f"    {p.name}=<{', '.join(bits)}>{help_}")
    return EXIT_OK


def dry_run_exit(preview: str) -> int:
    """A dry run's exit code: what the run would do, as the backend's preview says it
    (its first line "would fail: ..." or "refused: ..."): 1 would fail, 2 refused, 0 ok."""
    first = preview.lstrip().partition("\n")[0].lower()
    if first.startswith("refused:"):
        return EXIT_USAGE
    if first.startswith("would fail:"):
        return EXIT_DEGRADED
    return EXIT_OK
