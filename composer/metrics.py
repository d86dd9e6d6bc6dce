"""Musical metrics of generated frames: does a blues keep its form, its scale, its chord tones?

Computed on pianoroll frames in C (what the model writes before transposition), against the
progressions of the shipped corpus (``corpora/blues/progressions.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .theory import scale_pcs

__all__ = ["FormReport", "progression_pcs", "blues_form_report", "abc_bars_ok", "check_abc_tune"]


@dataclass
class FormReport:
    runs: int
    bars: int
    bar_match: float  # bars whose chord at every step is the committed progression's
    step_match: float  # steps whose chord pitch classes are the committed progression's
    in_scale: float  # melody notes in the C blues scale
    chord_tones_strong: float  # melody notes on beats 1 and 3 that are tones of the sounding chord
    chord_tones_all: float  # all melody notes that are tones of the sounding chord
    drifted_runs: int  # runs with any bar out of form in the last 3 choruses
    committed: dict  # progression name -> number of runs that chose it
    self_match: float = 0.0  # bars after the first chorus whose chords repeat that bar of the first chorus


def progression_pcs(progressions: dict, steps_per_bar: int) -> dict[str, list[frozenset]]:
    """Per progression, the chord pitch classes at each of the form's steps (from the shipped voicings)."""
    from .arrange import chord_voicing

    half = steps_per_bar // 2
    out = {}
    for name, slots in progressions.items():
        pcs = [frozenset(p % 12 for p in chord_voicing(root, q)) for root, q in slots]
        out[name] = [pcs[s // half] for s in range(len(slots) * half)]
    return out


def blues_form_report(frames: np.ndarray, tokenizer, progressions: dict, requested: list | None = None) -> FormReport:
    """Score a batch of generated runs (B, T, D), T a whole number of 12-bar choruses.

    A run is held to ``requested[i]`` (the progression it was asked for) when given, else to the
    progression its first chorus matches best.
    """
    spb = tokenizer.steps_per_bar
    form = progression_pcs(progressions, spb)
    form_len = len(next(iter(form.values())))
    c = tokenizer.config
    blues = scale_pcs(0, "blues")
    bar_ok = step_ok = steps = bars = self_ok = self_bars = 0
    in_scale = notes = strong = strong_ct = all_ct = drifted = 0
    committed: dict[str, int] = {}
    for i, run in enumerate(frames):
        T = len(run)
        chord_bits = run[:, tokenizer.slices["chord"]].astype(bool)
        pcs = [frozenset((np.flatnonzero(b) + c.chord_low) % 12) for b in chord_bits]
        first = range(min(T, form_len))
        name = requested[i] if requested and requested[i] else max(form, key=lambda n: sum(pcs[t] == form[n][t] for t in first))
        committed[name] = committed.get(name, 0) + 1
        match = np.array([pcs[t] == form[name][t % form_len] for t in range(T)])
        step_ok, steps = step_ok + int(match.sum()), steps + T
        per_bar = match[: T // spb * spb].reshape(-1, spb).all(1)
        bar_ok, bars = bar_ok + int(per_bar.sum()), bars + len(per_bar)
        same = np.array([pcs[t] == pcs[t % form_len] for t in range(form_len, T)])
        if len(same) >= spb:
            rep = same[: len(same) // spb * spb].reshape(-1, spb).all(1)
            self_ok, self_bars = self_ok + int(rep.sum()), self_bars + len(rep)
        last3 = per_bar[-3 * form_len // spb:]
        drifted += int(not last3.all())
        mel = run[:, tokenizer.slices["melody"]].argmax(1)
        onset = run[:, tokenizer.slices["melody_onset"].start].astype(bool) & (mel > 0)
        for t in np.flatnonzero(onset):
            pc = (mel[t] - 1 + c.melody_low) % 12
            notes += 1
            in_scale += pc in blues
            is_ct = pc in pcs[t]
            all_ct += is_ct
            if t % (spb // 2) == 0:
                strong += 1
                strong_ct += is_ct
    return FormReport(
        runs=len(frames), bars=bars, bar_match=bar_ok / max(bars, 1), step_match=step_ok / max(steps, 1),
        in_scale=in_scale / max(notes, 1), chord_tones_strong=strong_ct / max(strong, 1),
        chord_tones_all=all_ct / max(notes, 1), drifted_runs=drifted, committed=committed,
        self_match=self_ok / max(self_bars, 1),
    )


_LINE_KINDS = {"|", "||", "|]", "|:", ":|", "::", "[|"}


def abc_bars_ok(score) -> bool:
    """Every bar between two bar lines is the meter's length (the pickup and the last bar excepted),
    and the tune ends on a bar line."""
    if not score.time_signatures or not score.n_notes:
        return False
    ts = score.time_signatures[0]
    bar = Fraction(ts.numerator * 4, ts.denominator) * score.tpq
    ticks = sorted({t for t, k in score.meta.get("bars", []) if k in _LINE_KINDS and t > 0})
    end = score.end
    if not ticks or ticks[-1] < end:
        return False
    inner = [b - a for a, b in zip(ticks, ticks[1:])]
    return all(x == bar for x in inner[:-1]) and 0 < (inner[-1] if inner else bar) <= bar


def check_abc_tune(text: str) -> tuple[bool, bool, bool]:
    """(parses with our reader, parses with music21, bar lengths right) for one ABC tune."""
    from music21 import converter

    from .errors import ComposerError
    from .io.abc import parse_tune

    try:
        ours = parse_tune(text)
        ok_ours = bool(ours.tracks)
    except ComposerError:
        return False, False, False
    try:
        ok_m21 = len(converter.parse(text, format="abc").flatten().notes) > 0
    except Exception:  # music21 raises many kinds on text it cannot read
        ok_m21 = False
    return ok_ours, ok_m21, ok_ours and abc_bars_ok(ours)
