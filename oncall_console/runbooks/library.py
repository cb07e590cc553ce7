"""Folders (and files) of runbooks, indexed by id and by the alerts they answer.

Folders are read with their sub-folders (hidden ones and other files skipped, and
said so in ``skipped``). ``_index.md`` / ``index.md`` / ``README.md`` are section pages:
their id is their folder's (``kubernetes`` for ``kubernetes/_index.md``), and no alert
finds them by name. A translated copy (``name.ja.md``, or a file under a language
folder such as ``ja/``, ``content.zh/``, ``runbooks-zh/``) is grouped with the runbook
it translates (id ``name.ja``; :meth:`RunbookLibrary.translations`) rather than being a
duplicate. Two files whose ids come from the same file name in different folders get
their folder in front of the id (``etcd.etcdmembersdown``); an id written in front
matter twice is an error.

Which runbook answers an alert, first match wins:

1. a runbook whose front matter ``alerts`` names the alert (exact, then ignoring case);
2. the alert's ``runbook_url``: its last path segment (or its #fragment), without
   an extension such as ``.md`` or ``.html``, slugified, equal to a runbook's id or
   to its file name's stem (``.../oncall/high-error-rate`` -> ``high-error-rate.md``);
3. the alert name as the file's stem, any case (``KubePodCrashLooping.md``), or in kebab
   case (``HighErrorRate`` -> ``high-error-rate``) as id or stem;
4. a label of the alert that names a runbook (``runbook``, ``runbook_id``).

Among several runbooks at one level, the one whose file sorts first wins; the
others are still listed by :meth:`RunbookLibrary.matches`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
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
MAX_DEPTH = 12
MAX_SKIPPED = 1000
"""At most this many skipped paths are kept for lint to list."""
SECTION_STEMS = ("_index", "index", "readme")
LANGUAGES = frozenset(
    (
        *("ar", "bg", "cs", "da", "de", "el", "es", "fa", "fi", "fr", "he", "hi", "hu", "id"),
        *("it", "ja", "ko", "nl", "no", "pl", "pt", "pt-br", "ro", "ru", "sk", "sv", "th"),
        *("tr", "uk", "vi", "zh", "zh-cn", "zh-hans", "zh-hant", "zh-tw"),
    )
)
"""Language codes that mark a translated copy (``name.ja.md``, ``ja/``, ``content.zh/``)."""
SUFFIX_LANGUAGES = frozenset(
    ("ja", "zh", "zh-cn", "zh-tw", "zh-hans", "zh-hant", "ko", "de", "fr", "es", "pt-br", "ru")
)
"""Those also read at the end of a folder's name (``content.zh``, ``runbooks-ja``)."""
_LANG_SUFFIX = re.compile(r"(?:^|[._-])([a-z]{2}(?:[-_][a-z]{2,4})?)$", re.IGNORECASE)
LABELS = ("runbook", "runbook_id")
"""Alert labels whose value may be a runbook's id."""
_URL_EXTENSIONS = re.compile(r"\.(md|markdown|html?|txt)$", re.IGNORECASE)


@dataclass
class RunbookLibrary:
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    """By id; on a duplicate id the file that sorts first is kept."""
    errors: list[RunbookError] = field(default_factory=list)
    """Files that could not be loaded (each names file and line)."""
    problems: list[RunbookProblem] = field(default_factory=list)
    """Problems of the set: duplicate ids, missing folders, alerts claimed twice."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) of what a folder scan left out: hidden, not Markdown, too deep."""
    sections: set[str] = field(default_factory=set)
    """Ids of section pages (``_index.md``, ``README.md``)."""
    _translations: dict[str, list[str]] = field(default_factory=dict)
    _unnamed: set[str] = field(default_factory=set)
    """Ids found by id only: sections and translations."""
    _by_alert: dict[str, list[Runbook]] = field(default_factory=dict)
    _by_slug: dict[str, list[Runbook]] = field(default_factory=dict)

    # --- loading

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> RunbookLibrary:
        """Load files, and the runbook files of folders and their sub-folders (hidden
        names skipped). Never raises: unreadable files land in ``errors``."""
        lib = cls()
        later: list[tuple[Runbook, str]] = []  # translations: once every original is in
        for file, root in _files(paths, lib.problems, lib.skipped):
            try:
                rb, lang, section = _load_file(file, root)
            except RunbookError as exc:
                lib.errors.append(exc)
                continue
            if lang:
                later.append((rb, lang))
            elif section:
                rb = lib.add(rb, by_name=False, qualify=_folder_slug(file.parent, root))
                lib.sections.add(rb.id)
            else:
                lib.add(rb, qualify=_folder_slug(file, root))
        for rb, lang in later:
            base = lib._original_of(rb)
            if base:
                copy = replace(rb, id=f"{base}.{slugify(lang)}")
                if copy.id not in lib.runbooks:
                    lib._translations.setdefault(base, []).append(copy.id)
                lib.add(copy, by_name=False)
            else:
                lib.add(rb)  # only the translation is here: it is the runbook
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
        lib = RunbookLibrary(
            errors=list(self.errors),
            problems=list(self.problems),
            skipped=list(self.skipped),
            sections=set(self.sections),
        )
        lib._translations = {k: list(v) for k, v in self._translations.items()}
        for rb in self.runbooks.values():
            lib.add(change(rb), by_name=rb.id not in self._unnamed)
        return lib

    def _original_of(self, rb: Runbook) -> str:
        """The id of the runbook ``rb`` translates: the same name beside it (``x.ja.md``
        and ``x.md``), else the first of that name anywhere ("" when there is none)."""
        stem = Path(rb.file).stem
        plain = Path(stem).stem if Path(stem).suffix else stem
        beside = str(Path(rb.file).with_name(plain + Path(rb.file).suffix))
        named = [
            r
            for r in self.runbooks.values()
            if r.id not in self._unnamed and Path(r.file).stem.casefold() == plain.casefold()
        ]
        found = next((r for r in named if r.file == beside), named[0] if named else None)
        if found is None and rb.id in self.runbooks and rb.id not in self._unnamed:
            found = self.runbooks[rb.id]  # an id from front matter
        return found.id if found is not None else ""

    def translations(self, runbook_id: str) -> list[Runbook]:
        """The translated copies of a runbook (each with its language in its id)."""
        return [self.runbooks[t] for t in self._translations.get(runbook_id, ())]

    def add(self, rb: Runbook, *, by_name: bool = True, qualify: str = "") -> Runbook:
        """Index ``rb``; ``by_name`` False: found by id only (sections, translations);
        ``qualify``: the folder to put before an id taken from a file name that is taken."""
        first = self.runbooks.get(rb.id)
        if first is not None and qualify and not rb.id_line:
            rb = replace(rb, id=f"{qualify}.{rb.id}")
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
            return rb
        self.runbooks[rb.id] = rb
        if not by_name:
            self._unnamed.add(rb.id)
            return rb
        for name in rb.alerts:
            self._by_alert.setdefault(name, []).append(rb)
        for slug in {slugify(rb.id), slugify(Path(rb.file).stem)}:
            self._by_slug.setdefault(slug, []).append(rb)
        return rb

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
        """Every runbook, by weight (front matter; none last), then title."""
        return sorted(
            self.runbooks.values(),
            key=lambda r: (r.weight is None, r.weight or 0, r.title.lower(), r.id),
        )

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
            extend(self._by_slug.get(slugify(name, ""), ()))  # KubePodCrashLooping.md
            extend(self._by_slug.get(kebab(name), ()))
        if isinstance(alert, Alert):
            for label in LABELS:
                value = alert.labels.get(label, "")
                found = self.runbooks.get(value) if value else None
                extend([found] if found is not None else self._by_slug.get(slugify(value, "-"), ()))
        return out

    def for_shift(self, when: ShiftMoment) -> list[Runbook]:
        """The start-of-shift or end-of-shift checklists."""
        return [r for r in self.all() if r.when is when]


def builtin_dir() -> Path:
    """``runbooks/`` of the repo in a checkout, ``oncall_console/_runbooks`` in a wheel
    (the demo platform's runbooks are beside it, in ``runbooks-demo/``: folders are read
    with their sub-folders)."""
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


def _files(
    paths: Iterable[str | Path],
    problems: list[RunbookProblem],
    skipped: list[tuple[str, str]],
) -> list[tuple[Path, Path]]:
    """(file, the folder it was found under): a folder gives its runbook files and its
    sub-folders' (hidden names and other files skipped); a file gives itself."""
    out: list[tuple[Path, Path]] = []
    for raw in paths:
        p = Path(raw).expanduser()
        try:
            if p.is_dir():
                out.extend((f, p) for f in _walk(p, skipped))
            elif p.is_file():
                out.append((p, p.parent))
            else:
                problems.append(RunbookProblem(str(p), 0, "error", "no such file or folder"))
        except OSError as exc:
            problems.append(RunbookProblem(str(p), 0, "error", f"cannot read: {exc.strerror}"))
    seen: set[Path] = set()
    unique: list[tuple[Path, Path]] = []
    for f, root in out:  # a file under two given folders is read once
        real = f.resolve()
        if real not in seen:
            seen.add(real)
            unique.append((f, root))
    out = unique
    if len(out) > MAX_FILES:
        problems.append(
            RunbookProblem(
                str(out[MAX_FILES][0]),
                0,
                "error",
                f"more than {MAX_FILES} files; the rest are skipped",
            )
        )
        skipped += [(str(f), f"more than {MAX_FILES} files") for f, _ in out[MAX_FILES:]]
        out = out[:MAX_FILES]
    return out


def _walk(root: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """Runbook files under ``root``, sorted, sub-folders included (not followed links to
    folders: no loops)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, onerror=None, followlinks=False):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        for d in sorted(dirs):
            if d.startswith("."):
                skipped.append((str(here / d), "hidden folder"))
            elif depth >= MAX_DEPTH:
                skipped.append((str(here / d), f"deeper than {MAX_DEPTH} folders"))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < MAX_DEPTH)
        for name in sorted(files):
            f = here / name
            if name.startswith("."):
                continue  # .gitignore, .DS_Store: not worth a line
            if f.suffix.lower() not in SUFFIXES:
                skipped.append((str(f), "not Markdown or text"))
            elif f.is_file():
                found.append(f)
        if len(found) > MAX_FILES:  # a home folder by mistake: stop here, _files says so
            skipped.append((str(here), f"the walk stopped after {MAX_FILES} files"))
            break
    del skipped[MAX_SKIPPED:]
    return sorted(found)


def _folder_slug(file: Path, root: Path) -> str:
    """The folders between ``root`` and ``file``, as one slug (``root``'s name when none)."""
    parts = file.parent.relative_to(root).parts if file.parent.is_relative_to(root) else ()
    return slugify("-".join(parts) or root.name or "root", "root")


def _lang_of(file: Path, root: Path) -> str:
    """The language a translated copy is in: ``name.ja.md``, or a language folder."""
    stem_lang = Path(file.stem).suffix.lstrip(".").lower()
    if stem_lang in LANGUAGES:
        return stem_lang
    rel = file.parent.relative_to(root).parts if file.is_relative_to(root) else ()
    for part in (*rel, root.name):
        code = part.lower().replace("_", "-")
        if code in LANGUAGES and code != "it":  # a ja/ folder; it/ is more often IT's
            return code
        # content.zh/, runbooks-ja/: only the languages docs are commonly translated to,
        # so that service-id/ or say-hi/ are not taken for Indonesian or Hindi.
        m = _LANG_SUFFIX.search(part)
        if m and m.group(1).lower().replace("_", "-") in SUFFIX_LANGUAGES:
            return m.group(1).lower().replace("_", "-")
    return ""


def _load_file(path: Path, root: Path) -> tuple[Runbook, str, bool]:
    """The runbook, its language when it is a translated copy, and whether it is a
    section page (its id is then its folder's)."""
    from oncall_console.runbooks.parser import load_file

    lang = _lang_of(path, root)
    stem = Path(path.stem).stem if lang and Path(path.stem).suffix else path.stem
    section = stem.lower() in SECTION_STEMS
    if section:
        stem = path.parent.name if path.parent != root or not path.parent.name else root.name
    return load_file(path, stem=stem), lang, section
