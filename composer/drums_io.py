"""Drum parts of any Score as bars of grid steps, and back: the drums encoding's view of MIDI.

Reading finds the drum track (MIDI channel 10, else tracks named like drums on another
channel), folds notes to the 9 classes of ``drumkit``, splits the time line into bars by the
time-signature map and quantises each onset to the nearest grid step, measuring how far it
moved. Ticks carry the beat, so tempo changes need nothing. Each meter section picks its grid:
straight (16ths by default) or, for x/4 meters, 8th triplets when those fit the onsets clearly
better (shuffle, swing). Sections in meters outside ``METERS`` are skipped and counted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from .drumkit import CLASS_PITCH, N_CLASSES, NORMAL, PITCH_CLASS, level_velocity, velocity_levels, word_code
from .errors import TokenizerError
from .score import NOTE_DTYPE, Score, Tempo, TimeSignature, Track, sort_notes

__all__ = [
    "METERS",
    "BarKind",
    "DrumBar",
    "QuantReport",
    "bar_kinds",
    "bars_to_score",
    "drum_notes",
    "extract_bars",
    "is_fill",
]

log = logging.getLogger(__name__)

METERS = ((4, 4), (3, 4), (2, 4), (6, 8), (12, 8))
DRUM_NAME = re.compile(r"drum|\bkit\b|perc|kick|snare|hi-?hat|cymbal|\btoms?\b", re.IGNORECASE)
TRIPLET_GAIN = 0.75  # a section goes triplet when that grid's mean error is below 0.75x the straight one's
_TIMEKEEPERS = (2, 3, 8)  # closed hat, open hat, ride; a crash after the downbeat counts too
_FILLERS = (1, 4, 5, 6)  # snare and toms


@dataclass(frozen=True)
class BarKind:
    """A bar's meter and grid; ``steps`` words fill it."""

    numerator: int
    denominator: int
    triplet: bool
    steps: int

    @property
    def meter(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def marker(self) -> str:
        """The bar token: BAR is a straight 4/4 bar, BAR_T a triplet one, BAR_3/4, BAR_3/4_T, ..."""
        return "BAR" + ("" if self.meter == "4/4" else f"_{self.meter}") + ("_T" if self.triplet else "")

    def ticks(self, tpq: int) -> float:
        return self.numerator * tpq * 4 / self.denominator


def bar_kinds(subdivision: int = 4, triplets: bool = True) -> tuple[BarKind, ...]:
    """Every bar kind: each meter on the straight grid (``subdivision`` steps per quarter), and
    the x/4 meters also on the 8th-triplet grid (3 steps per quarter)."""
    kinds = []
    for num, den in METERS:
        quarters = num * 4 / den
        kinds.append(BarKind(num, den, False, round(quarters * subdivision)))
        if triplets and den == 4:
            kinds.append(BarKind(num, den, True, round(quarters * 3)))
    return tuple(kinds)


@dataclass
class DrumBar:
    kind: BarKind
    levels: np.ndarray  # (steps, 9) uint8: 0 none, 1 ghost, 2 normal, 3 accent
    fill: bool = False

    @property
    def words(self) -> np.ndarray:
        return word_code(self.levels)


@dataclass
class QuantReport:
    """What reading one drum part did: how far onsets moved, what was dropped and why."""

    notes: int = 0  # drum notes folded into the 9 classes
    unmapped: int = 0  # notes outside the GM drum map (dropped)
    merged: int = 0  # hits of one class that landed on one step (kept once, loudest level)
    outside: int = 0  # notes that rounded past the end of their meter section
    mean_error: float = 0.0  # mean |onset - grid| as a fraction of a step
    max_error: float = 0.0
    bars: dict = field(default_factory=dict)  # bar marker -> bars kept
    skipped: dict = field(default_factory=dict)  # meter -> bars skipped

    def line(self) -> str:
        kept = ", ".join(f"{n} {m}" for m, n in self.bars.items()) or "none"
        skip = "; skipped " + ", ".join(f"{n} bars in {m}" for m, n in self.skipped.items()) if self.skipped else ""
        return (f"{self.notes} hits in bars {kept}{skip}; quantisation error mean {100 * self.mean_error:.1f}% "
                f"max {100 * self.max_error:.0f}% of a step; {self.unmapped} unmapped, {self.merged} merged")


def drum_notes(score: Score) -> np.ndarray:
    """All notes of the drum tracks: those on channel 10, else those named like drums."""
    tracks = [t for t in score.tracks if t.is_drum and len(t)]
    if not tracks:
        tracks = [t for t in score.tracks if len(t) and DRUM_NAME.search(t.name or "")]
    if not tracks:
        raise TokenizerError("no drum track (nothing on MIDI channel 10 and no track named like drums)")
    return sort_notes(np.concatenate([t.notes for t in tracks]))


def _sections(score: Score) -> list[tuple[int, float, TimeSignature]]:
    """(start, end, meter) spans of the time-signature map; 4/4 where none is given."""
    by_time = {ts.time: ts for ts in sorted(score.time_signatures, key=lambda t: t.time)}
    if 0 not in by_time:
        by_time[0] = TimeSignature(0, 4, 4)
    times = sorted(by_time)
    return [(t, times[i + 1] if i + 1 < len(times) else np.inf, by_time[t]) for i, t in enumerate(times)]


def _grid_error(local: np.ndarray, step: float) -> np.ndarray:
    """Distance of each onset to its nearest grid step, in steps (0 .. 0.5)."""
    x = local / step
    return np.abs(x - np.floor(x + 0.5))


def _ticks_off(local: np.ndarray, kind: BarKind, tpq: int) -> float:
    """Mean distance in ticks of the onsets to ``kind``'s grid: grids compare on one scale."""
    step = kind.ticks(tpq) / kind.steps
    return float((_grid_error(local, step) * step).mean())


def extract_bars(score: Score, kinds: tuple[BarKind, ...]) -> tuple[list[DrumBar], QuantReport]:
    """The drum part of ``score`` as bars, leading and trailing empty bars trimmed, with a report.

    Raises TokenizerError when there is no drum track or nothing left to encode.
    """
    notes = drum_notes(score)
    cls = PITCH_CLASS[notes["pitch"]]
    rep = QuantReport(unmapped=int((cls < 0).sum()))
    notes, cls = notes[cls >= 0], cls[cls >= 0]
    if not len(notes):
        raise TokenizerError(f"the drum track has no notes in the GM drum map ({rep.unmapped} unmapped)")
    rep.notes = len(notes)
    level = velocity_levels(notes["velocity"])
    onset = notes["start"].astype(np.float64)
    straight = {(k.numerator, k.denominator): k for k in kinds if not k.triplet}
    triplet = {(k.numerator, k.denominator): k for k in kinds if k.triplet}
    slack = score.tpq / 8  # a note up to a 32nd early belongs to the section it anticipates
    bars: list[DrumBar] = []
    errors = []
    last_onset = float(onset.max())
    for t0, t1, ts in _sections(score):
        inside = (onset + slack >= t0) & (onset + slack < t1)
        meter = (ts.numerator, ts.denominator)
        bar_ticks = ts.bar_ticks(score.tpq) or 4 * score.tpq
        if meter not in straight:
            if inside.any():
                name = f"{ts.numerator}/{ts.denominator}"
                span = min(t1, last_onset + slack) - t0
                rep.skipped[name] = rep.skipped.get(name, 0) + int(np.ceil(span / bar_ticks))
            continue
        local = onset[inside] - t0
        kind = straight[meter]
        if meter in triplet and len(local):
            tk = triplet[meter]
            if _ticks_off(local, tk, score.tpq) < TRIPLET_GAIN * _ticks_off(local, kind, score.tpq):
                kind = tk
        step = kind.ticks(score.tpq) / kind.steps
        idx = np.floor(local / step + 0.5).astype(np.int64)
        if np.isfinite(t1):  # a whole section, empty bars (breaks) included
            n_bars = int(np.ceil((t1 - t0) / bar_ticks - 1e-9))
        else:
            n_bars = int(idx.max()) // kind.steps + 1 if len(idx) else 0
        keep = idx < n_bars * kind.steps
        rep.outside += int((~keep).sum())
        errors.append(_grid_error(local, step)[keep])
        grid = np.zeros((n_bars, kind.steps, N_CLASSES), dtype=np.uint8)
        b, p, c, lv = idx[keep] // kind.steps, idx[keep] % kind.steps, cls[inside][keep], level[inside][keep]
        np.maximum.at(grid, (b, p, c), lv.astype(np.uint8))
        rep.merged += int(keep.sum()) - len(set(zip(b.tolist(), p.tolist(), c.tolist())))
        bars += [DrumBar(kind, grid[i]) for i in range(n_bars)]
    nonempty = [i for i, bar in enumerate(bars) if bar.levels.any()]
    if not nonempty:
        raise TokenizerError(f"no drum hits in a supported meter ({', '.join(f'{n}/{d}' for n, d in METERS)}); "
                             f"skipped {rep.skipped}")
    bars = bars[nonempty[0] : nonempty[-1] + 1]
    for bar in bars:
        bar.fill = is_fill(bar.levels)
        rep.bars[bar.kind.marker] = rep.bars.get(bar.kind.marker, 0) + 1
    err = np.concatenate(errors) if errors else np.zeros(0)
    rep.mean_error, rep.max_error = (float(err.mean()), float(err.max())) if len(err) else (0.0, 0.0)
    return bars, rep


def is_fill(levels: np.ndarray) -> bool:
    """A fill, as a drummer hears one: time-keeping (hats, ride, a crash after the downbeat)
    stops for at least the last quarter of the bar, and snare and toms play at least 3
    non-ghost hits there, or 2 tom hits."""
    steps = len(levels)
    hit = levels > 0
    keeps_time = hit[:, _TIMEKEEPERS].any(1)
    keeps_time[1:] |= hit[1:, 7]
    tk = np.flatnonzero(keeps_time)
    tail = levels[(tk[-1] + 1 if len(tk) else 0):]
    if len(tail) < max(1, steps // 4):
        return False
    loud = tail[:, _FILLERS] >= NORMAL
    return bool(loud.sum() >= 3 or (tail[:, 4:7] > 0).sum() >= 2)


def bars_to_score(bars: list[DrumBar], tpq: int = 480, qpm: float = 120.0,
                  rng: np.random.Generator | None = None) -> Score:
    """One GM drum track (channel 10), a 32nd-long note per hit (drums are one-shots; a short
    note keeps repeated hits apart), velocities from the levels (spread within the level with
    ``rng``), a time signature wherever the meter changes."""
    rows, metas, t = [], [], 0.0
    for bar in bars:
        k = bar.kind
        if not metas or (metas[-1].numerator, metas[-1].denominator) != (k.numerator, k.denominator):
            metas.append(TimeSignature(round(t), k.numerator, k.denominator))
        step = k.ticks(tpq) / k.steps
        pos, cls = np.nonzero(bar.levels)
        if len(pos):
            rows.append(np.stack([np.round(t + pos * step).astype(np.int64), cls, bar.levels[pos, cls]], 1))
        t += k.ticks(tpq)
    notes = np.zeros(0, dtype=NOTE_DTYPE)
    if rows:
        arr = np.concatenate(rows)
        notes = np.zeros(len(arr), dtype=NOTE_DTYPE)
        notes["start"], notes["pitch"] = arr[:, 0], np.asarray(CLASS_PITCH)[arr[:, 1]]
        notes["duration"] = max(1, round(tpq / 8))
        notes["velocity"] = level_velocity(arr[:, 1], arr[:, 2], rng)
    return Score(tpq=tpq, tempos=[Tempo(0, float(qpm))], time_signatures=metas or [TimeSignature(0, 4, 4)],
                 tracks=[Track("Drums", 0, True, sort_notes(notes))])
