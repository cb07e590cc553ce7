"""Where a templated value in a command's argv would stop being data (issue #16, findings 1-2).

A ``{param}`` fills exactly one argv item, so no shell ever splits it. But argv itself can
name something that runs an argument as code: ``sh -c``, ``python3 -c``, ``perl -e``,
``ssh host CMD``, ``awk PROGRAM``, ``watch CMD``; and a wrapper runs its arguments as a
program (``timeout 10 CMD``, ``env sh -c``, ``sudo -u root CMD``). Then an alert summary
holding ``$(id > file)`` is a command. :func:`interpreting_from` finds the first argv
index from which a value would reach such a thing; the config refuses any ``{param}``
there or after it, whatever the parameter's kind (``str`` and ``text`` are free text, and
even a constrained name can be a command or a script).

Simple and strict on purpose:

- a shell or interpreter is found by basename anywhere in argv, not only in argv[0], and
  in the first word of an item (``env -S "sh -c"``); from there on nothing is templated,
  unless it is given a script right away (``python3 /opt/notify.py {message}``: a
  script's arguments are its data, ``sys.argv`` or ``$1``). Any option before the
  script (``-c``, ``-e``, ``-W x``, ``-u``) counts as code being given;
- some always take code or a command line as arguments (``ssh``, ``su``, ``awk``,
  ``sed``, ``jq``, ``busybox``, ``watch``, ``sg``, ``script``, ``parallel`` …): nothing
  templated after them;
- a wrapper's options and the program's place after it are never templated; the
  wrapper's options are read from a table, and an option the table does not know makes
  the rest of argv the program's place (refused, too, when it holds a template);
  ``sudo -s``/``-i``, ``doas -s``, ``flock -c``, ``env -S`` go through a shell;
- ``find -exec`` / ``-execdir`` / ``-ok``, and ``kubectl exec|debug|run … --`` name a
  program in the place after them: never templated either.

This cannot know what every program does with its arguments (``git -c
alias.x=!sh``, ``tar --to-command``, ``rsync -e``): the config is code, and whoever
writes it answers for the programs it names (SECURITY.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

_VERSION = r"(?:[0-9][0-9.]*)?(?:-[a-z0-9]+)?(?:\.exe)?"

SHELLS_AND_INTERPRETERS = re.compile(
    r"^(?:sh|bash|dash|zsh|ksh|mksh|oksh|pdksh|ash|yash|posh|fish|csh|tcsh|rc|es|xonsh|"
    r"elvish|nu|cmd|pwsh|powershell|python|pypy|perl|ruby|irb|node|nodejs|deno|bun|php|"
    r"lua|luajit|tclsh|wish|rscript|julia|elixir|escript|guile|racket|ocaml|groovy|jshell)"
    + _VERSION
    + "$",
    re.IGNORECASE,
)
"""Programs that run a script or code given to them: by basename, a version allowed."""

ALWAYS_CODE = re.compile(
    r"^(?:ssh|rsh|su|sg|eval|busybox|toybox|[gnm]?awk|sed|gsed|jq|yq|expect|osascript|make|"
    r"gmake|watch|script|runuser|capsh|tmux|screen|parallel|dbus-run-session|"
    r"xterm|bwrap|firejail)" + _VERSION + "$",
    re.IGNORECASE,
)
"""Programs whose arguments are (part of) code or a command line handed to a shell."""


@dataclass(frozen=True)
class Wrapper:
    """A program that runs its arguments as a program, and how its options read."""

    takes_value: frozenset[str] = frozenset()
    """Options whose value is the next argv item (or glued: ``-uroot``, ``--user=x``)."""
    flags: frozenset[str] = frozenset()
    """Options that take no value (single letters may be grouped: ``-En``)."""
    shell: frozenset[str] = frozenset()
    """Options that make it hand its arguments to a shell (``sudo -s``, ``flock -c``)."""
    positionals: int = 0
    """Plain arguments before the program (timeout's duration, chroot's root)."""
    assignments: bool = False
    """``NAME=value`` items before the program (env)."""
    split: frozenset[str] = field(default_factory=frozenset)
    """Options whose value is split into the program and its arguments (``env -S``)."""


def _s(names: str) -> frozenset[str]:
    return frozenset(names.split())


WRAPPERS: dict[str, Wrapper] = {
    "env": Wrapper(
        takes_value=_s("-u --unset -C --chdir"),
        flags=_s("-i --ignore-environment -0 --null -v --debug -"),
        split=_s("-S --split-string"),
        assignments=True,
    ),
    "timeout": Wrapper(
        takes_value=_s("-s --signal -k --kill-after"),
        flags=_s("--preserve-status --foreground -v --verbose"),
        positionals=1,
    ),
    "nice": Wrapper(takes_value=_s("-n --adjustment")),
    "ionice": Wrapper(takes_value=_s("-c --class -n --classdata"), flags=_s("-t --ignore")),
    "sudo": Wrapper(
        takes_value=_s(
            "-u --user -g --group -C --close-from -D --chdir -h --host -p --prompt -r --role "
            "-t --type -T --command-timeout -U --other-user -R --chroot"
        ),
        flags=_s(
            "-E --preserve-env -H --set-home -n --non-interactive -P --preserve-groups "
            "-S --stdin -b --background -A --askpass -k --reset-timestamp -B --bell "
            "-N --no-update"
        ),
        shell=_s("-s --shell -i --login"),
    ),
    "doas": Wrapper(takes_value=_s("-u -C"), flags=_s("-n -L"), shell=_s("-s")),
    "stdbuf": Wrapper(takes_value=_s("-i --input -o --output -e --error")),
    "nohup": Wrapper(),
    "setsid": Wrapper(flags=_s("-c --ctty -f --fork -w --wait")),
    "chroot": Wrapper(
        takes_value=_s("--userspec --groups"), flags=_s("--skip-chdir"), positionals=1
    ),
    "flock": Wrapper(
        takes_value=_s("-w --timeout --wait -E --conflict-exit-code"),
        flags=_s(
            "-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close "
            "-F --no-fork --verbose"
        ),
        shell=_s("-c --command"),
        positionals=1,
    ),
    "xargs": Wrapper(
        takes_value=_s(
            "-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs "
            "-s --max-chars --process-slot-var"
        ),
        flags=_s("-0 --null -r --no-run-if-empty -t --verbose -p --interactive -x --exit -o"),
    ),
    "chrt": Wrapper(
        takes_value=_s("-T --sched-runtime -P --sched-period -D --sched-deadline"),
        flags=_s(
            "-a --all-tasks -b --batch -d --deadline -f --fifo -i --idle -o --other "
            "-r --rr -R --reset-on-fork -v --verbose"
        ),
        positionals=1,
    ),
    "taskset": Wrapper(flags=_s("-a --all-tasks -c --cpu-list"), positionals=1),
    "nsenter": Wrapper(
        takes_value=_s("-t --target -S --setuid -G --setgid"),
        flags=_s("-a --all -F --no-fork --preserve-credentials -m -u -i -n -p -U -C -T -r -w"),
    ),
    "unshare": Wrapper(
        takes_value=_s("-S --setuid -G --setgid -R --root -w --wd"),
        flags=_s(
            "-m --mount -u --uts -i --ipc -n --net -p --pid -U --user -C --cgroup -T --time "
            "-f --fork -r --map-root-user -c --map-current-user --kill-child --mount-proc"
        ),
    ),
    "time": Wrapper(
        takes_value=_s("-f --format -o --output"),
        flags=_s("-a --append -p --portability -v --verbose -q --quiet"),
    ),
    "strace": Wrapper(
        takes_value=_s("-o -e -p -s -u -a -b -E -I -O -S -P"),
        flags=_s(
            "-f -ff -c -C -t -tt -ttt -T -v -x -xx -y -yy -q -qq -r -i -k -w -z -Z -d -D -n -F"
        ),
    ),
    "exec": Wrapper(takes_value=_s("-a"), flags=_s("-c -l")),
    "command": Wrapper(flags=_s("-p")),
    "systemd-run": Wrapper(
        takes_value=_s(
            "-u --unit -p --property -E --setenv -H --host -M --machine --description --slice "
            "--uid --gid --nice --working-directory --on-active --on-calendar"
        ),
        flags=_s(
            "--user --system --scope -r --remain-after-exit --wait -P --pipe -t --pty -q "
            "--quiet -G --collect --no-block -S"
        ),
    ),
}
"""Wrappers that run their arguments as a program; how far their options reach."""

EXEC_OPTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
"""find's options after which comes a program."""
REMOTE_EXEC = frozenset({"exec", "debug", "run", "attach"})
"""kubectl / oc subcommands whose program follows ``--``."""


def templated(item: str) -> bool:
    """Holds a ``{param}`` (``{{`` is a literal brace)."""
    return "{" in item.replace("{{", "")


def _name(item: str) -> str:
    words = item.split()
    return os.path.basename(words[0]) if words else ""


@dataclass
class _Scan:
    found: list[tuple[int, str]] = field(default_factory=list)

    def refuse(self, index: int, why: str) -> None:
        self.found.append((index, why))

    def program_at(self, pos: int, tokens: list[tuple[str, int]]) -> None:
        """``tokens[pos]`` is the place of a program: follow wrappers to the real one."""
        while pos < len(tokens):
            word, index = tokens[pos]
            if templated(word):
                before = tokens[pos - 1][0] if pos else "argv"
                self.refuse(index, f"after {_name(before) or before} it is the program to run")
                return
            wrapper = WRAPPERS.get(_name(word))
            if wrapper is None or len(word.split()) > 1:
                return
            program = self._options(_name(word), wrapper, pos + 1, tokens)
            if program is None:
                return
            pos = program

    def _options(
        self, name: str, w: Wrapper, pos: int, tokens: list[tuple[str, int]]
    ) -> int | None:
        """Past the wrapper's options: where its program stands, or None (refused, or no
        program)."""
        positionals = w.positionals
        while pos < len(tokens):
            word, index = tokens[pos]
            if templated(word):
                self.refuse(index, f"{name} would read it as its program or an option")
                return None
            if word == "--":
                return pos + 1
            if (word.startswith("-") and word != "-") or word in w.flags:
                step = self._option(name, w, word, index, pos, tokens)
                if step is None:
                    return None
                pos += step
            elif w.assignments and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word, re.S):
                pos += 1
            elif positionals:
                positionals -= 1
                pos += 1
            else:
                return pos
        return None

    def _option(
        self, name: str, w: Wrapper, word: str, index: int, pos: int, tokens: list[tuple[str, int]]
    ) -> int | None:
        """How many tokens one option takes (1 or 2), or None when refused."""
        flag, eq, glued = word.partition("=")
        if word.startswith("--") or word in w.flags or word in w.takes_value | w.shell | w.split:
            if flag in w.shell:
                self.refuse(index, f"{name} {flag} runs its arguments through a shell")
                return None
            if flag in w.split:
                self._split(name, flag, glued if eq else None, index, pos, tokens)
                return None
            if flag in w.flags or (eq and flag in w.takes_value):
                return 1
            if flag in w.takes_value:
                return 2
        elif re.fullmatch(r"-[0-9]+", word):  # nice -10
            return 1
        else:  # a group of single letters: -En, -uroot, -oL
            for k, letter in enumerate(word[1:], start=1):
                opt = f"-{letter}"
                if opt in w.shell:
                    self.refuse(index, f"{name} {opt} runs its arguments through a shell")
                    return None
                if opt in w.split:
                    self._split(name, opt, word[k + 1 :] or None, index, pos, tokens)
                    return None
                if opt in w.takes_value:
                    return 1 if word[k + 1 :] else 2
                if opt not in w.flags:
                    break
            else:
                return 1
        self.refuse(
            index, f"{name} {word}: an option not known here, so the program's place is not"
        )
        return None

    def _split(
        self,
        name: str,
        flag: str,
        value: str | None,
        index: int,
        pos: int,
        tokens: list[tuple[str, int]],
    ) -> None:
        """``env -S "sh -c …"``: the value is split into the program and its arguments."""
        if value is None:
            if pos + 1 >= len(tokens):
                return
            value, index = tokens[pos + 1]
            pos += 1
        if templated(value):
            self.refuse(index, f"{name} {flag} splits it into a command line")
            return
        words = [(w, index) for w in value.split()]
        rest = words + tokens[pos + 1 :]
        self.interpreters(rest)
        self.program_at(0, rest)

    def interpreters(self, tokens: list[tuple[str, int]]) -> None:
        """A shell or interpreter anywhere: nothing templated from it on, unless it runs a
        script named right after it (whose arguments are data)."""
        for pos, (word, index) in enumerate(tokens):
            if templated(word):
                continue
            name = _name(word)
            if ALWAYS_CODE.match(name):
                self.refuse(index, f"{name} runs its arguments as code or a command line")
            elif SHELLS_AND_INTERPRETERS.match(name):
                nxt = tokens[pos + 1][0] if pos + 1 < len(tokens) else None
                script = (
                    nxt is not None
                    and len(word.split()) == 1
                    and not templated(nxt)
                    and not nxt.startswith("-")
                    and len(nxt.split()) == 1
                )
                if nxt is not None and not script:
                    self.refuse(index, f"{name} is given code or options, not a script")

    def exec_places(self, tokens: list[tuple[str, int]]) -> None:
        """find -exec PROGRAM; kubectl exec POD -- PROGRAM."""
        kubectl = remote = False
        for pos, (word, _) in enumerate(tokens):
            if word in EXEC_OPTIONS:
                self.program_at(pos + 1, tokens)
            if _name(word) in ("kubectl", "oc"):
                kubectl = True
            elif kubectl and word in REMOTE_EXEC:
                remote = True
            elif remote and word == "--":
                self.program_at(pos + 1, tokens)
                remote = False


def interpreting_from(argv: list[str]) -> tuple[int, str] | None:
    """The first argv index from which a templated value would be code or choose the
    program, and why; None when every templated item is a program's data."""
    scan = _Scan()
    tokens = [(item, i) for i, item in enumerate(argv)]
    scan.interpreters(tokens)
    scan.program_at(0, tokens)
    scan.exec_places(tokens)
    return min(scan.found) if scan.found else None
