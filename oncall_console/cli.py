"""The ``oncall-console`` command. Heavy imports wait until a subcommand needs them."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oncall_console import __version__

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig
    from oncall_console.configfile import Sketch

EXIT_OK, EXIT_DEGRADED, EXIT_DOWN, EXIT_USAGE = 0, 1, 2, 2


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
        "status", help="poll everything once and print it; exit 0 ok, 1 degraded, 2 down"
    )
    _add_config(p)
    p.add_argument("--demo", action="store_true", help="use the simulated platform")
    _add_demo(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument(
        "--at", type=float, default=None, help=argparse.SUPPRESS
    )  # demo only: seconds into the scenario

    p = sub.add_parser("check", help="validate the config; exit 2 with file:line: key: message")
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
    p.add_argument("backend", help="the backend's name in config, e.g. pg")
    p.add_argument("action", help="the action's id, e.g. terminate-idle (see --list)")
    p.add_argument("params", nargs="*", metavar="NAME=VALUE", help="parameters")
    p.add_argument("--dry-run", action="store_true", help="show the preview and stop; nothing runs")
    p.add_argument("--yes", action="store_true", help="confirm a yes/no action without asking")
    p.add_argument(
        "--confirm", metavar="TARGET", help="confirm a dangerous action by its target's name"
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
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
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
    }
    if not any(a in commands for a in argv) and not {"-h", "--help", "--version"} & set(argv):
        argv.insert(0, "run")  # plain `oncall-console [--config F]` opens the console
    args = parser.parse_args(argv)
    command = args.command
    handler = {
        "run": cmd_run,
        "demo": cmd_demo,
        "war-room": cmd_war_room,
        "serve": cmd_serve,
        "status": cmd_status,
        "check": cmd_check,
        "init": cmd_init,
        "backends": cmd_backends,
        "audit": cmd_audit,
        "runbook": cmd_runbook,
        "action": cmd_action,
        "handoff": cmd_handoff,
        "incident": cmd_incident,
    }[command]
    from oncall_console.configfile import ConfigError  # not config: that imports pydantic

    try:
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, no traceback
        if os.environ.get("ONCALL_DEBUG"):
            raise
        print(
            f"oncall-console: {type(exc).__name__}: {exc} (set ONCALL_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 70


# --- config helpers --------------------------------------------------------------------------


def load_config(path: str | None) -> LoadedConfig:
    from oncall_console.config import discover, load

    return load(discover(path))


def demo_config(
    seed: int, speed: float, read_only: bool = False, start: float | None = None
) -> LoadedConfig:
    from oncall_console.backends.demo import demo_config_dict
    from oncall_console.config import from_dict

    data = demo_config_dict(seed=seed, speed=speed)
    data["store"] = {"url": ":memory:"}  # the demo leaves nothing behind
    if start is not None:
        data["backends"]["demo"]["start"] = start
    if read_only:
        data["console"]["read_only"] = True
    return from_dict(data, filename="<demo>", env={})


def demo_sketch() -> Sketch:
    """The demo's first frame, without importing the simulation (a test keeps it true)."""
    from oncall_console.configfile import Sketch

    return Sketch(environment="demo", demo=True)


# --- commands ----------------------------------------------------------------------------------


def _open_console(sketch: Sketch, load: Callable[[], LoadedConfig]) -> int:
    """The console on a terminal paints the sketch first and validates the config in the
    app's worker (issue #6: first frame); a refused config ends the app, and its error is
    raised here once the terminal is restored, so it is reported as before. Without a
    terminal (textual-serve, a pipe) there is no first frame to hurry: validate first."""
    from oncall_console.ui.app import OncallApp

    if sys.stdin.isatty() and sys.stdout.isatty():
        app = OncallApp(sketch=sketch, load=load)
    else:
        from oncall_console.engine.api import OnCall

        app = OncallApp(OnCall.build(load()))
    app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return app.return_code or 0


def cmd_run(args: argparse.Namespace) -> int:
    from oncall_console.configfile import Sketch, discover, parse, read_text

    path = discover(args.config)
    text = read_text(path)  # a missing file or bad TOML stops us before anything is drawn
    data = parse(text, str(path))
    sketch = Sketch.of(data)

    def load() -> LoadedConfig:
        from oncall_console.config import from_dict

        loaded = from_dict(data, filename=str(path), text=text, path=path)
        _apply_options(loaded, args.read_only, args.theme)
        return loaded

    return _open_console(_sketch_with(sketch, args.read_only, args.theme), load)


def cmd_demo(args: argparse.Namespace) -> int:
    def load() -> LoadedConfig:
        loaded = demo_config(args.seed, args.speed, args.read_only)
        _apply_options(loaded, args.read_only, args.theme)
        return loaded

    return _open_console(_sketch_with(demo_sketch(), args.read_only, args.theme), load)


def _apply_options(loaded: LoadedConfig, read_only: bool, theme: str | None) -> None:
    """``--read-only`` and ``--theme`` win over the config."""
    if read_only:
        loaded.config.console.read_only = True
    if theme:
        loaded.config.console.theme = theme


def _sketch_with(sketch: Sketch, read_only: bool, theme: str | None) -> Sketch:
    return replace(sketch, read_only=sketch.read_only or read_only, theme=theme or sketch.theme)


def cmd_war_room(args: argparse.Namespace) -> int:
    loaded = (
        demo_config(args.seed, args.speed, read_only=True)
        if args.demo
        else load_config(args.config)
    )
    loaded.config.console.read_only = True  # the wall never acts, whatever the config says
    loaded.config.console.theme = args.theme or loaded.config.warroom.theme
    from oncall_console.engine.api import OnCall
    from oncall_console.ui.app import OncallApp

    dwell = args.dwell if args.dwell is not None else loaded.config.warroom.dwell
    app = OncallApp(OnCall.build(loaded), mode="war-room", dwell=dwell)
    app.run()
    return app.return_code or 0


def cmd_serve(args: argparse.Namespace) -> int:
    from oncall_console.ui.serve import run_from_args

    return run_from_args(args)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def status_json(snap: dict[str, Any]) -> str:
    """JSON escapes only C0; DEL, C1 (\\x9b is CSI) and bidi overrides in remote text
    would reach the terminal raw, so they are written as \\u escapes too (still JSON)."""
    import re

    text = json.dumps(snap, indent=2, ensure_ascii=False)
    return re.sub(
        r"[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]",
        lambda m: f"\\u{ord(m.group()):04x}",
        text,
    )


def cmd_status(args: argparse.Namespace) -> int:
    from oncall_console.engine.api import OnCall
    from oncall_console.model import Status

    if args.demo:
        import time

        now = time.time()
        start = now - args.at if args.at is not None else None
        loaded = demo_config(args.seed, args.speed, start=start)
    else:
        loaded = load_config(args.config)
    oncall = OnCall.build(loaded)

    async def once() -> dict[str, Any]:
        try:
            await oncall.poll_once()
            return oncall.status()
        finally:
            await oncall.stop()

    snap = asyncio.run(once())
    if args.format == "json":
        print(status_json(snap))
    else:
        print(render_status_table(snap))
    overall = Status(snap["overall"])
    if overall is Status.OK:
        return EXIT_OK
    return EXIT_DEGRADED if overall is Status.DEGRADED else EXIT_DOWN


def render_status_table(snap: dict[str, Any]) -> str:
    from oncall_console.fmt import latency, number
    from oncall_console.model import Status
    from oncall_console.text import clean

    def st(value: str) -> str:
        s = Status(value)
        return f"{s.glyph} {s.label:<5}"

    out = [f"{snap['environment']}: {st(snap['overall']).rstrip()}", ""]
    width = max((len(c["name"]) for c in snap["checks"]), default=5)
    out.append(f"{'STATUS':<7}  {'CHECK':<{width}}  {'LATENCY':>8}  SUMMARY")
    for c in snap["checks"]:
        lat = latency(c["latency_ms"])
        out.append(
            f"{st(c['status'])}  {clean(c['name']):<{width}}  {lat:>8}  {clean(c['summary'], limit=100)}"
        )
    if snap["slis"]:
        out += ["", f"{'STATUS':<7}  SLI"]
        for s in snap["slis"]:
            for r in s["readings"] or [{"series": "", "value": None}]:
                value = number(r["value"], s["unit"])
                series = f" {{{clean(r['series'])}}}" if r.get("series") else ""
                extra = ""
                if r.get("budget_remaining") is not None:
                    extra += f"  budget {r['budget_remaining'] * 100:.0f}%"
                if r.get("burn_rate") is not None:
                    extra += f"  burn {r['burn_rate']:.1f}x"
                if r.get("note"):
                    extra += f"  ({clean(r['note'])})"
                out.append(f"{st(s['status'])}  {clean(s['title'])}{series}: {value}{extra}")
            if s.get("error"):
                out.append(f"         error: {clean(s['error'])}")
    if snap["incidents"] or snap["alerts"]:
        out += ["", "SEV   ACTIVE"]
        for i in snap["incidents"]:
            out.append(
                f"{i['severity']:<5} {clean(i['id'])} {clean(i['title'], limit=90)} [{i['status']}]"
            )
        for a in snap["alerts"]:
            out.append(
                f"{a['severity']:<5} {clean(a['name'])}: {clean(a['summary'], limit=90)} [{a['state']}]"
            )
    for source, error in snap.get("errors", {}).items():
        out.append(f"error: {clean(source)}: {clean(error)}")
    return "\n".join(out)


def cmd_check(args: argparse.Namespace) -> int:
    from oncall_console.config import discover

    path = discover(args.config)
    loaded = load_config(args.config)
    runbooks, failed = "", False
    if loaded.runbook_paths:
        count, failed = lint_runbooks(loaded, loaded.runbook_paths)
        runbooks = f", {count} runbooks"
    print(
        f"{path}: {'errors' if failed else 'ok'} — {len(loaded.backend_options)} backends, "
        f"{len(loaded.checks)} checks, {len(loaded.slis)} SLIs{runbooks}"
    )
    return EXIT_USAGE if failed else EXIT_OK


def lint_runbooks(
    loaded: LoadedConfig | None, paths: list[Path], *, strict: bool = False
) -> tuple[int, bool]:
    """Print every runbook problem (file:line: severity: message); (runbooks, failed)."""
    from oncall_console.runbooks import RunbookLibrary
    from oncall_console.runbooks.lint import instantiate_backends, lint_library
    from oncall_console.text import clean

    library = RunbookLibrary.load(paths)
    backends = instantiate_backends(loaded) if loaded is not None else None
    problems = lint_library(library, backends)
    for problem in problems:
        print(clean(str(problem), limit=500), file=sys.stderr)
    return len(library), any(p.is_error or strict for p in problems)


def cmd_runbook(args: argparse.Namespace) -> int:
    loaded = (
        None
        if args.no_config
        else demo_config(args.seed, args.speed)
        if args.demo
        else load_config(args.config)
    )
    paths = [Path(p) for p in args.paths] or (loaded.runbook_paths if loaded else [])
    if not paths:
        print("error: name runbook files or folders, or set [runbooks] dirs", file=sys.stderr)
        return EXIT_USAGE
    count, failed = lint_runbooks(loaded, paths, strict=args.strict)
    print(f"{count} runbooks: {'problems found' if failed else 'ok'}")
    return EXIT_USAGE if failed else EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from oncall_console.config import default_path
    from oncall_console.starter import starter_config

    path = (
        Path(args.path)
        if args.path
        else Path(os.environ.get("ONCALL_CONSOLE_CONFIG") or default_path())
    )
    if path.exists() and not args.force:
        print(f"error: {path} exists; use --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_config(), encoding="utf-8")
    print(f"wrote {path}; edit it, then run: oncall-console check --config {path}")
    return EXIT_OK


def cmd_backends(args: argparse.Namespace) -> int:
    from oncall_console import backends

    for name, ep in sorted(backends.available().items()):
        print(f"{name:<14} {ep.value}")
    return EXIT_OK


def cmd_handoff(args: argparse.Namespace) -> int:
    from oncall_console.durations import parse_duration
    from oncall_console.engine.api import OnCall
    from oncall_console.engine.handoff import HandoffOptions, build_report

    since = parse_duration(args.since)
    loaded = demo_config(args.seed, args.speed) if args.demo else load_config(args.config)
    oncall = OnCall.build(loaded)

    async def go() -> str:
        await oncall.start(poll=False)
        try:
            await oncall.poll_once()
            await oncall.runbooks.ready()
            now = oncall.clock()
            return await build_report(
                oncall, HandoffOptions(since=now - since, now=now, notes=args.note)
            )
        finally:
            await oncall.stop()

    report = asyncio.run(go())
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(report)
    return EXIT_OK


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


def cmd_audit(args: argparse.Namespace) -> int:
    import time

    from oncall_console.durations import parse_duration
    from oncall_console.engine.api import store_from_config
    from oncall_console.text import clean

    store = store_from_config(load_config(args.config))
    since = time.time() - parse_duration(args.since) if args.since else None

    async def go() -> int:
        await store.open()
        try:
            if args.what == "verify":
                report = await store.verify_audit()
                if report.ok:
                    print(f"audit chain ok: {report.entries} entries")
                    return EXIT_OK
                print(f"audit chain BROKEN: {report.problem}", file=sys.stderr)
                return EXIT_DOWN
            records = await store.audit(since)
            finished = {r.intent_id: r for r in records if r.kind == "result"}
            for r in records:
                if r.kind != "intent":
                    continue
                done = finished.get(r.id)
                outcome = done.outcome if done else "outcome unknown"
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
                who = clean(r.operator) + (f"@{clean(r.ssh_client)}" if r.ssh_client else "")
                print(
                    f"#{r.id} {when} {who} {clean(r.backend)}.{clean(r.action)} {clean(r.target)}: {outcome}"
                )
                if done and done.message:
                    print(f"    {clean(done.message, limit=200)}")
            return EXIT_OK
        finally:
            await store.close()

    return asyncio.run(go())


def cmd_incident(args: argparse.Namespace) -> int:
    import time

    from oncall_console.durations import parse_duration
    from oncall_console.engine.api import store_from_config
    from oncall_console.incidents import (
        IncidentError,
        Policy,
        export_incident,
        list_incidents,
        show_incident,
    )

    loaded = load_config(args.config)
    store = store_from_config(loaded)

    async def go() -> int:
        await store.open()
        try:
            if args.incident_command == "list":
                since = time.time() - parse_duration(args.since) if args.since else None
                policy = Policy.from_config(loaded.config.incidents)
                print(
                    await list_incidents(store, open_only=args.open, since=since, policy=policy),
                    end="",
                )
            elif args.incident_command == "show":
                print(await show_incident(store, args.id), end="")
            else:
                output = Path(args.output) if args.output else None
                markdown = await export_incident(store, args.id, output)
                if output is None:
                    print(markdown, end="")
                else:
                    print(f"wrote {output}")
            return EXIT_OK
        except IncidentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            await store.close()

    return asyncio.run(go())


if __name__ == "__main__":
    sys.exit(main())
