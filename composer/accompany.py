"""Add one track to the tracks a user already has, generated bar-aligned and conditioned on them.

The user's tracks are kept as they are (the same arrays); the new track comes from a style's
model steered by constraints (composer.constraints' rule protocol) built from the given music:

* ``drums``: the drums model, in the piece's meter, with kick and snare drawn towards the
  steps where the given tracks have onsets (a soft bias) and away from the others;
* ``chords``: the jazz model's chord grammar in the melody's key and meter, each chord word
  biased by how well it fits the melody notes of the rest of its bar; voiced as piano comping;
* ``bass``: a walking bass (arrange.walking_bass) under the piece's chord symbols, or under
  the chords estimated from its comping track, or else under chords composed as for ``chords``;
* ``melody``: the blues frame model with its chord groups held to the given chords (a hard
  mask per step), so the melody it draws is the one the model hears over those chords.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .constraints import NEG, FrameRule, TokenRule
from .errors import InputError
from .score import ChordSymbol, Score, Track

__all__ = ["ADDS", "accompany", "bar_grid", "melody_track"]

ADDS = ("drums", "bass", "chords", "melody")
_STYLE = {"drums": "drums", "chords": "jazz", "bass": "jazz", "melody": "blues"}


def bar_grid(score: Score) -> tuple[int, int]:
    """(quarter-note beats per bar, bars): the first time signature's bar, bars to cover the piece."""
    ts = score.time_signatures[0] if score.time_signatures else None
    num, den = (ts.numerator, ts.denominator) if ts else (4, 4)
    if (num * 4) % den:
        raise InputError(f"a {num}/{den} bar is not a whole number of quarter notes; accompaniment needs one")
    beats = num * 4 // den
    bar = beats * score.tpq
    return beats, max(1, -(-score.end // bar))


def melody_track(score: Score) -> Track | None:
    """The melody: a pitched, non-drum, non-bass track named melody/lead, else the highest one."""
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)
               and not (32 <= t.program <= 39 or "bass" in t.name.lower())]
    named = [t for t in pitched if "melody" in t.name.lower() or "lead" in t.name.lower()]
    if named:
        return named[0]
    return max(pitched, key=lambda t: float(t.notes["pitch"].mean())) if pitched else None


def _onset_ticks(score: Score) -> np.ndarray:
    starts = [t.notes["start"] for t in score.tracks if len(t.notes)]
    return np.unique(np.concatenate(starts)) if starts else np.zeros(0, np.int64)


def _chords_of(score: Score) -> list[ChordSymbol]:
    if score.chords:
        return sorted(score.chords, key=lambda c: c.start)
    from .io.midi_chords import comping_track, estimate_chords

    return estimate_chords(score) if comping_track(score) is not None else []


# --- drums --------------------------------------------------------------------------------
class _DrumsFollow(TokenRule):
    """Bars in the piece's meter; kick and snare on the given tracks' onsets (soft)."""

    name = "follow the given onsets"
    hard = False

    def __init__(self, tok, grammar, score: Score, beats: int, strength: float = 1.5) -> None:
        from .drumkit import word_levels

        self.tok, self.G = tok, grammar
        self.meter_mask = np.zeros(len(tok.vocab), bool)
        for (kind, _fill), i in tok.marker_ids.items():
            self.meter_mask[i] = kind.numerator * 4 // kind.denominator == beats and kind.numerator * 4 % kind.denominator == 0
        if not self.meter_mask.any():
            raise InputError(f"the drums model has no bar of {beats} beats")
        lv = np.stack([word_levels(int(w)) for w in tok.word_codes])
        self.backbeat = np.zeros(len(tok.vocab))
        self.backbeat[tok.first_word:] = (lv[:, 0] > 0) | (lv[:, 1] > 0)  # kick or snare
        self.onsets, self.bar_ticks, self.strength = _onset_ticks(score), beats * score.tpq, strength

    def mask(self, state, g):
        return self.meter_mask if g[0] == 1 and not self.G.allowed(g)[self.tok.end_id] else None

    def bias(self, state, g):
        phase, bar, left, kind = g
        if phase != 2:
            return None
        step = kind.steps - left
        width = self.bar_ticks / kind.steps
        t0 = bar * self.bar_ticks + step * width
        i = np.searchsorted(self.onsets, t0 - width / 2)
        hit = i < len(self.onsets) and self.onsets[i] < t0 + width / 2
        return self.backbeat * (self.strength if hit else -self.strength)


def _add_drums(score: Score, seed: int, temperature: float | None, explain: dict | None) -> Track:
    from .checkpoint import load_checkpoint
    from .pipeline import resolve_model
    from .sample import sample_tokens

    beats, n_bars = bar_grid(score)
    st, path = resolve_model("drums", None)
    ck = load_checkpoint(path)
    tok = ck.tokenizer
    prompt, grammar = tok.prompt(bars=n_bars), tok.grammar(bars=n_bars)
    rule = _DrumsFollow(tok, grammar, score, beats)
    if explain is not None:
        explain.update(_new_explain([rule]))
    ids = sample_tokens(ck.model, prompt, st.max_tokens, temperature=temperature or st.temperature, top_p=st.top_p,
                        seed=seed, grammar=grammar, stop=tok.end_id, constraints=[rule], explain=explain)[0]
    drums = tok.decode(ids, tpq=score.tpq)
    track = drums.tracks[0] if drums.tracks else Track("Drums", 0, True)
    return replace(track, name="Drums")


# --- chords -------------------------------------------------------------------------------
class _ChordFit(TokenRule):
    """Chord words that hold the melody's notes of the rest of their bar are favoured (soft)."""

    name = "fit the melody"
    hard = False

    def __init__(self, tok, grammar, melody: Track, tpq: int, beats: int, n_bars: int, shift: int,
                 strength: float = 4.0) -> None:
        self.G, self.beats = grammar, beats
        chroma = np.zeros((n_bars * beats, 12))
        n = melody.notes
        for s, d, p in zip(n["start"].tolist(), n["duration"].tolist(), n["pitch"].tolist()):
            a, b = s / tpq, (s + d) / tpq
            for k in range(int(a), min(int(np.ceil(b)), len(chroma))):
                chroma[k, (p + shift) % 12] += min(b, k + 1) - max(a, k)
        self.chroma = chroma
        self.ids = np.array(sorted(tok.chords))
        self.member = np.zeros((len(self.ids), 12))
        for j, i in enumerate(self.ids):
            self.member[j, list(tok.chords[i].pcs)] = 1
        self.V, self.strength = len(tok.vocab), strength
        self.starts = np.cumsum([0] + [n for _, n in grammar.plan])

    def bias(self, state, g):
        if g.phase != 3 or g.sec < 0 or g.bar == 0:
            return None
        bar = int(self.starts[g.sec]) + g.bar - 1
        beat = g.pending if g.pending is not None else (0 if g.pos == -1 else None)
        if beat is None:
            return None
        w = self.chroma[bar * self.beats + beat:(bar + 1) * self.beats].sum(0)
        if not w.any():
            return None
        w = w / w.sum()
        fit = self.member @ w - 0.5 * (1 - self.member) @ w  # (K,)
        out = np.zeros(self.V)
        out[self.ids] = self.strength * fit
        return out


def compose_chords(score: Score, seed: int = 0, temperature: float | None = None,
                   explain: dict | None = None) -> list[ChordSymbol]:
    """Chord symbols for a piece's melody from the jazz model, in the melody's key and meter."""
    from .chart import chart_to_score
    from .checkpoint import load_checkpoint
    from .pipeline import resolve_model
    from .sample import sample_tokens
    from .score import pitch_class_histogram, transpose
    from .theory import key_from_histogram, key_offset

    melody = melody_track(score)
    if melody is None:
        raise InputError("the piece has no melody to harmonise (no pitched notes outside the drum channel)")
    beats, n_bars = bar_grid(score)
    tonic, mode = key_from_histogram(pitch_class_histogram(replace(score, tracks=[melody])))
    st, path = resolve_model("jazz", None)
    ck = load_checkpoint(path)
    tok = ck.tokenizer
    options = {"mode": mode, "meter": f"{beats}/4"}
    prompt, grammar = tok.prompt(bars=n_bars, **options), tok.grammar(bars=n_bars, **options)
    rule = _ChordFit(tok, grammar, melody, score.tpq, beats, n_bars, -tonic)
    if explain is not None:
        explain.update(_new_explain([rule]))
    ids = sample_tokens(ck.model, prompt, st.max_tokens, temperature=temperature or st.temperature, top_k=st.top_k,
                        top_p=st.top_p, seed=seed, grammar=grammar, stop=tok.end_id, constraints=[rule],
                        explain=explain)[0]
    chords = chart_to_score(tok.decode_chart(ids), score.tpq)
    return transpose(chords, key_offset(tonic)).chords


def _add_chords(score, seed, temperature, explain) -> tuple[Track, list[ChordSymbol]]:
    from .comping import comp_track

    beats, n_bars = bar_grid(score)
    chords = compose_chords(score, seed, temperature, explain)
    return replace(comp_track(chords, score.tpq, beats, n_bars), name="Chords"), chords


def _add_bass(score, seed, temperature, explain) -> tuple[Track, list[ChordSymbol]]:
    from .arrange import walking_bass
    from .harmony import simplify

    beats, n_bars = bar_grid(score)
    chords = _chords_of(score)
    made = not chords
    if made:
        chords = compose_chords(score, seed, temperature, explain)
    simple = [replace(c, quality=simplify(c.quality)) for c in chords]
    bass = walking_bass(simple, score.tpq, n_bars * beats * score.tpq, beats_per_bar=beats)
    return bass, chords if made else []


# --- melody -------------------------------------------------------------------------------
class _GivenChords(FrameRule):
    """Blues frames: the chord groups are held to the given chords, step by step (hard)."""

    name = "the given chords"

    def __init__(self, tok, onsets: np.ndarray, patterns: np.ndarray) -> None:
        self.onsets, self.patterns = onsets, patterns
        self.n_patterns = len(tok.config.chord_patterns)

    def start(self, batch):
        return 0

    def adjust(self, state, group, shape):
        t = min(state, len(self.onsets) - 1)
        if group == "chord_onset":
            return np.full(shape, -NEG if self.onsets[t] else NEG)
        if group == "chord" and shape[-1] == self.n_patterns:
            row = np.full(shape[-1], NEG)
            row[self.patterns[t]] = 0.0
            return np.broadcast_to(row, shape).copy()
        return None

    def advance(self, state, frame):
        return state + 1


def _nearest_pattern(tok, pcs: frozenset[int]) -> int:
    best, best_score = 1, -1e9
    for i, p in enumerate(tok.config.chord_patterns):
        if not p:
            continue
        have = {(b + tok.config.chord_low) % 12 for b in p}
        score = len(have & pcs) - len(have - pcs) - 0.5 * len(pcs - have)
        if score > best_score:
            best, best_score = i, score
    return best


def _add_melody(score, seed, temperature, explain) -> Track:
    from .chart import estimate_key
    from .checkpoint import load_checkpoint
    from .harmony import quality_pcs
    from .pipeline import resolve_model
    from .sample import sample_frames
    from .theory import key_offset

    chords = _chords_of(score)
    if not chords:
        raise InputError("the piece has no chords to play a melody over (no chord symbols, no comping track)")
    beats, n_bars = bar_grid(score)
    st, path = resolve_model("blues", None)
    ck = load_checkpoint(path)
    tok = ck.tokenizer
    if beats != tok.config.beats_per_bar or not tok.config.chord_patterns:
        raise InputError(f"--add melody uses the blues model: it needs {tok.config.beats_per_bar}/4 bars, "
                         f"the piece has {beats} beats a bar")
    tonic = estimate_key(chords)[0]
    shift = key_offset(tonic)
    step = score.tpq // tok.config.steps_per_beat
    n_steps = n_bars * tok.steps_per_bar
    starts = np.array([c.start for c in chords])
    onsets, patterns, prev = np.zeros(n_steps, bool), np.zeros(n_steps, np.int64), None
    for t in range(n_steps):
        i = int(np.searchsorted(starts, t * step, side="right")) - 1
        c = chords[max(i, 0)]
        pcs = frozenset((p - shift) % 12 for p in quality_pcs(c.root, c.quality))
        patterns[t] = _nearest_pattern(tok, pcs)
        onsets[t] = t == 0 or i != prev or t % tok.steps_per_bar == 0
        prev = i
    rule = _GivenChords(tok, onsets, patterns)
    if explain is not None:
        explain.update(_new_explain([rule]))
    # The model is told the blues form these chords follow, if they follow one of its forms.
    given = np.zeros((n_steps, tok.frame_size), np.uint8)
    for t, i in enumerate(patterns):
        given[t, tok.slices["chord"].start + np.asarray(tok.config.chord_patterns[i], dtype=np.int64)] = 1
    cond = tok.conditioning(n_steps, form=tok.form_index(given))
    frames = sample_frames(ck.model, cond, temperature=temperature or st.temperature, seed=seed,
                           constraints=[rule], explain=explain)
    mel = tok.decode(frames[0], tpq=score.tpq).track("Melody")
    notes = mel.notes.copy()
    notes["pitch"] = notes["pitch"].astype(np.int64) + shift
    return replace(mel, notes=notes, name="Melody")


def _new_explain(rules) -> dict:
    from .sample import new_explain

    return new_explain(rules)


def accompany(score: Score, add: str, *, seed: int = 0, temperature: float | None = None,
              explain: dict | None = None) -> Score:
    """``score`` with one generated track added (``add``: drums, bass, chords or melody); the
    given tracks are kept as they are. ``explain``, a dict, receives the sampler's record."""
    if add not in ADDS:
        raise InputError(f"unknown part {add!r} to add; choose one of: {', '.join(ADDS)}")
    if temperature is not None and not temperature > 0:
        raise InputError(f"temperature must be > 0, got {temperature}")
    if add != "melody" and melody_track(score) is None:
        raise InputError("the piece has no melody to accompany (no pitched notes outside the drum channel)")
    if add == "melody" and not any(len(t.notes) for t in score.tracks) and not score.chords:
        raise InputError("the piece is empty: nothing to play a melody over")
    new_chords: list[ChordSymbol] = []
    if add == "drums":
        track = _add_drums(score, seed, temperature, explain)
    elif add == "chords":
        track, new_chords = _add_chords(score, seed, temperature, explain)
    elif add == "bass":
        track, new_chords = _add_bass(score, seed, temperature, explain)
    else:
        track = _add_melody(score, seed, temperature, explain)
    chords = score.chords if score.chords else new_chords
    return replace(score, tracks=[*score.tracks, track], chords=list(chords),
                   meta={**score.meta, "accompany": add})
