"""The commands that open a screen: ``run`` (the default), ``demo``, ``war-room``, ``serve``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from oncall_console.cli.common import (
    demo_config,
    demo_sketch,
    load_config,
)

if TYPE_CHECKING:
    import argparse

    from oncall_console.cli.firstpoll import Job
    from oncall_console.config import LoadedConfig
    from oncall_console.configfile import Sketch


def _open_console(
    sketch: Sketch,
    load: Callable[[], LoadedConfig],
    check: Callable[[LoadedConfig], LoadedConfig] = lambda loaded: loaded,
    *,
    early: tuple[Any, ...] = (),
    job: Job | None = None,
) -> int:
    """The console on a terminal paints the sketch first and validates the config in the
    app's worker (issue #6: first frame); a refused config ends the app, and its error is
    raised here once the terminal is restored, so it is reported as before. The first
    poll runs meanwhile in a child process (issue #14). Without a
    terminal (textual-serve, a pipe) there is no first frame to hurry: validate first.
    ``check`` is what only the console needs (its keys), not the first poll."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        # Forked before Textual is imported: the first poll runs on the other core while
        # this one paints the frame (cli/firstpoll.py, issue #14).
        import gc

        from oncall_console.cli.firstpoll import (
            FIRST_POLL_MAX,
            FirstPoll,
            take_early,
        )

        # Forked already (cli.main's first step) when the arguments were plain; else now.
        # Up to FIRST_POLL_MAX checks (see there).
        first = take_early(*early) if early else None
        if first is None and sketch.checks <= FIRST_POLL_MAX:
            first = FirstPoll.start(job) if job is not None else None
        # Start-up makes objects, not garbage: the collector walking them while Textual
        # and the config are imported costs the first frame; the app collects and
        # freezes the start-up heap a few seconds in, and turns it back on (freeze_heap).
        gc.disable()
        try:
            from oncall_console.ui.app import OncallApp

            app = OncallApp(sketch=sketch, load=lambda: check(load()), first_poll=first)
            app.run()
        finally:
            if first is not None:
                first.close()
    else:
        from oncall_console.engine.api import OnCall
        from oncall_console.ui.app import OncallApp

        app = OncallApp(OnCall.build(check(load())))
        app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return app.return_code or 0


def cmd_run(args: argparse.Namespace) -> int:
    from oncall_console.cli.firstpoll import early_document
    from oncall_console.configfile import Sketch, discover, parse, read_text

    path = discover(args.config)
    early = early_document(str(path))  # read by the first poll's fork, before argparse
    if early is not None:
        text, data = early
    else:
        text = read_text(path)  # a missing file or bad TOML stops us before anything is drawn
        data = parse(text, str(path))
    sketch = Sketch.of(data)

    def load() -> LoadedConfig:
        from oncall_console.config import from_dict

        loaded = from_dict(data, filename=str(path), text=text, path=path)
        _apply_options(loaded, args.read_only, args.theme)
        return loaded

    def keys_checked(loaded: LoadedConfig) -> LoadedConfig:
        # quit = "r" where r is refresh would leave q doing nothing: refused, as by `check`.
        from oncall_console.cli.setup import key_problems
        from oncall_console.configfile import ConfigError

        if problems := key_problems(loaded.config.keys, text, str(path)):
            raise ConfigError(problems)
        return loaded

    from oncall_console.cli.firstpoll import probe_sketch

    sketch = _sketch_with(sketch, args.read_only, args.theme)
    return _open_console(
        sketch, load, keys_checked, early=("run", str(path)), job=probe_sketch(lambda: data, path)
    )


def cmd_demo(args: argparse.Namespace) -> int:
    def load() -> LoadedConfig:
        loaded = demo_config(args.seed, args.speed, args.read_only)
        _apply_options(loaded, args.read_only, args.theme)
        return loaded

    from oncall_console.cli.firstpoll import probe_demo

    sketch = _sketch_with(demo_sketch(), args.read_only, args.theme)
    job = probe_demo(args.seed, args.speed)
    return _open_console(sketch, load, early=("demo", args.seed, args.speed), job=job)


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
