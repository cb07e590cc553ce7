"""The ``oncall-console`` command. Heavy imports wait until a subcommand needs them."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from oncall_console import __version__

if TYPE_CHECKING:
    import argparse

from oncall_console.cli.common import (
    EXIT_DEGRADED,
    EXIT_DOWN,
    EXIT_OK,
    EXIT_USAGE,
    _positive_seconds,
    demo_config,
    demo_sketch,
    load_config,
)

__all__ = [
    "EXIT_DEGRADED",
    "EXIT_DOWN",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "demo_config",
    "demo_sketch",
    "load_config",
    "main",
    "render_status_table",
    "status_json",
]


def __getattr__(name: str) -> Any:
    # Not imported with the CLI: reports imports asyncio (~30 ms before the first poll's
    # fork could start, issue #14).
    if name in ("render_status_table", "status_json"):
        from oncall_console.cli import reports

        return getattr(reports, name)
    raise AttributeError(name)


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: $ONCALL_CONSOLE_CONFIG, then ~/.config/oncall-console/config.toml)",
    )


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=7, help="seed of the simulated platform (default 7)")
    p.add_argument(
        "--speed", type=float, default=1.0, help="how fast the scripted incident unfolds"
    )


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="oncall-console",
        description="The terminal console for the engineer on call.",
    )
    parser.add_argument("--version", action="version", version=f"oncall-console {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="open the console on your config (the default)")
    _add_config(p)
    p.add_argument("--read-only", action="store_true", help="refuse every action")
    p.add_argument("--theme", help="theme name (overrides config)")

    p = sub.add_parser("demo", help="open the console on a simulated platform; no servers needed")
    _add_demo(p)
    p.add_argument("--read-only", action="store_true", help="refuse every action")
    p.add_argument("--theme", help="theme name")

    p = sub.add_parser(
        "war-room",
        help="the read-only wall screen: big digits, incident clocks, cycling panels",
    )
    _add_config(p)
    p.add_argument("--demo", action="store_true", help="use the simulated platform")
    _add_demo(p)
    p.add_argument(
        "--dwell",
        type=_positive_seconds,
        default=None,
        help="seconds each panel stays before the next (default: [warroom] dwell, 15)",
    )
    p.add_argument("--theme", help="theme name (default: [warroom] theme, oncall-high-contrast)")

    from oncall_console.ui.serve import add_arguments as add_serve_arguments

    p = sub.add_parser(
        "serve",
        help="serve the console to a web browser (textual-serve); loopback only unless --public",
    )
    add_serve_arguments(p)

    p = sub.add_parser(
        "status",
        help="poll everything once and print it; exit 0 ok, 1 WARN, 2 CRIT, DOWN, unknown or stale",
    )
    _add_config(p)
    p.add_argument("--demo", action="store_true", help="use the simulated platform")
    _add_demo(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument(
        "--fail-on",
        metavar="SEV",
        default=None,
        help="also exit 2 when an alert of this severity or worse fires (SEV1-SEV4, P1-P4)"
        " or an alert feed cannot be read: a post-deploy check",
    )
    p.add_argument(
        "--at", type=float, default=None, help=argparse.SUPPRESS
    )  # demo only: seconds into the scenario

    p = sub.add_parser(
        "check",
        help="validate the config: every problem as file:line:column: key: message, exit 2 "
        "(warnings alone exit 0)",
    )
    _add_config(p)

    p = sub.add_parser("init", help="write a commented starter config")
    p.add_argument("--path", help="where to write it (default: the config path 'run' reads)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    sub.add_parser("backends", help="list the installed backend types")

    p = sub.add_parser(
        "action",
        help="run one action the same way the console does (preview, confirm, lock, audit, verify)",
    )
    _add_config(p)
    p.add_argument("--demo", action="store_true", help="use the simulated platform")
    _add_demo(p)
    p.add_argument("backend", nargs="?", help="the backend's name in config, e.g. pg (see --list)")
    p.add_argument("action", nargs="?", help="the action's id, e.g. terminate-idle (see --list)")
    p.add_argument("params", nargs="*", metavar="NAME=VALUE", help="parameters")
    p.add_argument(
        "--list",
        action="store_true",
        help="list the actions (of BACKEND when given) with their parameters, and stop",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show the preview and stop; nothing runs (exit 1 when it would fail, 2 if refused)",
    )
    p.add_argument("--yes", action="store_true", help="confirm a yes/no action without asking")
    p.add_argument(
        "--confirm", metavar="TARGET", help="confirm a dangerous action by its target's name"
    )
    p.add_argument(
        "--check",
        metavar="NAME",
        default="",
        help="the check this action is about (verification follows it; default: the "
        "action's own, e.g. the deployment a rollback names)",
    )
    p.add_argument(
        "--no-watch",
        action="store_true",
        help="do not follow the target after the run; exit codes: 0 recovered (or "
        "nothing to follow), 1 not done, 2 refused, 4 ran but not recovered",
    )

    p = sub.add_parser(
        "handoff", help="write the shift handoff report (Markdown) from the store and live sources"
    )
    _add_config(p)
    p.add_argument("--demo", action="store_true", help="use the simulated platform")
    _add_demo(p)
    p.add_argument(
        "--since", default="12h", help="start of the shift, e.g. 12h or 8h (default 12h)"
    )
    p.add_argument("--output", metavar="FILE", help="write the report here instead of printing it")
    p.add_argument("--note", default="", help="notes for the next person")

    p = sub.add_parser("runbook", help="work with runbooks")
    rsub = p.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)
    q = rsub.add_parser(
        "lint",
        help="check runbooks against the config's backends; exit 2 on errors (file:line: message)",
    )
    _add_config(q)
    q.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: [runbooks] dirs)"
    )
    q.add_argument("--demo", action="store_true", help="lint against the demo platform")
    _add_demo(q)
    q.add_argument(
        "--no-config", action="store_true", help="check the format and SQL only, no backends"
    )
    q.add_argument("--strict", action="store_true", help="warnings fail too")
    q = rsub.add_parser(
        "show",
        help="print what the runbook screen will show: headings, prose, steps, commands",
    )
    _add_config(q)
    q.add_argument(
        "runbook",
        metavar="PATH|ID",
        help="a runbook file, or an id / alert name in [runbooks] dirs",
    )
    q.add_argument("--format", choices=("text", "json"), default="text")
    q.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an alert label that fills placeholders ($NAMESPACE, <pod>), e.g. namespace=prod",
    )

    from oncall_console.cli.slo import add_parser as add_slo_parser

    add_slo_parser(sub)

    p = sub.add_parser(
        "audit", help="the audit trail of actions: list it, or verify its hash chain"
    )
    _add_config(p)
    p.add_argument("what", choices=("list", "verify"), help="list entries, or verify the chain")
    p.add_argument("--since", help="only entries newer than this, e.g. 12h (list)")

    p = sub.add_parser("incident", help="incidents in the store: list, show, export a postmortem")
    isub = p.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    q = isub.add_parser("list", help="incidents, newest first, with their timers")
    _add_config(q)
    q.add_argument("--open", action="store_true", help="only open incidents")
    q.add_argument("--since", help="only those changed since, e.g. 24h")
    q = isub.add_parser("show", help="one incident and its whole timeline")
    _add_config(q)
    q.add_argument("id", metavar="ID", help="e.g. INC-1042")
    q = isub.add_parser("export", help="the postmortem draft (Markdown) of one incident")
    _add_config(q)
    q.add_argument("id", metavar="ID", help="e.g. INC-1042")
    q.add_argument("--output", "-o", metavar="FILE", help="write it here instead of printing it")
    return parser


def main(argv: list[str] | None = None) -> int:
    # pydantic looks through every installed package for plugins on its first model
    # (13-40 ms at start-up); we use none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    argv = list(sys.argv[1:] if argv is None else argv)
    # The console's first poll is forked first of all, before argparse and the commands'
    # imports (issue #14); the command it was forked for takes it (cli/firstpoll.py).
    from oncall_console.cli.firstpoll import close_early, start_early

    start_early(argv)
    try:
        return _main(argv)
    finally:
        close_early()


def console_args(argv: list[str]) -> SimpleNamespace | None:
    """What argparse gives for an argument list that plainly opens the console (``run``
    or ``demo``, read as the first poll's fork reads them), without argparse: its import,
    the parser of every command and ``serve``'s options were ~10 ms of the first frame
    (issue #14). None for anything else; tests/test_cli.py compares the two."""
    from oncall_console.cli.firstpoll import _early_args

    parsed = _early_args(argv)
    if parsed is None:
        return None
    command, found = parsed
    common = {"read_only": "read_only" in found, "theme": found.get("theme")}
    try:
        if command == "demo":
            seed, speed = int(found.get("seed", "7")), float(found.get("speed", "1.0"))
            return SimpleNamespace(command=command, seed=seed, speed=speed, **common)
    except ValueError:
        return None  # argparse says what is wrong with it
    return SimpleNamespace(command=command, config=found.get("config"), **common)


def _main(argv: list[str]) -> int:
    args: Any = console_args(argv)
    if args is None:
        args = _parse(argv)
    return _run(args)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    commands = {
        "run",
        "demo",
        "war-room",
        "serve",
        "status",
        "check",
        "init",
        "backends",
        "audit",
        "runbook",
        "action",
        "handoff",
        "incident",
        "slo",
    }
    if not any(a in commands for a in argv) and not {"-h", "--help", "--version"} & set(argv):
        argv.insert(0, "run")  # plain `oncall-console [--config F]` opens the console
    return parser.parse_args(argv)


def _run(args: Any) -> int:
    command = args.command
    where = {
        "run": "console.cmd_run",
        "demo": "console.cmd_demo",
        "war-room": "console.cmd_war_room",
        "serve": "console.cmd_serve",
        "status": "reports.cmd_status",
        "check": "setup.cmd_check",
        "init": "setup.cmd_init",
        "backends": "setup.cmd_backends",
        "audit": "reports.cmd_audit",
        "runbook": "setup.cmd_runbook",
        "action": "actions.cmd_action",
        "handoff": "reports.cmd_handoff",
        "incident": "reports.cmd_incident",
        "slo": "slo.cmd_slo",
    }[command]
    module, _, name = where.partition(".")
    handler = getattr(importlib.import_module(f"oncall_console.cli.{module}"), name)
    from oncall_console.configfile import ConfigError  # not config: that imports pydantic

    try:
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `oncall-console ... | head`: the reader has all it wanted
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more to flush
        return 0
    except Exception as exc:  # the last line of defence: one line, no traceback
        if os.environ.get("ONCALL_DEBUG"):
            raise
        print(
            f"oncall-console: {type(exc).__name__}: {exc} (set ONCALL_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
