"""The built-in blues corpus: 12-bar choruses composed by rule, after Eck & Schmidhuber (2002).

Eck & Schmidhuber trained an LSTM on 12-bar bebop-style blues choruses in C, eighth-note time
steps (96 per chorus), melodies from the pentatonic/blues scale. We keep that recipe (and its
fixed pitch ranges, so a piano-roll encoding stays small) and go beyond it: several real
progressions, all 12 keys, motifs with repetition and variation, AAB call-and-response form,
phrase endings, accents, a walking bass. Everything is composed in C, then shifted by
``key_offset(key)``; tokenizers undo exactly that shift. See corpora/blues/README.md.
"""

from __future__ import annotations

import json
import time
from bisect import bisect
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache

import numpy as np

from ..arrange import block_chords, walking_bass
from ..errors import CorpusError
from ..score import NOTE_DTYPE, ChordSymbol, KeySignature, Score, Tempo, TimeSignature, Track, transpose
from ..theory import CHORD_QUALITIES, chord_pcs, key_offset, scale_pcs
from . import data_path

__all__ = [
    "STEP",
    "STEPS_PER_CHORUS",
    "blues_stats",
    "generate_blues",
    "generate_song",
    "load_progressions",
]

TPQ = 480
STEP = TPQ // 2  # one eighth note: the corpus grid
STEPS_PER_BAR = 8
STEPS_PER_CHORUS = 12 * STEPS_PER_BAR  # 96
MELODY_RANGE = (62, 82)  # in C, before the key shift
CHORD_RANGE = (50, 70)
BLUES_PCS = scale_pcs(0, "blues")  # C Eb F F# G Bb
PITCHES = [p for p in range(MELODY_RANGE[0], MELODY_RANGE[1] + 1) if p % 12 in BLUES_PCS]
N_IDX = len(PITCHES)  # melody moves in blues-scale steps over these 11 pitches
HOME = [i for i, p in enumerate(PITCHES) if p % 12 in (0, 7)]  # phrase endings: tonic or fifth

# Durations in eighths, sparse (head) vs busy (solo) phrasing: (values, cumulative weights).
_DUR = (1, 2, 3, 4)
_DUR_SPARSE = (0.30, 0.70, 0.85, 1.0)
_DUR_BUSY = (0.72, 0.93, 0.98, 1.0)
_LEAP = (1, 2, 3, 4)
_LEAP_CUM = (0.58, 0.87, 0.97, 1.0)


@cache
def _progressions() -> dict[str, tuple[tuple[int, str], ...]]:
    path = data_path("blues/progressions.json")
    raw = json.loads(path.read_text())
    out = {}
    for name, slots in raw.items():
        if len(slots) != 24:
            raise CorpusError(f"{path}: progression {name!r} has {len(slots)} half-bar slots, expected 24")
        for deg, quality in slots:
            if quality not in CHORD_QUALITIES:
                raise CorpusError(f"{path}: progression {name!r} uses unknown chord quality {quality!r}")
        out[name] = tuple((int(d) % 12, str(q)) for d, q in slots)
    return out


def load_progressions() -> dict[str, list[tuple[int, str]]]:
    """The shipped progressions: name -> 24 half-bar slots of (degree above tonic, quality)."""
    return {k: list(v) for k, v in _progressions().items()}


class _Dice:
    """Uniforms drawn from the song's Generator in blocks: per-note draws stay cheap."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.buf, self.i = rng, rng.random(512), 0

    def u(self) -> float:
        if self.i == len(self.buf):
            self.buf, self.i = self.rng.random(512), 0
        self.i += 1
        return float(self.buf[self.i - 1])

    def pick(self, values: Sequence, cum: Sequence[float]):
        return values[min(bisect(cum, self.u() * cum[-1]), len(values) - 1)]

    def int(self, lo: int, hi: int) -> int:  # inclusive
        return lo + min(int(self.u() * (hi - lo + 1)), hi - lo)


@cache
def _chord_tone_idx(progression: str) -> tuple[tuple[int, ...], ...]:
    """Per half-bar slot: indices into PITCHES that are chord tones (and so in the blues scale)."""
    return tuple(
        tuple(i for i, p in enumerate(PITCHES) if p % 12 in chord_pcs(deg, q))
        for deg, q in _progressions()[progression]
    )


# A motif is a tuple of (onset, duration, step) in eighths; step = blues-scale steps moved
# from the previous note (0 for the first). Realised later against the chords under it.
Motif = tuple[tuple[int, int, int], ...]


def _motif(d: _Dice, length: int, busy: float, fall: float = 0.0) -> Motif:
    """A rhythm filling ``length`` eighths plus a contour with direction momentum.
    ``fall`` > 0 biases the contour downwards (answers fall, calls may rise)."""
    cum = tuple(s + (b - s) * busy for s, b in zip(_DUR_SPARSE, _DUR_BUSY))
    notes, t, direction = [], 0, 1 if d.u() < 0.5 - fall else -1
    while t < length:
        dur = min(d.pick(_DUR, cum), length - t)
        if notes:
            if d.u() > 0.68:
                direction = 1 if d.u() < 0.5 - fall else -1
            step = 0 if d.u() < 0.1 else direction * d.pick(_LEAP, _LEAP_CUM)
        else:
            step = 0
        notes.append((t, dur, step))
        t += dur
        if t < length - 1 and d.u() < 0.10 * (1.2 - busy):
            t += 1  # a short breath inside the phrase
    return tuple(notes)


def _vary(d: _Dice, m: Motif, amount: float, busy: float) -> Motif:
    """Repetition with variation: keep the motif, or re-draw its tail, or re-bar a note."""
    r = d.u()
    if r > amount or len(m) < 2:
        return m
    if r < amount * 0.6:  # new ending, same opening: the classic answer-by-variation
        cut = max(1, len(m) - d.int(1, 2))
        start = m[cut][0]
        length = m[-1][0] + m[-1][1] - start
        tail = _motif(d, length, busy, fall=0.2)
        return m[:cut] + tuple(
            (on + start, dur, st if k else d.pick((-2, -1, 1, 2), (1, 2, 3, 4))) for k, (on, dur, st) in enumerate(tail)
        )
    i = d.int(0, len(m) - 1)  # split one long note into two, or turn one step the other way
    on, dur, st = m[i]
    if dur >= 2:
        half = dur // 2
        return m[:i] + ((on, half, st), (on + half, dur - half, d.pick((-1, 1), (1, 2)))) + m[i + 1 :]
    return tuple((o, du, -s if k == i else s) for k, (o, du, s) in enumerate(m))


def _realise(
    d: _Dice, motif: Motif, at: int, idx: int, cts: tuple[tuple[int, ...], ...], end_home: bool, snap: float = 0.88
) -> list[list[int]]:
    """Place ``motif`` at step ``at`` starting near scale index ``idx``: strong-beat onsets
    move to a nearby chord tone, the last note of a phrase to the tonic or fifth."""
    out = []
    for k, (on, dur, step) in enumerate(motif):
        idx += step
        if idx < 0 or idx >= N_IDX:
            idx = -idx if idx < 0 else 2 * (N_IDX - 1) - idx
        t = at + on
        if t % 4 == 0 and d.u() < snap:
            tones = cts[(t // 4) % 24]
            near = [c for c in tones if abs(c - idx) <= 3]
            if near:
                idx = min(near, key=lambda c: (abs(c - idx), -c * np.sign(step)))
        if end_home and k == len(motif) - 1:
            idx = min(HOME, key=lambda h: abs(h - idx) - (0.9 if PITCHES[h] % 12 == 0 else 0))
        out.append([t, dur, idx])
    return out


def _line(d: _Dice, busy: float, fill: bool) -> list[tuple[int, Motif, int]]:
    """Plan of a 4-bar line: (offset in eighths, motif, ends-phrase flag) segments.
    Either a 1-bar riff stated twice then answered, or a 2-bar call and a shorter response."""
    s0 = d.pick((0, 1, 2), (0.45, 0.8, 1.0))
    plan = []
    if d.u() < 0.5:
        riff = _motif(d, 8 - s0, busy)
        plan += [(s0, riff, 0), (8 + s0, _vary(d, riff, 0.5, busy), 0)]
        plan.append((16, _motif(d, d.int(5, 8) + round(2 * busy), busy, fall=0.25), 1))
    else:
        plan.append((s0, _motif(d, 15 - s0 - d.int(0, 2), busy), 1))
        at = d.pick((16, 18, 20), (0.5, 0.8, 1.0))
        plan.append((at, _motif(d, d.int(5, 9) - (at - 16) // 2, busy, fall=0.3), 1))
    if fill:  # busy lines answer themselves in bar 4 too
        plan.append((26 + d.int(0, 2), _motif(d, 4, busy, fall=-0.2), 0))
    return plan


def _chorus(d: _Dice, progression: str, busy: float, last: bool) -> list[list[int]]:
    """One 12-bar chorus as [step, dur, idx] rows: AAB lyric form.
    Bars 1-4 state a line, 5-8 repeat it adapted to IV7, 9-12 answer and resolve."""
    cts = _chord_tone_idx(progression)
    rows: list[list[int]] = []
    a = _line(d, busy, fill=d.u() < 1.1 * busy - 0.35)
    idx0 = d.int(3, 5) + round(2 * busy * d.u())
    amount = 0.25 + 0.5 * busy
    for line_start, plan in ((0, a), (32, [(o, _vary(d, m, amount, busy), e) for o, m, e in a])):
        idx = idx0
        for off, motif, end in plan:
            seg = _realise(d, motif, line_start + off, idx, cts, bool(end))
            rows += seg
            idx = seg[-1][2] + (d.int(-1, 1) if not end else d.int(0, 2))
    # B: a new idea, varied once, then the resolution on the tonic in bar 11.
    b = _motif(d, 8 - d.pick((0, 1), (0.6, 1.0)), busy, fall=0.1)
    idx = min(N_IDX - 2, idx0 + d.int(0, 2))
    for at, motif, end in ((64 + 8 - b[-1][0] - b[-1][1], b, 0), (72, _vary(d, b, 0.7, busy), 0)):
        seg = _realise(d, motif, at, idx, cts, bool(end))
        rows += seg
        idx = seg[-1][2] + d.int(-2, 0)
    res = _motif(d, d.int(6, 9), busy * 0.6, fall=0.45)
    rows += _realise(d, res, 80, idx, cts, True)
    rows[-1][1] = max(rows[-1][1], 4 if last else 2)
    return rows


def _pickup(d: _Dice, progression: str) -> list[list[int]]:
    """A short busy fill in the last beats of bar 12 that leads into the next chorus."""
    n = d.int(3, 5)
    return _realise(d, _motif(d, n, 1.0, fall=-0.3), 96 - n, d.int(3, 6), _chord_tone_idx(progression), False)


def _melody(d: _Dice, progression: str, choruses: int) -> tuple[np.ndarray, ...]:
    """(steps, durations, pitches, activity per chorus) in C: a head, solo choruses that
    build in activity and, with 3+ choruses, the head again to close, as a jazz set does."""
    head_busy = 0.15 + 0.3 * d.u()
    head = _chorus(d, progression, head_busy, last=choruses == 1)
    plan = [(head, head_busy)]
    n_solo = choruses - 2 if choruses >= 3 else choruses - 1
    for k in range(n_solo):
        busy = min(1.0, max(0.2, 0.35 + 0.65 * (k + 1) / n_solo + 0.25 * (d.u() - 0.5)))
        plan.append((_chorus(d, progression, busy, last=choruses < 3 and k == n_solo - 1), busy))
    if choruses >= 3:
        out = [list(r) for r in head]
        out[-1][1] = max(out[-1][1], 4)
        plan.append((out, head_busy))
    flat: list[tuple[int, int, int]] = []
    for c, (rows, busy) in enumerate(plan):
        if c + 1 < len(plan) and d.u() < 0.3 + 0.6 * busy:
            rows = rows + _pickup(d, progression)
        flat += [(c * STEPS_PER_CHORUS + t, dur, idx) for t, dur, idx in rows]
    flat.sort()
    arr = np.array(flat, dtype=np.int64).reshape(-1, 3)
    steps, idx = arr[:, 0], arr[:, 2]
    nxt = np.append(steps[1:], choruses * STEPS_PER_CHORUS)
    ends = np.minimum(steps + arr[:, 1], nxt)
    keep = ends > steps  # monophonic: a note stops where the next one begins
    busy = np.array([b for _, b in plan])
    return steps[keep], (ends - steps)[keep], np.array(PITCHES)[idx[keep]], busy


def _velocities(d: _Dice, steps: np.ndarray, durs: np.ndarray, pitches: np.ndarray, busy: np.ndarray) -> np.ndarray:
    """Accents on beats 1 and 3, lighter off-beats, higher and longer notes a little louder,
    busier choruses louder, plus a small human jitter; always within 60-110."""
    pos = steps % STEPS_PER_BAR
    accent = np.select([pos == 0, pos == 4, pos % 2 == 0], [12, 8, 3], -4)
    jitter = np.array([d.u() for _ in range(len(steps))]) * 10 - 5
    vel = 72 + accent + 0.6 * (pitches - 72) + 4 * (durs >= 3) + 12 * busy[steps // STEPS_PER_CHORUS] + jitter
    return np.clip(np.round(vel), 60, 110).astype(np.int64)


def _blue_thirds(d: _Dice, notes: list[list[int]], progression: str) -> list[list[int]]:
    """The one licensed exception to the scale: now and then a long Eb on a strong beat of a
    major tonic chord is scooped up to E (Eb for an eighth, then E). Capped at 1.5 % of notes."""
    budget = int(0.015 * len(notes))
    slots = _progressions()[progression]
    out = []
    for t, dur, p, v in notes:
        deg, q = slots[(t // 4) % 24]
        if budget and p % 12 == 3 and dur >= 2 and t % 4 == 0 and deg == 0 and 4 in chord_pcs(0, q) and d.u() < 0.3:
            budget -= 1
            out += [[t, 1, p, v], [t + 1, dur - 1, p + 1, max(60, v - 6)]]
        else:
            out.append([t, dur, p, v])
    return out


def _chord_symbols(slots: Sequence[tuple[int, str]], choruses: int) -> list[ChordSymbol]:
    """One ChordSymbol per chord change (equal neighbouring half-bar slots merge)."""
    half = 4 * STEP
    out: list[ChordSymbol] = []
    for i in range(24 * choruses):
        deg, q = slots[i % 24]
        if out and (out[-1].root, out[-1].quality) == (deg, q):
            out[-1] = replace(out[-1], duration=out[-1].duration + half)
        else:
            out.append(ChordSymbol(i * half, half, deg, q))
    return out


def generate_song(rng: np.random.Generator, key: int, progression_name: str, choruses: int = 6) -> Score:
    """One blues performance of ``choruses`` 12-bar choruses in ``key`` (pitch class 0-11).

    Composed in C (chords in MIDI [50, 70], melody in [62, 82]) and shifted by key_offset(key);
    the walking bass is then laid under the shifted chords in [28, 52] (the same line as
    composing it in C in [28 - o, 52 - o] and shifting, since walking_bass is equivariant).
    """
    progs = _progressions()
    if progression_name not in progs:
        raise CorpusError(f"unknown blues progression {progression_name!r}; valid: {', '.join(progs)}")
    if choruses < 1:
        raise CorpusError(f"a blues song needs at least 1 chorus, got {choruses}")
    d = _Dice(rng)
    qpm = float(4 * d.int(26, 40))  # 104-160 qpm: medium to up-tempo bebop blues
    steps, durs, pitches, busy = _melody(d, progression_name, choruses)
    vel = _velocities(d, steps, durs, pitches, busy)
    rows = _blue_thirds(d, np.stack([steps, durs, pitches, vel], axis=1).tolist(), progression_name)
    mel = np.zeros(len(rows), dtype=NOTE_DTYPE)
    if rows:
        arr = np.array(rows, dtype=np.int64)
        mel["start"], mel["duration"] = arr[:, 0] * STEP, arr[:, 1] * STEP
        mel["pitch"], mel["velocity"] = arr[:, 2], arr[:, 3]
    chords = _chord_symbols(progs[progression_name], choruses)
    score = Score(
        tpq=TPQ,
        tempos=[Tempo(0, qpm)],
        time_signatures=[TimeSignature(0, 4, 4)],
        key_signatures=[KeySignature(0, tonic=0, mode="major")],
        tracks=[block_chords(chords, TPQ, low=CHORD_RANGE[0], high=CHORD_RANGE[1]), Track("Melody", 66, notes=mel)],
        chords=chords,
        meta={"style": "blues", "progression": progression_name, "key": key % 12},
    )
    score = transpose(score, key_offset(key))
    score.tracks.append(walking_bass(score.chords, TPQ, choruses * STEPS_PER_CHORUS * STEP))
    return score


def generate_blues(
    n_songs: int,
    choruses: int = 6,
    seed: int = 0,
    keys: Iterable[int] = range(12),
    progressions: Sequence[str] | None = None,
) -> list[Score]:
    """``n_songs`` blues Scores, deterministic for ``seed``.

    Keys cycle through ``keys`` and progressions rotate against them, so every key meets every
    progression; song i draws from its own Generator (seed, i), so the first songs of a large
    corpus equal a small corpus of the same seed.
    """
    keys = [int(k) % 12 for k in keys]
    names = list(progressions) if progressions is not None else list(_progressions())
    if not keys or not names:
        raise CorpusError("generate_blues needs at least one key and one progression")
    return [
        generate_song(
            np.random.default_rng([seed, i]),
            keys[i % len(keys)],
            names[(i % len(keys) + i // len(keys)) % len(names)],
            choruses,
        )
        for i in range(n_songs)
    ]


def blues_stats(scores: Sequence[Score]) -> dict[str, float]:
    """Corpus statistics of the melodies, measured in C: note counts, silent share of eighth
    steps, share in the blues scale, share of strong-beat onsets on chord tones."""
    n = in_scale = strong = strong_ct = silent = total = 0
    for s in scores:
        mel = s.track("Melody").notes
        o = key_offset(s.meta["key"])
        slots = _progressions()[s.meta["progression"]]
        pitch = mel["pitch"].astype(np.int64) - o
        step = mel["start"] // STEP
        n += len(mel)
        in_scale += int(np.isin(pitch % 12, list(BLUES_PCS)).sum())
        n_steps = int(s.end // STEP)
        sounding = np.zeros(n_steps, bool)
        for a, b in zip(step, (mel["start"] + mel["duration"]) // STEP):
            sounding[a:b] = True
        silent, total = silent + int((~sounding).sum()), total + n_steps
        for t, p in zip(step.tolist(), pitch.tolist()):
            if t % 4 == 0:
                pcs = chord_pcs(*slots[(t // 4) % 24])
                if pcs & BLUES_PCS:
                    strong += 1
                    strong_ct += p % 12 in pcs
    return {
        "songs": len(scores),
        "melody_notes": n,
        "notes_per_chorus": n / max(1, total / STEPS_PER_CHORUS),
        "rest_share": silent / max(1, total),
        "in_scale": in_scale / max(1, n),
        "strong_beat_chord_tones": strong_ct / max(1, strong),
        "all_notes": sum(s.n_notes for s in scores),
    }


if __name__ == "__main__":  # python -m composer.corpora.blues [n_songs] [choruses]
    import sys

    args = [int(a) for a in sys.argv[1:3]]
    t0 = time.perf_counter()
    corpus = generate_blues(*(args or [500]))
    print(f"generated {len(corpus)} songs in {time.perf_counter() - t0:.2f} s")
    for k, v in blues_stats(corpus).items():
        print(f"{k:>24}: {v:.4g}")
