"""Chord charts: bars of chords on beats, the shape every lead-sheet format shares.

Lead sheets, iReal charts, ``.lab`` files and the ``chords`` tokenizer all think in bars and
beats, while a Score thinks in ticks; ``score_to_chart`` and ``chart_to_score`` are the one
place that converts, so every format quantises the same way:

* chords move to the nearest quarter-note beat (a later chord on the same beat wins);
* a chord equal to the one sounding is dropped (it is held), except on the first beat of a
  section, where a lead sheet writes it again;
* a bar with no chord holds the previous chord; N.C. is not represented (the chord before it
  is held through it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import InputError
from .harmony import Chord, canonical_quality, quality_degrees, quality_pcs
from .score import ChordSymbol, KeySignature, Score, Tempo, TimeSignature
from .theory import KK_MAJOR, KK_MINOR

__all__ = ["SECTION_LABELS", "Chart", "chart_to_score", "estimate_key", "score_to_chart"]

SECTION_LABELS = "ABCD"  # the section letters forms and tokens use


@dataclass
class Chart:
    """``bars[i]`` is a list of (beat, Chord), beats 0-based and increasing; ``sections`` maps a
    bar index to its rehearsal letter; ``key`` is (tonic pitch class, 'major' | 'minor')."""

    bars: list[list[tuple[int, Chord]]] = field(default_factory=list)
    meter: tuple[int, int] = (4, 4)
    sections: dict[int, str] = field(default_factory=dict)
    key: tuple[int, str] | None = None
    title: str = ""
    tempo: float | None = None
    meta: dict = field(default_factory=dict)

    @property
    def beats(self) -> int:
        """Quarter-note beats per bar (6/8 has 3)."""
        n, d = self.meter
        return n * 4 // d

    @property
    def chords(self) -> list[tuple[int, int, Chord]]:
        """(bar, beat, chord) in order."""
        return [(b, pos, c) for b, bar in enumerate(self.bars) for pos, c in bar]

    def transpose(self, n: int) -> Chart:
        bars = [[(pos, c.transpose(n)) for pos, c in bar] for bar in self.bars]
        key = None if self.key is None else ((self.key[0] + n) % 12, self.key[1])
        return replace(self, bars=bars, key=key, sections=dict(self.sections), meta=dict(self.meta))

    def sounding(self) -> list[Chord | None]:
        """The chord sounding on the downbeat of each bar (None before the first chord)."""
        out, cur = [], None
        for bar in self.bars:
            if bar and bar[0][0] == 0:
                cur = bar[0][1]
            out.append(cur)
            if bar:
                cur = bar[-1][1]
        return out


def _meter_beats(numerator: int, denominator: int) -> int:
    if numerator * 4 % denominator or numerator * 4 // denominator < 1:
        raise InputError(f"meter {numerator}/{denominator} is not a whole number of quarter-note beats")
    return numerator * 4 // denominator


def score_to_chart(score: Score) -> Chart:
    """The chord symbols of ``score`` as a chart (see the module docstring for the quantisation)."""
    meters = {(t.numerator, t.denominator) for t in score.time_signatures} or {(4, 4)}
    if len(meters) > 1:
        raise InputError(f"meter changes ({', '.join(f'{n}/{d}' for n, d in sorted(meters))}) are not supported")
    meter = meters.pop()
    beats = _meter_beats(*meter)
    tpq = score.tpq
    slots: dict[int, Chord] = {}
    end_beat = 0
    for c in sorted(score.chords, key=lambda c: c.start):
        quality = canonical_quality(quality_degrees(c.quality))
        bass = None if c.bass is None or c.bass % 12 == c.root % 12 else c.bass % 12
        slots[max(0, round(c.start / tpq))] = Chord(c.root % 12, quality, bass)
        end_beat = max(end_beat, math.ceil((c.start + c.duration) / tpq - 1e-9))
    sections = {int(b): str(label) for b, label in score.meta.get("sections", [])}
    n_bars = max(math.ceil(max(end_beat, max(slots, default=0) + 1) / beats), 0) if slots else 0
    bars: list[list[tuple[int, Chord]]] = [[] for _ in range(n_bars)]
    prev = None
    for b in sorted(slots):
        bar, pos = divmod(b, beats)
        if slots[b] == prev and not (pos == 0 and bar in sections):
            continue
        bars[bar].append((pos, slots[b]))
        prev = slots[b]
    cur = None
    for i, bar in enumerate(bars):  # a section starts with its chord written out
        if i in sections and cur is not None and not (bar and bar[0][0] == 0):
            bar.insert(0, (0, cur))
        if bar:
            cur = bar[-1][1]
    key = (score.key_signatures[0].tonic % 12, score.key_signatures[0].mode) if score.key_signatures else None
    return Chart(bars, meter, {b: s for b, s in sections.items() if b < n_bars}, key,
                 str(score.meta.get("title", "")), score.tempos[0].qpm if score.tempos else None,
                 {k: v for k, v in score.meta.items() if k not in ("title", "sections")})


def chart_to_score(chart: Chart, tpq: int = 480) -> Score:
    """A Score holding the chart's chord symbols (no notes); each chord lasts to the next one
    or to the end of the last bar."""
    beats = _meter_beats(*chart.meter)
    events = [(b * beats + pos, c) for b, pos, c in chart.chords]
    end = len(chart.bars) * beats
    chords = [
        ChordSymbol(t * tpq, ((events[i + 1][0] if i + 1 < len(events) else end) - t) * tpq, c.root, c.quality, c.bass)
        for i, (t, c) in enumerate(events)
    ]
    meta = dict(chart.meta)
    if chart.title:
        meta["title"] = chart.title
    if chart.sections:
        meta["sections"] = sorted([b, s] for b, s in chart.sections.items())
    return Score(
        tpq=tpq,
        tempos=[Tempo(0, float(chart.tempo))] if chart.tempo else [],
        time_signatures=[TimeSignature(0, *chart.meter)],
        key_signatures=[KeySignature(0, *chart.key)] if chart.key else [],
        chords=chords,
        meta=meta,
    )


def estimate_key(chords: list[ChordSymbol], candidates: set | None = None) -> tuple[int, str]:
    """(tonic, mode) of a chord list with no key signature: Krumhansl-Kessler profiles against
    the chords' duration-weighted pitch classes, plus a bonus for a tune ending on its tonic."""
    chords = sorted(chords, key=lambda c: c.start)
    if not chords:
        return 0, "major"
    hist = np.zeros(12)
    for c in chords:
        for pc in quality_pcs(c.root, c.quality):
            hist[pc] += max(c.duration, 1)
    last = chords[-1]
    last_minor = "b3" in quality_degrees(last.quality)
    best, best_score = (0, "major"), -np.inf
    for tonic in range(12):
        for mode, prof in (("major", np.array(KK_MAJOR)), ("minor", np.array(KK_MINOR))):
            if candidates is not None and (tonic, mode) not in candidates:
                continue
            score = np.corrcoef(np.roll(prof, tonic), hist)[0, 1] if hist.std() else 0.0
            if last.root % 12 == tonic:
                score += 0.3 if last_minor == (mode == "minor") else 0.1
            if score > best_score:
                best, best_score = (tonic, mode), score
    return best
