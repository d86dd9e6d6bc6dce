"""Accompaniment from chord symbols: block-chord voicings and a walking bass.

Everything here is a pure, deterministic function of the chord list, so the same code
renders the accompaniment of the shipped blues corpus and of any generated chord sequence
(chords mid-bar, two per bar, any quality in ``theory.CHORD_QUALITIES``). Both functions
are transposition-equivariant: moving the chords and the range by n moves the result by n.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

from .errors import InputError
from .score import ChordSymbol, Track, notes_array
from .theory import CHORD_QUALITIES, chord_pcs

__all__ = ["block_chords", "chord_voicing", "walking_bass"]

# The scale a bassist walks over each quality (intervals above the root).
_CHORD_SCALES: dict[str, tuple[int, ...]] = {
    "7": (0, 2, 4, 5, 7, 9, 10),  # mixolydian
    "9": (0, 2, 4, 5, 7, 9, 10),
    "maj7": (0, 2, 4, 5, 7, 9, 11),  # major
    "maj": (0, 2, 4, 5, 7, 9, 11),
    "6": (0, 2, 4, 5, 7, 9, 11),
    "m7": (0, 2, 3, 5, 7, 9, 10),  # dorian
    "m": (0, 2, 3, 5, 7, 9, 10),
    "m6": (0, 2, 3, 5, 7, 9, 11),  # melodic minor
    "m7b5": (0, 1, 3, 5, 6, 8, 10),  # locrian
    "dim7": (0, 2, 3, 5, 6, 8, 9, 11),  # whole-half diminished
    "dim": (0, 2, 3, 5, 6, 8, 9, 11),
    "aug": (0, 2, 4, 6, 8, 10),  # whole tone
}


@cache
def chord_voicing(root: int, quality: str, low: int = 50, high: int = 70, center: int = 55) -> tuple[int, ...]:
    """Close-position voicing of a chord inside [low, high], lowest note nearest ``center``.

    One fixed voicing per (root, quality) gives a piano-roll encoding exactly one pattern per
    chord. Chords with five pitch classes (9) drop the fifth so every voicing has 3-4 notes.
    """
    chord_pcs(root, quality)  # validates the quality with a helpful error
    ivs = list(CHORD_QUALITIES[quality])
    if len(ivs) > 4 and 7 in ivs:
        ivs.remove(7)
    pcs = [(root + i) % 12 for i in ivs]
    best: tuple[int, ...] | None = None
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for bottom in range(low - low % 12 + order[0] - 12, high + 1, 12):
            notes = [bottom]
            for pc in order[1:]:
                notes.append(notes[-1] + (pc - notes[-1]) % 12)
            if notes[0] < low or notes[-1] > high:
                continue
            key = (abs(notes[0] - center), notes[0])
            if best is None or key < (abs(best[0] - center), best[0]):
                best = tuple(notes)
    if best is None:
        raise InputError(f"no close voicing of {root}:{quality} fits in MIDI [{low}, {high}]")
    return best


def block_chords(
    chords: list[ChordSymbol],
    tpq: int,
    *,
    beats_per_bar: int = 4,
    low: int = 50,
    high: int = 70,
    name: str = "Chords",
    program: int = 0,
) -> Track:
    """Chord track: each voicing struck at every chord change and every bar start, held to the next.

    Re-striking at the barline keeps the pulse audible and makes every bar self-contained for
    frame encodings that mark note onsets.
    """
    bar = beats_per_bar * tpq
    rows = []
    for c in sorted(chords, key=lambda c: c.start):
        end = c.start + c.duration
        strikes = [c.start] + list(range((c.start // bar + 1) * bar, end, bar))
        voicing = chord_voicing(c.root % 12, c.quality, low, high)
        for t, t_next in zip(strikes, strikes[1:] + [end]):
            vel = 72 if t % bar == 0 else 66
            rows += [(t, t_next - t, p, vel) for p in voicing]
    return Track(name=name, program=program, notes=notes_array(rows))


def _chord_tone_pcs(c: ChordSymbol) -> tuple[int, ...]:
    return tuple((c.root + i) % 12 for i in CHORD_QUALITIES[c.quality])


def _anchor_pc(c: ChordSymbol, bar_in_chord: int) -> int:
    """Bass note on a group's first beat: the bass/root when the chord arrives, later bars
    of a long chord alternate fifth, third and root so the line keeps moving."""
    if bar_in_chord == 0:
        return (c.root if c.bass is None else c.bass) % 12
    ivs = CHORD_QUALITIES[c.quality]
    fifth = next((i for i in ivs if i in (7, 6, 8)), ivs[-1])
    third = next((i for i in ivs if i in (3, 4)), ivs[1])
    return (c.root + (fifth, third, 0)[(bar_in_chord - 1) % 3]) % 12


def _nearest_octave(pc: int, ref: float, center: float, low: int, high: int) -> int:
    cands = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(cands, key=lambda p: (abs(p - ref) + 0.5 * abs(p - center), p))


@lru_cache(maxsize=65536)
def _walk(
    s: int, t: int, k: int, root: int, quality: str, change: bool, variant: int, low: int, high: int
) -> tuple[int, ...]:
    """k quarter notes starting on ``s`` whose last note approaches ``t`` (the next group's
    first note): a Viterbi search over chord/scale tones that favours smooth motion, chord
    tones on the group's strong beats and a chromatic (else diatonic) approach note."""
    if k == 1:
        return (s,)
    cts = {(root + i) % 12 for i in CHORD_QUALITIES[quality]}
    scale = {(root + i) % 12 for i in _CHORD_SCALES.get(quality, CHORD_QUALITIES[quality])} | cts
    pool = np.array([p for p in range(low, high + 1) if p % 12 in scale])
    # Approach candidates: chromatic neighbours first, whole steps as the diatonic fallback.
    appr = [(t - 1, 0.0), (t + 1, 0.0), (t - 2, 0.7), (t + 2, 0.7)]
    appr = [(p, c + (0.3 if (p > t) == bool(variant) else 0.0)) for p, c in appr if low <= p <= high and p != t]
    if not change:  # inside one chord any chord tone near the target is fine too
        appr += [(p, 0.4) for p in pool.tolist() if p % 12 in cts and 0 < abs(p - t) <= 4]
    apitch = np.array([p for p, _ in appr])
    acost = np.array([c for _, c in appr])
    # Ideal contour: a straight line from s to t, or an arch when they are close together.
    up = s + 7 <= high and (not variant or s - 7 < low)
    apex = s + 5 if up else s - 5
    layers = [np.array([s])] + [pool] * (k - 2) + [apitch]
    unary = [np.zeros(1)]
    for j in range(1, k - 1):
        ideal = s + (t - s) * j / (k - 1) if abs(t - s) >= 5 else apex
        ct = np.isin(pool % 12, list(cts))
        weight = 2.5 if j % 2 == 0 else 0.8  # strong beats of the group want chord tones
        unary.append(np.where(ct, 0.0, weight) + 0.35 * np.abs(pool - ideal))
    unary.append(acost)
    cost, back = unary[0], []
    for j in range(1, k):
        prev, cur = layers[j - 1], layers[j]
        step = np.abs(cur[None, :] - prev[:, None])
        pair = step * 0.25 + np.where(step == 0, 5.0, 0.0) + np.where(step > 7, 4.0, 0.0)
        total = cost[:, None] + pair
        arg = total.argmin(axis=0)
        back.append(arg)
        cost = total[arg, np.arange(len(cur))] + unary[j]
    idx = int(cost.argmin())
    line = [int(layers[-1][idx])]
    for j in range(k - 1, 0, -1):
        idx = int(back[j - 1][idx])
        line.append(int(layers[j - 1][idx]))
    return tuple(reversed(line))


def walking_bass(
    chords: list[ChordSymbol],
    tpq: int,
    end: int,
    low: int = 28,
    high: int = 52,
    *,
    beats_per_bar: int = 4,
    name: str = "Bass",
    program: int = 32,
) -> Track:
    """A quarter-note walking bass under ``chords`` from tick 0 to ``end``.

    Each beat belongs to the chord sounding at it (the previous one through gaps). The line
    is cut into groups at chord changes and barlines; a group starts on the chord's root (its
    slash bass if given) when the chord arrives, on the fifth/third in later bars, walks
    through chord and scale tones, and its last beat approaches the next group's first note
    chromatically or by a step. Deterministic: the same chords always give the same line.
    """
    if high - low < 12:
        raise InputError(f"walking bass range [{low}, {high}] is narrower than an octave")
    chords = sorted(chords, key=lambda c: c.start)
    n_beats = -(-end // tpq) if end > 0 else 0
    if not chords or n_beats == 0:
        return Track(name=name, program=program)
    for c in chords:
        chord_pcs(c.root, c.quality)  # validate early, naming the quality
    ticks = np.arange(n_beats) * tpq
    owner = np.maximum(np.searchsorted([c.start for c in chords], ticks, side="right") - 1, 0)
    # Groups of beats: (first beat, length, chord index, bars since the chord arrived).
    groups: list[list[int]] = []
    for b in range(n_beats):
        new_chord = b == 0 or owner[b] != owner[b - 1]
        if new_chord or b % beats_per_bar == 0:
            bar_in = 0 if new_chord else groups[-1][3] + 1
            groups.append([b, 0, int(owner[b]), bar_in])
        groups[-1][1] += 1
    center = low + 0.4 * (high - low)
    anchors, ref = [], center
    for g in groups:
        pitch = _nearest_octave(_anchor_pc(chords[g[2]], g[3]), ref, center, low, high)
        anchors.append(pitch)
        ref = pitch
    rows = []
    for i, (b0, k, ci, _) in enumerate(groups):
        c = chords[ci]
        s = anchors[i]
        if i + 1 < len(groups):
            t, change = anchors[i + 1], groups[i + 1][2] != ci
        else:
            t, change = _nearest_octave(c.root % 12, s, center, low, high), False
        line = _walk(s, t, k, c.root % 12, c.quality, change, i % 2, low, high)
        for j, p in enumerate(line):
            b = b0 + j
            vel = 92 if b % beats_per_bar == 0 else (84 if b % 2 == 0 else 78)
            rows.append((b * tpq, min(tpq, end - b * tpq), p, vel))
    return Track(name=name, program=program, notes=notes_array(rows))
