"""A user's folder of MIDI files as a corpus: read what can be read, report the rest."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ComposerError, CorpusError

__all__ = ["read_midi_folder", "MIDI_SUFFIXES"]

log = logging.getLogger(__name__)
MIDI_SUFFIXES = {".mid", ".midi"}


def read_midi_folder(folder) -> tuple[list, list[str], list[tuple[str, str]]]:
    """(scores, their file names, [(file, reason) skipped]) for every MIDI file under ``folder``.

    A broken file is skipped with its reason, never the end of the build.
    """
    from ..io.midi import read_midi

    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"corpus folder {root} does not exist")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not paths:
        raise CorpusError(f"{root}: no .mid or .midi files found")
    scores, names, skipped = [], [], []
    for p in paths:
        try:
            score = read_midi(p)
        except ComposerError as e:
            skipped.append((str(p), str(e).removeprefix(f"{p}: ")))
            continue
        if score.n_notes == 0:
            skipped.append((str(p), "no notes"))
            continue
        scores.append(score)
        names.append(str(p))
    return scores, names, skipped
