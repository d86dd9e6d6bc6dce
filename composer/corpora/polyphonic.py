"""The piano-roll benchmark sets of Boulanger-Lewandowski, Bengio & Vincent (2012) and MIDI
folders turned into the same rolls.

A file is one JSON object ``{"train": [...], "valid": [...], ...}``: any split names, each a
list of pieces, each piece a list of frames, each frame a list of the MIDI notes sounding
(21..108, the 88 piano keys). In memory a piece is a (T, 88) uint8 roll, ``roll[t, n - 21] = 1``.
The four published sets are recognised by their SHA-256 (provenance in
``shared/data/polyphonic/README.md``), which gives their time grid (a quarter note for JSB
Chorales, an eighth for the others) and the published test figures the benchmark prints.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ComposerError, CorpusError

__all__ = ["LOW", "KEYS", "KnownSet", "KNOWN_SETS", "PolyCorpus", "read_polyphonic", "to_roll", "from_roll",
           "rolls_from_midi", "write_polyphonic", "is_polyphonic_json", "poly_splits"]

log = logging.getLogger(__name__)

LOW, KEYS = 21, 88  # A0 .. C8


@dataclass(frozen=True)
class KnownSet:
    name: str
    steps_per_beat: int  # frames per quarter note
    published: dict  # model -> test NLL (nats per frame), Boulanger-Lewandowski 2012 / Bai et al. 2018


_BL = ("RNN-RBM", "RNN-NADE (HF)")
KNOWN_SETS: dict[str, KnownSet] = {
    "2ebcb080e1155d91d5fc3dfa8366896e07c404d9f09e0694fa2e8c7e453629fb":
        KnownSet("JSB Chorales", 1, dict(zip(_BL, (6.27, 5.56)), **{"LSTM (Bai)": 8.45, "TCN (Bai)": 8.10})),
    "ad5d2f48a06b5ab4a0e68f351fbe82e8fcab1692a85b988e3d0a3cae44fd9328":
        KnownSet("Nottingham", 2, dict(zip(_BL, (2.39, 2.31)), **{"LSTM (Bai)": 3.29, "TCN (Bai)": 3.07})),
    "94717697fafdeb1d57a2ee2a97c939bfedc74240b31418410b2c22b01af396bb":
        KnownSet("MuseData", 2, dict(zip(_BL, (6.01, 5.60)))),
    "0d84e24a90d5e54d38a02a25af749eb9fbea6ccec9e4a78886a65dbae034bab8":
        KnownSet("Piano-midi.de", 2, dict(zip(_BL, (7.09, 7.05)))),
}


@dataclass
class PolyCorpus:
    """Splits of (T, 88) uint8 rolls, with the set's name and grid when it is a known one."""

    splits: dict[str, list[np.ndarray]]
    source: str
    known: KnownSet | None = None
    counts: dict = field(default_factory=dict)  # split -> (pieces, frames)

    def __post_init__(self) -> None:
        self.counts = {k: (len(v), int(sum(len(r) for r in v))) for k, v in self.splits.items()}

    def split(self, name: str) -> list[np.ndarray]:
        if name not in self.splits:
            raise CorpusError(f"{self.source}: no split {name!r}; splits: {', '.join(self.splits)}")
        return self.splits[name]


def to_roll(piece, where: str = "piece") -> np.ndarray:
    """A piece (list of frames, each a list of MIDI notes) -> (T, 88) uint8 roll."""
    if not isinstance(piece, list) or not all(type(f) is list for f in piece):
        raise CorpusError(f"{where}: a piece must be a list of frames, each a list of MIDI note numbers")
    flat = [n for f in piece for n in f]
    if not all(type(n) is int for n in flat):
        t = next(t for t, f in enumerate(piece) if not all(type(n) is int for n in f))
        raise CorpusError(f"{where}, frame {t}: a frame must be a list of MIDI note numbers")
    notes = np.asarray(flat, dtype=np.int64)
    frame_of = np.repeat(np.arange(len(piece)), [len(f) for f in piece])
    bad = np.flatnonzero((notes < LOW) | (notes >= LOW + KEYS))
    if len(bad):
        raise CorpusError(f"{where}, frame {frame_of[bad[0]]}: note {notes[bad[0]]} is outside the 88 piano keys (21..108)")
    roll = np.zeros((len(piece), KEYS), dtype=np.uint8)
    roll[frame_of, notes - LOW] = 1
    return roll


def from_roll(roll: np.ndarray) -> list[list[int]]:
    """(T, 88) roll -> list of frames of sorted MIDI notes (the JSON layout)."""
    return [(np.flatnonzero(f) + LOW).tolist() for f in np.asarray(roll)]


def is_polyphonic_json(path) -> bool:
    p = Path(path)
    return p.is_file() and p.suffix.lower() == ".json"


def read_polyphonic(path) -> PolyCorpus:
    """Read a piano-roll JSON file; a malformed one is a CorpusError naming split, piece and frame."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise CorpusError(f"{p}: cannot read ({e.strerror})") from None
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorpusError(f"{p}: not JSON ({e})") from None
    if not isinstance(obj, dict) or not obj:
        raise CorpusError(f"{p}: expected an object of splits, e.g. {{\"train\": [...], \"valid\": [...]}}")
    splits = {}
    for name, pieces in obj.items():
        if not isinstance(pieces, list):
            raise CorpusError(f"{p}: split {name!r} must be a list of pieces")
        splits[name] = [to_roll(piece, f"{p}: split {name!r}, piece {i}") for i, piece in enumerate(pieces)]
    known = KNOWN_SETS.get(hashlib.sha256(raw).hexdigest())
    return PolyCorpus(splits, str(p), known)


def write_polyphonic(path, splits: dict[str, list[np.ndarray]]) -> None:
    """Write rolls in the same JSON layout (atomically)."""
    from ..io.atomic import atomic_write

    obj = {name: [from_roll(r) for r in rolls] for name, rolls in splits.items()}
    atomic_write(path, json.dumps(obj, separators=(",", ":")).encode())


def rolls_from_midi(source, *, steps_per_beat: int = 2, normalize_key: bool = True,
                    valid_fraction: float = 0.1, seed: int = 0) -> tuple[dict[str, list[np.ndarray]], list]:
    """A MIDI file or folder -> ({"train", "valid"} rolls at ``steps_per_beat`` frames per quarter
    note, [(file, reason) skipped]); pieces are moved to C major / C minor as in the benchmark sets."""
    from ..data import split_indices
    from ..tokenizers.polyroll import PolyRollTokenizer
    from .folder import read_corpus

    tok = PolyRollTokenizer(steps_per_beat=steps_per_beat, normalize_key=normalize_key)
    scores, names, skipped = read_corpus(source)
    rolls = []
    for name, score in zip(names, scores):
        try:
            rolls.append(tok.encode(score))
        except ComposerError as e:
            skipped.append((name, str(e)))
    if not rolls:
        raise CorpusError(f"{source}: no usable piece ({len(skipped)} skipped)")
    tr, va = split_indices(len(rolls), valid_fraction, seed)
    return {"train": [rolls[i] for i in tr], "valid": [rolls[i] for i in va]}, skipped


def poly_splits(corpus, tokenizer, fit: bool = True):
    """The ``poly`` style's split reader: (tokenizer, {split: rolls}, source) for a piano-roll
    JSON file, None for anything else (a MIDI file or folder takes the generic path). A known
    set's grid goes into a fitted tokenizer, so its chorales are written at the right speed."""
    from dataclasses import replace

    if not is_polyphonic_json(corpus):
        return None
    pc = read_polyphonic(corpus)
    if fit and pc.known is not None:
        tokenizer = type(tokenizer)(replace(tokenizer.config, steps_per_beat=pc.known.steps_per_beat))
    return tokenizer, pc.splits, pc.source + (f" ({pc.known.name})" if pc.known else "")
