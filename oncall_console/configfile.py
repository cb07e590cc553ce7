"""The config file before its schema: finding it, reading the TOML, environment overrides,
the line of a key, and the errors that name them. No pydantic here, so the console can
paint its first frame from a :class:`Sketch` while :mod:`oncall_console.config`
validates the same document (issue #6).
"""

from __future__ import annotations

import copy
import difflib
import getpass
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

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
    column: int | None = None
    """1-based, of the key (or of the character TOML stopped at); None when unknown."""

    def __str__(self) -> str:
        # Keys and file names come from the user's bytes: never print an escape they hold.
        # file:line:column: is what editors and terminals jump to.
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.line and self.column:
            where += f":{self.column}"
        key = f" {self.key}:" if self.key else ""
        return clean(f"{where}:{key} {self.message}", limit=1000)


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def did_you_mean(word: Any, known: Iterable[Any]) -> str:
    """``" (did you mean 'checks'?)"`` when a known name is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unwrap(kind: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` are X."""
    while True:
        origin, args = get_origin(kind), get_args(kind)
        if origin is Annotated:
            kind = args[0]
        elif origin in (Union, UnionType):
            rest = [a for a in args if a is not type(None)]
            if not rest:
                return kind
            kind = rest[0]
        else:
            return kind


def fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (pydantic) model at ``loc`` under ``model``: the keys that
    could have been meant where an unknown one stands ([] when there is no model there)."""
    kind = model
    for part in loc:
        kind = _unwrap(kind)
        fields = getattr(kind, "model_fields", None)
        if isinstance(fields, dict):
            if str(part) not in fields:
                return []
            kind = fields[str(part)].annotation
        elif get_origin(kind) in (dict, list):
            kind = get_args(kind)[-1]
        else:
            return []
    fields = getattr(_unwrap(kind), "model_fields", None)
    return list(fields) if isinstance(fields, dict) else []


def field_docs(model: type) -> dict[str, str]:
    """The docstring written under each field of ``model``, by field name."""
    import ast
    import inspect
    import itertools
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field_node, doc in itertools.pairwise(body):
        if (
            isinstance(field_node, ast.AnnAssign)
            and isinstance(field_node.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            docs[field_node.target.id] = inspect.cleandoc(doc.value.value)
    return docs


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
        # tomllib says "(at line 3, column 7)"; the location moves to the front, as
        # file:line:column:, and the words stay.
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, column = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        problem = Problem(filename, "", f"TOML syntax: {msg}", line, column)
        raise ConfigError([problem]) from None


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


def _overrides(env: Mapping[str, str]) -> list[str]:
    """The variables of ``env`` that override a config key (``ONCALL_A__B``), sorted."""
    return sorted(var for var in env if var.startswith(ENV_PREFIX) and "__" in var)


def apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """``ONCALL_CONSOLE__READ_ONLY=true`` sets ``console.read_only``. Returns key -> var."""
    applied: dict[str, str] = {}
    for var in _overrides(env):
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
    """Finds the line and column of a key path in TOML text, for error messages."""

    _HEADER = re.compile(r"^(\s*\[\[?\s*)([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(
        r"""^(\s*)((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
    )
    _PART = re.compile(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)')

    def __init__(self, text: str) -> None:
        # (key path, line, the column of each part of the path on that line)
        self.entries: list[tuple[tuple[str, ...], int, tuple[int | None, ...]]] = []
        self.lines = text.split("\n")
        table: tuple[str, ...] = ()
        arrays: dict[tuple[str, ...], int] = {}  # [[name]] seen so far: its next index
        # TOML counts "\n" only; splitlines() also splits at \x85 and \u2028 (legal in comments).
        for n, line in enumerate(self.lines, start=1):
            if m := self._HEADER.match(line):
                table, columns = self._split(m.group(2), m.end(1) + 1)
                if m.group(1).rstrip().endswith("[["):  # the nth [[name]] is name.n
                    index = arrays.get(table, 0)
                    arrays[table] = index + 1
                    table, columns = (*table, str(index)), (*columns, columns[-1])
                self.entries.append((table, n, columns))
            elif m := self._KEY.match(line):
                parts, columns = self._split(m.group(2), m.end(1) + 1)
                above: tuple[int | None, ...] = (None,) * len(table)
                self.entries.append((table + parts, n, above + columns))

    @classmethod
    def _split(cls, dotted: str, start: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
        found = list(cls._PART.finditer(dotted))
        parts = tuple(_unescape(a) if a else b or c for a, b, c in (m.groups() for m in found))
        return parts, tuple(start + m.start() for m in found)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        return self.where(loc)[0]

    def where(self, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
        """(line, column) of the key path, or of the longest prefix of it in the file."""
        want = tuple(str(p) for p in loc)
        for size in range(len(want), 0, -1):
            prefix = want[:size]
            for path, n, columns in self.entries:
                if path != prefix:
                    continue
                column = columns[-1] if columns else None
                if size < len(want):  # a key inside an inline table: { interval = 0 }
                    column = self._inline(n, want[size]) or column
                return n, column
            if size == len(want):  # a table named only by its sub-tables: [check.api]
                for path, n, columns in self.entries:
                    if path[:size] == prefix:
                        return n, columns[size - 1]
        return None, None

    def _inline(self, n: int, key: str) -> int | None:
        m = re.search(rf"[{{,]\s*({re.escape(key)}|\"{re.escape(key)}\")\s*=", self.lines[n - 1])
        return m.start(1) + 1 if m else None


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
        env = os.environ if env is None else env
        doc: Mapping[str, Any] = data
        if _overrides(env):
            # Copied only when an override applies: the copy of 200 checks' tables was
            # ~2 ms, twice, before the first frame (issue #14). Nothing here writes doc.
            doc = copy.deepcopy(dict(data))
            apply_env(doc, env)
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
