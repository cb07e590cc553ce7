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

- ``options.py``: the allowlist, the declared commands and a check's parameters;
- ``process.py``: the plan of one run, its output, and how both read;
- ``backend.py``: :class:`ShellBackend`, which plans, runs and judges.
"""

from oncall_console.backends.shell.backend import ShellBackend

__all__ = ["ShellBackend"]
