"""The commands about the config itself: ``check``, ``runbook lint``, ``init``, ``backends``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oncall_console.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    demo_config,
    load_config,
)

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig
    from oncall_console.configfile import Problem


def cmd_check(args: argparse.Namespace) -> int:
    """Every problem of the config at once (file:line:column: key: message), then one
    line: errors (exit 2), ok with warnings, or ok (exit 0)."""
    from oncall_console.config import ConfigError, discover, from_dict
    from oncall_console.configfile import parse, read_text

    path = discover(args.config)
    text = read_text(path)
    data = parse(text, str(path))  # a syntax error: nothing more can be read
    problems: list[Problem] = []
    loaded = None
    try:
        loaded = from_dict(data, filename=str(path), text=text, path=path)
    except ConfigError as exc:
        problems += exc.problems
    keys = data.get("keys")  # with $ONCALL_KEYS__* applied by from_dict
    if isinstance(keys, dict):
        problems += key_problems(keys, text, str(path))
    for problem in sorted(problems, key=lambda p: (p.line or 0, p.column or 0)):
        print(f"error: {problem}", file=sys.stderr)
    if loaded is None or problems:
        print(f"{path}: {len(problems)} error{'s' if len(problems) != 1 else ''}", file=sys.stderr)
        return EXIT_USAGE
    warnings = config_warnings(loaded)
    for warning in warnings:
        print(f"warning: {path}: {warning}", file=sys.stderr)
    runbooks, failed = "", False
    if loaded.runbook_paths:
        count, failed = lint_runbooks(loaded, loaded.runbook_paths)
        runbooks = f", {count} runbooks"
    verdict = "errors" if failed else "ok, with warnings" if warnings else "ok"
    print(
        f"{path}: {verdict} — {len(loaded.backend_options)} backends, "
        f"{len(loaded.checks)} checks, {len(loaded.slis)} SLIs{runbooks}"
    )
    return EXIT_USAGE if failed else EXIT_OK


def key_problems(keys: dict[str, Any], text: str, filename: str) -> list[Problem]:
    """What is wrong with ``[keys]`` (ui/keymap.py), located in the config's text."""
    if not keys:
        return []
    from oncall_console.configfile import Locator, Problem
    from oncall_console.ui.keymap import check

    locator = Locator(text)
    return [
        Problem(filename, f"keys.{bid}", message, *locator.where(("keys", bid)))
        for bid, message in check(keys)
    ]


def config_warnings(loaded: LoadedConfig) -> list[str]:
    """What is valid but likely not meant: a config that watches nothing."""
    from oncall_console import backends
    from oncall_console.backends.base import Capability

    feeds = [
        name
        for name, (kind, _) in loaded.backend_options.items()
        if Capability.ALERTS in backends.load(kind).CAPABILITIES
    ]
    if loaded.checks or loaded.slis or feeds:
        return []
    return [
        "it watches nothing: no [checks.NAME], no [slis.NAME] and no alert feed (an "
        "alertmanager backend): the console would show empty panels"
    ]


def lint_runbooks(
    loaded: LoadedConfig | None, paths: list[Path], *, strict: bool = False, verbose: bool = False
) -> tuple[int, bool]:
    """Print every runbook problem (file:line: severity: message), and with ``verbose``
    the steps found per file and what a folder scan skipped; (runbooks, failed)."""
    from oncall_console.runbooks import RunbookLibrary
    from oncall_console.runbooks.lint import instantiate_backends, lint_library
    from oncall_console.text import clean

    library = RunbookLibrary.load(paths)
    backends = instantiate_backends(loaded) if loaded is not None else None
    problems = lint_library(library, backends)
    if verbose:
        for rb in sorted(library.runbooks.values(), key=lambda r: r.file):
            blocks = sum(1 for _ in rb.blocks())
            what = "section page" if rb.id in library.sections else f"{len(rb.steps)} steps"
            print(clean(f"{rb.file}: {rb.id}: {what}, {blocks} blocks", limit=500))
        for path, why in library.skipped:
            print(clean(f"{path}: skipped: {why}", limit=500))
    for problem in problems:
        print(clean(str(problem), limit=500), file=sys.stderr)
    return len(library), any(p.is_error or strict for p in problems)


def cmd_runbook(args: argparse.Namespace) -> int:
    if args.runbook_command == "show":
        return cmd_runbook_show(args)
    loaded = (
        None
        if args.no_config
        else demo_config(args.seed, args.speed)
        if args.demo
        else _config_or_none(args.config)
    )
    paths = [Path(p) for p in args.paths] or (loaded.runbook_paths if loaded else [])
    if not paths:
        print("error: name runbook files or folders, or set [runbooks] dirs", file=sys.stderr)
        return EXIT_USAGE
    count, failed = lint_runbooks(loaded, paths, strict=args.strict, verbose=True)
    print(f"{count} runbooks: {'problems found' if failed else 'ok'}")
    return EXIT_USAGE if failed else EXIT_OK


def cmd_runbook_show(args: argparse.Namespace) -> int:
    """One runbook as the screen will show it (text, or JSON with --format json)."""
    import json

    from oncall_console.runbooks import RunbookError, RunbookLibrary, load_file
    from oncall_console.runbooks.outline import as_text, outline
    from oncall_console.text import clean

    labels: dict[str, str] = {}
    for item in args.label:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            print(f"error: --label {clean(item, limit=80)!r}: expected NAME=VALUE", file=sys.stderr)
            return EXIT_USAGE
        labels[name.strip()] = value
    path = Path(args.runbook).expanduser()
    try:
        if path.is_file():
            runbook = load_file(path)
        else:
            library = RunbookLibrary.load(load_config(args.config).runbook_paths)
            found = library.get(args.runbook) or library.for_alert(args.runbook)
            if found is None:
                print(
                    f"error: {clean(args.runbook, limit=120)}: no such file, and no runbook "
                    f"with that id or alert in [runbooks] dirs ({len(library)} runbooks)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            runbook = found
    except RunbookError as exc:
        for problem in exc.problems:
            print(clean(str(problem), limit=500), file=sys.stderr)
        return EXIT_USAGE
    data = outline(runbook, labels)
    print(
        json.dumps(data, indent=2, ensure_ascii=False) if args.format == "json" else as_text(data)
    )
    return EXIT_OK


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


def _config_or_none(explicit: str | None) -> LoadedConfig | None:
    """``runbook lint``'s config: the one named, or the default one when it exists; with
    none at the default place, lint goes on as with ``--no-config`` (and says so)."""
    from oncall_console.config import default_path, discover

    path = discover(explicit)
    if path == default_path() and not path.exists():
        print(
            f"note: no config at {path}: checking the format and SQL only, as --no-config "
            "does (name one with --config to check against its backends)",
            file=sys.stderr,
        )
        return None
    return load_config(explicit)
