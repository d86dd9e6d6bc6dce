"""The one in-memory music IR: every reader produces a Score, every writer consumes one.

Time is integer ticks at ``tpq`` ticks per quarter note; seconds exist only through the
tempo map (``Score.seconds``). Notes of a track live in one NumPy structured array
(``NOTE_DTYPE``) so a 10,000-note file is one array, not 10,000 Python objects; ``Note``
is the friendly per-note view for code that edits a few notes by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np

__all__ = [
    "NOTE_DTYPE",
    "Note",
    "Track",
    "Tempo",
    "TimeSignature",
    "KeySignature",
    "ChordSymbol",
    "Score",
    "notes_array",
    "transpose",
    "swing",
    "humanize",
    "quantize",
    "pitch_class_histogram",
]

NOTE_DTYPE = np.dtype(
    [("start", "<i8"), ("duration", "<i8"), ("pitch", "u1"), ("velocity", "u1")]
)


@dataclass(frozen=True)
class Note:
    start: int
    duration: int
    pitch: int
    velocity: int = 80

    @property
    def end(self) -> int:
        return self.start + self.duration


def notes_array(notes: Iterable[Note | tuple] = ()) -> np.ndarray:
    """Build a sorted NOTE_DTYPE array from Notes or (start, duration, pitch, velocity) tuples."""
    rows = [(n.start, n.duration, n.pitch, n.velocity) if isinstance(n, Note) else tuple(n) for n in notes]
    arr = np.array(rows, dtype=NOTE_DTYPE) if rows else np.zeros(0, dtype=NOTE_DTYPE)
    return sort_notes(arr)


def sort_notes(arr: np.ndarray) -> np.ndarray:
    """Notes in canonical order: by start, then pitch, then duration."""
    order = np.lexsort((arr["duration"], arr["pitch"], arr["start"]))
    return arr[order]


@dataclass(eq=False)
class Track:
    """One instrument part. ``program`` is the General MIDI program (0-127)."""

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=NOTE_DTYPE))

    def __post_init__(self) -> None:
        if not isinstance(self.notes, np.ndarray) or self.notes.dtype != NOTE_DTYPE:
            self.notes = notes_array(self.notes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Track):
            return NotImplemented
        return (
            (self.name, self.program, self.is_drum) == (other.name, other.program, other.is_drum)
            and np.array_equal(sort_notes(self.notes), sort_notes(other.notes))
        )

    def __len__(self) -> int:
        return len(self.notes)

    def note_list(self) -> list[Note]:
        return [Note(int(s), int(d), int(p), int(v)) for s, d, p, v in self.notes.tolist()]

    @property
    def end(self) -> int:
        return int((self.notes["start"] + self.notes["duration"]).max()) if len(self.notes) else 0


@dataclass(frozen=True)
class Tempo:
    time: int
    qpm: float  # quarter notes per minute


@dataclass(frozen=True)
class TimeSignature:
    time: int
    numerator: int = 4
    denominator: int = 4

    def bar_ticks(self, tpq: int) -> int:
        return self.numerator * tpq * 4 // self.denominator


@dataclass(frozen=True)
class KeySignature:
    time: int
    tonic: int = 0  # pitch class of the tonic, 0 = C
    mode: str = "major"  # "major" or "minor" (what MIDI can carry)


@dataclass(frozen=True)
class ChordSymbol:
    start: int
    duration: int
    root: int  # pitch class
    quality: str  # e.g. "7", "maj7", "m7", "dim7"
    bass: int | None = None  # pitch class of a slash bass, None = root


@dataclass(eq=True)
class Score:
    tpq: int = 480
    tempos: list[Tempo] = field(default_factory=list)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    key_signatures: list[KeySignature] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    chords: list[ChordSymbol] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def end(self) -> int:
        """Tick of the last note-off (0 for an empty score)."""
        ends = [t.end for t in self.tracks] + [c.start + c.duration for c in self.chords]
        return max(ends, default=0)

    @property
    def n_notes(self) -> int:
        return sum(len(t) for t in self.tracks)

    def track(self, name: str) -> Track:
        """The first track with this name (case-insensitive); KeyError if none."""
        for t in self.tracks:
            if t.name.lower() == name.lower():
                return t
        raise KeyError(name)

    def seconds(self, ticks) -> np.ndarray:
        """Ticks to seconds through the tempo map (120 qpm before the first tempo event)."""
        ticks = np.asarray(ticks, dtype=np.float64)
        tempos = sorted(self.tempos, key=lambda t: t.time)
        if not tempos or tempos[0].time > 0:
            tempos = [Tempo(0, 120.0)] + tempos
        times = np.array([t.time for t in tempos], dtype=np.float64)
        spt = np.array([60.0 / (t.qpm * self.tpq) for t in tempos])  # seconds per tick
        seg_start_sec = np.concatenate([[0.0], np.cumsum(np.diff(times) * spt[:-1])])
        idx = np.searchsorted(times, ticks, side="right") - 1
        return seg_start_sec[idx] + (ticks - times[idx]) * spt[idx]


def transpose(score: Score, semitones: int) -> Score:
    """A new Score moved by ``semitones``; drum tracks, which carry no pitch, stay put."""
    tracks = []
    for t in score.tracks:
        notes = t.notes.copy()
        if not t.is_drum:
            moved = notes["pitch"].astype(np.int64) + semitones
            if len(moved) and (moved.min() < 0 or moved.max() > 127):
                raise ValueError(f"transposing track {t.name!r} by {semitones} leaves the MIDI range")
            notes["pitch"] = moved
        tracks.append(replace(t, notes=notes))
    keys = [replace(k, tonic=(k.tonic + semitones) % 12) for k in score.key_signatures]
    chords = [
        replace(c, root=(c.root + semitones) % 12, bass=None if c.bass is None else (c.bass + semitones) % 12)
        for c in score.chords
    ]
    return replace(score, tracks=tracks, key_signatures=keys, chords=chords, meta=dict(score.meta))


def swing(score: Score, amount: float, grid: int | None = None) -> Score:
    """A new Score with off-beat eighths delayed: amount 0 is straight, 1 is a 2:1 triplet swing.

    Ticks are mapped piecewise-linearly within each beat, so note ends move with the notes.
    """
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"swing must be between 0 and 1, got {amount}")
    g = grid or score.tpq // 2
    delay = round(amount * g / 3)
    if delay == 0:
        return replace(score, tracks=[replace(t, notes=t.notes.copy()) for t in score.tracks], meta=dict(score.meta))

    def warp(x: np.ndarray) -> np.ndarray:
        beat, r = np.divmod(x, 2 * g)
        first = r * (g + delay) // g
        second = g + delay + (r - g) * (g - delay) // g
        return beat * 2 * g + np.where(r < g, first, second)

    tracks = []
    for t in score.tracks:
        notes = t.notes.copy()
        start, end = warp(notes["start"]), warp(notes["start"] + notes["duration"])
        notes["start"], notes["duration"] = start, np.maximum(end - start, 1)
        tracks.append(replace(t, notes=notes))
    return replace(score, tracks=tracks, meta=dict(score.meta, swing=amount))


def humanize(score: Score, amount: float, seed: int = 0) -> Score:
    """A new Score with timing and velocity jitter, as a player would add: ``amount`` 0..1.

    At 1, onsets move by up to a 32nd note (never before 0) and velocities by up to ±16;
    durations keep their ends where they were when possible. Deterministic for a seed.
    """
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"humanize must be between 0 and 1, got {amount}")
    rng = np.random.default_rng(seed)
    tracks = []
    for t in score.tracks:
        notes = t.notes.copy()
        if amount and len(notes):
            shift = np.round(rng.normal(0, amount * score.tpq / 24, len(notes))).astype(np.int64)
            shift = np.clip(shift, -score.tpq // 8, score.tpq // 8)
            start = np.maximum(notes["start"] + shift, 0)
            notes["duration"] = np.maximum(notes["duration"] - (start - notes["start"]), 1)
            notes["start"] = start
            vel = notes["velocity"].astype(np.int64) + np.round(rng.normal(0, amount * 8, len(notes))).astype(np.int64)
            notes["velocity"] = np.clip(vel, 1, 127)
        tracks.append(replace(t, notes=sort_notes(notes)))
    return replace(score, tracks=tracks, meta=dict(score.meta, humanize=amount))


def quantize(score: Score, grid: int) -> Score:
    """A new Score with note starts and ends snapped to multiples of ``grid`` ticks (at least one grid long)."""
    if grid <= 0:
        raise ValueError(f"grid must be positive, got {grid}")
    tracks = []
    for t in score.tracks:
        notes = t.notes.copy()
        start = np.round(notes["start"] / grid).astype(np.int64) * grid
        end = np.round((notes["start"] + notes["duration"]) / grid).astype(np.int64) * grid
        notes["start"], notes["duration"] = start, np.maximum(end - start, grid)
        tracks.append(replace(t, notes=sort_notes(notes)))
    return replace(score, tracks=tracks, meta=dict(score.meta))


def pitch_class_histogram(score: Score) -> np.ndarray:
    """Duration-weighted pitch classes of the pitched tracks (for key finding)."""
    hist = np.zeros(12)
    for t in score.tracks:
        if not t.is_drum and len(t.notes):
            np.add.at(hist, t.notes["pitch"] % 12, t.notes["duration"])
    return hist
