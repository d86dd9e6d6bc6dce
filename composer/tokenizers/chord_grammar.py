"""Forms for chord progressions, and the grammar that makes the sampler keep them.

A form is a list of sections, ``[("A", 8), ("A", 8), ("B", 8), ("A", 8)]``, written ``AABA``
(bars split evenly) or ``A8A8B8A8``. The grammar (``ChordGrammar``, a ``sample.Grammar``)
enforces, token by token:

* the token order ``_START_ Key_ Meter_`` then, per section, ``Sec_X |`` and bars, then ``_END_``;
* every bar's chords on increasing beats of the meter, no chord restated while it sounds
  (except on a section's first downbeat, where every section names its chord);
* the bar count of every section, hence of the tune;
* a repeated section letter repeats: it copies the first section of that letter bar for bar,
  except its last two bars (one for sections under 4 bars) - its *ending*, as a first and a
  second ending differ on a lead sheet;
* a cadence at every section end, in C: either the section's last chord is a dominant of C
  (G7, its tritone substitute Db7 or the backdoor Bb7, any colour or alteration) - a half
  cadence that leads back home - or its last bar starts on a tonic chord (root C, anything
  but diminished; C7 counts, for the blues) reached from such a dominant.

``check_form`` measures the same properties on a chart, so generated tunes, the corpus and
real standards can be scored against a form without the grammar.
"""

from __future__ import annotations

import re

import numpy as np

from ..chart import SECTION_LABELS, Chart
from ..errors import InputError
from ..harmony import Chord, quality_degrees

__all__ = [
    "ChordGrammar",
    "check_form",
    "default_form",
    "dominant_function",
    "ending_bars",
    "is_dominant",
    "is_tonic",
    "parse_form",
    "section_cadence",
    "tonic_function",
]

_DOMINANT_ROOTS = (7, 1, 10)  # V, bII (tritone substitute), bVII (backdoor) of C


def is_dominant(quality: str) -> bool:
    """A dominant-seventh family chord (7, 9, 13, 7b9, 7alt, 7sus4, 11, ...): b7 and no minor third."""
    d = quality_degrees(quality)
    return "b7" in d and "b3" not in d


def is_tonic(quality: str) -> bool:
    """Can end a tune on its root: anything but a diminished chord (C7 counts, for the blues)."""
    d = quality_degrees(quality)
    return not ("b3" in d and "b5" in d)


def dominant_function(chord: Chord | None) -> bool:
    return chord is not None and chord.root % 12 in _DOMINANT_ROOTS and is_dominant(chord.quality)


def tonic_function(chord: Chord | None) -> bool:
    return chord is not None and chord.root % 12 == 0 and is_tonic(chord.quality)


def ending_bars(n: int) -> int:
    """Bars at the end of a repeated section that may differ from its first statement."""
    return 2 if n >= 4 else 1


def default_form(bars: int) -> list[tuple[str, int]]:
    """AABA choruses for multiples of 32 bars, 12-bar blues choruses, AB for 16, 8-bar
    sections, else one section."""
    for size, plan in ((32, [("A", 8), ("A", 8), ("B", 8), ("A", 8)]), (12, [("A", 12)]),
                       (16, [("A", 8), ("B", 8)]), (8, [("A", 8)])):
        if bars % size == 0:
            return plan * (bars // size)
    return [("A", bars)]


def parse_form(form: str | None, bars: int) -> list[tuple[str, int]]:
    """'AABA' (bars split evenly), 'A8A8B8A8' (explicit), or None (``default_form``)."""
    if form is None:
        return default_form(bars)
    text = form.strip().upper().replace(" ", "")
    if not re.fullmatch(rf"([{SECTION_LABELS}]\d*)+", text):
        raise InputError(f"unknown form {form!r}: use section letters {', '.join(SECTION_LABELS)}, e.g. AABA or A8A8B8A8")
    items = re.findall(rf"([{SECTION_LABELS}])(\d*)", text)
    if all(n for _, n in items):
        plan = [(s, int(n)) for s, n in items]
        if any(n < 1 for _, n in plan):
            raise InputError(f"form {form!r}: every section needs at least one bar")
        total = sum(n for _, n in plan)
        if bars % total:
            raise InputError(f"form {form!r} covers {total} bars, and {bars} bars is not a whole number of choruses of it")
        return plan * (bars // total)
    if any(n for _, n in items):
        raise InputError(f"form {form!r}: give every section a length (A8B8) or none (AB)")
    if bars % len(items):
        raise InputError(f"form {form!r} has {len(items)} sections: {bars} bars do not split evenly between them")
    return [(s, bars // len(items)) for s, _ in items]


_FREE = -1  # in a forced copy: a bar the grammar leaves free (--vary)


class _State:
    __slots__ = ("bar", "chord", "forced", "fpos", "full", "pending", "phase", "pos", "prev_dom", "refs", "sec")

    def copy(self) -> _State:
        new = _State.__new__(_State)
        for k in _State.__slots__:
            setattr(new, k, getattr(self, k))
        return new


class ChordGrammar:
    """The token grammar of one requested form, meter and mode (see the module docstring)."""

    def __init__(self, tokenizer, plan: list[tuple[str, int]], meter: int = 4, modes=("major", "minor"),
                 vary: float = 0.0) -> None:
        tok, V = tokenizer, len(tokenizer.vocab)
        self.plan, self.meter = plan, meter
        # The share of a repeated section's copied bars written afresh; which bars is drawn from
        # the first statement's tokens, so it differs tune by tune and a state stays a function of them.
        self.vary = vary
        idx = tok.index
        if f"Meter_{meter}" not in idx:
            raise InputError(f"a bar of {meter} beats is outside this vocabulary (2 to 7 beats)")
        self.start_id, self.end_id, self.bar_id = idx["_START_"], idx["_END_"], idx["|"]
        self.meter_id = idx[f"Meter_{meter}"]
        self.key_ids = [idx["Key_C" if m == "major" else "Key_Cm"] for m in modes]
        self.sec_ids = [idx[f"Sec_{s}"] for s, _ in plan]
        self.beat_ids = {idx[f"Beat_{k + 1}"]: k for k in range(1, meter)}
        self.chord_mask = np.zeros(V, bool)
        self.dom_mask = np.zeros(V, bool)
        self.tonic = np.zeros(V, bool)
        for i, c in tok.chords.items():
            self.chord_mask[i] = True
            self.dom_mask[i] = dominant_function(c)
            self.tonic[i] = tonic_function(c)
        if self.dom_mask.sum() < 2 or not self.tonic.any():
            raise InputError("this vocabulary lacks the dominant and tonic chords a cadence needs")
        self.V = V
        first: dict[str, int] = {}
        self.first = []  # index of the first section with the same letter, or None
        for i, (s, _) in enumerate(plan):
            self.first.append(first.get(s))
            first.setdefault(s, i)
        self.copy_bars = [0 if f is None else max(0, min(plan[f][1] - ending_bars(plan[f][1]), n - ending_bars(n)))
                          for f, (_, n) in zip(self.first, plan)]
        self.record_bars = [max([self.copy_bars[j] for j in range(len(plan)) if self.first[j] == i], default=0)
                            for i in range(len(plan))]

    def _one(self, i: int) -> np.ndarray:
        m = np.zeros(self.V, bool)
        m[i] = True
        return m

    def start(self) -> _State:
        s = _State()
        s.phase, s.sec, s.bar, s.pos, s.pending, s.chord = 0, -1, 0, -1, None, None
        s.prev_dom, s.full, s.refs, s.forced, s.fpos = False, False, {}, (), 0
        return s

    def _closing(self, s: _State) -> int:
        if s.bar < self.plan[s.sec][1]:
            return self.bar_id
        return self.sec_ids[s.sec + 1] if s.sec + 1 < len(self.plan) else self.end_id

    def allowed(self, s: _State) -> np.ndarray:
        if s.phase == 0:
            return self._one(self.start_id)
        if s.phase == 1:
            m = np.zeros(self.V, bool)
            m[self.key_ids] = True
            return m
        if s.phase == 2:
            return self._one(self.meter_id)
        if s.phase == 4:
            return self._one(self.end_id)
        if s.fpos < len(s.forced) and s.forced[s.fpos] != _FREE:
            return self._one(s.forced[s.fpos])
        if s.sec < 0:
            return self._one(self.sec_ids[0])
        if s.bar == 0:
            return self._one(self.bar_id)
        final = s.bar == self.plan[s.sec][1]
        if s.pending is not None:
            m = self.chord_mask & self.dom_mask if final and not s.full and s.pending == self.meter - 1 else self.chord_mask.copy()
            if s.chord is not None:
                m[s.chord] = False
            return m
        m = np.zeros(self.V, bool)
        if s.pos == -1:
            m |= self.chord_mask
            if s.bar == 1:
                return m  # a section starts by naming its chord
            if s.chord is not None:
                m[s.chord] = False
        for b, k in self.beat_ids.items():
            if k > s.pos:
                m[b] = True
        if not final or s.full or (s.chord is not None and self.dom_mask[s.chord]):
            m[self._closing(s)] = True
        return m

    def advance(self, s: _State, tok: int) -> _State:
        s = s.copy()
        if s.phase < 3:
            s.phase += 1
            return s
        if s.fpos < len(s.forced):
            if s.forced[s.fpos] != _FREE:
                s.fpos += 1
            elif tok == self.bar_id:  # a varied bar ends: the copy goes on after the bar line
                s.fpos += 2
        if tok == self.end_id:
            s.phase = 4
            return s
        if s.sec + 1 < len(self.sec_ids) and tok == self.sec_ids[s.sec + 1] and (s.sec < 0 or s.bar == self.plan[s.sec][1]):
            s.sec, s.bar, s.pos, s.pending = s.sec + 1, 0, -1, None
            f = self.first[s.sec]
            k = self.copy_bars[s.sec]
            s.forced, s.fpos = (), 0
            if f is not None and k:
                bars = s.refs[self.plan[f][0]][:k]
                free = self._varied(bars)
                s.forced = tuple(t for i, bar in enumerate(bars) for t in ((bar[0], _FREE) if i in free else bar))
                s.forced += (self.bar_id,)
            return s
        if tok == self.bar_id:
            s.bar, s.pos, s.pending = s.bar + 1, -1, None
            if s.bar == self.plan[s.sec][1]:
                s.prev_dom, s.full = s.chord is not None and bool(self.dom_mask[s.chord]), False
        elif tok in self.beat_ids:
            s.pending = self.beat_ids[tok]
        else:
            p = 0 if s.pending is None else s.pending
            if s.bar == self.plan[s.sec][1] and p == 0:
                s.full = s.prev_dom and bool(self.tonic[tok])
            s.chord, s.pos, s.pending = tok, p, None
        if self.record_bars[s.sec] and 1 <= s.bar <= self.record_bars[s.sec] and self.first[s.sec] is None:
            label = self.plan[s.sec][0]
            bars = list(s.refs.get(label, ()))
            if tok == self.bar_id:
                bars.append((tok,))
            else:
                bars[-1] = bars[-1] + (tok,)
            s.refs = {**s.refs, label: tuple(bars)}
        return s

    def done(self, s: _State) -> bool:
        return s.phase == 4

    def _varied(self, bars: tuple) -> frozenset[int]:
        k = round(self.vary * len(bars))
        if not k:
            return frozenset()
        rng = np.random.default_rng([t for bar in bars for t in bar])
        return frozenset(rng.choice(len(bars), size=k, replace=False).tolist())


def section_cadence(chart: Chart, start: int, end: int) -> bool:
    """Does the section of bars [start, end) of a chart in C end on a cadence (see above)?"""
    if end <= start or end > len(chart.bars):
        return False
    before = None
    for bar in chart.bars[:end - 1]:
        if bar:
            before = bar[-1][1]
    final = chart.bars[end - 1]
    last = final[-1][1] if final else before
    full = bool(final) and final[0][0] == 0 and tonic_function(final[0][1]) and dominant_function(before)
    return full or dominant_function(last)


def check_form(chart: Chart, plan: list[tuple[str, int]]) -> dict[str, bool]:
    """bars / sections / cadences / repeats / all: does a chart in C keep ``plan``?"""
    total = sum(n for _, n in plan)
    bars_ok = len(chart.bars) == total
    starts, at = [], 0
    for _, n in plan:
        starts.append(at)
        at += n
    sections_ok = bars_ok and all(chart.sections.get(b) == s for b, (s, _) in zip(starts, plan))
    cadences_ok = bars_ok and all(section_cadence(chart, b, b + n) for b, (_, n) in zip(starts, plan))
    repeats_ok = bars_ok
    first: dict[str, int] = {}
    for i, (s, n) in enumerate(plan):
        if s in first and bars_ok:
            f = first[s]
            k = max(0, min(plan[f][1] - ending_bars(plan[f][1]), n - ending_bars(n)))
            repeats_ok &= chart.bars[starts[f]:starts[f] + k] == chart.bars[starts[i]:starts[i] + k]
        first.setdefault(s, i)
    return {"bars": bars_ok, "sections": sections_ok, "cadences": cadences_ok, "repeats": repeats_ok,
            "all": bars_ok and sections_ok and cadences_ok and repeats_ok}
