"""Where the files we ship live: the repo's folders in a checkout, the package's in a wheel.

Kept free of imports so that knowing a path never loads a parser.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """``oncall_console/_NAME`` in a wheel, else ``NAME/`` at the top of the checkout."""
    packaged = _PACKAGE / f"_{name}"
    return packaged if packaged.is_dir() else _PACKAGE.parent / name
