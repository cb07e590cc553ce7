"""A folder (or several) of runbooks, indexed by id and by the alerts they answer.

Which runbook answers an alert, first match wins:

1. a runbook whose front matter ``alerts`` names the alert (exact, then ignoring case);
2. the alert's ``runbook_url``: its last path segment (or its #fragment), without
   an extension such as ``.md`` or ``.html``, slugified, equal to a runbook's id or
   to its file name's stem (``.../oncall/high-error-rate`` -> ``high-error-rate.md``);
3. the alert name in kebab case (``HighErrorRate`` -> ``high-error-rate``) as id or stem.

Among several runbooks at one level, the one whose file sorts first wins; the
others are still listed by :meth:`RunbookLibrary.matches`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from oncall_console.model import Alert
from oncall_console.paths import shipped
from oncall_console.runbooks.model import Runbook, RunbookError, RunbookProblem, ShiftMoment


def slugify(text: str, fallback: str = "runbook") -> str:
    # The parser (and markdown-it) loads only when a runbook is read, not at start-up.
    from oncall_console.runbooks.parser import slugify as _slugify

    return _slugify(text, fallback)


SUFFIXES = (".md", ".markdown", ".txt")
"""Files a folder scan reads; ``.txt`` because team documents often come as text."""
MAX_FILES = 2000
_URL_EXTENSIONS = re.compile(r"\.(md|markdown|html?|txt)$", re.IGNORECASE)


@dataclass
class RunbookLibrary:
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    """By id; on a duplicate id the file that sorts first is kept."""
    errors: list[RunbookError] = field(default_factory=list)
    """Files that could not be loaded (each names file and line)."""
    problems: list[RunbookProblem] = field(default_factory=list)
    """Problems of the set: duplicate ids, missing folders, alerts claimed twice."""
    _by_alert: dict[str, list[Runbook]] = field(default_factory=dict)
    _by_slug: dict[str, list[Runbook]] = field(default_factory=dict)

    # --- loading

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> RunbookLibrary:
        """Load files, and the runbook files of folders (not of sub-folders; hidden names
        skipped). Never raises: unreadable files land in ``errors``."""
        lib = cls()
        for file in _files(paths, lib.problems):
            try:
                lib.add(_load_file(file))
            except RunbookError as exc:
                lib.errors.append(exc)
        lib._claims()
        return lib

    @classmethod
    def of(cls, runbooks: Iterable[Runbook]) -> RunbookLibrary:
        lib = cls()
        for rb in runbooks:
            lib.add(rb)
        lib._claims()
        return lib

    def resolved(self, change: Callable[[Runbook], Runbook]) -> RunbookLibrary:
        """The same library with every runbook passed through ``change``."""
        lib = RunbookLibrary(errors=list(self.errors), problems=list(self.problems))
        for rb in self.runbooks.values():
            lib.add(change(rb))
        return lib

    def add(self, rb: Runbook) -> None:
        first = self.runbooks.get(rb.id)
        if first is not None:
            self.problems.append(
                RunbookProblem(
                    rb.file,
                    rb.id_line,
                    "error",
                    f"duplicate runbook id {rb.id!r} (also {first.file})",
                )
            )
            return
        self.runbooks[rb.id] = rb
        for name in rb.alerts:
            self._by_alert.setdefault(name, []).append(rb)
        for slug in {slugify(rb.id), slugify(Path(rb.file).stem)}:
            self._by_slug.setdefault(slug, []).append(rb)

    def _claims(self) -> None:
        for name, rbs in sorted(self._by_alert.items()):
            if len(rbs) > 1:
                others = ", ".join(r.id for r in rbs[1:])
                self.problems.append(
                    RunbookProblem(
                        rbs[0].file,
                        0,
                        "warning",
                        f"alert {name!r} is answered by several runbooks: {rbs[0].id} (used), {others}",
                    )
                )

    # --- reading

    def get(self, runbook_id: str) -> Runbook | None:
        return self.runbooks.get(runbook_id)

    def all(self) -> list[Runbook]:
        """Every runbook, by title."""
        return sorted(self.runbooks.values(), key=lambda r: (r.title.lower(), r.id))

    def __len__(self) -> int:
        return len(self.runbooks)

    def for_alert(self, alert: Alert | str, runbook_url: str = "") -> Runbook | None:
        """The runbook that answers ``alert`` (an Alert, or a name plus its runbook_url)."""
        found = self.matches(alert, runbook_url)
        return found[0] if found else None

    def matches(self, alert: Alert | str, runbook_url: str = "") -> list[Runbook]:
        """Every runbook that may answer the alert, best first."""
        if isinstance(alert, Alert):
            name, runbook_url = alert.name, runbook_url or alert.runbook_url
        else:
            name = alert
        out: list[Runbook] = []

        def extend(rbs: Iterable[Runbook]) -> None:
            for r in rbs:
                if not any(r is o for o in out):
                    out.append(r)

        extend(self._by_alert.get(name, ()))
        folded = name.casefold()
        extend(
            r for k, rbs in sorted(self._by_alert.items()) if k.casefold() == folded for r in rbs
        )
        for slug in url_slugs(runbook_url):
            extend(self._by_slug.get(slug, ()))
        if name:
            extend(self._by_slug.get(kebab(name), ()))
        return out

    def for_shift(self, when: ShiftMoment) -> list[Runbook]:
        """The start-of-shift or end-of-shift checklists."""
        return [r for r in self.all() if r.when is when]


def builtin_dir() -> Path:
    """``runbooks/`` of the repo in a checkout, ``oncall_console/_runbooks`` in a wheel
    (its ``demo/`` sub-folder holds the demo platform's runbooks)."""
    return shipped("runbooks")


def url_slugs(url: str) -> list[str]:
    """Candidate runbook ids named by a runbook URL (or path): fragment, then last segment."""
    if not url or len(url) > 2000:
        return []
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found: list[str] = []
    if parts.fragment:
        found.append(slugify(unquote(parts.fragment), ""))
    segments = [s for s in PurePosixPath(unquote(parts.path)).parts if s not in ("/", "")]
    if segments:
        found.append(slugify(_URL_EXTENSIONS.sub("", segments[-1]), ""))
    return [s for s in found if s]


def kebab(name: str) -> str:
    """``HighErrorRate`` -> ``high-error-rate``; ``KubePodCrashLooping`` -> ``kube-pod-crash-looping``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name)
    return slugify(spaced, "")


def _files(paths: Iterable[str | Path], problems: list[RunbookProblem]) -> list[Path]:
    """A folder gives its own runbook files (not sub-folders'); a file gives itself."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        try:
            if p.is_dir():
                out.extend(
                    sorted(
                        f
                        for f in p.iterdir()
                        if f.suffix.lower() in SUFFIXES
                        and not f.name.startswith(".")
                        and f.is_file()
                    )
                )
            elif p.is_file():
                out.append(p)
            else:
                problems.append(RunbookProblem(str(p), 0, "error", "no such file or folder"))
        except OSError as exc:
            problems.append(RunbookProblem(str(p), 0, "error", f"cannot read: {exc.strerror}"))
    if len(out) > MAX_FILES:
        problems.append(
            RunbookProblem(
                str(out[MAX_FILES]),
                0,
                "error",
                f"more than {MAX_FILES} files; the rest are skipped",
            )
        )
        out = out[:MAX_FILES]
    return out


def _load_file(path: Path) -> Runbook:
    from oncall_console.runbooks.parser import load_file

    return load_file(path)
