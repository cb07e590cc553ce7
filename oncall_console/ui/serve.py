"""``oncall-console serve``: the console (or the war room) in a web browser, via textual-serve.

textual-serve runs a *command* for every browser connection, so each browser gets a
console process of its own, started as the user who runs ``serve``. The page has no
login: that is why only loopback is served unless ``--public`` says otherwise, and why
``--public`` serves read-only consoles only.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from pathlib import Path

EXIT_OK, EXIT_REFUSED = 0, 2
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``serve`` options (shared by ``oncall-console serve`` and ``python -m``)."""
    p.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file for the served console (default: the one 'run' reads)",
    )
    p.add_argument("--demo", action="store_true", help="serve the simulated platform")
    p.add_argument(
        "--war-room", action="store_true", help="serve the read-only wall screen instead"
    )
    p.add_argument(
        "--read-only", action="store_true", help="the served console refuses every action"
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; others need --public)",
    )
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument(
        "--public",
        action="store_true",
        help=(
            "allow a non-loopback --host. The page has no login and each browser gets a "
            "console running as you, so anyone who can reach the port sees your platform: "
            "read-only only (--read-only or --war-room), and put an authenticating proxy in front"
        ),
    )
    p.add_argument(
        "--behind-auth",
        action="store_true",
        help=(
            "say that an authenticating proxy stands in front of --public (the page has no "
            "login of its own); --public refuses to start without it"
        ),
    )
    p.add_argument("--title", default=None, help="the browser tab's title")


def command_args(args: argparse.Namespace) -> list[str]:
    """The ``oncall-console`` arguments each browser connection runs."""
    config = ["--config", str(Path(args.config).expanduser().resolve())] if args.config else []
    if args.war_room:
        return ["war-room", *(["--demo"] if args.demo else config)]
    read_only = ["--read-only"] if args.read_only else []
    if args.demo:
        return ["demo", *read_only]
    return ["run", *config, *read_only]


def refusal(args: argparse.Namespace) -> str | None:
    """Why these options are not served, in one line; None when they are fine."""
    if not is_loopback(args.host) and not args.public:
        return (
            f"error: refusing to serve on {args.host}: the page has no login, so anyone on that "
            "network would get your console; use 127.0.0.1, or add --public (read-only only)"
        )
    if args.public and not (args.read_only or args.war_room):
        return (
            "error: --public serves read-only consoles only (the page has no login); "
            "add --read-only or --war-room"
        )
    if args.public and not getattr(args, "behind_auth", False):
        return (
            "error: --public needs an authenticating proxy in front (the page has no login: "
            "anyone who reaches the port sees your platform); put one there and add "
            "--behind-auth to say so"
        )
    return None


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def serve(command_args: list[str], host: str, port: int, title: str) -> None:
    """Serve ``oncall-console <command_args>`` until interrupted (SIGINT / SIGTERM)."""
    from textual_serve.server import Server

    # textual-serve hands the command to the shell: quote every argument.
    command = shlex.join([sys.executable, "-m", "oncall_console", *command_args])
    bare = host.strip("[]")
    url_host = f"[{bare}]" if ":" in bare else bare
    server = Server(
        command, host=bare, port=port, title=title, public_url=f"http://{url_host}:{port}"
    )
    server.serve()


def run_from_args(args: argparse.Namespace) -> int:
    problem = refusal(args)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_REFUSED
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        print(
            "error: serving needs textual-serve: pip install 'textual-serve>=1.1'", file=sys.stderr
        )
        return EXIT_REFUSED
    what = "war room" if args.war_room else "console"
    title = args.title or f"oncall-console {what}{' (demo)' if args.demo else ''}"
    try:
        serve(command_args(args), args.host, args.port, title)
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return EXIT_OK


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is between 1 and 65535")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="oncall-console serve", description="Serve the console to a web browser."
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
