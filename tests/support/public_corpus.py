"""The corpus of real public rules, SLO specs and Alertmanager answers (#17, point 10).

It stays where it is, beside the project (``../shared/corpus``, SOURCES.md names each
file's origin); it is never copied in. Without it a test skips with a message, except
under CI=true, where its absence is a failure.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus(kind: str) -> Path:
    """``../shared/corpus/KIND``; skips (fails under CI=true) when it is absent."""
    folder = CORPUS / kind
    need(folder.is_dir(), f"the public corpus is not at {folder} (see #17)")
    return folder


def corpus_file(kind: str, name: str) -> Path:
    path = corpus(kind) / name
    need(path.is_file(), f"{path} is missing from the public corpus")
    return path
