"""Chord symbols estimated from a MIDI comping track, one decision per beat.

For MIDI files that carry no chord markers: the comping track is the non-drum, non-bass track
with the most notes sounding together; each beat gets the duration-weighted pitch classes it
hears (the last chord struck carries over a beat with no notes) and the bass note on the beat.
A Viterbi pass over (root, quality) templates then scores each beat's fit and charges for every
change, most on weak beats, so the chords change where the harmony does. Rootless voicings
are why the bass matters: F-A-C-E over a D bass is Dm9, not Fmaj7.
"""

from __future__ import annotations

import os

import numpy as np

from ..harmony import quality_pcs
from ..score import ChordSymbol, Score, Track

__all__ = ["TEMPLATE_QUALITIES", "comping_track", "estimate_chords", "read_midi_chords"]

TEMPLATE_QUALITIES = ("maj", "m", "7", "maj7", "m7", "m7b5", "dim7", "6", "m6", "9", "maj9", "m9", "13", "7b9",
                      "7#9", "7alt", "7sus4", "aug", "mmaj7", "69", "m69", "7#11", "7b13", "11", "m11")
# Penalty for changing chord on each beat of a 4/4 bar (other meters: downbeat cheap, rest dear).
_CHANGE_COST = (0.2, 1.5, 0.6, 1.5)


def _is_bass(t: Track) -> bool:
    return 32 <= t.program <= 39 or "bass" in t.name.lower() or (len(t.notes) > 0 and np.median(t.notes["pitch"]) < 48)


def comping_track(score: Score) -> Track | None:
    """The track that plays the chords: most notes per onset among non-drum, non-bass tracks."""
    best, best_poly = None, 1.2
    for t in score.tracks:
        if t.is_drum or not len(t.notes) or _is_bass(t):
            continue
        poly = len(t.notes) / len(np.unique(t.notes["start"]))
        if poly > best_poly:
            best, best_poly = t, poly
    return best


def _unit(x: np.ndarray) -> np.ndarray:
    sums = x.sum(1, keepdims=True)
    return np.divide(x, sums, out=np.zeros_like(x), where=sums > 0)


def _chroma(notes: np.ndarray, n: int, tpq: int, carry: bool) -> np.ndarray:
    """(beats, 12) duration-weighted pitch classes; with ``carry`` a silent beat hears the last chord."""
    start = notes["start"].astype(np.int64)
    end = np.minimum(start + notes["duration"].astype(np.int64), n * tpq)
    keep = end > start
    start, end, pc = start[keep], end[keep], notes["pitch"][keep].astype(np.int64) % 12
    # O(notes + beats), not O(notes x beats): a note adds its part of its first and last beat,
    # and a whole beat to every beat between, through a running sum of differences.
    first, last = start // tpq, (end - 1) // tpq
    out = np.zeros((n + 1, 12))
    one = first == last
    np.add.at(out, (first[one], pc[one]), (end - start)[one])
    f, la, p, s, e = first[~one], last[~one], pc[~one], start[~one], end[~one]
    np.add.at(out, (f, p), (f + 1) * tpq - s)
    np.add.at(out, (la, p), e - la * tpq)
    inner = np.zeros((n + 1, 12))
    np.add.at(inner, (f + 1, p), tpq)
    np.add.at(inner, (la, p), -tpq)
    out = (out + np.cumsum(inner, axis=0))[:n]
    if carry:
        for b in np.flatnonzero(~out.any(axis=1)):
            if b:
                out[b] = out[b - 1] * 0.8
    return out


def _templates() -> tuple[np.ndarray, list[tuple[int, str]]]:
    labels = [(r, q) for q in TEMPLATE_QUALITIES for r in range(12)]
    tpl = np.zeros((len(labels), 12))
    for i, (r, q) in enumerate(labels):
        tpl[i, list(quality_pcs(r, q))] = 1
    return tpl, labels


def estimate_chords(score: Score) -> list[ChordSymbol]:
    """Chord symbols for ``score`` from its comping (and bass) track; [] if it has none."""
    comp = comping_track(score)
    if comp is None:
        return []
    tpq = score.tpq
    beats = score.time_signatures[0].bar_ticks(tpq) // tpq if score.time_signatures else 4
    n = int(-(-max(t.end for t in score.tracks) // tpq))
    chroma = _chroma(comp.notes, n, tpq, carry=True)
    bass = [t for t in score.tracks if not t.is_drum and len(t.notes) and _is_bass(t) and t is not comp]
    low = bass[0].notes if bass else comp.notes[comp.notes["pitch"] < np.median(comp.notes["pitch"])]
    bass_chroma = _chroma(low, n, tpq, carry=False)
    bass_pc = np.where(bass_chroma.any(1), bass_chroma.argmax(1), -1)
    chroma = _unit(chroma) + 0.5 * _unit(bass_chroma)  # the bass is part of what the harmony sounds like
    tpl, labels = _templates()
    w = _unit(chroma)
    size = tpl.sum(1)
    inside = w @ tpl.T  # (beats, states): weight on template tones
    heard = (w > 0.02).astype(float)
    roots = np.array([r for r, _ in labels])
    present = heard @ tpl.T + (1 - heard[:, roots])  # a rootless voicing leaves out the root: no penalty
    emit = inside - 0.8 * (1 - inside) - 0.12 * (size - present)
    # walking bass: the root on strong beats, anything on the others (all beats at once)
    b = np.arange(n)
    strong = (b % beats == 0) | ((beats == 4) & (b % 2 == 0))
    weight = np.where(b % beats == 0, 0.6, np.where(strong, 0.35, 0.1))
    emit += np.where((roots[None, :] == bass_pc[:, None]) & (bass_pc[:, None] >= 0), weight[:, None], 0.0)
    cost = emit[0].copy()
    back = np.zeros((n, len(labels)), dtype=np.int64)
    states = np.arange(len(labels))
    for b in range(1, n):
        pos = b % beats
        change = _CHANGE_COST[pos] if beats == 4 else (0.15 if pos == 0 else 0.8)
        best = int(cost.argmax())
        stay, jump = cost, cost[best] - change
        back[b] = np.where(stay >= jump, states, best)
        cost = np.maximum(stay, jump) + emit[b]
    path = [int(cost.argmax())]
    for b in range(n - 1, 0, -1):
        path.append(int(back[b][path[-1]]))
    path.reverse()
    chords: list[ChordSymbol] = []
    for b, s in enumerate(path):
        if not chroma[b].any():
            continue
        r, q = labels[s]
        if chords and (chords[-1].root, chords[-1].quality) == (r, q):
            last = chords[-1]
            chords[-1] = ChordSymbol(last.start, (b + 1) * tpq - last.start, r, q, last.bass)
        else:
            chords.append(ChordSymbol(b * tpq, tpq, r, q))  # no slash basses: a walking line moves
    return chords


def read_midi_chords(path: str | os.PathLike) -> Score:
    """A MIDI file with its chord markers, or, when it has none, chords estimated per beat."""
    from dataclasses import replace

    from .midi import read_midi

    score = read_midi(path)
    return score if score.chords else replace(score, chords=estimate_chords(score))
