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

__all__ = ["BOOK_READERS", "BOOK_WRITERS", "READERS", "WRITERS", "output_paths", "read", "read_all", "write",
           "write_all"]

READERS: dict[str, Callable[[str], Score]] = {
    ".mid": midi.read_midi,
    ".midi": midi.read_midi,
}

WRITERS: dict[str, Callable[[Score, str], None]] = {
    ".mid": midi.write_midi,
    ".midi": midi.write_midi,
}


def _read_abc_book(path: str) -> list[Score]:
    from .abc import read_abc

    return read_abc(path)


def _read_abc_first(path: str) -> Score:
    tunes = _read_abc_book(path)
    if not tunes:
        raise InputError(f"{path}: no tune in this ABC file")
    return tunes[0]


def _write_abc(score: Score, path: str) -> None:
    from .abc import write_abc

    write_abc(score, path)


def _read_musicxml(path: str) -> Score:
    from .musicxml import read_musicxml

    return read_musicxml(path)


def _write_musicxml(score: Score, path: str) -> None:
    from .musicxml import write_musicxml

    write_musicxml(score, path)


READERS[".abc"] = _read_abc_first
WRITERS[".abc"] = _write_abc
for _ext in (".musicxml", ".xml", ".mxl"):
    READERS.setdefault(_ext, _read_musicxml)
    WRITERS.setdefault(_ext, _write_musicxml)

# Formats that hold many pieces in one file (tune books, playlists): path -> list of Scores,
# and (list of Scores, path) -> one file.
BOOK_READERS: dict[str, Callable[[str], list[Score]]] = {".abc": _read_abc_book}
BOOK_WRITERS: dict[str, Callable[[list[Score], str], None]] = {".abc": _write_abc}

# Chord charts (the jazz style): lead-sheet text, iReal Pro playlists, Harte .lab, MusicXML lead sheets.
from . import chordtext, ireal, lab, leadsheet  # light: music21 loads inside leadsheet's functions

READERS.update({".txt": chordtext.read_chord_text, ".html": ireal.read_ireal, ".htm": ireal.read_ireal,
                ".lab": lab.read_lab})
WRITERS.update({".txt": chordtext.write_chord_text, ".html": ireal.write_ireal_html, ".lab": lab.write_lab})
BOOK_READERS.update({".txt": chordtext.read_chord_text_all, ".html": ireal.read_ireal_all,
                     ".htm": ireal.read_ireal_all})
for _ext in (".musicxml", ".mxl"):  # MusicXML lead sheets, unless a fuller MusicXML reader is registered
    READERS.setdefault(_ext, leadsheet.read_leadsheet_musicxml)
WRITERS.setdefault(".musicxml", leadsheet.write_leadsheet_musicxml)


def _write_rendered(score: Score, path: str) -> None:
    """Audio out: render with the built-in synthesiser (composer.synth), write atomically."""
    from ..synth import render_to_file

    render_to_file(score, path)


for _ext in (".wav", ".flac", ".ogg"):  # FLAC/OGG say clearly when soundfile is missing
    WRITERS.setdefault(_ext, _write_rendered)


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


def read_all(path: str | os.PathLike) -> list[Score]:
    """Every piece in a file: all tunes of a tune book, or the one piece of a MIDI file."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in BOOK_READERS:
        return BOOK_READERS[ext](os.fspath(path))
    return [read(path)]


def write_all(scores: list[Score], path: str | os.PathLike,
              writer: Callable[[Score, str], None] | None = None) -> list[str]:
    """Write several pieces: one tune book where the format holds many, else name-01.ext, ...

    ``writer`` replaces the extension's writer (e.g. audio rendered with a SoundFont).
    Returns the paths written.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    write_one = writer or write
    if len(scores) == 1:
        write_one(scores[0], path)
        return [path]
    if ext in BOOK_WRITERS and writer is None:
        _pick(WRITERS, path, "write")  # the same error for an unknown extension
        BOOK_WRITERS[ext](scores, path)
        return [path]
    paths = output_paths(len(scores), path)
    for score, p in zip(scores, paths):
        write_one(score, p)
    return paths


def output_paths(count: int, path: str | os.PathLike, book: bool = False) -> list[str]:
    """The files ``write_all`` makes for ``count`` pieces: ``path`` itself for one piece or a tune
    book (``book``: the format holds many and no custom writer), else name-01.ext, name-02.ext, ..."""
    path = os.fspath(path)
    if count == 1 or book:
        return [path]
    (stem, ext), width = os.path.splitext(path), len(str(count))
    return [f"{stem}-{i + 1:0{width}d}{ext}" for i in range(count)]
