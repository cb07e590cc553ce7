"""The config file before its schema: finding it, reading the TOML, environment overrides,
the line of a key, and the errors that name them. No pydantic here, so the console can
paint its first frame from a :class:`Sketch` while :mod:`oncall_console.config`
validates the same document (issue #6).
"""

from __future__ import annotations

import copy
import getpass
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oncall_console.text import clean

ENV_PREFIX = "ONCALL_"
CONFIG_ENV = "ONCALL_CONSOLE_CONFIG"
MAX_DEPTH = 32
"""Tables and arrays nested deeper than this are refused (no real config comes close,
and the validators that walk them are recursive)."""

_INLINE_SECRET = re.compile(r"(^|_)(password|passwd|token|secret|api_key|apikey)$")


# --- errors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located as precisely as we can."""

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        # Keys and file names come from the user's bytes: never print an escape they hold.
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return clean(f"{where}:{key} {self.message}", limit=1000)


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- discovery and reading ------------------------------------------------------------


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "oncall-console" / "config.toml"


def discover(explicit: str | os.PathLike[str] | None) -> Path:
    """``--config``, then ``$ONCALL_CONSOLE_CONFIG``, then the XDG config dir."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return default_path()


def read_text(path: Path) -> str:
    """The file's text; a missing, unreadable or non-UTF-8 file is a ConfigError."""
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [Problem(str(path), "", "no such file (run 'oncall-console init' to write one)")]
        ) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    try:
        return raw_bytes.decode("utf-8").removeprefix("\ufeff")  # editors on Windows add a BOM
    except UnicodeDecodeError as exc:
        line = raw_bytes[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(str(path), "", "not valid UTF-8", line)]) from None


def parse(text: str, filename: str) -> dict[str, Any]:
    """The TOML document; a syntax error is a ConfigError on its line."""
    try:
        return toml_loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([Problem(filename, "", f"TOML syntax: {msg}", line)]) from None


def toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads``, except that nesting too deep for its recursion is a syntax error."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(
            f"arrays or inline tables nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None


def too_deep(data: Any, limit: int = MAX_DEPTH) -> tuple[Any, ...] | None:
    """The key path of the first value nested deeper than ``limit``, or None (no recursion)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) > limit:
            return loc
        if isinstance(node, dict):
            stack.extend((v, (*loc, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))
    return None


def inline_secrets(data: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Key paths of secrets written inline (``password = "..."``), which are refused."""
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, dict):
                found.extend(inline_secrets(v, (*loc, k)))
            elif isinstance(k, str) and _INLINE_SECRET.search(k) and isinstance(v, str) and v:
                found.append((*loc, k))
    return found


# --- environment overrides ------------------------------------------------------------


def apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """``ONCALL_CONSOLE__READ_ONLY=true`` sets ``console.read_only``. Returns key -> var."""
    applied: dict[str, str] = {}
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        if not all(parts):
            continue
        node = data
        for part in parts[:-1]:
            existing = _find_key(node, part)
            nxt = node.get(existing) if existing else None
            if not isinstance(nxt, dict):
                nxt = {}
                node[existing or part] = nxt
            node = nxt
        leaf = _find_key(node, parts[-1]) or parts[-1]
        node[leaf] = _env_value(env[var])
        applied[".".join([*parts[:-1], leaf])] = var
    return applied


def _find_key(node: dict[str, Any], lowered: str) -> str | None:
    """Env var names cannot hold '-'; match 'API_GATEWAY' to 'api-gateway' too."""
    for k in node:
        if k.lower() == lowered or k.lower().replace("-", "_") == lowered:
            return k
    return None


def _env_value(raw: str) -> Any:
    try:
        return toml_loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


# --- where a key is -------------------------------------------------------------------


def dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _unescape(basic: str) -> str:
    """A quoted key as TOML reads it ("\\u00e9" is "é"), so that its line is found."""
    if "\\" not in basic:
        return basic
    try:
        return str(tomllib.loads(f'k = "{basic}"')["k"])
    except tomllib.TOMLDecodeError:
        return basic


class Locator:
    """Finds the line of a key path in TOML text, for error messages."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
    )

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[tuple[str, ...], int]] = []
        table: tuple[str, ...] = ()
        # TOML counts "\n" only; splitlines() also splits at \x85 and \u2028 (legal in comments).
        for n, line in enumerate(text.split("\n"), start=1):
            if m := self._HEADER.match(line):
                table = self._split(m.group(1))
                self.entries.append((table, n))
            elif m := self._KEY.match(line):
                self.entries.append((table + self._split(m.group(1)), n))

    @staticmethod
    def _split(dotted: str) -> tuple[str, ...]:
        parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)', dotted)
        return tuple(_unescape(a) if a else b or c for a, b, c in parts)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        want = tuple(str(p) for p in loc)
        # The longest prefix of the path that appears in the file wins.
        for size in range(len(want), 0, -1):
            prefix = want[:size]
            for path, n in self.entries:
                if path == prefix:
                    return n
        return None


# --- the first frame's sketch ---------------------------------------------------------


def login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


@dataclass(frozen=True)
class Sketch:
    """What the first frame shows while the config is validated: the look, the badges
    and how much there is to watch, read leniently from the TOML document (a value of
    the wrong type is left at its default here; validation reports it and the console
    stops)."""

    environment: str = "production"
    operator: str = ""
    theme: str = "oncall-dark"
    themes_dir: Path | None = None
    read_only: bool = False
    demo: bool = False
    utc: bool = False
    checks: int = 0
    """How many checks the document names."""
    slis: int = 0
    """How many SLIs it names."""

    @property
    def who(self) -> str:
        return self.operator or login_name()

    @classmethod
    def of(cls, data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Sketch:
        """The sketch of a config document, environment overrides applied (to a copy)."""
        doc = copy.deepcopy(dict(data))
        apply_env(doc, os.environ if env is None else env)
        console = _table(doc.get("console"))
        default = cls()

        def get(key: str, kind: type) -> Any:
            value = console.get(key, getattr(default, key))
            return value if isinstance(value, kind) else getattr(default, key)

        themes_dir = console.get("themes_dir")
        return cls(
            environment=get("environment", str),
            operator=get("operator", str),
            theme=get("theme", str),
            themes_dir=Path(themes_dir) if isinstance(themes_dir, str) else None,
            read_only=get("read_only", bool),
            utc=get("utc", bool),
            checks=len(_table(doc.get("checks"))),
            slis=len(_table(doc.get("slis"))),
        )


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
