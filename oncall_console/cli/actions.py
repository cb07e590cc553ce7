"""``oncall-console action``: the one action path, in a terminal, through the front door."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from oncall_console.cli.common import (
    EXIT_DEGRADED,
    EXIT_DOWN,
    EXIT_OK,
    EXIT_USAGE,
    demo_config,
    load_config,
)

if TYPE_CHECKING:
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
    loaded = demo_config(args.seed, args.speed) if args.demo else load_config(args.config)
    oncall = OnCall.build(loaded)

    async def go() -> int:
        await oncall.start(poll=False)
        try:
            if oncall.store_error and not args.dry_run:
                print(f"error: store unavailable: {oncall.store_error}", file=sys.stderr)
                return EXIT_DOWN
            request = oncall.request(args.backend, args.action, params, dry_run=args.dry_run)
            try:
                plan = await oncall.prepare(request)
            except ActionRefused as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(plan.preview)
            if args.dry_run:
                print("\ndry run: nothing was done")
                return EXIT_OK
            if plan.lock_holder:
                print(f"\nlocked now by {plan.lock_holder}", file=sys.stderr)
            # The plan says how to confirm; --yes answers a y/n, --confirm types the target.
            if plan.typed_target:
                answer = args.confirm or ""
            else:
                answer = "y" if args.yes or args.confirm == plan.target else ""
            if not answer and sys.stdin.isatty():
                prompt = (
                    f"\nType {plan.typed_target!r} to run it: "
                    if plan.typed_target
                    else "\nRun it? [y/N] "
                )
                answer = input(prompt)
            if not answer:
                need = f"--confirm {plan.target}" if plan.typed_target else "--yes"
                print(
                    f"not confirmed: nothing was done (non-interactive: pass {need})",
                    file=sys.stderr,
                )
                return EXIT_DEGRADED
            result = await oncall.execute(plan, answer)
            print(f"\n{result.outcome.value}: {result.message}")
            if result.output:
                print(result.output)
            if result.before or result.after:
                print(f"before: {result.before}\nafter:  {result.after}")
            return EXIT_OK if result.outcome is Outcome.SUCCEEDED else EXIT_DEGRADED
        finally:
            await oncall.stop()

    return asyncio.run(go())
