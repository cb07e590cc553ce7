"""What every command shares: exit codes, loading the config or the demo's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall_console.config import LoadedConfig
    from oncall_console.configfile import Sketch

EXIT_OK, EXIT_DEGRADED, EXIT_DOWN, EXIT_USAGE = 0, 1, 2, 2
"""Exit codes: all well; degraded (or not done); down; a usage or config error."""
EXIT_NOT_RECOVERED = 4
"""``action``: it ran, and its target had not recovered when the watch's deadline passed."""


def load_config(path: str | None) -> LoadedConfig:
    from oncall_console.config import discover, load

    return load(discover(path))


def demo_config(
    seed: int, speed: float, read_only: bool = False, start: float | None = None
) -> LoadedConfig:
    from oncall_console.config import from_dict

    data = demo_data(seed, speed)
    if start is not None:
        data["backends"]["demo"]["start"] = start
    if read_only:
        data["console"]["read_only"] = True
    return from_dict(data, filename="<demo>", env={})


def demo_data(seed: int, speed: float) -> dict[str, Any]:
    """The demo's config document (what ``demo_config`` validates)."""
    from oncall_console.backends.demo import demo_config_dict

    data = demo_config_dict(seed=seed, speed=speed)
    data["store"] = {"url": ":memory:"}  # the demo leaves nothing behind
    return data


def demo_sketch() -> Sketch:
    """The demo's first frame, without importing the simulation (a test keeps it true)."""
    from oncall_console.configfile import Sketch

    return Sketch(environment="demo", demo=True)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        import argparse

        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value
