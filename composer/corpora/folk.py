"""The folk corpus: the ABC tune collections that ship with music21, read by our ABC reader.

About 13,000 tunes: Ryan's Mammoth Collection, O'Neill's 1850, Aird's Airs, the Essen
folksongs, misc folk and a Nottingham file (music21's Josquin masses, not folk, are left out).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

__all__ = ["bundled_abc_paths", "read_folk_corpus", "tune_key"]

log = logging.getLogger(__name__)
EXCLUDE = ("josquin",)


def bundled_abc_paths() -> list[Path]:
    """music21's bundled .abc files (music21 is imported here only)."""
    from music21 import corpus

    paths = [Path(p) for p in corpus.getPaths(fileExtensions=["abc"])]
    return sorted(p for p in paths if not any(x in p.parts for x in EXCLUDE))


def read_folk_corpus(paths=None) -> tuple[list, list[str], list[tuple[str, str]]]:
    """(scores, names 'file#X', [(tune, reason) skipped]) from ABC files (default: the bundled ones)."""
    from ..io.abc import read_abc

    scores, names, skipped = [], [], []
    for p in paths if paths is not None else bundled_abc_paths():
        bad: list = []
        for s in read_abc(p, errors="skip", skipped=bad):
            scores.append(s)
            names.append(f"{Path(p).name}#{s.meta.get('x', len(names))}")
        skipped += [(f"{Path(p).name}#{tune}", why) for tune, why in bad]
    return scores, names, skipped


def tune_key(tokens) -> str:
    """A hash of a tune's tokens: duplicates of one tune share it, so they land in one split."""
    return hashlib.sha1(" ".join(map(str, tokens)).encode()).hexdigest()
