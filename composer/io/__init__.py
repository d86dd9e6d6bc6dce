"""File ⇄ Score: ``read`` and ``write`` pick the format from the file extension.

Each format lives in its own module (``midi.py`` now; ABC, MusicXML and audio later) and
registers its functions in READERS / WRITERS below, so callers never branch on format.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import InputError
from ..score import Score
from . import midi

__all__ = ["READERS", "WRITERS", "read", "write"]

READERS: dict[str, Callable[[str], Score]] = {
    ".mid": midi.read_midi,
    ".midi": midi.read_midi,
}

WRITERS: dict[str, Callable[[Score, str], None]] = {
    ".mid": midi.write_midi,
    ".midi": midi.write_midi,
}


def _pick(table: dict, path: str | os.PathLike, verb: str) -> Callable:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in table:
        what = f"{ext!r} files" if ext else "files without an extension"
        raise InputError(f"{os.fspath(path)}: cannot {verb} {what}; supported: {', '.join(table)}")
    return table[ext]


def read(path: str | os.PathLike) -> Score:
    """Read any supported file into a Score, by extension (case-insensitive)."""
    return _pick(READERS, path, "read")(os.fspath(path))


def write(score: Score, path: str | os.PathLike) -> None:
    """Write ``score`` in the format the extension names; writers are atomic."""
    _pick(WRITERS, path, "write")(score, os.fspath(path))
