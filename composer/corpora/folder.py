"""A user's own corpus: a music file or a folder of them, read by extension, the rest reported."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ComposerError, CorpusError

__all__ = ["read_corpus"]

log = logging.getLogger(__name__)


def read_corpus(source) -> tuple[list, list[str], list[tuple[str, str]]]:
    """(scores, their names, [(name, reason) skipped]) from a file or every readable file under a folder.

    Tune books and playlists give one piece each; a broken file or tune is skipped with its
    reason, never the end of the build.
    """
    from ..io import BOOK_READERS, READERS, read_all

    root = Path(source)
    suffixes = set(READERS) | set(BOOK_READERS)
    if root.is_file():
        paths = [root]
    elif root.is_dir():
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
        if not paths:
            raise CorpusError(f"{root}: no music files found ({', '.join(sorted(suffixes))})")
    else:
        raise CorpusError(f"corpus {root} does not exist")
    scores, names, skipped = [], [], []
    for p in paths:
        try:
            pieces = read_all(p)
        except ComposerError as e:
            if root.is_file():  # the whole corpus is this file: its reason is the error (one line)
                raise
            skipped.append((str(p), str(e).removeprefix(f"{p}: ")))
            continue
        for i, score in enumerate(pieces):
            name = str(p) if len(pieces) == 1 else f"{p}#{score.meta.get('x', i + 1)}"
            if score.n_notes == 0 and not score.chords:
                skipped.append((name, "no notes"))
                continue
            scores.append(score)
            names.append(name)
    return scores, names, skipped
