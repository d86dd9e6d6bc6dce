"""A jazz backing from chord symbols: voice-led piano comping, a walking bass, a ride pattern.

Voicings are chosen for the whole progression at once (a Viterbi search over each chord's
close and drop-2 voicings) so consecutive chords move by the fewest semitones, as a pianist's
hands do; ``rootless`` voicings leave the root to the bass (3-5-7-9, 7-9-3-5 and their
relatives), ``shell`` voicings are root, third and seventh. ``root_position`` is the naive
baseline the benchmark compares against. The bass is ``arrange.walking_bass`` over each chord's
nearest ``theory`` quality. Everything is written straight; the pipeline swings it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from itertools import pairwise

import numpy as np

from .arrange import walking_bass
from .harmony import DEGREE_SEMITONES, quality_degrees, simplify
from .score import ChordSymbol, Track, notes_array

__all__ = [
    "PEDAL_HAT",
    "RIDE",
    "comp_track",
    "drum_track",
    "mean_movement",
    "render_backing",
    "root_position",
    "voice_distance",
    "voice_lead",
    "voicing_pcs",
]

RIDE, PEDAL_HAT = 51, 44  # General MIDI drum keys
# Which degrees a pianist keeps first: guide tones, then alterations, then colour, then the rest.
_PRIORITY = ("3", "b3", "4", "2", "b7", "7", "bb7", "6", "#9", "b13", "b9", "#11", "b5", "#5", "b6", "9", "13",
             "11", "5", "1")
_LOW, _HIGH, _CENTER = 48, 77, 62


@lru_cache(maxsize=4096)
def voicing_pcs(root: int, quality: str, kind: str = "rootless") -> tuple[int, ...]:
    """The pitch classes a pianist plays for a chord (3 or 4 of them), most important first.

    Rootless: no root when there are four other tones; a plain seventh or sixth chord gets its
    9th (the standard rootless colour), unless an altered ninth is written. Shell: root, 3rd, 7th.
    """
    d = set(quality_degrees(quality))
    if kind == "shell":
        third = next((x for x in ("3", "b3", "4", "2") if x in d), "5")
        seventh = next((x for x in ("b7", "7", "bb7", "6") if x in d), "5")
        labels = ["1", third, seventh]
    elif kind == "rootless":
        if d & {"b7", "7", "bb7", "6"} and not d & {"9", "b9", "#9", "2"} and "bb7" not in d and "b5" not in d:
            d.add("9")
        labels = [x for x in _PRIORITY if x in d]
        if len([x for x in labels if x != "1"]) >= 4:
            labels = [x for x in labels if x != "1"]
        labels = labels[:4]
    else:
        raise ValueError(f"unknown voicing kind {kind!r} (rootless or shell)")
    out: list[int] = []
    for x in labels:
        pc = (root + DEGREE_SEMITONES[x]) % 12
        if pc not in out:
            out.append(pc)
    return tuple(out)


@lru_cache(maxsize=4096)
def _candidates(pcs: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Close-position inversions and their drop-2 forms inside the comping range."""
    order = sorted(set(pcs))
    out = set()
    for inv in range(len(order)):
        rot = order[inv:] + order[:inv]
        for bottom in range(_LOW - 12 + rot[0] % 12, _HIGH + 1, 12):
            notes = [bottom]
            for pc in rot[1:]:
                notes.append(notes[-1] + (pc - notes[-1]) % 12)
            forms = [notes]
            if len(notes) == 4:
                forms.append(sorted([notes[0], notes[1], notes[3], notes[2] - 12]))
            for f in forms:
                if f[0] >= _LOW and f[-1] <= _HIGH:
                    out.add(tuple(f))
    return tuple(sorted(out))


def voice_distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Semitones moved from voicing a to voicing b: sorted voices paired when both have the same
    number of notes (the optimal pairing on a line), else each note to its nearest neighbour."""
    a, b = sorted(a), sorted(b)
    if len(a) == len(b):
        return float(sum(abs(x - y) for x, y in zip(a, b)))
    near = lambda xs, ys: sum(min(abs(x - y) for y in ys) for x in xs)
    return (near(a, b) + near(b, a)) / 2


def voice_lead(chords: list[tuple[int, str]], kind: str = "rootless") -> list[tuple[int, ...]]:
    """One voicing per chord, minimising total movement plus a pull towards the middle register."""
    if not chords:
        return []
    layers = [_candidates(voicing_pcs(r % 12, q, kind)) for r, q in chords]
    reg = [np.array([0.35 * abs(np.mean(v) - _CENTER) for v in layer]) for layer in layers]
    cost, back = reg[0], []
    for i in range(1, len(layers)):
        if layers[i] == layers[i - 1]:  # the same chord again: stay put
            back.append(np.arange(len(cost)))
            continue
        trans = np.array([[voice_distance(p, c) for c in layers[i]] for p in layers[i - 1]])
        total = cost[:, None] + trans
        arg = total.argmin(axis=0)
        back.append(arg)
        cost = total[arg, np.arange(len(layers[i]))] + reg[i]
    idx = int(cost.argmin())
    out = [layers[-1][idx]]
    for i in range(len(layers) - 1, 0, -1):
        idx = int(back[i - 1][idx])
        out.append(layers[i - 1][idx])
    return out[::-1]


def root_position(root: int, quality: str) -> tuple[int, ...]:
    """The baseline: root, 3rd, 5th, 7th stacked upwards from the root in [48, 59]."""
    d = quality_degrees(quality)
    stack = [x for x in ("1", "3", "b3", "4", "2", "5", "b5", "#5", "b6", "6", "bb7", "b7", "7") if x in d][:4]
    notes = [48 + (root + DEGREE_SEMITONES[stack[0]]) % 12]
    for x in stack[1:]:
        pc = (root + DEGREE_SEMITONES[x]) % 12
        notes.append(notes[-1] + ((pc - notes[-1]) % 12 or 12))
    return tuple(notes)


def mean_movement(voicings: list[tuple[int, ...]]) -> float:
    """Mean semitones moved per chord change (changes to an identical chord symbol included)."""
    steps = [voice_distance(a, b) for a, b in pairwise(voicings)]
    return float(np.mean(steps)) if steps else 0.0


# Extra comping hits per 4/4 bar, in beats, cycled bar by bar: Charleston, beat 3, "and" of 4
# after 2, or only the downbeat.
_EXTRA_44 = ((1.5,), (2.0,), (1.5, 3.0), ())


def comp_track(chords: list[ChordSymbol], tpq: int, beats: int, n_bars: int, kind: str = "rootless") -> Track:
    """Piano comping: each chord struck when it arrives and on each downbeat, plus a rotating
    syncopated figure; every hit uses the chord's voice-led voicing."""
    chords = sorted(chords, key=lambda c: c.start)
    voicings = voice_lead([(c.root, c.quality) for c in chords], kind)
    starts = np.array([c.start for c in chords])
    end = n_bars * beats * tpq
    hits = {c.start for c in chords}
    for b in range(n_bars):
        hits.add(b * beats * tpq)
        for x in _EXTRA_44[b % 4] if beats == 4 else ():
            hits.add(b * beats * tpq + round(x * tpq))
    hits = sorted(h for h in hits if h < end and (not len(starts) or h >= starts[0]))
    # an extra hit never comes right before a chord change: the change is struck instead
    keep = [h for i, h in enumerate(hits) if h in set(starts.tolist()) or i + 1 == len(hits) or hits[i + 1] - h > tpq // 2]
    rows = []
    for i, h in enumerate(keep):
        ci = int(np.searchsorted(starts, h, side="right") - 1)
        nxt = keep[i + 1] if i + 1 < len(keep) else end
        dur = max(min(nxt - h, 3 * tpq // 2), tpq // 4)
        vel = 70 if h % (beats * tpq) == 0 else (66 if h % tpq else 60)
        rows += [(h, dur, p, vel) for p in voicings[ci]]
    return Track("Piano", 0, False, notes_array(rows))


def drum_track(tpq: int, beats: int, n_bars: int) -> Track:
    """Ride on every beat with the skip note after beats 2 and 4 ("ding, ding-a ding, ding-a"),
    pedal hi-hat on 2 and 4 (on 2 and 3 in 3/4)."""
    rows = []
    for b in range(n_bars * beats):
        t, pos = b * tpq, b % beats
        rows.append((t, tpq // 2, RIDE, 84 if pos % 2 else 72))
        if pos % 2 == 1 and (pos + 1 < beats or beats == 4):
            rows.append((t + tpq // 2, tpq // 2, RIDE, 58))
        if pos % 2 == 1 or (beats == 3 and pos == 2):
            rows.append((t, tpq // 2, PEDAL_HAT, 70))
    return Track("Drums", 0, True, notes_array(rows))


def render_backing(chords: list[ChordSymbol], tpq: int, beats: int, n_bars: int, kind: str = "rootless") -> list[Track]:
    """Piano, bass and drums for ``n_bars`` bars of ``beats`` quarter notes under ``chords``."""
    end = n_bars * beats * tpq
    if not chords or end <= 0:
        return []
    simple = [replace(c, quality=simplify(c.quality)) for c in chords]
    bass = walking_bass(simple, tpq, end, beats_per_bar=beats, name="Bass", program=32)
    return [comp_track(chords, tpq, beats, n_bars, kind), bass, drum_track(tpq, beats, n_bars)]
